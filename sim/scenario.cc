#include "sim/scenario.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "core/base/units.h"
#include "core/model/fields.h"
#include "core/policy/selector.h"
#include "core/storage/provisioner.h"

namespace edgebed::sim {
namespace {

namespace fs = std::filesystem;
using model::Diagnostic;
using model::SourcePos;
using model::internal::Context;
using model::internal::Fields;
using model::internal::IndexPath;
using model::internal::JoinPath;

// ---- --set overrides --------------------------------------------------------

struct PathStep {
  std::string key;  // a mapping key, or empty for an index
  size_t index = 0;
};

// "a.b[2].c" -> a, b, [2], c. Empty on a malformed path.
std::vector<PathStep> SplitPath(const std::string& path) {
  std::vector<PathStep> steps;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '[') {
      const size_t close = path.find(']', i);
      if (close == std::string::npos || close == i + 1) return {};
      const std::string digits = path.substr(i + 1, close - i - 1);
      if (!std::all_of(digits.begin(), digits.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
        return {};
      steps.push_back(PathStep{"", std::stoul(digits)});
      i = close + 1;
      if (i < path.size() && path[i] == '.') ++i;
      continue;
    }
    size_t end = path.find_first_of(".[", i);
    if (end == std::string::npos) end = path.size();
    if (end == i) return {};
    steps.push_back(PathStep{path.substr(i, end - i), 0});
    i = end;
    if (i < path.size() && path[i] == '.') {
      ++i;
      if (i == path.size()) return {};
    }
  }
  return steps;
}

// The path as the field paths of diagnostics write it.
std::string CanonicalPath(const std::vector<PathStep>& steps) {
  std::string out;
  for (const PathStep& s : steps) out = s.key.empty() ? IndexPath(out, s.index) : JoinPath(out, s.key);
  return out;
}

// Sets the field at `steps` of `root` to `value`, making mappings on the
// way. An index must name an existing item (or the next one).
Status SetAt(YAML::Node root, const std::vector<PathStep>& steps, const YAML::Node& value) {
  YAML::Node node = root;
  std::string where;
  for (size_t i = 0; i < steps.size(); ++i) {
    const PathStep& s = steps[i];
    const bool last = i + 1 == steps.size();
    if (!s.key.empty()) {
      where = JoinPath(where, s.key);
      if (node.IsDefined() && !node.IsNull() && !node.IsMap())
        return InvalidArgument(where + ": its parent is not a mapping");
      if (last) {
        node[s.key] = value;
        return Status::Ok();
      }
      YAML::Node child = node[s.key];
      if (!child.IsDefined() || child.IsNull()) {
        node[s.key] = YAML::Node(YAML::NodeType::Map);
        child = node[s.key];
      }
      node.reset(child);
    } else {
      where = IndexPath(where, s.index);
      if (!node.IsSequence()) return InvalidArgument(where + ": its parent is not a list");
      if (s.index > node.size())
        return InvalidArgument(where + ": the list has " + std::to_string(node.size()) + " items");
      if (s.index == node.size()) node.push_back(YAML::Node(YAML::NodeType::Map));
      if (last) {
        node[s.index] = value;
        return Status::Ok();
      }
      YAML::Node child = node[s.index];
      node.reset(child);
    }
  }
  return Status::Ok();
}

// ---- values -----------------------------------------------------------------

bool ReadDuration(Fields& f, const std::string& key, Duration* out, bool required = false) {
  YAML::Node v = f.Take(key);
  const std::string path = JoinPath(f.path(), key);
  if (!v.IsDefined()) {
    if (required) f.ctx().Error(f.node(), path, "is required (a duration such as 250ms, 30s, 5m)");
    return !required;
  }
  if (!v.IsScalar()) {
    f.ctx().Error(v, path, "must be a duration such as 250ms, 30s, 5m");
    return false;
  }
  auto d = ParseDuration(v.Scalar());
  if (!d.ok()) {
    f.ctx().Error(v, path, d.status().message());
    return false;
  }
  if (*d < Duration(0)) {
    f.ctx().Error(v, path, "must not be negative");
    return false;
  }
  *out = *d;
  return true;
}

bool ReadOptionalDuration(Fields& f, const std::string& key, std::optional<Duration>* out) {
  if (!f.Has(key)) return true;
  Duration d{0};
  if (!ReadDuration(f, key, &d)) return false;
  *out = d;
  return true;
}

bool ReadRate(Fields& f, const std::string& key, double* out) {
  YAML::Node v = f.Take(key);
  if (!v.IsDefined()) return true;
  const std::string path = JoinPath(f.path(), key);
  auto rate = v.IsScalar() ? ParseDataRate(v.Scalar()) : StatusOr<double>(InvalidArgument("not a scalar"));
  if (!rate.ok() || *rate <= 0) {
    f.ctx().Error(v, path, "must be a data rate such as 100Mbps, 1Gbps, 12.5MBps");
    return false;
  }
  *out = *rate;
  return true;
}

// Bytes as a quantity: 128, 4Ki, 1Gi, 500M.
bool ReadBytes(Fields& f, const std::string& key, int64_t* out, int64_t max) {
  std::optional<model::Quantity> q;
  if (!f.QuantityValue(key, &q)) return false;
  if (!q) return true;
  const int64_t value = q->Value();
  if (value < 0 || value > max) {
    f.ctx().Error(f.Take(key), JoinPath(f.path(), key), "must be 0.." + std::to_string(max) + " bytes");
    return false;
  }
  *out = value;
  return true;
}

bool ReadProbability(Fields& f, const std::string& key, double* out) {
  std::optional<double> p;
  if (!f.Double(key, &p)) return false;
  if (!p) return true;
  if (*p < 0 || *p > 1) {
    f.ctx().Error(f.Take(key), JoinPath(f.path(), key), "must be a probability, 0..1");
    return false;
  }
  *out = *p;
  return true;
}

// A delay: a duration ("2ms", constant) or a mapping naming a distribution.
bool ReadDelay(Fields& f, const std::string& key, DelayDistribution* out, const std::string& directory) {
  YAML::Node v = f.Take(key);
  if (!v.IsDefined()) return true;
  const std::string path = JoinPath(f.path(), key);
  if (v.IsScalar()) {
    Duration d{0};
    if (!ReadDuration(f, key, &d)) return false;
    *out = DelayDistribution::Constant(d);
    return true;
  }
  bool good = f.Object(key, [&](Fields& d) {
    std::string kind;
    if (!d.Enum("distribution", &kind, {"constant", "normal", "lognormal", "pareto", "empirical"}, true)) {
      good = false;
      d.Ignored({"value", "mean", "stddev", "median", "sigma", "scale", "shape", "file"});
      return;
    }
    Duration a{0}, b{0};
    std::optional<double> shape;
    if (kind == "constant") {
      good = ReadDuration(d, "value", &a, true);
      *out = DelayDistribution::Constant(a);
    } else if (kind == "normal") {
      good = ReadDuration(d, "mean", &a, true) && ReadDuration(d, "stddev", &b, true);
      *out = DelayDistribution::Normal(a, b);
    } else if (kind == "lognormal") {
      good = ReadDuration(d, "median", &a, true) && d.Double("sigma", &shape);
      if (good && !shape) {
        d.ctx().Error(d.node(), JoinPath(d.path(), "sigma"), "is required (the deviation of the log; 0.5 is typical)");
        good = false;
      }
      *out = DelayDistribution::LogNormal(a, shape.value_or(0));
    } else if (kind == "pareto") {
      good = ReadDuration(d, "scale", &a, true) && d.Double("shape", &shape);
      if (good && !shape) {
        d.ctx().Error(d.node(), JoinPath(d.path(), "shape"), "is required (alpha; 1.5 to 3 for heavy tails)");
        good = false;
      }
      *out = DelayDistribution::Pareto(a, shape.value_or(0));
    } else {
      std::string file;
      good = d.String("file", &file, true);
      if (good) {
        const std::string resolved = fs::path(file).is_absolute() ? file : (fs::path(directory) / file).string();
        auto table = LoadRttCsv(resolved);
        if (!table.ok()) {
          d.ctx().Error(d.Take("file"), JoinPath(d.path(), "file"), table.status().message());
          good = false;
        } else {
          *out = DelayDistribution::Empirical(std::move(*table));
        }
      }
    }
    if (good) {
      if (Status s = out->Validate(); !s.ok()) {
        YAML::Node at = d.Take(s.where());
        d.ctx().Error(at.IsDefined() ? at : d.node(), JoinPath(d.path(), s.where()), s.message());
        good = false;
      }
    }
  });
  (void)path;
  return good;
}

bool ReadPodMatch(Fields& f, PodMatch* out, bool by_node = false) {
  bool good = f.String("namespace", &out->namespace_glob);
  if (by_node) {
    good &= f.String("node", &out->node_glob);
  } else if (f.Has("node")) {
    f.ctx().Error(f.Take("node"), JoinPath(f.path(), "node"),
                  "only a workload's own pods can be narrowed to nodes; a target's pods are any of the match's");
    good = false;
  }
  YAML::Node sel = f.Take("selector");
  if (sel.IsDefined()) {
    if (!f.String("selector", &out->selector)) return false;
    auto parsed = policy::Selector::Parse(out->selector);
    if (!parsed.ok()) {
      f.ctx().Error(sel, JoinPath(f.path(), "selector"), parsed.status().message());
      return false;
    }
  }
  return good;
}

bool ReadTarget(Fields& f, Target* out, bool forward = false) {
  if (forward) {
    if (!ReadProbability(f, "fraction", &out->fraction)) return false;
  } else if (f.Has("fraction")) {
    f.ctx().Error(f.Take("fraction"), JoinPath(f.path(), "fraction"), "applies to a broker's forward_to targets only");
    return false;
  }
  bool good = ReadPodMatch(f, &out->pods);
  const bool has_selector = f.Has("selector");
  if (f.String("service", &out->service) && !out->service.empty()) {
    if (has_selector) {
      f.ctx().Error(f.Take("selector"), JoinPath(f.path(), "selector"),
                    "a target names a service or selects pods, not both: remove the selector (the service's "
                    "own selector picks its pods) or the service");
      good = false;
    }
    if (!f.Has("namespace") || out->pods.namespace_glob.find_first_of("*?") != std::string::npos) {
      f.ctx().Error(f.Has("namespace") ? f.Take("namespace") : f.node(), JoinPath(f.path(), "namespace"),
                    "a service target needs the service's namespace, without wildcards");
      good = false;
    }
  }
  for (const char* key : {"namespace", "selector"}) {
    const std::string text = key[0] == 'n' ? out->pods.namespace_glob : out->pods.selector;
    for (size_t open = text.find("${"); open != std::string::npos; open = text.find("${", open + 2)) {
      const size_t close = text.find('}', open);
      const std::string name = close == std::string::npos ? text.substr(open) : text.substr(open + 2, close - open - 2);
      static const std::set<std::string> kPlace = {"site", "building", "building_number", "floor", "floor_number", "node"};
      if (!kPlace.count(name)) {
        f.ctx().Error(f.Take(key), JoinPath(f.path(), key),
                      "unknown variable ${" + name + "}: a target may use ${site}, ${building}, ${building_number}, "
                      "${floor}, ${floor_number} and ${node} of the sending pod's node");
        good = false;
      }
    }
  }
  int64_t port = 0;
  good &= f.Int("port", &port, 1, 65535, true);
  out->port = static_cast<uint16_t>(port);
  good &= f.Enum("protocol", &out->protocol, {"TCP", "UDP"});
  return good;
}

bool GlobMatch(const char* pattern, const char* text) {
  // '*' any run, '?' one character; iterative with one backtrack point.
  const char* star = nullptr;
  const char* resume = nullptr;
  while (*text) {
    if (*pattern == '?' || *pattern == *text) {
      ++pattern;
      ++text;
    } else if (*pattern == '*') {
      star = pattern++;
      resume = text;
    } else if (star) {
      pattern = star + 1;
      text = ++resume;
    } else {
      return false;
    }
  }
  while (*pattern == '*') ++pattern;
  return *pattern == '\0';
}

// ---- the loader -------------------------------------------------------------

class Loader {
 public:
  Loader(ScenarioLoad* out, std::string source, std::string directory)
      : out_(out), source_(std::move(source)), directory_(std::move(directory)) {}

