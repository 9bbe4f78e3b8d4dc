#include "core/cluster/runtime.h"

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
  auto it = run.pod.meta.annotations.find("edgebed.io/run-seconds");
  if (it != run.pod.meta.annotations.end() && run.pod.spec.restart_policy != "Always") {
    double seconds = std::atof(it->second.c_str());
    if (seconds >= 0)
      pod.timers.push_back(env_.Schedule(start + std::chrono::duration_cast<Duration>(
                                                     std::chrono::duration<double>(seconds)),
                                         [this, key] {
                                           if (reporter_)
                                             reporter_(key, PodReport{PodPhase::kSucceeded, "Completed", 0});
                                         }));
  }
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
