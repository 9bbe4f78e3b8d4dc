#include "core/cluster/runtime.h"

#include <algorithm>
#include <cstdlib>

namespace edgebed::cluster {

ModelRuntime::ModelRuntime(Env& env, ModelRuntimeOptions options) : env_(env), options_(options) {}

ModelRuntime::~ModelRuntime() {
  for (auto& [key, pod] : pods_)
    for (TimerId t : pod.timers) env_.Cancel(t);
}

void ModelRuntime::Start(const PodRun& run) {
  const std::string key = run.key();
  Stop(key);
  Pod& pod = pods_[key];
  Duration start = env_.random().UniformDuration(options_.min_start, options_.max_start);
  pod.timers.push_back(env_.Schedule(start, [this, key] {
    if (reporter_) reporter_(key, PodReport{PodPhase::kRunning, "Started", 0});
  }));
  const model::Labels& notes = run.pod.meta.annotations;
  auto it = notes.find("edgebed.io/run-seconds");
  if (it == notes.end() || run.pod.spec.restart_policy == "Always") return;
  const double seconds = std::atof(it->second.c_str());
  if (!(seconds >= 0)) return;
  pod.run = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(seconds));
  pod.restart_in_place = run.pod.spec.restart_policy == "OnFailure";
  if (auto code = notes.find("edgebed.io/exit-code"); code != notes.end()) pod.exit_code = std::atoi(code->second.c_str());
  if (auto f = notes.find("edgebed.io/failures"); f != notes.end()) pod.failures = std::max(0, std::atoi(f->second.c_str()));
  pod.timers.push_back(env_.Schedule(start + pod.run, [this, key] { Exit(key); }));
}

void ModelRuntime::Exit(const std::string& key) {
  auto it = pods_.find(key);
  if (it == pods_.end()) return;
  Pod& pod = it->second;
  ++pod.runs;
  const int code = pod.runs <= pod.failures ? (pod.exit_code != 0 ? pod.exit_code : 1) : pod.exit_code;
  if (code == 0) {
    if (reporter_) reporter_(key, PodReport{PodPhase::kSucceeded, "Completed", pod.restarts});
    return;
  }
  if (!pod.restart_in_place) {
    if (reporter_) reporter_(key, PodReport{PodPhase::kFailed, "Error", pod.restarts, code});
    return;
  }
  // The kubelet's crash-loop back-off: 10 s, doubled for each restart, capped at 5 minutes.
  const Duration backoff = std::min<Duration>(std::chrono::seconds(10) * (int64_t{1} << std::min<uint32_t>(pod.restarts, 10)),
                                              std::chrono::minutes(5));
  if (reporter_) reporter_(key, PodReport{PodPhase::kRunning, "CrashLoopBackOff", pod.restarts, code});
  pod.timers.push_back(env_.Schedule(backoff, [this, key] {
    auto again = pods_.find(key);
    if (again == pods_.end()) return;
    ++again->second.restarts;
    if (reporter_) reporter_(key, PodReport{PodPhase::kRunning, "Started", again->second.restarts});
    again->second.timers.push_back(env_.Schedule(again->second.run, [this, key] { Exit(key); }));
  }));
}

void ModelRuntime::Stop(const std::string& pod_key) {
  auto it = pods_.find(pod_key);
  if (it == pods_.end()) return;
  for (TimerId t : it->second.timers) env_.Cancel(t);
  pods_.erase(it);
}

std::vector<std::string> ModelRuntime::running() const {
  std::vector<std::string> out;
  for (const auto& [key, pod] : pods_) out.push_back(key);
  return out;
}

}  // namespace edgebed::cluster
