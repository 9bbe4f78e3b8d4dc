// History: a correctness checker for the operations clients ran against a
// replicated block volume, for the randomized fault tests ("torture").
//
// A volume is an array of blocks and every block is a register. A test
// harness records each client operation as it is invoked and as it completes,
// then asks whether what the clients saw could have come from one correct,
// single-copy volume: per block, a linearizable register — "every block reads
// back its last acknowledged value, or a value written concurrently with the
// read" — and, after the run, a final read of every block that must not be
// older than its last acknowledged write.
//
//   History h;
//   OpId w = h.InvokeWrite(/*block=*/3, /*value=*/17, env.now());
//   OpId r = h.InvokeRead(3, env.now());
//   h.Ok(w, env.now());                 // or h.Unknown(w) when the client gave up
//   h.OkRead(r, 17, env.now());
//   ...                                 // at the end, nothing in flight:
//   h.Final(3, 17);                     // what a last read of block 3 returned
//   StatusOr<CheckResult> c = h.Check();
//   if (!c.ok()) FAIL() << c.status().ToString();    // the harness broke a rule
//   EXPECT_TRUE(c->ok()) << c->ToString();
//
// Model. Every block starts at HistoryOptions::initial_value, written before
// time 0. A write's value is unique on its block (the harness guarantees it;
// a repeat, or a write of the initial value, makes Check() return an error:
// it is a harness bug, since reads could not tell the writes apart). A write
// completes ok (acknowledged), unknown (the client crashed or timed out: it
// may take effect at any moment after its invocation, or never) or failed
// (treated exactly like unknown unless failed_is_definite). A write never
// completed when Check() runs is unknown. A read completes ok with a value;
// a read that never completes (or is marked Unknown/Failed) is ignored.
//
// Time is the Env's (edgebed::Time, nanoseconds; explanations print it as
// integer ns) and must be >= 0. Operation a happens before b when a completed
// strictly before b was invoked (a.complete < b.invoke); equal timestamps are
// concurrent, so a harness with a coarse clock gets fewer reports, never
// false ones. Unknown and failed writes never complete (complete = +inf). The
// final read happens after everything (invoke = complete = +inf).
//
// What Check() promises, per block, with w(v) the write of value v:
//   kNeverWritten     a read (or the final read) returned a value no write wrote.
//   kReadFromFuture   a read of v completed before w(v) was invoked.
//   kFailedWriteRead  (only if failed_is_definite) a read returned a value
//                     whose write was reported failed.
//   kStaleRead        a read of v, when some acknowledged write w2 has
//                     w(v) -> w2 -> read (-> is happens-before): v had been
//                     definitively overwritten before the read began.
//   kTimeTravel       a read r2 of v2 (the final read included), when an
//                     earlier read r1 -> r2 returned v1 with w(v2) -> w(v1):
//                     the block went back to an older value after a newer
//                     one was seen (e.g. failover to a stale replica). Reads
//                     already reported are not used as r1.
//   kLostWrite        one per acknowledged write w with w(final) -> w: the
//                     final value is older than w. These are the final read's
//                     kStaleRead: with one, it gets no kTimeTravel. A final
//                     value no one wrote is one kNeverWritten report, and
//                     counts every acknowledged write of its block in
//                     CheckResult::lost_writes.
//   kNotLinearizable  at most one per block, and only on a block with no
//                     other report: an ordering no register can produce that
//                     the checks above do not name, e.g. concurrent writes of
//                     a and b seen as a, b, a by successive reads. Found with
//                     Gibbons and Korach's zone test (Testing Shared
//                     Memories, 1997), exact for registers with unique values.
// Each read gets at most one report (the first kind in this list). So a block
// has no report iff its operations, with the final read, are linearizable
// (unknown and failed writes taking effect or not, as suits).
//
// Reports are ordered by block, then reads by invocation time and id, then
// the final read, its lost writes (by invocation time and id), and the zone
// test; each names the block, the operations with their ids, times and
// values. Check() is O(n log n).
//
// Not thread-safe: one harness thread records, then checks.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/env/env.h"

