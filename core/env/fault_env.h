// FaultEnv: drop, delay, duplicate, partition and disk errors over any Env.
//
// A FaultPlan is shared by the FaultEnvs of one world and says what goes
// wrong; each FaultEnv wraps one node's Env and applies the plan to what that
// node sends, receives and writes. Because it only uses the wrapped Env's own
// timers and random source, it disturbs the test loop, ns-3 and real sockets
// alike, and a simulated run with faults still replays from its seed.
//
// Partitions are checked when a message is sent and again when it arrives, so
// a partition that starts while a message is in flight still stops it.
//
//   FaultPlan plan;
//   FaultEnv a(loop.env(0), plan), b(loop.env(1), plan);
//   plan.set_drop_rate(0.1);
//   plan.Partition({{0}, {1}});   // 0 and 1 can no longer talk
//   plan.Heal();
#pragma once

#include <map>
#include <memory>
#include <set>
#include <vector>

#include "core/env/env.h"

namespace edgebed {

struct FaultStats {
  uint64_t dropped = 0;      // by drop_rate
  uint64_t duplicated = 0;
  uint64_t delayed = 0;
  uint64_t partitioned = 0;  // stopped by a partition or a blocked link
  uint64_t disk_errors = 0;
};

class FaultPlan {
 public:
  // Each message is lost with probability p.
  void set_drop_rate(double p) { drop_rate_ = p; }
  // Each message is sent twice with probability p.
  void set_duplicate_rate(double p) { duplicate_rate_ = p; }
  // Each message waits an extra uniform [lo, hi] before it is sent.
  void set_delay(Duration lo, Duration hi) {
    delay_lo_ = lo;
    delay_hi_ = hi;
  }
  // Splits nodes into sides that cannot reach each other. Nodes not named
  // form one more side together. Replaces any earlier partition.
  void Partition(const std::vector<std::vector<NodeId>>& sides);
  // Cuts one node off from every other.
  void Isolate(NodeId node) { Partition({{node}}); }
  // Stops messages from `from` to `to` (one way).
  void BlockLink(NodeId from, NodeId to) { blocked_.insert({from, to}); }
  void UnblockLink(NodeId from, NodeId to) { blocked_.erase({from, to}); }
  // Ends partitions and blocked links; rates and delays stay.
  void Heal();
  bool Reachable(NodeId from, NodeId to) const;

  // Every disk operation of `node` fails while failed.
  void FailDisk(NodeId node, bool failed);
  bool DiskFailed(NodeId node) const { return failed_disks_.count(node) > 0; }
  // Each disk operation of any node fails with probability p.
  void set_disk_error_rate(double p) { disk_error_rate_ = p; }

  const FaultStats& stats() const { return stats_; }

 private:
  friend class FaultEnv;
  friend class FaultDisk;

  double drop_rate_ = 0;
  double duplicate_rate_ = 0;
  Duration delay_lo_{0}, delay_hi_{0};
  std::map<NodeId, int> side_;  // absent = the side of the unnamed
  std::set<std::pair<NodeId, NodeId>> blocked_;
  std::set<NodeId> failed_disks_;
  double disk_error_rate_ = 0;
  FaultStats stats_;
};

class FaultDisk;

class FaultEnv final : public EnvWrapper {
 public:
  // REQUIRES: `target` and `plan` outlive this.
  FaultEnv(Env& target, FaultPlan& plan);
  ~FaultEnv() override;

  void Send(NodeId to, Port port, Bytes message) override;
  Status Listen(Port port, Receiver receiver) override;
  Disk& disk() override;

 private:
  void SendNow(NodeId to, Port port, Bytes message);

  FaultPlan& plan_;
  Random random_;  // its own stream, so faults do not shift the node's draws
  std::unique_ptr<FaultDisk> disk_;
  std::set<TimerId> delayed_sends_;
};

}  // namespace edgebed
