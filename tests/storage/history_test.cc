// History: the per-block register checker of the torture tests. Examples pin
// each violation kind and its boundaries (equal times are concurrent; unknown
// writes take effect late or never), the report order and the harness-misuse
// errors. A property test records histories of a correct single-copy
// register, which must pass, then plants one fault and expects exactly its
// report. A differential test compares the verdict on tiny histories with a
// brute-force search over every linearization.
//
// Randomized tests print their seed on failure; EDGEBED_SEED=N replays one.
#include "core/storage/history.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "core/env/random.h"

namespace edgebed::storage {
namespace {

constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

Time At(int64_t ns) { return Time(Duration(ns)); }

// The seeds a randomized test runs: 1..count, or only $EDGEBED_SEED.
std::vector<uint64_t> Seeds(uint64_t count) {
  if (const char* one = std::getenv("EDGEBED_SEED")) return {std::strtoull(one, nullptr, 10)};
  std::vector<uint64_t> seeds;
  for (uint64_t s = 1; s <= count; ++s) seeds.push_back(s);
  return seeds;
}
bool AllSeeds() { return std::getenv("EDGEBED_SEED") == nullptr; }
std::string Replay(uint64_t seed) {
  return "seed " + std::to_string(seed) + " (replay: EDGEBED_SEED=" + std::to_string(seed) + ")";
}

CheckResult MustCheck(const History& h) {
  StatusOr<CheckResult> c = h.Check();
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? *c : CheckResult{};
}

// "stale-read block 0 op 3"; the final read is op "final".
std::string Rep(ViolationKind kind, BlockId block, OpId op) {
  return std::string(ToString(kind)) + " block " + std::to_string(block) + " op " +
         (op == kFinalRead ? std::string("final") : std::to_string(op));
}
std::vector<std::string> Reports(const CheckResult& c) {
  std::vector<std::string> out;
  for (const Violation& v : c.violations) out.push_back(Rep(v.kind, v.block, v.op));
  return out;
}
using Strings = std::vector<std::string>;

// Records operations whose times are known up front; ids follow call order.
class Recorder {
 public:
  explicit Recorder(HistoryOptions options = {}) : h_(options) {}

  OpId Write(BlockId block, BlockValue value, int64_t invoke, int64_t complete) {
    const OpId id = h_.InvokeWrite(block, value, At(invoke));
    h_.Ok(id, At(complete));
    return id;
  }
  OpId UnknownWrite(BlockId block, BlockValue value, int64_t invoke) {
    const OpId id = h_.InvokeWrite(block, value, At(invoke));
    h_.Unknown(id);
    return id;
  }
  OpId FailedWrite(BlockId block, BlockValue value, int64_t invoke) {
    const OpId id = h_.InvokeWrite(block, value, At(invoke));
    h_.Failed(id);
    return id;
  }
  OpId Read(BlockId block, BlockValue value, int64_t invoke, int64_t complete) {
    const OpId id = h_.InvokeRead(block, At(invoke));
    h_.OkRead(id, value, At(complete));
    return id;
  }
  void Final(BlockId block, BlockValue value) { h_.Final(block, value); }

  History& history() { return h_; }
  CheckResult Check() const { return MustCheck(h_); }

