// Datastore: acknowledgement only once durable, group commit, callbacks in
// commit order and never inline, recovery from checkpoints and logs, torn and
// corrupt log ends, damaged checkpoints, disk failures — then a crash torture
// over many seeds that commits at random, crashes at random moments (during
// writes, syncs, checkpoints and recovery itself), injects disk errors and
// torn log ends, and checks after every recovery that every acknowledged
// commit is there and that what is there is a prefix of the commits made.
//
// Randomized tests print their seed on failure; EDGEBED_SEED=N replays one.
#include "core/cluster/datastore.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/env/fault_env.h"
#include "core/env/test_loop.h"
#include "tests/cluster/store_model.h"

namespace edgebed::cluster {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::Describe;
using testing::StoreModel;

Mutation Put(std::string key, std::string value, Revision expect = -1) {
  return Mutation{Mutation::kPut, std::move(key), ToBytes(value), expect};
}

// One server node on a test loop, its Env behind a fault plan, and the
// datastore it runs — rebuilt after every crash, as a restarted server would.
class Node {
 public:
  explicit Node(uint64_t seed, DatastoreOptions options = {})
      : loop_(seed), id_(loop_.AddNode()), env_(loop_.env(id_), plan_), options_(options) {}

  TestLoop& loop() { return loop_; }
  FaultPlan& plan() { return plan_; }
  MemDisk& disk() { return loop_.disk(id_); }
  Datastore& ds() { return *ds_; }
  bool running() const { return ds_ != nullptr; }
  const std::optional<Status>& open_status() const { return open_status_; }

  // Builds a datastore and starts opening it.
  void Start() {
    open_status_.reset();
    ds_ = std::make_unique<Datastore>(env_, NewSqliteStore(), options_);
    ds_->Open([this](Status s) { open_status_ = s; });
  }
  // Starts a datastore and runs until its Open answers.
  Status Open() {
    Start();
    if (!RunUntil([&] { return open_status_.has_value(); }, seconds(30))) {
      return Status(StatusCode::kDeadlineExceeded, "Open did not answer");
    }
    return *open_status_;
  }
  // A power loss: the process and every unsynced write are gone.
  void Crash() {
    ds_.reset();
    loop_.Crash(id_);
    loop_.Restart(id_);
  }

  template <typename Pred>
  bool RunUntil(Pred done, Duration limit = seconds(30)) {
    const Time end = loop_.now() + limit;
    while (!done()) {
      if (loop_.now() >= end || !loop_.Step()) return done();
    }
    return true;
  }

  StatusOr<Revision> Commit(std::vector<Mutation> batch) {
    std::optional<StatusOr<Revision>> result;
    ds_->Commit(std::move(batch), [&](StatusOr<Revision> r) { result = std::move(r); });
    if (!RunUntil([&] { return result.has_value(); })) {
      return Status(StatusCode::kDeadlineExceeded, "the commit was never answered");
    }
    return *result;
  }

  // Disk helpers that bypass the fault plan, for a test to damage files.
  StatusOr<Bytes> ReadFile(const std::string& file) {
    std::optional<StatusOr<uint64_t>> size;
    disk().Size(file, [&](StatusOr<uint64_t> s) { size = s; });
    RunUntil([&] { return size.has_value(); });
    if (!size->ok()) return size->status();
    std::optional<StatusOr<Bytes>> data;
    disk().Read(file, 0, **size, [&](StatusOr<Bytes> d) { data = std::move(d); });
    RunUntil([&] { return data.has_value(); });
    return *data;
  }
  Status WriteFile(const std::string& file, uint64_t offset, Bytes bytes) {
    std::optional<Status> wrote, synced;
    disk().Write(file, offset, std::move(bytes), [&](Status s) { wrote = s; });
    RunUntil([&] { return wrote.has_value(); });
    if (!wrote->ok()) return *wrote;
    disk().Sync(file, [&](Status s) { synced = s; });
    RunUntil([&] { return synced.has_value(); });
    return *synced;
  }
  bool Exists(const std::string& file) {
    std::optional<StatusOr<uint64_t>> size;
    disk().Size(file, [&](StatusOr<uint64_t> s) { size = s; });
    RunUntil([&] { return size.has_value(); });
    return size->ok();
  }

