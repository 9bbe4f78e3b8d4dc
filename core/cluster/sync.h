// Keyed state sync: one side's map of keys to values, mirrored on another
// side over a lossy, reordering, duplicating network.
//
// The server keeps, per agent, the state that agent must act on (its pods,
// the policy that concerns its endpoints) and the agent keeps the status it
// reports; both reach the other side through this one mechanism, as Calico's
// Typha hands Felix a snapshot and then deltas.
//
// The sender numbers every change (a put or an erase) with the next sequence
// number of its epoch and sends, in chunks, the entries changed since what
// the receiver has acknowledged. A receiver applies a chunk only if it starts
// exactly where its own state ends, so it never holds a gap; anything else is
// answered with its position, and the sender goes on from there. A sender
// that restarted has a new epoch: the receiver then takes only a chunk that
// starts from nothing (a snapshot of every live key) and throws away what it
// held once that snapshot is complete. An unchanged put is no change: a
// receiver hears about a key only when its value differs.
//
// Plain state; no I/O, no timers. The owner sends Next() and retransmits it
// if no ack comes.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/base/bytes.h"
#include "core/base/status.h"
#include "core/wire/codec.h"

namespace edgebed::cluster {

struct SyncEntry {
  std::string key;
  bool present = true;  // false: the key was erased
  Bytes value;
};

// One message's worth of changes: the newest change of every key whose
// newest change is numbered in (from, to] of the sender's epoch. `last` says
// `to` was the sender's newest number when it was made: a receiver that has
// applied it holds exactly the sender's state at that moment. (Between
// chunks of one catch-up a receiver may hold some keys' older values; a
// receiver starting from nothing keeps what it receives aside until `last`.)
struct SyncChunk {
  uint64_t epoch = 0;
  uint64_t from = 0, to = 0;
  bool last = true;
  std::vector<SyncEntry> entries;
};

struct SyncAck {
  uint64_t epoch = 0;
  uint64_t seq = 0;  // everything numbered up to seq is applied
};

inline constexpr size_t kMaxSyncKey = 512;
inline constexpr size_t kMaxSyncValue = 1u << 20;
inline constexpr size_t kMaxSyncEntries = 1u << 16;

void EncodeChunk(wire::Writer& w, const SyncChunk& chunk);
Status DecodeChunk(wire::Reader& r, SyncChunk* chunk);
void EncodeAck(wire::Writer& w, const SyncAck& ack);
Status DecodeAck(wire::Reader& r, SyncAck* ack);

class SyncSender {
 public:
  explicit SyncSender(uint64_t epoch) : epoch_(epoch) {}

  // Returns true if the value changed (and so will be sent).
  bool Put(const std::string& key, Bytes value);
  bool Erase(const std::string& key);
  const Bytes* Find(const std::string& key) const;
  const std::map<std::string, Bytes>& values() const { return live_; }

  // What to send next, at most about `max_bytes` and no change numbered
  // above `limit` (the owner's mark of what it may show yet: the server
  // sends only changes its datastore holds durably); nothing when the
  // receiver has everything up to there.
  std::optional<SyncChunk> Next(size_t max_bytes, uint64_t limit = UINT64_MAX) const;
  // The receiver's answer. Moves the acknowledged position (forward, or back
  // to zero when it holds another epoch, i.e. it needs a snapshot).
  void OnAck(const SyncAck& ack);
  // The receiver was replaced (a new agent process): start again from nothing.
  void ResetReceiver();

  bool caught_up() const { return acked_ == seq_ && acked_epoch_ == epoch_; }
  uint64_t seq() const { return seq_; }
  uint64_t epoch() const { return epoch_; }
  uint64_t acked() const { return acked_; }

 private:
  struct Slot {
    Bytes value;
    uint64_t seq = 0;
    bool present = true;
  };
  uint64_t epoch_;
  uint64_t seq_ = 0;
  uint64_t acked_ = 0;
  uint64_t acked_epoch_ = 0;  // 0: not known to hold this epoch
  std::map<std::string, Slot> slots_;              // live keys, and erased ones not yet acked
  std::map<uint64_t, std::string> by_seq_;         // the newest change of each key
  std::map<std::string, Bytes> live_;              // the present keys' values
};

class SyncReceiver {
 public:
  // Applies what it can of `chunk`; returns the ack to send back, and fills
  // `changed` with the keys whose value changed (erased ones included).
  SyncAck Apply(const SyncChunk& chunk, std::vector<std::string>* changed);
  SyncAck position() const { return {epoch_, seq_}; }
  const std::map<std::string, Bytes>& values() const { return values_; }

 private:
  uint64_t epoch_ = 0;
  uint64_t seq_ = 0;
  std::map<std::string, Bytes> values_;
  // A snapshot being received: applied whole when its last chunk comes.
  std::optional<std::map<std::string, Bytes>> incoming_;
  uint64_t incoming_epoch_ = 0, incoming_seq_ = 0;
};

}  // namespace edgebed::cluster
