// The scheduler plugins, case by case against upstream kube-scheduler's
// plugin tests (pkg/scheduler/framework/plugins/*/..._test.go): each table
// row is one upstream case (or one derived from upstream's rules, said so),
// with upstream's numbers and reason strings. A row that edgebed answers
// differently would be a bug in edgebed.
//
// Units: cpu in millicores ("4000m"), everything else in whole units; the
// upstream tests' plain numbers ("10000" memory) are bytes here too, so the
// ratios are upstream's.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "core/model/objects.h"
#include "core/model/quantity.h"
#include "core/sched/cluster_state.h"
#include "core/sched/config.h"
#include "core/sched/framework.h"
#include "core/sched/predicates.h"
#include "core/sched/queue.h"

namespace edgebed::sched {
namespace {

// ---------------------------------------------------------------------------
// Builders, in the manner of upstream's st.MakePod() / st.MakeNode().

using ResMap = std::map<std::string, std::string>;  // resource -> quantity text

model::ResourceList Resources(const ResMap& r) {
  model::ResourceList out;
  for (const auto& [name, text] : r) out[name] = model::Quantity::Parse(text).value();
  return out;
}

class MakeNode {
 public:
  explicit MakeNode(std::string name) { node_.meta.name = std::move(name); }
  MakeNode& Label(const std::string& k, const std::string& v) {
    node_.meta.labels[k] = v;
    return *this;
  }
  MakeNode& Labels(const model::Labels& labels) {
    for (const auto& [k, v] : labels) node_.meta.labels[k] = v;
    return *this;
  }
  // Capacity and allocatable, as st.MakeNode().Capacity().
  MakeNode& Capacity(const ResMap& r) {
    node_.capacity = Resources(r);
    node_.allocatable = node_.capacity;
    return *this;
  }
  MakeNode& Taint(const std::string& key, const std::string& value, const std::string& effect) {
    node_.taints.push_back({key, value, effect});
    return *this;
  }
  MakeNode& Unschedulable() {
    node_.unschedulable = true;
    return *this;
  }
  operator model::Node() const { return node_; }  // NOLINT: builder

 private:
  model::Node node_;
};

class MakePod {
 public:
  explicit MakePod(std::string ns = "default") { pod_.meta.namespace_ = std::move(ns); }
  MakePod& Name(const std::string& n) {
    pod_.meta.name = n;
    return *this;
  }
  MakePod& Label(const std::string& k, const std::string& v) {
    pod_.meta.labels[k] = v;
    return *this;
  }
  // Appends one container with these requests (st.MakePod().Req()).
  MakePod& Req(const ResMap& r) {
    model::Container c;
    c.name = "c" + std::to_string(pod_.spec.containers.size());
    c.requests = Resources(r);
    pod_.spec.containers.push_back(std::move(c));
    return *this;
  }
  // Appends one container that requests nothing.
  MakePod& Container() { return Req({}); }
  MakePod& Init(const ResMap& r) {
    model::Container c;
    c.name = "init" + std::to_string(pod_.spec.init_containers.size());
    c.requests = Resources(r);
    pod_.spec.init_containers.push_back(std::move(c));
    return *this;
  }
  MakePod& HostPort(int32_t port, const std::string& protocol = "TCP") {
    if (pod_.spec.containers.empty()) Container();
    model::ContainerPort p;
    p.container_port = port;
    p.protocol = protocol;
    p.host_port = port;
    pod_.spec.containers.back().ports.push_back(p);
    return *this;
  }
  MakePod& ContainerPort(int32_t port) {
    if (pod_.spec.containers.empty()) Container();
    model::ContainerPort p;
    p.container_port = port;
    pod_.spec.containers.back().ports.push_back(p);
    return *this;
  }
  MakePod& Toleration(const std::string& key, const std::string& op, const std::string& value,
                      const std::string& effect) {
    model::Toleration t;
    t.key = key;
    t.op = op;
    t.value = value;
    t.effect = effect;
    pod_.spec.tolerations.push_back(t);
    return *this;
  }
  MakePod& NodeName(const std::string& n) {
    pod_.spec.node_name = n;
    return *this;
  }
  MakePod& NodeSelector(const model::Labels& s) {
    pod_.spec.node_selector = s;
    return *this;
  }
  MakePod& RequiredNodeTerm(const model::NodeSelectorTerm& t) {
    NodeAff().required.push_back(t);
    return *this;
  }
  MakePod& PreferredNodeTerm(int32_t weight, const model::NodeSelectorTerm& t) {
    NodeAff().preferred.push_back({weight, t});
    return *this;
  }
  MakePod& PodAffinity(const model::PodAffinityTerm& t) {
    Aff(pod_.spec.affinity.pod_affinity).required.push_back(t);
    return *this;
  }
  MakePod& PodAntiAffinity(const model::PodAffinityTerm& t) {
    Aff(pod_.spec.affinity.pod_anti_affinity).required.push_back(t);
    return *this;
  }
  MakePod& PreferredPodAffinity(int32_t w, const model::PodAffinityTerm& t) {
    Aff(pod_.spec.affinity.pod_affinity).preferred.push_back({w, t});
    return *this;
  }
  MakePod& PreferredPodAntiAffinity(int32_t w, const model::PodAffinityTerm& t) {
    Aff(pod_.spec.affinity.pod_anti_affinity).preferred.push_back({w, t});
    return *this;
  }
  MakePod& Spread(int32_t max_skew, const std::string& key, const std::string& when,
                  std::optional<model::LabelSelector> selector,
                  std::optional<int32_t> min_domains = std::nullopt) {
    model::TopologySpreadConstraint c;
    c.max_skew = max_skew;
    c.topology_key = key;
    c.when_unsatisfiable = when;
    c.label_selector = std::move(selector);
    c.min_domains = min_domains;
    pod_.spec.topology_spread_constraints.push_back(std::move(c));
    return *this;
  }
  operator model::Pod() const { return pod_; }  // NOLINT: builder

 private:
  model::NodeAffinity& NodeAff() {
    auto& na = pod_.spec.affinity.node_affinity;
    if (!na) na.emplace();
    return *na;
  }
  static model::PodAffinity& Aff(std::optional<model::PodAffinity>& a) {
    if (!a) a.emplace();
    return *a;
  }
  model::Pod pod_;
};

model::NodeSelectorRequirement NReq(const std::string& key, const std::string& op,
                                    std::vector<std::string> values = {}) {
  return {key, op, std::move(values)};
}
model::NodeSelectorTerm NTerm(std::vector<model::NodeSelectorRequirement> exprs,
                              std::vector<model::NodeSelectorRequirement> fields = {}) {
  return {std::move(exprs), std::move(fields)};
}

model::LabelSelectorRequirement LReq(const std::string& key, const std::string& op,
                                     std::vector<std::string> values = {}) {
  return {key, op, std::move(values)};
}
model::LabelSelector Sel(model::Labels match_labels,
                         std::vector<model::LabelSelectorRequirement> exprs = {}) {
  model::LabelSelector s;
  s.match_labels = std::move(match_labels);
  s.match_expressions = std::move(exprs);
  return s;
}
model::LabelSelector SelExpr(std::vector<model::LabelSelectorRequirement> exprs) {
  return Sel({}, std::move(exprs));
}

model::PodAffinityTerm PTerm(std::optional<model::LabelSelector> selector, const std::string& key,
                             std::vector<std::string> namespaces = {},
                             std::optional<model::LabelSelector> ns_selector = std::nullopt) {
  model::PodAffinityTerm t;
  t.label_selector = std::move(selector);
  t.topology_key = key;
  t.namespaces = std::move(namespaces);
  t.namespace_selector = std::move(ns_selector);
  return t;
}

model::Namespace MakeNamespace(const std::string& name, const model::Labels& labels = {}) {
  model::Namespace ns;
  ns.meta.name = name;
  ns.meta.labels = labels;
  return ns;
}

// ---------------------------------------------------------------------------
// The harness: one cluster, one plugin, one incoming pod.

struct Existing {
  std::string node;
  model::Pod pod;
};

// What Filter said about one node.
struct Outcome {
  std::vector<std::string> reasons;  // empty: the node passes
  bool unresolvable = false;
  friend bool operator==(const Outcome& a, const Outcome& b) {
    return a.reasons == b.reasons && (a.reasons.empty() || a.unresolvable == b.unresolvable);
  }
};
void PrintTo(const Outcome& o, std::ostream* os) {
  if (o.reasons.empty()) {
    *os << "fits";
    return;
  }
  *os << (o.unresolvable ? "unresolvable{" : "unschedulable{");
  for (size_t i = 0; i < o.reasons.size(); ++i) *os << (i ? "; " : "") << o.reasons[i];
  *os << "}";
}
Outcome Fits() { return {}; }
using Reasons = std::vector<std::string>;
Outcome Unschedulable(Reasons reasons) { return {std::move(reasons), false}; }
Outcome Unschedulable(const std::string& reason) { return {{reason}, false}; }
Outcome Unresolvable(Reasons reasons) { return {std::move(reasons), true}; }
Outcome Unresolvable(const std::string& reason) { return {{reason}, true}; }

class World {
 public:
  World(const std::vector<model::Node>& nodes, const std::vector<Existing>& existing,
        Profile profile = Profile{}, const std::vector<model::Namespace>& namespaces = {})
      : profile_(std::move(profile)) {
    for (const auto& ns : namespaces) cluster_.UpsertNamespace(ns);
    for (const auto& n : nodes) {
      cluster_.UpsertNode(n);
      names_.push_back(n.meta.name);
    }
    int i = 0;
    for (const auto& e : existing) {
      auto p = std::make_unique<PodState>();
      p->pod = e.pod;
      if (p->pod.meta.name.empty()) p->pod.meta.name = "existing-" + std::to_string(i);
      ++i;
      p->key = p->pod.meta.namespace_ + "/" + p->pod.meta.name;
      cluster_.Prepare(p.get(), nullptr);
      PodState* raw = cluster_.InsertPod(std::move(p));
      cluster_.Bind(raw, e.node, Time{});
    }
  }
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  // PreFilter, then Filter on every node in case order.
  std::vector<Outcome> Filter(const std::string& plugin, const model::Pod& pod,
                              const model::LabelSelector* owner = nullptr) {
    std::unique_ptr<Plugin> p = Make(plugin);
    CycleState s;
    s.pod = Incoming(pod, owner);
    const bool run = p->PreFilter(s);
    std::vector<Outcome> out;
    for (const auto& name : names_) {
      NodeStatus st;
      Outcome o;
      if (run && !p->Filter(s, *cluster_.FindNode(name), &st)) {
        o.reasons.assign(st.begin(), st.end());
        o.unresolvable = st.unresolvable;
        if (o.reasons.empty()) o.reasons.push_back("<rejected without a reason>");
      }
      out.push_back(std::move(o));
    }
    return out;
  }

