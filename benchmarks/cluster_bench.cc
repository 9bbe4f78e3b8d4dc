// The cluster module (core/cluster): what the per-node policy views cost and
// save, and what bringing a whole cluster up costs on the deterministic
// TestLoop, each against a baseline in the same run.
//
// 1. PolicyViews on a building: F floors (namespaces) of 10 nodes each, 3
//    pods per node, every floor isolated by a same-floor NetworkPolicy, plus
//    a security Tier, two GlobalNetworkSets and two GlobalNetworkPolicies.
//    Timed: Compute() after one pod is relabelled, and a bring-up that adds
//    the pods one at a time with a Compute() after each (as the server does
//    when pods report their addresses one by one). Baselines: the full
//    recompute PolicyViews replaced (tests/cluster/policy_view_reference.h,
//    the specification it is tested against) on the same changes; and the
//    naive design that sends every node the whole policy world (every policy,
//    endpoint, namespace and network set): its bytes per node, and what an
//    agent pays to compile it (CompileView of the whole world against
//    CompileView of one node's view).
// 2. Bring-up: a server and N agents on the TestLoop (as
//    tests/cluster/harness.h drives them, without the fault wrapper) join, the
//    building's manifests (two Deployments per floor, 3 pods per node, and
//    the policy world above) are applied, and the loop runs until every pod is
//    Running. Baseline: sched::Scheduler alone placing the same pods on the
//    same nodes, with no cluster around it.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/base/ip.h"
#include "core/cluster/agent.h"
#include "core/cluster/policy_view.h"
#include "core/cluster/records.h"
#include "core/cluster/runtime.h"
#include "core/cluster/server.h"
#include "core/env/random.h"
#include "core/env/test_loop.h"
#include "core/model/emit.h"
#include "core/model/loader.h"
#include "core/policy/inventory.h"
#include "core/sched/config.h"
#include "core/sched/scheduler.h"
#include "tests/cluster/harness.h"
#include "tests/cluster/policy_view_reference.h"

