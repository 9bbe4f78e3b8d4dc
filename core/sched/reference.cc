#include "core/sched/reference.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <tuple>
#include <utility>
#include <vector>

#include "core/sched/predicates.h"
#include "core/sched/queue.h"

namespace edgebed::sched {
namespace {

constexpr const char* kCpu = "cpu";
constexpr const char* kMemory = "memory";
constexpr const char* kEphemeralStorage = "ephemeral-storage";
constexpr const char* kPodsResource = "pods";

// Filter rejections, worded as upstream's.
constexpr const char* kReasonUnschedulable = "node(s) were unschedulable";
constexpr const char* kReasonNodeName = "node(s) didn't match the requested node name";
constexpr const char* kReasonNodeAffinity = "node(s) didn't match Pod's node affinity/selector";
constexpr const char* kReasonPorts = "node(s) didn't have free ports for the requested pod ports";
constexpr const char* kReasonTooManyPods = "Too many pods";
constexpr const char* kReasonSpreadMissingLabel =
    "node(s) didn't match pod topology spread constraints (missing required label)";
constexpr const char* kReasonSpreadSkew = "node(s) didn't match pod topology spread constraints";
constexpr const char* kReasonPodAffinity = "node(s) didn't match pod affinity rules";
constexpr const char* kReasonPodAntiAffinity = "node(s) didn't match pod anti-affinity rules";
constexpr const char* kReasonExistingAntiAffinity =
    "node(s) didn't satisfy existing pods anti-affinity rules";
constexpr const char* kReasonNoVictims = "No preemption victims found for incoming pod";
constexpr const char* kReasonPreemptionNotHelpful = "Preemption is not helpful for scheduling";

constexpr int64_t kMaxNodeScore = 100;

std::string PodKey(const std::string& ns, const std::string& name) { return ns + "/" + name; }

// Not cpu, memory or ephemeral-storage: scored only for pods that request it.
bool IsExtended(const std::string& resource) {
  return resource != kCpu && resource != kMemory && resource != kEphemeralStorage;
}

int64_t ValueOr0(const std::map<std::string, int64_t>& amounts, const std::string& resource) {
  auto it = amounts.find(resource);
  return it == amounts.end() ? 0 : it->second;
}

// The label's value, or null when the node does not have it.
const std::string* LabelValue(const model::Labels& labels, const std::string& key) {
  auto it = labels.find(key);
  return it == labels.end() ? nullptr : &it->second;
}

bool MountsClaim(const model::Pod& pod) {
  for (const model::PodVolume& v : pod.spec.volumes) {
    if (v.claim_name) return true;
  }
  return false;
}

// Host ports as (protocol, port): hostIP is not modelled, so any two uses of
// the same protocol and port on a node conflict.
std::set<std::pair<std::string, int32_t>> HostPorts(const model::Pod& pod) {
  std::set<std::pair<std::string, int32_t>> ports;
  for (const model::Container& c : pod.spec.containers) {
    for (const model::ContainerPort& p : c.ports) {
      if (!p.host_port || *p.host_port <= 0) continue;
      ports.emplace(p.protocol.empty() ? "TCP" : p.protocol, *p.host_port);
    }
  }
  return ports;
}

// The cluster events after which a node this filter rejected might accept
// the pod: what the pod, once failed, waits for in the queue.
uint32_t EventsThatMayHelp(const std::string& plugin) {
  if (plugin == "NodeUnschedulable" || plugin == "TaintToleration" || plugin == "NodeAffinity") {
    return kNodeAdd | kNodeUpdate;
  }
  if (plugin == "NodeName") return kNodeAdd;
  if (plugin == "NodePorts") return kPodDelete | kNodeAdd;
  if (plugin == "NodeResourcesFit") return kPodDelete | kNodeAdd | kNodeUpdate;
  if (plugin == "VolumePlacement") return kNodeAdd | kVolumeChange;
  if (plugin == "PodTopologySpread") {
    return kPodAdd | kPodDelete | kNodeAdd | kNodeUpdate | kNodeDelete;
  }
  if (plugin == "InterPodAffinity") return kPodAdd | kPodDelete | kNodeAdd | kNodeUpdate;
  return 0;
}

// "0/N nodes are available: 3 Insufficient cpu, 2 node(s) ...." as
// upstream's FitError prints it: "COUNT reason" entries sorted as strings.
std::string NodesAvailableMessage(size_t num_nodes, const std::map<std::string, int>& histogram) {
  std::string message = "0/" + std::to_string(num_nodes) + " nodes are available";
  if (histogram.empty()) return message + ".";
  std::vector<std::string> entries;
  for (const auto& [reason, count] : histogram) {
    entries.push_back(std::to_string(count) + " " + reason);
  }
  std::sort(entries.begin(), entries.end());
  message += ": ";
  for (size_t i = 0; i < entries.size(); ++i) message += (i ? ", " : "") + entries[i];
  return message + ".";
}

// Upstream's broken-linear function over the RequestedToCapacityRatio shape,
// with scores scaled from 0..10 to 0..100.
int64_t ShapeScore(const std::vector<model::UtilizationShapePoint>& shape, int64_t utilization) {
  if (shape.empty()) return 0;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (utilization > shape[i].utilization) continue;
    const int64_t score_i = int64_t{shape[i].score} * 10;
    if (i == 0) return score_i;
    const int64_t score_prev = int64_t{shape[i - 1].score} * 10;
    const int64_t util_prev = shape[i - 1].utilization;
    return score_prev +
           (score_i - score_prev) * (utilization - util_prev) / (shape[i].utilization - util_prev);
  }
  return int64_t{shape.back().score} * 10;
}

int64_t ResourceScore(const Profile& profile, int64_t requested, int64_t allocatable) {
  switch (profile.fit_strategy) {
    case ScoringStrategy::kLeastAllocated:
      return requested > allocatable ? 0 : (allocatable - requested) * kMaxNodeScore / allocatable;
    case ScoringStrategy::kMostAllocated:
      return std::min(requested, allocatable) * kMaxNodeScore / allocatable;
    case ScoringStrategy::kRequestedToCapacityRatio: {
      const int64_t utilization =
          allocatable == 0 || requested > allocatable ? 100 : requested * 100 / allocatable;
      return ShapeScore(profile.shape, utilization);
    }
  }
  return 0;
}

}  // namespace

class ReferenceScheduler::Impl {
 public:
  Impl(Config config, const VolumePlacement* volumes, Random random)
      : config_(std::move(config)),
        volumes_(volumes),
        random_(random),
        queue_(config_.initial_backoff, config_.max_backoff, config_.max_in_unschedulable) {}

  void UpsertNamespace(const model::Namespace& ns, Time now) {
    // As the API server: every namespace carries its own name as a label.
    model::Labels labels = ns.meta.labels;
    labels[kNamespaceNameLabel] = ns.meta.name;
    namespace_labels_[ns.meta.name] = std::move(labels);
    // A namespaceSelector term may now cover pods it did not (or the
    // reverse): what a changed node or an added pod could also do.
    queue_.OnEvent(kNodeUpdate | kPodAdd, now);
  }

  void UpsertPriorityClass(const model::PriorityClass& pc) {
    priority_classes_.by_name[pc.meta.name] = pc;
  }

