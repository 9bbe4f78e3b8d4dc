#include "core/storage/history.h"

#include <algorithm>
#include <functional>
#include <queue>
#include <unordered_map>
#include <utility>

namespace edgebed::storage {

namespace {

// The initial value is written before every operation (times are >= 0); the
// final read, and the completion of a write never acknowledged, come after
// every operation. Comparisons are strict, so kAfterAll against kAfterAll is
// concurrent: an unknown write may still take effect before the final read.
constexpr int64_t kBeforeAll = -1;
constexpr int64_t kAfterAll = std::numeric_limits<int64_t>::max();

enum class Outcome { kInitial, kAcknowledged, kUnknown, kFailed };

struct Write {
  OpId id;  // meaningless for the initial write
  Outcome outcome;
  BlockValue value;
  int64_t invoke;
  int64_t complete;  // kAfterAll unless acknowledged
};

struct Read {
  OpId id;  // kFinalRead for the final read
  BlockValue value;
  int64_t invoke;
  int64_t complete;
};

// One block's operations as the checker sees them. writes[0] is the initial
// write; a read's `value` names its write through `by_value`.
struct BlockOps {
  std::vector<Write> writes;
  std::vector<Read> reads;
  std::unordered_map<BlockValue, size_t> by_value;
  bool has_final = false;
  BlockValue final_value = 0;
};

constexpr size_t kNoWrite = static_cast<size_t>(-1);

std::string Ns(int64_t t) {
  if (t == kBeforeAll) return "the start";
  if (t == kAfterAll) return "the end";
  return std::to_string(t);
}

// Checks one block and appends its reports to `result`, in the order the
// header promises.
class BlockChecker {
 public:
  BlockChecker(BlockId block, const BlockOps& ops, bool failed_is_definite, CheckResult& result)
      : block_(block),
        ops_(ops),
        failed_is_definite_(failed_is_definite),
        result_(result),
        final_read_{kFinalRead, ops.final_value, kAfterAll, kAfterAll} {}

  void Run() {
    const size_t first_report = result_.violations.size();
    IndexAcknowledgedWrites();

    std::vector<const Read*> order;
    order.reserve(ops_.reads.size());
    for (const Read& r : ops_.reads) order.push_back(&r);
    std::sort(order.begin(), order.end(), [](const Read* a, const Read* b) {
      return std::make_pair(a->invoke, a->id) < std::make_pair(b->invoke, b->id);
    });
    // A read r1 -> r2 was invoked before r2, so every candidate r1 has been
    // judged by the time r2 is.
    for (const Read* r : order) {
      if (!ReportInvalid(*r) && !ReportStale(*r) && !ReportTimeTravel(*r)) Witness(*r);
    }
    if (ops_.has_final) CheckFinal();
    if (result_.violations.size() == first_report) ZoneTest();
  }

 private:
  // The reads that may witness time travel, earliest completion first.
  struct SeenRead {
    int64_t complete;
    const Read* read;
    bool operator>(const SeenRead& o) const { return complete > o.complete; }
  };

  size_t WriteOf(BlockValue value) const {
    auto it = ops_.by_value.find(value);
    return it == ops_.by_value.end() ? kNoWrite : it->second;
  }

  std::string Span(int64_t invoke, int64_t complete) const {
    return "[" + Ns(invoke) + ", " + Ns(complete) + "]";
  }
  std::string WriteName(const Write& w) const {
    switch (w.outcome) {
      case Outcome::kInitial:
        return "the initial value";
      case Outcome::kAcknowledged:
        return "write #" + std::to_string(w.id) + " " + Span(w.invoke, w.complete);
      case Outcome::kUnknown:
        return "write #" + std::to_string(w.id) + " [" + Ns(w.invoke) + ", unknown]";
      case Outcome::kFailed:
        return "write #" + std::to_string(w.id) + " [" + Ns(w.invoke) + ", failed]";
    }
    return "";
  }
  // "17 (write #2 [0, 100])"
  std::string ValueFrom(const Write& w) const { return std::to_string(w.value) + " (" + WriteName(w) + ")"; }
  std::string ReadName(const Read& r) const {
    if (r.id == kFinalRead) return "the final read";
    return "read #" + std::to_string(r.id) + " " + Span(r.invoke, r.complete);
  }