namespace edgebed::cluster {
namespace {

constexpr int kNodesPerFloor = 10;
constexpr int kPodsPerNode = 3;  // one gateway, two inference pods

using Clock = std::chrono::steady_clock;
double SecondsSince(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

int FloorsFor(int nodes) { return (nodes + kNodesPerFloor - 1) / kNodesPerFloor; }
std::string FloorName(int floor) { return "floor-" + std::to_string(floor); }
std::string NodeName(int i) { return "edge-" + std::to_string(i); }
// Node i (1-based) is on floor (i - 1) / 10 + 1.
int FloorOf(int node) { return (node - 1) / kNodesPerFloor + 1; }

// Node i (1-based): 4 cpu, 8Gi, labelled with its building, floor, zone and hostname.
model::Node EdgeNode(int i) {
  model::Node n;
  n.meta.name = NodeName(i);
  const int floor = FloorOf(i);
  n.meta.labels = {{"edgebed.io/building", "b" + std::to_string((floor - 1) / 10 + 1)},
                   {"edgebed.io/floor", FloorName(floor)},
                   {"topology.kubernetes.io/zone", "zone-" + std::to_string((i - 1) % 4)},
                   {"kubernetes.io/hostname", n.meta.name}};
  n.capacity = {{"cpu", *model::Quantity::Parse("4")}, {"memory", *model::Quantity::Parse("8Gi")},
                {"pods", *model::Quantity::Parse("110")}};
  n.allocatable = n.capacity;
  return n;
}

// The policy world: a namespace and a same-floor isolation policy per floor;
// a security tier that keeps the guest Wi-Fi out and passes the rest; the
// monitoring network allowed in on the node exporter's port.
std::string PolicyManifests(int floors) {
  std::string y = R"(apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: security}
spec: {order: 100}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: {name: guest-wifi, labels: {role: guest}}
spec: {nets: [192.168.200.0/24]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: {name: monitoring, labels: {role: monitoring}}
spec: {nets: [172.16.0.0/28]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: security.block-guest}
spec:
  tier: security
  order: 10
  selector: all()
  types: [Ingress, Egress]
  ingress:
  - {action: Deny, source: {selector: role == 'guest'}}
  - {action: Pass}
  egress:
  - {action: Deny, destination: {selector: role == 'guest'}}
  - {action: Pass}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: allow-monitoring}
spec:
  order: 50
  selector: all()
  ingress:
  - {action: Allow, protocol: TCP, source: {selector: role == 'monitoring'}, destination: {ports: [9100]}}
)";
  for (int f = 1; f <= floors; ++f) {
    const std::string floor = FloorName(f);
    y += "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: " + floor + ", labels: {floor: \"" +
         std::to_string(f) + "\", building: b" + std::to_string((f - 1) / 10 + 1) + "}}\n";
    y += "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: same-floor, namespace: " +
         floor + "}\nspec:\n  podSelector: {}\n  ingress:\n  - from:\n    - podSelector: {}\n";
  }
  return y;
}

// The workloads: per floor, a gateway on each of its nodes and two inference
// pods per node, both pinned to the floor.
std::string WorkloadManifests(int floors) {
  std::string y;
  for (int f = 1; f <= floors; ++f) {
    const std::string floor = FloorName(f);
    const auto deployment = [&](const std::string& name, int replicas, const std::string& container) {
      return "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: " + name + ", namespace: " + floor +
             "}\nspec:\n  replicas: " + std::to_string(replicas) + "\n  selector: {matchLabels: {app: " + name +
             "}}\n  template:\n    metadata: {labels: {app: " + name + "}}\n    spec:\n      nodeSelector: "
             "{edgebed.io/floor: " + floor + "}\n      containers:\n" + container;
    };
    y += deployment("gateway", kNodesPerFloor,
                    "      - name: gw\n        image: gw:1\n        ports: [{name: mqtt, containerPort: 1883}]\n"
                    "        resources: {requests: {cpu: 100m, memory: 64Mi}}\n");
    y += deployment("inference", (kPodsPerNode - 1) * kNodesPerFloor,
                    "      - name: model\n        image: infer:1\n"
                    "        resources: {requests: {cpu: 500m, memory: 512Mi}}\n");
  }
  return y;
}

model::LoadResult Load(const std::string& yaml, const std::string& source) {
  model::LoadResult loaded = model::LoadManifests(yaml, source);
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s\n", loaded.errors.front().ToString().c_str());
    std::abort();
  }
  return loaded;
}

// The key the server stores an object under.
std::string ObjectKey(const model::Object& o) {
  const model::ObjectMeta& m = model::MetaOf(o);
  const auto* calico = std::get_if<model::CalicoPolicy>(&o);
  const std::string kind = calico && !calico->global ? "CalicoNetworkPolicy" : model::KindOf(o);
  return "o/" + kind + "/" + (m.namespace_.empty() ? "" : m.namespace_ + "/") + m.name;
}

bool IsPolicy(const model::Object& o) {
  return std::holds_alternative<model::NetworkPolicy>(o) || std::holds_alternative<model::CalicoPolicy>(o) ||
         std::holds_alternative<model::Tier>(o);
}

size_t BytesOf(const PolicyViews::View& view) {
  size_t bytes = 0;
  for (const auto& [key, value] : view) bytes += key.size() + value.size();
  return bytes;
}

// ---- 1. PolicyViews -----------------------------------------------------------

// The building's policy world (its namespaces, network sets, policies and
// tier), parsed once per size, with each policy's key and manifest as the
// server stores them.
struct PolicyObjects {
  std::vector<model::Object> objects;
  std::map<size_t, std::pair<std::string, std::string>> policies;  // object index -> key, manifest
};

const PolicyObjects& PolicyObjectsFor(int floors) {
  static std::map<int, std::unique_ptr<PolicyObjects>> parsed;
  auto& p = parsed[floors];
  if (p) return *p;
  p = std::make_unique<PolicyObjects>();
  p->objects = Load(PolicyManifests(floors), "policy.yaml").objects;
  for (size_t i = 0; i < p->objects.size(); ++i)
    if (IsPolicy(p->objects[i])) p->policies[i] = {ObjectKey(p->objects[i]), model::ToYaml(p->objects[i])};
  return *p;
}

// Feeds the policy world to `views`, as the server feeds it. When `whole` is
// given, it gets the world as one view (the naive alternative: what every
// node would get).
template <typename Views>
void FeedPolicyWorld(const PolicyObjects& world, Views& views, PolicyViews::View* whole = nullptr) {
  PolicyViews::View ignored;
  if (!whole) whole = &ignored;
  for (size_t i = 0; i < world.objects.size(); ++i) {
    const model::Object& o = world.objects[i];
    if (auto* ns = std::get_if<model::Namespace>(&o)) {
      views.UpsertNamespace(ns->meta.name, ns->meta.labels);
      (*whole)["ns/" + ns->meta.name] = EncodeLabels(ns->meta.labels);
    } else if (auto* set = std::get_if<model::NetworkSet>(&o)) {
      const policy::NetworkSet n = policy::NetworkSetFromObject(*set);
      views.UpsertNetworkSet(n);
      (*whole)["netset/" + n.namespace_ + "/" + n.name] = Encode(n);
    } else if (IsPolicy(o)) {
      const auto& [key, manifest] = world.policies.at(i);
      if (Status s = views.UpsertPolicy(key, o, manifest); !s.ok()) {
        std::fprintf(stderr, "%s: %s\n", key.c_str(), s.ToString().c_str());
        std::abort();
      }
      (*whole)["policy/" + key] = Bytes(manifest.begin(), manifest.end());
    }
  }
}

// Pods as the server makes endpoints of them: 3 per node, addresses from the
// node's /24 of 10.0.0.0/8, the gateway with its named port; `node_of` gets
// each one's node.
std::vector<policy::Endpoint> BuildingEndpoints(int nodes, std::vector<std::string>* node_of) {
  std::vector<policy::Endpoint> endpoints;
  for (int i = 1; i <= nodes; ++i) {
    const uint32_t base = *ParseIpv4("10.0.0.0") + static_cast<uint32_t>(i - 1) * 256 + 2;
    for (int j = 0; j < kPodsPerNode; ++j) {
      policy::Endpoint e;
      e.namespace_ = FloorName(FloorOf(i));
      e.name = (j == 0 ? "gateway-" : "inference-") + std::to_string(i) + "-" + std::to_string(j);
      e.labels = {{"app", j == 0 ? "gateway" : "inference"}, {"rev", "a"}};
      e.ips = {base + static_cast<uint32_t>(j)};
      if (j == 0) e.ports.push_back({"mqtt", policy::kTcp, 1883});
      endpoints.push_back(std::move(e));
      node_of->push_back(NodeName(i));
    }
  }
  return endpoints;
}

using ReferenceViews = testing::ReferencePolicyViews;

// The building with every pod, its views computed once; `Views` is
// PolicyViews or the reference full recompute.
template <typename Views>
struct PolicyWorld {
  int nodes = 0, floors = 0;
  Views views;
  std::vector<policy::Endpoint> endpoints;
  std::vector<std::string> node_of;  // per endpoint
  // The naive alternative: the whole policy world, as one view every node gets.
  PolicyViews::View whole;
  // Wall time to feed the policy world (parsed beforehand: the YAML loader
  // is not what is measured), to feed the pods, and to compute every view
  // the first time.
  double policies_s = 0, pods_s = 0, first_compute_s = 0;