  void UpsertNode(const model::Node& given, Time now) {
    // Every kubelet labels its node with its hostname; nodes from manifests
    // may not say so.
    model::Node node = given;
    node.meta.labels.emplace(kHostnameLabel, node.meta.name);
    const std::string& name = node.meta.name;
    auto it = nodes_.find(name);
    if (it == nodes_.end()) {
      nodes_.emplace(name, node);
      AddToZone(name, ZoneKey(node.meta.labels));
      queue_.OnEvent(kNodeAdd, now);
      return;
    }
    const std::string old_zone = ZoneKey(it->second.meta.labels);
    it->second = node;
    const std::string new_zone = ZoneKey(node.meta.labels);
    // As upstream's node tree: a node that changes zone goes to the end of
    // its new zone; one that keeps its zone keeps its place.
    if (old_zone != new_zone) {
      RemoveFromZone(name, old_zone);
      AddToZone(name, new_zone);
    }
    queue_.OnEvent(kNodeUpdate, now);
  }

  Status RemoveNode(const std::string& name, Time now) {
    auto it = nodes_.find(name);
    if (it == nodes_.end()) {
      return NotFound("no node named \"" + name + "\" to remove; it was never added or is gone");
    }
    RemoveFromZone(name, ZoneKey(it->second.meta.labels));
    nodes_.erase(it);
    queue_.OnEvent(kNodeDelete, now);
    return Status::Ok();
  }

  Status AddPod(const model::Pod& pod, Time now, const model::LabelSelector* owner_selector) {
    const std::string key = PodKey(pod.meta.namespace_, pod.meta.name);
    if (pods_.count(key)) {
      return AlreadyExists("pod " + key + " was already added; remove it first to replace it");
    }
    PodRecord record;
    std::string error;
    if (!ResolvePriority(pod.spec, priority_classes_, &record.priority, &record.preempt_never,
                         &error)) {
      return InvalidArgument(error, "pod " + key + ": spec.priorityClassName");
    }
    const bool bound = !pod.spec.node_name.empty();
    record.profile = FindProfile(pod.spec.scheduler_name);
    // A bound pod is load on its node whoever scheduled it; only a pending
    // one needs a profile of ours to be placed.
    if (!bound && !record.profile) {
      return Status(StatusCode::kFailedPrecondition,
                    "no scheduler profile named \"" + pod.spec.scheduler_name +
                        "\"; the pod is left for another scheduler",
                    "pod " + key + ": spec.schedulerName");
    }
    record.key = key;
    record.pod = pod;
    record.requests = PodRequests(pod.spec);
    record.nonzero_cpu_memory = NonZeroCpuMemory(pod.spec);
    if (owner_selector) record.owner_selector = *owner_selector;
    if (bound) {
      record.node = pod.spec.node_name;
      record.start = now;
    }
    pods_.emplace(key, std::move(record));
    if (bound) {
      queue_.OnEvent(kPodAdd, now);
    } else {
      queue_.Add(key, pods_.at(key).priority, now);
    }
    return Status::Ok();
  }

  Status RemovePod(const std::string& ns, const std::string& name, Time now) {
    const std::string key = PodKey(ns, name);
    auto it = pods_.find(key);
    if (it == pods_.end()) return NotFound("no pod " + key + " to remove");
    const bool was_bound = !it->second.node.empty();
    pods_.erase(it);
    if (was_bound) {
      queue_.OnEvent(kPodDelete, now);
    } else {
      queue_.Remove(key);
    }
    return Status::Ok();
  }

  void VolumesChanged(Time now) { queue_.OnEvent(kVolumeChange, now); }

  std::optional<Decision> ScheduleOne(Time now) {
    for (;;) {
      std::optional<std::string> key = queue_.Pop(now);
      if (!key) return std::nullopt;
      auto it = pods_.find(*key);
      if (it == pods_.end() || !it->second.node.empty()) {
        queue_.Remove(*key);  // cannot happen: removal and binding leave the queue
        continue;
      }
      return Attempt(it->second, now);
    }
  }

  std::optional<Time> NextBackoffExpiry() const { return queue_.NextBackoffExpiry(); }

  std::string NodeOf(const std::string& ns, const std::string& name) const {
    auto it = pods_.find(PodKey(ns, name));
    return it == pods_.end() ? std::string() : it->second.node;
  }

  size_t pending() const {
    size_t count = 0;
    for (const auto& [key, record] : pods_) count += record.node.empty() ? 1 : 0;
    return count;
  }

  size_t node_count() const { return nodes_.size(); }

 private:
  struct PodRecord {
    std::string key;  // "namespace/name"
    model::Pod pod;
    int32_t priority = 0;
    bool preempt_never = false;
    const Profile* profile = nullptr;  // null only for bound pods of other schedulers
    std::optional<model::LabelSelector> owner_selector;
    // The pod's own requests, derived once from its immutable spec.
    std::map<std::string, int64_t> requests;
    std::pair<int64_t, int64_t> nonzero_cpu_memory;
    std::string node;  // bound (or assumed) to; "" while pending
    Time start{};      // when it was bound, or added bound
    std::string nominated_node;
  };

  // Which pods sit on which existing node, as one filter or score pass sees
  // it: the bound pods, maybe with some added (nominated pods) or taken away
  // (preemption victims).
  using Placement = std::map<std::string, std::vector<const PodRecord*>>;

  // Why a node was rejected (no plugin: it was not).
  struct NodeStatus {
    std::string plugin;
    std::vector<std::string> reasons;
    bool resolvable = false;  // preemption might help
    bool ok() const { return plugin.empty(); }
  };

  // What the filters of one pod need from the whole cluster under one
  // placement (upstream's PreFilter state), found by a full scan.
  struct SpreadConstraintState {
    model::TopologySpreadConstraint constraint;
    std::map<std::string, int64_t> matching_pods_by_domain;  // every domain, 0 included
    int64_t min_matching = 0;
    int64_t self_match = 0;
  };
  struct FilterState {
    const Placement* placement = nullptr;
    std::vector<SpreadConstraintState> spread;
    // InterPodAffinity.
    std::vector<AffinityTerm> affinity_terms, anti_affinity_terms;
    // Per term: the topology values where a pod matching it sits.
    std::vector<std::set<std::string>> affinity_values, anti_affinity_values;
    bool pod_matches_own_affinity = false;
    // (key, value) pairs existing pods' required anti-affinity forbids.
    std::set<std::pair<std::string, std::string>> forbidden_by_existing;
  };

  struct Candidate {
    std::string node;
    std::vector<const PodRecord*> victims;  // most important first
  };

  // ---- nodes, zones, namespaces ------------------------------------------

  const Profile* FindProfile(const std::string& scheduler_name) const {
    for (const Profile& p : config_.profiles) {
      if (p.scheduler_name == scheduler_name) return &p;
    }
    return nullptr;
  }

  void AddToZone(const std::string& node, const std::string& zone) {
    for (auto& [name, members] : zones_) {
      if (name == zone) {
        members.push_back(node);
        return;
      }
    }
    zones_.push_back({zone, {node}});
  }

