// WorkloadRuntime: how a node agent runs the pods bound to its node.
//
// The agent hands the runtime a pod to start and later, maybe, to stop; the
// runtime reports each pod's phase back through the reporter it was given
// (asynchronously, on the node's thread). In simulation the runtime runs
// workload models; on a real node it runs processes. ModelRuntime here is the
// plainest model: a container takes a seeded start-up time (image pull and
// start), then runs until stopped — or, for a pod whose restartPolicy is not
// Always and that carries the annotation edgebed.io/run-seconds, runs that
// long and exits, with the code edgebed.io/exit-code says (0 when absent),
// or 1 for each of its first edgebed.io/failures runs. Exit 0 completes the
// pod (Succeeded). Any other code fails it under restartPolicy Never
// (Failed, reason Error); under OnFailure the container is restarted in
// place as the kubelet does, after its crash-loop back-off (10 s, doubling
// per restart, at most 5 min; Running, reason CrashLoopBackOff, meanwhile),
// and the pod's restart count goes up by one when it starts again.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/cluster/records.h"
#include "core/env/env.h"
#include "core/model/objects.h"

namespace edgebed::cluster {

// Block I/O on the volumes a node's pods mount, wherever their data lives.
class VolumeAccess {
 public:
  using WriteDone = std::function<void(Status)>;
  using ReadDone = std::function<void(StatusOr<Bytes>)>;
  virtual ~VolumeAccess() = default;
  virtual void Write(const std::string& volume, uint32_t block, Bytes data, WriteDone done) = 0;
  virtual void Read(const std::string& volume, uint32_t block, ReadDone done) = 0;
};

struct PodRun {
  model::Pod pod;  // spec.nodeName and status.podIP set
  std::vector<VolumeMount> volumes;
  VolumeAccess* io = nullptr;  // the agent's; outlives the pod
  std::string key() const { return pod.meta.namespace_ + "/" + pod.meta.name; }
};

class WorkloadRuntime {
 public:
  using Reporter = std::function<void(const std::string& pod_key, const PodReport& report)>;
  virtual ~WorkloadRuntime() = default;
  // Set once by the agent before any Start.
  virtual void SetReporter(Reporter reporter) = 0;
  virtual void Start(const PodRun& run) = 0;
  // Stops the pod and forgets it; no report follows.
  virtual void Stop(const std::string& pod_key) = 0;
};

struct ModelRuntimeOptions {
  Duration min_start = std::chrono::milliseconds(500);
  Duration max_start = std::chrono::seconds(2);
};

class ModelRuntime final : public WorkloadRuntime {
 public:
  ModelRuntime(Env& env, ModelRuntimeOptions options = {});
  ~ModelRuntime() override;
  void SetReporter(Reporter reporter) override { reporter_ = std::move(reporter); }
  void Start(const PodRun& run) override;
  void Stop(const std::string& pod_key) override;
  std::vector<std::string> running() const;  // keys of pods started and not stopped

 private:
  struct Pod {
    std::vector<TimerId> timers;
    Duration run{};           // how long each run of the container lasts
    bool restart_in_place = false;  // restartPolicy OnFailure
    int exit_code = 0;        // what a run ends with, past the failures
    int failures = 0;         // runs that end with a failure first
    int runs = 0;
    uint32_t restarts = 0;
  };
  void Exit(const std::string& key);
  Env& env_;
  ModelRuntimeOptions options_;
  Reporter reporter_;
  std::map<std::string, Pod> pods_;
};

}  // namespace edgebed::cluster