  void Load(const std::string& yaml, const std::vector<std::string>& overrides) {
    YAML::Node doc;
    try {
      doc = YAML::Load(yaml);
    } catch (const YAML::Exception& e) {
      Error(SourcePos{source_, e.mark.line + 1, e.mark.column + 1}, "", "YAML syntax error: " + e.msg);
      return;
    }
    if (!doc.IsMap()) {
      Error(SourcePos{source_, 1, 1}, "", "a scenario is a mapping (name:, topology:, profiles:, ...); see scenarios/README.md");
      return;
    }
    for (const std::string& o : overrides) ApplyOverride(doc, o);
    if (!out_->errors.empty()) return;

    Scenario s;
    s.path = source_;
    s.overrides = overrides;
    Context ctx(source_, &out_->errors, &out_->warnings, 1'000'000);
    Fields top(ctx, doc, "");
    top.String("name", &s.name, true);
    top.String("description", &s.description);
    int64_t seed = 1;
    top.Int("seed", &seed, 0, INT64_MAX);
    s.seed = static_cast<uint64_t>(seed);
    ReadDuration(top, "duration", &s.duration, true);
    ReadDuration(top, "metrics_interval", &s.metrics_interval);
    top.Object("profiles", [&](Fields& f) { ReadProfiles(f, &s); }, true);
    top.Object("node_classes", [&](Fields& f) { ReadClasses(f, &s); }, true);
    top.Object("topology", [&](Fields& f) { ReadTopology(f, &s.topology); }, true);
    top.Object("cluster", [&](Fields& f) { ReadCluster(f, &s.cluster); });
    top.List("manifests", [&](Fields& f, size_t) { ReadManifestSource(f, &s); });
    top.List("workloads", [&](Fields& f, size_t) { ReadWorkload(f, &s); });
    top.List("faults", [&](Fields& f, size_t) { ReadFault(f, &s); });
    top.Finish();
    if (s.duration <= Duration(0) && out_->errors.empty())
      ctx.Error(doc["duration"], "duration", "must be above zero");
    if (s.metrics_interval <= Duration(0) && out_->errors.empty())
      ctx.Error(doc["metrics_interval"], "metrics_interval", "must be above zero");
    CheckReferences(ctx, doc, &s);
    if (out_->errors.empty()) Unroll(&s);
    if (out_->errors.empty()) CheckFaults(&s);
    if (out_->errors.empty()) ExpandManifests(&s);
    if (out_->errors.empty()) {
      std::stable_sort(s.faults.begin(), s.faults.end(), [](const Fault& a, const Fault& b) { return a.at < b.at; });
      out_->scenario = std::move(s);
    }
    Finish();
  }

