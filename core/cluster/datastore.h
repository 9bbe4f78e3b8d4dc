// Datastore: the cluster server's durable control-plane state — a Store
// (core/cluster/store.h) made to survive crashes through the Env's disk, as
// K3s keeps its state in SQLite through kine.
//
// A commit is applied to the store at once, so later commits and reads see
// it, and acknowledged once it is durable: its batch is appended to a
// checksummed log and the log synced. Commits that arrive while a log write
// is in flight wait for the next one and share its sync (group commit).
// When the log outgrows DatastoreOptions::checkpoint_log_bytes, the whole
// store is written as a checkpoint (an SQLite database file) and a new log
// begins. History older than keep_revisions is compacted away as commits go.
//
// What it promises:
// - After a crash, Open() recovers every acknowledged commit, and whatever it
//   recovers is a prefix of the commits made, in commit order: an
//   unacknowledged commit may survive, but never one without every commit
//   made before it. Revisions continue from the recovered one.
// - Commit callbacks fire in commit order, never from inside Commit, always
//   on the node's thread. A batch that fails (a failed expectation, bad
//   input) changes nothing; its callback gets the error once every commit
//   made before it is durable, so the verdict it reports holds after a crash.
// - If a disk operation fails, the datastore stops: waiting and later
//   commits get kUnavailable, nothing not durable is acknowledged, and the
//   owner recovers by building a new Datastore and opening it, as a
//   restarted server would. Until then store() still shows the commits that
//   were applied but never made durable.
// - No exception escapes; destroying the Datastore drops every callback that
//   has not fired.
//
// On disk, under `prefix` (the layout and reasons are in datastore.cc):
//   checkpoint-0, checkpoint-1   alternate: the newer valid one is the state
//   log-<N>                      the commits after checkpoint N
//
//   Datastore ds(env, NewSqliteStore());
//   ds.Open([&](Status s) { ... });
//   ds.Commit({{Mutation::kPut, "/registry/pods/a", bytes, /*expect=*/0}},
//             [](StatusOr<Revision> r) { if (r.ok()) ... durable at *r ... });
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/base/bytes.h"
#include "core/base/status.h"
#include "core/cluster/store.h"
#include "core/env/env.h"

namespace edgebed::cluster {

struct DatastoreOptions {
  std::string prefix = "datastore/";  // file names start with this
  size_t checkpoint_log_bytes = 4 << 20;  // checkpoint once the log holds this much
  // History kept for watchers: at least this many revisions back from the
  // newest (kine's minimum retention), compacted in steps once twice as many
  // are held. It bounds memory, checkpoint size and the cost of a List,
  // which reads every row of history under its prefix. 0 keeps all.
  Revision keep_revisions = 1000;
};

// A batch, its encoding with the record overhead, must fit in one log record.
inline constexpr size_t kMaxBatchBytes = 64u << 20;

struct DatastoreStats {
  uint64_t commits = 0;              // batches that changed the store
  uint64_t log_writes = 0;           // group writes synced to the log
  uint64_t checkpoints = 0;          // checkpoints made durable (Open makes one)
  uint64_t recovered_records = 0;    // log records replayed by Open
  uint64_t discarded_tails = 0;      // logs whose end was torn or corrupt
  uint64_t discarded_bytes = 0;      // bytes of those ends
  uint64_t invalid_checkpoints = 0;  // checkpoint files that failed their checks
};

class Datastore {
 public:
  // REQUIRES: `env` outlives this; `store` has never been changed (its
  // contents come from the disk).
  Datastore(Env& env, std::unique_ptr<Store> store, DatastoreOptions options = {});
  ~Datastore();
  Datastore(const Datastore&) = delete;
  Datastore& operator=(const Datastore&) = delete;

  // Recovers the newest checkpoint whose checksums hold, replays the log
  // written after it (a torn or corrupt end is ignored, counted and recorded
  // as the event datastore.log_tail_discarded), then writes a fresh
  // checkpoint so that new commits never follow a damaged log. `done` gets
  // OK once open() — or kIoError if the disk failed, kCorruption if the
  // stored state cannot be read back (it is left as it is, for a person to
  // look at). REQUIRES: called once.
  void Open(std::function<void(Status)> done);

  // Applies the batch to the store now and calls `done` with the store's
  // revision after it once that is durable. kUnavailable before open() or
  // after a disk failure; kResourceExhausted for a batch over kMaxBatchBytes;
  // otherwise the store's own errors (store.h).
  void Commit(std::vector<Mutation> batch, std::function<void(StatusOr<Revision>)> done);

  // Calls `fn` once every commit made before this call is durable: soon (but
  // not from inside this call) if they already are; never if the disk fails
  // first.
  void AfterDurable(std::function<void()> fn);

  // The newest durable checkpoint; the commits after it go to log-<sequence()>.
  uint64_t sequence() const { return sequence_; }
  // The newest revision known durable.
  Revision durable_revision() const { return durable_revision_; }
  const Store& store() const { return *store_; }
  // True from a successful Open until the datastore stops.
  bool open() const { return open_; }
  // Set once the disk failed or Open did: why the datastore stopped.
  const Status& failure() const { return failure_; }
  const DatastoreStats& stats() const { return stats_; }

 private:
  // One callback waiting for its revision to be durable (in commit order).
  struct Waiter {
    Revision needed = 0;
    std::function<void(StatusOr<Revision>)> done;  // a commit's, or
    std::function<void()> durable;                 // AfterDurable's
    Status error;                                  // why the commit failed, if it did
  };
  struct Recovered;

  std::string CheckpointFile(int slot) const;
  std::string LogFile(uint64_t sequence) const;

  // Recovery, in the order Open runs it.
  void ReadWhole(const std::string& file,
                 std::function<void(StatusOr<std::optional<Bytes>>)> done);
  void ReadCheckpoints(int slot, std::shared_ptr<Recovered> r, std::function<void(Status)> done);
  void Recover(std::shared_ptr<Recovered> r, std::function<void(Status)> done);
  Status ReplayLog(ByteView log, const std::string& file);

  void Flush();  // starts the next disk step, if one is due and none is in flight
  void WriteLog();
  void WriteCheckpoint(std::function<void(Status)> done);
  void Fail(const Status& why);

  void Enqueue(Waiter w);
  // Fires the waiters that are due; false if a callback destroyed this.
  bool Drain();
  void MaybeCompact();

  // Wraps a callback so that it does nothing once this is destroyed.
  template <typename Fn>
  auto Guard(Fn fn);

  Env& env_;
  std::unique_ptr<Store> store_;
  DatastoreOptions options_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  bool open_ = false;
  bool opening_ = false;
  Status failure_;              // not OK once stopped
  bool busy_ = false;           // a log write or a checkpoint is in flight
  uint64_t sequence_ = 0;       // the newest durable checkpoint; the log is log-<sequence_>
  uint64_t log_size_ = 0;       // bytes of complete records in the log
  Bytes pending_;               // framed records not yet written
  Revision pending_revision_ = 0;  // the revision the pending records reach
  uint32_t pending_commits_ = 0;
  Revision durable_revision_ = 0;

  std::deque<Waiter> waiters_;  // in commit order; their revisions never fall
  bool drain_scheduled_ = false;
  DatastoreStats stats_;
};

}  // namespace edgebed::cluster