  // An emptied zone leaves the zone order, as upstream's node tree.
  void RemoveFromZone(const std::string& node, const std::string& zone) {
    for (auto z = zones_.begin(); z != zones_.end(); ++z) {
      if (z->first != zone) continue;
      auto& members = z->second;
      members.erase(std::remove(members.begin(), members.end(), node), members.end());
      if (members.empty()) zones_.erase(z);
      return;
    }
  }

  // Step 2: round-robin across zones.
  std::vector<const model::Node*> NodeList() const {
    std::vector<const model::Node*> list;
    for (size_t index = 0;; ++index) {
      bool any = false;
      for (const auto& [zone, members] : zones_) {
        if (index >= members.size()) continue;
        any = true;
        list.push_back(&nodes_.at(members[index]));
      }
      if (!any) break;
    }
    return list;
  }

  model::Labels NamespaceLabels(const std::string& ns) const {
    auto it = namespace_labels_.find(ns);
    if (it != namespace_labels_.end()) return it->second;
    return {{kNamespaceNameLabel, ns}};
  }

  Placement BoundPlacement() const {
    Placement placement;
    for (const auto& [key, record] : pods_) {
      if (!record.node.empty() && nodes_.count(record.node)) {
        placement[record.node].push_back(&record);
      }
    }
    return placement;
  }

  static const std::vector<const PodRecord*>& PodsOn(const Placement& placement,
                                                     const std::string& node) {
    static const std::vector<const PodRecord*> kNone;
    auto it = placement.find(node);
    return it == placement.end() ? kNone : it->second;
  }

  // The pod's spread constraints: its own, else the profile's defaults with
  // the owner's selector (only for pods with an owner). `system_defaults`
  // (optional) tells whether they are the system defaults, for which
  // scoring does not require every key (upstream's requireAllTopologies).
  std::vector<model::TopologySpreadConstraint> Constraints(const PodRecord& p,
                                                           const Profile& profile,
                                                           bool* system_defaults = nullptr) const {
    if (system_defaults) *system_defaults = false;
    if (!p.pod.spec.topology_spread_constraints.empty()) {
      return p.pod.spec.topology_spread_constraints;
    }
    if (!p.owner_selector) return {};
    if (system_defaults) *system_defaults = profile.system_default_constraints;
    std::vector<model::TopologySpreadConstraint> defaults =
        profile.system_default_constraints ? SystemDefaultConstraints()
                                           : profile.default_constraints;
    for (auto& c : defaults) c.label_selector = *p.owner_selector;
    return defaults;
  }

  static std::vector<model::TopologySpreadConstraint> ConstraintsWhen(
      const std::vector<model::TopologySpreadConstraint>& all, const char* when_unsatisfiable) {
    std::vector<model::TopologySpreadConstraint> out;
    for (const auto& c : all) {
      if (c.when_unsatisfiable == when_unsatisfiable) out.push_back(c);
    }
    return out;
  }

  static bool HasEveryKey(const model::Node& node,
                          const std::vector<model::TopologySpreadConstraint>& constraints) {
    for (const auto& c : constraints) {
      if (!node.meta.labels.count(c.topology_key)) return false;
    }
    return true;
  }

  // Pods on `node` that a spread constraint counts: in the incoming pod's
  // namespace and matched by the selector. An absent selector matches none,
  // and so, as upstream's countPodsMatchSelector, does an empty one ({}).
  static int64_t CountSpreadMatches(const std::vector<const PodRecord*>& pods,
                                    const model::TopologySpreadConstraint& c,
                                    const std::string& ns) {
    if (!c.label_selector || c.label_selector->Empty()) return 0;
    int64_t count = 0;
    for (const PodRecord* e : pods) {
      if (e->pod.meta.namespace_ == ns && model::Matches(*c.label_selector, e->pod.meta.labels)) {
        ++count;
      }
    }
    return count;
  }

  // ---- filters -----------------------------------------------------------

  FilterState PreFilter(const PodRecord& p, const Profile& profile,
                        const Placement& placement) const {
    FilterState state;
    state.placement = &placement;
    const model::Pod& pod = p.pod;
    const std::string& ns = pod.meta.namespace_;

    // PodTopologySpread: per DoNotSchedule constraint, matching pods per
    // domain over the eligible nodes.
    const auto hard = ConstraintsWhen(Constraints(p, profile), "DoNotSchedule");
    for (const auto& c : hard) {
      SpreadConstraintState s;
      s.constraint = c;
      for (const auto& [name, node] : nodes_) {
        if (!RequiredNodeAffinityMatches(pod.spec, node) || !HasEveryKey(node, hard)) continue;
        s.matching_pods_by_domain[node.meta.labels.at(c.topology_key)] +=
            CountSpreadMatches(PodsOn(placement, name), c, ns);
      }
      // The least-loaded domain; 0 when there are fewer domains than
      // minDomains (1 when not given, as upstream, so also when there is none).
      if (static_cast<int64_t>(s.matching_pods_by_domain.size()) >= c.min_domains.value_or(1)) {
        s.min_matching = INT64_MAX;
        for (const auto& [domain, count] : s.matching_pods_by_domain) {
          s.min_matching = std::min(s.min_matching, count);
        }
      }
      s.self_match = c.label_selector && model::Matches(*c.label_selector, pod.meta.labels) ? 1 : 0;
      state.spread.push_back(std::move(s));
    }

    // InterPodAffinity.
    const model::Labels own_ns_labels = NamespaceLabels(ns);
    if (pod.spec.affinity.pod_affinity) {
      for (const auto& t : pod.spec.affinity.pod_affinity->required) {
        state.affinity_terms.push_back(MakeAffinityTerm(t, ns));
      }
    }
    if (pod.spec.affinity.pod_anti_affinity) {
      for (const auto& t : pod.spec.affinity.pod_anti_affinity->required) {
        state.anti_affinity_terms.push_back(MakeAffinityTerm(t, ns));
      }
    }
    state.affinity_values.resize(state.affinity_terms.size());
    state.anti_affinity_values.resize(state.anti_affinity_terms.size());
    for (const auto& [name, pods] : placement) {
      const model::Labels& node_labels = nodes_.at(name).meta.labels;
      for (const PodRecord* e : pods) {
        const model::Pod& existing = e->pod;
        const std::string& e_ns = existing.meta.namespace_;
        if (existing.spec.affinity.pod_anti_affinity) {
          for (const auto& t : existing.spec.affinity.pod_anti_affinity->required) {
            const std::string* value = LabelValue(node_labels, t.topology_key);
            if (value && AffinityTermMatches(MakeAffinityTerm(t, e_ns), ns, pod.meta.labels,
                                             own_ns_labels)) {
              state.forbidden_by_existing.emplace(t.topology_key, *value);
            }
          }
        }
        if (state.affinity_terms.empty() && state.anti_affinity_terms.empty()) continue;
        const model::Labels e_ns_labels = NamespaceLabels(e_ns);
        // Required affinity counts only pods that match every term at once
        // (upstream's podMatchesAllAffinityTerms), in each term's domain.
        bool matches_all = !state.affinity_terms.empty();
        for (const AffinityTerm& t : state.affinity_terms) {
          matches_all = matches_all && AffinityTermMatches(t, e_ns, existing.meta.labels, e_ns_labels);
        }
        for (size_t i = 0; matches_all && i < state.affinity_terms.size(); ++i) {
          const std::string* value = LabelValue(node_labels, state.affinity_terms[i].topology_key);
          if (value) state.affinity_values[i].insert(*value);
        }
        for (size_t i = 0; i < state.anti_affinity_terms.size(); ++i) {
          const AffinityTerm& t = state.anti_affinity_terms[i];
          const std::string* value = LabelValue(node_labels, t.topology_key);
          if (value && AffinityTermMatches(t, e_ns, existing.meta.labels, e_ns_labels)) {
            state.anti_affinity_values[i].insert(*value);
          }
        }
      }
    }
    state.pod_matches_own_affinity = true;
    for (const AffinityTerm& t : state.affinity_terms) {
      if (!AffinityTermMatches(t, ns, pod.meta.labels, own_ns_labels)) {
        state.pod_matches_own_affinity = false;
      }
    }
    return state;
  }

