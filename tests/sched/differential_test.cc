// Differential test: the optimized Scheduler (scheduler.h) against the naive
// ReferenceScheduler (reference.h) on random clusters. Both get the same
// Config, the same Random(seed) and the same calls in the same order (nodes,
// namespaces, bound and pending pods, then ScheduleOne interleaved with node
// additions, updates and removals, pod additions and deletions, namespace
// changes); every Decision must be identical, field by field, step by step.
// Every bound decision is also checked against the cluster as the test
// itself tracks it: the pod fits the node's free resources and ports, and
// taints, node affinity and required anti-affinity (both ways) hold.
//
// A failure names the seed and the step and prints both decisions. Replay
// one seed alone (only that seed runs, with a trace of every step):
//
//   EDGEBED_SEED=N ./build/tests/sched/sched_test --gtest_filter='Differential.*'
//
// EDGEBED_SEEDS=N runs seeds 1..N instead of the default count (400; 150
// under AddressSanitizer).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/env/random.h"
#include "core/model/objects.h"
#include "core/sched/config.h"
#include "core/sched/predicates.h"
#include "core/sched/reference.h"
#include "core/sched/scheduler.h"

namespace edgebed::sched {
namespace {

using namespace std::chrono_literals;

// Seeds 1..N; fewer under the sanitizers, which run it about 7x slower.
#if defined(__SANITIZE_ADDRESS__)
constexpr uint64_t kDefaultSeeds = 150;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr uint64_t kDefaultSeeds = 150;
#else
constexpr uint64_t kDefaultSeeds = 400;
#endif
#else
constexpr uint64_t kDefaultSeeds = 400;
#endif
constexpr const char* kGpu = "example.com/gpu";


uint64_t Fnv(const std::string& a, const std::string& b) {
  uint64_t h = 1469598103934665603ull;
  for (char c : a + "\x1f" + b) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

// A storage layer that answers from a hash of (claim, node): some nodes
// cannot attach a claim, and locality varies.
class FakeVolumes final : public VolumePlacement {
 public:
  std::string CannotPlace(const model::Pod& pod, const model::Node& node) const override {
    for (const auto& v : pod.spec.volumes) {
      if (v.claim_name && Fnv(*v.claim_name, node.meta.name) % 4 == 0) {
        return "node(s) had no replica of volume " + *v.claim_name;
      }
    }
    return "";
  }
  int Locality(const model::Pod& pod, const model::Node& node) const override {
    int sum = 0, n = 0;
    for (const auto& v : pod.spec.volumes) {
      if (!v.claim_name) continue;
      sum += static_cast<int>(Fnv(node.meta.name, *v.claim_name) % 101);
      ++n;
    }
    return n ? sum / n : 0;
  }
};

std::string Describe(const std::optional<Decision>& d) {
  if (!d) return "(no decision)";
  std::ostringstream out;
  const char* outcome = d->outcome == Decision::kBound       ? "Bound"
                        : d->outcome == Decision::kNominated ? "Nominated"
                                                             : "Unschedulable";
  out << outcome << " pod=" << d->pod << " node=" << d->node << " victims=[";
  for (size_t i = 0; i < d->victims.size(); ++i) out << (i ? "," : "") << d->victims[i];
  out << "] reason=\"" << d->reason << "\"";
  return out.str();
}

bool SameDecision(const std::optional<Decision>& a, const std::optional<Decision>& b) {
  if (!a || !b) return !a && !b;
  return a->outcome == b->outcome && a->pod == b->pod && a->node == b->node &&
         a->victims == b->victims && a->reason == b->reason;
}

// ---- random objects --------------------------------------------------------

class Gen {
 public:
  explicit Gen(uint64_t seed) : r_(MixSeed(seed, 0xD1FF)) {}

  Random& r() { return r_; }
  bool P(double p) { return r_.Chance(p); }
  int64_t Int(int64_t lo, int64_t hi) { return r_.UniformInt(lo, hi); }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[r_.Uniform(v.size())];
  }
  std::string PickS(std::initializer_list<const char*> v) {
    std::vector<std::string> s(v.begin(), v.end());
    return Pick(s);
  }

  // The shape of this seed's cluster: its size, how crowded it is and how
  // much its pods use affinity and spreading.
  void Shape(bool big) {
    num_nodes_ = big ? static_cast<int>(Int(150, 250)) : static_cast<int>(Int(5, 60));
    crowded_ = P(0.35);
    rules_ = P(0.3) ? 2.5 : 1.0;
    const int num_zones = static_cast<int>(Int(1, 5));
    for (int i = 0; i < num_zones; ++i) zones_.push_back("z" + std::to_string(i));
    namespaces_ = {"default", "ns-a", "ns-b", "ns-c", "ns-unlisted"};
    apps_ = {"web", "db", "cache", "batch", "edge"};
  }
  int num_nodes() const { return num_nodes_; }
  const std::vector<std::string>& namespaces() const { return namespaces_; }

  model::Namespace MakeNamespace(const std::string& name) {
    model::Namespace ns;
    ns.meta.name = name;
    if (P(0.6)) ns.meta.labels["env"] = PickS({"prod", "dev"});
    if (P(0.5)) ns.meta.labels["team"] = PickS({"a", "b"});
    // As the API server does (core/model's loader too).
    if (P(0.9)) ns.meta.labels[kNamespaceNameLabel] = name;
    return ns;
  }

  std::vector<model::PriorityClass> PriorityClasses() {
    std::vector<model::PriorityClass> out;
    const auto add = [&](const char* name, int32_t value, bool global, const char* policy) {
      model::PriorityClass pc;
      pc.meta.name = name;
      pc.value = value;
      pc.global_default = global;
      pc.preemption_policy = policy;
      out.push_back(pc);
    };
    add("low", -5, false, "PreemptLowerPriority");
    add("mid", 100, P(0.3), "PreemptLowerPriority");
    add("high", 1000, false, "PreemptLowerPriority");
    add("polite", 500, false, "Never");
    return out;
  }

  std::string NewNodeName() { return "node-" + std::to_string(node_seq_++); }

  model::Node MakeNode(const std::string& name) {
    model::Node n;
    n.meta.name = name;
    // Most nodes carry the kubelet's hostname label; both schedulers give it
    // to those that do not.
    if (P(0.9)) n.meta.labels[kHostnameLabel] = name;
    if (P(0.85)) n.meta.labels[kZoneLabel] = Pick(zones_);
    if (P(0.15)) n.meta.labels[kRegionLabel] = PickS({"r1", "r2"});
    if (P(0.6)) n.meta.labels["disk"] = PickS({"ssd", "hdd"});
    if (P(0.7)) n.meta.labels["tier"] = PickS({"1", "2", "3", "4", "5", "x"});
    if (P(0.3)) n.meta.labels["rack"] = PickS({"r0", "r1", "r2"});
    if (P(0.1)) n.meta.labels["gpu"] = "true";
    n.unschedulable = P(0.06);
    const int taints = P(0.75) ? 0 : static_cast<int>(Int(1, 2));
    for (int i = 0; i < taints; ++i) {
      model::Taint t;
      t.key = PickS({"dedicated", "maint", "gpu"});
      t.value = PickS({"a", "b", ""});
      t.effect = PickS({"NoSchedule", "PreferNoSchedule", "NoExecute", "PreferNoSchedule"});
      n.taints.push_back(t);
    }
    const int64_t cpu_milli = crowded_ ? Pick(std::vector<int64_t>{1000, 2000, 3000})
                                       : Pick(std::vector<int64_t>{1000, 2000, 2500, 4000, 8000, 16000});
    n.allocatable["cpu"] = model::Quantity::FromMilli(cpu_milli);
    n.allocatable["memory"] = model::Quantity::FromUnits(Int(1, 32) * (1ll << 30));
    if (P(0.7)) n.allocatable["pods"] = model::Quantity::FromUnits(Pick(std::vector<int64_t>{3, 5, 8, 20, 110}));
    if (P(0.25)) n.allocatable[kGpu] = model::Quantity::FromUnits(Int(0, 4));
    if (P(0.3)) n.allocatable["ephemeral-storage"] = model::Quantity::FromUnits(Int(10, 100) * (1ll << 30));
    return n;
  }

  // Changes some of a node's labels, taints, schedulability or size.
  model::Node MutateNode(model::Node n) {
    switch (r_.Uniform(5)) {
      case 0:  // topology labels
        if (P(0.5)) {
          if (P(0.2)) {
            n.meta.labels.erase(kZoneLabel);
          } else {
            n.meta.labels[kZoneLabel] = Pick(zones_);
          }
        } else if (P(0.7)) {
          n.meta.labels["rack"] = PickS({"r0", "r1", "r2"});
        } else {
          n.meta.labels["gpu"] = "true";
        }
        break;
      case 1:
        n.taints.clear();
        if (P(0.5)) n.taints.push_back({PickS({"dedicated", "maint"}), PickS({"a", ""}),
                                        PickS({"NoSchedule", "PreferNoSchedule", "NoExecute"})});
        break;
      case 2:
        n.unschedulable = !n.unschedulable;
        break;
      case 3:
        n.allocatable["cpu"] = model::Quantity::FromMilli(Int(1, 16) * 1000);
        break;
      default:
        n.meta.labels["disk"] = PickS({"ssd", "hdd"});
        n.meta.labels["tier"] = PickS({"1", "3", "5"});
        break;
    }
    return n;
  }

  model::LabelSelector AppSelector() {
    model::LabelSelector s;
    switch (r_.Uniform(5)) {
      case 0:
        s.match_expressions.push_back({"app", "In", {Pick(apps_), Pick(apps_)}});
        break;
      case 1:
        s.match_expressions.push_back({"app", PickS({"Exists", "DoesNotExist"}), {}});
        break;
      case 2:
        s.match_expressions.push_back({"app", "NotIn", {Pick(apps_)}});
        break;
      default:
        s.match_labels["app"] = Pick(apps_);
        break;
    }
    if (P(0.15)) s.match_labels["tier"] = PickS({"fe", "be"});
    return s;
  }

  // Absent, {} or an app selector.
  std::optional<model::LabelSelector> MaybeSelector(double absent, double empty) {
    const double x = r_.UnitReal();
    if (x < absent) return std::nullopt;
    if (x < absent + empty) return model::LabelSelector{};
    return AppSelector();
  }

  model::PodAffinityTerm AffinityTerm() {
    model::PodAffinityTerm t;
    t.label_selector = MaybeSelector(0.05, 0.1);
    t.topology_key = PickS({kHostnameLabel, kZoneLabel, kZoneLabel, "rack"});
    switch (r_.Uniform(6)) {
      case 0:
        t.namespaces = {Pick(namespaces_)};
        break;
      case 1:
        t.namespace_selector = model::LabelSelector{};
        break;
      case 2: {
        model::LabelSelector s;
        s.match_labels["env"] = PickS({"prod", "dev"});
        t.namespace_selector = s;
        break;
      }
      case 3: {
        model::LabelSelector s;
        s.match_expressions.push_back({kNamespaceNameLabel, "In", {Pick(namespaces_)}});
        t.namespace_selector = s;
        if (P(0.5)) t.namespaces = {Pick(namespaces_)};
        break;
      }
      default:
        break;  // the pod's own namespace
    }
    return t;
  }

  model::NodeSelectorRequirement NodeRequirement() {
    model::NodeSelectorRequirement q;
    switch (r_.Uniform(7)) {
      case 0:
        q = {"disk", "In", {PickS({"ssd", "hdd"})}};
        break;
      case 1:
        q = {"disk", "NotIn", {"hdd"}};
        break;
      case 2:
        q = {PickS({"gpu", "rack"}), "Exists", {}};
        break;
      case 3:
        q = {PickS({"gpu", "disk"}), "DoesNotExist", {}};
        break;
      case 4:
        q = {"tier", "Gt", {PickS({"1", "2", "3", "y"})}};
        break;
      case 5:
        q = {"tier", "Lt", {PickS({"3", "4", "5"})}};
        break;
      default:
        q = {kZoneLabel, "In", {Pick(zones_), Pick(zones_)}};
        break;
    }
    return q;
  }

  model::NodeSelectorTerm NodeTerm() {
    model::NodeSelectorTerm t;
    const int n = static_cast<int>(Int(P(0.05) ? 0 : 1, 2));
    for (int i = 0; i < n; ++i) t.match_expressions.push_back(NodeRequirement());
    if (P(0.08)) t.match_fields.push_back({"metadata.name", PickS({"In", "NotIn"}),
                                           {"node-" + std::to_string(Int(0, num_nodes_))}});
    return t;
  }

  model::ResourceList Requests(bool allow_none) {
    model::ResourceList req;
    if (allow_none && P(0.15)) return req;
    if (P(0.85)) req["cpu"] = model::Quantity::FromMilli(Int(1, 40) * 100);
    if (P(0.8)) req["memory"] = model::Quantity::FromUnits(Int(1, 32) * (256ll << 20));
    if (P(0.08)) req[kGpu] = model::Quantity::FromUnits(Int(1, 3));
    if (P(0.08)) req["ephemeral-storage"] = model::Quantity::FromUnits(Int(1, 20) * (1ll << 30));
    if (P(0.03)) req["cpu"] = model::Quantity::FromMilli(0);
    return req;
  }

  struct PodPlan {
    model::Pod pod;
    std::optional<model::LabelSelector> owner;
  };

  PodPlan MakePod(const std::vector<std::string>& profiles, const std::string& bound_to) {
    PodPlan plan;
    model::Pod& pod = plan.pod;
    model::PodSpec& spec = pod.spec;
    pod.meta.namespace_ = P(0.5) ? "default" : Pick(namespaces_);
    const bool deployment = bound_to.empty() && P(0.2 * rules_);
    const std::string app = Pick(apps_);
    pod.meta.name = (deployment ? "dep-" + app + "-" : "pod-") + std::to_string(pod_seq_++);
    if (P(0.85)) pod.meta.labels["app"] = app;
    if (P(0.4)) pod.meta.labels["tier"] = PickS({"fe", "be"});
    spec.node_name = bound_to;
    spec.scheduler_name = P(0.75) ? profiles[0] : Pick(profiles);

    const int containers = static_cast<int>(Int(0, 2));
    for (int i = 0; i < containers; ++i) {
      model::Container c;
      c.name = "c" + std::to_string(i);
      c.requests = Requests(true);
      if (i == 0 && P(0.1)) {
        model::ContainerPort port;
        port.container_port = 80;
        port.host_port = static_cast<int32_t>(PickS({"8080", "9090"}) == "8080" ? 8080 : 9090);
        port.protocol = PickS({"TCP", "", "UDP"});  // "" is TCP
        c.ports.push_back(port);
      }
      spec.containers.push_back(c);
    }
    if (P(0.1)) {
      model::Container init;
      init.name = "init";
      init.requests = Requests(false);
      spec.init_containers.push_back(init);
    }

    // Priority.
    const uint64_t prio = r_.Uniform(crowded_ ? 6 : 10);
    if (prio < 2) {
      spec.priority = static_cast<int32_t>(Int(-10, 2000));
    } else if (prio < 6) {
      spec.priority_class_name = PickS({"low", "mid", "high", "polite"});
    }
    if (crowded_ && !bound_to.empty() && P(0.6)) {  // cheap load, waiting to be preempted
      spec.priority_class_name.clear();
      spec.priority = static_cast<int32_t>(Int(-10, 50));
    }
    if (P(0.005)) spec.priority_class_name = "no-such-class";  // refused by both
    if (P(0.08)) spec.preemption_policy = "Never";
    else if (P(0.05)) spec.preemption_policy = "PreemptLowerPriority";

    // Tolerations.
    if (P(0.35)) {
      const int n = static_cast<int>(Int(1, 2));
      for (int i = 0; i < n; ++i) {
        model::Toleration t;
        if (P(0.1)) {
          t.op = "Exists";  // tolerates everything (with its effect)
        } else if (P(0.1)) {
          t.key = kUnschedulableTaintKey;
          t.op = "Exists";
        } else {
          t.key = PickS({"dedicated", "maint", "gpu"});
          if (P(0.5)) {
            t.op = "Exists";
          } else {
            t.op = "Equal";
            t.value = PickS({"a", "b", ""});
          }
        }
        t.effect = PickS({"", "NoSchedule", "PreferNoSchedule", "NoExecute"});
        spec.tolerations.push_back(t);
      }
    }

    // Node selection.
    if (P(0.1)) spec.node_selector["disk"] = PickS({"ssd", "hdd"});
    if (P(0.2)) {
      model::NodeAffinity na;
      if (P(0.5)) {
        const int n = static_cast<int>(Int(1, 2));
        for (int i = 0; i < n; ++i) na.required.push_back(NodeTerm());
      }
      if (P(0.6)) {
        const int n = static_cast<int>(Int(1, 3));
        for (int i = 0; i < n; ++i) {
          model::PreferredSchedulingTerm t;
          t.weight = static_cast<int32_t>(Int(1, 100));
          t.preference = NodeTerm();
          na.preferred.push_back(t);
        }
      }
      spec.affinity.node_affinity = na;
    }

    // Pod affinity and anti-affinity.
    const auto pod_affinity = [&](double required, double preferred) {
      std::optional<model::PodAffinity> out;
      if (!P(required + preferred)) return out;
      model::PodAffinity a;
      if (P(required / (required + preferred))) {
        const int n = P(0.25) ? 2 : 1;
        for (int i = 0; i < n; ++i) a.required.push_back(AffinityTerm());
      }
      if (a.required.empty() || P(0.3)) {
        const int n = static_cast<int>(Int(1, 2));
        for (int i = 0; i < n; ++i) {
          model::WeightedPodAffinityTerm w;
          w.weight = static_cast<int32_t>(Int(1, 100));
          w.term = AffinityTerm();
          a.preferred.push_back(w);
        }
      }
      out = a;
      return out;
    };
    spec.affinity.pod_affinity = pod_affinity(0.08 * rules_, 0.08 * rules_);
    spec.affinity.pod_anti_affinity = pod_affinity(0.1 * rules_, 0.08 * rules_);

    // Topology spread.
    if (!deployment && P(0.2 * rules_)) {
      const int n = static_cast<int>(Int(1, 2));
      for (int i = 0; i < n; ++i) {
        model::TopologySpreadConstraint c;
        c.max_skew = static_cast<int32_t>(Int(1, 3));
        c.topology_key = PickS({kHostnameLabel, kZoneLabel, kZoneLabel, "rack"});
        c.when_unsatisfiable = P(0.5) ? "DoNotSchedule" : "ScheduleAnyway";
        c.label_selector = MaybeSelector(0.1, 0.1);
        if (P(0.2)) c.min_domains = static_cast<int32_t>(Int(1, 5));
        spec.topology_spread_constraints.push_back(c);
      }
    }
    if (deployment) {
      pod.meta.labels["app"] = app;
      model::LabelSelector owner;
      owner.match_labels["app"] = app;
      if (P(0.2)) owner.match_expressions.push_back({"tier", "DoesNotExist", {}});
      plan.owner = owner;
    }

    if (P(0.06)) {
      model::PodVolume v;
      v.name = "data";
      v.claim_name = "claim-" + std::to_string(Int(0, 5));
      spec.volumes.push_back(v);
    }
    return plan;
  }

  Profile MakeProfile(const std::string& name, bool scores) {
    Config defaults = DefaultConfig();
    Profile p = defaults.profiles[0];
    p.scheduler_name = name;
    if (P(0.05)) std::swap(p.filters[4], p.filters[5]);  // NodePorts after NodeResourcesFit
    if (P(0.05)) std::swap(p.filters[7], p.filters[8]);  // InterPodAffinity before spread
    if (!scores) {
      p.scores.clear();
    } else {
      for (auto& [plugin, weight] : p.scores) {
        if (P(0.3)) weight = static_cast<int>(Int(1, 5));
      }
      if (P(0.2)) p.scores.erase(p.scores.begin() + static_cast<long>(r_.Uniform(p.scores.size())));
    }
    switch (r_.Uniform(3)) {
      case 0:
        p.fit_strategy = ScoringStrategy::kLeastAllocated;
        break;
      case 1:
        p.fit_strategy = ScoringStrategy::kMostAllocated;
        break;
      default: {
        p.fit_strategy = ScoringStrategy::kRequestedToCapacityRatio;
        p.shape.clear();
        int32_t u = static_cast<int32_t>(Int(0, 30));
        const int points = static_cast<int>(Int(1, 3));
        for (int i = 0; i < points; ++i) {
          p.shape.push_back({u, static_cast<int32_t>(Int(0, 10))});
          u += static_cast<int32_t>(Int(10, 50));
        }
        break;
      }
    }
    if (P(0.3)) p.fit_resources.push_back({kGpu, Int(1, 5)});
    if (P(0.2)) p.fit_resources.push_back({"ephemeral-storage", Int(1, 3)});
    if (P(0.3)) p.fit_resources[0].weight = Int(1, 5);
    if (P(0.3)) p.balanced_resources.push_back({kGpu, 1});
    if (P(0.15)) p.balanced_resources.push_back({"ephemeral-storage", 1});
    if (P(0.2)) p.hard_pod_affinity_weight = static_cast<int32_t>(Int(0, 10));
    p.ignore_preferred_terms_of_existing_pods = P(0.2);
    if (P(0.25)) {
      p.system_default_constraints = false;
      const int n = static_cast<int>(Int(0, 2));
      for (int i = 0; i < n; ++i) {
        model::TopologySpreadConstraint c;
        c.max_skew = static_cast<int32_t>(Int(1, 4));
        c.topology_key = PickS({kHostnameLabel, kZoneLabel, "rack"});
        c.when_unsatisfiable = P(0.7) ? "ScheduleAnyway" : "DoNotSchedule";
        if (P(0.2)) c.min_domains = static_cast<int32_t>(Int(1, 3));
        p.default_constraints.push_back(c);
      }
    }
    p.preemption = P(0.9);
    if (P(0.3)) {
      p.min_candidate_nodes_percentage = static_cast<int32_t>(Int(0, 50));
      // An absolute of 0 can make the target 0 candidates: the dry run still
      // looks for a first one.
      const int64_t lowest = p.min_candidate_nodes_percentage ? 0 : 1;
      p.min_candidate_nodes_absolute = static_cast<int32_t>(Int(lowest, 3));
    }
    return p;
  }

  Config MakeConfig() {
    Config c;
    c.profiles.clear();
    c.profiles.push_back(MakeProfile("default-scheduler", true));
    if (P(0.5)) c.profiles.push_back(MakeProfile("packer", true));
    if (P(0.4)) c.profiles.push_back(MakeProfile("first-fit", false));
    const uint64_t pct = r_.Uniform(4);
    c.percentage_of_nodes_to_score = pct == 0 ? 0 : pct == 1 ? 100 : static_cast<int32_t>(Int(1, 30));
    return c;
  }

 private:
  Random r_;
  int num_nodes_ = 0;
  bool crowded_ = false;  // small nodes, more priorities: preemption
  double rules_ = 1;      // how often pods have affinity or spread rules
  int node_seq_ = 0, pod_seq_ = 0;
  std::vector<std::string> zones_, namespaces_, apps_;
};

// ---- the cluster as the test sees it (for the properties) -----------------

struct Tracker {
  std::map<std::string, model::Node> nodes;
  std::map<std::string, model::Pod> pods;         // by key; spec.node_name set when bound
  std::map<std::string, model::Labels> ns_labels;

