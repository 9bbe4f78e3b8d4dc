// The heartbeat demo: the most of the smart-building scenario that exists
// before the cluster engines land. Every edge node of a campus runs the
// heartbeat failure detector (core/probe) towards a floor neighbour, a node
// on the next floor and its twin in the next building, over an ns-3
// topology; a fixed fault timeline then partitions the first building, heals
// it, and crashes and restarts one node. The demo measures how long the
// detector takes to see each fault and each recovery.
#pragma once

#include <string>
#include <vector>

#include "core/env/env.h"
#include "sim/edge_topology.h"

namespace edgebed::sim {

struct HeartbeatDemoOptions {
  EdgeTopologySpec topology;
  uint64_t seed = 1;
  Duration duration = std::chrono::seconds(60);
  double drop_rate = 0.01;  // background message loss, on every node
  Duration interval = std::chrono::seconds(1);

  Status Validate() const;
};

// One fault of the timeline and what the detector made of it.
struct FaultOutcome {
  std::string fault;      // "partition building 1", "heal", "crash b1-f1-n1", ...
  Time at;
  int pairs_affected = 0;  // probe pairs that must change state
  int pairs_changed = 0;   // those that did before the next fault
  Duration first_detected{0}, all_detected{0};  // since the fault; 0 if none
};

struct HeartbeatDemoReport {
  int edge_nodes = 0, routers = 0, probe_pairs = 0;
  uint64_t sim_events = 0;
  uint64_t messages_sent = 0, messages_delivered = 0, datagrams_sent = 0;
  uint64_t rtt_samples = 0;
  double rtt_p50_ms = 0, rtt_p99_ms = 0;
  std::vector<FaultOutcome> faults;
};

// Runs the demo, sending every metric and event to `sink`.
StatusOr<HeartbeatDemoReport> RunHeartbeatDemo(const HeartbeatDemoOptions& options,
                                               MetricsSink& sink);

}  // namespace edgebed::sim
