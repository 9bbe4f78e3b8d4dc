// Async DR: a volume's changes shipped, snapshot by snapshot, to a standby
// volume at a remote site over the WAN, with the recovery point objective
// (RPO) measured, in the manner of Portworx async DR.
//
//   DrReceiver standby_side(remote_env, remote_storage_node);     // at the remote site
//   DrSender sender(env, storage_node, /*remote=*/remote_node, {});
//   scheduler_options.on_ready = [&](auto& vol, auto&, auto& snap) {  // every scheduled snapshot
//     sender.Ship(vol, snap.name, snap.ready_ns, "dr/" + vol, [](Status) {});
//   };
//
// A round carries the blocks that differ between the last snapshot the
// remote applied whole and the new one (every block on the first round, or
// when that snapshot is gone), then a commit: the receiver holds the blocks
// until the commit, writes them all into the standby volume, and only then
// counts the round applied. A round cut off at any point leaves the last
// applied one standing, and the next round carries everything since it. The
// standby is the source's volume as of that snapshot, except while a commit
// is being written.
//
// RPO: how old, at any moment, the source's state held whole by the remote
// is: now minus the time the last applied snapshot was taken. The sender
// records it every `rpo_sample` as the metric storage.dr.rpo_s (label
// volume=...) and keeps its maximum. Times on both sides are the Env's: one
// clock in simulation; on real nodes, the source cluster's.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "core/base/status.h"
#include "core/env/env.h"
#include "core/storage/replication.h"

namespace edgebed::storage {

inline constexpr Port kDrPort = 7404;        // DrReceiver
inline constexpr Port kDrSenderPort = 7405;  // DrSender

struct DrOptions {
  Duration retry = std::chrono::milliseconds(500);  // resend what was not acknowledged
  size_t window = 64;                               // blocks in flight
  Duration rpo_sample = std::chrono::seconds(1);
};

class DrReceiver {
 public:
  DrReceiver(Env& env, StorageNode& node);
  ~DrReceiver();
  DrReceiver(const DrReceiver&) = delete;
  DrReceiver& operator=(const DrReceiver&) = delete;

  struct Applied {
    std::string snapshot;
    int64_t snapshot_ready_ns = 0;
    uint64_t round = 0;
  };
  // The last round written whole into a standby volume.
  std::optional<Applied> LastApplied(const std::string& standby) const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

class DrSender {
 public:
  DrSender(Env& env, StorageNode& node, NodeId remote, DrOptions options = {});
  ~DrSender();
  DrSender(const DrSender&) = delete;
  DrSender& operator=(const DrSender&) = delete;

  // At the source volume's primary: ships the changes up to `snapshot`
  // (ready, taken at `snapshot_ready_ns`) into `standby` at the remote;
  // `done` once the remote has applied them. A round asked for while one
  // of the volume is on its way waits and then goes, only the newest.
  void Ship(const std::string& volume, const std::string& snapshot, int64_t snapshot_ready_ns,
            const std::string& standby, std::function<void(Status)> done);

  // Now minus when the snapshot the remote last applied whole was taken;
  // nothing before the first round is applied.
  std::optional<Duration> Rpo(const std::string& volume) const;
  std::optional<Duration> MaxRpo(const std::string& volume) const;

  struct Stats {
    uint64_t rounds = 0, full_rounds = 0, blocks_sent = 0, resends = 0;
  };
  const Stats& stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgebed::storage