  // One filter plugin on one node; reasons empty when the node passes.
  NodeStatus RunFilter(const std::string& plugin, const PodRecord& p, const FilterState& state,
                       const model::Node& node) const {
    NodeStatus status;
    const model::Pod& pod = p.pod;
    auto reject = [&](std::string reason, bool resolvable) {
      status.reasons.push_back(std::move(reason));
      status.resolvable = resolvable;
    };

    if (plugin == "NodeUnschedulable") {
      model::Taint unschedulable{kUnschedulableTaintKey, "", "NoSchedule"};
      if (node.unschedulable && !TolerationsTolerate(pod.spec.tolerations, unschedulable)) {
        reject(kReasonUnschedulable, false);
      }
    } else if (plugin == "NodeName") {
      if (!pod.spec.node_name.empty() && pod.spec.node_name != node.meta.name) {
        reject(kReasonNodeName, false);
      }
    } else if (plugin == "TaintToleration") {
      for (const model::Taint& taint : node.taints) {
        if (taint.effect != "NoSchedule" && taint.effect != "NoExecute") continue;
        if (!TolerationsTolerate(pod.spec.tolerations, taint)) {
          reject("node(s) had untolerated taint {" + taint.key + ": " + taint.value + "}", false);
          break;
        }
      }
    } else if (plugin == "NodeAffinity") {
      if (!RequiredNodeAffinityMatches(pod.spec, node)) reject(kReasonNodeAffinity, false);
    } else if (plugin == "NodePorts") {
      const auto wanted = HostPorts(pod);
      if (!wanted.empty()) {
        bool conflict = false;
        for (const PodRecord* e : PodsOn(*state.placement, node.meta.name)) {
          for (const auto& used : HostPorts(e->pod)) conflict = conflict || wanted.count(used);
        }
        if (conflict) reject(kReasonPorts, true);
      }
    } else if (plugin == "NodeResourcesFit") {
      FitFilter(p, *state.placement, node, &status);
    } else if (plugin == "VolumePlacement") {
      if (volumes_ && MountsClaim(pod)) {
        std::string reason = volumes_->CannotPlace(pod, node);
        if (!reason.empty()) reject(std::move(reason), false);
      }
    } else if (plugin == "PodTopologySpread") {
      for (const SpreadConstraintState& s : state.spread) {
        const std::string* value = LabelValue(node.meta.labels, s.constraint.topology_key);
        if (!value) {
          reject(kReasonSpreadMissingLabel, false);
          break;
        }
        auto it = s.matching_pods_by_domain.find(*value);
        const int64_t matching = it == s.matching_pods_by_domain.end() ? 0 : it->second;
        if (matching + s.self_match - s.min_matching > s.constraint.max_skew) {
          reject(kReasonSpreadSkew, true);
          break;
        }
      }
    } else if (plugin == "InterPodAffinity") {
      InterPodAffinityFilter(state, node, &status);
    }
    // Unknown plugin names are ignored.
    if (!status.reasons.empty()) status.plugin = plugin;
    return status;
  }

  void FitFilter(const PodRecord& p, const Placement& placement, const model::Node& node,
                 NodeStatus* status) const {
    const auto& pods = PodsOn(placement, node.meta.name);
    const std::map<std::string, int64_t> allocatable = NodeAllocatable(node);
    if (static_cast<int64_t>(pods.size()) + 1 > ValueOr0(allocatable, kPodsResource)) {
      status->reasons.push_back(kReasonTooManyPods);
    }
    // A resource the pod alone asks more of than the node has: no eviction
    // can make room (upstream's Unresolvable). "Too many pods" always can.
    bool beyond_allocatable = false;
    bool requests_anything = false;
    for (const auto& [resource, amount] : p.requests) requests_anything |= amount != 0;
    if (requests_anything) {
      std::map<std::string, int64_t> requested_on_node;
      for (const PodRecord* e : pods) {
        for (const auto& [resource, amount] : e->requests) requested_on_node[resource] += amount;
      }
      std::vector<std::string> order = {kCpu, kMemory, kEphemeralStorage};
      for (const auto& [resource, amount] : p.requests) {
        if (resource != kCpu && resource != kMemory && resource != kEphemeralStorage &&
            resource != kPodsResource) {
          order.push_back(resource);
        }
      }
      for (const std::string& resource : order) {
        const int64_t request = ValueOr0(p.requests, resource);
        if (request > 0 &&
            ValueOr0(requested_on_node, resource) + request > ValueOr0(allocatable, resource)) {
          status->reasons.push_back("Insufficient " + resource);
          if (request > ValueOr0(allocatable, resource)) beyond_allocatable = true;
        }
      }
    }
    if (!status->reasons.empty()) status->resolvable = !beyond_allocatable;
  }

  void InterPodAffinityFilter(const FilterState& state, const model::Node& node,
                              NodeStatus* status) const {
    const model::Labels& labels = node.meta.labels;
    if (!state.affinity_terms.empty()) {
      bool has_every_key = true, every_term_satisfied = true, no_term_matched_anywhere = true;
      for (size_t i = 0; i < state.affinity_terms.size(); ++i) {
        const std::string* value = LabelValue(labels, state.affinity_terms[i].topology_key);
        if (!value) has_every_key = false;
        if (!value || !state.affinity_values[i].count(*value)) every_term_satisfied = false;
        if (!state.affinity_values[i].empty()) no_term_matched_anywhere = false;
      }
      // The first pod of a series that selects itself may start it anywhere
      // the topology keys exist.
      const bool first_of_series =
          no_term_matched_anywhere && state.pod_matches_own_affinity && has_every_key;
      if (!every_term_satisfied && !first_of_series) {
        status->reasons.push_back(kReasonPodAffinity);
        status->resolvable = false;
        return;
      }
    }
    for (size_t i = 0; i < state.anti_affinity_terms.size(); ++i) {
      const std::string* value = LabelValue(labels, state.anti_affinity_terms[i].topology_key);
      if (value && state.anti_affinity_values[i].count(*value)) {
        status->reasons.push_back(kReasonPodAntiAffinity);
        status->resolvable = true;
        return;
      }
    }
    for (const auto& label : labels) {
      if (state.forbidden_by_existing.count(label)) {
        status->reasons.push_back(kReasonExistingAntiAffinity);
        status->resolvable = true;
        return;
      }
    }
  }

  NodeStatus RunFilters(const PodRecord& p, const FilterState& state,
                        const model::Node& node) const {
    for (const std::string& plugin : p.profile->filters) {
      NodeStatus status = RunFilter(plugin, p, state, node);
      if (!status.ok()) return status;
    }
    return {};
  }