  void Report(ViolationKind kind, OpId op, const std::string& text) {
    result_.violations.push_back({kind, block_, op, "block " + std::to_string(block_) + ": " + text});
  }

  void IndexAcknowledgedWrites() {
    for (const Write& w : ops_.writes) {
      if (w.outcome == Outcome::kAcknowledged) acknowledged_.push_back(&w);
    }
    std::sort(acknowledged_.begin(), acknowledged_.end(), [](const Write* a, const Write* b) {
      return std::make_pair(a->complete, a->id) < std::make_pair(b->complete, b->id);
    });
    latest_invoked_.reserve(acknowledged_.size());
    for (const Write* w : acknowledged_) {
      latest_invoked_.push_back(
          latest_invoked_.empty() || w->invoke > latest_invoked_.back()->invoke ? w : latest_invoked_.back());
    }
  }

  // kNeverWritten, kReadFromFuture, kFailedWriteRead: the read's value could
  // not have been there at all.
  bool ReportInvalid(const Read& r) {
    const size_t wi = WriteOf(r.value);
    if (wi == kNoWrite) {
      std::string text =
          ReadName(r) + " returned " + std::to_string(r.value) + ", which no write of this block wrote";
      if (r.id == kFinalRead) {
        // Nothing any acknowledged write put there survived.
        result_.lost_writes += acknowledged_.size();
        text += " (" + std::to_string(acknowledged_.size()) + " acknowledged writes lost)";
      }
      Report(ViolationKind::kNeverWritten, r.id, text);
      ++result_.invalid_reads;
      return true;
    }
    const Write& w = ops_.writes[wi];
    if (r.complete < w.invoke) {
      Report(ViolationKind::kReadFromFuture, r.id,
             ReadName(r) + " returned " + std::to_string(r.value) + " but completed before " + WriteName(w) +
                 ", which wrote it, was invoked");
      ++result_.invalid_reads;
      return true;
    }
    if (failed_is_definite_ && w.outcome == Outcome::kFailed) {
      Report(ViolationKind::kFailedWriteRead, r.id,
             ReadName(r) + " returned " + ValueFrom(w) + ", a write that failed");
      ++result_.invalid_reads;
      return true;
    }
    return false;
  }

  // kStaleRead: an acknowledged write that began after w(v) completed and
  // completed before the read began.
  bool ReportStale(const Read& r) {
    const Write& w = ops_.writes[WriteOf(r.value)];
    auto done = std::lower_bound(acknowledged_.begin(), acknowledged_.end(), r.invoke,
                                 [](const Write* a, int64_t t) { return a->complete < t; });
    if (done == acknowledged_.begin()) return false;
    const Write* newer = latest_invoked_[done - acknowledged_.begin() - 1];
    if (newer->invoke <= w.complete) return false;
    Report(ViolationKind::kStaleRead, r.id,
           ReadName(r) + " returned " + ValueFrom(w) + ", overwritten by " + std::to_string(newer->value) +
               " (acknowledged " + WriteName(*newer) + ") before the read began");
    ++result_.stale_reads;
    return true;
  }

  // kTimeTravel: an earlier unreported read saw a value whose write began
  // after w(v) completed. The witness with the latest-invoked write is the
  // only one that needs comparing.
  bool ReportTimeTravel(const Read& r) {
    while (!unwitnessed_.empty() && unwitnessed_.top().complete < r.invoke) {
      const Read* seen = unwitnessed_.top().read;
      unwitnessed_.pop();
      if (newest_seen_ == nullptr ||
          ops_.writes[WriteOf(seen->value)].invoke > ops_.writes[WriteOf(newest_seen_->value)].invoke) {
        newest_seen_ = seen;
      }
    }
    if (newest_seen_ == nullptr) return false;
    const Write& w = ops_.writes[WriteOf(r.value)];
    const Write& newer = ops_.writes[WriteOf(newest_seen_->value)];
    if (newer.invoke <= w.complete) return false;
    Report(ViolationKind::kTimeTravel, r.id,
           ReadName(r) + " returned " + ValueFrom(w) + ", older than " + ValueFrom(newer) +
               " returned by earlier " + ReadName(*newest_seen_));
    ++result_.time_travel_reads;
    return true;
  }

  void Witness(const Read& r) { unwitnessed_.push({r.complete, &r}); }

