// Heartbeat: a ping/echo failure detector with retries, written once against
// Env and run unchanged on the test loop, inside ns-3 and on real sockets.
//
// Every node that runs a Heartbeat answers pings on its port with an echo of
// the ping, payload included. Towards each of its peers it runs one round per
// interval: a ping, and after each `timeout` without an echo another, up to
// `attempts` in all. A round answered by any attempt makes the peer Alive and
// records the round-trip time; a round with no answer is missed. After
// `suspect_after` missed rounds in a row the peer is Suspect, after
// `dead_after` it is Dead; one answered round makes it Alive again.
//
// Pings may carry `payload_bytes` of padding (echoed back and checked) so the
// same protocol proves that an Env carries messages larger than a datagram.
// Messages that fail to decode are counted and dropped: a malformed or
// foreign message never changes a peer's state.
//
// Metrics: "probe.rtt_ms" per answered round (label peer=N);
// events: "probe.peer_state" on every change ("peer=N state=dead missed=3").
#pragma once

#include <functional>
#include <map>
#include <vector>

#include "core/env/env.h"

namespace edgebed {

struct HeartbeatConfig {
  Port port = 7;
  Duration interval = std::chrono::seconds(1);
  Duration timeout = std::chrono::milliseconds(250);  // per attempt
  int attempts = 3;                                   // per round, retries included
  int suspect_after = 1;                              // missed rounds in a row
  int dead_after = 3;
  size_t payload_bytes = 0;

  // OK if the numbers make sense: attempts * timeout must fit in an interval.
  Status Validate() const;
};

enum class PeerState { kUnknown, kAlive, kSuspect, kDead };
const char* PeerStateName(PeerState state);

struct PeerStatus {
  PeerState state = PeerState::kUnknown;
  int missed_in_a_row = 0;
  uint64_t rounds = 0;         // rounds started
  uint64_t rounds_answered = 0;
  uint64_t pings_sent = 0;     // attempts, retries included
  Duration last_rtt{0};
};

struct HeartbeatCounters {
  uint64_t pings_answered = 0;  // echoes this node sent
  uint64_t late_echoes = 0;     // echoes of a round already closed
  uint64_t bad_messages = 0;    // failed to decode, or a payload that did not check
};

class Heartbeat {
 public:
  using StateChange = std::function<void(NodeId peer, PeerState from, PeerState to)>;

  // REQUIRES: `env` outlives this.
  Heartbeat(Env& env, HeartbeatConfig config);
  ~Heartbeat();
  Heartbeat(const Heartbeat&) = delete;
  Heartbeat& operator=(const Heartbeat&) = delete;

  // Listens on the port and starts rounds towards `peers` (which may be empty:
  // the node then only answers). Errors: a bad config, a port in use.
  Status Start(std::vector<NodeId> peers);
  // Cancels every timer and stops listening. Start may be called again.
  void Stop();

  void set_on_change(StateChange fn) { on_change_ = std::move(fn); }

  // REQUIRES: `peer` was passed to Start.
  const PeerStatus& peer(NodeId peer) const { return peers_.at(peer).status; }
  const std::vector<NodeId>& peer_ids() const { return peer_ids_; }
  const HeartbeatCounters& counters() const { return counters_; }

 private:
  struct Peer {
    PeerStatus status;
    uint64_t round = 0;      // the round in progress, 0 before the first
    bool round_open = false;
    int attempt = 0;
    TimerId timeout = kNoTimer;
  };

  void Tick();
  void SendAttempt(NodeId id, Peer& p);
  void OnTimeout(NodeId id);
  void CloseRoundMissed(NodeId id, Peer& p);
  void OnMessage(NodeId from, ByteView message);
  void OnPing(NodeId from, uint64_t round, uint8_t attempt, int64_t sent_at, ByteView payload);
  void OnEcho(NodeId from, uint64_t round, int64_t sent_at, ByteView payload);
  void SetState(NodeId id, Peer& p, PeerState to);

  Env& env_;
  HeartbeatConfig config_;
  std::vector<NodeId> peer_ids_;
  std::map<NodeId, Peer> peers_;
  TimerId tick_ = kNoTimer;
  bool listening_ = false;
  HeartbeatCounters counters_;
  StateChange on_change_;
};

}  // namespace edgebed
