// The scheduler: pods placed per second on kube-scheduler's own benchmark
// workloads (scheduler_perf, test/integration/scheduler_perf/config/
// performance-config.yaml upstream), against the naive ReferenceScheduler
// (core/sched/reference.h) on the same cluster in the same run, and the memory
// the scheduler's cache takes per node and per pod.
//
// Each workload is a cluster of nodes shaped like upstream's node-default.yaml
// (cpu 4, memory 32Gi, pods 110), some pods already bound to them
// (spec.nodeName set, spread evenly) and pods to place, shaped like upstream's
// pod templates. One iteration builds the cluster (untimed), then times only
// the loop a control plane runs: ScheduleOne until no pod is ready, evicting
// the victims of every preemption and, when only backoffs are left, moving
// the clock to the next one.
//
// Upstream's CI floors (ci-benchmark-scheduler-perf, pods/s on its
// integration cluster, for comparison only): SchedulingBasic 5,000 nodes
// ~680 pods/s; the affinity workloads (node affinity, pod anti-affinity,
// topology spreading) 35-60 pods/s.
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/env/random.h"
#include "core/model/objects.h"
#include "core/sched/config.h"
#include "core/sched/reference.h"
#include "core/sched/scheduler.h"

namespace edgebed::sched {
namespace {

constexpr char kZoneKey[] = "topology.kubernetes.io/zone";
constexpr char kHostnameKey[] = "kubernetes.io/hostname";
constexpr int64_t kMi = int64_t{1024} * 1024;

enum class Shape { kBasic, kNodeAffinity, kPodAntiAffinity, kTopologySpreading, kPreemption };

// A cluster: what exists before the timed loop, and the pods it places.
struct Workload {
  std::vector<model::Namespace> namespaces;
  std::vector<model::Node> nodes;
  std::vector<model::Pod> bound;    // spec.nodeName set
  std::vector<model::Pod> pending;  // to place
};

// upstream's node-default.yaml: cpu 4, memory 32Gi, pods 110.
model::Node MakeNode(const std::string& name) {
  model::Node n;
  n.meta.name = name;
  n.meta.labels[kHostnameKey] = name;
  n.capacity["cpu"] = model::Quantity::FromUnits(4);
  n.capacity["memory"] = model::Quantity::FromUnits(32 * 1024 * kMi);
  n.capacity["pods"] = model::Quantity::FromUnits(110);
  n.allocatable = n.capacity;
  return n;
}

// upstream's pod-default.yaml: one container, requests = limits.
model::Pod MakePod(const std::string& ns, const std::string& name, int64_t cpu_milli,
                   int64_t memory_mi) {
  model::Pod p;
  p.meta.namespace_ = ns;
  p.meta.name = name;
  model::Container c;
  c.name = "pause";
  c.image = "pause:3.9";
  c.ports.push_back({"", 80, "TCP", std::nullopt});
  c.requests["cpu"] = model::Quantity::FromMilli(cpu_milli);
  c.requests["memory"] = model::Quantity::FromUnits(memory_mi * kMi);
  c.limits = c.requests;
  p.spec.containers.push_back(c);
  return p;
}

model::LabelSelector Selector(const std::string& key, const std::string& value) {
  model::LabelSelector s;
  s.match_labels[key] = value;
  return s;
}

// `nodes` nodes, `init` pods bound evenly across them, `measured` to place.
Workload MakeWorkload(Shape shape, int64_t nodes, int64_t init, int64_t measured) {
  Workload w;
  for (const char* ns : {"sched-0", "sched-1"}) {
    model::Namespace n;
    n.meta.name = ns;
    n.meta.labels["kubernetes.io/metadata.name"] = ns;
    w.namespaces.push_back(n);
  }
  const int64_t zones = shape == Shape::kNodeAffinity ? 500 : shape == Shape::kTopologySpreading ? 3 : 0;
  for (int64_t i = 0; i < nodes; ++i) {
    model::Node n = MakeNode("node-" + std::to_string(i));
    if (zones > 0) {
      n.meta.labels[kZoneKey] = shape == Shape::kTopologySpreading
                                    ? "moon-" + std::to_string(i % zones + 1)
                                    : "zone-" + std::to_string(i % zones);
    }
    w.nodes.push_back(std::move(n));
  }
  // The pod each workload places (and, for anti-affinity, also the one
  // already running: upstream creates both from the same template).
  const auto pod = [&](const std::string& ns, const std::string& name, int64_t i) {
    switch (shape) {
      case Shape::kBasic:
        return MakePod(ns, name, 100, 500);
      case Shape::kNodeAffinity: {
        // pod-with-node-affinity.yaml, one zone of 500.
        model::Pod p = MakePod(ns, name, 100, 500);
        model::NodeAffinity a;
        a.required.push_back({{{kZoneKey, "In", {"zone-" + std::to_string(i % zones)}}}, {}});
        p.spec.affinity.node_affinity = a;
        return p;
      }
      case Shape::kPodAntiAffinity: {
        // pod-with-pod-anti-affinity.yaml: one green pod per host.
        model::Pod p = MakePod(ns, name, 100, 500);
        p.meta.labels["color"] = "green";
        model::PodAffinityTerm t;
        t.label_selector = Selector("color", "green");
        t.namespaces = {"sched-0", "sched-1"};
        t.topology_key = kHostnameKey;
        model::PodAffinity anti;
        anti.required.push_back(t);
        p.spec.affinity.pod_anti_affinity = anti;
        return p;
      }
      case Shape::kTopologySpreading: {
        // pod-with-topology-spreading.yaml (upstream's maxSkew is 5; 1 here).
        model::Pod p = MakePod(ns, name, 100, 500);
        p.meta.labels["color"] = "blue";
        model::TopologySpreadConstraint c;
        c.max_skew = 1;
        c.topology_key = kZoneKey;
        c.when_unsatisfiable = "DoNotSchedule";
        c.label_selector = Selector("color", "blue");
        p.spec.topology_spread_constraints.push_back(c);
        return p;
      }
      case Shape::kPreemption: {
        // pod-high-priority.yaml: 3 cpu, priority 10.
        model::Pod p = MakePod(ns, name, 3000, 500);
        p.spec.priority = 10;
        return p;
      }
    }
    return model::Pod{};
  };
  for (int64_t i = 0; i < init; ++i) {
    const std::string name = "init-" + std::to_string(i);
    model::Pod p;
    if (shape == Shape::kPreemption) {
      // pod-low-priority.yaml: 900m, priority 0; four fill a node's cpu.
      p = MakePod("sched-0", name, 900, 500);
      p.spec.priority = 0;
    } else if (shape == Shape::kPodAntiAffinity) {
      p = pod("sched-0", name, i);
    } else {
      p = MakePod("sched-0", name, 100, 500);
    }
    p.spec.node_name = w.nodes[static_cast<size_t>(i * nodes / init)].meta.name;
    w.bound.push_back(std::move(p));
  }
  for (int64_t i = 0; i < measured; ++i) w.pending.push_back(pod("sched-1", "pod-" + std::to_string(i), i));
  return w;
}

// Resident set size, from /proc/self/statm.
int64_t Rss() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  long size = 0, resident = 0;
  const int read = std::fscanf(f, "%ld %ld", &size, &resident);
  std::fclose(f);
  return read == 2 ? static_cast<int64_t>(resident) * sysconf(_SC_PAGESIZE) : 0;
}

struct Tally {
  int64_t bound = 0, preemptions = 0, victims = 0, unschedulable = 0;
  bool runaway = false;
};

// What a control plane does: take decisions until no pod is ready, evict
// victims, wait out backoffs (a preemptor backs off 1 s after nominating).
template <typename S>
Tally Drive(S& s, Time& now, int64_t max_decisions) {
  Tally t;
  for (int64_t n = 0;; ++n) {
    if (n > max_decisions) {
      t.runaway = true;
      break;
    }
    std::optional<Decision> d = s.ScheduleOne(now);
    if (!d) {
      const std::optional<Time> next = s.NextBackoffExpiry();
      if (!next) break;
      if (*next > now) now = *next;
      continue;
    }
    switch (d->outcome) {
      case Decision::kBound:
        ++t.bound;
        break;
      case Decision::kNominated:
        ++t.preemptions;
        for (const std::string& v : d->victims) {
          const size_t slash = v.find('/');
          (void)s.RemovePod(v.substr(0, slash), v.substr(slash + 1), now);
          ++t.victims;
        }
        break;
      case Decision::kUnschedulable:
        ++t.unschedulable;
        break;
    }
  }
  return t;
}

// One workload on scheduler S: the cluster is built outside the timing, the
// loop timed. pods_per_s counts binds and preemptions (a preemptor that is
// later bound counts twice, as both decisions took a scheduling cycle).
template <typename S>
void Run(benchmark::State& state, Shape shape, int64_t nodes, int64_t init, int64_t measured) {
  const Workload w = MakeWorkload(shape, nodes, init, measured);
  Tally total;
  int64_t rss_before = 0, rss_nodes = 0, rss_pods = 0, rss_after = 0;
  double node_add_s = 0, pod_add_s = 0;
  bool first = true;
  for (auto _ : state) {
    state.PauseTiming();
    malloc_trim(0);
    const int64_t rss0 = Rss();
    auto s = std::make_unique<S>(DefaultConfig(), nullptr, Random(1));
    Time now{};
    const auto t0 = std::chrono::steady_clock::now();
    for (const auto& ns : w.namespaces) s->UpsertNamespace(ns, now);
    for (const auto& n : w.nodes) s->UpsertNode(n, now);
    const auto t1 = std::chrono::steady_clock::now();
    const int64_t rss1 = Rss();
    bool added = true;
    for (const auto& p : w.bound) added &= s->AddPod(p, now).ok();
    for (const auto& p : w.pending) added &= s->AddPod(p, now).ok();
    if (!added) {
      state.SkipWithError("AddPod failed");
      break;
    }
    const auto t2 = std::chrono::steady_clock::now();
    const int64_t rss2 = Rss();
    node_add_s += std::chrono::duration<double>(t1 - t0).count();
    pod_add_s += std::chrono::duration<double>(t2 - t1).count();
    state.ResumeTiming();

    const Tally t = Drive(*s, now, 20 * measured + 1000);

    state.PauseTiming();
    if (first) {
      rss_before = rss0, rss_nodes = rss1, rss_pods = rss2, rss_after = Rss();
      first = false;
    }
    total.bound += t.bound;
    total.preemptions += t.preemptions;
    total.victims += t.victims;
    total.unschedulable += t.unschedulable;
    total.runaway |= t.runaway;
    s.reset();
    state.ResumeTiming();
  }
  if (total.runaway) state.SkipWithError("the scheduling loop did not settle");
  const double pods = static_cast<double>(init + measured);
  const auto avg = [](int64_t v) {
    return benchmark::Counter(static_cast<double>(v), benchmark::Counter::kAvgIterations);
  };
  state.counters["pods_per_s"] =
      benchmark::Counter(static_cast<double>(total.bound + total.preemptions), benchmark::Counter::kIsRate);
  state.counters["bound"] = avg(total.bound);
  if (shape == Shape::kPreemption) {
    state.counters["preemptions"] = avg(total.preemptions);
    state.counters["victims"] = avg(total.victims);
  }
  state.counters["unschedulable"] = avg(total.unschedulable);
  // Setting the cluster up, untimed: microseconds per UpsertNode / AddPod.
  const double iterations = static_cast<double>(state.iterations());
  state.counters["node_add_us"] = node_add_s * 1e6 / iterations / static_cast<double>(nodes);
  state.counters["pod_add_us"] = pod_add_s * 1e6 / iterations / pods;
  state.counters["bytes_per_node"] = static_cast<double>(rss_nodes - rss_before) / static_cast<double>(nodes);
  state.counters["bytes_per_pod"] = static_cast<double>(rss_pods - rss_nodes) / pods;
  // After the loop: placed pods carry their share of the counts kept per node
  // and per topology domain.
  state.counters["bytes_per_pod_placed"] = static_cast<double>(rss_after - rss_nodes) / pods;
}

void BM_Edgebed(benchmark::State& state, Shape shape, int64_t nodes, int64_t init, int64_t measured) {
  Run<Scheduler>(state, shape, nodes, init, measured);
}
void BM_Reference(benchmark::State& state, Shape shape, int64_t nodes, int64_t init, int64_t measured) {
  Run<ReferenceScheduler>(state, shape, nodes, init, measured);
}

// Each workload as upstream's (nodes, pods already there, pods to place);
// the reference places far fewer pods on the same cluster, each of its
// attempts scanning every node and pod. One iteration each: building a
// cluster of thousands of nodes takes far longer than placing its pods (use
// --benchmark_repetitions for more samples).
#define SCHED_BENCH(name, shape, nodes, init, measured, reference_measured)  \
  BENCHMARK_CAPTURE(BM_Edgebed, name, shape, nodes, init, measured)          \
      ->Unit(benchmark::kMillisecond)                                        \
      ->Iterations(1);                                                       \
  BENCHMARK_CAPTURE(BM_Reference, name, shape, nodes, init, reference_measured) \
      ->Unit(benchmark::kMillisecond)                                        \
      ->Iterations(1)

SCHED_BENCH(SchedulingBasic_5000Nodes, Shape::kBasic, 5000, 1000, 10000, 500);
SCHED_BENCH(SchedulingNodeAffinity_5000Nodes, Shape::kNodeAffinity, 5000, 1000, 5000, 300);
SCHED_BENCH(SchedulingPodAntiAffinity_5000Nodes, Shape::kPodAntiAffinity, 5000, 1000, 1000, 300);
SCHED_BENCH(TopologySpreading_5000Nodes, Shape::kTopologySpreading, 5000, 5000, 2000, 200);
SCHED_BENCH(Preemption_500Nodes, Shape::kPreemption, 500, 2000, 500, 100);
SCHED_BENCH(SchedulingBasic_10000Nodes, Shape::kBasic, 10000, 1000, 10000, 300);

}  // namespace
}  // namespace edgebed::sched

BENCHMARK_MAIN();
