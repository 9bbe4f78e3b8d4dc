// TestLoop: many nodes, one thread, simulated time, one seed.
//
// The deterministic Env for unit and property tests, in the spirit of
// FoundationDB's simulator: every node's timers, message deliveries and disk
// completions are events in one queue ordered by (time, order of scheduling),
// and every random choice — message jitter, each node's Random — derives from
// the seed. The same seed and the same code give the same sequence of
// events, which trace_digest() witnesses (and the trace, when recorded, shows).
//
// The network delivers each message after a latency (per pair, plus seeded
// jitter, plus size / bandwidth), in order per pair unless `fifo` is off.
// Crash(node) models a power loss: its pending timers and disk completions
// vanish, its listeners are gone, unsynced disk writes are lost; messages
// already on the wire still arrive if it is up again by then. The owner of the
// protocol objects rebuilds them after Restart(node), as a rebooted process would.
//
//   TestLoop loop(/*seed=*/42);
//   NodeId a = loop.AddNode(), b = loop.AddNode();
//   Pinger pinger(loop.env(a));
//   loop.RunFor(std::chrono::seconds(10));
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "core/env/env.h"
#include "core/env/mem_disk.h"
#include "core/env/memory_sink.h"

namespace edgebed {

struct TestNetwork {
  Duration latency = std::chrono::milliseconds(1);  // one way, between any two nodes
  Duration jitter = Duration::zero();               // uniform extra in [0, jitter]
  double bandwidth_bps = 0;                         // per sender; 0 = unlimited
  bool fifo = true;                                 // keep per-pair order under jitter
};

struct TestLoopStats {
  uint64_t events_run = 0;
  uint64_t messages_sent = 0;
  uint64_t messages_delivered = 0;
  uint64_t messages_dropped = 0;  // to a down node, a closed port, or oversized
};

class TestLoop {
 public:
  explicit TestLoop(uint64_t seed, TestNetwork network = {}, DiskTiming disk_timing = {});
  ~TestLoop();
  TestLoop(const TestLoop&) = delete;
  TestLoop& operator=(const TestLoop&) = delete;

  // Adds a node; ids are 0, 1, 2, ... in order of addition.
  NodeId AddNode();
  Env& env(NodeId node);
  MemDisk& disk(NodeId node);
  size_t node_count() const { return nodes_.size(); }

  Time now() const { return now_; }
  // Runs the next event. False when none is left.
  bool Step();
  // Runs every event due up to now() + d, then sets the clock to that instant.
  void RunFor(Duration d);
  void RunUntil(Time t);
  // Runs until no event is left or `max_events` ran; returns the count run.
  uint64_t RunUntilIdle(uint64_t max_events = 100'000'000);

  void Crash(NodeId node);
  void Restart(NodeId node);
  bool IsUp(NodeId node) const;

  // One-way latency between two nodes, overriding the network default (both directions).
  void SetLatency(NodeId a, NodeId b, Duration latency);

  MemorySink& sink() { return sink_; }
  const TestLoopStats& stats() const { return stats_; }

  // A 64-bit digest of every event run so far: its time, node, kind and content.
  uint64_t trace_digest() const { return digest_; }
  // Keeps a readable line per event in trace() (off by default: it costs memory).
  void RecordTrace(bool on) { record_trace_ = on; }
  const std::vector<std::string>& trace() const { return trace_; }

 private:
  class NodeEnv;
  struct Event {
    Time at;
    uint64_t seq;
    NodeId node;
    uint64_t incarnation;  // the event dies if the node crashed since
    TimerId timer;         // kNoTimer for deliveries and disk completions
    std::string what;      // for the trace
    std::function<void()> fn;
  };
  struct Later {
    bool operator()(const Event& a, const Event& b) const {
      return a.at != b.at ? a.at > b.at : a.seq > b.seq;
    }
  };

  void Push(Time at, NodeId node, TimerId timer, std::string what, std::function<void()> fn,
            bool survives_crash);
  void Transmit(NodeId from, NodeId to, Port port, Bytes message);
  void Deliver(NodeId from, NodeId to, Port port, const Bytes& message);
  void Fold(const Event& e);
  Duration LatencyBetween(NodeId a, NodeId b) const;

  Time now_{};
  uint64_t next_seq_ = 0;
  TimerId next_timer_ = 1;
  std::vector<Event> queue_;  // a heap under Later
  std::unordered_set<TimerId> live_timers_;
  std::vector<std::unique_ptr<NodeEnv>> nodes_;
  TestNetwork network_;
  DiskTiming disk_timing_;
  uint64_t seed_;
  Random net_random_;
  std::map<std::pair<NodeId, NodeId>, Duration> latency_;
  std::map<std::pair<NodeId, NodeId>, Time> last_arrival_;  // for fifo
  MemorySink sink_;
  TestLoopStats stats_;
  uint64_t digest_ = 14695981039346656037ULL;
  bool record_trace_ = false;
  std::vector<std::string> trace_;
};

}  // namespace edgebed