  // Pending pods nominated to each node, with priority >= the pod's: they
  // count as already there when the pod is filtered (step 4).
  std::map<std::string, std::vector<const PodRecord*>> NominatedAhead(const PodRecord& p) const {
    std::map<std::string, std::vector<const PodRecord*>> by_node;
    for (const auto& [key, q] : pods_) {
      if (&q == &p || !q.node.empty() || q.nominated_node.empty()) continue;
      if (q.priority >= p.priority) by_node[q.nominated_node].push_back(&q);
    }
    return by_node;
  }

  // Filters with the nominated pods there, then (if there were any and it
  // passed) without them, as upstream's RunFilterPluginsWithNominatedPods.
  NodeStatus FilterWithNominated(
      const PodRecord& p, const Placement& placement, const FilterState& state,
      const std::map<std::string, std::vector<const PodRecord*>>& nominated,
      const model::Node& node) const {
    auto it = nominated.find(node.meta.name);
    if (it == nominated.end()) return RunFilters(p, state, node);
    Placement with_nominated = placement;
    auto& on_node = with_nominated[node.meta.name];
    on_node.insert(on_node.end(), it->second.begin(), it->second.end());
    NodeStatus status = RunFilters(p, PreFilter(p, *p.profile, with_nominated), node);
    if (!status.ok()) return status;
    return RunFilters(p, state, node);
  }

  // ---- scores ------------------------------------------------------------

  std::vector<int64_t> FitScores(const PodRecord& p, const Placement& placement,
                                 const std::vector<const model::Node*>& feasible) const {
    const Profile& profile = *p.profile;
    std::vector<int64_t> scores;
    for (const model::Node* node : feasible) {
      const std::map<std::string, int64_t> allocatable = NodeAllocatable(*node);
      std::map<std::string, int64_t> requested = p.requests;
      int64_t nonzero_cpu = p.nonzero_cpu_memory.first, nonzero_memory = p.nonzero_cpu_memory.second;
      for (const PodRecord* e : PodsOn(placement, node->meta.name)) {
        for (const auto& [resource, amount] : e->requests) requested[resource] += amount;
        nonzero_cpu += e->nonzero_cpu_memory.first;
        nonzero_memory += e->nonzero_cpu_memory.second;
      }
      int64_t weighted = 0, weights = 0;
      for (const model::ResourceWeight& r : profile.fit_resources) {
        // An extended resource the pod does not request is not scored.
        if (IsExtended(r.name) && ValueOr0(p.requests, r.name) == 0) continue;
        const int64_t alloc = ValueOr0(allocatable, r.name);
        if (alloc == 0) continue;
        const int64_t req = r.name == kCpu      ? nonzero_cpu
                            : r.name == kMemory ? nonzero_memory
                                                : ValueOr0(requested, r.name);
        const int64_t score = ResourceScore(profile, req, alloc);
        // RequestedToCapacityRatio averages only the resources that score.
        if (profile.fit_strategy == ScoringStrategy::kRequestedToCapacityRatio && score <= 0) {
          continue;
        }
        weighted += score * r.weight;
        weights += r.weight;
      }
      if (weights == 0) {
        scores.push_back(0);
      } else if (profile.fit_strategy == ScoringStrategy::kRequestedToCapacityRatio) {
        scores.push_back(
            std::llround(static_cast<double>(weighted) / static_cast<double>(weights)));
      } else {
        scores.push_back(weighted / weights);
      }
    }
    return scores;
  }

  std::vector<int64_t> BalancedAllocationScores(
      const PodRecord& p, const Placement& placement,
      const std::vector<const model::Node*>& feasible) const {
    std::vector<int64_t> scores;
    // A pod that requests none of the resources has nothing to balance
    // (upstream's PreScore skips it): 0 everywhere.
    bool requests_any = false;
    for (const model::ResourceWeight& r : p.profile->balanced_resources) {
      requests_any = requests_any || ValueOr0(p.requests, r.name) != 0;
    }
    if (!requests_any) return std::vector<int64_t>(feasible.size(), 0);
    for (const model::Node* node : feasible) {
      const std::map<std::string, int64_t> allocatable = NodeAllocatable(*node);
      std::map<std::string, int64_t> requested = p.requests;
      for (const PodRecord* e : PodsOn(placement, node->meta.name)) {
        for (const auto& [resource, amount] : e->requests) requested[resource] += amount;
      }
      std::vector<double> fractions;
      for (const model::ResourceWeight& r : p.profile->balanced_resources) {
        if (IsExtended(r.name) && ValueOr0(p.requests, r.name) == 0) continue;
        const int64_t alloc = ValueOr0(allocatable, r.name);
        if (alloc == 0) continue;
        fractions.push_back(std::min(
            1.0, static_cast<double>(ValueOr0(requested, r.name)) / static_cast<double>(alloc)));
      }
      double deviation = 0;
      if (fractions.size() == 2) {
        deviation = std::abs((fractions[0] - fractions[1]) / 2);
      } else if (fractions.size() > 2) {
        double total = 0;
        for (double f : fractions) total += f;
        const double mean = total / static_cast<double>(fractions.size());
        double squares = 0;
        for (double f : fractions) squares += (f - mean) * (f - mean);
        deviation = std::sqrt(squares / static_cast<double>(fractions.size()));
      }
      scores.push_back(static_cast<int64_t>((1 - deviation) * kMaxNodeScore));
    }
    return scores;
  }

  std::vector<int64_t> TaintTolerationScores(const PodRecord& p,
                                             const std::vector<const model::Node*>& feasible) const {
    std::vector<model::Toleration> soft;
    for (const model::Toleration& t : p.pod.spec.tolerations) {
      if (t.effect.empty() || t.effect == "PreferNoSchedule") soft.push_back(t);
    }
    std::vector<int64_t> raw;
    int64_t max = 0;
    for (const model::Node* node : feasible) {
      int64_t untolerated = 0;
      for (const model::Taint& taint : node->taints) {
        if (taint.effect == "PreferNoSchedule" && !TolerationsTolerate(soft, taint)) ++untolerated;
      }
      raw.push_back(untolerated);
      max = std::max(max, untolerated);
    }
    for (int64_t& s : raw) s = max == 0 ? kMaxNodeScore : kMaxNodeScore - s * kMaxNodeScore / max;
    return raw;
  }

  std::vector<int64_t> NodeAffinityScores(const PodRecord& p,
                                          const std::vector<const model::Node*>& feasible) const {
    const auto& node_affinity = p.pod.spec.affinity.node_affinity;
    std::vector<int64_t> raw;
    int64_t max = 0;
    for (const model::Node* node : feasible) {
      int64_t sum = 0;
      if (node_affinity) {
        for (const model::PreferredSchedulingTerm& t : node_affinity->preferred) {
          if (TermMatches(t.preference, *node)) sum += t.weight;
        }
      }
      raw.push_back(sum);
      max = std::max(max, sum);
    }
    for (int64_t& s : raw) s = max == 0 ? 0 : s * kMaxNodeScore / max;
    return raw;
  }