  // The final read's staleness is reported as the writes it lost, and like a
  // stale read it then gets no time-travel report.
  void CheckFinal() {
    if (ReportInvalid(final_read_)) return;
    const Write& kept = ops_.writes[WriteOf(final_read_.value)];
    std::vector<const Write*> lost;
    for (const Write* w : acknowledged_) {
      if (kept.complete < w->invoke) lost.push_back(w);
    }
    std::sort(lost.begin(), lost.end(), [](const Write* a, const Write* b) {
      return std::make_pair(a->invoke, a->id) < std::make_pair(b->invoke, b->id);
    });
    for (const Write* w : lost) {
      Report(ViolationKind::kLostWrite, w->id,
             std::to_string(w->value) + " (acknowledged " + WriteName(*w) +
                 ") is lost: the final read returned " + ValueFrom(kept) + ", written before #" +
                 std::to_string(w->id) + " began");
    }
    result_.lost_writes += lost.size();
    if (lost.empty()) ReportTimeTravel(final_read_);
  }

  // Gibbons and Korach's zone test. A value's cluster is its write and the
  // reads of it; the value must hold from no later than the cluster's first
  // completion (`from`) to no earlier than its last invocation (`to`). When
  // from < to that is a forward zone, a span no other write may enter; else
  // the whole cluster can take effect at one instant in [to, from] (a
  // backward zone). With every read valid (the block passed the checks
  // above), a linearization exists iff no two forward zones overlap and no
  // backward zone lies strictly inside a forward one. Bounds are strict
  // because equal times are concurrent.
  struct Zone {
    const Write* write;
    int64_t from;
    int64_t to;
    // The reads that completed at `from` and were invoked at `to`; null
    // where it is the write.
    const Read* from_read;
    const Read* to_read;
    bool forward() const { return from < to; }
  };

  void ZoneTest() {
    // A write that may never have taken effect and that no one read needs no
    // special case: its zone reaches the end, so it lies inside no other.
    std::vector<Zone> zones;
    zones.reserve(ops_.writes.size());
    for (const Write& w : ops_.writes) zones.push_back({&w, w.complete, w.invoke, nullptr, nullptr});
    auto join = [&](const Read& r) {
      Zone& z = zones[WriteOf(r.value)];
      if (r.complete < z.from) {
        z.from = r.complete;
        z.from_read = &r;
      }
      if (r.invoke > z.to) {
        z.to = r.invoke;
        z.to_read = &r;
      }
    };
    for (const Read& r : ops_.reads) join(r);
    if (ops_.has_final) join(final_read_);

    std::vector<const Zone*> forward, backward;
    for (const Zone& z : zones) (z.forward() ? forward : backward).push_back(&z);
    std::sort(forward.begin(), forward.end(), [](const Zone* a, const Zone* b) {
      return std::make_pair(a->from, a->to) < std::make_pair(b->from, b->to);
    });
    // Sorted by start, disjoint iff each ends before the next starts.
    for (size_t i = 0; i + 1 < forward.size(); ++i) {
      const Zone& a = *forward[i];
      const Zone& b = *forward[i + 1];
      if (a.to > b.from) {
        // b is never the initial value's zone, which starts before any other.
        ReportNotLinearizable(b, HoldDescription(a) + ", and " + HoldDescription(b) +
                                     ": the spans overlap, so no register order explains the reads");
        return;
      }
    }
    // Forward zones are now disjoint: only the last one starting before a
    // backward zone can enclose it.
    for (const Zone* b : backward) {
      auto after = std::lower_bound(forward.begin(), forward.end(), b->to,
                                    [](const Zone* f, int64_t t) { return f->from < t; });
      if (after == forward.begin()) continue;
      const Zone& f = **(after - 1);
      if (f.to > b->from) {
        const std::string between =
            b->to_read == b->from_read
                ? Ns(b->to) + " and " + Ns(b->from) + " (" + OpName(*b, b->to_read) + ")"
                : Ns(b->to) + " (" + OpName(*b, b->to_read) + ") and " + Ns(b->from) + " (" +
                      OpName(*b, b->from_read) + ")";
        ReportNotLinearizable(*b, HoldDescription(f) + ", but " + std::to_string(b->write->value) + " (" +
                                      WriteName(*b->write) + ") must take effect between " + between +
                                      ", so no register order explains the reads");
        return;
      }
    }
  }

  std::string OpName(const Zone& z, const Read* read) const {
    return read == nullptr ? WriteName(*z.write) : ReadName(*read);
  }