  // PreScore over the feasible nodes (all, in case order, unless named),
  // Score each, NormalizeScore; all 0 when PreScore skips.
  std::vector<int64_t> Score(const std::string& plugin, const model::Pod& pod,
                             const std::vector<std::string>& feasible_names = {},
                             const model::LabelSelector* owner = nullptr) {
    std::unique_ptr<Plugin> p = Make(plugin);
    CycleState s;
    s.pod = Incoming(pod, owner);
    std::vector<NodeState*> feasible;
    for (const auto& name : feasible_names.empty() ? names_ : feasible_names) {
      NodeState* n = cluster_.FindNode(name);
      EXPECT_NE(n, nullptr) << name;
      feasible.push_back(n);
    }
    std::vector<int64_t> scores(feasible.size(), 0);
    if (!p->PreScore(s, feasible)) return scores;
    for (size_t i = 0; i < feasible.size(); ++i) scores[i] = p->Score(s, *feasible[i]);
    p->NormalizeScore(s, feasible, scores);
    return scores;
  }

 private:
  std::unique_ptr<Plugin> Make(const std::string& plugin) {
    std::unique_ptr<Plugin> p = NewPlugin(plugin, PluginContext{&cluster_, &profile_, nullptr});
    EXPECT_NE(p, nullptr) << plugin;
    return p;
  }
  PodState* Incoming(const model::Pod& pod, const model::LabelSelector* owner) {
    auto p = std::make_unique<PodState>();
    p->pod = pod;
    if (p->pod.meta.name.empty()) p->pod.meta.name = "incoming";
    p->key = p->pod.meta.namespace_ + "/" + p->pod.meta.name;
    p->profile = &profile_;
    cluster_.Prepare(p.get(), owner);
    return cluster_.InsertPod(std::move(p));
  }

  Profile profile_;
  ClusterState cluster_;
  std::vector<std::string> names_;
};

// ---------------------------------------------------------------------------
// NodeResourcesFit: scoring (least_allocated_test.go, most_allocated_test.go,
// requested_to_capacity_ratio_test.go, fit_test.go TestFitScore).

struct FitScoreCase {
  const char* name;
  ScoringStrategy strategy;
  std::vector<model::ResourceWeight> resources;
  std::vector<model::UtilizationShapePoint> shape;  // empty: the profile default
  model::Pod pod;
  std::vector<model::Node> nodes;
  std::vector<Existing> existing;
  std::vector<int64_t> want;
};

const std::vector<model::ResourceWeight> kCpuMem = {{"cpu", 1}, {"memory", 1}};

void RunFitScoreCases(const std::vector<FitScoreCase>& cases) {
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Profile profile;
    profile.fit_strategy = c.strategy;
    profile.fit_resources = c.resources;
    if (!c.shape.empty()) profile.shape = c.shape;
    World w(c.nodes, c.existing, profile);
    EXPECT_EQ(w.Score("NodeResourcesFit", c.pod), c.want);
  }
}

model::Pod CpuAndMemoryPod() {
  return MakePod().Req({{"cpu", "1000m"}, {"memory", "2000"}}).Req({{"cpu", "2000m"}, {"memory", "3000"}});
}
model::Node CpuMemNode(const std::string& name, const std::string& cpu, const std::string& mem) {
  return MakeNode(name).Capacity({{"cpu", cpu}, {"memory", mem}});
}

TEST(NodeResourcesFit, LeastAllocatedUpstreamCases) {
  const auto L = ScoringStrategy::kLeastAllocated;
  const model::Pod cpu3000 = MakePod().Req({{"cpu", "3000m"}, {"memory", "0"}});
  const model::Pod cpu3000_mem0 = cpu3000;
  RunFitScoreCases({
      {"a: nothing scheduled, resources requested, differently sized nodes", L, kCpuMem, {},
       CpuAndMemoryPod(), {CpuMemNode("node1", "4000m", "10000"), CpuMemNode("node2", "6000m", "10000")},
       {}, {37, 50}},
      {"b: nothing scheduled, nothing requested", L, kCpuMem, {}, MakePod(),
       {CpuMemNode("node1", "4000m", "10000"), CpuMemNode("node2", "4000m", "10000")}, {}, {100, 100}},
      {"c: no resources requested, pods scheduled with resources", L, kCpuMem, {}, MakePod(),
       {CpuMemNode("node1", "10000m", "20000"), CpuMemNode("node2", "10000m", "20000")},
       {{"node1", cpu3000_mem0}, {"node1", cpu3000_mem0}, {"node2", cpu3000_mem0},
        {"node2", MakePod().Req({{"cpu", "3000m"}, {"memory", "5000"}})}},
       {70, 57}},
      {"d: resources requested, pods scheduled with resources, differently sized nodes", L, kCpuMem, {},
       CpuAndMemoryPod(), {CpuMemNode("node1", "10000m", "20000"), CpuMemNode("node2", "10000m", "50000")},
       {{"node1", cpu3000_mem0}, {"node2", MakePod().Req({{"cpu", "3000m"}, {"memory", "5000"}})}},
       {57, 60}},
      {"e: requested resources exceed node capacity", L, kCpuMem, {}, cpu3000,
       {CpuMemNode("node1", "4000m", "10000"), CpuMemNode("node2", "4000m", "10000")},
       {{"node1", cpu3000_mem0}, {"node2", MakePod().Req({{"cpu", "3000m"}, {"memory", "5000"}})}},
       {50, 25}},
      {"f: zero node resources", L, kCpuMem, {}, MakePod(), {MakeNode("node1"), MakeNode("node2")}, {},
       {0, 0}},
      {"g: resources with weights memory 2 cpu 1", L, {{"memory", 2}, {"cpu", 1}}, {}, CpuAndMemoryPod(),
       {CpuMemNode("node1", "4000m", "10000"), CpuMemNode("node2", "6000m", "10000")}, {}, {41, 50}},
      {"h: if the node doesn't have a resource (pod does not request it)", L,
       {{"intel.com/foo", 2}, {"cpu", 1}, {"memory", 1}}, {},
       MakePod().Req({{"cpu", "3000m"}, {"memory", "4000"}}),
       {CpuMemNode("node1", "6000m", "10000"),
        MakeNode("node2").Capacity({{"cpu", "6000m"}, {"memory", "10000"}, {"intel.com/foo", "4"}})},
       {}, {55, 55}},
      {"i: honor extended resource", L, {{"cpu", 1}, {"memory", 1}, {"intel.com/foo", 1}}, {},
       MakePod().Req({{"cpu", "3000m"}, {"memory", "5000"}, {"intel.com/foo", "2"}}),
       {MakeNode("node1").Capacity({{"cpu", "6000m"}, {"memory", "10000"}, {"intel.com/foo", "4"}}),
        MakeNode("node2").Capacity({{"cpu", "6000m"}, {"memory", "10000"}, {"intel.com/foo", "10"}})},
       {}, {50, 60}},
  });
}

TEST(NodeResourcesFit, MostAllocatedUpstreamCases) {
  const auto M = ScoringStrategy::kMostAllocated;
  const model::Pod cpu3000_mem0 = MakePod().Req({{"cpu", "3000m"}, {"memory", "0"}});
  RunFitScoreCases({
      {"a: nothing scheduled, resources requested, differently sized nodes", M, kCpuMem, {},
       CpuAndMemoryPod(), {CpuMemNode("node1", "4000m", "10000"), CpuMemNode("node2", "6000m", "10000")},
       {}, {62, 50}},
      {"b: no resources requested, pods scheduled with resources", M, kCpuMem, {}, MakePod(),
       {CpuMemNode("node1", "10000m", "20000"), CpuMemNode("node2", "10000m", "20000")},
       {{"node1", cpu3000_mem0}, {"node1", cpu3000_mem0}, {"node2", cpu3000_mem0},
        {"node2", MakePod().Req({{"cpu", "3000m"}, {"memory", "5000"}})}},
       {30, 42}},
      {"c: resources requested equal node capacity", M, kCpuMem, {},
       MakePod().Req({{"cpu", "2000m"}, {"memory", "4000"}}).Req({{"cpu", "3000m"}, {"memory", "5000"}}),
       {CpuMemNode("node1", "5000m", "10000"), CpuMemNode("node2", "10000m", "9000")}, {}, {95, 75}},
      {"d: resources with weights memory 2 cpu 1", M, {{"memory", 2}, {"cpu", 1}}, {}, CpuAndMemoryPod(),
       {CpuMemNode("node1", "4000m", "10000"), CpuMemNode("node2", "6000m", "10000")}, {}, {58, 50}},
      {"e: nonzero request for resource (100m / 200Mi defaults)", M, kCpuMem, {}, MakePod().Container(),
       {CpuMemNode("node1", "250m", "1000Mi"), CpuMemNode("node2", "250m", "1000Mi")},
       {{"node1", MakePod().Container()}, {"node1", MakePod().Container()}}, {80, 30}},
      {"f: nothing scheduled, nothing requested", M, kCpuMem, {}, MakePod(),
       {CpuMemNode("node1", "4000m", "10000"), CpuMemNode("node2", "6000m", "10000")}, {}, {0, 0}},
  });
}

TEST(NodeResourcesFit, TestFitScoreUpstreamCases) {
  const std::vector<model::Node> nodes = {CpuMemNode("node1", "4000m", "10000"),
                                          CpuMemNode("node2", "6000m", "10000")};
  const std::vector<Existing> existing = {
      {"node1", MakePod().Req({{"cpu", "2000m"}, {"memory", "4000"}})},
      {"node2", MakePod().Req({{"cpu", "1000m"}, {"memory", "2000"}})}};
  const model::Pod big = MakePod().Req({{"cpu", "3000m"}, {"memory", "5000"}});
  const model::Pod small = MakePod().Req({{"cpu", "1000m"}, {"memory", "2000"}});
  RunFitScoreCases({
      {"RequestedToCapacityRatio shape (0,0),(100,10)", ScoringStrategy::kRequestedToCapacityRatio, kCpuMem,
       {{0, 0}, {100, 10}}, big, nodes, existing, {95, 68}},
      {"RequestedToCapacityRatio shape (0,10),(100,0): a 0 resource score drops out",
       ScoringStrategy::kRequestedToCapacityRatio, kCpuMem, {{0, 10}, {100, 0}}, big, nodes, existing,
       {10, 32}},
      {"MostAllocated", ScoringStrategy::kMostAllocated, kCpuMem, {}, small, nodes, existing, {67, 36}},
      {"LeastAllocated", ScoringStrategy::kLeastAllocated, kCpuMem, {}, small, nodes, existing, {32, 63}},
  });
}

TEST(NodeResourcesFit, RequestedToCapacityRatioUpstreamCases) {
  const auto R = ScoringStrategy::kRequestedToCapacityRatio;
  const std::vector<model::UtilizationShapePoint> down = {{0, 10}, {100, 0}};
  const std::vector<model::UtilizationShapePoint> up = {{0, 0}, {100, 1}};
  const std::vector<model::ResourceWeight> foo = {{"intel.com/foo", 1}};
  const model::Node foo8 = MakeNode("node1").Capacity({{"cpu", "4000m"}, {"memory", "10000"}, {"intel.com/foo", "8"}});
  const model::Node foo4 = MakeNode("node2").Capacity({{"cpu", "4000m"}, {"memory", "10000"}, {"intel.com/foo", "4"}});
  RunFitScoreCases({
      {"nothing scheduled, resources requested, differently sized nodes", R, kCpuMem, down, CpuAndMemoryPod(),
       {CpuMemNode("node1", "4000m", "10000"), CpuMemNode("node2", "6000m", "10000")},
       {{"node1", MakePod()}, {"node1", MakePod()}}, {38, 50}},
      {"nothing scheduled, nothing requested", R, kCpuMem, down, MakePod(),
       {CpuMemNode("node1", "4000m", "10000"), CpuMemNode("node2", "4000m", "10000")},
       {{"node1", MakePod()}, {"node1", MakePod()}}, {100, 100}},
      {"bin packing extended resource: pod requests foo 2", R, foo, up,
       MakePod().Req({{"intel.com/foo", "2"}}), {foo8, foo4}, {}, {2, 5}},
      {"bin packing extended resource: node2 already holds foo 2", R, foo, up,
       MakePod().Req({{"intel.com/foo", "2"}}), {foo8, foo4},
       {{"node2", MakePod().Req({{"intel.com/foo", "2"}})}}, {2, 10}},
      {"bin packing extended resource: pod requests foo 4", R, foo, up,
       MakePod().Req({{"intel.com/foo", "4"}}), {foo8, foo4}, {}, {5, 10}},
      {"bin packing extended resource: pod requests nothing", R, foo, up, MakePod().Container(), {foo8, foo4},
       {}, {0, 0}},
  });
}

// TestBrokenLinearFunction's shapes, through the plugin: one resource (cpu,
// 100 cores), the pod requests p cores so utilization is p. Upstream scales
// the shape's scores by 10 before interpolating, so the values are the
// scaled function's (truncation happens after scaling).
TEST(NodeResourcesFit, RequestedToCapacityRatioBrokenLinear) {
  struct Case {
    std::vector<model::UtilizationShapePoint> shape;
    int p;
    int64_t want;
  };
  const std::vector<model::UtilizationShapePoint> s1 = {{10, 1}, {90, 9}};
  const std::vector<model::UtilizationShapePoint> s2 = {{0, 2}, {40, 10}, {100, 0}};
  const std::vector<model::UtilizationShapePoint> s3 = {{0, 2}, {40, 2}, {100, 2}};
  const std::vector<Case> cases = {
      {s1, 0, 10},  {s1, 9, 10},  {s1, 10, 10}, {s1, 15, 15}, {s1, 19, 19},
      {s1, 20, 20}, {s1, 89, 89}, {s1, 90, 90}, {s1, 99, 90}, {s1, 100, 90},
      {s1, 110, 90},  // over capacity: utilization 100
      {s2, 0, 20},  {s2, 20, 60}, {s2, 30, 80}, {s2, 40, 100}, {s2, 70, 50},
      {s2, 100, 0},  // score 0: the resource drops out, no weight left
      {s2, 110, 0}, {s3, 0, 20}, {s3, 40, 20}, {s3, 100, 20},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE("p=" + std::to_string(c.p) + " shape[0]=(" + std::to_string(c.shape[0].utilization) + "," +
                 std::to_string(c.shape[0].score) + ")");
    Profile profile;
    profile.fit_strategy = ScoringStrategy::kRequestedToCapacityRatio;
    profile.fit_resources = {{"cpu", 1}};
    profile.shape = c.shape;
    World w({MakeNode("node1").Capacity({{"cpu", "100"}})}, {}, profile);
    EXPECT_EQ(w.Score("NodeResourcesFit", MakePod().Req({{"cpu", std::to_string(c.p)}})),
              std::vector<int64_t>{c.want});
  }
}

// ---------------------------------------------------------------------------
// NodeResourcesFit: Filter (fit_test.go TestEnoughRequests, derived).

struct FilterCase {
  const char* name;
  model::Pod pod;
  std::vector<model::Node> nodes;
  std::vector<Existing> existing;
  std::vector<Outcome> want;
  std::vector<model::Namespace> namespaces = {};
};

void RunFilterCases(const std::string& plugin, const std::vector<FilterCase>& cases) {
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    World w(c.nodes, c.existing, Profile{}, c.namespaces);
    EXPECT_EQ(w.Filter(plugin, c.pod), c.want);
  }
}