  std::vector<int64_t> SpreadScores(const PodRecord& p, const Placement& placement,
                                    const std::vector<const model::Node*>& feasible) const {
    std::vector<int64_t> scores(feasible.size(), 0);
    bool system_defaults = false;
    const auto soft =
        ConstraintsWhen(Constraints(p, *p.profile, &system_defaults), "ScheduleAnyway");
    if (soft.empty()) return scores;
    const std::string& ns = p.pod.meta.namespace_;
    // Upstream's requireAllTopologies: false only for the system defaults.
    const bool require_all = !system_defaults;

    // With require_all, feasible nodes without every key are ignored: they
    // score 0 and count for nothing.
    std::vector<bool> ignored;
    size_t scored_nodes = 0;
    for (const model::Node* node : feasible) {
      ignored.push_back(require_all && !HasEveryKey(*node, soft));
      scored_nodes += ignored.back() ? 0 : 1;
    }

    std::vector<double> weights;
    std::vector<std::map<std::string, int64_t>> matching_by_value(soft.size());
    for (size_t i = 0; i < soft.size(); ++i) {
      const model::TopologySpreadConstraint& c = soft[i];
      size_t size = scored_nodes;
      if (c.topology_key != kHostnameLabel) {
        // The domains: the key's values over the scored feasible nodes.
        std::set<std::string> values;
        for (size_t n = 0; n < feasible.size(); ++n) {
          const std::string* value = LabelValue(feasible[n]->meta.labels, c.topology_key);
          if (!ignored[n] && value) values.insert(*value);
        }
        size = values.size();
        // Counted over every node the pod could be spread over, feasible or
        // not, in those domains.
        for (const auto& [name, node] : nodes_) {
          if (!RequiredNodeAffinityMatches(p.pod.spec, node)) continue;
          if (require_all && !HasEveryKey(node, soft)) continue;
          const std::string* value = LabelValue(node.meta.labels, c.topology_key);
          if (!value || !values.count(*value)) continue;
          matching_by_value[i][*value] += CountSpreadMatches(PodsOn(placement, name), c, ns);
        }
      }
      weights.push_back(std::log(static_cast<double>(size) + 2));
    }

    int64_t min = INT64_MAX, max = 0;
    for (size_t n = 0; n < feasible.size(); ++n) {
      if (ignored[n]) continue;
      double sum = 0;
      for (size_t i = 0; i < soft.size(); ++i) {
        const model::TopologySpreadConstraint& c = soft[i];
        const std::string* value = LabelValue(feasible[n]->meta.labels, c.topology_key);
        if (!value) continue;  // only the constraints whose key the node has
        int64_t count = 0;
        if (c.topology_key == kHostnameLabel) {
          count = CountSpreadMatches(PodsOn(placement, feasible[n]->meta.name), c, ns);
        } else {
          count = ValueOr0(matching_by_value[i], *value);
        }
        sum += static_cast<double>(count) * weights[i] + static_cast<double>(c.max_skew - 1);
      }
      scores[n] = std::llround(sum);
      min = std::min(min, scores[n]);
      max = std::max(max, scores[n]);
    }
    for (size_t n = 0; n < feasible.size(); ++n) {
      if (ignored[n]) continue;
      scores[n] = max == 0 ? kMaxNodeScore : kMaxNodeScore * (max + min - scores[n]) / max;
    }
    return scores;
  }

  std::vector<int64_t> InterPodAffinityScores(
      const PodRecord& p, const Placement& placement,
      const std::vector<const model::Node*>& feasible) const {
    const Profile& profile = *p.profile;
    const model::Pod& pod = p.pod;
    const std::string& ns = pod.meta.namespace_;
    const model::Labels own_ns_labels = NamespaceLabels(ns);
    std::vector<AffinityTerm> preferred, preferred_anti;
    if (pod.spec.affinity.pod_affinity) {
      for (const auto& t : pod.spec.affinity.pod_affinity->preferred) {
        preferred.push_back(MakeAffinityTerm(t.term, ns, t.weight));
      }
    }
    if (pod.spec.affinity.pod_anti_affinity) {
      for (const auto& t : pod.spec.affinity.pod_anti_affinity->preferred) {
        preferred_anti.push_back(MakeAffinityTerm(t.term, ns, t.weight));
      }
    }

    // Upstream's PreScore skips a pod without preferred terms of its own
    // when the existing pods' preferences are to be ignored.
    if (profile.ignore_preferred_terms_of_existing_pods && preferred.empty() &&
        preferred_anti.empty()) {
      return std::vector<int64_t>(feasible.size(), 0);
    }
    std::map<std::pair<std::string, std::string>, int64_t> by_topology;
    for (const auto& [name, pods] : placement) {
      const model::Labels& node_labels = nodes_.at(name).meta.labels;
      for (const PodRecord* e : pods) {
        const model::Pod& existing = e->pod;
        const std::string& e_ns = existing.meta.namespace_;
        auto add = [&](const std::string& key, int64_t delta) {
          const std::string* value = LabelValue(node_labels, key);
          if (value) by_topology[{key, *value}] += delta;
        };
        if (!preferred.empty() || !preferred_anti.empty()) {
          const model::Labels e_ns_labels = NamespaceLabels(e_ns);
          for (const AffinityTerm& t : preferred) {
            if (AffinityTermMatches(t, e_ns, existing.meta.labels, e_ns_labels)) {
              add(t.topology_key, t.weight);
            }
          }
          for (const AffinityTerm& t : preferred_anti) {
            if (AffinityTermMatches(t, e_ns, existing.meta.labels, e_ns_labels)) {
              add(t.topology_key, -int64_t{t.weight});
            }
          }
        }
        const auto& e_affinity = existing.spec.affinity.pod_affinity;
        if (e_affinity) {
          if (profile.hard_pod_affinity_weight > 0) {
            for (const auto& t : e_affinity->required) {
              if (AffinityTermMatches(MakeAffinityTerm(t, e_ns), ns, pod.meta.labels,
                                      own_ns_labels)) {
                add(t.topology_key, profile.hard_pod_affinity_weight);
              }
            }
          }
          if (!profile.ignore_preferred_terms_of_existing_pods) {
            for (const auto& t : e_affinity->preferred) {
              if (AffinityTermMatches(MakeAffinityTerm(t.term, e_ns, t.weight), ns,
                                      pod.meta.labels, own_ns_labels)) {
                add(t.term.topology_key, t.weight);
              }
            }
          }
        }
        const auto& e_anti = existing.spec.affinity.pod_anti_affinity;
        if (e_anti && !profile.ignore_preferred_terms_of_existing_pods) {
          for (const auto& t : e_anti->preferred) {
            if (AffinityTermMatches(MakeAffinityTerm(t.term, e_ns, t.weight), ns, pod.meta.labels,
                                    own_ns_labels)) {
              add(t.term.topology_key, -int64_t{t.weight});
            }
          }
        }
      }
    }

    std::vector<int64_t> scores;
    int64_t min = INT64_MAX, max = INT64_MIN;
    for (const model::Node* node : feasible) {
      int64_t sum = 0;
      for (const auto& label : node->meta.labels) {
        auto it = by_topology.find(label);
        if (it != by_topology.end()) sum += it->second;
      }
      scores.push_back(sum);
      min = std::min(min, sum);
      max = std::max(max, sum);
    }
    const int64_t diff = feasible.empty() ? 0 : max - min;
    for (int64_t& s : scores) {
      s = diff > 0 ? static_cast<int64_t>(static_cast<double>(kMaxNodeScore) *
                                          static_cast<double>(s - min) / static_cast<double>(diff))
                   : 0;
    }
    return scores;
  }