 private:
  void Error(SourcePos pos, std::string path, std::string message) {
    out_->errors.push_back(Diagnostic{std::move(pos), std::move(path), std::move(message)});
  }

  void ApplyOverride(YAML::Node& doc, const std::string& text) {
    const SourcePos where{"--set " + text, 0, 0};
    const size_t eq = text.find('=');
    if (eq == std::string::npos || eq == 0) {
      Error(where, "", "write --set path=value, e.g. --set duration=5m or --set topology.sites[0].buildings[0].count=4");
      return;
    }
    std::vector<PathStep> steps = SplitPath(text.substr(0, eq));
    if (steps.empty()) {
      Error(where, "", "'" + text.substr(0, eq) + "' is not a field path (a.b[0].c)");
      return;
    }
    YAML::Node value;
    try {
      value = YAML::Load(text.substr(eq + 1));
    } catch (const YAML::Exception& e) {
      Error(where, "", "the value is not YAML: " + e.msg);
      return;
    }
    if (Status s = SetAt(doc, steps, value); !s.ok()) {
      Error(where, "", s.message());
      return;
    }
    overridden_.emplace_back(CanonicalPath(steps), where);
  }

  // Diagnostics about a value some --set gave name the --set.
  void Finish() {
    auto rewrite = [&](std::vector<Diagnostic>& list) {
      for (Diagnostic& d : list) {
        for (const auto& [path, where] : overridden_) {
          const bool under = d.path == path || (d.path.rfind(path, 0) == 0 &&
                                                (d.path[path.size()] == '.' || d.path[path.size()] == '['));
          if (under) d.pos = where;
        }
      }
    };
    rewrite(out_->errors);
    rewrite(out_->warnings);
    const auto by_position = [](const Diagnostic& a, const Diagnostic& b) {
      return std::make_tuple(a.pos.file != a.pos.file, a.pos.line, a.pos.column) <
             std::make_tuple(b.pos.file != b.pos.file, b.pos.line, b.pos.column);
    };
    std::stable_sort(out_->errors.begin(), out_->errors.end(), by_position);
  }

