// Store: the control plane's revisioned key-value state, as K3s keeps it in
// SQLite through kine.
//
// Every change to a key takes the next revision of the whole store (a
// monotonically rising int64, 1 for the first change), so a revision names
// one state of everything and a watcher can ask for "what changed after R".
// A key's record carries the revision that created it and the one that last
// modified it; a conditional mutation names the revision it expects, which is
// how controllers do optimistic concurrency (compare-and-swap on
// mod_revision, create-if-absent with 0).
//
// What a Store promises:
// - Commit applies a batch all or none, in order: a mutation sees the
//   effects of those before it in the same batch.
// - History (the Change of every revision) is kept above compacted(); below
//   it only current values remain, and a reader who falls behind it is told
//   to list again (kOutOfRange), as etcd's watchers are.
// - Checkpoint() is the whole state in bytes and Restore() takes it back; a
//   failed Restore leaves the store as it was.
// - It does no I/O of its own and uses no clock, thread or randomness: the
//   Datastore (core/cluster/datastore.h) makes it durable through an Env.
//   One owner thread; nothing is thread-safe.
//
//   std::unique_ptr<Store> store = NewSqliteStore();
//   StatusOr<Revision> r = store->Commit({{Mutation::kPut, "/pods/a", ToBytes("v1"), /*expect=*/0}});
//   std::optional<Record> a = store->Get("/pods/a");   // mod_revision == *r
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/base/bytes.h"
#include "core/base/status.h"

namespace edgebed::cluster {

using Revision = int64_t;

// Bounds on what one mutation may carry, so every committed change can be
// logged and decoded again with a bounds-checked reader.
inline constexpr size_t kMaxKeySize = 64u << 10;
inline constexpr size_t kMaxValueSize = 16u << 20;

// A key's current value.
struct Record {
  std::string key;
  Bytes value;
  Revision create_revision = 0;  // the revision that created this incarnation of the key
  Revision mod_revision = 0;     // the revision of its last put
};

// What one revision did: a put (value is the new value) or a delete; either
// way prev_value is what the key held before (empty if it was absent).
struct Change {
  Revision revision = 0;
  std::string key;
  bool deleted = false;
  Bytes value;
  Bytes prev_value;
};

struct Mutation {
  enum Op : uint8_t { kPut, kDelete } op = kPut;
  std::string key;
  Bytes value;  // for kPut
  // -1: unconditional. 0: the key must not exist. >0: its mod_revision must equal this.
  Revision expect = -1;
};

class Store {
 public:
  virtual ~Store() = default;

  // Applies every mutation in one transaction, all or none. Each one that
  // changes something takes the next revision: a put always does (even of an
  // identical value), a delete only if the key exists. Returns the store's
  // revision after the batch (unchanged if nothing changed).
  // Errors, after which the store is as it was:
  //   kFailedPrecondition when an expectation fails, naming the key (where())
  //     and both revisions (0 meaning absent);
  //   kInvalidArgument for an empty key, a key over kMaxKeySize or a value
  //     over kMaxValueSize, or an unknown op;
  //   whatever the database reports (kResourceExhausted, kInternal, ...).
  virtual StatusOr<Revision> Commit(const std::vector<Mutation>& batch) = 0;

  // The reads have no Status: an in-memory database fails only when out of
  // memory, and then a read returns what it got (nothing, or fewer records).
  //
  // The key's current record, or nullopt if it does not exist.
  virtual std::optional<Record> Get(const std::string& key) const = 0;
  // Every current record whose key starts with `prefix`, in key order
  // (bytewise, as std::string compares).
  virtual std::vector<Record> List(const std::string& prefix) const = 0;
  // The revision of the last change; 0 for a store never changed.
  virtual Revision revision() const = 0;

  // The changes with revision > since, ascending, at most `limit` of them.
  // kOutOfRange ("compacted at R; list again") when since < compacted(): the
  // changes right after `since` are gone.
  virtual StatusOr<std::vector<Change>> ChangesSince(Revision since, size_t limit) const = 0;
  // Forgets history at or below min(upto, revision()); current values stay.
  // A no-op if upto <= compacted().
  virtual void Compact(Revision upto) = 0;
  // The revision at or below which history is gone; 0 if never compacted.
  virtual Revision compacted() const = 0;

  // The whole state — current values, the history kept, revision() and
  // compacted() — as bytes, and back. Restore checks what it is given and
  // leaves the store unchanged if the image is not a store image
  // (kCorruption) or cannot be loaded.
  virtual StatusOr<Bytes> Checkpoint() const = 0;
  virtual Status Restore(ByteView image) = 0;
};

// A Store in an in-memory SQLite database (":memory:"), laid out as kine lays
// out K3s's state: one table of rows, one per revision (see store.cc). Its
// Checkpoint() is an SQLite database file: `sqlite3 checkpoint.db 'SELECT
// name, id FROM kine'` reads it.
std::unique_ptr<Store> NewSqliteStore();

}  // namespace edgebed::cluster
