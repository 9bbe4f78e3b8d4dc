// Replication: the data path of a replicated block volume, over Env.
//
//   VolumeController ctl(env_of(server), {});            // the control plane
//   StorageNode n1(env_of(1), server), n2(env_of(2), server), ...;
//   ctl.CreateVolume({"floor-1/db", 4096, 64}, /*replicas=*/{1, 2, 3});
//   n1.Write("floor-1/db", block, data, [](Status s) { ... });   // at the primary
//   n1.Read("floor-1/db", block, [](StatusOr<Bytes> r) { ... });
//
// What it promises (checked over thousands of seeds of crashes, partitions,
// message loss and duplication, lost unsynced writes and disk errors by
// `edgebed storage torture`): a write is acknowledged only when every
// replica of the volume's in-sync set holds it durably (written and synced),
// and an acknowledged write is never lost; a read at the primary returns the
// last acknowledged value of its block or a value written concurrently (a
// value still on its way to the replicas is held back until it is acked).
// Snapshots hold exactly the writes acknowledged before their barrier.
//
// How:
// - The controller keeps, per volume, a generation, the primary (the node
//   the volume is attached to) and the in-sync set, on its disk before it
//   tells anyone. Every change bumps the generation.
// - A node named primary first claims the volume: the controller grants the
//   claim under a fresh generation tagged with the claimant's incarnation
//   nonce, so no two primaries (nor two lives of one node) ever write under
//   one generation. Block versions are (generation, sequence) and never repeat.
// - The primary sends each write to every in-sync replica (itself included)
//   in parallel; a replica applies it if it is newer than what the block
//   holds, so duplicated or reordered messages never roll a block back,
//   syncs, and acknowledges. A replica refuses writes of a generation older
//   than the newest it has seen (it persists that fence before it takes a
//   write of a newer generation): a deposed primary can complete nothing.
// - A replica that answers nothing for ack_timeout is taken out of the
//   in-sync set (through the controller, which refuses requests of old
//   generations), and the volume keeps serving while one in-sync replica is
//   left; one that answers, but not a given write, gets that write again.
// - The primary holds a lease it renews with the controller and serves only
//   while it holds it; the controller fails a volume over to another in-sync
//   replica only after the lease has run out. The new primary first rewrites
//   every block to the in-sync replicas under its generation, so they agree
//   with it, and any write of an older primary is superseded, before it serves.
//   That takes time in proportion to the volume's size; while it makes
//   progress it tells the controller so, which then does not take it for dead.
// - A replica out of the in-sync set is probed, and once it answers the
//   primary copies it the blocks written since it left (dirty-region
//   tracking; every block when the primary changed meanwhile) and the
//   snapshots taken meanwhile, while sending it new writes; once it holds all
//   of them the primary waits for it on every write and asks the controller
//   to add it back.
// - A snapshot is asked of the controller; the primary holds new writes,
//   lets those in flight settle, and sends a barrier every in-sync replica
//   records (durably) before the held writes go on. A replica then copies a
//   block's old contents aside before it first overwrites it (copy-on-write).
// The controller runs beside the cluster's datastore, on one node; it keeps
// its records on that node's disk and recovers them when it restarts
// (Open), but is not replicated. Everything else may crash, restart, be
// partitioned.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/base/bytes.h"
#include "core/base/status.h"
#include "core/env/env.h"

namespace edgebed::storage {

inline constexpr Port kReplicaPort = 7400;     // StorageNode: replica and primary
inline constexpr Port kControllerPort = 7401;  // VolumeController

struct VolumeLayout {
  std::string name;
  uint32_t block_size = 4096;
  uint32_t blocks = 0;
};

struct ReplicationOptions {
  Duration ack_timeout = std::chrono::milliseconds(300);  // a replica's answer to a write
  Duration lease = std::chrono::seconds(2);               // the primary's right to serve
  Duration resync_interval = std::chrono::milliseconds(500);
};

// A point-in-time, copy-on-write image of a volume, kept by every in-sync
// replica. Asked of the controller; the primary takes it at a barrier in the
// write stream (every write acknowledged before it is in it, none after),
// and it is ready, as a Kubernetes VolumeSnapshot's readyToUse, once every
// in-sync replica holds it.
struct SnapshotRecord {
  std::string name;
  bool ready = false;
  int64_t requested_ns = 0;  // on the controller's clock
  int64_t ready_ns = 0;
};

// A volume created from another's snapshot; seeded by its first primary.
struct CloneSource {
  std::string volume, snapshot;
};

// The control plane's record of a volume.
struct VolumeRecord {
  VolumeLayout layout;
  uint64_t generation = 1;
  NodeId primary = kNoNode;
  std::vector<NodeId> replicas;  // every replica, in placement order
  std::set<NodeId> in_sync;      // always includes the primary
  std::vector<SnapshotRecord> snapshots;  // in the order they were asked for
  CloneSource clone_from;        // until the clone has been seeded; empty otherwise
  // No primary has served it yet: every replica holds only zeros, so the
  // first primary's takeover has nothing to rewrite.
  bool pristine = false;

  const SnapshotRecord* FindSnapshot(const std::string& name) const;
};

class VolumeController {
 public:
  VolumeController(Env& env, ReplicationOptions options = {});
  ~VolumeController();
  VolumeController(const VolumeController&) = delete;
  VolumeController& operator=(const VolumeController&) = delete;

