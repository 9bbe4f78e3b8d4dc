// PrometheusSink: a real node's metrics, served in the Prometheus text format
// (version 0.0.4) at the API's /metrics.
//
// The core records the same samples and events on a real node as in
// simulation (Env::RecordMetric, Env::RecordEvent); this sink keeps, for
// every metric name and label set, the last value, how many samples came
// and their sum, and counts events by kind:
//
//   cluster.pod_startup_s{node=a} 1.5   ->  edgebed_cluster_pod_startup_s{node="a"} 1.5
//                                           edgebed_cluster_pod_startup_s_samples_total{node="a"} 1
//                                           edgebed_cluster_pod_startup_s_sum{node="a"} 1.5
//   event cluster.node_joined           ->  edgebed_events_total{kind="cluster.node_joined"} 1
//
// Every event also goes on to `next` (the log), samples too when
// `log_samples`. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "core/env/env.h"

namespace edgebed::host {

class PrometheusSink final : public MetricsSink {
 public:
  explicit PrometheusSink(MetricsSink* next = nullptr, bool log_samples = false)
      : next_(next), log_samples_(log_samples) {}

  void Record(const MetricSample& sample) override;
  void Event(const EventRecord& event) override;

  // The exposition text, sorted by name and labels, so equal state renders
  // equal bytes.
  std::string Render() const;

 private:
  struct Series {
    double last = 0, sum = 0;
    uint64_t count = 0;
  };
  MetricsSink* next_;
  bool log_samples_;
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, Series> series_;  // (name, labels)
  std::map<std::string, uint64_t> events_;
};

// "a.b-c" -> "edgebed_a_b_c": a valid Prometheus metric name.
std::string PrometheusName(const std::string& dotted);
// "k=v,k2=v2" -> k="v",k2="v2", with values escaped.
std::string PrometheusLabels(const std::string& labels);

}  // namespace edgebed::host
