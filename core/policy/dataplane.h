// The stateful dataplane a node puts on its packet path: connection tracking
// in front of the compiled classifier, as Calico's dataplane sits on Linux
// conntrack.
//
//   Dataplane dp(&classifier, Dataplane::Options{});
//   Dataplane::Result r = dp.Process(packet, env.now());
//   if (!r.allowed) drop(packet);
//
// The first packet of a connection is classified (egress at the source pod,
// ingress at the destination pod, each only where that pod is local to this
// dataplane); an allowed connection enters the table, and every later packet
// of it, in either direction, takes the fast path: one hash lookup, no rule.
// Replies of an allowed connection are always allowed. TCP is tracked
// through its states (a non-SYN packet that belongs to no connection is
// invalid and dropped); UDP and ICMP by timeouts. The table is bounded: when
// it is full, the least recently used entry is evicted.
#pragma once

#include <boost/unordered/unordered_flat_map.hpp>

#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

#include "core/env/env.h"
#include "core/policy/classifier.h"

namespace edgebed::policy {

// Timeouts are Linux nf_conntrack's defaults.
struct ConntrackOptions {
  size_t max_entries = 262144;
  Duration tcp_syn_sent = std::chrono::seconds(120);
  Duration tcp_syn_recv = std::chrono::seconds(60);
  Duration tcp_established = std::chrono::hours(120);
  Duration tcp_fin_wait = std::chrono::seconds(120);
  Duration tcp_close_wait = std::chrono::seconds(60);
  Duration tcp_last_ack = std::chrono::seconds(30);
  Duration tcp_time_wait = std::chrono::seconds(120);
  Duration tcp_close = std::chrono::seconds(10);
  Duration udp = std::chrono::seconds(30);          // one direction seen
  Duration udp_stream = std::chrono::seconds(120);  // replies seen
  Duration icmp = std::chrono::seconds(30);
  Duration other = std::chrono::seconds(600);
};

enum class TcpState : uint8_t {
  kNone, kSynSent, kSynRecv, kEstablished, kFinWait, kCloseWait, kLastAck, kTimeWait, kClose
};
const char* TcpStateName(TcpState state);

struct DataplaneStats {
  uint64_t packets = 0;
  uint64_t fast_path = 0;   // matched a tracked connection
  uint64_t new_allowed = 0, new_denied = 0;
  uint64_t invalid = 0;     // TCP without SYN and without a connection
  uint64_t evicted = 0, expired = 0;
};

class Dataplane {
 public:
  struct Options {
    ConntrackOptions conntrack;
    // Keys ("ns/pod") of the endpoints on this node; empty: all of them (one
    // dataplane for the whole cluster, as the policy CLI uses).
    std::vector<std::string> local_endpoints;
  };
  enum class Path : uint8_t { kEstablished, kReply, kNew, kInvalid };
  struct Result {
    bool allowed = false;
    Path path = Path::kNew;
    Verdict verdict;  // kNew only: how the classifier decided
  };

  Dataplane(const Classifier* classifier, const Inventory* inventory, Options options);

  Result Process(const Packet& packet, Time now);
  // New policy: later first packets are judged by `classifier`; connections
  // already tracked go on, as Linux conntrack keeps them across a rule update.
  void Reprogram(const Classifier* classifier, const Inventory* inventory,
                 std::vector<std::string> local_endpoints);
  size_t tracked() const { return slots_.size() - free_.size(); }  // connections
  const DataplaneStats& stats() const { return stats_; }
  // The state of the connection `packet` belongs to (either direction).
  TcpState StateOf(const Packet& packet) const;

 private:
  struct Key {
    uint32_t src, dst;
    uint16_t src_port, dst_port;
    uint8_t protocol;
    bool operator==(const Key& o) const {
      return src == o.src && dst == o.dst && src_port == o.src_port && dst_port == o.dst_port &&
             protocol == o.protocol;
    }
  };
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };
  struct Entry {
    Key key;  // the original direction
    Time expires;
    TcpState tcp = TcpState::kNone;
    bool replied = false;
    uint32_t prev = kNil, next = kNil;  // LRU list, most recent first
  };
  static constexpr uint32_t kNil = UINT32_MAX;

  static Key KeyOf(const Packet& p);
  static Key Reversed(const Key& k);
  bool Local(uint32_t address) const;
  Verdict Classify(const Packet& packet) const;
  void Advance(Entry& e, const Packet& packet, bool reply, Time now);
  uint32_t Insert(const Key& key, Time now);
  void Erase(uint32_t slot);
  void Touch(uint32_t slot);      // to the front of the LRU list
  void PushFront(uint32_t slot);  // REQUIRES: not linked
  void Unlink(uint32_t slot);

  const Classifier* classifier_;
  const Inventory* inventory_;
  Options options_;
  std::unordered_set<uint32_t> local_addresses_;  // empty: every endpoint
  boost::unordered_flat_map<Key, uint32_t, KeyHash> table_;  // both directions -> slot
  std::vector<Entry> slots_;
  std::vector<uint32_t> free_;
  uint32_t head_ = kNil, tail_ = kNil;
  DataplaneStats stats_;
};

}  // namespace edgebed::policy