  model::Labels NsLabels(const std::string& ns) const {
    auto it = ns_labels.find(ns);
    if (it != ns_labels.end()) return it->second;
    return {{kNamespaceNameLabel, ns}};
  }

  // Checks that binding `key` to `node_name` respects the hard rules.
  std::string CheckBind(const std::string& key, const std::string& node_name) const {
    auto pit = pods.find(key);
    auto nit = nodes.find(node_name);
    if (pit == pods.end()) return "bound pod " + key + " is unknown";
    if (nit == nodes.end()) return "bound to unknown node " + node_name;
    const model::Pod& pod = pit->second;
    const model::Node& node = nit->second;
    if (!pod.spec.node_name.empty()) return "pod " + key + " was already bound";

    std::map<std::string, int64_t> used;
    int64_t count = 0;
    std::set<std::pair<std::string, int32_t>> ports;
    std::vector<const model::Pod*> everywhere;  // bound pods on existing nodes
    for (const auto& [k, q] : pods) {
      if (q.spec.node_name.empty() || !nodes.count(q.spec.node_name)) continue;
      everywhere.push_back(&q);
      if (q.spec.node_name != node_name) continue;
      ++count;
      for (const auto& [res, amount] : PodRequests(q.spec)) used[res] += amount;
      for (const auto& c : q.spec.containers) {
        for (const auto& p : c.ports) {
          if (p.host_port && *p.host_port > 0) ports.emplace(p.protocol, *p.host_port);
        }
      }
    }
    const auto alloc = NodeAllocatable(node);
    if (count + 1 > alloc.at("pods")) return "too many pods on " + node_name;
    for (const auto& [res, amount] : PodRequests(pod.spec)) {
      if (amount <= 0) continue;
      const int64_t have = alloc.count(res) ? alloc.at(res) : 0;
      const int64_t already = used.count(res) ? used.at(res) : 0;
      if (already + amount > have) {
        return "overcommits " + res + " on " + node_name + ": " + std::to_string(already) + " + " +
               std::to_string(amount) + " > " + std::to_string(have);
      }
    }
    for (const auto& c : pod.spec.containers) {
      for (const auto& p : c.ports) {
        if (p.host_port && *p.host_port > 0 && ports.count({p.protocol, *p.host_port})) {
          return "host port " + std::to_string(*p.host_port) + " already used on " + node_name;
        }
      }
    }
    for (const auto& t : node.taints) {
      if ((t.effect == "NoSchedule" || t.effect == "NoExecute") &&
          !TolerationsTolerate(pod.spec.tolerations, t)) {
        return "untolerated taint " + t.key + " on " + node_name;
      }
    }
    if (node.unschedulable &&
        !TolerationsTolerate(pod.spec.tolerations, {kUnschedulableTaintKey, "", "NoSchedule"})) {
      return node_name + " is unschedulable";
    }
    if (!RequiredNodeAffinityMatches(pod.spec, node)) return "node affinity fails on " + node_name;

    // Required anti-affinity, the pod's own and the bound pods'.
    const std::string& ns = pod.meta.namespace_;
    const auto value_of = [&](const model::Pod& q, const std::string& key_name) -> const std::string* {
      const auto& labels = nodes.at(q.spec.node_name).meta.labels;
      auto it = labels.find(key_name);
      return it == labels.end() ? nullptr : &it->second;
    };
    if (pod.spec.affinity.pod_anti_affinity) {
      for (const auto& raw : pod.spec.affinity.pod_anti_affinity->required) {
        const AffinityTerm t = MakeAffinityTerm(raw, ns);
        auto mine = node.meta.labels.find(t.topology_key);
        if (mine == node.meta.labels.end()) continue;
        for (const model::Pod* e : everywhere) {
          const std::string* v = value_of(*e, t.topology_key);
          if (v && *v == mine->second &&
              AffinityTermMatches(t, e->meta.namespace_, e->meta.labels, NsLabels(e->meta.namespace_))) {
            return "anti-affinity of " + key + " broken by " + e->meta.namespace_ + "/" + e->meta.name;
          }
        }
      }
    }
    for (const model::Pod* e : everywhere) {
      if (!e->spec.affinity.pod_anti_affinity) continue;
      for (const auto& raw : e->spec.affinity.pod_anti_affinity->required) {
        const AffinityTerm t = MakeAffinityTerm(raw, e->meta.namespace_);
        const std::string* v = value_of(*e, t.topology_key);
        auto mine = node.meta.labels.find(t.topology_key);
        if (v && mine != node.meta.labels.end() && *v == mine->second &&
            AffinityTermMatches(t, ns, pod.meta.labels, NsLabels(ns))) {
          return "anti-affinity of " + e->meta.namespace_ + "/" + e->meta.name + " broken by " + key;
        }
      }
    }
    return "";
  }
};

// ---- one seed ----------------------------------------------------------------

struct SeedResult {
  std::string failure;  // empty: identical all the way
  size_t steps = 0, bound = 0, nominated = 0, unschedulable = 0;
};

SeedResult RunSeed(uint64_t seed, bool trace) {
  SeedResult result;
  Gen g(seed);
  g.Shape(seed % 25 == 7);  // a few big clusters, where node sampling kicks in
  const Config config = g.MakeConfig();
  std::vector<std::string> profile_names;
  for (const Profile& p : config.profiles) profile_names.push_back(p.scheduler_name);
  profile_names.push_back("someone-else");  // a pod no profile schedules

  FakeVolumes volumes;
  Scheduler fast(config, &volumes, Random(seed));
  ReferenceScheduler ref(config, &volumes, Random(seed));
  Tracker tracker;
  Time now = Time{} + 1h;
  std::ostringstream log;
  const auto note = [&](const std::string& what) {
    if (trace) std::cerr << "[seed " << seed << "] " << what << "\n";
    log << what << "\n";
  };
  const auto fail = [&](const std::string& what) {
    std::ostringstream out;
    out << "seed " << seed << ", step " << result.steps << ": " << what
        << "\n  replay: EDGEBED_SEED=" << seed
        << " ./build/tests/sched/sched_test --gtest_filter='Differential.*'";
    result.failure = out.str();
  };
  const auto same_status = [&](const Status& a, const Status& b, const std::string& call) {
    if (a.code() != b.code()) {
      fail(call + ": Scheduler says " + a.ToString() + ", ReferenceScheduler says " + b.ToString());
      return false;
    }
    return true;
  };

  // Both schedulers, one call at a time.
  const auto add_pod = [&](const Gen::PodPlan& plan) {
    const model::LabelSelector* owner = plan.owner ? &*plan.owner : nullptr;
    const Status a = fast.AddPod(plan.pod, now, owner);
    const Status b = ref.AddPod(plan.pod, now, owner);
    const std::string key = plan.pod.meta.namespace_ + "/" + plan.pod.meta.name;
    note("add pod " + key + (plan.pod.spec.node_name.empty() ? "" : " on " + plan.pod.spec.node_name));
    if (!same_status(a, b, "AddPod " + key)) return false;
    if (a.ok()) tracker.pods[key] = plan.pod;
    return true;
  };
  std::vector<std::string> added_order;  // nodes present, oldest first
  const auto upsert_node = [&](const model::Node& n) {
    note("upsert node " + n.meta.name);
    if (!tracker.nodes.count(n.meta.name)) added_order.push_back(n.meta.name);
    fast.UpsertNode(n, now);
    ref.UpsertNode(n, now);
    tracker.nodes[n.meta.name] = n;
  };
  const auto remove_node = [&](const std::string& name) {
    note("remove node " + name);
    const Status a = fast.RemoveNode(name, now);
    const Status b = ref.RemoveNode(name, now);
    tracker.nodes.erase(name);
    added_order.erase(std::remove(added_order.begin(), added_order.end(), name), added_order.end());
    return same_status(a, b, "RemoveNode " + name);
  };
  const auto remove_pod = [&](const std::string& key) {
    note("remove pod " + key);
    const size_t slash = key.find('/');
    const Status a = fast.RemovePod(key.substr(0, slash), key.substr(slash + 1), now);
    const Status b = ref.RemovePod(key.substr(0, slash), key.substr(slash + 1), now);
    tracker.pods.erase(key);
    return same_status(a, b, "RemovePod " + key);
  };
  const auto upsert_namespace = [&](const model::Namespace& ns) {
    note("upsert namespace " + ns.meta.name);
    fast.UpsertNamespace(ns, now);
    ref.UpsertNamespace(ns, now);
    model::Labels labels = ns.meta.labels;
    labels[kNamespaceNameLabel] = ns.meta.name;
    tracker.ns_labels[ns.meta.name] = labels;
  };

  // The initial cluster.
  for (const auto& pc : g.PriorityClasses()) {
    fast.UpsertPriorityClass(pc);
    ref.UpsertPriorityClass(pc);
  }
  for (const std::string& ns : g.namespaces()) {
    if (ns != "ns-unlisted") upsert_namespace(g.MakeNamespace(ns));
  }
  std::vector<std::string> node_names;
  for (int i = 0; i < g.num_nodes(); ++i) {
    node_names.push_back(g.NewNodeName());
    upsert_node(g.MakeNode(node_names.back()));
  }
  // A node that appears later, with pods already bound to it.
  const std::string late = g.NewNodeName();
  const int num_bound = static_cast<int>(g.Int(0, g.num_nodes() * 2));
  for (int i = 0; i < num_bound; ++i) {
    const std::string on = g.P(0.03) ? late : g.Pick(node_names);
    if (!add_pod(g.MakePod(profile_names, on))) return result;
  }
  const int num_pending = static_cast<int>(g.Int(10, std::min(40 + g.num_nodes() * 2, 200)));
  for (int i = 0; i < num_pending; ++i) {
    if (!add_pod(g.MakePod(profile_names, ""))) return result;
  }

  // Schedule, with the cluster changing in between.
  const size_t max_steps = static_cast<size_t>(num_pending) * 3 + 50;
  int idle_jumps = 0;
  bool late_added = false;
  while (result.steps < max_steps) {
    // Events.
    if (g.P(0.12)) {
      switch (g.r().Uniform(9)) {
        case 0:
          if (!late_added && g.P(0.5)) {
            late_added = true;
            upsert_node(g.MakeNode(late));
          } else {
            node_names.push_back(g.NewNodeName());
            upsert_node(g.MakeNode(node_names.back()));
          }
          break;
        case 1:
          if (!added_order.empty()) {
            const size_t i = g.r().Uniform(added_order.size());
            const std::string name = added_order[i];
            if (!remove_node(name)) return result;
          }
          break;
        case 2:
        case 3:
          if (!tracker.nodes.empty()) {
            auto it = tracker.nodes.begin();
            std::advance(it, static_cast<long>(g.r().Uniform(tracker.nodes.size())));
            upsert_node(g.MutateNode(it->second));
          }
          break;
        case 4:
        case 5: {
          std::vector<std::string> bound;
          for (const auto& [key, pod] : tracker.pods) {
            if (!pod.spec.node_name.empty()) bound.push_back(key);
          }
          if (!bound.empty() && !remove_pod(g.Pick(bound))) return result;
          break;
        }
        case 6: {
          std::vector<std::string> pending;
          for (const auto& [key, pod] : tracker.pods) {
            if (pod.spec.node_name.empty()) pending.push_back(key);
          }
          if (!pending.empty() && !remove_pod(g.Pick(pending))) return result;
          break;
        }
        case 7:
          if (!add_pod(g.MakePod(profile_names, g.P(0.3) && !node_names.empty() ? g.Pick(node_names) : "")))
            return result;
          break;
        default:
          if (g.P(0.5)) {
            upsert_namespace(g.MakeNamespace(g.Pick(g.namespaces())));
          } else {
            note("volumes changed");
            fast.VolumesChanged(now);
            ref.VolumesChanged(now);
          }
          break;
      }
    }

    const std::optional<Decision> a = fast.ScheduleOne(now);
    const std::optional<Decision> b = ref.ScheduleOne(now);
    ++result.steps;
    // The hard rules, judged for each scheduler's decision on its own.
    const auto broken = [&](const std::optional<Decision>& d) -> std::string {
      if (!d || d->outcome != Decision::kBound) return "";
      const std::string why = tracker.CheckBind(d->pod, d->node);
      return why.empty() ? "" : " -- BREAKS A HARD RULE: " + why;
    };
    if (!SameDecision(a, b)) {
      fail("decisions differ\n  Scheduler:          " + Describe(a) + broken(a) +
           "\n  ReferenceScheduler: " + Describe(b) + broken(b) + "\n  cluster: " +
           std::to_string(tracker.nodes.size()) + " nodes, " + std::to_string(tracker.pods.size()) +
           " pods; profiles " + std::to_string(config.profiles.size()) +
           ", percentage_of_nodes_to_score " + std::to_string(config.percentage_of_nodes_to_score));
      return result;
    }
    if (!a) {
      const auto next_a = fast.NextBackoffExpiry();
      const auto next_b = ref.NextBackoffExpiry();
      if (next_a != next_b) {
        fail("NextBackoffExpiry differs");
        return result;
      }
      if (next_a) {
        now = std::max(now, *next_a);
      } else if (fast.pending() > 0 && idle_jumps < 2) {
        ++idle_jumps;  // only max_in_unschedulable can help: wait it out
        now += config.max_in_unschedulable + 1s;
        note("idle: jump past max_in_unschedulable");
      } else {
        break;
      }
      continue;
    }
    note("decision " + Describe(a));
    now += std::chrono::milliseconds(g.Int(0, 1500));
    switch (a->outcome) {
      case Decision::kBound: {
        ++result.bound;
        if (const std::string why = broken(a); !why.empty()) {
          fail("both schedulers: " + Describe(a) + why);
          return result;
        }
        tracker.pods[a->pod].spec.node_name = a->node;
        const size_t slash = a->pod.find('/');
        const std::string ns = a->pod.substr(0, slash), name = a->pod.substr(slash + 1);
        if (fast.NodeOf(ns, name) != a->node || ref.NodeOf(ns, name) != a->node) {
          fail("NodeOf disagrees with the decision " + Describe(a));
          return result;
        }
        break;
      }
      case Decision::kNominated:
        ++result.nominated;
        for (const std::string& victim : a->victims) {
          if (!remove_pod(victim)) return result;
        }
        break;
      case Decision::kUnschedulable:
        ++result.unschedulable;
        break;
    }
    if (fast.pending() != ref.pending() || fast.node_count() != ref.node_count()) {
      fail("pending()/node_count() differ: " + std::to_string(fast.pending()) + "/" +
           std::to_string(fast.node_count()) + " vs " + std::to_string(ref.pending()) + "/" +
           std::to_string(ref.node_count()));
      return result;
    }
  }
  return result;
}

uint64_t EnvNumber(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  return std::strtoull(v, nullptr, 10);
}

TEST(Differential, SchedulerMatchesReferenceOnRandomClusters) {
  std::vector<uint64_t> seeds;
  const bool single = std::getenv("EDGEBED_SEED") && *std::getenv("EDGEBED_SEED");
  if (single) {
    seeds.push_back(EnvNumber("EDGEBED_SEED", 1));
  } else {
    const uint64_t count = EnvNumber("EDGEBED_SEEDS", kDefaultSeeds);
    for (uint64_t s = 1; s <= count; ++s) seeds.push_back(s);
  }
  size_t steps = 0, bound = 0, nominated = 0, unschedulable = 0, failures = 0;
  for (uint64_t seed : seeds) {
    const SeedResult r = RunSeed(seed, single);
    steps += r.steps;
    bound += r.bound;
    nominated += r.nominated;
    unschedulable += r.unschedulable;
    if (!r.failure.empty()) {
      ++failures;
      ADD_FAILURE() << r.failure;
    }
  }
  std::cout << seeds.size() << " seeds, " << steps << " steps: " << bound << " bound, " << nominated
            << " nominated, " << unschedulable << " unschedulable; " << failures << " seeds differ\n";
  // The generator must reach every outcome, or the comparison says little.
  if (!single) {
    EXPECT_GT(bound, 0u);
    EXPECT_GT(nominated, 0u);
    EXPECT_GT(unschedulable, 0u);
  }
}

}  // namespace
}  // namespace edgebed::sched
