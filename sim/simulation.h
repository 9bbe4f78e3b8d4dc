// Simulation: one scenario run — the real cluster (core/cluster: server,
// agents, scheduler, storage, policy) on an ns-3 topology (sim/topology.h),
// with the scenario's workloads in its pods and its faults on its timeline,
// every metric and event into a MetricsSink (the results database).
//
//   Simulation sim(scenario, db, {});
//   StatusOr<SimulationSummary> s = sim.Run();
//
// A run: the server starts on its machine and every node's agent joins
// (each boots at a seeded moment of the first seconds); once all have joined
// (or a minute has passed) the scenario's manifests are applied in order;
// pods start and run their workloads; faults strike and are undone when
// their time is up. Every metrics_interval the run samples the cluster (pods
// by phase, nodes Ready), policy (flows allowed and denied, IDS alerts), the
// workloads (messages, latency quantiles sensor -> broker and end to end,
// volume writes), storage (replicas in and out of sync), links (utilisation
// by level) and nodes (cpu, memory). After each fault starts and after it is
// undone, the run measures how long the cluster takes to be whole again
// (every up node Ready, every pod Running on an up node): sim.fault_recovery_s
// — after its start only once the cluster was seen broken, after its undoing
// always (0 s when nothing was left to mend).
//
// Determinism: the same scenario and seed give the same samples and events,
// byte for byte (wall-clock facts go only to the progress callback).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/env/env.h"
#include "sim/scenario.h"
#include "sim/topology.h"

namespace edgebed::sim {

struct Progress {
  Time now;           // simulated
  Duration duration;  // of the whole run
  uint64_t events = 0;
  int nodes_joined = 0, pods_running = 0, pods_total = 0;  // pods that finished are in neither
};

struct SimulationOptions {
  Routing routing = Routing::kTree;
  // Called every progress_step of simulated time (from the simulation's thread).
  std::function<void(const Progress&)> on_progress;
  Duration progress_step = std::chrono::seconds(1);
};

struct FaultReport {
  std::string fault;  // Describe()
  Time at;
  std::optional<Time> undone;
  // From the fault (or from its undoing, when it is undone) to the cluster
  // whole again; empty if it never was before the next fault or the end.
  std::optional<Duration> recovery;
};

struct QuantileSummary {
  uint64_t count = 0;
  double p50 = 0, p99 = 0, max = 0;
};

struct SimulationSummary {
  size_t nodes = 0, routers = 0;
  uint64_t events = 0;
  Duration joined_after{0};  // every agent joined
  std::optional<Duration> all_running_after;  // from the apply to every pod Running
  // Pods that should be running, and those that ran to their end (a Job's).
  int pods_total = 0, pods_running = 0, pods_finished = 0, nodes_ready = 0;
  std::vector<std::string> apply_errors;
  uint64_t flows_allowed = 0, flows_denied = 0, ids_alerts = 0;
  uint64_t messages_sent = 0, messages_received = 0, inference_requests = 0;
  QuantileSummary publish_ms, e2e_ms, volume_write_ms;
  uint64_t volume_writes = 0, volume_write_errors = 0;
  // Volumes with a cloud snapshot schedule: the recovery point in the cloud
  // (storage.cloudsnap_rpo_s), the largest over them at the last sample and
  // the largest sampled after each one's first backup (before it, the age
  // of the schedule is not a recovery point the schedule promised).
  int cloud_volumes = 0;
  std::optional<double> rpo_end_s, rpo_worst_s;
  std::vector<FaultReport> faults;
};

class Simulation {
 public:
  // `scenario` and `sink` must outlive the simulation.
  Simulation(const Scenario& scenario, MetricsSink& sink, SimulationOptions options = {});
  ~Simulation();
  Simulation(const Simulation&) = delete;
  Simulation& operator=(const Simulation&) = delete;

  // Builds the topology and runs the whole duration. Errors: a topology
  // that does not fit the address plan, a server that cannot start.
  StatusOr<SimulationSummary> Run();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgebed::sim
