// Torture: the randomized fault test of replicated volumes, one seed at a time.
//
// In the spirit of FoundationDB's simulation and TigerBeetle's VOPR: a
// controller and `nodes` storage nodes run on the deterministic test loop
// (core/env/test_loop.h) behind a fault plan (core/env/fault_env.h), one
// volume of `repl` replicas is created, and clients write and read its
// blocks at whichever node is its primary, while the seed decides a
// timeline of faults:
//   - crashes of the primary and of replicas (power loss: unsynced disk
//     writes are lost), each followed by a restart with a new process;
//   - partitions: one node alone, the primary alone, and a ring where every
//     node reaches only its neighbours;
//   - message drops, duplicates and delays (which reorder);
//   - disk errors, at a rate or a whole disk failing for a while;
//   - replacement of a replica by a spare node, which is then rebuilt;
// and snapshots are taken and deleted as a schedule would, throughout.
// Then every fault heals, the volume settles, each block is read once more,
// and the history of everything the clients saw goes through the checker
// (core/storage/history.h): no acknowledged write may be lost and every read
// must be one a single correct volume could have returned; so must every
// block of every snapshot, read back at the end.
//
// The same options give the same run, event for event (digest witnesses it),
// so a failing seed replays exactly with trace on.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/env/env.h"
#include "core/storage/history.h"

namespace edgebed::storage {

struct TortureOptions {
  uint64_t seed = 1;
  int nodes = 5;  // storage nodes, besides the controller's; >= repl
  int repl = 3;   // 1-3
  uint32_t blocks = 16;
  uint32_t block_size = 512;
  Duration faulty = std::chrono::seconds(10);  // how long faults are injected
  bool trace = false;                          // keep every event and client operation
};

struct TortureResult {
  uint64_t seed = 0;
  CheckResult check;
  uint64_t acknowledged_writes = 0;
  uint64_t lost_writes = 0;
  // Reads no single correct volume could have returned: stale, time travel,
  // never written, and orders no register allows.
  uint64_t bad_reads = 0;
  uint64_t faults = 0;      // fault episodes started
  uint64_t failovers = 0;
  uint64_t blocks_resynced = 0;
  uint64_t snapshots_checked = 0;  // ready snapshots whose every block was read back and checked
  uint64_t digest = 0;      // of every event the loop ran
  std::vector<std::string> trace;  // with TortureOptions::trace

  // The run stopped making progress: events kept coming without simulated
  // time moving on (a livelock). Nothing else was checked.
  bool stalled = false;

  bool ok() const { return lost_writes == 0 && bad_reads == 0 && !stalled; }
};

// Errors: options out of range (kInvalidArgument naming the field), or a
// harness bug the checker caught.
StatusOr<TortureResult> RunTorture(const TortureOptions& options);

}  // namespace edgebed::storage
