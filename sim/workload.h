// Workload models: what runs inside the simulated pods of a scenario.
//
// SimRuntime is the node agent's WorkloadRuntime in simulation (on a real
// node the agent runs processes instead). A pod takes a seeded start-up
// time, is reported Running, and then runs the scenario's workloads whose
// pod match (namespace glob + selector) it fits:
//
//   sensor     a gateway of `sensors` sensors, each reading every `interval`
//              (together a Poisson stream), published over one TCP
//              connection to a pod of its target (MQTT-like, fire and forget);
//   broker     takes readings on its pod's ports, spends cpu_per_message on
//              its node's cpu, writes them to its volume every persist_every
//              (block writes through the storage engine), and forwards a
//              share to a pod of each forward_to target;
//   stream     takes messages, spends cpu on each, counts them per window;
//   inference  reads its model from a (shared) volume before serving, then
//              per request reads one model block, spends a service_time
//              drawn from its distribution on the node's cpu, and answers;
//   batch      runs to completion, as a Job's pod does: reads its input
//              blocks from a volume (if any), spends `cpu` on the node's
//              cpu, and the pod is reported Succeeded (under restartPolicy
//              Always the container runs again instead, as a kubelet
//              restarts it), counting jobs_done and each run's job_s.
//
// Cpu: each node's cores (its allocatable cpu) serve work in arrival order,
// so a busy node makes every workload on it slower. Memory: each running
// workload holds what the scenario says; the node's total is sampled.
//
// Every message travels the node's PodNetwork, through the policy dataplane
// at both ends. What happens is counted in WorkloadStats, which the
// simulation samples into the results database.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/cluster/runtime.h"
#include "core/env/env.h"
#include "core/policy/selector.h"
#include "sim/pod_network.h"
#include "sim/scenario.h"

namespace edgebed::sim {

// The pods workloads can reach: Running on a Ready node, as the control
// plane last said (kube-proxy's endpoints, refreshed by the simulation).
class Directory {
 public:
  struct Pod {
    std::string namespace_, name;
    model::Labels labels;
    uint32_t ip = 0;
  };
  void Replace(std::vector<Pod> pods);  // any order
  // The pods of a match, by namespace/name. Valid until the next Replace.
  const std::vector<const Pod*>& Find(const PodMatch& match) const;
  size_t size() const { return pods_.size(); }

 private:
  std::vector<Pod> pods_;  // sorted by namespace/name
  mutable std::map<std::string, policy::Selector> selectors_;
  // Answers since the last Replace, by (namespace glob, selector).
  mutable std::map<std::pair<std::string, std::string>, std::vector<const Pod*>> found_;
};

// A node's cores, first come first served, and the memory its workloads hold.
class NodeResources {
 public:
  NodeResources(Env& env, double cores);
  ~NodeResources();
  // Runs `done` once `cost` of one core's time has been spent on it.
  void Run(Duration cost, std::function<void()> done);
  // Core-seconds of work finished or under way since the start.
  double busy_core_seconds() const;
  double cores() const { return cores_; }
  size_t queued() const { return queue_.size(); }
  int64_t memory_bytes = 0;

 private:
  void StartNext();
  Env& env_;
  double cores_;
  int busy_ = 0;
  struct Job {
    Duration cost;
    std::function<void()> done;
  };
  std::vector<Job> queue_;  // FIFO from queue_head_
  size_t queue_head_ = 0;
  double finished_core_seconds_ = 0;
  std::map<uint64_t, TimerId> running_;
  uint64_t next_job_ = 1;
};

// Counters and latencies of every workload of a run, by workload name.
struct WorkloadCounters {
  uint64_t messages_sent = 0, messages_received = 0;
  uint64_t forwarded = 0, requests_done = 0;
  uint64_t connect_failures = 0, no_target = 0;
  uint64_t volume_writes = 0, volume_write_errors = 0, volume_reads = 0, volume_read_errors = 0;
  uint64_t models_loaded = 0;
  uint64_t jobs_done = 0;          // batch: runs completed
  // Since the last sample (the simulation takes and clears them).
  std::vector<double> publish_ms;  // sensor -> broker
  std::vector<double> e2e_ms;      // sensor -> broker -> inference answered
  std::vector<double> write_ms;    // a broker's volume write, acknowledged
  std::vector<double> model_load_s;
  std::vector<double> job_s;       // batch: start to completion of each run
  uint64_t window_messages = 0;    // stream: messages of windows closed since
};
struct WorkloadStats {
  std::map<std::string, WorkloadCounters> by_workload;
};

class WorkloadModel;

// The WorkloadRuntime of one simulated node.
class SimRuntime final : public cluster::WorkloadRuntime {
 public:
  // Everything given outlives the runtime.
  // `place`: the node's variables (PlaceOf), which workload targets may use.
  SimRuntime(Env& env, const Scenario& scenario, std::map<std::string, std::string> place, PodNetwork& net,
             NodeResources& resources, const Directory& directory, WorkloadStats& stats);
  ~SimRuntime() override;
  void SetReporter(Reporter reporter) override { reporter_ = std::move(reporter); }
  void Start(const cluster::PodRun& run) override;
  void Stop(const std::string& pod_key) override;
  size_t running_models() const;

 private:
  struct Pod {
    cluster::PodRun run;  // the models point into it
    TimerId start = kNoTimer;
    uint32_t ip = 0;
    std::vector<std::unique_ptr<WorkloadModel>> models;
    int batch_running = 0;  // batch models not done yet
  };
  void Launch(const std::string& key);
  void BatchDone(const std::string& key);

  Env& env_;
  const Scenario& scenario_;
  const std::map<std::string, std::string> place_;
  PodNetwork& net_;
  NodeResources& resources_;
  const Directory& directory_;
  WorkloadStats& stats_;
  Reporter reporter_;
  std::map<std::string, Pod> pods_;
};

}  // namespace edgebed::sim