  void ReadProfiles(Fields& f, Scenario* s) {
    for (auto it = f.node().begin(); it != f.node().end(); ++it) {
      const std::string name = it->first.Scalar();
      f.Object(name, [&](Fields& p) {
        LinkProfile profile;
        profile.name = name;
        profile.pos = p.ctx().Pos(p.node());
        ReadDelay(p, "delay", &profile.delay, directory_);
        ReadRate(p, "bandwidth", &profile.bandwidth_bps);
        ReadProbability(p, "loss", &profile.loss);
        int64_t queue = profile.queue_packets;
        p.Int("queue", &queue, 1, 1'000'000);
        profile.queue_packets = static_cast<uint32_t>(queue);
        p.Bool("reorder", &profile.allow_reorder);
        p.Finish();
        s->profiles[name] = std::move(profile);
      });
    }
  }

  void ReadClasses(Fields& f, Scenario* s) {
    for (auto it = f.node().begin(); it != f.node().end(); ++it) {
      const std::string name = it->first.Scalar();
      f.Object(name, [&](Fields& c) {
        NodeClass nc;
        nc.name = name;
        nc.pos = c.ctx().Pos(c.node());
        c.Resources("capacity", &nc.capacity);
        const bool has_allocatable = c.Has("allocatable");
        c.Resources("allocatable", &nc.allocatable);
        if (!has_allocatable) nc.allocatable = nc.capacity;
        if (!nc.capacity.count("pods")) nc.capacity["pods"] = model::Quantity::FromUnits(110);
        if (!nc.allocatable.count("pods")) nc.allocatable["pods"] = nc.capacity["pods"];
        for (const char* needed : {"cpu", "memory"})
          if (!nc.capacity.count(needed))
            c.ctx().Error(c.node(), JoinPath(c.path(), "capacity"),
                          std::string("needs ") + needed + " (e.g. cpu: \"4\", memory: 8Gi)");
        if (c.String("pools", &nc.pools) && !nc.pools.empty()) {
          if (auto pools = storage::ParsePools(nc.pools); !pools.ok())
            c.ctx().Error(c.Take("pools"), JoinPath(c.path(), "pools"), pools.status().message());
        }
        c.StringMap("labels", &nc.labels);
        c.List("taints", [&](Fields& t, size_t) {
          model::Taint taint;
          t.String("key", &taint.key, true);
          t.String("value", &taint.value);
          t.Enum("effect", &taint.effect, {"NoSchedule", "PreferNoSchedule", "NoExecute"}, true);
          nc.taints.push_back(std::move(taint));
        });
        s->classes[name] = std::move(nc);
      });
    }
  }