TEST(NodeResourcesFit, FilterUpstreamCases) {
  const model::Node n10 = MakeNode("node1").Capacity({{"cpu", "10m"}, {"memory", "20"}, {"pods", "32"}});
  const model::Pod full = MakePod().Req({{"cpu", "10m"}, {"memory", "20"}});
  const model::Node one_pod = MakeNode("node1").Capacity({{"cpu", "10m"}, {"memory", "20"}, {"pods", "1"}});
  RunFilterCases("NodeResourcesFit", {
      {"no resources requested always fits", MakePod(), {n10}, {{"node1", full}}, {Fits()}},
      {"too many resources fails", MakePod().Req({{"cpu", "1m"}, {"memory", "1"}}), {n10},
       {{"node1", full}}, {Unschedulable(Reasons{"Insufficient cpu", "Insufficient memory"})}},
      {"too many resources fails due to init container cpu",
       MakePod().Req({{"cpu", "1m"}, {"memory", "1"}}).Init({{"cpu", "3m"}, {"memory", "1"}}), {n10},
       {{"node1", MakePod().Req({{"cpu", "8m"}, {"memory", "19"}})}}, {Unschedulable("Insufficient cpu")}},
      {"init container fits because it is not summed with the containers",
       MakePod().Req({{"cpu", "1m"}, {"memory", "1"}}).Init({{"cpu", "2m"}, {"memory", "1"}}), {n10},
       {{"node1", MakePod().Req({{"cpu", "8m"}, {"memory", "19"}})}}, {Fits()}},
      {"one resource memory fits", MakePod().Req({{"cpu", "1m"}, {"memory", "1"}}), {n10},
       {{"node1", MakePod().Req({{"cpu", "5m"}, {"memory", "19"}})}}, {Fits()}},
      {"equal edge case", MakePod().Req({{"cpu", "5m"}, {"memory", "1"}}), {n10},
       {{"node1", MakePod().Req({{"cpu", "5m"}, {"memory", "19"}})}}, {Fits()}},
      {"request alone exceeds allocatable: unresolvable", MakePod().Req({{"cpu", "11m"}, {"memory", "1"}}),
       {n10}, {}, {Unresolvable("Insufficient cpu")}},
      {"extended resource the node lacks", MakePod().Req({{"example.com/foo", "1"}}), {n10}, {},
       {Unresolvable("Insufficient example.com/foo")}},
      {"extended resource insufficient because of other pods", MakePod().Req({{"example.com/foo", "2"}}),
       {MakeNode("node1").Capacity({{"cpu", "10m"}, {"memory", "20"}, {"example.com/foo", "5"}})},
       {{"node1", MakePod().Req({{"example.com/foo", "4"}})}},
       {Unschedulable("Insufficient example.com/foo")}},
      {"extended resources in name order after cpu and memory",
       MakePod().Req({{"cpu", "20m"}, {"b.example.com/x", "1"}, {"a.example.com/y", "1"}}), {n10}, {},
       {Unresolvable(Reasons{"Insufficient cpu", "Insufficient a.example.com/y", "Insufficient b.example.com/x"})}},
      {"too many pods, even for a pod requesting nothing", MakePod(), {one_pod}, {{"node1", MakePod()}},
       {Unschedulable("Too many pods")}},
      {"too many pods and insufficient cpu", MakePod().Req({{"cpu", "5m"}}), {one_pod},
       {{"node1", MakePod().Req({{"cpu", "6m"}})}}, {Unschedulable(Reasons{"Too many pods", "Insufficient cpu"})}},
  });
}

// ---------------------------------------------------------------------------
// NodeResourcesBalancedAllocation (balanced_allocation_test.go).