  // Recovers the records an earlier life of the controller on this node
  // made durable (a missing file is a fresh controller). Each volume's primary
  // gets a full lease from now, then claims it again under a new generation.
  void Open(std::function<void(Status)> done);
  // A new volume; the first replica is its primary. Errors: kAlreadyExists,
  // kInvalidArgument (no replicas, a replica twice, no blocks).
  Status CreateVolume(const VolumeLayout& layout, const std::vector<NodeId>& replicas);
  // A new volume holding `source`'s snapshot, of the same layout. Its first
  // replica must be an in-sync replica of the source (it holds the snapshot
  // and copies it in). Errors as CreateVolume, and kNotFound (no such volume
  // or snapshot), kFailedPrecondition (snapshot not ready, or the first
  // replica does not hold it).
  Status CloneVolume(const VolumeLayout& layout, const std::vector<NodeId>& replicas, const CloneSource& source);
  // Asks for a snapshot; Find(volume)->FindSnapshot(name)->ready says when it
  // is taken. Names: 1-128 of [A-Za-z0-9._-]. Errors: kNotFound,
  // kAlreadyExists, kInvalidArgument.
  Status CreateSnapshot(const std::string& volume, const std::string& name);
  // Forgets a snapshot; replicas free its space. Errors: kNotFound,
  // kFailedPrecondition while a clone is being seeded from it.
  Status DeleteSnapshot(const std::string& volume, const std::string& name);
  // Makes `node`, an in-sync replica, the volume's primary: where a pod that
  // mounts it landed, as Portworx attaches a volume on the pod's node. The
  // current primary steps down; the new one takes over as after a failover.
  // Errors: kNotFound, kFailedPrecondition (no replica there, or one still
  // catching up: the pod's I/O then goes to the primary).
  Status Attach(const std::string& volume, NodeId node);
  // A replica on `node` replaces one gone for good; it joins out of sync and
  // the primary rebuilds it.
  Status ReplaceReplica(const std::string& volume, NodeId gone, NodeId node);
  const VolumeRecord* Find(const std::string& volume) const;

  struct Stats {
    uint64_t failovers = 0, removals = 0, additions = 0;
  };
  const Stats& stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

class StorageNode {
 public:
  using WriteDone = std::function<void(Status)>;
  using ReadDone = std::function<void(StatusOr<Bytes>)>;

  // `controller`: the node the VolumeController runs on. Recovers replicas
  // from the node's disk (their blocks, headers and fences).
  StorageNode(Env& env, NodeId controller, ReplicationOptions options = {});
  ~StorageNode();
  StorageNode(const StorageNode&) = delete;
  StorageNode& operator=(const StorageNode&) = delete;

  // At the primary. `done` gets OK once every in-sync replica holds the
  // block durably; kUnavailable when this node is not (or no longer) the
  // volume's serving primary — the write may or may not have been applied;
  // kInvalidArgument for a block out of range or data not one block long.
  void Write(const std::string& volume, uint32_t block, Bytes data, WriteDone done);
  // At the primary, from its own replica, while it holds its lease.
  void Read(const std::string& volume, uint32_t block, ReadDone done);
  // A block of a ready snapshot, at the primary. kNotFound: no such snapshot.
  void ReadSnapshot(const std::string& volume, const std::string& snapshot, uint32_t block, ReadDone done);
  // At the primary: rewrites every block that differs from the snapshot's
  // image, as ordinary replicated writes; `done` once all are acknowledged.
  // Writes of others meanwhile may interleave: detach the volume first, as
  // Portworx asks before a restore.
  void Restore(const std::string& volume, const std::string& snapshot, WriteDone done);
  // At the primary: the blocks whose contents differ between two ready
  // snapshots, ascending; with `base` empty, every block of `snapshot` that
  // is not all zeros. What an incremental backup or a DR round sends.
  void DiffSnapshots(const std::string& volume, const std::string& base, const std::string& snapshot,
                     std::function<void(StatusOr<std::vector<uint32_t>>)> done);

  // True if this node is the volume's primary, done taking over, lease held.
  bool Serving(const std::string& volume) const;
  // The layout of a volume this node holds a replica of; kNotFound otherwise.
  StatusOr<VolumeLayout> Layout(const std::string& volume) const;
  // How many of the volume's blocks this node's replica holds other than
  // zeros: its used space, as a thin-provisioned volume counts it, and what a
  // capacity forecast watches (a takeover's or a resync's copies of blocks
  // never written are zeros, and count as free). kNotFound when this node
  // holds no replica of the volume.
  StatusOr<uint64_t> DataBlocks(const std::string& volume) const;
  // The volume's primary as the newest record this node heard names it;
  // kNoNode if it heard none. Where a sharedv4 server redirects clients.
  NodeId KnownPrimary(const std::string& volume) const;

  struct Stats {
    uint64_t writes_acked = 0, writes_failed = 0, blocks_resynced = 0, takeovers = 0;
    uint64_t snapshots_taken = 0, blocks_preserved = 0;  // barriers completed here; copy-on-write copies
  };
  const Stats& stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgebed::storage