  std::vector<int64_t> VolumeLocalityScores(const PodRecord& p,
                                            const std::vector<const model::Node*>& feasible) const {
    std::vector<int64_t> scores;
    const bool local = volumes_ && MountsClaim(p.pod);
    for (const model::Node* node : feasible) {
      scores.push_back(local ? volumes_->Locality(p.pod, *node) : 0);
    }
    return scores;
  }

  std::vector<int64_t> PluginScores(const std::string& plugin, const PodRecord& p,
                                    const Placement& placement,
                                    const std::vector<const model::Node*>& feasible) const {
    if (plugin == "NodeResourcesFit") return FitScores(p, placement, feasible);
    if (plugin == "NodeResourcesBalancedAllocation") {
      return BalancedAllocationScores(p, placement, feasible);
    }
    if (plugin == "TaintToleration") return TaintTolerationScores(p, feasible);
    if (plugin == "NodeAffinity") return NodeAffinityScores(p, feasible);
    if (plugin == "PodTopologySpread") return SpreadScores(p, placement, feasible);
    if (plugin == "InterPodAffinity") return InterPodAffinityScores(p, placement, feasible);
    if (plugin == "VolumeLocality") return VolumeLocalityScores(p, feasible);
    return std::vector<int64_t>(feasible.size(), 0);  // unknown names are ignored
  }

  // Step 5: the highest total wins; ties by reservoir sampling, as upstream's
  // selectHost.
  const model::Node* SelectHost(const PodRecord& p, const Placement& placement,
                                const std::vector<const model::Node*>& feasible) {
    std::vector<int64_t> totals(feasible.size(), 0);
    for (const auto& [plugin, weight] : p.profile->scores) {
      const std::vector<int64_t> scores = PluginScores(plugin, p, placement, feasible);
      for (size_t n = 0; n < feasible.size(); ++n) totals[n] += scores[n] * weight;
    }
    size_t chosen = 0;
    uint64_t ties = 1;
    for (size_t n = 1; n < feasible.size(); ++n) {
      if (totals[n] > totals[chosen]) {
        chosen = n;
        ties = 1;
      } else if (totals[n] == totals[chosen]) {
        ++ties;
        if (random_.Uniform(ties) == 0) chosen = n;
      }
    }
    return feasible[chosen];
  }

  // ---- preemption --------------------------------------------------------

  // Dry-runs preemption on one node: with every lower-priority pod gone, does
  // the pod fit? Then gives back the most important ones while it still does.
  // When the node is no candidate, `why` gets the reasons upstream records
  // for it (none when the pod fits without evicting anything).
  std::optional<Candidate> DryRunPreemption(
      const PodRecord& p, const Placement& placement,
      const std::map<std::string, std::vector<const PodRecord*>>& nominated,
      const model::Node& node, std::vector<std::string>* why) const {
    std::vector<const PodRecord*> lower;
    for (const PodRecord* e : PodsOn(placement, node.meta.name)) {
      if (e->priority < p.priority) lower.push_back(e);
    }
    if (lower.empty()) {
      why->push_back(kReasonNoVictims);
      return std::nullopt;
    }
    Placement without = placement;
    auto& on_node = without[node.meta.name];
    auto remove = [&](const PodRecord* e) {
      on_node.erase(std::remove(on_node.begin(), on_node.end(), e), on_node.end());
    };
    for (const PodRecord* e : lower) remove(e);
    // Nominated pods are no victims (they are not there yet) but still hold
    // their room, as in every filter pass.
    auto check = [&] {
      return FilterWithNominated(p, without, PreFilter(p, *p.profile, without), nominated, node);
    };
    auto fits = [&] { return check().ok(); };
    if (NodeStatus status = check(); !status.ok()) {
      *why = std::move(status.reasons);  // even all of them gone would not make room
      return std::nullopt;
    }

    std::sort(lower.begin(), lower.end(), [](const PodRecord* a, const PodRecord* b) {
      return std::make_tuple(-int64_t{a->priority}, a->start, a->key) <
             std::make_tuple(-int64_t{b->priority}, b->start, b->key);
    });
    Candidate candidate{node.meta.name, {}};
    for (const PodRecord* e : lower) {
      on_node.push_back(e);
      if (!fits()) {
        remove(e);
        candidate.victims.push_back(e);
      }
    }
    // Nothing to evict: not a preemption (upstream refuses such a node too).
    if (candidate.victims.empty()) return std::nullopt;
    return candidate;
  }

  // Step 6's order of preference among candidates.
  static bool BetterCandidate(const Candidate& a, const Candidate& b) {
    auto summary = [](const Candidate& c) {
      const int32_t highest = c.victims.front()->priority;
      // Upstream sums priority + 2^31 per victim, so more victims weigh more
      // even at negative priorities.
      int64_t sum = 0;
      std::optional<Time> earliest_of_highest;
      for (const PodRecord* v : c.victims) {
        sum += int64_t{v->priority} + int64_t{INT32_MAX} + 1;
        if (v->priority == highest && (!earliest_of_highest || v->start < *earliest_of_highest)) {
          earliest_of_highest = v->start;
        }
      }
      // Smaller is better in every field; a later start is better.
      return std::make_tuple(int64_t{highest}, sum, c.victims.size(),
                             -earliest_of_highest->time_since_epoch().count());
    };
    return summary(a) < summary(b);
  }

  struct PreemptionResult {
    std::optional<Candidate> chosen;
    std::string message;  // "preemption: ...", when nothing was chosen
  };

  PreemptionResult Preempt(const PodRecord& p, const Placement& placement,
                           const std::map<std::string, std::vector<const PodRecord*>>& nominated,
                           const std::vector<const model::Node*>& list,
                           const std::map<std::string, NodeStatus>& rejected) {
    std::vector<const model::Node*> potential;
    for (const model::Node* node : list) {
      auto it = rejected.find(node->meta.name);
      if (it != rejected.end() && it->second.resolvable) potential.push_back(node);
    }
    // The dry runs' reasons, and how many nodes gave one.
    std::map<std::string, int> histogram;
    size_t with_reason = 0;
    PreemptionResult result;
    if (!potential.empty()) {
      const int64_t count = static_cast<int64_t>(potential.size());
      const uint64_t offset = random_.Uniform(potential.size());
      int64_t wanted = std::max<int64_t>(count * p.profile->min_candidate_nodes_percentage / 100,
                                         p.profile->min_candidate_nodes_absolute);
      wanted = std::min(wanted, count);
      std::vector<Candidate> candidates;
      for (size_t i = 0; i < potential.size(); ++i) {
        // (With a target of 0, as upstream, the first candidate is enough.)
        if (!candidates.empty() && static_cast<int64_t>(candidates.size()) >= wanted) break;
        const model::Node& node = *potential[(offset + i) % potential.size()];
        std::vector<std::string> why;
        std::optional<Candidate> c = DryRunPreemption(p, placement, nominated, node, &why);
        if (c) {
          candidates.push_back(std::move(*c));
        } else if (!why.empty()) {
          ++with_reason;
          for (const std::string& reason : why) ++histogram[reason];
        }
      }
      for (const Candidate& c : candidates) {
        if (!result.chosen || BetterCandidate(c, *result.chosen)) result.chosen = c;
      }
    }
    if (!result.chosen) {
      // Every node without a reason of its own: not examined, not potential,
      // or fitting without evicting anyone.
      if (with_reason < list.size()) {
        histogram[kReasonPreemptionNotHelpful] += static_cast<int>(list.size() - with_reason);
      }
      result.message = "preemption: " + NodesAvailableMessage(list.size(), histogram);
    }
    return result;
  }