  void ReadNodeGroups(Fields& f, const std::string& key, std::vector<NodeGroup>* out, bool required) {
    f.List(key, [&](Fields& g, size_t) {
      NodeGroup group;
      g.String("class", &group.class_name, true);
      int64_t count = 1;
      g.Int("count", &count, 0, 100'000);
      group.count = static_cast<int>(count);
      if (!group.class_name.empty()) class_refs_.emplace_back(group.class_name, g.Take("class"), JoinPath(g.path(), "class"));
      out->push_back(std::move(group));
    }, required);
  }

  void ReadTopology(Fields& f, TopologySpec* t) {
    f.List("sites", [&](Fields& site_fields, size_t) {
      Site site;
      site_fields.String("name", &site.name, true);
      site_fields.String("uplink", &site.uplink);
      if (!site.uplink.empty()) profile_refs_.emplace_back(site.uplink, site_fields.Take("uplink"), JoinPath(site_fields.path(), "uplink"));
      site_fields.List("buildings", [&](Fields& b, size_t) {
        BuildingGroup building;
        int64_t count = 1;
        b.Int("count", &count, 0, 100'000);
        building.count = static_cast<int>(count);
        b.List("floors", [&](Fields& fl, size_t) {
          FloorGroup floor;
          int64_t n = 1;
          fl.Int("count", &n, 0, 1'000);
          floor.count = static_cast<int>(n);
          ReadNodeGroups(fl, "nodes", &floor.nodes, true);
          building.floors.push_back(std::move(floor));
        }, true);
        site.buildings.push_back(std::move(building));
      }, true);
      t->sites.push_back(std::move(site));
    }, true);
    f.Object("cloud", [&](Fields& c) { ReadNodeGroups(c, "nodes", &t->cloud_nodes, false); });
    f.Object("links", [&](Fields& l) {
      for (auto [key, field] : {std::pair<const char*, std::string*>{"node", &t->links.node},
                                {"floor", &t->links.floor},
                                {"building", &t->links.building},
                                {"site", &t->links.site},
                                {"cloud", &t->links.cloud}}) {
        l.String(key, field);
      }
    });
    links_node_ = f.Take("links");
    f.Object("server", [&](Fields& p) { p.String("at", &t->server.at); });
    server_node_ = f.Take("server");
  }

  void ReadCluster(Fields& f, ClusterSettings* c) {
    f.String("cluster_cidr", &c->cluster_cidr);
    int64_t prefix = c->node_cidr_prefix;
    f.Int("node_cidr_prefix", &prefix, 8, 30);
    c->node_cidr_prefix = static_cast<int>(prefix);
    f.Int("volume_blocks_max", &c->volume_blocks_max, 1, int64_t{1} << 20);
    ReadDuration(f, "pod_start_min", &c->pod_start_min);
    ReadDuration(f, "pod_start_max", &c->pod_start_max);
    if (c->pod_start_max < c->pod_start_min)
      f.ctx().Error(f.Take("pod_start_max"), JoinPath(f.path(), "pod_start_max"), "must not be below pod_start_min");
  }

  void ReadManifestSource(Fields& f, Scenario* s) {
    ManifestSource m;
    m.pos = f.ctx().Pos(f.node());
    f.String("path", &m.path);
    f.String("inline", &m.inline_yaml);
    f.Enum("for_each", &m.for_each, {"site", "building", "floor"});
    if (m.path.empty() == m.inline_yaml.empty())
      f.ctx().Error(f.node(), f.path(), "give exactly one of path: (a file or directory) and inline: (YAML text)");
    s->manifest_sources.push_back(std::move(m));
  }

  void ReadWorkload(Fields& f, Scenario* s) {
    Workload w;
    w.pos = f.ctx().Pos(f.node());
    f.String("name", &w.name, true);
    std::string kind;
    f.Enum("kind", &kind, {"sensor", "broker", "stream", "inference", "scanner", "batch"}, true);
    w.kind = kind == "batch" ? Workload::Kind::kBatch
             : kind == "scanner" ? Workload::Kind::kScanner
             : kind == "broker" ? Workload::Kind::kBroker
             : kind == "stream" ? Workload::Kind::kStream
             : kind == "inference" ? Workload::Kind::kInference
                                   : Workload::Kind::kSensor;
    f.Object("pods", [&](Fields& p) { ReadPodMatch(p, &w.pods, /*by_node=*/true); }, true);
    int64_t memory = 0;
    ReadBytes(f, "memory", &memory, int64_t{1} << 50);
    w.memory_bytes = memory;
    const auto only = [&](std::initializer_list<const char*> keys, const char* kinds) {
      for (const char* key : keys)
        if (f.Has(key)) f.ctx().Error(f.Take(key), JoinPath(f.path(), key), std::string("applies to ") + kinds + " workloads only");
    };
    if (w.kind == Workload::Kind::kSensor || w.kind == Workload::Kind::kScanner) {
      ReadDuration(f, "interval", &w.interval);
      if (w.interval <= Duration(0)) f.ctx().Error(f.Take("interval"), JoinPath(f.path(), "interval"), "must be above zero");
    } else {
      only({"interval"}, "sensor and scanner");
    }
    if (w.kind == Workload::Kind::kScanner) {
      f.Object("targets", [&](Fields& t) { ReadPodMatch(t, &w.scan.emplace()); }, true);
      std::string ports = "1-1024";
      if (f.String("ports", &ports)) {
        unsigned from = 0, to = 0;
        char dash = 0, extra = 0;
        const int n = std::sscanf(ports.c_str(), "%u%c%u%c", &from, &dash, &to, &extra);
        if (n != 3 || dash != '-' || from < 1 || to > 65535 || from > to) {
          f.ctx().Error(f.Take("ports"), JoinPath(f.path(), "ports"), "\"" + ports + "\" is not a port range: write e.g. \"1-1024\"");
        } else {
          w.port_from = static_cast<uint16_t>(from);
          w.port_to = static_cast<uint16_t>(to);
        }
      }
      ReadDuration(f, "start_after", &w.start_after);
    } else {
      only({"targets", "ports", "start_after"}, "scanner");
    }
    if (w.kind == Workload::Kind::kSensor) {
      int64_t sensors = 1;
      f.Int("sensors", &sensors, 1, 100'000);
      w.sensors = static_cast<int>(sensors);
      int64_t payload = w.payload_bytes;
      ReadBytes(f, "payload", &payload, 60'000);
      w.payload_bytes = static_cast<uint32_t>(payload);
      f.Object("publish_to", [&](Fields& t) { ReadTarget(t, &w.publish_to.emplace()); }, true);
    } else {
      only({"sensors", "payload", "publish_to"}, "sensor");
    }
    if (w.kind == Workload::Kind::kBroker || w.kind == Workload::Kind::kStream) {
      ReadDuration(f, "cpu_per_message", &w.cpu_per_message);
    } else {
      only({"cpu_per_message"}, "broker and stream");
    }
    if (w.kind == Workload::Kind::kBroker) {
      f.List("forward_to", [&](Fields& t, size_t) { ReadTarget(t, &w.forward_to.emplace_back(), /*forward=*/true); });
      f.Object("persist", [&](Fields& p) {
        p.String("volume", &w.persist_volume, true);
        ReadDuration(p, "every", &w.persist_every);
        if (w.persist_every <= Duration(0)) p.ctx().Error(p.Take("every"), JoinPath(p.path(), "every"), "must be above zero");
      });
    } else {
      only({"forward_to", "persist"}, "broker");
    }
    if (w.kind == Workload::Kind::kStream) {
      ReadDuration(f, "window", &w.window);
      if (w.window <= Duration(0)) f.ctx().Error(f.Take("window"), JoinPath(f.path(), "window"), "must be above zero");
    } else {
      only({"window"}, "stream");
    }
    if (w.kind == Workload::Kind::kInference) {
      f.Object("model", [&](Fields& m) {
        m.String("volume", &w.model_volume, true);
        int64_t blocks = w.model_blocks;
        m.Int("blocks", &blocks, 1, 1'000'000);
        w.model_blocks = static_cast<uint32_t>(blocks);
      });
      ReadDelay(f, "service_time", &w.service_time, directory_);
    } else {
      only({"model", "service_time"}, "inference");
    }
    if (w.kind == Workload::Kind::kBatch) {
      ReadDuration(f, "cpu", &w.cpu);
      if (w.cpu < Duration(0)) f.ctx().Error(f.Take("cpu"), JoinPath(f.path(), "cpu"), "must not be negative");
      f.Object("read", [&](Fields& r) {
        r.String("volume", &w.read_volume, true);
        int64_t blocks = 16;
        r.Int("blocks", &blocks, 1, 1'000'000);
        w.read_blocks = static_cast<uint32_t>(blocks);
      });
    } else {
      only({"cpu", "read"}, "batch");
    }
    for (const Workload& other : s->workloads)
      if (other.name == w.name && !w.name.empty())
        f.ctx().Error(f.Take("name"), JoinPath(f.path(), "name"), "another workload is named '" + w.name + "' (line " + std::to_string(other.pos.line) + ")");
    s->workloads.push_back(std::move(w));
  }

  void ReadFault(Fields& f, Scenario* s) {
    Fault fault;
    fault.pos = f.ctx().Pos(f.node());
    ReadDuration(f, "at", &fault.at, true);
    std::string kind;
    f.Enum("kind", &kind, {"node-crash", "link-down", "partition", "latency-spike", "disk-failure", "server-loss"}, true);
    fault.kind = kind == "link-down" ? Fault::Kind::kLinkDown
                 : kind == "partition" ? Fault::Kind::kPartition
                 : kind == "latency-spike" ? Fault::Kind::kLatencySpike
                 : kind == "disk-failure" ? Fault::Kind::kDiskFailure
                 : kind == "server-loss" ? Fault::Kind::kServerLoss
                                         : Fault::Kind::kNodeCrash;
    ReadOptionalDuration(f, "for", &fault.duration);
    if (fault.kind == Fault::Kind::kServerLoss) {
      if (f.Has("target")) f.ctx().Error(f.Take("target"), JoinPath(f.path(), "target"), "server-loss takes no target: it is the control plane's machine");
    } else if (!kind.empty()) {
      f.String("target", &fault.target, true);
      fault_targets_.push_back({f.Take("target"), JoinPath(f.path(), "target")});
    }
    if (fault.kind == Fault::Kind::kLatencySpike) {
      ReadDuration(f, "extra_delay", &fault.extra_delay, true);
    } else if (f.Has("extra_delay")) {
      f.ctx().Error(f.Take("extra_delay"), JoinPath(f.path(), "extra_delay"), "applies to latency-spike faults only");
    }
    if (fault.kind == Fault::Kind::kLatencySpike && !fault.duration)
      f.ctx().Error(f.node(), JoinPath(f.path(), "for"), "a latency spike needs for: (how long it lasts)");
    fault_index_.push_back(s->faults.size());
    s->faults.push_back(std::move(fault));
  }

  void CheckReferences(Context& ctx, const YAML::Node& doc, Scenario* s) {
    for (const auto& [name, node, path] : class_refs_)
      if (!s->classes.count(name))
        ctx.Error(node, path, "no node class '" + name + "'" + Known(s->classes));
    const auto check_profile = [&](const std::string& name, const YAML::Node& node, const std::string& path) {
      if (!s->profiles.count(name)) ctx.Error(node, path, "no profile '" + name + "'" + Known(s->profiles));
    };
    for (const auto& [name, node, path] : profile_refs_) check_profile(name, node, path);
    const LinkClasses& l = s->topology.links;
    const YAML::Node links = links_node_.IsDefined() ? links_node_ : doc["topology"];
    for (auto [key, value] : {std::pair<const char*, const std::string*>{"node", &l.node},
                              {"floor", &l.floor},
                              {"building", &l.building},
                              {"site", &l.site},
                              {"cloud", &l.cloud}}) {
      YAML::Node at = links.IsMap() && links[key].IsDefined() ? links[key] : links;
      check_profile(*value, at, std::string("topology.links.") + key);
    }
    int nodes = 0;
    for (const Site& site : s->topology.sites)
      for (const BuildingGroup& b : site.buildings)
        for (const FloorGroup& f : b.floors)
          for (const NodeGroup& g : f.nodes) nodes += b.count * f.count * g.count;
    for (const NodeGroup& g : s->topology.cloud_nodes) nodes += g.count;
    if (nodes == 0) ctx.Error(doc["topology"], "topology", "has no nodes: give a floor nodes: [{class: ..., count: N}]");
    if (nodes > 100'000) ctx.Error(doc["topology"], "topology", "has " + std::to_string(nodes) + " nodes; at most 100,000 are supported");
    std::set<std::string> names;
    for (const Site& site : s->topology.sites)
      if (!names.insert(site.name).second || site.name == "cloud")
        ctx.Error(doc["topology"]["sites"], "topology.sites", "site names must be unique and not 'cloud': '" + site.name + "'");
  }

  template <typename Map>
  static std::string Known(const Map& map) {
    if (map.empty()) return " (none is defined)";
    std::string out = " (defined:";
    for (const auto& [name, value] : map) out += " " + name;
    return out + ")";
  }

  // The topology as nodes and units. Buildings are numbered across sites
  // (b1, b2, ...), floors within their building (b1-f1), nodes within their
  // floor (b1-f1-n1); cloud nodes are cloud-n1, ...
  void Unroll(Scenario* s) {
    int building_no = 0;
    for (size_t si = 0; si < s->topology.sites.size(); ++si) {
      const Site& site = s->topology.sites[si];
      s->sites.push_back(Unit{site.name, static_cast<int>(si), -1, -1});
      for (const BuildingGroup& bg : site.buildings) {
        for (int b = 0; b < bg.count; ++b) {
          const int building_index = static_cast<int>(s->buildings.size());
          const std::string building = "b" + std::to_string(++building_no);
          s->buildings.push_back(Unit{building, static_cast<int>(si), building_index, -1});
          int floor_no = 0;
          for (const FloorGroup& fg : bg.floors) {
            for (int f = 0; f < fg.count; ++f) {
              const int floor_index = static_cast<int>(s->floors.size());
              const std::string floor = building + "-f" + std::to_string(++floor_no);
              s->floors.push_back(Unit{floor, static_cast<int>(si), building_index, floor_index});
              int node_no = 0;
              for (const NodeGroup& g : fg.nodes)
                for (int n = 0; n < g.count; ++n) {
                  GeneratedNode node = MakeNode(s->classes.at(g.class_name), floor + "-n" + std::to_string(++node_no));
                  node.site = static_cast<int>(si);
                  node.building = building_index;
                  node.floor = floor_index;
                  model::Labels& labels = node.node.meta.labels;
                  labels["topology.kubernetes.io/region"] = site.name;
                  labels["topology.kubernetes.io/zone"] = building;
                  labels["edgebed.io/site"] = site.name;
                  labels["edgebed.io/building"] = std::to_string(building_no);
                  labels["edgebed.io/floor"] = std::to_string(floor_no);
                  s->nodes.push_back(std::move(node));
                }
            }
          }
        }
      }
    }
    int cloud_no = 0;
    for (const NodeGroup& g : s->topology.cloud_nodes)
      for (int n = 0; n < g.count; ++n) {
        GeneratedNode node = MakeNode(s->classes.at(g.class_name), "cloud-n" + std::to_string(++cloud_no));
        node.node.meta.labels["topology.kubernetes.io/region"] = "cloud";
        node.node.meta.labels["topology.kubernetes.io/zone"] = "cloud";
        node.node.meta.labels["edgebed.io/site"] = "cloud";
        s->nodes.push_back(std::move(node));
      }
    const std::string& at = s->topology.server.at;
    const bool known = at == "cloud" || std::any_of(s->buildings.begin(), s->buildings.end(),
                                                     [&](const Unit& u) { return u.name == at; });
    if (!known)
      Error(server_node_.IsDefined() ? Pos(server_node_["at"].IsDefined() ? server_node_["at"] : server_node_) : SourcePos{source_, 0, 0},
            "topology.server.at", "'" + at + "' is neither cloud nor a building (b1.." + "b" + std::to_string(s->buildings.size()) + ")");
  }

  SourcePos Pos(const YAML::Node& node) const {
    SourcePos pos{source_, 0, 0};
    if (node.IsDefined() && node.Mark().line >= 0) {
      pos.line = node.Mark().line + 1;
      pos.column = node.Mark().column + 1;
    }
    return pos;
  }

  static GeneratedNode MakeNode(const NodeClass& c, const std::string& name) {
    GeneratedNode g;
    g.class_name = c.name;
    model::Node& n = g.node;
    n.meta.name = name;
    n.meta.labels = c.labels;
    n.meta.labels["kubernetes.io/hostname"] = name;
    n.meta.labels["edgebed.io/node-class"] = c.name;
    if (!c.pools.empty()) n.meta.annotations[storage::kPoolsAnnotation] = c.pools;
    n.taints = c.taints;
    n.capacity = c.capacity;
    n.allocatable = c.allocatable;
    return g;
  }

  void CheckFaults(Scenario* s) {
    std::set<std::string> nodes, units;
    for (const GeneratedNode& n : s->nodes) nodes.insert(n.node.meta.name);
    for (const auto* list : {&s->sites, &s->buildings, &s->floors})
      for (const Unit& u : *list) units.insert(u.name);
    units.insert("cloud");
    size_t target = 0;
    for (size_t i = 0; i < s->faults.size(); ++i) {
      Fault& f = s->faults[i];
      if (f.kind == Fault::Kind::kServerLoss) continue;
      const auto& [node, path] = fault_targets_.at(target++);
      const bool is_node = nodes.count(f.target) > 0, is_unit = units.count(f.target) > 0;
      std::string problem;
      switch (f.kind) {
        case Fault::Kind::kNodeCrash:
        case Fault::Kind::kDiskFailure:
          if (!is_node) problem = "names no node (nodes are named b1-f1-n1, cloud-n1, ...)";
          break;
        case Fault::Kind::kPartition:
          if (!is_unit) problem = "names no site, building (b1) or floor (b1-f2), nor cloud";
          break;
        case Fault::Kind::kLinkDown:
        case Fault::Kind::kLatencySpike:
          if (!is_node && !is_unit) problem = "names no node (its access link) and no site, building, floor or cloud (its uplink)";
          break;
        case Fault::Kind::kServerLoss:
          break;
      }
      if (!problem.empty()) Error(Pos(node), path, "'" + f.target + "' " + problem);
      if (f.at >= s->duration)
        out_->warnings.push_back(Diagnostic{f.pos, "faults", f.Describe() + " at " + std::to_string(static_cast<int64_t>(ToSeconds(f.at))) +
                                                                 " s is not before the end of the run: it does not happen"});
    }
  }

  // ${name} -> value; unknown names are errors at their line in `text`.
  std::string Substitute(const std::string& text, const std::map<std::string, std::string>& vars,
                         const std::string& source) {
    std::string out;
    out.reserve(text.size());
    size_t i = 0;
    while (i < text.size()) {
      const size_t open = text.find("${", i);
      if (open == std::string::npos) {
        out.append(text, i, std::string::npos);
        break;
      }
      out.append(text, i, open - i);
      const size_t close = text.find('}', open);
      const std::string name = close == std::string::npos ? "" : text.substr(open + 2, close - open - 2);
      auto it = vars.find(name);
      if (it == vars.end()) {
        const int line = static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(open), '\n')) + 1;
        std::string known;
        for (const auto& [k, v] : vars) known += " ${" + k + "}";
        Error(SourcePos{source, line, 0}, "", "unknown variable ${" + name + "}: this file is expanded with" +
                                                (known.empty() ? std::string(" none (give it for_each:)") : known));
        return {};
      }
      out += it->second;
      i = close + 1;
    }
    return out;
  }

  void ReadFile(const std::string& path, const SourcePos& from, std::vector<std::pair<std::string, std::string>>* out) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      std::vector<std::string> files;
      for (const auto& entry : fs::directory_iterator(path, ec)) {
        const std::string ext = entry.path().extension().string();
        if (entry.is_regular_file() && (ext == ".yaml" || ext == ".yml")) files.push_back(entry.path().string());
      }
      std::sort(files.begin(), files.end());
      if (files.empty()) Error(from, "manifests", path + ": a directory with no .yaml files");
      for (const std::string& f : files) ReadFile(f, from, out);
      return;
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      Error(from, "manifests", path + ": cannot be read (paths are relative to the scenario file's directory)");
      return;
    }
    std::ostringstream text;
    text << in.rdbuf();
    out->emplace_back(path, text.str());
  }

  void ExpandManifests(Scenario* s) {
    for (const ManifestSource& m : s->manifest_sources) {
      std::vector<std::pair<std::string, std::string>> texts;
      if (!m.inline_yaml.empty()) {
        texts.emplace_back(source_ + ":" + std::to_string(m.pos.line) + " (inline)", m.inline_yaml);
      } else {
        const std::string path = fs::path(m.path).is_absolute() ? m.path : (fs::path(directory_) / m.path).string();
        ReadFile(path, m.pos, &texts);
      }
      for (const auto& [name, text] : texts) {
        if (m.for_each.empty()) {
          if (text.find("${") != std::string::npos) (void)Substitute(text, {}, name);
          s->manifests.emplace_back(name, text);
          continue;
        }
        const std::vector<Unit>& units = m.for_each == "site" ? s->sites : m.for_each == "building" ? s->buildings : s->floors;
        for (const Unit& u : units) {
          std::map<std::string, std::string> vars;
          vars["site"] = s->sites[static_cast<size_t>(u.site)].name;
          if (u.building >= 0) {
            vars["building"] = s->buildings[static_cast<size_t>(u.building)].name;
            vars["building_number"] = s->buildings[static_cast<size_t>(u.building)].name.substr(1);
          }
          if (u.floor >= 0) {
            vars["floor"] = u.name;
            vars["floor_number"] = u.name.substr(u.name.rfind("-f") + 2);
          }
          std::string expanded = Substitute(text, vars, name);
          if (!out_->errors.empty()) return;
          s->manifests.emplace_back(name + " [" + u.name + "]", std::move(expanded));
        }
      }
    }
    // Manifests are checked here, so that a run fails before it starts.
    for (const auto& [name, text] : s->manifests) {
      model::LoadResult r = model::LoadManifests(text, name);
      for (Diagnostic& d : r.errors) out_->errors.push_back(std::move(d));
      for (const model::Object& o : r.objects)
        if (std::holds_alternative<model::Node>(o))
          out_->errors.push_back(Diagnostic{model::MetaOf(o).pos, "", "Node objects come from the scenario's topology and node_classes, not from manifests; remove it"});
    }
  }

  ScenarioLoad* out_;
  std::string source_, directory_;
  std::vector<std::pair<std::string, SourcePos>> overridden_;
  std::vector<std::tuple<std::string, YAML::Node, std::string>> class_refs_, profile_refs_;
  std::vector<std::pair<YAML::Node, std::string>> fault_targets_;
  std::vector<size_t> fault_index_;
  YAML::Node links_node_, server_node_;
};

}  // namespace

std::map<std::string, std::string> PlaceOf(const Scenario& s, const GeneratedNode& n) {
  std::map<std::string, std::string> vars;
  vars["node"] = n.node.meta.name;
  vars["site"] = n.site >= 0 ? s.sites[static_cast<size_t>(n.site)].name : "cloud";
  if (n.building >= 0) {
    vars["building"] = s.buildings[static_cast<size_t>(n.building)].name;
    vars["building_number"] = vars["building"].substr(1);
  }
  if (n.floor >= 0) {
    vars["floor"] = s.floors[static_cast<size_t>(n.floor)].name;
    vars["floor_number"] = vars["floor"].substr(vars["floor"].rfind("-f") + 2);
  }
  return vars;
}

std::string Expand(const std::string& text, const std::map<std::string, std::string>& vars) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    const size_t open = text.find("${", i);
    const size_t close = open == std::string::npos ? std::string::npos : text.find('}', open);
    if (close == std::string::npos) {
      out.append(text, i, std::string::npos);
      break;
    }
    out.append(text, i, open - i);
    auto it = vars.find(text.substr(open + 2, close - open - 2));
    out += it == vars.end() ? text.substr(open, close - open + 1) : it->second;
    i = close + 1;
  }
  return out;
}

bool PodMatch::Matches(const std::string& ns, const model::Labels& labels, const std::string& node) const {
  if (!GlobMatch(namespace_glob.c_str(), ns.c_str()) || !GlobMatch(node_glob.c_str(), node.c_str())) return false;
  auto parsed = policy::Selector::Parse(selector);
  return parsed.ok() && parsed->Matches(labels);
}

std::string Fault::Describe() const {
  static const char* kNames[] = {"node-crash", "link-down", "partition", "latency-spike", "disk-failure", "server-loss"};
  std::string out = kNames[static_cast<int>(kind)];
  if (!target.empty()) out += " " + target;
  if (kind == Kind::kLatencySpike) out += " +" + std::to_string(static_cast<int64_t>(ToMillis(extra_delay))) + "ms";
  if (duration) out += " for " + std::to_string(static_cast<int64_t>(ToSeconds(*duration))) + "s";
  return out;
}

ScenarioLoad LoadScenario(const std::string& yaml, const std::string& source, const std::string& directory,
                          const std::vector<std::string>& overrides) {
  ScenarioLoad out;
  try {
    Loader(&out, source, directory).Load(yaml, overrides);
  } catch (const std::exception& e) {
    out.errors.push_back(Diagnostic{SourcePos{source, 0, 0}, "", std::string("cannot read the scenario: ") + e.what()});
    out.scenario.reset();
  }
  return out;
}

ScenarioLoad LoadScenarioFile(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ScenarioLoad out;
    out.errors.push_back(Diagnostic{SourcePos{path, 0, 0}, "", "cannot read the scenario file (is the path right?)"});
    return out;
  }
  std::ostringstream text;
  text << in.rdbuf();
  const std::string directory = fs::path(path).parent_path().string();
  return LoadScenario(text.str(), path, directory.empty() ? "." : directory, overrides);
}

}  // namespace edgebed::sim