  explicit PolicyWorld(int n) : nodes(n), floors(FloorsFor(n)) {
    const PolicyObjects& world = PolicyObjectsFor(floors);
    const auto t0 = Clock::now();
    FeedPolicyWorld(world, views, &whole);
    policies_s = SecondsSince(t0);
    endpoints = BuildingEndpoints(nodes, &node_of);
    for (const policy::Endpoint& e : endpoints) whole["ep/" + e.Key()] = Encode(e);
    const auto t1 = Clock::now();
    for (size_t i = 0; i < endpoints.size(); ++i) views.UpsertEndpoint(endpoints[i], node_of[i]);
    pods_s = SecondsSince(t1);
    const auto t2 = Clock::now();
    views.Compute();
    first_compute_s = SecondsSince(t2);
  }
};

template <typename Views>
PolicyWorld<Views>& World(int nodes) {
  static std::map<int, std::unique_ptr<PolicyWorld<Views>>> worlds;
  auto& w = worlds[nodes];
  if (!w) w = std::make_unique<PolicyWorld<Views>>(nodes);
  return *w;
}

// Compute after one pod's labels change (a label no selector reads, so only
// the views holding that endpoint change: its floor's).
template <typename Views>
void ComputeAfterRelabel(benchmark::State& state, PolicyWorld<Views>& w) {
  policy::Endpoint& e = w.endpoints.front();  // the world's, so that every relabel is a change
  size_t changed = 0;
  for (auto _ : state) {
    e.labels["rev"] = e.labels["rev"] == "a" ? "b" : "a";
    w.views.UpsertEndpoint(e, w.node_of.front());
    changed += w.views.Compute().size();
  }
  state.counters["pods"] = static_cast<double>(w.endpoints.size());
  state.counters["policies"] = static_cast<double>(w.floors + 3);
  state.counters["nodes_changed"] = static_cast<double>(changed) / static_cast<double>(state.iterations());
  state.counters["policies_s"] = w.policies_s;
  state.counters["pods_s"] = w.pods_s;
  state.counters["first_compute_s"] = w.first_compute_s;
}

void BM_PolicyViews_ComputeAfterRelabel(benchmark::State& state) {
  PolicyWorld<PolicyViews>& w = World<PolicyViews>(static_cast<int>(state.range(0)));
  ComputeAfterRelabel(state, w);
  size_t total = 0, largest = 0, with_view = 0;
  for (int i = 1; i <= w.nodes; ++i) {
    const size_t bytes = BytesOf(w.views.ViewOf(NodeName(i)));
    total += bytes;
    largest = std::max(largest, bytes);
    with_view += bytes > 0;
  }
  const double whole = static_cast<double>(BytesOf(w.whole));
  const double mean = static_cast<double>(total) / static_cast<double>(with_view);
  state.counters["view_bytes_total"] = static_cast<double>(total);
  state.counters["view_bytes_per_node"] = mean;
  state.counters["view_bytes_max"] = static_cast<double>(largest);
  // The baseline: every node gets the whole world.
  state.counters["world_bytes_per_node"] = whole;
  state.counters["world_bytes_total"] = whole * w.nodes;
  state.counters["world_over_view"] = whole / mean;
}
BENCHMARK(BM_PolicyViews_ComputeAfterRelabel)
    ->Arg(100)->Arg(1000)->Arg(5000)->Arg(10000)->Unit(benchmark::kMicrosecond);

// The baseline: the full recompute, on the same change.
void BM_PolicyViews_Reference_ComputeAfterRelabel(benchmark::State& state) {
  ComputeAfterRelabel(state, World<ReferenceViews>(static_cast<int>(state.range(0))));
}
BENCHMARK(BM_PolicyViews_Reference_ComputeAfterRelabel)
    ->Arg(100)->Arg(1000)->Arg(5000)->Arg(10000)->Unit(benchmark::kMillisecond);

// The building's policy world, then its pods one at a time, each followed by
// a Compute: what the server does as pods report their addresses.
template <typename Views>
void BringUpPodByPod(benchmark::State& state) {
  const int nodes = static_cast<int>(state.range(0));
  std::vector<std::string> node_of;
  const std::vector<policy::Endpoint> endpoints = BuildingEndpoints(nodes, &node_of);
  const PolicyObjects& world = PolicyObjectsFor(FloorsFor(nodes));
  size_t changed = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto views = std::make_unique<Views>();
    FeedPolicyWorld(world, *views);
    views->Compute();
    state.ResumeTiming();
    for (size_t i = 0; i < endpoints.size(); ++i) {
      views->UpsertEndpoint(endpoints[i], node_of[i]);
      changed += views->Compute().size();
    }
    state.PauseTiming();
    views.reset();
    state.ResumeTiming();
  }
  const double pods = static_cast<double>(endpoints.size()) * static_cast<double>(state.iterations());
  state.counters["pods"] = static_cast<double>(endpoints.size());
  state.counters["nodes_changed_per_pod"] = static_cast<double>(changed) / pods;
  state.counters["per_pod"] = benchmark::Counter(pods, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
void BM_PolicyViews_BringUpPodByPod(benchmark::State& state) { BringUpPodByPod<PolicyViews>(state); }
void BM_PolicyViews_Reference_BringUpPodByPod(benchmark::State& state) { BringUpPodByPod<ReferenceViews>(state); }
BENCHMARK(BM_PolicyViews_BringUpPodByPod)
    ->Arg(100)->Arg(1000)->Arg(5000)->Arg(10000)->Iterations(1)->Unit(benchmark::kMillisecond);
// 3,000 full recomputes of 52 ms each would take minutes at 1,000 nodes.
BENCHMARK(BM_PolicyViews_Reference_BringUpPodByPod)->Arg(100)->Iterations(1)->Unit(benchmark::kMillisecond);

// What an agent pays to compile what it receives: one node's view, or (the
// baseline) the whole world. From scratch (as after a join), or with the
// policy manifests already parsed in the agent's ManifestCache (as on a
// change that leaves them alone, like a pod relabelled).
void CompileBench(benchmark::State& state, bool whole_world, bool cached) {
  PolicyWorld<PolicyViews>& w = World<PolicyViews>(static_cast<int>(state.range(0)));
  const PolicyViews::View& view = whole_world ? w.whole : w.views.ViewOf(w.node_of.front());
  ManifestCache cache;
  size_t endpoints = 0, programs = 0;
  for (auto _ : state) {
    StatusOr<std::unique_ptr<CompiledView>> compiled = CompileView(view, cached ? &cache : nullptr);
    if (!compiled.ok()) {
      state.SkipWithError(compiled.status().ToString().c_str());
      return;
    }
    endpoints = (*compiled)->inventory.endpoints().size();
    programs = (*compiled)->classifier->program_count();
    state.PauseTiming();
    compiled->reset();  // freeing it is not the agent's compile cost
    state.ResumeTiming();
  }
  state.counters["view_bytes"] = static_cast<double>(BytesOf(view));
  state.counters["endpoints"] = static_cast<double>(endpoints);
  state.counters["programs"] = static_cast<double>(programs);
}
void BM_CompileView_NodeView(benchmark::State& state, bool cached) { CompileBench(state, false, cached); }
void BM_CompileView_WholeWorld(benchmark::State& state, bool cached) { CompileBench(state, true, cached); }
BENCHMARK_CAPTURE(BM_CompileView_NodeView, fresh, false)->Arg(100)->Arg(1000)->Arg(5000)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_CompileView_NodeView, cached, true)->Arg(100)->Arg(1000)->Arg(5000)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_CompileView_WholeWorld, fresh, false)->Arg(100)->Arg(1000)->Arg(5000)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_CompileView_WholeWorld, cached, true)->Arg(100)->Arg(1000)->Arg(5000)->Unit(benchmark::kMillisecond);

