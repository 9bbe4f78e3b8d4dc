#include "core/sched/config.h"

#include <algorithm>
#include <set>

#include "core/base/closest.h"

namespace edgebed::sched {

const std::vector<std::string>& KnownFilterPlugins() {
  static const std::vector<std::string> filters = {
      "NodeUnschedulable", "NodeName",        "TaintToleration",   "NodeAffinity",    "NodePorts",
      "NodeResourcesFit",  "VolumePlacement", "PodTopologySpread", "InterPodAffinity"};
  return filters;
}

const std::vector<std::pair<std::string, int>>& DefaultScorePlugins() {
  static const std::vector<std::pair<std::string, int>> scores = {
      {"TaintToleration", 3},  {"NodeAffinity", 2},     {"PodTopologySpread", 2},
      {"InterPodAffinity", 2}, {"NodeResourcesFit", 1}, {"NodeResourcesBalancedAllocation", 1},
      {"VolumeLocality", 2}};
  return scores;
}

Config DefaultConfig() {
  Config c;
  c.profiles[0].filters = KnownFilterPlugins();
  c.profiles[0].scores = DefaultScorePlugins();
  return c;
}

int32_t NumFeasibleNodesToFind(int32_t percentage, int32_t num_all_nodes) {
  constexpr int32_t kMinFeasibleNodes = 100, kMinPercentage = 5;
  if (num_all_nodes < kMinFeasibleNodes || percentage >= 100) return num_all_nodes;
  int32_t adaptive = percentage;
  if (adaptive <= 0) {
    adaptive = 50 - num_all_nodes / 125;
    if (adaptive < kMinPercentage) adaptive = kMinPercentage;
  }
  const int32_t n = static_cast<int32_t>(static_cast<int64_t>(num_all_nodes) * adaptive / 100);
  return std::max(n, kMinFeasibleNodes);
}

namespace {

// Plugins edgebed has, wherever they may be named, and those upstream has
// that edgebed does not model (accepted in a disabled list, refused enabled).
const std::set<std::string>& AllPlugins() {
  static const std::set<std::string> all = [] {
    std::set<std::string> s(KnownFilterPlugins().begin(), KnownFilterPlugins().end());
    for (const auto& [name, w] : DefaultScorePlugins()) s.insert(name);
    s.insert("DefaultPreemption");
    s.insert("PrioritySort");
    s.insert("DefaultBinder");
    return s;
  }();
  return all;
}
const std::set<std::string>& UpstreamOnly() {
  static const std::set<std::string> s = {
      "ImageLocality",     "VolumeRestrictions", "EBSLimits",     "GCEPDLimits",
      "NodeVolumeLimits",  "AzureDiskLimits",    "VolumeBinding", "VolumeZone",
      "SchedulingGates",   "DynamicResources"};
  return s;
}

std::string Where(const model::SourcePos& pos, const std::string& path) {
  const std::string p = pos.ToString();
  return p.empty() ? path : p + ": " + path;
}

Status UnknownPlugin(const model::SchedulerPlugin& p, const std::string& path) {
  std::vector<std::string> names(AllPlugins().begin(), AllPlugins().end());
  const std::string near = ClosestName(p.name, names);
  return InvalidArgument("unknown plugin \"" + p.name + "\"" +
                             (near.empty() ? "; edgebed's plugins are the default profile's"
                                           : "; did you mean \"" + near + "\"?"),
                         Where(p.pos, path));
}

bool IsScorePlugin(const std::string& name) {
  for (const auto& [n, w] : DefaultScorePlugins()) {
    if (n == name) return true;
  }
  return false;
}
bool IsFilterPlugin(const std::string& name) {
  const auto& f = KnownFilterPlugins();
  return std::find(f.begin(), f.end(), name) != f.end();
}

// Applies one extension point's enabled/disabled lists to `list`.
template <typename T, typename Name, typename Make>
Status ApplySet(const model::SchedulerPluginSet& set, const std::string& path, std::vector<T>* list,
                Name name_of, Make make, bool (*fits)(const std::string&)) {
  for (const auto& d : set.disabled) {
    if (d.name == "*") {
      list->clear();
      continue;
    }
    if (!AllPlugins().count(d.name) && !UpstreamOnly().count(d.name)) {
      return UnknownPlugin(d, path + ".disabled");
    }
    list->erase(std::remove_if(list->begin(), list->end(),
                               [&](const T& t) { return name_of(t) == d.name; }),
                list->end());
  }
  for (const auto& e : set.enabled) {
    if (UpstreamOnly().count(e.name)) {
      return InvalidArgument("plugin \"" + e.name + "\" is upstream's but edgebed does not model it; "
                             "remove it",
                             Where(e.pos, path + ".enabled"));
    }
    if (!AllPlugins().count(e.name)) return UnknownPlugin(e, path + ".enabled");
    if (!fits(e.name)) continue;  // multiPoint: only where the plugin has this extension point
    auto it = std::find_if(list->begin(), list->end(), [&](const T& t) { return name_of(t) == e.name; });
    if (it != list->end()) {
      *it = make(e, *it);
    } else {
      list->push_back(make(e, T{}));
    }
  }
  return Status::Ok();
}

Status ApplyArgs(const model::SchedulerPluginConfig& pc, const std::string& path, Profile* p) {
  if (!AllPlugins().count(pc.name)) {
    model::SchedulerPlugin as_plugin{pc.name, std::nullopt, pc.pos};
    return UnknownPlugin(as_plugin, path + ".name");
  }
  if (pc.name == "NodeResourcesFit") {
    if (pc.scoring_strategy == "MostAllocated") p->fit_strategy = ScoringStrategy::kMostAllocated;
    if (pc.scoring_strategy == "RequestedToCapacityRatio") {
      p->fit_strategy = ScoringStrategy::kRequestedToCapacityRatio;
      if (pc.shape.empty()) {
        return InvalidArgument("RequestedToCapacityRatio needs requestedToCapacityRatio.shape",
                               Where(pc.pos, path + ".args.scoringStrategy"));
      }
      for (size_t i = 1; i < pc.shape.size(); ++i) {
        if (pc.shape[i].utilization <= pc.shape[i - 1].utilization) {
          return InvalidArgument("shape utilization values must be strictly increasing",
                                 Where(pc.pos, path + ".args.scoringStrategy.requestedToCapacityRatio.shape[" +
                                                   std::to_string(i) + "]"));
        }
      }
      p->shape = pc.shape;
    }
    if (!pc.resources.empty()) p->fit_resources = pc.resources;
  } else if (pc.name == "NodeResourcesBalancedAllocation") {
    if (!pc.resources.empty()) p->balanced_resources = pc.resources;
  } else if (pc.name == "InterPodAffinity") {
    if (pc.hard_pod_affinity_weight) p->hard_pod_affinity_weight = *pc.hard_pod_affinity_weight;
    p->ignore_preferred_terms_of_existing_pods = pc.ignore_preferred_terms_of_existing_pods;
  } else if (pc.name == "PodTopologySpread") {
    if (pc.defaulting_type == "List") {
      p->system_default_constraints = false;
      p->default_constraints = pc.default_constraints;
    }
  } else if (pc.name == "DefaultPreemption") {
    if (pc.min_candidate_nodes_percentage) {
      p->min_candidate_nodes_percentage = *pc.min_candidate_nodes_percentage;
    }
    if (pc.min_candidate_nodes_absolute) {
      p->min_candidate_nodes_absolute = *pc.min_candidate_nodes_absolute;
    }
    if (p->min_candidate_nodes_percentage == 0 && p->min_candidate_nodes_absolute == 0) {
      return InvalidArgument("minCandidateNodesPercentage and minCandidateNodesAbsolute cannot both be 0",
                             Where(pc.pos, path + ".args"));
    }
  }
  return Status::Ok();
}

}  // namespace

StatusOr<Config> ConfigFromObject(const model::KubeSchedulerConfiguration& object) {
  Config config = DefaultConfig();
  const Profile defaults = config.profiles[0];
  config.profiles.clear();
  config.percentage_of_nodes_to_score = object.percentage_of_nodes_to_score.value_or(0);
  config.initial_backoff = std::chrono::seconds(object.pod_initial_backoff_seconds);
  config.max_backoff = std::chrono::seconds(object.pod_max_backoff_seconds);
  std::set<std::string> names;
  for (size_t i = 0; i < object.profiles.size(); ++i) {
    const model::SchedulerProfile& mp = object.profiles[i];
    const std::string path = "profiles[" + std::to_string(i) + "]";
    if (!names.insert(mp.scheduler_name).second) {
      return InvalidArgument("schedulerName \"" + mp.scheduler_name +
                                 "\" is used by an earlier profile; give each profile its own",
                             Where(mp.pos, path + ".schedulerName"));
    }
    Profile p = defaults;
    p.scheduler_name = mp.scheduler_name;
    const auto filter_name = [](const std::string& n) { return n; };
    const auto make_filter = [](const model::SchedulerPlugin& e, const std::string&) { return e.name; };
    const auto score_name = [](const std::pair<std::string, int>& s) { return s.first; };
    const auto make_score = [](const model::SchedulerPlugin& e, const std::pair<std::string, int>& old) {
      int w = e.weight && *e.weight > 0 ? *e.weight : (old.second > 0 ? old.second : 1);
      return std::make_pair(e.name, w);
    };
    for (const char* point : {"multiPoint", "filter", "score", "postFilter"}) {
      auto it = mp.plugins.find(point);
      if (it == mp.plugins.end()) continue;
      const std::string ppath = path + ".plugins." + point;
      const std::string pt = point;
      if (pt == "multiPoint" || pt == "filter") {
        Status s = ApplySet(it->second, ppath, &p.filters, filter_name, make_filter, &IsFilterPlugin);
        if (!s.ok()) return s;
      }
      if (pt == "multiPoint" || pt == "score") {
        Status s = ApplySet(it->second, ppath, &p.scores, score_name, make_score, &IsScorePlugin);
        if (!s.ok()) return s;
      }
      if (pt == "multiPoint" || pt == "postFilter") {
        for (const auto& d : it->second.disabled) {
          if (d.name == "*" || d.name == "DefaultPreemption") p.preemption = false;
        }
        for (const auto& e : it->second.enabled) {
          if (e.name == "DefaultPreemption") p.preemption = true;
        }
      }
    }
    // Other extension points only hold plugins edgebed always runs (PrioritySort,
    // DefaultBinder) or none; an unknown name there is still a typo.
    for (const auto& [point, set] : mp.plugins) {
      for (const auto* list : {&set.enabled, &set.disabled}) {
        for (const auto& pl : *list) {
          if (pl.name != "*" && !AllPlugins().count(pl.name) && !UpstreamOnly().count(pl.name)) {
            return UnknownPlugin(pl, path + ".plugins." + point);
          }
        }
      }
    }
    for (size_t j = 0; j < mp.plugin_config.size(); ++j) {
      Status s = ApplyArgs(mp.plugin_config[j], path + ".pluginConfig[" + std::to_string(j) + "]", &p);
      if (!s.ok()) return s;
    }
    config.profiles.push_back(std::move(p));
  }
  if (config.profiles.empty()) config.profiles.push_back(defaults);
  return config;
}

}  // namespace edgebed::sched
