// Intrusion detection from flow records, as a node's dataplane sees them.
//
//   IntrusionDetector ids(IdsOptions{}, &env.metrics());
//   ids.Observe(flow);          // every new connection, allowed or denied
//   ids.Tick(env.now());        // closes profile windows; call every second or so
//
// Three detectors:
// - a port scan: one source reaching many ports of one destination within a
//   window (a vertical scan);
// - an IP sweep: one source reaching many destinations on one port within a
//   window (a horizontal scan);
// - a departure from a workload's learned profile: per workload, windows of
//   traffic become feature vectors (connections, distinct peers, distinct
//   ports, bytes, denied connections, external peers); after a training
//   period their mean and covariance are the profile, and a later window
//   whose squared Mahalanobis distance exceeds the chi-square quantile of
//   the configured confidence is an alert, with the feature that strayed most.
// Every alert is an event ("policy.ids_alert") with its evidence, and is
// raised once per episode: a scanner is not reported again until it has been
// quiet for a window.
//
// Deterministic: time comes from the flow records and Tick(), never a clock.
#pragma once

#include <Eigen/Dense>

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/env/env.h"
#include "core/policy/inventory.h"

namespace edgebed::policy {

struct FlowRecord {
  Time time;
  uint32_t src = 0, dst = 0;
  uint8_t protocol = kTcp;
  uint16_t dst_port = 0;
  uint64_t bytes = 0;
  bool allowed = true;
  std::string workload;  // the local workload it belongs to ("ns/app"), for profiles
  bool external = false;  // the peer is outside the cluster
};

struct IdsOptions {
  Duration scan_window = std::chrono::seconds(60);
  size_t port_scan_ports = 20;       // distinct ports of one destination
  size_t sweep_hosts = 20;           // distinct destinations on one port
  size_t max_tracked_sources = 65536;  // beyond it, the quietest source is forgotten
  Duration profile_window = std::chrono::seconds(10);
  size_t training_windows = 30;      // windows to learn from before judging
  double confidence = 0.999;         // of the chi-square threshold
};

struct IdsAlert {
  Time time;
  std::string kind;      // port_scan, ip_sweep, profile_anomaly
  std::string subject;   // the scanning address, or the workload
  std::string evidence;  // "key=value ..."
};

class IntrusionDetector {
 public:
  // Alerts also go to `sink` as events, when it is given.
  IntrusionDetector(IdsOptions options, MetricsSink* sink = nullptr);

  void Observe(const FlowRecord& flow);
  // Closes the profile windows that ended by `now`.
  void Tick(Time now);

  const std::vector<IdsAlert>& alerts() const { return alerts_; }
  size_t tracked_sources() const { return sources_.size(); }
  double threshold() const { return threshold_; }  // squared distance of an anomaly

  // The feature names, in the order of the profile vectors.
  static const std::vector<std::string>& FeatureNames();
  static constexpr int kFeatures = 6;
  using Features = Eigen::Matrix<double, kFeatures, 1>;

 private:
  struct Contact {
    Time time;
    uint32_t dst;
    uint16_t port;
  };
  struct Source {
    std::deque<Contact> contacts;  // within the scan window, oldest first
    // Counts of the contacts in the window, both ways round.
    std::map<uint32_t, std::map<uint16_t, int>> ports_of;  // destination -> port -> contacts
    std::map<uint16_t, std::map<uint32_t, int>> hosts_on;  // port -> destination -> contacts
    bool port_scanning = false, sweeping = false;  // an alert was raised for this episode
  };
  struct Window {
    uint64_t connections = 0, bytes = 0, denied = 0, external = 0;
    std::set<uint32_t> peers;
    std::set<uint32_t> ports;  // protocol << 16 | port
  };
  struct Profile {
    Time window_start;
    bool started = false;  // by its first flow
    Window current;
    std::vector<Features> training;
    bool trained = false;
    Features mean;
    Eigen::Matrix<double, kFeatures, kFeatures> inverse;  // of the regularized covariance
    Features scale;  // per-feature standard deviation, for the evidence
    bool anomalous = false;
  };

  void CheckScans(uint32_t address, Source& source, Time now);
  void Advance(const std::string& workload, Profile& profile, Time now);
  void CloseWindow(const std::string& workload, Profile& profile);
  void Raise(Time time, std::string kind, std::string subject, std::string evidence);

  IdsOptions options_;
  MetricsSink* sink_;
  double threshold_;  // squared distance
  std::map<uint32_t, Source> sources_;
  std::map<std::string, Profile> profiles_;
  std::vector<IdsAlert> alerts_;
};

// The chi-square distribution's quantile: the value a sum of `degrees`
// squared standard normals stays below with probability `p`.
double ChiSquareQuantile(int degrees, double p);

}  // namespace edgebed::policy
