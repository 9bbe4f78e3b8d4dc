// Ns3World and its Envs: the edgebed core running inside an ns-3 simulation.
//
// Each edgebed node is an ns-3 Node with an IPv4 stack. Its Env takes the
// time from the ns-3 simulator, its timers are ns-3 events, and its messages
// travel as UDP datagrams through whatever topology the Nodes are wired
// into (sim/topology.h builds a scenario's). A message larger than one
// datagram is cut into chunks, paced at the node's uplink rate so its own
// queue does not overflow, and reassembled at the receiver; it is delivered
// whole or, if any chunk is lost, not at all — the Env contract of
// core/env/env.h. Disks are MemDisks whose completions are ns-3 events.
//
// One Ns3World per simulation: it owns the ns-3 Simulator state and calls
// Simulator::Destroy() when it goes, so tests may build one after another.
//
// Determinism: ns-3 orders simultaneous events by insertion; every random
// choice comes from the world's seed (each node's Random, and ns-3's own
// RngSeedManager, which the world seeds too).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <unordered_map>
#include <vector>

#include <ns3/core-module.h>
#include <ns3/internet-module.h>
#include <ns3/network-module.h>

#include "core/env/env.h"
#include "core/env/mem_disk.h"

namespace edgebed::sim {

struct Ns3EnvOptions {
  uint16_t udp_port = 9000;           // the UDP port every Env uses
  uint32_t max_datagram_payload = 1400;  // chunk size, headers excluded
  double uplink_bps = 1e9;            // pacing of this node's chunks
  Duration reassembly_timeout = std::chrono::seconds(10);
  uint64_t reassembly_budget = 256u << 20;  // bytes of partial messages a node holds
  DiskTiming disk;
};

struct Ns3NetStats {
  uint64_t messages_sent = 0;
  uint64_t messages_delivered = 0;
  uint64_t datagrams_sent = 0;
  uint64_t datagrams_received = 0;
  uint64_t bad_datagrams = 0;         // failed the envelope checks
  uint64_t partial_messages_dropped = 0;  // a chunk never came, or over budget
  uint64_t dropped_no_listener = 0;
};

class Ns3World;

class Ns3Env final : public Env {
 public:
  NodeId self() const override { return id_; }
  Time now() const override;
  TimerId Schedule(Duration after, std::function<void()> fn) override;
  bool Cancel(TimerId id) override;
  void Send(NodeId to, Port port, Bytes message) override;
  Status Listen(Port port, Receiver receiver) override;
  void Unlisten(Port port) override;
  Disk& disk() override { return disk_; }
  Random& random() override { return random_; }
  MetricsSink& metrics() override;

  ns3::Ptr<ns3::Node> node() const { return node_; }
  ns3::Ipv4Address address() const { return address_; }
  const Ns3NetStats& net_stats() const { return stats_; }
  MemDisk& mem_disk() { return disk_; }

  ~Ns3Env() override;

 private:
  friend class Ns3World;
  struct Partial {
    Bytes data;
    std::vector<bool> have;
    uint32_t chunks_left = 0;
    Time first_seen;
  };

  Ns3Env(Ns3World& world, NodeId id, ns3::Ptr<ns3::Node> node, ns3::Ipv4Address address,
         const Ns3EnvOptions& options, uint64_t seed);
  void OnReadable(ns3::Ptr<ns3::Socket> socket);
  void OnDatagram(ns3::Ipv4Address from_ip, const uint8_t* data, size_t size);
  void Deliver(NodeId from, Port port, const Bytes& message);
  void SweepPartials();
  void Crash();
  void Restart();

  Ns3World& world_;
  const NodeId id_;
  ns3::Ptr<ns3::Node> node_;
  ns3::Ipv4Address address_;
  Ns3EnvOptions options_;
  Random random_;
  MemDisk disk_;
  ns3::Ptr<ns3::Socket> socket_;
  std::map<Port, Receiver> listeners_;
  TimerId next_timer_ = 1;
  std::unordered_map<TimerId, ns3::EventId> timers_;
  uint64_t next_message_id_ = 1;
  Time uplink_free_at_{};
  std::map<std::pair<NodeId, uint64_t>, Partial> partials_;
  uint64_t partial_bytes_ = 0;
  bool sweep_scheduled_ = false;
  bool up_ = true;
  uint64_t incarnation_ = 0;
  Ns3NetStats stats_;
};

class Ns3World {
 public:
  Ns3World(uint64_t seed, MetricsSink& sink);
  ~Ns3World();
  Ns3World(const Ns3World&) = delete;
  Ns3World& operator=(const Ns3World&) = delete;

  // Makes an Env for `node`, which must have an IPv4 stack and `address` on
  // one of its interfaces. Ids are 0, 1, 2, ... in order of addition.
  NodeId AddNode(ns3::Ptr<ns3::Node> node, ns3::Ipv4Address address,
                 const Ns3EnvOptions& options = {});
  Ns3Env& env(NodeId id) { return *envs_.at(id); }
  size_t node_count() const { return envs_.size(); }

  // Runs the simulator until `until` (absolute simulated time).
  void RunUntil(Time until);
  void RunFor(Duration d);
  Time now() const;

  // Power loss on a node: timers, listeners, partial messages and unsynced
  // disk writes are gone; datagrams arriving while it is down are dropped.
  void Crash(NodeId id);
  void Restart(NodeId id);
  bool IsUp(NodeId id) const { return envs_.at(id)->up_; }

  MetricsSink& sink() { return sink_; }
  // Sum of every node's counters.
  Ns3NetStats TotalNetStats() const;

 private:
  friend class Ns3Env;
  NodeId NodeAt(ns3::Ipv4Address address) const;

  uint64_t seed_;
  MetricsSink& sink_;
  std::vector<std::unique_ptr<Ns3Env>> envs_;
  std::unordered_map<uint32_t, NodeId> by_address_;
};

}  // namespace edgebed::sim