namespace edgebed::storage {

using BlockId = uint64_t;
using BlockValue = uint64_t;
// An operation: its index in the History, in invocation-call order.
using OpId = uint64_t;
// Names the final read of a block in a Violation.
inline constexpr OpId kFinalRead = std::numeric_limits<OpId>::max();

struct HistoryOptions {
  // Every block's value before the run.
  BlockValue initial_value = 0;
  // A failed write definitely did not take effect, so reading its value is a
  // violation. Off by default: a replicated volume may report failure for a
  // write one replica kept, and a later failover may surface it.
  bool failed_is_definite = false;
};

enum class ViolationKind {
  kNeverWritten,
  kReadFromFuture,
  kFailedWriteRead,
  kStaleRead,
  kTimeTravel,
  kLostWrite,
  kNotLinearizable,
};
// "never-written", "read-from-future", ..., "not-linearizable".
const char* ToString(ViolationKind kind);

struct Violation {
  ViolationKind kind;
  BlockId block = 0;
  // The read at fault (kFinalRead for the final read); for kLostWrite the
  // lost write; for kNotLinearizable the write of one of the values involved.
  OpId op = 0;
  // One line: block, operations, times (ns) and values.
  std::string explanation;
};

struct CheckResult {
  uint64_t operations = 0;           // every invoked operation
  uint64_t blocks = 0;               // blocks with an operation or a final read
  uint64_t writes = 0;
  uint64_t acknowledged_writes = 0;
  uint64_t unknown_writes = 0;       // including those still in flight
  uint64_t failed_writes = 0;
  uint64_t reads = 0;                // completed ok, final reads not included
  uint64_t final_reads = 0;

  uint64_t invalid_reads = 0;        // kNeverWritten, kReadFromFuture, kFailedWriteRead
  uint64_t stale_reads = 0;          // kStaleRead
  uint64_t time_travel_reads = 0;    // kTimeTravel
  uint64_t lost_writes = 0;          // kLostWrite, and those lost to a never-written final value
  uint64_t nonlinearizable_blocks = 0;

  std::vector<Violation> violations;

  bool ok() const { return violations.empty(); }
  // The counts, then up to `max_violations` explanations, one per line.
  std::string ToString(size_t max_violations = 20) const;
};

class History {
 public:
  explicit History(HistoryOptions options = {});

  // Records an invocation; returns its id. `t` must be >= 0.
  OpId InvokeWrite(BlockId block, BlockValue value, Time t);
  OpId InvokeRead(BlockId block, Time t);

  // Completions. REQUIRES (else Check() returns kInvalidArgument naming the
  // first offence): `op` was returned by an Invoke and not completed yet; Ok
  // is for a write, OkRead for a read; `t` >= the invocation time. Unknown and
  // Failed take any operation (a read so marked is ignored).
  void Ok(OpId op, Time t);
  void OkRead(OpId op, BlockValue value, Time t);
  void Unknown(OpId op);
  void Failed(OpId op);

  // The value a read of `block` returned after the run, with nothing in
  // flight. At most once per block (else Check() returns an error). A block
  // without one gets no final check.
  void Final(BlockId block, BlockValue value);

  // Checks the whole history. Errors (kInvalidArgument) are harness bugs:
  // an API rule above broken, or a value written twice on a block.
  StatusOr<CheckResult> Check() const;

  size_t size() const { return ops_.size(); }

 private:
  enum class State : uint8_t { kPending, kOk, kUnknown, kFailed };
  struct Op {
    bool write;
    State state;
    BlockId block;
    BlockValue value;  // written, or read once kOk
    int64_t invoke;    // ns
    int64_t complete;  // ns, once kOk
  };

  Op* Completable(OpId op, const char* call);
  void Misuse(std::string message);

  HistoryOptions options_;
  std::vector<Op> ops_;
  std::map<BlockId, BlockValue> finals_;
  Status error_;  // the first harness rule broken
};

}  // namespace edgebed::storage