 private:
  History h_;
};

// --- Correct histories -----------------------------------------------------

TEST(History, EmptyHistoryIsOk) {
  const CheckResult c = MustCheck(History());
  EXPECT_TRUE(c.ok());
  EXPECT_EQ(c.operations, 0u);
  EXPECT_EQ(c.blocks, 0u);
}

TEST(History, SequentialHistoryIsOkAndCounted) {
  Recorder r;
  r.Read(0, 0, 0, 5);
  r.Write(0, 1, 10, 20);
  r.Read(0, 1, 30, 40);
  r.Write(1, 2, 10, 20);
  r.UnknownWrite(1, 3, 30);
  r.FailedWrite(1, 4, 35);
  r.history().InvokeWrite(1, 5, At(40));  // still in flight: unknown
  const OpId lost_read = r.history().InvokeRead(1, At(40));
  r.history().Unknown(lost_read);
  r.history().InvokeRead(2, At(50));  // never completed
  r.Final(0, 1);
  r.Final(3, 0);  // a block only the final read touched
  const CheckResult c = r.Check();
  EXPECT_TRUE(c.ok()) << c.ToString();
  EXPECT_EQ(c.operations, 9u);
  EXPECT_EQ(c.blocks, 4u);
  EXPECT_EQ(c.writes, 5u);
  EXPECT_EQ(c.acknowledged_writes, 2u);
  EXPECT_EQ(c.unknown_writes, 2u);
  EXPECT_EQ(c.failed_writes, 1u);
  EXPECT_EQ(c.reads, 2u);
  EXPECT_EQ(c.final_reads, 2u);
}

TEST(History, ReadConcurrentWithWriteMaySeeEitherValue) {
  Recorder r;
  r.Write(0, 1, 10, 50);
  r.Read(0, 0, 20, 30);
  r.Read(0, 1, 20, 30);
  r.Read(0, 1, 40, 60);
  r.Read(0, 1, 70, 80);
  r.Final(0, 1);
  EXPECT_TRUE(r.Check().ok()) << r.Check().ToString();
}

TEST(History, NonZeroInitialValue) {
  Recorder r(HistoryOptions{/*initial_value=*/7});
  r.Read(0, 7, 0, 1);
  r.Write(0, 0, 2, 3);
  r.Read(0, 0, 4, 5);
  r.Final(1, 7);
  EXPECT_TRUE(r.Check().ok()) << r.Check().ToString();
}

// --- One test or more per violation kind ------------------------------------

TEST(History, NeverWrittenRead) {
  Recorder r;
  r.Write(0, 1, 0, 10);
  const OpId read = r.Read(0, 99, 20, 30);
  const CheckResult c = r.Check();
  ASSERT_EQ(Reports(c), Strings{Rep(ViolationKind::kNeverWritten, 0, read)});
  EXPECT_EQ(c.invalid_reads, 1u);
  EXPECT_NE(c.violations[0].explanation.find("read #1 [20, 30] returned 99"), std::string::npos)
      << c.violations[0].explanation;
}

TEST(History, ValueWrittenToAnotherBlockIsNeverWritten) {
  Recorder r;
  r.Write(1, 5, 0, 10);
  const OpId read = r.Read(0, 5, 20, 30);
  EXPECT_EQ(Reports(r.Check()), Strings{Rep(ViolationKind::kNeverWritten, 0, read)});
}

TEST(History, NeverWrittenFinalLosesEveryAcknowledgedWrite) {
  Recorder r;
  r.Write(0, 1, 0, 10);
  r.Write(0, 2, 20, 30);
  r.UnknownWrite(0, 3, 40);
  r.Final(0, 99);
  const CheckResult c = r.Check();
  ASSERT_EQ(Reports(c), Strings{Rep(ViolationKind::kNeverWritten, 0, kFinalRead)});
  EXPECT_EQ(c.lost_writes, 2u);
  EXPECT_EQ(c.invalid_reads, 1u);
  EXPECT_NE(c.violations[0].explanation.find("2 acknowledged writes lost"), std::string::npos)
      << c.violations[0].explanation;
}

TEST(History, ReadFromFuture) {
  Recorder r;
  const OpId read = r.Read(0, 1, 0, 10);
  r.Write(0, 1, 11, 20);
  const CheckResult c = r.Check();
  EXPECT_EQ(Reports(c), Strings{Rep(ViolationKind::kReadFromFuture, 0, read)});
  EXPECT_EQ(c.invalid_reads, 1u);
}

TEST(History, ReadEndingAsTheWriteBeginsIsNotFromTheFuture) {
  Recorder r;
  r.Read(0, 1, 0, 10);
  r.Write(0, 1, 10, 20);
  EXPECT_TRUE(r.Check().ok()) << r.Check().ToString();
}

TEST(History, ReadOfFailedWriteIsFineUnlessFailureIsDefinite) {
  for (bool definite : {false, true}) {
    Recorder r(HistoryOptions{0, definite});
    const OpId w = r.FailedWrite(0, 1, 0);
    const OpId read = r.Read(0, 1, 10, 20);
    r.Final(0, 1);
    const CheckResult c = r.Check();
    if (definite) {
      ASSERT_EQ(Reports(c), (Strings{Rep(ViolationKind::kFailedWriteRead, 0, read),
                                     Rep(ViolationKind::kFailedWriteRead, 0, kFinalRead)}));
      EXPECT_EQ(c.invalid_reads, 2u);
      EXPECT_EQ(c.lost_writes, 0u);
      EXPECT_NE(c.violations[0].explanation.find("write #" + std::to_string(w) + " [0, failed]"),
                std::string::npos)
          << c.violations[0].explanation;
    } else {
      EXPECT_TRUE(c.ok()) << c.ToString();
    }
  }
}

TEST(History, DefinitelyFailedWriteNobodyReadIsIgnored) {
  Recorder r(HistoryOptions{0, /*failed_is_definite=*/true});
  r.Write(0, 1, 0, 10);
  r.FailedWrite(0, 2, 20);
  r.Read(0, 1, 30, 40);
  r.Final(0, 1);
  EXPECT_TRUE(r.Check().ok()) << r.Check().ToString();
}

TEST(History, StaleRead) {
  Recorder r;
  const OpId w1 = r.Write(0, 1, 0, 10);
  const OpId w2 = r.Write(0, 2, 20, 30);
  const OpId read = r.Read(0, 1, 40, 50);
  const CheckResult c = r.Check();
  ASSERT_EQ(Reports(c), Strings{Rep(ViolationKind::kStaleRead, 0, read)});
  EXPECT_EQ(c.stale_reads, 1u);
  const std::string& why = c.violations[0].explanation;
  EXPECT_EQ(why.rfind("block 0: ", 0), 0u) << why;
  for (const std::string& part :
       {"read #" + std::to_string(read) + " [40, 50]", "write #" + std::to_string(w1) + " [0, 10]",
        "2 (acknowledged write #" + std::to_string(w2) + " [20, 30])"}) {
    EXPECT_NE(why.find(part), std::string::npos) << part << " missing from " << why;
  }
}

TEST(History, ReadOfInitialValueAfterAnAcknowledgedWriteIsStale) {
  Recorder r;
  r.Write(0, 1, 0, 10);
  const OpId read = r.Read(0, 0, 20, 30);
  EXPECT_EQ(Reports(r.Check()), Strings{Rep(ViolationKind::kStaleRead, 0, read)});
}

TEST(History, EqualTimestampsAreConcurrent) {
  // w1 ends as w2 begins and w2 ends as the read begins: w2 may have been
  // ordered first, and both may overlap the read.
  Recorder a;
  a.Write(0, 1, 0, 10);
  a.Write(0, 2, 10, 20);
  a.Read(0, 1, 20, 30);
  a.Final(0, 1);
  EXPECT_TRUE(a.Check().ok()) << a.Check().ToString();

  // One nanosecond later the read is stale.
  Recorder b;
  b.Write(0, 1, 0, 10);
  b.Write(0, 2, 11, 20);
  const OpId read = b.Read(0, 1, 21, 30);
  EXPECT_EQ(Reports(b.Check()), Strings{Rep(ViolationKind::kStaleRead, 0, read)});
}

TEST(History, UnknownWriteNeverMakesAReadStale) {
  Recorder r;
  r.Write(0, 1, 0, 10);
  r.UnknownWrite(0, 2, 20);
  r.Read(0, 1, 1000, 1010);
  r.Final(0, 1);
  EXPECT_TRUE(r.Check().ok()) << r.Check().ToString();
}

TEST(History, UnknownWriteMayTakeEffectAnyTimeLater) {
  Recorder r;
  r.Write(0, 1, 0, 10);
  r.UnknownWrite(0, 2, 20);
  r.Read(0, 1, 1000, 1010);
  r.Read(0, 2, 2000, 2010);
  r.Read(0, 2, 3000, 3010);
  r.Final(0, 2);
  EXPECT_TRUE(r.Check().ok()) << r.Check().ToString();
}

TEST(History, UnknownWriteMayTakeEffectJustBeforeTheFinalRead) {
  Recorder r;
  r.Write(0, 1, 0, 10);
  r.UnknownWrite(0, 2, 20);
  r.Read(0, 1, 1000, 1010);
  r.Final(0, 2);
  EXPECT_TRUE(r.Check().ok()) << r.Check().ToString();
}

TEST(History, TimeTravel) {
  // w2 is not acknowledged before the second read, so that read is not
  // stale; but an earlier read already saw 2.
  Recorder r;
  const OpId w1 = r.Write(0, 1, 0, 10);
  const OpId w2 = r.Write(0, 2, 20, 100);
  const OpId saw_new = r.Read(0, 2, 30, 40);
  const OpId saw_old = r.Read(0, 1, 50, 60);
  const CheckResult c = r.Check();
  ASSERT_EQ(Reports(c), Strings{Rep(ViolationKind::kTimeTravel, 0, saw_old)});
  EXPECT_EQ(c.time_travel_reads, 1u);
  const std::string& why = c.violations[0].explanation;
  for (const std::string& part :
       {"read #" + std::to_string(saw_old) + " [50, 60] returned 1", "write #" + std::to_string(w1),
        "2 (write #" + std::to_string(w2) + " [20, 100])",
        "read #" + std::to_string(saw_new) + " [30, 40]"}) {
    EXPECT_NE(why.find(part), std::string::npos) << part << " missing from " << why;
  }
}

TEST(History, OverlappingReadsMayDisagree) {
  Recorder r;
  r.Write(0, 1, 0, 10);
  r.Write(0, 2, 20, 100);
  r.Read(0, 2, 30, 50);
  r.Read(0, 1, 50, 60);  // begins as the other ends: concurrent
  EXPECT_TRUE(r.Check().ok()) << r.Check().ToString();
}

TEST(History, FinalReadCanTimeTravel) {
  Recorder r;
  r.Write(0, 1, 0, 10);
  r.UnknownWrite(0, 2, 20);
  r.Read(0, 2, 30, 40);
  r.Final(0, 1);
  const CheckResult c = r.Check();
  EXPECT_EQ(Reports(c), Strings{Rep(ViolationKind::kTimeTravel, 0, kFinalRead)});
  EXPECT_EQ(c.lost_writes, 0u);
}

TEST(History, ReportedReadsDoNotWitnessTimeTravel) {
  // The first read returned 3 before 3 was written; had it counted, the
  // second read (of 2, older than 3) would be time travel too.
  Recorder r;
  const OpId future = r.Read(0, 3, 5, 6);
  r.Write(0, 2, 20, 30);
  r.UnknownWrite(0, 3, 40);
  r.Read(0, 2, 50, 60);
  EXPECT_EQ(Reports(r.Check()), Strings{Rep(ViolationKind::kReadFromFuture, 0, future)});
}

TEST(History, EachReadGetsOnlyItsFirstReport) {
  // Stale and time travel at once: only stale is reported.
  Recorder r;
  r.Write(0, 1, 0, 10);
  r.Write(0, 2, 20, 30);
  r.Read(0, 2, 40, 50);
  const OpId read = r.Read(0, 1, 60, 70);
  EXPECT_EQ(Reports(r.Check()), Strings{Rep(ViolationKind::kStaleRead, 0, read)});
}

TEST(History, LostWrites) {
  Recorder r;
  const OpId kept = r.Write(0, 1, 0, 10);
  const OpId w3 = r.Write(0, 3, 40, 50);
  const OpId w2 = r.Write(0, 2, 20, 30);  // invoked earlier, recorded later
  r.Write(0, 4, 5, 60);                   // overlaps the kept write: may precede it
  r.UnknownWrite(0, 5, 70);               // may never have happened
  r.Final(0, 1);
  const CheckResult c = r.Check();
  ASSERT_EQ(Reports(c),
            (Strings{Rep(ViolationKind::kLostWrite, 0, w2), Rep(ViolationKind::kLostWrite, 0, w3)}));
  EXPECT_EQ(c.lost_writes, 2u);
  EXPECT_EQ(c.time_travel_reads, 0u);
  const std::string& why = c.violations[0].explanation;
  EXPECT_NE(why.find("2 (acknowledged write #" + std::to_string(w2) + " [20, 30]) is lost"),
            std::string::npos)
      << why;
  EXPECT_NE(why.find("1 (write #" + std::to_string(kept) + " [0, 10])"), std::string::npos) << why;
}

TEST(History, FinalInitialValueLosesEveryAcknowledgedWrite) {
  Recorder r;
  const OpId w1 = r.Write(0, 1, 0, 10);
  const OpId w2 = r.Write(0, 2, 5, 30);
  r.Final(0, 0);
  EXPECT_EQ(Reports(r.Check()),
            (Strings{Rep(ViolationKind::kLostWrite, 0, w1), Rep(ViolationKind::kLostWrite, 0, w2)}));
}

TEST(History, LostWritesSuppressTimeTravelOfTheFinalRead) {
  Recorder r;
  r.Write(0, 1, 0, 10);
  const OpId w2 = r.Write(0, 2, 20, 30);
  r.Read(0, 2, 40, 50);
  r.Final(0, 1);
  EXPECT_EQ(Reports(r.Check()), Strings{Rep(ViolationKind::kLostWrite, 0, w2)});
}

TEST(History, NotLinearizableReadsAlternateBetweenConcurrentWrites) {
  // Concurrent writes of 1 and 2 read as 1, 2, 1: neither order explains it,
  // yet no single read is stale or travels back over a completed write.
  Recorder r;
  r.Write(0, 1, 0, 100);
  const OpId w2 = r.Write(0, 2, 0, 100);
  r.Read(0, 1, 10, 20);
  r.Read(0, 2, 30, 40);
  r.Read(0, 1, 50, 60);
  const CheckResult c = r.Check();
  EXPECT_EQ(Reports(c), Strings{Rep(ViolationKind::kNotLinearizable, 0, w2)});
  EXPECT_EQ(c.nonlinearizable_blocks, 1u);
}

TEST(History, NotLinearizableOverlappingSpans) {
  // Read as 1, 2, 1, 2: each value must hold across a span the other enters.
  Recorder r;
  r.Write(0, 1, 0, 100);
  const OpId w2 = r.Write(0, 2, 0, 100);
  const OpId r1 = r.Read(0, 1, 10, 20);
  r.Read(0, 2, 30, 40);
  const OpId r3 = r.Read(0, 1, 50, 60);
  r.Read(0, 2, 70, 80);
  const CheckResult c = r.Check();
  ASSERT_EQ(Reports(c), Strings{Rep(ViolationKind::kNotLinearizable, 0, w2)});
  const std::string& why = c.violations[0].explanation;
  EXPECT_NE(why.find("1 must hold from 20 (read #" + std::to_string(r1) + " [10, 20]) to 50 (read #" +
                     std::to_string(r3) + " [50, 60])"),
            std::string::npos)
      << why;
  EXPECT_NE(why.find("the spans overlap"), std::string::npos) << why;
}

TEST(History, NotLinearizableWriteInsideAnotherValuesSpan) {
  // 1 must hold from 10 to 50, but 2 was read at [25, 35] and its write began
  // before 1's completed, so neither is stale nor time travel.
  Recorder r;
  r.Write(0, 1, 0, 10);
  const OpId w2 = r.UnknownWrite(0, 2, 5);
  r.Read(0, 2, 25, 35);
  r.Read(0, 1, 50, 60);
  const CheckResult c = r.Check();
  ASSERT_EQ(Reports(c), Strings{Rep(ViolationKind::kNotLinearizable, 0, w2)});
  EXPECT_NE(c.violations[0].explanation.find("1 must hold from 10"), std::string::npos)
      << c.violations[0].explanation;
}

TEST(History, InitialValueCannotComeBack) {
  Recorder r;
  r.Write(0, 1, 0, 100);
  r.Read(0, 1, 10, 20);
  const OpId back = r.Read(0, 0, 30, 40);
  EXPECT_EQ(Reports(r.Check()), Strings{Rep(ViolationKind::kTimeTravel, 0, back)});
}

TEST(History, ReportsAreOrderedByBlockThenReadInvocationThenFinal) {
  Recorder r;
  // Block 1, recorded first.
  const OpId b1_lost = r.Write(1, 1, 0, 10);
  r.Final(1, 0);
  // Block 0: reads recorded out of invocation order, and two invoked at once.
  r.Write(0, 1, 0, 10);
  r.Write(0, 2, 20, 30);
  const OpId late = r.Read(0, 0, 90, 95);
  const OpId tie_first = r.Read(0, 77, 50, 60);
  const OpId tie_second = r.Read(0, 1, 50, 55);
  r.Final(0, 88);
  EXPECT_EQ(
      Reports(r.Check()),
      (Strings{Rep(ViolationKind::kNeverWritten, 0, tie_first), Rep(ViolationKind::kStaleRead, 0, tie_second),
               Rep(ViolationKind::kStaleRead, 0, late), Rep(ViolationKind::kNeverWritten, 0, kFinalRead),
               Rep(ViolationKind::kLostWrite, 1, b1_lost)}));
}

TEST(History, ReadsInvokedTogetherAreOrderedById) {
  Recorder r;
  r.Write(0, 1, 0, 10);
  const OpId first = r.Read(0, 7, 50, 60);
  const OpId second = r.Read(0, 8, 50, 55);
  EXPECT_EQ(Reports(r.Check()), (Strings{Rep(ViolationKind::kNeverWritten, 0, first),
                                         Rep(ViolationKind::kNeverWritten, 0, second)}));
}

TEST(History, ToStringShowsCountsAndTruncates) {
  Recorder r;
  r.Write(0, 1, 0, 10);
  for (int i = 0; i < 5; ++i) r.Read(0, 100 + i, 20 + i, 30 + i);
  const CheckResult c = r.Check();
  const std::string text = c.ToString(2);
  EXPECT_NE(text.find("6 operations on 1 blocks: 1 writes (1 acknowledged, 0 unknown, 0 failed), 5 reads"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("5 violations: 5 invalid reads"), std::string::npos) << text;
  EXPECT_NE(text.find("never-written: block 0: read #1 [20, 30] returned 100"), std::string::npos) << text;
  EXPECT_EQ(text.find("returned 102"), std::string::npos) << text;
  EXPECT_NE(text.find("... and 3 more"), std::string::npos) << text;
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 5) << text;
}

// --- Harness misuse ---------------------------------------------------------

void ExpectMisuse(const History& h, const std::string& fragment) {
  StatusOr<CheckResult> c = h.Check();
  ASSERT_FALSE(c.ok()) << "expected an error naming \"" << fragment << "\"";
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().ToString().find(fragment), std::string::npos) << c.status().ToString();
}

TEST(History, RepeatedValueIsAnError) {
  Recorder r;
  r.Write(0, 1, 0, 10);
  r.Write(1, 1, 0, 10);  // another block may reuse it
  r.UnknownWrite(0, 1, 20);
  ExpectMisuse(r.history(), "History::InvokeWrite(op 2): block 0 is written 1 again (first by op 0)");
}

TEST(History, WritingTheInitialValueIsAnError) {
  Recorder r(HistoryOptions{5});
  r.Write(0, 1, 0, 10);
  r.FailedWrite(3, 5, 20);
  ExpectMisuse(r.history(), "History::InvokeWrite(op 1): block 3 is written 5, its initial value");
}

TEST(History, CompletingTwiceIsAnError) {
  {
    History h;
    const OpId w = h.InvokeWrite(0, 1, At(0));
    h.Ok(w, At(1));
    h.Ok(w, At(2));
    ExpectMisuse(h, "History::Ok(op 0): the operation was already completed");
  }
  {
    History h;
    const OpId read = h.InvokeRead(0, At(0));
    h.OkRead(read, 0, At(1));
    h.Unknown(read);
    ExpectMisuse(h, "History::Unknown(op 0): the operation was already completed");
  }
  {
    History h;
    const OpId w = h.InvokeWrite(0, 1, At(0));
    h.Failed(w);
    h.Failed(w);
    ExpectMisuse(h, "History::Failed(op 0): the operation was already completed");
  }
}

TEST(History, WrongCompletionForTheKindIsAnError) {
  {
    History h;
    const OpId w = h.InvokeWrite(0, 1, At(0));
    h.OkRead(w, 1, At(1));
    ExpectMisuse(h, "History::OkRead(op 0): the operation is a write; complete it with Ok");
  }
  {
    History h;
    const OpId read = h.InvokeRead(0, At(0));
    h.Ok(read, At(1));
    ExpectMisuse(h, "History::Ok(op 0): the operation is a read; complete it with OkRead");
  }
}

TEST(History, UnknownOperationIsAnError) {
  History h;
  h.InvokeRead(0, At(0));
  h.Unknown(7);
  ExpectMisuse(h, "History::Unknown(op 7): no such operation");
}

TEST(History, FinalTwiceIsAnError) {
  History h;
  h.Final(4, 0);
  h.Final(4, 0);
  ExpectMisuse(h, "History::Final(block 4): a second final read");
}

TEST(History, CompletionBeforeInvocationIsAnError) {
  {
    History h;
    const OpId w = h.InvokeWrite(0, 1, At(10));
    h.Ok(w, At(9));
    ExpectMisuse(h, "History::Ok(op 0): completion at 9 ns is before the invocation at 10 ns");
  }
  {
    History h;
    const OpId read = h.InvokeRead(0, At(10));
    h.OkRead(read, 0, At(9));
    ExpectMisuse(h, "History::OkRead(op 0): completion at 9 ns");
  }
  {
    History h;  // equal is fine
    const OpId w = h.InvokeWrite(0, 1, At(10));
    h.Ok(w, At(10));
    EXPECT_TRUE(MustCheck(h).ok());
  }
}

TEST(History, NegativeTimeIsAnError) {
  History h;
  h.InvokeRead(2, At(-1));
  ExpectMisuse(h, "History::InvokeRead(op 0, block 2): time -1 ns is before 0");
}

TEST(History, FirstOffenceIsReported) {
  History h;
  const OpId w = h.InvokeWrite(0, 1, At(5));
  h.Ok(w, At(1));
  h.Final(0, 1);
  h.Final(0, 1);
  ExpectMisuse(h, "History::Ok(op 0)");
}

// --- Randomized histories -----------------------------------------------------

enum class End { kOk, kUnknown, kFailed, kPending };

struct PlannedOp {
  bool write = false;
  BlockId block = 0;
  BlockValue value = 0;  // written, or returned by an ok read
  int64_t invoke = 0;
  int64_t complete = 0;  // when End::kOk
  End end = End::kOk;
};

// A history to record: ops in invocation order, so an index is an OpId.
struct Plan {
  HistoryOptions options;
  std::vector<PlannedOp> ops;
  std::map<BlockId, BlockValue> finals;
};

History Record(const Plan& plan) {
  History h(plan.options);
  for (const PlannedOp& op : plan.ops) {
    if (op.write) {
      h.InvokeWrite(op.block, op.value, At(op.invoke));
    } else {
      h.InvokeRead(op.block, At(op.invoke));
    }
  }
  for (OpId id = 0; id < plan.ops.size(); ++id) {
    const PlannedOp& op = plan.ops[id];
    switch (op.end) {
      case End::kOk:
        if (op.write) {
          h.Ok(id, At(op.complete));
        } else {
          h.OkRead(id, op.value, At(op.complete));
        }
        break;
      case End::kUnknown:
        h.Unknown(id);
        break;
      case End::kFailed:
        h.Failed(id);
        break;
      case End::kPending:
        break;
    }
  }
  for (const auto& [block, value] : plan.finals) h.Final(block, value);
  return h;
}

std::string Describe(const Plan& plan) {
  static const char* kEnds[] = {"ok", "unknown", "failed", "pending"};
  std::string s = "initial " + std::to_string(plan.options.initial_value) +
                  (plan.options.failed_is_definite ? ", failed is definite\n" : "\n");
  for (size_t i = 0; i < plan.ops.size(); ++i) {
    const PlannedOp& op = plan.ops[i];
    s += "  #" + std::to_string(i) + (op.write ? " write " : " read ") + "block " + std::to_string(op.block) +
         " [" + std::to_string(op.invoke) + ", " + std::to_string(op.complete) + "] " +
         kEnds[static_cast<int>(op.end)] + " value " + std::to_string(op.value) + "\n";
  }
  for (const auto& [block, value] : plan.finals) {
    s += "  final block " + std::to_string(block) + " value " + std::to_string(value) + "\n";
  }
  return s;
}

struct Shape {
  uint64_t max_blocks;
  uint64_t max_ops;
  int64_t horizon;       // invocations in [0, horizon]
  int64_t max_duration;  // of a completed operation
  int64_t grain;         // times are multiples of it: coarse clocks tie
};

// A history of one correct single-copy register per block: every operation
// that takes effect does so at one instant inside its interval (an unknown or
// failed write at any instant after its invocation, or never), and reads
// return the value at their instant.
Plan SimulateRegister(Random& rng, const Shape& shape) {
  Plan plan;
  plan.options.initial_value = rng.Chance(0.5) ? 0 : 1000;
  plan.options.failed_is_definite = rng.Chance(0.5);
  const uint64_t blocks = 1 + rng.Uniform(shape.max_blocks);
  const uint64_t n = 1 + rng.Uniform(shape.max_ops);
  BlockValue next_value = plan.options.initial_value + 1;
  auto coarse = [&](int64_t t) { return t / shape.grain * shape.grain; };
  for (uint64_t i = 0; i < n; ++i) {
    PlannedOp op;
    op.write = rng.Chance(0.5);
    op.block = rng.Uniform(blocks);
    op.invoke = coarse(rng.UniformInt(0, shape.horizon));
    op.complete = op.invoke + coarse(rng.UniformInt(0, shape.max_duration));
    const double p = rng.UnitReal();
    if (op.write) {
      op.value = next_value++;
      op.end = p < 0.6 ? End::kOk : p < 0.75 ? End::kUnknown : p < 0.9 ? End::kFailed : End::kPending;
    } else {
      op.end = p < 0.85 ? End::kOk : p < 0.9 ? End::kUnknown : p < 0.95 ? End::kFailed : End::kPending;
    }
    plan.ops.push_back(op);
  }
  std::stable_sort(plan.ops.begin(), plan.ops.end(),
                   [](const PlannedOp& a, const PlannedOp& b) { return a.invoke < b.invoke; });

  // (instant, tie-breaker, op): equal instants are concurrent, in any order.
  std::vector<std::tuple<int64_t, uint64_t, size_t>> effects;
  for (size_t i = 0; i < plan.ops.size(); ++i) {
    const PlannedOp& op = plan.ops[i];
    if (op.end == End::kOk) {
      effects.emplace_back(rng.UniformInt(op.invoke, op.complete), rng.Next(), i);
    } else if (op.write && !(op.end == End::kFailed && plan.options.failed_is_definite) && rng.Chance(0.5)) {
      effects.emplace_back(rng.UniformInt(op.invoke, op.invoke + 2 * shape.max_duration), rng.Next(), i);
    }
  }
  std::sort(effects.begin(), effects.end());
  std::map<BlockId, BlockValue> value;
  for (uint64_t b = 0; b < blocks; ++b) value[b] = plan.options.initial_value;
  for (const auto& [at, tie, i] : effects) {
    PlannedOp& op = plan.ops[i];
    if (op.write) {
      value[op.block] = op.value;
    } else {
      op.value = value[op.block];
    }
  }
  for (const auto& [block, v] : value) {
    if (rng.Chance(0.8)) plan.finals[block] = v;
  }
  return plan;
}

// When the write of `value` could have taken effect: the initial value before
// everything, an acknowledged write within its interval, any other from its
// invocation on.
// REQUIRES: `value` is written on `block`, or is the initial value.
struct WriteSpan {
  int64_t invoke;
  int64_t complete;
};
WriteSpan SpanOf(const Plan& plan, BlockId block, BlockValue value) {
  for (const PlannedOp& op : plan.ops) {
    if (op.write && op.block == block && op.value == value) {
      return {op.invoke, op.end == End::kOk ? op.complete : kNever};
    }
  }
  return {-1, -1};
}

// The values on `block` whose writes definitely completed, with the initial one.
std::vector<BlockValue> CompletedValues(const Plan& plan, BlockId block) {
  std::vector<BlockValue> out{plan.options.initial_value};
  for (const PlannedOp& op : plan.ops) {
    if (op.write && op.block == block && op.end == End::kOk) out.push_back(op.value);
  }
  return out;
}

bool OverwrittenBefore(const Plan& plan, BlockId block, BlockValue value, int64_t t) {
  const WriteSpan w = SpanOf(plan, block, value);
  for (const PlannedOp& op : plan.ops) {
    if (op.write && op.block == block && op.end == End::kOk && w.complete < op.invoke && op.complete < t) {
      return true;
    }
  }
  return false;
}

template <typename T>
const T& Pick(Random& rng, const std::vector<T>& v) {
  return v[rng.Uniform(v.size())];
}

enum Mutation { kStale, kOlderFinal, kFreshValue, kFromFuture, kTravel, kFailedRead, kMutations };
const char* kMutationNames[] = {"stale read",  "older final", "fresh value",
                                "from future", "time travel", "failed read"};

// Plants one fault in a correct plan and returns the reports it must get
// (alone), or nothing when the plan offers no place for that fault.
std::optional<Strings> Plant(Random& rng, Mutation m, Plan& plan) {
  std::vector<size_t> reads;
  for (size_t i = 0; i < plan.ops.size(); ++i) {
    if (!plan.ops[i].write && plan.ops[i].end == End::kOk) reads.push_back(i);
  }
  // (read index, value) pairs for the read mutations.
  std::vector<std::pair<size_t, BlockValue>> choices;
  ViolationKind kind = ViolationKind::kStaleRead;
  switch (m) {
    case kStale:
      kind = ViolationKind::kStaleRead;
      for (size_t r : reads) {
        const PlannedOp& op = plan.ops[r];
        for (BlockValue v : CompletedValues(plan, op.block)) {
          if (OverwrittenBefore(plan, op.block, v, op.invoke)) choices.emplace_back(r, v);
        }
      }
      break;
    case kFreshValue:
      kind = ViolationKind::kNeverWritten;
      for (size_t r : reads) choices.emplace_back(r, 999'999'999);
      break;
    case kFromFuture:
      kind = ViolationKind::kReadFromFuture;
      for (size_t r : reads) {
        for (const PlannedOp& w : plan.ops) {
          if (w.write && w.block == plan.ops[r].block && plan.ops[r].complete < w.invoke) {
            choices.emplace_back(r, w.value);
          }
        }
      }
      break;
    case kFailedRead:
      kind = ViolationKind::kFailedWriteRead;
      if (!plan.options.failed_is_definite) break;
      for (size_t r : reads) {
        for (const PlannedOp& w : plan.ops) {
          if (w.write && w.block == plan.ops[r].block && w.end == End::kFailed &&
              w.invoke <= plan.ops[r].complete) {
            choices.emplace_back(r, w.value);
          }
        }
      }
      break;
    case kTravel:
      // A read r2 returns a value that was neither stale nor invalid for it,
      // but older than what a read r1 -> r2 saw.
      kind = ViolationKind::kTimeTravel;
      for (size_t r2 : reads) {
        const PlannedOp& op = plan.ops[r2];
        for (const PlannedOp& w : plan.ops) {
          if (!w.write || w.block != op.block) continue;
          const WriteSpan span = SpanOf(plan, op.block, w.value);
          if (op.complete < span.invoke || OverwrittenBefore(plan, op.block, w.value, op.invoke) ||
              (w.end == End::kFailed && plan.options.failed_is_definite)) {
            continue;
          }
          for (size_t r1 : reads) {
            const PlannedOp& seen = plan.ops[r1];
            if (seen.block == op.block && seen.complete < op.invoke &&
                span.complete < SpanOf(plan, op.block, seen.value).invoke) {
              choices.emplace_back(r2, w.value);
              break;
            }
          }
        }
      }
      break;
    case kOlderFinal: {
      std::vector<std::pair<BlockId, BlockValue>> finals;
      for (const auto& [block, value] : plan.finals) {
        for (BlockValue v : CompletedValues(plan, block)) {
          if (v != value && OverwrittenBefore(plan, block, v, kNever)) finals.emplace_back(block, v);
        }
      }
      if (finals.empty()) return std::nullopt;
      const auto [block, v] = Pick(rng, finals);
      plan.finals[block] = v;
      Strings expected;
      const WriteSpan kept = SpanOf(plan, block, v);
      for (OpId id = 0; id < plan.ops.size(); ++id) {
        const PlannedOp& w = plan.ops[id];
        if (w.write && w.block == block && w.end == End::kOk && kept.complete < w.invoke) {
          expected.push_back(Rep(ViolationKind::kLostWrite, block, id));
        }
      }
      return expected;
    }
    case kMutations:
      break;
  }
  if (choices.empty()) return std::nullopt;
  const auto [r, v] = Pick(rng, choices);
  plan.ops[r].value = v;
  return Strings{Rep(kind, plan.ops[r].block, r)};
}

// Each operation gets at most one report, blocks come in order, and a
// not-linearizable report is its block's only one.
void ExpectWellFormed(const CheckResult& c, const std::string& context) {
  std::set<std::pair<BlockId, OpId>> named;
  for (size_t i = 0; i < c.violations.size(); ++i) {
    const Violation& v = c.violations[i];
    EXPECT_TRUE(named.insert({v.block, v.op}).second) << "two reports on one operation\n" << context;
    if (i > 0) {
      EXPECT_LE(c.violations[i - 1].block, v.block) << context;
    }
    EXPECT_EQ(v.explanation.rfind("block " + std::to_string(v.block) + ": ", 0), 0u) << v.explanation;
    if (v.kind == ViolationKind::kNotLinearizable) {
      EXPECT_TRUE(i + 1 == c.violations.size() || c.violations[i + 1].block != v.block) << context;
      EXPECT_TRUE(i == 0 || c.violations[i - 1].block != v.block) << context;
    }
  }
}

TEST(HistoryProperty, CorrectRegisterPassesAndPlantedFaultsAreFound) {
  const Shape shape{/*max_blocks=*/3, /*max_ops=*/60, /*horizon=*/1000, /*max_duration=*/200, /*grain=*/1};
  const Shape coarse{3, 60, 1000, 200, /*grain=*/50};
  int planted[kMutations] = {};
  for (uint64_t seed : Seeds(300)) {
    Random rng(seed);
    const Plan plan = SimulateRegister(rng, seed % 2 ? shape : coarse);
    const std::string context = Replay(seed) + "\n" + Describe(plan);
    const CheckResult c = MustCheck(Record(plan));
    ASSERT_TRUE(c.ok()) << c.ToString() << context;
    EXPECT_EQ(c.operations, plan.ops.size());

    for (int m = 0; m < kMutations; ++m) {
      Plan faulty = plan;
      const std::optional<Strings> expected = Plant(rng, static_cast<Mutation>(m), faulty);
      if (!expected) continue;
      ++planted[m];
      const CheckResult f = MustCheck(Record(faulty));
      EXPECT_EQ(Reports(f), *expected) << kMutationNames[m] << "\n"
                                       << f.ToString() << Replay(seed) << "\n"
                                       << Describe(faulty);
      ExpectWellFormed(f, context);
    }
  }
  if (AllSeeds()) {
    for (int m = 0; m < kMutations; ++m) EXPECT_GE(planted[m], 30) << kMutationNames[m];
  }
}

// --- Differential: the zone test against every linearization ---------------

struct RefOp {
  bool write;
  bool required;  // else a write that may never have taken effect
  BlockValue value;
  int64_t invoke;
  int64_t complete;
};

// Whether some order of `ops` explains every read: it respects real time
// (a before b when a.complete < b.invoke), includes every required operation
// and has each read return the last write before it.
bool Linearizable(const std::vector<RefOp>& ops, BlockValue initial) {
  const size_t n = ops.size();
  std::vector<uint32_t> must_precede(n, 0);
  uint32_t required = 0;
  for (size_t i = 0; i < n; ++i) {
    if (ops[i].required) required |= 1u << i;
    for (size_t j = 0; j < n; ++j) {
      if (ops[j].complete < ops[i].invoke) must_precede[i] |= 1u << j;
    }
  }
  std::set<std::pair<uint32_t, BlockValue>> dead_ends;
  std::function<bool(uint32_t, BlockValue)> search = [&](uint32_t done, BlockValue current) {
    if ((done & required) == required) return true;
    if (dead_ends.count({done, current})) return false;
    for (size_t i = 0; i < n; ++i) {
      if ((done >> i & 1) || (must_precede[i] & ~done)) continue;
      if (ops[i].write ? search(done | 1u << i, ops[i].value)
                       : ops[i].value == current && search(done | 1u << i, current)) {
        return true;
      }
    }
    dead_ends.insert({done, current});
    return false;
  };
  return search(0, initial);
}

std::vector<RefOp> ReferenceOps(const Plan& plan, BlockId block) {
  std::vector<RefOp> ops;
  for (const PlannedOp& op : plan.ops) {
    if (op.block != block) continue;
    if (op.write) {
      if (op.end == End::kOk) {
        ops.push_back({true, true, op.value, op.invoke, op.complete});
      } else if (!(op.end == End::kFailed && plan.options.failed_is_definite)) {
        ops.push_back({true, false, op.value, op.invoke, kNever});
      }
    } else if (op.end == End::kOk) {
      ops.push_back({false, true, op.value, op.invoke, op.complete});
    }
  }
  auto final_read = plan.finals.find(block);
  if (final_read != plan.finals.end()) ops.push_back({false, true, final_read->second, kNever, kNever});
  return ops;
}

// Long writes that overlap and short reads of any of their values: the
// orders the per-read checks cannot judge, so many reach the zone test.
Plan OverlappingWrites(Random& rng) {
  Plan plan;
  plan.options.failed_is_definite = rng.Chance(0.5);
  const uint64_t writes = 2 + rng.Uniform(2);
  const uint64_t reads = 2 + rng.Uniform(3);  // seven operations at most
  for (uint64_t i = 0; i < writes + reads; ++i) {
    PlannedOp op;
    op.write = i < writes;
    op.invoke = op.write ? rng.UniformInt(0, 4) : rng.UniformInt(2, 14);
    if (op.write) {
      op.value = i + 1;
      op.complete = op.invoke + rng.UniformInt(6, 16);
      op.end = rng.Chance(0.7) ? End::kOk : rng.Chance(0.5) ? End::kUnknown : End::kFailed;
    } else {
      op.value = rng.Uniform(writes + 1);
      op.complete = op.invoke + rng.UniformInt(0, 2);
    }
    plan.ops.push_back(op);
  }
  std::stable_sort(plan.ops.begin(), plan.ops.end(),
                   [](const PlannedOp& a, const PlannedOp& b) { return a.invoke < b.invoke; });
  if (rng.Chance(0.5)) plan.finals[0] = rng.Uniform(writes + 1);
  return plan;
}

TEST(HistoryDifferential, ZoneTestAgreesWithBruteForce) {
  // Short operations tie and order often; long ones overlap, which is where
  // only the zone test can tell.
  const Shape shapes[] = {{/*max_blocks=*/2, /*max_ops=*/7, /*horizon=*/10, /*max_duration=*/5, /*grain=*/1},
                          {1, 7, 10, 12, 1},
                          {2, 7, 40, 40, 5}};
  int verdicts[2] = {};
  std::map<ViolationKind, int> kinds;
  for (uint64_t seed : Seeds(10000)) {
    Random rng(seed + 1'000'000);
    const bool scramble = seed % 4 == 3;
    Plan plan = scramble ? OverlappingWrites(rng) : SimulateRegister(rng, shapes[seed % 3]);
    // Bend some reads and finals to other values of their block: about a
    // quarter of the blocks stop being linearizable, some in ways only the
    // zone test sees.
    std::map<BlockId, std::vector<BlockValue>> values;
    std::vector<size_t> reads;
    for (size_t i = 0; i < plan.ops.size(); ++i) {
      const PlannedOp& op = plan.ops[i];
      if (!values.count(op.block)) values[op.block].push_back(plan.options.initial_value);
      if (op.write) values[op.block].push_back(op.value);
      if (!op.write && op.end == End::kOk) reads.push_back(i);
    }
    const uint64_t bends = reads.empty() || scramble ? 0 : rng.Uniform(3);
    for (uint64_t i = 0; i < bends; ++i) {
      PlannedOp& op = plan.ops[Pick(rng, reads)];
      op.value = rng.Chance(0.05) ? 999 : Pick(rng, values[op.block]);
    }
    if (rng.Chance(0.2) && !plan.finals.empty()) {
      auto it = std::next(plan.finals.begin(), rng.Uniform(plan.finals.size()));
      if (values.count(it->first)) it->second = Pick(rng, values[it->first]);
    }

    const CheckResult c = MustCheck(Record(plan));
    const std::string context = c.ToString() + Replay(seed) + "\n" + Describe(plan);
    ExpectWellFormed(c, context);
    std::set<BlockId> blocks;
    for (const PlannedOp& op : plan.ops) blocks.insert(op.block);
    for (const auto& [block, value] : plan.finals) blocks.insert(block);
    for (BlockId block : blocks) {
      const bool reported = std::any_of(c.violations.begin(), c.violations.end(),
                                        [&](const Violation& v) { return v.block == block; });
      const std::vector<RefOp> ops = ReferenceOps(plan, block);
      ASSERT_LE(ops.size(), 8u);
      const bool linearizable = Linearizable(ops, plan.options.initial_value);
      ASSERT_EQ(reported, !linearizable) << "block " << block << "\n" << context;
      ++verdicts[linearizable];
    }
    for (const Violation& v : c.violations) ++kinds[v.kind];
  }
  if (AllSeeds()) {
    EXPECT_GE(verdicts[0], 2000) << "too few non-linearizable blocks to compare";
    EXPECT_GE(verdicts[1], 5000) << "too few linearizable blocks to compare";
    for (ViolationKind k :
         {ViolationKind::kNeverWritten, ViolationKind::kReadFromFuture, ViolationKind::kFailedWriteRead,
          ViolationKind::kStaleRead, ViolationKind::kTimeTravel, ViolationKind::kLostWrite,
          ViolationKind::kNotLinearizable}) {
      EXPECT_GE(kinds[k], 100) << ToString(k);
    }
  }
}

}  // namespace
}  // namespace edgebed::storage