// ---- 2. Bring-up --------------------------------------------------------------

// A server (node 0) and `nodes` agents on one TestLoop (tests/cluster/harness.h).
std::unique_ptr<testing::Cluster> MakeCluster(int nodes) {
  testing::ClusterOptions o;
  o.nodes = nodes;
  o.floors = FloorsFor(nodes);
  o.node = EdgeNode;
  // The default 10.42.0.0/16 with a /24 per node holds 256 nodes.
  if (nodes > 250) o.server.cluster_cidr = "10.0.0.0/8";
  return std::make_unique<testing::Cluster>(1, o);
}

void BM_BringUp_Cluster(benchmark::State& state) {
  const int nodes = static_cast<int>(state.range(0));
  const int floors = FloorsFor(nodes);
  const int want = nodes * kPodsPerNode;
  const std::string manifests = PolicyManifests(floors) + WorkloadManifests(floors);
  double wall = 0, join_wall = 0, sim_joined = 0, sim_running = 0, sim_apply_to_running = 0;
  uint64_t events = 0, events_joined = 0, chunks = 0;
  int running = 0;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    auto c = MakeCluster(nodes);
    c->Start();
    if (c->JoinedCount() != nodes) {
      state.SkipWithError("the agents did not all join");
      return;
    }
    join_wall += SecondsSince(t0);
    events_joined += c->loop().stats().events_run;
    sim_joined += ToSeconds(c->loop().now().time_since_epoch());
    const Time applied_at = c->loop().now();
    if (ApplyResult r = c->Apply(manifests); !r.status.ok()) {
      state.SkipWithError(r.status.ToString().c_str());
      return;
    }
    // The server records cluster.apply_to_running_s at the instant every pod
    // it holds is Running; only the new samples are read at each step
    // (listing every pod through Server::Pods() every 20 ms took 6% of the run).
    const std::vector<MetricSample>& samples = c->loop().sink().samples();
    size_t seen = 0;
    std::optional<MetricSample> done;
    const bool all = c->RunUntil(
        [&] {
          for (; seen < samples.size() && !done; ++seen)
            if (samples[seen].name == "cluster.apply_to_running_s") done = samples[seen];
          return done.has_value();
        },
        std::chrono::minutes(10));
    wall += SecondsSince(t0);
    running = c->RunningCount();
    if (!all || running != want) {
      state.SkipWithError(("only " + std::to_string(running) + " of " + std::to_string(want) + " pods Running").c_str());
      return;
    }
    events += c->loop().stats().events_run;
    sim_running += ToSeconds(done->time.time_since_epoch());
    sim_apply_to_running += ToSeconds(done->time - applied_at);
    chunks += c->server().stats().view_chunks_sent;
    state.PauseTiming();
    c.reset();
    state.ResumeTiming();
  }
  const double n = static_cast<double>(state.iterations());
  state.counters["pods"] = want;
  state.counters["wall_s"] = wall / n;
  state.counters["join_wall_s"] = join_wall / n;
  state.counters["sim_s_joined"] = sim_joined / n;
  state.counters["sim_s_all_running"] = sim_running / n;
  state.counters["sim_s_apply_to_running"] = sim_apply_to_running / n;
  state.counters["events_run"] = static_cast<double>(events) / n;
  state.counters["events_to_join"] = static_cast<double>(events_joined) / n;
  state.counters["events_per_wall_s"] = static_cast<double>(events) / wall;
  state.counters["view_chunks_sent"] = static_cast<double>(chunks) / n;
}
BENCHMARK(BM_BringUp_Cluster)->Arg(100)->Arg(1000)->Iterations(1)->Unit(benchmark::kMillisecond);