TEST(NodeResourcesBalancedAllocation, UpstreamCases) {
  struct Case {
    const char* name;
    std::vector<model::ResourceWeight> resources;
    model::Pod pod;
    std::vector<model::Node> nodes;
    std::vector<Existing> existing;
    std::vector<int64_t> want;
  };
  const model::Pod cpu_only = MakePod().Req({{"cpu", "1000m"}, {"memory", "0"}}).Req({{"cpu", "2000m"}, {"memory", "0"}});
  const model::Pod cpu_and_memory = CpuAndMemoryPod();
  const std::vector<model::ResourceWeight> gpu = {{"cpu", 1}, {"memory", 1}, {"nvidia.com/gpu", 1}};
  auto gpu_node = [](const std::string& name) {
    return MakeNode(name).Capacity({{"cpu", "3500m"}, {"memory", "40000"}, {"nvidia.com/gpu", "8"}});
  };
  const std::vector<Case> cases = {
      {"a: nothing scheduled, resources requested, differently sized nodes", kCpuMem, cpu_and_memory,
       {CpuMemNode("node1", "4000m", "10000"), CpuMemNode("node2", "6000m", "10000")}, {}, {87, 100}},
      {"b: resources requested, pods scheduled with resources", kCpuMem, cpu_and_memory,
       {CpuMemNode("node1", "10000m", "20000"), CpuMemNode("node2", "10000m", "20000")},
       {{"node1", cpu_only}, {"node2", cpu_and_memory}}, {82, 95}},
      {"c: resources requested, pods scheduled with resources, differently sized nodes", kCpuMem,
       cpu_and_memory, {CpuMemNode("node1", "10000m", "20000"), CpuMemNode("node2", "10000m", "50000")},
       {{"node1", cpu_only}, {"node2", cpu_and_memory}}, {82, 80}},
      {"d: requested resources at node capacity", kCpuMem, cpu_only,
       {CpuMemNode("node1", "6000m", "10000"), CpuMemNode("node2", "6000m", "10000")},
       {{"node1", cpu_only}, {"node2", cpu_and_memory}}, {50, 75}},
      {"e: include scalar resource on a node for balanced resource allocation", gpu,
       MakePod().Req({{"memory", "0"}, {"nvidia.com/gpu", "1"}}), {gpu_node("node1"), gpu_node("node2")},
       {{"node1", MakePod().Req({{"cpu", "1000m"}, {"memory", "2000"}})
                      .Req({{"cpu", "2000m"}, {"memory", "3000"}, {"nvidia.com/gpu", "3"}})},
        {"node2", cpu_and_memory}},
       {70, 65}},
      {"f: node without the scalar resource, pod not requesting it", gpu, cpu_and_memory,
       {gpu_node("node1"), CpuMemNode("node2", "3500m", "40000")}, {}, {63, 63}},
      {"g: best-effort pod is skipped", kCpuMem, MakePod(),
       {CpuMemNode("node1", "4000m", "10000"), CpuMemNode("node2", "6000m", "10000")}, {}, {0, 0}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Profile profile;
    profile.balanced_resources = c.resources;
    World w(c.nodes, c.existing, profile);
    EXPECT_EQ(w.Score("NodeResourcesBalancedAllocation", c.pod), c.want);
  }
}

// ---------------------------------------------------------------------------
// TaintToleration (taint_toleration_test.go).

TEST(TaintToleration, FilterUpstreamCases) {
  RunFilterCases("TaintToleration", {
      {"A pod having no tolerations can't be scheduled onto a node with nonempty taints", MakePod(),
       {MakeNode("nodeA").Taint("dedicated", "user1", "NoSchedule")}, {},
       {Unresolvable("node(s) had untolerated taint {dedicated: user1}")}},
      {"A pod which can be scheduled on a dedicated node assigned to user1 with effect NoSchedule",
       MakePod().Toleration("dedicated", "Equal", "user1", "NoSchedule"),
       {MakeNode("nodeA").Taint("dedicated", "user1", "NoSchedule")}, {}, {Fits()}},
      {"A pod which can't be scheduled on a dedicated node assigned to user2 with effect NoSchedule",
       MakePod().Toleration("dedicated", "Equal", "user2", "NoSchedule"),
       {MakeNode("nodeA").Taint("dedicated", "user1", "NoSchedule")}, {},
       {Unresolvable("node(s) had untolerated taint {dedicated: user1}")}},
      {"A pod can be scheduled onto the node, with a toleration uses operator Exists",
       MakePod().Toleration("foo", "Exists", "", "NoSchedule"),
       {MakeNode("nodeA").Taint("foo", "bar", "NoSchedule")}, {}, {Fits()}},
      {"A pod has multiple tolerations, node has multiple taints, all the taints are tolerated",
       MakePod().Toleration("dedicated", "Equal", "user2", "NoSchedule").Toleration("foo", "Exists", "", "NoSchedule"),
       {MakeNode("nodeA").Taint("dedicated", "user2", "NoSchedule").Taint("foo", "bar", "NoSchedule")}, {},
       {Fits()}},
      {"A pod has a toleration that keys and values match the taint on the node, but (non-empty) effect "
       "doesn't match",
       MakePod().Toleration("foo", "Equal", "bar", "PreferNoSchedule"),
       {MakeNode("nodeA").Taint("foo", "bar", "NoSchedule")}, {},
       {Unresolvable("node(s) had untolerated taint {foo: bar}")}},
      {"The pod has a toleration that keys and values match the taint on the node, the effect of toleration "
       "is empty",
       MakePod().Toleration("foo", "Equal", "bar", ""), {MakeNode("nodeA").Taint("foo", "bar", "NoSchedule")},
       {}, {Fits()}},
      {"The pod has a toleration that key and value don't match the taint on the node, but the effect of "
       "taint on node is PreferNoSchedule",
       MakePod().Toleration("dedicated", "Equal", "user2", "NoSchedule"),
       {MakeNode("nodeA").Taint("dedicated", "user1", "PreferNoSchedule")}, {}, {Fits()}},
      {"The pod has no toleration, but the effect of taint on node is PreferNoSchedule", MakePod(),
       {MakeNode("nodeA").Taint("dedicated", "user1", "PreferNoSchedule")}, {}, {Fits()}},
      {"derived: empty key with Exists tolerates every taint", MakePod().Toleration("", "Exists", "", ""),
       {MakeNode("nodeA").Taint("a", "1", "NoSchedule").Taint("b", "", "NoExecute")}, {}, {Fits()}},
      {"derived: the first untolerated NoSchedule/NoExecute taint in node order is reported, empty value",
       MakePod().Toleration("a", "Exists", "", ""),
       {MakeNode("nodeA")
            .Taint("a", "1", "NoSchedule")
            .Taint("p", "q", "PreferNoSchedule")
            .Taint("node-role.kubernetes.io/control-plane", "", "NoExecute")
            .Taint("c", "3", "NoSchedule")},
       {}, {Unresolvable("node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }")}},
  });
}

TEST(TaintToleration, ScoreUpstreamCases) {
  struct Case {
    const char* name;
    model::Pod pod;
    std::vector<model::Node> nodes;
    std::vector<int64_t> want;
  };
  const std::vector<Case> cases = {
      {"node with taints tolerated by the pod gets a higher score than those not tolerated",
       MakePod().Toleration("foo", "Equal", "bar", "PreferNoSchedule"),
       {MakeNode("nodeA").Taint("foo", "bar", "PreferNoSchedule"),
        MakeNode("nodeB").Taint("foo", "blah", "PreferNoSchedule")},
       {100, 0}},
      {"the nodes that all of their taints are tolerated by the pod get the same score, no matter how many "
       "tolerable taints a node has",
       MakePod()
           .Toleration("cpu-type", "Equal", "arm64", "PreferNoSchedule")
           .Toleration("disk-type", "Equal", "ssd", "PreferNoSchedule"),
       {MakeNode("nodeA"), MakeNode("nodeB").Taint("cpu-type", "arm64", "PreferNoSchedule"),
        MakeNode("nodeC").Taint("cpu-type", "arm64", "PreferNoSchedule").Taint("disk-type", "ssd", "PreferNoSchedule")},
       {100, 100, 100}},
      {"the more intolerable taints a node has, the lower score it gets",
       MakePod().Toleration("foo", "Equal", "bar", "PreferNoSchedule"),
       {MakeNode("nodeA"), MakeNode("nodeB").Taint("cpu-type", "arm64", "PreferNoSchedule"),
        MakeNode("nodeC").Taint("cpu-type", "arm64", "PreferNoSchedule").Taint("disk-type", "ssd", "PreferNoSchedule")},
       {100, 50, 0}},
      {"only taints and tolerations that have effect PreferNoSchedule are checked by prioritizer",
       MakePod()
           .Toleration("cpu-type", "Equal", "arm64", "NoSchedule")
           .Toleration("disk-type", "Equal", "ssd", "NoSchedule"),
       {MakeNode("nodeA"), MakeNode("nodeB").Taint("cpu-type", "arm64", "NoSchedule"),
        MakeNode("nodeC").Taint("cpu-type", "arm64", "PreferNoSchedule").Taint("disk-type", "ssd", "PreferNoSchedule")},
       {100, 100, 0}},
      {"Default behaviour No taints and tolerations, lands on node with no taints", MakePod(),
       {MakeNode("nodeA"), MakeNode("nodeB").Taint("cpu-type", "arm64", "PreferNoSchedule")}, {100, 0}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    World w(c.nodes, {});
    EXPECT_EQ(w.Score("TaintToleration", c.pod), c.want);
  }
}

// ---------------------------------------------------------------------------
// NodeAffinity (node_affinity_test.go TestNodeAffinity, TestNodeAffinityPriority).

TEST(NodeAffinity, FilterUpstreamCases) {
  const std::string kReason = "node(s) didn't match Pod's node affinity/selector";
  const Outcome no = Unresolvable(kReason);
  auto node = [](const model::Labels& labels) { return MakeNode("node1").Labels(labels); };
  RunFilterCases("NodeAffinity", {
      {"missing labels", MakePod().NodeSelector({{"foo", "bar"}}), {node({})}, {}, {no}},
      {"same labels", MakePod().NodeSelector({{"foo", "bar"}}), {node({{"foo", "bar"}})}, {}, {Fits()}},
      {"node labels are superset", MakePod().NodeSelector({{"foo", "bar"}}),
       {node({{"foo", "bar"}, {"baz", "blah"}})}, {}, {Fits()}},
      {"node labels are subset", MakePod().NodeSelector({{"foo", "bar"}, {"baz", "blah"}}),
       {node({{"foo", "bar"}})}, {}, {no}},
      {"Pod with matchExpressions using In operator that matches the existing node",
       MakePod().RequiredNodeTerm(NTerm({NReq("foo", "In", {"bar", "value2"})})), {node({{"foo", "bar"}})}, {},
       {Fits()}},
      {"Pod with matchExpressions using Gt operator that matches the existing node",
       MakePod().RequiredNodeTerm(NTerm({NReq("kernel-version", "Gt", {"0204"})})),
       {node({{"kernel-version", "0206"}})}, {}, {Fits()}},
      {"derived: Gt is strict", MakePod().RequiredNodeTerm(NTerm({NReq("kernel-version", "Gt", {"0206"})})),
       {node({{"kernel-version", "0206"}})}, {}, {no}},
      {"derived: Lt compares integers", MakePod().RequiredNodeTerm(NTerm({NReq("gen", "Lt", {"10"})})),
       {node({{"gen", "9"}})}, {}, {Fits()}},
      {"derived: Gt against a non-integer label fails", MakePod().RequiredNodeTerm(NTerm({NReq("gen", "Gt", {"1"})})),
       {node({{"gen", "v2"}})}, {}, {no}},
      {"derived: Gt against a missing label fails", MakePod().RequiredNodeTerm(NTerm({NReq("gen", "Gt", {"1"})})),
       {node({})}, {}, {no}},
      {"Pod with matchExpressions using NotIn operator that matches the existing node",
       MakePod().RequiredNodeTerm(NTerm({NReq("mem-type", "NotIn", {"DDR", "DDR2"})})),
       {node({{"mem-type", "DDR3"}})}, {}, {Fits()}},
      {"derived: NotIn matches a node without the key",
       MakePod().RequiredNodeTerm(NTerm({NReq("mem-type", "NotIn", {"DDR"})})), {node({})}, {}, {Fits()}},
      {"Pod with matchExpressions using Exists operator that matches the existing node",
       MakePod().RequiredNodeTerm(NTerm({NReq("GPU", "Exists")})), {node({{"GPU", "NVIDIA-GRID-K1"}})}, {},
       {Fits()}},
      {"derived: DoesNotExist", MakePod().RequiredNodeTerm(NTerm({NReq("GPU", "DoesNotExist")})),
       {node({{"GPU", "NVIDIA-GRID-K1"}})}, {}, {no}},
      {"Pod with affinity that don't match node's labels won't schedule onto the node",
       MakePod().RequiredNodeTerm(NTerm({NReq("foo", "In", {"value1", "value2"})})), {node({{"foo", "bar"}})},
       {}, {no}},
      {"Pod with empty MatchExpressions is not a valid value will match no objects",
       MakePod().RequiredNodeTerm(NTerm({})), {node({{"foo", "bar"}})}, {}, {no}},
      {"Pod with no Affinity will schedule onto a node", MakePod(), {node({{"foo", "bar"}})}, {}, {Fits()}},
      {"Pod with multiple matchExpressions ANDed that matches the existing node",
       MakePod().RequiredNodeTerm(NTerm({NReq("GPU", "Exists"), NReq("GPU", "NotIn", {"AMD", "INTER"})})),
       {node({{"GPU", "NVIDIA-GRID-K1"}})}, {}, {Fits()}},
      {"Pod with multiple matchExpressions ANDed that doesn't match the existing node",
       MakePod().RequiredNodeTerm(NTerm({NReq("GPU", "Exists"), NReq("GPU", "In", {"AMD", "INTER"})})),
       {node({{"GPU", "NVIDIA-GRID-K1"}})}, {}, {no}},
      {"Pod with multiple NodeSelectorTerms ORed in affinity, matches the node's labels",
       MakePod()
           .RequiredNodeTerm(NTerm({NReq("foo", "In", {"bar", "value2"})}))
           .RequiredNodeTerm(NTerm({NReq("diffkey", "In", {"wrong", "value2"})})),
       {node({{"foo", "bar"}})}, {}, {Fits()}},
      {"Pod with an Affinity and a PodSpec.NodeSelector both are satisfied",
       MakePod().NodeSelector({{"foo", "bar"}}).RequiredNodeTerm(NTerm({NReq("foo", "Exists")})),
       {node({{"foo", "bar"}})}, {}, {Fits()}},
      {"Pod with an Affinity matches node's labels but the PodSpec.NodeSelector is not satisfied",
       MakePod().NodeSelector({{"foo", "bar"}}).RequiredNodeTerm(NTerm({NReq("foo", "Exists")})),
       {node({{"foo", "barrrrrr"}})}, {}, {no}},
      {"Pod with matchFields using In operator: matching and non-matching node",
       MakePod().RequiredNodeTerm(NTerm({}, {NReq("metadata.name", "In", {"node1"})})),
       {MakeNode("node1"), MakeNode("node2")}, {}, {Fits(), no}},
      {"Pod with two terms: matchFields does not match, but matchExpressions matches",
       MakePod()
           .RequiredNodeTerm(NTerm({}, {NReq("metadata.name", "In", {"node1"}), NReq("metadata.name", "In", {"node2"})}))
           .RequiredNodeTerm(NTerm({NReq("foo", "In", {"bar"})})),
       {MakeNode("node2").Label("foo", "bar")}, {}, {Fits()}},
      {"Pod with one term: matchFields does not match, but matchExpressions matches",
       MakePod().RequiredNodeTerm(
           NTerm({NReq("foo", "In", {"bar"})}, {NReq("metadata.name", "In", {"node1"})})),
       {MakeNode("node2").Label("foo", "bar")}, {}, {no}},
      {"derived: matchFields NotIn", MakePod().RequiredNodeTerm(NTerm({}, {NReq("metadata.name", "NotIn", {"node1"})})),
       {MakeNode("node1"), MakeNode("node2")}, {}, {no, Fits()}},
  });
}

// Terms upstream's selector parsing rejects match no node (the API server
// would refuse such pods; edgebed's loader accepts them, so the scheduler
// must judge them as upstream's Filter does).
TEST(NodeAffinity, FilterInvalidTermUpstreamCases) {
  const Outcome no = Unresolvable("node(s) didn't match Pod's node affinity/selector");
  // upstream "Pod with an invalid value in Affinity term won't be scheduled onto the node".
  World w({MakeNode("node1").Label("foo", "bar")}, {});
  EXPECT_EQ(w.Filter("NodeAffinity",
                     MakePod().RequiredNodeTerm(NTerm({NReq("foo", "NotIn", {"invalid value: ___@#$%^"})}))),
            std::vector<Outcome>{no});
}

TEST(NodeAffinity, FilterMatchFieldsMultipleValues) {
  // matchFields take In/NotIn with exactly one value.
  const Outcome no = Unresolvable("node(s) didn't match Pod's node affinity/selector");
  World w({MakeNode("node1"), MakeNode("node2")}, {});
  EXPECT_EQ(w.Filter("NodeAffinity",
                     MakePod().RequiredNodeTerm(NTerm({}, {NReq("metadata.name", "In", {"node1", "node2"})}))),
            (std::vector<Outcome>{no, no}));
}

TEST(NodeAffinity, FilterMatchFieldsExists) {
  const Outcome no = Unresolvable("node(s) didn't match Pod's node affinity/selector");
  World w({MakeNode("node1")}, {});
  EXPECT_EQ(w.Filter("NodeAffinity", MakePod().RequiredNodeTerm(NTerm({}, {NReq("metadata.name", "Exists")}))),
            std::vector<Outcome>{no});
}

TEST(NodeAffinity, FilterGtValueWithWhitespace) {
  // Gt/Lt values parse as Go's strconv.ParseInt: " 4" is no integer.
  const Outcome no = Unresolvable("node(s) didn't match Pod's node affinity/selector");
  World w({MakeNode("node1").Label("gen", "5")}, {});
  EXPECT_EQ(w.Filter("NodeAffinity", MakePod().RequiredNodeTerm(NTerm({NReq("gen", "Gt", {" 4"})}))),
            std::vector<Outcome>{no});
  EXPECT_EQ(w.Filter("NodeAffinity", MakePod().RequiredNodeTerm(NTerm({NReq("gen", "Gt", {"+4"})}))),
            std::vector<Outcome>{Fits()});
}

TEST(NodeAffinity, TestNodeAffinityPriority) {
  struct Case {
    const char* name;
    model::Pod pod;
    std::vector<model::Node> nodes;
    std::vector<int64_t> want;
  };
  const model::Labels label1 = {{"foo", "bar"}}, label2 = {{"key", "value"}}, label3 = {{"az", "az1"}},
                      label4 = {{"abc", "az11"}, {"def", "az22"}},
                      label5 = {{"foo", "bar"}, {"key", "value"}, {"az", "az1"}};
  const model::Pod affinity1 = MakePod().PreferredNodeTerm(2, NTerm({NReq("foo", "In", {"bar"})}));
  const model::Pod affinity2 =
      MakePod()
          .PreferredNodeTerm(2, NTerm({NReq("foo", "In", {"bar"})}))
          .PreferredNodeTerm(4, NTerm({NReq("key", "In", {"value"})}))
          .PreferredNodeTerm(5, NTerm({NReq("foo", "In", {"bar"}), NReq("key", "In", {"value"}),
                                       NReq("az", "In", {"az1"})}));
  const std::vector<Case> cases = {
      {"all nodes are same priority as NodeAffinity is nil", MakePod(),
       {MakeNode("node1").Labels(label1), MakeNode("node2").Labels(label2), MakeNode("node3").Labels(label3)},
       {0, 0, 0}},
      {"no node matches preferred scheduling requirements in NodeAffinity of pod so all nodes' priority is "
       "zero",
       affinity1,
       {MakeNode("node1").Labels(label4), MakeNode("node2").Labels(label2), MakeNode("node3").Labels(label3)},
       {0, 0, 0}},
      {"only node1 matches the preferred scheduling requirements of pod", affinity1,
       {MakeNode("node1").Labels(label1), MakeNode("node2").Labels(label2), MakeNode("node3").Labels(label3)},
       {100, 0, 0}},
      {"all nodes matches the preferred scheduling requirements of pod but with different priorities",
       affinity2,
       {MakeNode("node1").Labels(label1), MakeNode("node5").Labels(label5), MakeNode("node2").Labels(label2)},
       {18, 100, 36}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    World w(c.nodes, {});
    EXPECT_EQ(w.Score("NodeAffinity", c.pod), c.want);
  }
}

// ---------------------------------------------------------------------------
// NodeUnschedulable, NodeName, NodePorts.

TEST(NodeUnschedulable, UpstreamCases) {
  const std::string key = kUnschedulableTaintKey;
  const Outcome no = Unresolvable("node(s) were unschedulable");
  RunFilterCases("NodeUnschedulable", {
      {"Does not schedule pod to unschedulable node (node.Spec.Unschedulable==true)", MakePod(),
       {MakeNode("node1").Unschedulable()}, {}, {no}},
      {"Schedule pod to normal node", MakePod(), {MakeNode("node1")}, {}, {Fits()}},
      {"Schedule pod with toleration to unschedulable node (node.Spec.Unschedulable==true)",
       MakePod().Toleration(key, "Exists", "", "NoSchedule"), {MakeNode("node1").Unschedulable()}, {}, {Fits()}},
      {"derived: empty-key Exists toleration", MakePod().Toleration("", "Exists", "", ""),
       {MakeNode("node1").Unschedulable()}, {}, {Fits()}},
      {"derived: key Exists with empty effect", MakePod().Toleration(key, "Exists", "", ""),
       {MakeNode("node1").Unschedulable()}, {}, {Fits()}},
      {"derived: Equal with empty value", MakePod().Toleration(key, "Equal", "", "NoSchedule"),
       {MakeNode("node1").Unschedulable()}, {}, {Fits()}},
      {"derived: toleration for NoExecute does not help", MakePod().Toleration(key, "Exists", "", "NoExecute"),
       {MakeNode("node1").Unschedulable()}, {}, {no}},
  });
}

TEST(NodeName, UpstreamCases) {
  const Outcome no = Unresolvable("node(s) didn't match the requested node name");
  RunFilterCases("NodeName", {
      {"no host specified", MakePod(), {MakeNode("foo")}, {}, {Fits()}},
      {"host matches", MakePod().NodeName("foo"), {MakeNode("foo")}, {}, {Fits()}},
      {"host doesn't match", MakePod().NodeName("bar"), {MakeNode("foo")}, {}, {no}},
  });
}

TEST(NodePorts, UpstreamCases) {
  const Outcome no = Unschedulable("node(s) didn't have free ports for the requested pod ports");
  RunFilterCases("NodePorts", {
      {"nothing running", MakePod().HostPort(8080), {MakeNode("node1")}, {}, {Fits()}},
      {"other port", MakePod().HostPort(8080), {MakeNode("node1")}, {{"node1", MakePod().HostPort(9090)}},
       {Fits()}},
      {"same tcp port", MakePod().HostPort(8080), {MakeNode("node1")}, {{"node1", MakePod().HostPort(8080)}},
       {no}},
      {"same udp port", MakePod().HostPort(8080, "UDP"), {MakeNode("node1")},
       {{"node1", MakePod().HostPort(8080, "UDP")}}, {no}},
      {"different protocol", MakePod().HostPort(8080, "UDP"), {MakeNode("node1")},
       {{"node1", MakePod().HostPort(8080, "TCP")}}, {Fits()}},
      {"second port conflicts", MakePod().HostPort(8000).HostPort(8080), {MakeNode("node1")},
       {{"node1", MakePod().HostPort(8080)}}, {no}},
      {"container ports without hostPort never conflict", MakePod().ContainerPort(8080), {MakeNode("node1")},
       {{"node1", MakePod().ContainerPort(8080)}}, {Fits()}},
  });
}

TEST(Plugins, HelpfulEventsFollowRevision1) {
  ClusterState cluster;
  Profile profile;
  const PluginContext ctx{&cluster, &profile, nullptr};
  const std::vector<std::pair<const char*, uint32_t>> cases = {
      {"NodeUnschedulable", kNodeAdd | kNodeUpdate},
      {"NodeName", kNodeAdd},
      {"TaintToleration", kNodeAdd | kNodeUpdate},
      {"NodeAffinity", kNodeAdd | kNodeUpdate},
      {"NodePorts", kPodDelete | kNodeAdd},
      {"NodeResourcesFit", kPodDelete | kNodeAdd | kNodeUpdate},
      {"PodTopologySpread", kPodAdd | kPodDelete | kNodeAdd | kNodeUpdate | kNodeDelete},
      {"InterPodAffinity", kPodAdd | kPodDelete | kNodeAdd | kNodeUpdate},
  };
  for (const auto& [name, events] : cases) {
    SCOPED_TRACE(name);
    auto p = NewPlugin(name, ctx);
    ASSERT_NE(p, nullptr);
    EXPECT_STREQ(p->name(), name);
    EXPECT_EQ(p->HelpfulEvents(), events);
  }
  EXPECT_EQ(NewPlugin("NoSuchPlugin", ctx), nullptr);
}

// ---------------------------------------------------------------------------
// InterPodAffinity Filter (filtering_test.go, derived from the rules of
// upstream's satisfyPodAffinity / satisfyPodAntiAffinity /
// satisfyExistingPodsAntiAffinity).

constexpr const char* kAffinityReason = "node(s) didn't match pod affinity rules";
constexpr const char* kAntiReason = "node(s) didn't match pod anti-affinity rules";
constexpr const char* kExistingAntiReason = "node(s) didn't satisfy existing pods anti-affinity rules";

std::vector<model::Node> AffinityNodes() {
  return {MakeNode("nodeA").Label("region", "r1").Label("zone", "z1"),
          MakeNode("nodeB").Label("region", "r1").Label("zone", "z2"),
          MakeNode("nodeC").Label("region", "r2").Label("zone", "z3"),
          MakeNode("nodeD")};  // no region or zone
}

TEST(InterPodAffinity, FilterUpstreamCases) {
  const Outcome aff = Unresolvable(kAffinityReason);
  const Outcome anti = Unschedulable(kAntiReason);
  const Outcome existing_anti = Unschedulable(kExistingAntiReason);
  const auto nodes = AffinityNodes();
  const model::LabelSelector db = Sel({{"app", "db"}});
  const model::LabelSelector web = Sel({{"app", "web"}});
  const model::Pod db_pod = MakePod().Label("app", "db");
  const model::Pod web_pod = MakePod().Label("app", "web");
  RunFilterCases("InterPodAffinity", {
      {"pod without terms, no existing anti-affinity: all fit", MakePod(), nodes, {{"nodeA", db_pod}},
       {Fits(), Fits(), Fits(), Fits()}},
      {"affinity satisfied by a pod in the same region; nodes without the key fail",
       MakePod().PodAffinity(PTerm(db, "region")), nodes, {{"nodeA", db_pod}}, {Fits(), Fits(), aff, aff}},
      {"affinity with In operator over a set", MakePod().PodAffinity(PTerm(SelExpr({LReq("app", "In", {"db", "x"})}), "zone")),
       nodes, {{"nodeB", db_pod}}, {aff, Fits(), aff, aff}},
      {"no matching pod anywhere and the pod does not match its own term: nowhere",
       MakePod().PodAffinity(PTerm(db, "region")), nodes, {{"nodeA", web_pod}}, {aff, aff, aff, aff}},
      {"first pod of a series: no matching pod, pod matches its own term -> every node with the key",
       MakePod().Label("app", "db").PodAffinity(PTerm(db, "region")), nodes, {{"nodeA", web_pod}},
       {Fits(), Fits(), Fits(), aff}},
      {"first pod of a series: a matching pod on a node without the key does not count",
       MakePod().Label("app", "db").PodAffinity(PTerm(db, "region")), nodes, {{"nodeD", db_pod}},
       {Fits(), Fits(), Fits(), aff}},
      {"not the first pod: a matching pod exists, only its domain fits even if the pod matches itself",
       MakePod().Label("app", "db").PodAffinity(PTerm(db, "region")), nodes, {{"nodeC", db_pod}},
       {aff, aff, Fits(), aff}},
      {"namespaces empty and namespaceSelector nil: only the pod's namespace counts",
       MakePod().PodAffinity(PTerm(db, "region")), nodes, {{"nodeA", MakePod("other").Label("app", "db")}},
       {aff, aff, aff, aff}},
      {"namespaces lists the other namespace", MakePod().PodAffinity(PTerm(db, "region", {"other"})), nodes,
       {{"nodeA", MakePod("other").Label("app", "db")}}, {Fits(), Fits(), aff, aff}},
      {"namespaces lists only another namespace: the pod's own does not count",
       MakePod().PodAffinity(PTerm(db, "region", {"other"})), nodes, {{"nodeA", db_pod}}, {aff, aff, aff, aff}},
      {"namespaceSelector {} covers every namespace",
       MakePod().PodAffinity(PTerm(db, "region", {}, model::LabelSelector{})), nodes,
       {{"nodeC", MakePod("other").Label("app", "db")}}, {aff, aff, Fits(), aff}},
      {"namespaceSelector by namespace labels",
       MakePod().PodAffinity(PTerm(db, "region", {}, Sel({{"team", "x"}}))), nodes,
       {{"nodeA", MakePod("other").Label("app", "db")}, {"nodeC", MakePod("third").Label("app", "db")}},
       {Fits(), Fits(), aff, aff},
       {MakeNamespace("other", {{"team", "x"}}), MakeNamespace("third", {{"team", "y"}})}},
      {"namespaceSelector by the implicit kubernetes.io/metadata.name label",
       MakePod().PodAffinity(PTerm(db, "region", {}, Sel({{"kubernetes.io/metadata.name", "other"}}))), nodes,
       {{"nodeC", MakePod("other").Label("app", "db")}}, {aff, aff, Fits(), aff}},
      {"absent labelSelector matches no pod, not even the pod itself",
       MakePod().Label("app", "db").PodAffinity(PTerm(std::nullopt, "region")), nodes, {{"nodeA", db_pod}},
       {aff, aff, aff, aff}},
      {"labelSelector {} matches every pod", MakePod().PodAffinity(PTerm(model::LabelSelector{}, "region")),
       nodes, {{"nodeC", web_pod}}, {aff, aff, Fits(), aff}},
      {"two terms must be matched by the same pod",
       MakePod().PodAffinity(PTerm(db, "region")).PodAffinity(PTerm(Sel({{"tier", "cache"}}), "region")), nodes,
       {{"nodeA", db_pod}, {"nodeA", MakePod().Label("tier", "cache")}}, {aff, aff, aff, aff}},
      {"two terms matched by one pod",
       MakePod().PodAffinity(PTerm(db, "region")).PodAffinity(PTerm(Sel({{"tier", "cache"}}), "region")), nodes,
       {{"nodeC", MakePod().Label("app", "db").Label("tier", "cache")}}, {aff, aff, Fits(), aff}},
      {"two terms with different keys: the node must share both domains",
       MakePod().PodAffinity(PTerm(db, "region")).PodAffinity(PTerm(db, "zone")), nodes, {{"nodeA", db_pod}},
       {Fits(), aff, aff, aff}},
      {"anti-affinity by zone", MakePod().PodAntiAffinity(PTerm(web, "zone")), nodes, {{"nodeA", web_pod}},
       {anti, Fits(), Fits(), Fits()}},
      {"anti-affinity by region; a node without the key passes",
       MakePod().PodAntiAffinity(PTerm(web, "region")), nodes, {{"nodeA", web_pod}}, {anti, anti, Fits(), Fits()}},
      {"anti-affinity by hostname", MakePod().PodAntiAffinity(PTerm(web, kHostnameLabel)), nodes,
       {{"nodeD", web_pod}}, {Fits(), Fits(), Fits(), anti}},
      {"anti-affinity ignores pods in other namespaces", MakePod().PodAntiAffinity(PTerm(web, "region")), nodes,
       {{"nodeA", MakePod("other").Label("app", "web")}}, {Fits(), Fits(), Fits(), Fits()}},
      {"existing pod's anti-affinity covers the incoming pod",
       web_pod, nodes, {{"nodeA", MakePod().PodAntiAffinity(PTerm(web, "region"))}},
       {existing_anti, existing_anti, Fits(), Fits()}},
      {"existing pod's anti-affinity in another namespace does not cover the incoming pod", web_pod, nodes,
       {{"nodeA", MakePod("other").PodAntiAffinity(PTerm(web, "region"))}}, {Fits(), Fits(), Fits(), Fits()}},
      {"existing pod's anti-affinity with namespaceSelector {} covers every namespace", web_pod, nodes,
       {{"nodeA", MakePod("other").PodAntiAffinity(PTerm(web, "region", {}, model::LabelSelector{}))}},
       {existing_anti, existing_anti, Fits(), Fits()}},
      {"existing pod's anti-affinity on a node without the key constrains nothing", web_pod, nodes,
       {{"nodeD", MakePod().PodAntiAffinity(PTerm(web, "region"))}}, {Fits(), Fits(), Fits(), Fits()}},
      {"affinity is checked before anti-affinity",
       MakePod().PodAffinity(PTerm(db, "region")).PodAntiAffinity(PTerm(web, "region")), nodes,
       {{"nodeA", web_pod}, {"nodeC", db_pod}}, {aff, aff, Fits(), aff}},
      {"anti-affinity is checked before existing pods' anti-affinity",
       MakePod().Label("app", "web").PodAntiAffinity(PTerm(db, "zone")), nodes,
       {{"nodeA", MakePod().Label("app", "db").PodAntiAffinity(PTerm(web, "region"))}},
       {anti, existing_anti, Fits(), Fits()}},
  });
}

// ---------------------------------------------------------------------------
// InterPodAffinity Score (scoring_test.go TestPreferredAffinity).

TEST(InterPodAffinity, ScoreUpstreamCases) {
  struct Case {
    const char* name;
    model::Pod pod;
    std::vector<model::Node> nodes;
    std::vector<Existing> existing;
    std::vector<int64_t> want;
    int32_t hard_weight = 1;
    bool ignore_existing_preferred = false;
  };
  const model::Labels china = {{"region", "China"}}, india = {{"region", "India"}}, az1 = {{"az", "az1"}};
  const model::Pod s1 = MakePod().Label("security", "S1");
  const model::Pod s2 = MakePod().Label("security", "S2");
  const model::LabelSelector in_s1 = SelExpr({LReq("security", "In", {"S1"})});
  const model::LabelSelector in_s2 = SelExpr({LReq("security", "In", {"S2"})});
  const std::vector<model::Node> three = {MakeNode("node1").Labels(china), MakeNode("node2").Labels(india),
                                          MakeNode("node3").Labels(az1)};
  const model::Pod required_affinity_carrier_s1 =
      MakePod()
          .Label("security", "S1")
          .PodAffinity(PTerm(SelExpr({LReq("security", "In", {"S1", "value2"})}), "region"))
          .PodAffinity(PTerm(SelExpr({LReq("security", "Exists"), LReq("wrongkey", "DoesNotExist")}), "region"));
  model::Pod required_affinity_carrier_s2 = required_affinity_carrier_s1;
  required_affinity_carrier_s2.meta.labels["security"] = "S2";
  const std::vector<Case> cases = {
      {"all nodes have same priority as the pod has no affinity and no existing pods", s1, three, {}, {0, 0, 0}},
      {"a: affinity: pod that matches topology key & pods in nodes will get high score comparing to others",
       MakePod().Label("security", "S1").PreferredPodAffinity(5, PTerm(in_s1, "region")), three,
       {{"node1", s1}, {"node2", s2}, {"node3", s1}}, {100, 0, 0}},
      {"b: affinity: nodes in one region with more matching pods get the high score; min is not 0",
       MakePod().Label("security", "S1").PreferredPodAffinity(6, PTerm(in_s2, "region")),
       {MakeNode("node1").Labels(china), MakeNode("node2").Labels(india), MakeNode("node3").Labels(china),
        MakeNode("node4").Labels(china), MakeNode("node5").Labels(india)},
       {{"node1", s2}, {"node1", s2}, {"node2", s2}, {"node3", s2}, {"node4", s2}, {"node5", s2}},
       {100, 0, 100, 100, 0}},
      {"c: affinity: different weights and more complicated matching terms",
       MakePod()
           .Label("security", "S1")
           .PreferredPodAffinity(8, PTerm(SelExpr({LReq("security", "NotIn", {"S1"}), LReq("security", "In", {"S2"})}),
                                          "region"))
           .PreferredPodAffinity(2, PTerm(SelExpr({LReq("security", "Exists"), LReq("wrongkey", "DoesNotExist")}),
                                          "region")),
       three, {{"node1", s1}, {"node2", s2}, {"node3", s1}}, {20, 100, 0}},
      {"d: affinity symmetry: existing pods' required affinity terms matching the incoming pod", s1, three,
       {{"node1", required_affinity_carrier_s1}, {"node2", required_affinity_carrier_s2}}, {100, 100, 0}},
      {"d': hardPodAffinityWeight 0 turns the symmetry off", s1, three,
       {{"node1", required_affinity_carrier_s1}, {"node2", required_affinity_carrier_s2}}, {0, 0, 0}, 0},
      {"e: anti-affinity: pods matching the term repel",
       MakePod().Label("security", "S1").PreferredPodAntiAffinity(5, PTerm(in_s1, "az")),
       {MakeNode("node1").Labels(az1), MakeNode("node2").Labels(india)},
       {{"node1", s1}, {"node1", s1}, {"node2", s2}}, {0, 100}},
      {"existing pod's preferred anti-affinity matching the incoming pod repels", s1, three,
       {{"node1", MakePod().PreferredPodAntiAffinity(5, PTerm(in_s1, "region"))}}, {0, 100, 100}},
      {"existing pod's preferred affinity matching the incoming pod attracts", s1, three,
       {{"node2", MakePod().PreferredPodAffinity(5, PTerm(in_s1, "region"))}}, {0, 100, 0}},
      {"ignorePreferredTermsOfExistingPods with an incoming pod without preferred terms: skip", s1, three,
       {{"node2", MakePod().PreferredPodAffinity(5, PTerm(in_s1, "region"))}}, {0, 0, 0}, 1, true},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Profile profile;
    profile.hard_pod_affinity_weight = c.hard_weight;
    profile.ignore_preferred_terms_of_existing_pods = c.ignore_existing_preferred;
    World w(c.nodes, c.existing, profile);
    EXPECT_EQ(w.Score("InterPodAffinity", c.pod), c.want);
  }
}

// ---------------------------------------------------------------------------
// PodTopologySpread Filter (filtering_test.go TestSingleConstraint, derived).

constexpr const char* kSpreadReason = "node(s) didn't match pod topology spread constraints";
constexpr const char* kSpreadMissing =
    "node(s) didn't match pod topology spread constraints (missing required label)";

std::vector<model::Node> SpreadNodes() {
  return {MakeNode("node-a").Label("zone", "zone1").Label("node", "node-a"),
          MakeNode("node-b").Label("zone", "zone1").Label("node", "node-b"),
          MakeNode("node-x").Label("zone", "zone2").Label("node", "node-x"),
          MakeNode("node-y").Label("zone", "zone2").Label("node", "node-y")};
}

std::vector<Existing> FooPods(const std::vector<std::pair<std::string, int>>& per_node,
                              const std::string& ns = "default") {
  std::vector<Existing> out;
  for (const auto& [node, n] : per_node) {
    for (int i = 0; i < n; ++i) out.push_back({node, MakePod(ns).Label("foo", "")});
  }
  return out;
}

TEST(PodTopologySpread, FilterUpstreamCases) {
  const Outcome skew = Unschedulable(kSpreadReason);
  const Outcome missing = Unresolvable(kSpreadMissing);
  const model::LabelSelector foo = SelExpr({LReq("foo", "Exists")});
  const auto nodes = SpreadNodes();
  const std::string D = "DoNotSchedule";
  const model::Pod zone1 = MakePod().Label("foo", "").Spread(1, "zone", D, foo);
  const model::Pod node1 = MakePod().Label("foo", "").Spread(1, "node", D, foo);
  auto nodes_without_zone_on_b = nodes;
  nodes_without_zone_on_b[1] = MakeNode("node-b").Label("node", "node-b");
  RunFilterCases("PodTopologySpread", {
      {"no existing pods", zone1, nodes, {}, {Fits(), Fits(), Fits(), Fits()}},
      {"no existing pods, incoming pod doesn't match itself", MakePod().Label("bar", "").Spread(1, "zone", D, foo),
       nodes, {}, {Fits(), Fits(), Fits(), Fits()}},
      {"existing pods in a different namespace do not count", zone1, nodes,
       FooPods({{"node-a", 1}, {"node-b", 2}}, "ns1"), {Fits(), Fits(), Fits(), Fits()}},
      {"pods spread across zones as 3/3, all nodes fit", zone1, nodes,
       FooPods({{"node-a", 1}, {"node-b", 2}, {"node-x", 2}, {"node-y", 1}}), {Fits(), Fits(), Fits(), Fits()}},
      {"pods spread across zones as 3/2: only zone2 fits", zone1, nodes,
       FooPods({{"node-a", 1}, {"node-b", 2}, {"node-x", 2}}), {skew, skew, Fits(), Fits()}},
      {"pods spread across zones as 1/2 due to absence of label 'zone' on node-b", zone1, nodes_without_zone_on_b,
       FooPods({{"node-a", 1}, {"node-b", 1}, {"node-x", 1}, {"node-y", 1}}), {Fits(), missing, skew, skew}},
      {"pod cannot be scheduled as all nodes don't have label 'rack'",
       MakePod().Label("foo", "").Spread(1, "rack", D, foo), nodes, {}, {missing, missing, missing, missing}},
      {"pods spread across nodes as 2/1/0/3, only node-x fits", node1, nodes,
       FooPods({{"node-a", 2}, {"node-b", 1}, {"node-y", 3}}), {skew, skew, Fits(), skew}},
      {"pods spread across nodes as 2/1/0/3, maxSkew is 2, node-b and node-x fit",
       MakePod().Label("foo", "").Spread(2, "node", D, foo), nodes,
       FooPods({{"node-a", 2}, {"node-b", 1}, {"node-y", 3}}), {skew, Fits(), Fits(), skew}},
      {"pods spread across nodes as 2/1/0/3, but pod doesn't match itself",
       MakePod().Label("bar", "").Spread(1, "node", D, foo), nodes,
       FooPods({{"node-a", 2}, {"node-b", 1}, {"node-y", 3}}), {skew, Fits(), Fits(), skew}},
      {"incoming pod has nodeAffinity, pods spread as 2/~1~/~0~/3, hence node-a fits",
       MakePod()
           .Label("foo", "")
           .Spread(1, "node", D, foo)
           .RequiredNodeTerm(NTerm({NReq("node", "In", {"node-a", "node-y"})})),
       nodes, FooPods({{"node-a", 2}, {"node-b", 1}, {"node-y", 3}}), {Fits(), Fits(), Fits(), skew}},
      {"minDomains 3 with 2 zones: the global minimum is 0",
       MakePod().Label("foo", "").Spread(2, "zone", D, foo, 3), nodes,
       FooPods({{"node-a", 1}, {"node-b", 1}, {"node-x", 1}, {"node-y", 1}}), {skew, skew, skew, skew}},
      {"minDomains 2 with 2 zones: the real minimum", MakePod().Label("foo", "").Spread(2, "zone", D, foo, 2),
       nodes, FooPods({{"node-a", 1}, {"node-b", 1}, {"node-x", 1}, {"node-y", 1}}),
       {Fits(), Fits(), Fits(), Fits()}},
      {"minDomains 3 with 2 zones spread 2/1, maxSkew 2: global minimum 0, only zone2 fits",
       MakePod().Label("foo", "").Spread(2, "zone", D, foo, 3), nodes,
       FooPods({{"node-a", 1}, {"node-b", 1}, {"node-x", 1}}), {skew, skew, Fits(), Fits()}},
      {"same spread 2/1 without minDomains: minimum 1, every zone fits",
       MakePod().Label("foo", "").Spread(2, "zone", D, foo), nodes,
       FooPods({{"node-a", 1}, {"node-b", 1}, {"node-x", 1}}), {Fits(), Fits(), Fits(), Fits()}},
      {"empty selector {} counts no pod but the pod matches itself", MakePod().Spread(1, "node", D, model::LabelSelector{}),
       nodes, FooPods({{"node-a", 3}}), {Fits(), Fits(), Fits(), Fits()}},
      {"absent selector counts nothing", MakePod().Spread(1, "node", D, std::nullopt), nodes,
       FooPods({{"node-a", 3}}), {Fits(), Fits(), Fits(), Fits()}},
      {"ScheduleAnyway constraints do not filter", MakePod().Label("foo", "").Spread(1, "node", "ScheduleAnyway", foo),
       nodes, FooPods({{"node-a", 5}}), {Fits(), Fits(), Fits(), Fits()}},
      {"two constraints and nodeAffinity: counting only over eligible nodes",
       MakePod()
           .Label("foo", "")
           .Spread(1, "zone", D, foo)
           .Spread(1, "node", D, foo)
           .RequiredNodeTerm(NTerm({NReq("node", "NotIn", {"node-b"})})),
       nodes, FooPods({{"node-b", 3}, {"node-x", 1}}), {Fits(), Fits(), skew, skew}},
      {"two constraints: zone and node",
       MakePod().Label("foo", "").Spread(1, "zone", D, foo).Spread(1, "node", D, foo), nodes,
       FooPods({{"node-a", 1}, {"node-x", 2}}), {skew, Fits(), skew, skew}},
  });
}

// ---------------------------------------------------------------------------
// PodTopologySpread Score (scoring_test.go TestPodTopologySpreadScore).

TEST(PodTopologySpread, ScoreUpstreamCases) {
  struct Case {
    const char* name;
    model::Pod pod;
    std::vector<model::Node> nodes;
    std::vector<Existing> existing;
    std::vector<std::string> feasible;  // empty: every node
    std::vector<int64_t> want;
    std::optional<model::LabelSelector> owner = std::nullopt;
  };
  const model::LabelSelector foo = SelExpr({LReq("foo", "Exists")});
  const std::string S = "ScheduleAnyway";
  auto node = [](const std::string& name) { return MakeNode(name).Label("node", name); };
  auto zoned = [](const std::string& name, const std::string& zone) {
    return MakeNode(name).Label("node", name).Label("zone", zone);
  };
  const std::vector<model::Node> four = {node("node-a"), node("node-b"), node("node-c"), node("node-d")};
  const std::vector<model::Node> zone_nodes = {zoned("node-a", "zone1"), zoned("node-b", "zone1"),
                                               zoned("node-x", "zone2"), zoned("node-y", "zone2")};
  auto zone_nodes_b_unlabelled = zone_nodes;
  zone_nodes_b_unlabelled[1] = MakeNode("node-b").Label("zone", "zone1");
  const auto spread_counts = FooPods({{"node-a", 4}, {"node-b", 2}, {"node-x", 1}, {"node-y", 3}});
  const std::vector<std::string> abx = {"node-a", "node-b", "node-x"};
  const std::vector<Case> cases = {
      {"a: one constraint on node, all 4 nodes are candidates",
       MakePod().Label("foo", "").Spread(1, "node", S, foo), four,
       FooPods({{"node-a", 2}, {"node-b", 1}, {"node-d", 3}}), {}, {20, 60, 100, 0}},
      {"b: one constraint on node, maxSkew 2",
       MakePod().Label("foo", "").Spread(2, "node", S, foo), four,
       FooPods({{"node-a", 2}, {"node-b", 1}, {"node-d", 3}}), {}, {33, 66, 100, 16}},
      {"c: one constraint on hostname, maxSkew 3",
       MakePod().Label("foo", "").Spread(3, kHostnameLabel, S, foo), four,
       FooPods({{"node-a", 4}, {"node-b", 3}, {"node-c", 2}, {"node-d", 1}}), {}, {44, 66, 77, 100}},
      {"c': system defaulting with an owner selecting foo, nodes without zone", MakePod().Label("foo", ""), four,
       FooPods({{"node-a", 4}, {"node-b", 3}, {"node-c", 2}, {"node-d", 1}}), {}, {44, 66, 77, 100}, foo},
      {"d: zone constraint, node-y is not a candidate but counts for zone2",
       MakePod().Label("foo", "").Spread(1, "zone", S, foo), zone_nodes, spread_counts, abx, {75, 75, 100}},
      {"e: node constraint, node-y is not a candidate", MakePod().Label("foo", "").Spread(1, "node", S, foo),
       zone_nodes, spread_counts, abx, {33, 83, 100}},
      {"e': same with the hostname key", MakePod().Label("foo", "").Spread(1, kHostnameLabel, S, foo), zone_nodes,
       spread_counts, abx, {33, 83, 100}},
      {"f: node-b lacks the node label: ignored, scores 0",
       MakePod().Label("foo", "").Spread(1, "node", S, foo), zone_nodes_b_unlabelled, spread_counts, abx,
       {16, 0, 100}},
      {"g: no existing pods", MakePod().Label("foo", "").Spread(1, "zone", S, foo),
       {zoned("node-a", "zone1"), zoned("node-b", "zone2")}, {}, {}, {100, 100}},
      {"g': null labelSelector", MakePod().Label("foo", "").Spread(1, "zone", S, std::nullopt),
       {zoned("node-a", "zone1"), zoned("node-b", "zone2")}, FooPods({{"node-a", 2}}), {}, {100, 100}},
      {"no soft constraints: skip", MakePod().Label("foo", "").Spread(1, "zone", "DoNotSchedule", foo),
       {zoned("node-a", "zone1"), zoned("node-b", "zone2")}, FooPods({{"node-a", 2}}), {}, {0, 0}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    World w(c.nodes, c.existing);
    EXPECT_EQ(w.Score("PodTopologySpread", c.pod, c.feasible, c.owner ? &*c.owner : nullptr), c.want);
  }
}

}  // namespace
}  // namespace edgebed::sched
