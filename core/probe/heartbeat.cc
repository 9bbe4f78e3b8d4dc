#include "core/probe/heartbeat.h"

#include "core/wire/codec.h"

namespace edgebed {
namespace {

constexpr uint16_t kMagic = 0xEB01;
constexpr uint8_t kVersion = 1;
constexpr uint16_t kPing = 1;
constexpr uint16_t kEcho = 2;

// The padding of round `round` from node `origin`: checkable on the way back.
uint8_t PatternByte(NodeId origin, uint64_t round, size_t i) {
  return static_cast<uint8_t>(round * 131 + i * 7 + origin * 13);
}

Bytes Encode(uint16_t type, uint64_t round, uint8_t attempt, int64_t sent_at, ByteView payload) {
  wire::Writer w;
  wire::WriteHeader(w, {kMagic, kVersion, type});
  w.PutVarint(round);
  w.PutU8(attempt);
  w.PutI64(sent_at);
  w.PutBytes(payload);
  return std::move(w).Finish();
}

}  // namespace

Status HeartbeatConfig::Validate() const {
  if (interval <= Duration::zero()) return InvalidArgument("must be positive", "interval");
  if (timeout <= Duration::zero()) return InvalidArgument("must be positive", "timeout");
  if (attempts < 1) return InvalidArgument("must be at least 1", "attempts");
  if (timeout * attempts > interval) {
    return InvalidArgument("attempts * timeout must fit in one interval; lower attempts or "
                           "timeout, or raise interval",
                           "timeout");
  }
  if (suspect_after < 1 || dead_after < suspect_after) {
    return InvalidArgument("need 1 <= suspect_after <= dead_after", "dead_after");
  }
  if (payload_bytes > Env::kMaxMessageSize - 64) {
    return InvalidArgument("larger than a message can carry", "payload_bytes");
  }
  return Status::Ok();
}

const char* PeerStateName(PeerState state) {
  switch (state) {
    case PeerState::kUnknown: return "unknown";
    case PeerState::kAlive: return "alive";
    case PeerState::kSuspect: return "suspect";
    case PeerState::kDead: return "dead";
  }
  return "?";
}

Heartbeat::Heartbeat(Env& env, HeartbeatConfig config) : env_(env), config_(config) {}

Heartbeat::~Heartbeat() { Stop(); }

Status Heartbeat::Start(std::vector<NodeId> peers) {
  EDGEBED_RETURN_IF_ERROR(config_.Validate());
  Stop();
  EDGEBED_RETURN_IF_ERROR(env_.Listen(
      config_.port, [this](NodeId from, ByteView message) { OnMessage(from, message); }));
  listening_ = true;
  peer_ids_ = std::move(peers);
  peers_.clear();
  for (NodeId id : peer_ids_) peers_[id];
  if (!peer_ids_.empty()) {
    // A random phase keeps thousands of nodes from pinging in lockstep.
    const Duration phase = env_.random().UniformDuration(Duration::zero(), config_.interval);
    tick_ = env_.Schedule(phase, [this] { Tick(); });
  }
  return Status::Ok();
}

void Heartbeat::Stop() {
  if (tick_ != kNoTimer) env_.Cancel(tick_);
  tick_ = kNoTimer;
  for (auto& [id, p] : peers_) {
    if (p.timeout != kNoTimer) env_.Cancel(p.timeout);
    p.timeout = kNoTimer;
    p.round_open = false;
  }
  if (listening_) env_.Unlisten(config_.port);
  listening_ = false;
}

void Heartbeat::Tick() {
  tick_ = env_.Schedule(config_.interval, [this] { Tick(); });
  for (NodeId id : peer_ids_) {
    Peer& p = peers_[id];
    if (p.round_open) CloseRoundMissed(id, p);
    ++p.round;
    ++p.status.rounds;
    p.round_open = true;
    p.attempt = 0;
    SendAttempt(id, p);
  }
}

void Heartbeat::SendAttempt(NodeId id, Peer& p) {
  ++p.attempt;
  ++p.status.pings_sent;
  Bytes payload(config_.payload_bytes);
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = PatternByte(env_.self(), p.round, i);
  env_.Send(id, config_.port,
            Encode(kPing, p.round, static_cast<uint8_t>(p.attempt), ToNanos(env_.now()), payload));
  p.timeout = env_.Schedule(config_.timeout, [this, id] { OnTimeout(id); });
}

void Heartbeat::OnTimeout(NodeId id) {
  Peer& p = peers_[id];
  p.timeout = kNoTimer;
  if (!p.round_open) return;
  if (p.attempt < config_.attempts) {
    SendAttempt(id, p);
  } else {
    CloseRoundMissed(id, p);
  }
}

void Heartbeat::CloseRoundMissed(NodeId id, Peer& p) {
  if (p.timeout != kNoTimer) env_.Cancel(p.timeout);
  p.timeout = kNoTimer;
  p.round_open = false;
  ++p.status.missed_in_a_row;
  if (p.status.missed_in_a_row >= config_.dead_after) {
    SetState(id, p, PeerState::kDead);
  } else if (p.status.missed_in_a_row >= config_.suspect_after) {
    SetState(id, p, PeerState::kSuspect);
  }
}

void Heartbeat::OnMessage(NodeId from, ByteView message) {
  wire::Reader r(message);
  wire::Header h;
  uint64_t round = 0;
  uint8_t attempt = 0;
  int64_t sent_at = 0;
  ByteView payload;
  uint64_t payload_len = 0;
  (void)wire::ReadHeader(r, kMagic, kVersion, &h);
  (void)r.GetVarint(&round);
  (void)r.GetU8(&attempt);
  (void)r.GetI64(&sent_at);
  (void)r.GetBoundedVarint(Env::kMaxMessageSize, &payload_len);
  (void)r.GetRaw(static_cast<size_t>(payload_len), &payload);
  if (!r.ExpectEnd().ok() || (h.type != kPing && h.type != kEcho)) {
    ++counters_.bad_messages;
    return;
  }
  if (h.type == kPing) {
    OnPing(from, round, attempt, sent_at, payload);
  } else {
    OnEcho(from, round, sent_at, payload);
  }
}

void Heartbeat::OnPing(NodeId from, uint64_t round, uint8_t attempt, int64_t sent_at,
                       ByteView payload) {
  ++counters_.pings_answered;
  env_.Send(from, config_.port, Encode(kEcho, round, attempt, sent_at, payload));
}

void Heartbeat::OnEcho(NodeId from, uint64_t round, int64_t sent_at, ByteView payload) {
  auto it = peers_.find(from);
  if (it == peers_.end()) {
    ++counters_.late_echoes;  // not a peer we probe (any more)
    return;
  }
  Peer& p = it->second;
  if (!p.round_open || round != p.round) {
    ++counters_.late_echoes;
    return;
  }
  bool intact = payload.size() == config_.payload_bytes;
  for (size_t i = 0; intact && i < payload.size(); ++i) {
    intact = payload[i] == PatternByte(env_.self(), round, i);
  }
  if (!intact) {
    ++counters_.bad_messages;
    return;
  }
  if (p.timeout != kNoTimer) env_.Cancel(p.timeout);
  p.timeout = kNoTimer;
  p.round_open = false;
  p.status.missed_in_a_row = 0;
  ++p.status.rounds_answered;
  p.status.last_rtt = Duration(ToNanos(env_.now()) - sent_at);
  env_.RecordMetric("probe.rtt_ms", ToMillis(p.status.last_rtt), "peer=" + std::to_string(from));
  SetState(from, p, PeerState::kAlive);
}

void Heartbeat::SetState(NodeId id, Peer& p, PeerState to) {
  const PeerState from = p.status.state;
  if (from == to) return;
  p.status.state = to;
  env_.RecordEvent("probe.peer_state", "peer=" + std::to_string(id) + " state=" +
                                           PeerStateName(to) + " missed=" +
                                           std::to_string(p.status.missed_in_a_row));
  if (on_change_) on_change_(id, from, to);
}

}  // namespace edgebed