// The baseline: the scheduler alone places the same pods on the same nodes.
void BM_BringUp_SchedulerOnly(benchmark::State& state) {
  const int nodes = static_cast<int>(state.range(0));
  const int floors = FloorsFor(nodes);
  const model::LoadResult loaded = Load(PolicyManifests(floors) + WorkloadManifests(floors), "building.yaml");
  std::vector<model::Namespace> namespaces;
  std::vector<model::Pod> pods;
  for (const model::Object& o : loaded.objects) {
    if (auto* ns = std::get_if<model::Namespace>(&o)) namespaces.push_back(*ns);
    if (auto* d = std::get_if<model::Deployment>(&o))
      for (model::Pod& p : model::ReplicaPods(*d)) pods.push_back(std::move(p));
  }
  int64_t bound = 0, decisions = 0;
  for (auto _ : state) {
    auto s = std::make_unique<sched::Scheduler>(sched::DefaultConfig(), nullptr, Random(1));
    Time now{};
    for (const auto& ns : namespaces) s->UpsertNamespace(ns, now);
    for (int i = 1; i <= nodes; ++i) s->UpsertNode(EdgeNode(i), now);
    for (const auto& p : pods)
      if (!s->AddPod(p, now).ok()) {
        state.SkipWithError("AddPod failed");
        return;
      }
    while (std::optional<sched::Decision> d = s->ScheduleOne(now)) {
      ++decisions;
      bound += d->outcome == sched::Decision::kBound;
    }
    state.PauseTiming();
    s.reset();
    state.ResumeTiming();
  }
  const double n = static_cast<double>(state.iterations());
  state.counters["pods"] = static_cast<double>(pods.size());
  state.counters["bound"] = static_cast<double>(bound) / n;
  state.counters["decisions"] = static_cast<double>(decisions) / n;
}
BENCHMARK(BM_BringUp_SchedulerOnly)->Arg(100)->Arg(1000)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace edgebed::cluster

BENCHMARK_MAIN();