  // ---- one attempt -------------------------------------------------------

  Decision Bind(PodRecord& p, const std::string& node, Time now) {
    p.node = node;
    p.start = now;
    p.nominated_node.clear();
    queue_.Done(p.key);
    queue_.OnEvent(kPodAdd, now);
    Decision d;
    d.outcome = Decision::kBound;
    d.pod = p.key;
    d.node = node;
    return d;
  }

  Decision Attempt(PodRecord& p, Time now) {
    const Placement placement = BoundPlacement();
    const FilterState state = PreFilter(p, *p.profile, placement);
    const auto nominated = NominatedAhead(p);
    const std::vector<const model::Node*> list = NodeList();
    uint32_t helpful_events = 0;

    // Step 3: the node an earlier preemption made room on.
    if (!p.nominated_node.empty()) {
      auto it = nodes_.find(p.nominated_node);
      if (it != nodes_.end()) {
        NodeStatus status = FilterWithNominated(p, placement, state, nominated, it->second);
        if (status.ok()) return Bind(p, it->first, now);
        helpful_events |= EventsThatMayHelp(status.plugin);
      }
    }

    // Step 4: filter from the rotating start until enough nodes fit.
    std::vector<const model::Node*> feasible;
    std::map<std::string, NodeStatus> rejected;
    const size_t num_nodes = list.size();
    if (num_nodes > 0) {
      // A profile that scores nothing takes the first node that fits.
      int64_t to_find = p.profile->scores.empty()
                            ? 1
                            : NumFeasibleNodesToFind(config_.percentage_of_nodes_to_score,
                                                     static_cast<int32_t>(num_nodes));
      if (to_find <= 0) to_find = static_cast<int64_t>(num_nodes);
      size_t examined = 0;
      for (; examined < num_nodes && static_cast<int64_t>(feasible.size()) < to_find; ++examined) {
        const model::Node* node = list[(next_start_index_ + examined) % num_nodes];
        NodeStatus status = FilterWithNominated(p, placement, state, nominated, *node);
        if (status.ok()) {
          feasible.push_back(node);
        } else {
          helpful_events |= EventsThatMayHelp(status.plugin);
          rejected[node->meta.name] = std::move(status);
        }
      }
      next_start_index_ = (next_start_index_ + examined) % num_nodes;
    }

    // Step 5.
    if (feasible.size() == 1) return Bind(p, feasible[0]->meta.name, now);
    if (feasible.size() > 1) return Bind(p, SelectHost(p, placement, feasible)->meta.name, now);

    // Step 6: nowhere fits.
    Decision d;
    d.pod = p.key;
    if (num_nodes == 0) {
      d.reason = "no nodes available to schedule pods";  // upstream's ErrNoNodesAvailable
      helpful_events = kNodeAdd;  // no filter rejected anything; only a node can help
    } else {
      std::map<std::string, int> histogram;
      for (const auto& [name, status] : rejected) {
        for (const std::string& reason : status.reasons) ++histogram[reason];
      }
      d.reason = NodesAvailableMessage(num_nodes, histogram);
      if (p.profile->preemption) {
        if (p.preempt_never) {
          d.reason += " preemption: not eligible due to preemptionPolicy=Never.";
        } else {
          PreemptionResult preemption = Preempt(p, placement, nominated, list, rejected);
          if (preemption.chosen) {
            const Candidate& c = *preemption.chosen;
            p.nominated_node = c.node;
            // A more important pod takes over the room lower ones counted on.
            for (auto& [key, q] : pods_) {
              if (&q != &p && q.node.empty() && q.nominated_node == c.node &&
                  q.priority < p.priority) {
                q.nominated_node.clear();
              }
            }
            d.outcome = Decision::kNominated;
            d.reason.clear();  // the pod will fit: there is nothing to explain
            d.node = c.node;
            for (const PodRecord* v : c.victims) d.victims.push_back(v->key);
            std::sort(d.victims.begin(), d.victims.end());
            queue_.Failed(p.key, helpful_events | kPodDelete, now);
            return d;
          }
          d.reason += " " + preemption.message;
          p.nominated_node.clear();  // as upstream: a failed preemption drops the nomination
        }
      }
    }
    d.outcome = Decision::kUnschedulable;
    queue_.Failed(p.key, helpful_events, now);
    return d;
  }

  const Config config_;
  const VolumePlacement* const volumes_;
  Random random_;
  SchedulingQueue queue_;
  std::map<std::string, model::Labels> namespace_labels_;
  PriorityClasses priority_classes_;
  std::map<std::string, model::Node> nodes_;
  // Zones in the order they appeared, each with its nodes in the order added.
  std::vector<std::pair<std::string, std::vector<std::string>>> zones_;
  std::map<std::string, PodRecord> pods_;  // by "namespace/name"
  size_t next_start_index_ = 0;
};

ReferenceScheduler::ReferenceScheduler(Config config, const VolumePlacement* volumes,
                                       Random random)
    : impl_(std::make_unique<Impl>(std::move(config), volumes, random)) {}
ReferenceScheduler::~ReferenceScheduler() = default;

void ReferenceScheduler::UpsertNamespace(const model::Namespace& ns, Time now) {
  impl_->UpsertNamespace(ns, now);
}
void ReferenceScheduler::UpsertPriorityClass(const model::PriorityClass& pc) {
  impl_->UpsertPriorityClass(pc);
}
void ReferenceScheduler::UpsertNode(const model::Node& node, Time now) {
  impl_->UpsertNode(node, now);
}
Status ReferenceScheduler::RemoveNode(const std::string& name, Time now) {
  return impl_->RemoveNode(name, now);
}
Status ReferenceScheduler::AddPod(const model::Pod& pod, Time now,
                                  const model::LabelSelector* owner_selector) {
  return impl_->AddPod(pod, now, owner_selector);
}
Status ReferenceScheduler::RemovePod(const std::string& ns, const std::string& name, Time now) {
  return impl_->RemovePod(ns, name, now);
}
void ReferenceScheduler::VolumesChanged(Time now) { impl_->VolumesChanged(now); }
std::optional<Decision> ReferenceScheduler::ScheduleOne(Time now) {
  return impl_->ScheduleOne(now);
}
std::optional<Time> ReferenceScheduler::NextBackoffExpiry() const {
  return impl_->NextBackoffExpiry();
}
std::string ReferenceScheduler::NodeOf(const std::string& ns, const std::string& name) const {
  return impl_->NodeOf(ns, name);
}
size_t ReferenceScheduler::pending() const { return impl_->pending(); }
size_t ReferenceScheduler::node_count() const { return impl_->node_count(); }

}  // namespace edgebed::sched