  std::string HoldDescription(const Zone& z) const {
    return std::to_string(z.write->value) + " must hold from " + Ns(z.from) + " (" + OpName(z, z.from_read) +
           ") to " + Ns(z.to) + " (" + OpName(z, z.to_read) + ")";
  }

  void ReportNotLinearizable(const Zone& z, const std::string& text) {
    Report(ViolationKind::kNotLinearizable, z.write->id, text);
    ++result_.nonlinearizable_blocks;
  }

  const BlockId block_;
  const BlockOps& ops_;
  const bool failed_is_definite_;
  CheckResult& result_;
  const Read final_read_;  // meaningful when ops_.has_final

  // Acknowledged writes by completion; latest_invoked_[i] is the one invoked
  // last among acknowledged_[0..i].
  std::vector<const Write*> acknowledged_;
  std::vector<const Write*> latest_invoked_;

  std::priority_queue<SeenRead, std::vector<SeenRead>, std::greater<SeenRead>> unwitnessed_;
  const Read* newest_seen_ = nullptr;  // among the witnesses completed so far
};

}  // namespace

const char* ToString(ViolationKind kind) {
  switch (kind) {
    case ViolationKind::kNeverWritten:
      return "never-written";
    case ViolationKind::kReadFromFuture:
      return "read-from-future";
    case ViolationKind::kFailedWriteRead:
      return "failed-write-read";
    case ViolationKind::kStaleRead:
      return "stale-read";
    case ViolationKind::kTimeTravel:
      return "time-travel";
    case ViolationKind::kLostWrite:
      return "lost-write";
    case ViolationKind::kNotLinearizable:
      return "not-linearizable";
  }
  return "unknown";
}

std::string CheckResult::ToString(size_t max_violations) const {
  std::string s = std::to_string(operations) + " operations on " + std::to_string(blocks) +
                  " blocks: " + std::to_string(writes) + " writes (" + std::to_string(acknowledged_writes) +
                  " acknowledged, " + std::to_string(unknown_writes) + " unknown, " +
                  std::to_string(failed_writes) + " failed), " + std::to_string(reads) + " reads, " +
                  std::to_string(final_reads) + " final reads\n";
  s += std::to_string(violations.size()) + " violations: " + std::to_string(invalid_reads) +
       " invalid reads, " + std::to_string(stale_reads) + " stale reads, " +
       std::to_string(time_travel_reads) + " time-travel reads, " + std::to_string(lost_writes) +
       " lost writes, " + std::to_string(nonlinearizable_blocks) + " non-linearizable blocks\n";
  const size_t shown = std::min(max_violations, violations.size());
  for (size_t i = 0; i < shown; ++i) {
    s += std::string(storage::ToString(violations[i].kind)) + ": " + violations[i].explanation + "\n";
  }
  if (shown < violations.size()) s += "... and " + std::to_string(violations.size() - shown) + " more\n";
  return s;
}

History::History(HistoryOptions options) : options_(options) {}

void History::Misuse(std::string message) {
  if (error_.ok()) error_ = InvalidArgument(std::move(message));
}

OpId History::InvokeWrite(BlockId block, BlockValue value, Time t) {
  const OpId id = ops_.size();
  if (ToNanos(t) < 0) {
    Misuse("History::InvokeWrite(op " + std::to_string(id) + ", block " + std::to_string(block) + "): time " +
           std::to_string(ToNanos(t)) + " ns is before 0; pass the Env's time");
  }
  ops_.push_back({true, State::kPending, block, value, ToNanos(t), 0});
  return id;
}

OpId History::InvokeRead(BlockId block, Time t) {
  const OpId id = ops_.size();
  if (ToNanos(t) < 0) {
    Misuse("History::InvokeRead(op " + std::to_string(id) + ", block " + std::to_string(block) + "): time " +
           std::to_string(ToNanos(t)) + " ns is before 0; pass the Env's time");
  }
  ops_.push_back({false, State::kPending, block, 0, ToNanos(t), 0});
  return id;
}

History::Op* History::Completable(OpId op, const char* call) {
  if (op < ops_.size() && ops_[op].state == State::kPending) return &ops_[op];
  Misuse(std::string("History::") + call + "(op " + std::to_string(op) + "): " +
         (op >= ops_.size() ? "no such operation; pass an id an Invoke call returned"
                            : "the operation was already completed; complete each operation once"));
  return nullptr;
}

void History::Ok(OpId op, Time t) {
  Op* o = Completable(op, "Ok");
  if (o == nullptr) return;
  if (!o->write) {
    Misuse("History::Ok(op " + std::to_string(op) + "): the operation is a read; complete it with OkRead");
  } else if (ToNanos(t) < o->invoke) {
    Misuse("History::Ok(op " + std::to_string(op) + "): completion at " + std::to_string(ToNanos(t)) +
           " ns is before the invocation at " + std::to_string(o->invoke) +
           " ns; pass the time it completed");
  } else {
    o->state = State::kOk;
    o->complete = ToNanos(t);
  }
}

void History::OkRead(OpId op, BlockValue value, Time t) {
  Op* o = Completable(op, "OkRead");
  if (o == nullptr) return;
  if (o->write) {
    Misuse("History::OkRead(op " + std::to_string(op) + "): the operation is a write; complete it with Ok");
  } else if (ToNanos(t) < o->invoke) {
    Misuse("History::OkRead(op " + std::to_string(op) + "): completion at " + std::to_string(ToNanos(t)) +
           " ns is before the invocation at " + std::to_string(o->invoke) +
           " ns; pass the time it completed");
  } else {
    o->state = State::kOk;
    o->value = value;
    o->complete = ToNanos(t);
  }
}

void History::Unknown(OpId op) {
  if (Op* o = Completable(op, "Unknown")) o->state = State::kUnknown;
}

void History::Failed(OpId op) {
  if (Op* o = Completable(op, "Failed")) o->state = State::kFailed;
}

void History::Final(BlockId block, BlockValue value) {
  if (!finals_.emplace(block, value).second) {
    Misuse("History::Final(block " + std::to_string(block) +
           "): a second final read of the block; record one per block");
  }
}

StatusOr<CheckResult> History::Check() const {
  if (!error_.ok()) return error_;
  CheckResult result;
  result.operations = ops_.size();
  result.final_reads = finals_.size();

  std::map<BlockId, BlockOps> blocks;
  auto block_ops = [&](BlockId block) -> BlockOps& {
    auto [it, added] = blocks.try_emplace(block);
    if (added) {
      it->second.writes.push_back({0, Outcome::kInitial, options_.initial_value, kBeforeAll, kBeforeAll});
      it->second.by_value.emplace(options_.initial_value, 0);
    }
    return it->second;
  };
  for (OpId id = 0; id < ops_.size(); ++id) {
    const Op& op = ops_[id];
    BlockOps& b = block_ops(op.block);
    if (!op.write) {
      if (op.state == State::kOk) {
        ++result.reads;
        b.reads.push_back({id, op.value, op.invoke, op.complete});
      }
      continue;
    }
    if (op.value == options_.initial_value) {
      return InvalidArgument(
          "History::InvokeWrite(op " + std::to_string(id) + "): block " + std::to_string(op.block) +
          " is written " + std::to_string(op.value) +
          ", its initial value; write only values other than HistoryOptions::initial_value");
    }
    auto [it, added] = b.by_value.emplace(op.value, b.writes.size());
    if (!added) {
      return InvalidArgument("History::InvokeWrite(op " + std::to_string(id) + "): block " +
                             std::to_string(op.block) + " is written " + std::to_string(op.value) +
                             " again (first by op " + std::to_string(b.writes[it->second].id) +
                             "); write unique values per block, or reads cannot tell the writes apart");
    }
    ++result.writes;
    Outcome outcome = Outcome::kUnknown;
    if (op.state == State::kOk) {
      outcome = Outcome::kAcknowledged;
      ++result.acknowledged_writes;
    } else if (op.state == State::kFailed) {
      outcome = Outcome::kFailed;
      ++result.failed_writes;
    } else {
      ++result.unknown_writes;
    }
    b.writes.push_back(
        {id, outcome, op.value, op.invoke, outcome == Outcome::kAcknowledged ? op.complete : kAfterAll});
  }
  for (const auto& [block, value] : finals_) {
    BlockOps& b = block_ops(block);
    b.has_final = true;
    b.final_value = value;
  }

  result.blocks = blocks.size();
  for (const auto& [block, b] : blocks) {
    BlockChecker(block, b, options_.failed_is_definite, result).Run();
  }
  return result;
}

}  // namespace edgebed::storage
