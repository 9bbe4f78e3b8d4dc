// CloudSnap: backups of volume snapshots to an object store, incremental
// with a full one every N, and restores from them into any volume of any
// cluster (migration), in the manner of Portworx cloudsnaps.
//
//   CloudSnap cloud(env, storage_node, object_store_client, {});
//   cloud.Backup("floor-1/db", "nightly-3", [](StatusOr<CloudBackup> b) { ... });
//   cloud.Restore("floor-1/db", /*seq=*/3, "floor-1/db-restored", [](Status s) { ... });
//
// A backup of snapshot S of volume V is, in the bucket:
//   V/<seq>.data.<part>   the blocks it carries, in ascending order, 16 MiB a part
//   V/<seq>.manifest      what it is: layout, snapshot, parent, blocks; written last
// Sequence numbers count up per volume (eight digits, so keys sort in order).
// A backup is incremental to the newest one when that one's snapshot is
// still on the volume (DiffSnapshots then names the blocks that changed) and
// fewer than full_every - 1 incrementals follow the last full; else it is
// full (every block that is not all zeros). The manifest goes up only after
// every data part: a backup cut off midway is never listed, and its parts
// are overwritten by the next backup of that number.
//
// Backup runs at the volume's primary (it reads the snapshot there);
// Restore at the target volume's primary, which may be in another cluster
// using the same object store. Callbacks run on the node's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/env/env.h"
#include "core/storage/object_store.h"
#include "core/storage/replication.h"

namespace edgebed::storage {

struct CloudSnapOptions {
  std::string bucket = "edgebed-cloudsnaps";
  int full_every = 7;  // a full backup at least every this many (1: always full)
};

// One backup, as its manifest says.
struct CloudBackup {
  std::string volume, snapshot;
  uint64_t seq = 0;
  bool full = false;
  uint64_t parent = 0;    // the backup this one builds on; 0 for a full one
  uint32_t block_size = 0, blocks = 0;
  std::vector<uint32_t> carried;  // the blocks whose bytes it holds, ascending
  uint32_t parts = 0;             // data objects
  int64_t snapshot_ready_ns = 0;  // when the snapshot was taken (controller clock)
  int64_t created_ns = 0;         // when the backup finished (this node's clock)
};

class CloudSnap {
 public:
  CloudSnap(Env& env, StorageNode& node, ObjectStoreClient& store, CloudSnapOptions options = {});

  // Backs up a ready snapshot of a volume this node is the primary of.
  // `snapshot_ready_ns` is recorded in the manifest (for recovery point
  // accounting). Errors: those of DiffSnapshots and ReadSnapshot, and of the
  // object store.
  void Backup(const std::string& volume, const std::string& snapshot, int64_t snapshot_ready_ns,
              std::function<void(StatusOr<CloudBackup>)> done);
  // The backups of a volume, oldest first.
  void List(const std::string& volume, std::function<void(StatusOr<std::vector<CloudBackup>>)> done);
  // Writes backup `seq` of `source_volume` (with the chain it builds on)
  // into `target_volume`, served here and of the same layout: every block,
  // zeros where no backup of the chain carries it. kNotFound: no such
  // backup, or a broken chain; kInvalidArgument: another layout.
  void Restore(const std::string& source_volume, uint64_t seq, const std::string& target_volume,
               std::function<void(Status)> done);

 private:
  Env& env_;
  StorageNode& node_;
  ObjectStoreClient& store_;
  CloudSnapOptions options_;
};

// Serialised manifests, for tests and tools. Parse errors name the field.
Bytes EncodeManifest(const CloudBackup& backup);
StatusOr<CloudBackup> DecodeManifest(ByteView bytes);

}  // namespace edgebed::storage