 private:
  TestLoop loop_;
  NodeId id_;
  FaultPlan plan_;
  FaultEnv env_;
  DatastoreOptions options_;
  std::unique_ptr<Datastore> ds_;
  std::optional<Status> open_status_;
};

std::string LogFile(uint64_t sequence) { return "datastore/log-" + std::to_string(sequence); }

TEST(DatastoreTest, AcknowledgesACommitOnceItIsDurable) {
  Node node(1);
  ASSERT_TRUE(node.Open().ok());
  EXPECT_TRUE(node.ds().open());

  std::optional<StatusOr<Revision>> result;
  bool inside = true;
  node.ds().Commit({Put("/registry/pods/a", "spec")}, [&](StatusOr<Revision> r) {
    EXPECT_FALSE(inside) << "called from inside Commit";
    result = r;
  });
  inside = false;
  // Applied at once, for later commits and reads; not yet durable.
  EXPECT_EQ(node.ds().store().revision(), 1);
  EXPECT_EQ(node.ds().durable_revision(), 0);
  EXPECT_FALSE(result.has_value());

  ASSERT_TRUE(node.RunUntil([&] { return result.has_value(); }));
  ASSERT_TRUE(result->ok()) << result->status().ToString();
  EXPECT_EQ(**result, 1);
  EXPECT_EQ(node.ds().durable_revision(), 1);
  EXPECT_TRUE(node.Exists(LogFile(node.ds().sequence())));
  EXPECT_FALSE(node.loop().sink().SamplesNamed("datastore.log_bytes").empty());
}

TEST(DatastoreTest, GroupsCommitsMadeWhileAWriteIsInFlight) {
  Node node(2);
  ASSERT_TRUE(node.Open().ok());
  std::vector<Revision> acked;
  for (int i = 0; i < 10; ++i) {
    node.ds().Commit({Put("k" + std::to_string(i), "v")}, [&](StatusOr<Revision> r) {
      ASSERT_TRUE(r.ok());
      acked.push_back(*r);
    });
  }
  ASSERT_TRUE(node.RunUntil([&] { return acked.size() == 10; }));
  EXPECT_EQ(acked, (std::vector<Revision>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  // The first went alone; the nine that came while it was on its way, together.
  EXPECT_EQ(node.ds().stats().log_writes, 2u);
  const auto groups = node.loop().sink().SamplesNamed("datastore.group_commits");
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[1].value, 9);
}

TEST(DatastoreTest, AnswersFailuresInCommitOrderNeverInline) {
  Node node(3);
  ASSERT_TRUE(node.Open().ok());
  std::vector<std::string> answers;
  bool inside = false;
  auto record = [&](std::string name) {
    return [&, name](StatusOr<Revision> r) {
      EXPECT_FALSE(inside);
      answers.push_back(name + (r.ok() ? " " + std::to_string(*r)
                                       : std::string(" ") + StatusCodeName(r.status().code())));
    };
  };
  inside = true;
  node.ds().Commit({Put("a", "1", 0)}, record("create"));
  node.ds().Commit({Put("a", "2", 0)}, record("create-again"));  // a exists by now
  node.ds().Commit({Put("", "x")}, record("empty-key"));
  node.ds().Commit({Put("a", "2", 1)}, record("swap"));
  inside = false;
  ASSERT_TRUE(node.RunUntil([&] { return answers.size() == 4; }));
  EXPECT_EQ(answers, (std::vector<std::string>{"create 1", "create-again FAILED_PRECONDITION",
                                               "empty-key INVALID_ARGUMENT", "swap 2"}));
}

TEST(DatastoreTest, AfterDurableWaitsForEveryEarlierCommit) {
  Node node(4);
  ASSERT_TRUE(node.Open().ok());
  std::vector<std::string> order;
  node.ds().Commit({Put("a", "1")}, [&](StatusOr<Revision>) { order.push_back("commit"); });
  bool inside = true;
  node.ds().AfterDurable([&] {
    EXPECT_FALSE(inside);
    EXPECT_GE(node.ds().durable_revision(), 1);
    order.push_back("durable");
  });
  inside = false;
  ASSERT_TRUE(node.RunUntil([&] { return order.size() == 2; }));
  EXPECT_EQ(order, (std::vector<std::string>{"commit", "durable"}));

  // Nothing outstanding: soon, but still not inline.
  bool fired = false;
  inside = true;
  node.ds().AfterDurable([&] {
    EXPECT_FALSE(inside);
    fired = true;
  });
  inside = false;
  EXPECT_FALSE(fired);
  EXPECT_TRUE(node.RunUntil([&] { return fired; }));
}

TEST(DatastoreTest, RefusesCommitsBeforeItIsOpen) {
  Node node(5);
  node.Start();
  std::optional<StatusOr<Revision>> result;
  node.ds().Commit({Put("a", "1")}, [&](StatusOr<Revision> r) { result = r; });
  ASSERT_TRUE(node.RunUntil([&] { return result.has_value() && node.open_status(); }));
  EXPECT_EQ(result->status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(node.ds().store().revision(), 0);
}

TEST(DatastoreTest, RecoversAcknowledgedCommitsAfterACrash) {
  Node node(6);
  ASSERT_TRUE(node.Open().ok());
  ASSERT_TRUE(node.Commit({Put("a", "1"), Put("b", "1")}).ok());
  ASSERT_TRUE(node.Commit({Put("a", "2", 1)}).ok());
  const std::string before = Describe(node.ds().store().List(""));
  const std::string history = Describe(*node.ds().store().ChangesSince(0, 100));

  node.Crash();
  ASSERT_TRUE(node.Open().ok());
  EXPECT_EQ(Describe(node.ds().store().List("")), before);
  EXPECT_EQ(Describe(*node.ds().store().ChangesSince(0, 100)), history);
  EXPECT_EQ(node.ds().durable_revision(), 3);
  EXPECT_EQ(node.ds().stats().recovered_records, 2u);
  // Revisions go on from where they were.
  EXPECT_EQ(*node.Commit({Put("c", "1")}), 4);
  const auto recovered = node.loop().sink().EventsOfKind("datastore.recovered");
  ASSERT_EQ(recovered.size(), 2u);  // the first Open and this one
  EXPECT_NE(recovered[1].detail.find("revision=3"), std::string::npos) << recovered[1].detail;
}

TEST(DatastoreTest, LosesAnUnacknowledgedCommitWhole) {
  Node node(7);
  ASSERT_TRUE(node.Open().ok());
  ASSERT_TRUE(node.Commit({Put("a", "1")}).ok());
  node.ds().Commit({Put("a", "2"), Put("b", "2")}, [](StatusOr<Revision>) {
    ADD_FAILURE() << "acknowledged across a crash";
  });
  node.Crash();  // before its write and sync ran
  ASSERT_TRUE(node.Open().ok());
  EXPECT_EQ(node.ds().store().revision(), 1);
  EXPECT_EQ(Describe(node.ds().store().List("")), "a = '1' create 1 mod 1\n");
}

TEST(DatastoreTest, IgnoresACorruptOrTornLogEndAndSaysSo) {
  Node node(8);
  ASSERT_TRUE(node.Open().ok());
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(node.Commit({Put("k" + std::to_string(i), "v")}).ok());
  const std::string log = LogFile(node.ds().sequence());
  node.Crash();

  // The second of three records is damaged: replay ends before it.
  Bytes bytes = *node.ReadFile(log);
  const size_t record = bytes.size() / 3;
  ASSERT_TRUE(node.WriteFile(log, record + record / 2, {static_cast<uint8_t>(
                                                           bytes[record + record / 2] ^ 0x5a)})
                  .ok());
  ASSERT_TRUE(node.Open().ok());
  EXPECT_EQ(node.ds().store().revision(), 1);
  EXPECT_EQ(node.ds().stats().discarded_tails, 1u);
  EXPECT_EQ(node.ds().stats().discarded_bytes, bytes.size() - record);
  const auto events = node.loop().sink().EventsOfKind("datastore.log_tail_discarded");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_NE(events[0].detail.find("checksum"), std::string::npos) << events[0].detail;

  // A torn end — the start of a record whose rest never reached the disk —
  // after a record that did.
  ASSERT_TRUE(node.Commit({Put("k2", "again")}).ok());
  const std::string log2 = LogFile(node.ds().sequence());
  node.Crash();
  const uint64_t end = node.ReadFile(log2)->size();
  ASSERT_TRUE(node.WriteFile(log2, end, {200, 1, 0, 0, 7, 7, 7}).ok());
  ASSERT_TRUE(node.Open().ok());
  EXPECT_EQ(node.ds().store().revision(), 2);
  EXPECT_EQ(node.ds().stats().discarded_tails, 1u);
  EXPECT_EQ(node.ds().stats().discarded_bytes, 7u);
  // Open began a new log, so nothing new follows the damaged one.
  EXPECT_NE(LogFile(node.ds().sequence()), log2);
  EXPECT_FALSE(node.Exists(log2));
}

TEST(DatastoreTest, CheckpointsRotateAndOldLogsGo) {
  DatastoreOptions options;
  options.checkpoint_log_bytes = 300;
  Node node(9, options);
  ASSERT_TRUE(node.Open().ok());
  for (int i = 0; i < 60; ++i) {
    ASSERT_TRUE(node.Commit({Put("key-" + std::to_string(i % 7), std::string(20, 'x'))}).ok());
  }
  EXPECT_GT(node.ds().stats().checkpoints, 5u);
  const uint64_t sequence = node.ds().sequence();
  EXPECT_FALSE(node.Exists(LogFile(sequence - 1)));
  EXPECT_FALSE(node.Exists(LogFile(sequence - 2)));
  EXPECT_TRUE(node.Exists("datastore/checkpoint-0"));
  EXPECT_TRUE(node.Exists("datastore/checkpoint-1"));
  EXPECT_FALSE(node.loop().sink().SamplesNamed("datastore.checkpoint_bytes").empty());

  const std::string state = Describe(node.ds().store().List(""));
  node.Crash();
  ASSERT_TRUE(node.Open().ok());
  EXPECT_EQ(Describe(node.ds().store().List("")), state);
  EXPECT_EQ(node.ds().store().revision(), 60);
}

TEST(DatastoreTest, RefusesToGoBackPastADamagedCheckpoint) {
  Node node(10);
  ASSERT_TRUE(node.Open().ok());
  ASSERT_TRUE(node.Commit({Put("a", "1")}).ok());
  node.Crash();
  ASSERT_TRUE(node.Open().ok());  // checkpoints 1 and 2 now
  node.Crash();
  for (const char* file : {"datastore/checkpoint-0", "datastore/checkpoint-1"}) {
    const uint64_t size = node.ReadFile(file)->size();
    ASSERT_TRUE(node.WriteFile(file, size - 10, Bytes(4, 0xee)).ok());
  }
  const Status s = node.Open();
  EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find("refusing to go back in time"), std::string::npos) << s.ToString();
  EXPECT_FALSE(node.ds().open());
  EXPECT_EQ(node.ds().stats().invalid_checkpoints, 2u);
}

TEST(DatastoreTest, StopsOnADiskFailureAndNeverAcknowledgesWhatIsNotDurable) {
  Node node(11);
  ASSERT_TRUE(node.Open().ok());
  ASSERT_TRUE(node.Commit({Put("a", "1")}).ok());

  node.plan().FailDisk(0, true);
  const StatusOr<Revision> failed = node.Commit({Put("a", "2")});
  EXPECT_EQ(failed.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(failed.status().message().find("injected disk failure"), std::string::npos)
      << failed.status().ToString();
  EXPECT_FALSE(node.ds().open());
  EXPECT_EQ(node.ds().durable_revision(), 1);
  EXPECT_EQ(node.Commit({Put("b", "1")}).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(node.loop().sink().EventsOfKind("datastore.failed").size(), 1u);

  // The owner restarts it once the disk is back.
  node.plan().FailDisk(0, false);
  node.Crash();
  ASSERT_TRUE(node.Open().ok());
  EXPECT_EQ(Describe(node.ds().store().List("")), "a = '1' create 1 mod 1\n");
}

TEST(DatastoreTest, OpenReportsADiskFailure) {
  Node node(12);
  node.plan().FailDisk(0, true);
  const Status s = node.Open();
  EXPECT_EQ(s.code(), StatusCode::kIoError) << s.ToString();
  EXPECT_FALSE(node.ds().open());
}

TEST(DatastoreTest, CompactsHistoryToWhatItKeeps) {
  DatastoreOptions options;
  options.keep_revisions = 10;
  Node node(13, options);
  ASSERT_TRUE(node.Open().ok());
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(node.Commit({Put("k", std::to_string(i))}).ok());
  const Store& store = node.ds().store();
  EXPECT_GE(store.revision() - store.compacted(), 10);
  EXPECT_LT(store.revision() - store.compacted(), 20);
  EXPECT_TRUE(store.ChangesSince(store.revision() - 10, 100).ok());
}

// ---- The torture

// One commit the datastore applied, in the order it applied them.
struct Applied {
  std::vector<Mutation> batch;
  Revision after = 0;
  bool acked = false;
};

struct TortureTotals {
  uint64_t incarnations = 0;
  uint64_t acked = 0;
  uint64_t lost_unacked = 0;       // applied, never acknowledged, gone after a crash
  uint64_t runtime_checkpoints = 0;
  uint64_t discarded_tails = 0;
  uint64_t failures = 0;           // datastores stopped by a disk error
  uint64_t failed_opens = 0;
  uint64_t crashes_in_open = 0;
};

// A run of one seed; returns after the last check or at the first failure.
void Torture(uint64_t seed, TortureTotals& totals) {
  Random random(MixSeed(seed, 0xda7a));
  DatastoreOptions options;
  options.checkpoint_log_bytes = 128 + random.Uniform(2048);
  const Revision keeps[] = {0, 3, 25};
  options.keep_revisions = keeps[random.Uniform(3)];
  const double disk_error_rate = seed % 3 == 0 ? 0.002 + 0.01 * random.UnitReal() : 0;
  Node node(seed, options);
  node.plan().set_disk_error_rate(disk_error_rate);

  StoreModel recovered;           // the state the last recovery was checked against
  std::vector<Applied> timeline;  // applied since; a prefix of it survives a crash
  StoreModel live;                // recovered + all of timeline: what the store holds now

  const int incarnations = 3 + static_cast<int>(random.Uniform(4));
  int failed_opens_in_a_row = 0;
  for (int incarnation = 0; incarnation <= incarnations; ++incarnation) {
    SCOPED_TRACE("incarnation " + std::to_string(incarnation));
    // Open, sometimes crashing in the middle of recovery.
    node.plan().set_disk_error_rate(failed_opens_in_a_row >= 2 ? 0 : disk_error_rate);
    node.Start();
    if (random.Uniform(5) == 0) {
      const uint64_t steps = random.Uniform(40);
      for (uint64_t i = 0; i < steps && !node.open_status(); ++i) node.loop().Step();
      if (!node.open_status()) {
        ++totals.crashes_in_open;
        node.Crash();
        --incarnation;
        continue;
      }
    }
    ASSERT_TRUE(node.RunUntil([&] { return node.open_status().has_value(); }));
    if (!node.open_status()->ok()) {
      ASSERT_EQ(node.open_status()->code(), StatusCode::kIoError)
          << node.open_status()->ToString();
      ++totals.failed_opens;
      ++failed_opens_in_a_row;
      node.Crash();
      --incarnation;
      continue;
    }
    failed_opens_in_a_row = 0;
    ++totals.incarnations;
    node.plan().set_disk_error_rate(disk_error_rate);

    // What survived: every acknowledged commit, and a prefix of the rest.
    const Store& store = node.ds().store();
    const Revision r = store.revision();
    size_t prefix = 0;
    while (prefix < timeline.size() && timeline[prefix].after <= r) ++prefix;
    ASSERT_TRUE(r == (prefix == 0 ? recovered.revision() : timeline[prefix - 1].after))
        << "recovered revision " << r << " is not the end of any commit";
    for (size_t i = prefix; i < timeline.size(); ++i) {
      ASSERT_FALSE(timeline[i].acked) << "acknowledged commit reaching revision "
                                      << timeline[i].after << " was lost; recovered " << r;
      ++totals.lost_unacked;
    }
    for (size_t i = 0; i < prefix; ++i) ASSERT_TRUE(recovered.Commit(timeline[i].batch).ok());
    timeline.clear();
    live = recovered;
    ASSERT_EQ(Describe(store.List("")), Describe(recovered.List("")));
    ASSERT_EQ(node.ds().durable_revision(), r);
    StatusOr<std::vector<Change>> history = store.ChangesSince(store.compacted(), SIZE_MAX);
    ASSERT_TRUE(history.ok()) << history.status().ToString();
    ASSERT_EQ(Describe(*history), Describe(recovered.ChangesSince(store.compacted(), SIZE_MAX)));
    if (incarnation == incarnations) return;

    // Commit and run at random until a crash (or a disk failure) comes.
    struct Answers {
      uint64_t issued = 0;
      uint64_t answered = 0;
      bool inside = false;
    };
    auto answers = std::make_shared<Answers>();
    const int actions = 50 + static_cast<int>(random.Uniform(200));
    bool stopped = false;
    for (int action = 0; action < actions && !stopped; ++action) {
      const uint64_t pick = random.Uniform(100);
      if (pick < 40 && node.ds().open()) {
        std::vector<Mutation> batch = testing::RandomBatch(random, live, 3);
        const StatusOr<Revision> want = live.Commit(batch);
        const size_t index = timeline.size();
        if (want.ok()) timeline.push_back(Applied{batch, *want, false});
        const uint64_t order = answers->issued++;
        answers->inside = true;
        node.ds().Commit(batch, [&, answers, order, index, want](StatusOr<Revision> got) {
          EXPECT_FALSE(answers->inside) << "answered from inside Commit";
          EXPECT_EQ(order, answers->answered++) << "answered out of commit order";
          if (got.ok()) {
            ASSERT_TRUE(want.ok()) << "a commit the model refuses was acknowledged";
            ASSERT_EQ(*got, *want);
            ASSERT_LE(*got, node.ds().durable_revision());
            timeline[index].acked = true;
            ++totals.acked;
          } else if (got.status().code() != StatusCode::kUnavailable) {
            ASSERT_FALSE(want.ok()) << got.status().ToString();
            ASSERT_EQ(got.status().code(), StatusCode::kFailedPrecondition);
          }
        });
        answers->inside = false;
        ASSERT_EQ(node.ds().store().revision(), live.revision());
      } else if (pick < 44) {
        const Revision at = node.ds().store().revision();
        node.ds().AfterDurable([&node, at] { EXPECT_GE(node.ds().durable_revision(), at); });
      } else if (pick < 46) {
        stopped = true;  // the power goes, whatever is in flight
      } else {
        const uint64_t steps = 1 + random.Uniform(12);
        for (uint64_t i = 0; i < steps; ++i) node.loop().Step();
      }
      if (::testing::Test::HasFatalFailure()) return;
      if (!node.ds().failure().ok()) stopped = true;
    }
    if (!node.ds().failure().ok()) {
      ++totals.failures;
      // Every waiting commit hears it.
      ASSERT_TRUE(node.RunUntil([&] { return answers->answered == answers->issued; }));
    } else if (random.Uniform(3) == 0) {
      // A quiet moment before the crash: everything is answered.
      node.RunUntil([&] { return answers->answered == answers->issued; });
      if (node.ds().failure().ok()) {
        ASSERT_EQ(answers->answered, answers->issued) << "commits never answered";
        ASSERT_EQ(node.ds().durable_revision(), live.revision());
      }
    }
    totals.runtime_checkpoints += node.ds().stats().checkpoints - 1;
    totals.discarded_tails += node.ds().stats().discarded_tails;
    const uint64_t sequence = node.ds().sequence();
    node.Crash();
    if (random.Uniform(4) == 0) {
      // The start of a record that never finished, after whatever is there.
      StatusOr<Bytes> log = node.ReadFile(LogFile(sequence));
      const uint64_t end = log.ok() ? log->size() : 0;
      Bytes torn(1 + random.Uniform(40));
      for (auto& b : torn) b = static_cast<uint8_t>(random.Next());
      ASSERT_TRUE(node.WriteFile(LogFile(sequence), end, std::move(torn)).ok());
    }
  }
}

TEST(DatastoreTest, CrashTorture) {
  TortureTotals totals;
  size_t ran = 0;
  int failed_seeds = 0;
  for (uint64_t seed : testing::Seeds(250)) {
    SCOPED_TRACE(testing::Replay(seed));
    ++ran;
    Torture(seed, totals);
    if (::testing::Test::HasFailure() && ++failed_seeds >= 3) break;
  }
  std::printf("torture: %zu seeds, %llu incarnations, %llu acked, %llu unacked lost, "
              "%llu runtime checkpoints, %llu torn tails, %llu disk failures, %llu failed opens, "
              "%llu crashes inside Open\n",
              ran, static_cast<unsigned long long>(totals.incarnations),
              static_cast<unsigned long long>(totals.acked),
              static_cast<unsigned long long>(totals.lost_unacked),
              static_cast<unsigned long long>(totals.runtime_checkpoints),
              static_cast<unsigned long long>(totals.discarded_tails),
              static_cast<unsigned long long>(totals.failures),
              static_cast<unsigned long long>(totals.failed_opens),
              static_cast<unsigned long long>(totals.crashes_in_open));
  if (ran > 1 && !::testing::Test::HasFailure()) {
    // The torture tortures: each kind of trouble actually happened.
    EXPECT_GT(totals.runtime_checkpoints, ran);
    EXPECT_GT(totals.lost_unacked, 0u);
    EXPECT_GT(totals.discarded_tails, 0u);
    EXPECT_GT(totals.failures, 0u);
    EXPECT_GT(totals.crashes_in_open, 0u);
  }
}

}  // namespace
}  // namespace edgebed::cluster
