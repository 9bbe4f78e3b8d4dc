#include "core/storage/replication.h"

#include <gtest/gtest.h>

#include <memory>
#include <optional>

#include "core/env/fault_env.h"
#include "core/env/test_loop.h"
#include "core/storage/torture.h"
#include "core/wire/codec.h"

namespace edgebed::storage {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kVol = "floor-1/db";
constexpr uint32_t kBlockSize = 64;
constexpr uint32_t kBlocks = 32;

Bytes Block(uint8_t fill) { return Bytes(kBlockSize, fill); }

// A controller on node 0 and storage nodes 1..n, behind one fault plan.
class Cluster {
 public:
  explicit Cluster(int n, uint64_t seed = 7, DiskTiming disk = {}) : loop_(seed, {}, disk) {
    options_.ack_timeout = milliseconds(100);
    options_.lease = milliseconds(800);
    options_.resync_interval = milliseconds(200);
    for (int i = 0; i <= n; ++i) envs_.push_back(std::make_unique<FaultEnv>(loop_.env(loop_.AddNode()), plan_));
    controller_ = std::make_unique<VolumeController>(*envs_[0], options_);
    nodes_.resize(n + 1);
    for (int i = 1; i <= n; ++i) Start(static_cast<NodeId>(i));
  }

  void Start(NodeId n) { nodes_[n] = std::make_unique<StorageNode>(*envs_[n], 0, options_); }
  void Crash(NodeId n) {
    nodes_[n].reset();
    loop_.Crash(n);
  }
  void Restart(NodeId n) {
    loop_.Restart(n);
    Start(n);
  }

  const VolumeRecord& Record() const { return *controller_->Find(kVol); }
  StorageNode& node(NodeId n) { return *nodes_[n]; }
  NodeId primary() const { return Record().primary; }

  // Runs until the volume's primary serves it; false if it does not within `limit`.
  bool AwaitServing(Duration limit = seconds(10)) {
    const Time end = loop_.now() + limit;
    while (loop_.now() < end) {
      const NodeId p = primary();
      if (nodes_[p] && loop_.IsUp(p) && nodes_[p]->Serving(kVol)) return true;
      loop_.RunFor(milliseconds(5));
    }
    return false;
  }
  bool AwaitInSync(size_t n, Duration limit = seconds(10)) {
    const Time end = loop_.now() + limit;
    while (loop_.now() < end) {
      if (Record().in_sync.size() == n) return true;
      loop_.RunFor(milliseconds(5));
    }
    return false;
  }

  // Writes at the primary and runs until the answer.
  Status Write(uint32_t block, Bytes data, Duration limit = seconds(5)) {
    std::optional<Status> result;
    node(primary()).Write(kVol, block, std::move(data), [&](Status s) { result = s; });
    const Time end = loop_.now() + limit;
    while (!result && loop_.now() < end) loop_.RunFor(milliseconds(1));
    return result ? *result : Unavailable("no answer");
  }
  StatusOr<Bytes> Read(uint32_t block, Duration limit = seconds(5)) {
    std::optional<StatusOr<Bytes>> result;
    node(primary()).Read(kVol, block, [&](StatusOr<Bytes> r) { result = std::move(r); });
    const Time end = loop_.now() + limit;
    while (!result && loop_.now() < end) loop_.RunFor(milliseconds(1));
    return result ? std::move(*result) : StatusOr<Bytes>(Unavailable("no answer"));
  }

  // Asks for a snapshot and runs until it is ready.
  bool Snapshot(const std::string& name, Duration limit = seconds(10)) {
    if (!controller_->CreateSnapshot(kVol, name).ok()) return false;
    const Time end = loop_.now() + limit;
    while (loop_.now() < end) {
      const SnapshotRecord* s = Record().FindSnapshot(name);
      if (s && s->ready) return true;
      loop_.RunFor(milliseconds(5));
    }
    return false;
  }
  StatusOr<Bytes> ReadSnapshot(const std::string& name, uint32_t block, const char* volume = kVol) {
    std::optional<StatusOr<Bytes>> result;
    const NodeId p = controller_->Find(volume)->primary;
    node(p).ReadSnapshot(volume, name, block, [&](StatusOr<Bytes> r) { result = std::move(r); });
    const Time end = loop_.now() + seconds(5);
    while (!result && loop_.now() < end) loop_.RunFor(milliseconds(1));
    return result ? std::move(*result) : StatusOr<Bytes>(Unavailable("no answer"));
  }
  uint64_t PreservedAt(NodeId n) { return nodes_[n]->stats().blocks_preserved; }

  TestLoop loop_;
  FaultPlan plan_;
  ReplicationOptions options_;
  std::vector<std::unique_ptr<FaultEnv>> envs_;
  std::unique_ptr<VolumeController> controller_;
  std::vector<std::unique_ptr<StorageNode>> nodes_;
};

TEST(VolumeController, RefusesBadVolumes) {
  Cluster c(3);
  EXPECT_EQ(c.controller_->CreateVolume({kVol, kBlockSize, kBlocks}, {}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c.controller_->CreateVolume({kVol, kBlockSize, kBlocks}, {1, 1}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c.controller_->CreateVolume({kVol, kBlockSize, 0}, {1}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c.controller_->CreateVolume({"", kBlockSize, kBlocks}, {1}).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(c.controller_->CreateVolume({kVol, kBlockSize, kBlocks}, {1, 2}).ok());
  EXPECT_EQ(c.controller_->CreateVolume({kVol, kBlockSize, kBlocks}, {3}).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(c.controller_->ReplaceReplica(kVol, 1, 3).code(), StatusCode::kFailedPrecondition);  // the primary
  EXPECT_EQ(c.controller_->ReplaceReplica(kVol, 2, 1).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(c.controller_->ReplaceReplica("nope", 2, 3).code(), StatusCode::kNotFound);
}

TEST(Replication, WritesReachEveryReplicaDurablyBeforeTheAck) {
  Cluster c(3);
  ASSERT_TRUE(c.controller_->CreateVolume({kVol, kBlockSize, kBlocks}, {1, 2, 3}).ok());
  ASSERT_TRUE(c.AwaitServing());
  for (uint32_t b = 0; b < kBlocks; ++b) ASSERT_TRUE(c.Write(b, Block(static_cast<uint8_t>(b + 1))).ok());
  // A power loss of every node at once: what was acknowledged was synced on
  // all of them, so whichever serves next has it.
  for (NodeId n : {1u, 2u, 3u}) c.Crash(n);
  c.loop_.RunFor(milliseconds(50));
  for (NodeId n : {1u, 2u, 3u}) c.Restart(n);
  ASSERT_TRUE(c.AwaitServing());
  for (uint32_t b = 0; b < kBlocks; ++b) {
    StatusOr<Bytes> r = c.Read(b);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(*r, Block(static_cast<uint8_t>(b + 1))) << "block " << b;
  }
  StatusOr<Bytes> never = c.Read(kBlocks - 1);
  ASSERT_TRUE(never.ok());
}

TEST(Replication, RefusesBadRequestsAndServesOnlyAtThePrimary) {
  Cluster c(3);
  ASSERT_TRUE(c.controller_->CreateVolume({kVol, kBlockSize, kBlocks}, {1, 2, 3}).ok());
  ASSERT_TRUE(c.AwaitServing());
  EXPECT_EQ(c.Write(kBlocks, Block(1)).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c.Write(0, Bytes(kBlockSize - 1, 1)).code(), StatusCode::kInvalidArgument);
  Status at_replica;
  c.node(2).Write(kVol, 0, Block(1), [&](Status s) { at_replica = s; });
  EXPECT_EQ(at_replica.code(), StatusCode::kUnavailable);
  EXPECT_FALSE(c.node(2).Serving(kVol));
  StatusOr<Bytes> zeros = c.Read(5);
  ASSERT_TRUE(zeros.ok());
  EXPECT_EQ(*zeros, Bytes(kBlockSize, 0));  // never written
}

TEST(Replication, ASilentReplicaLeavesTheInSyncSetAndWritesGoOn) {
  Cluster c(3);
  ASSERT_TRUE(c.controller_->CreateVolume({kVol, kBlockSize, kBlocks}, {1, 2, 3}).ok());
  ASSERT_TRUE(c.AwaitServing());
  ASSERT_TRUE(c.Write(0, Block(1)).ok());
  c.Crash(3);
  const Time before = c.loop_.now();
  ASSERT_TRUE(c.Write(1, Block(2)).ok());  // waits out the timeout, then goes on without 3
  EXPECT_LT(c.loop_.now() - before, seconds(1));
  EXPECT_EQ(c.Record().in_sync, (std::set<NodeId>{1, 2}));
  const Time after = c.loop_.now();
  ASSERT_TRUE(c.Write(2, Block(3)).ok());
  EXPECT_LT(c.loop_.now() - after, milliseconds(20));  // no longer waits for it
}

TEST(Replication, AReturningReplicaResyncsOnlyTheBlocksItMissed) {
  Cluster c(3);
  ASSERT_TRUE(c.controller_->CreateVolume({kVol, kBlockSize, kBlocks}, {1, 2, 3}).ok());
  ASSERT_TRUE(c.AwaitServing());
  for (uint32_t b = 0; b < kBlocks; ++b) ASSERT_TRUE(c.Write(b, Block(1)).ok());
  c.plan_.Isolate(3);  // away, but not crashed: the primary keeps track of what it misses
  for (uint32_t b = 0; b < 5; ++b) ASSERT_TRUE(c.Write(b, Block(2)).ok());
  ASSERT_EQ(c.Record().in_sync.size(), 2u);
  const uint64_t resynced_before = c.node(1).stats().blocks_resynced;
  c.plan_.Heal();
  ASSERT_TRUE(c.AwaitInSync(3));
  const uint64_t copied = c.node(1).stats().blocks_resynced - resynced_before;
  EXPECT_GE(copied, 4u);  // the block in flight when it left may have reached it
  EXPECT_LE(copied, 5u);  // never the 27 it already had
  // Back in sync for real: with both others gone it alone serves the data.
  c.Crash(1);
  c.Crash(2);
  c.loop_.RunFor(milliseconds(10));
  c.Restart(2);  // the controller's candidate set is {2, 3}; 1 is the old primary
  ASSERT_TRUE(c.AwaitServing());
  for (uint32_t b = 0; b < kBlocks; ++b) {
    StatusOr<Bytes> r = c.Read(b);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(*r, Block(b < 5 ? 2 : 1)) << "block " << b;
  }
}

TEST(Replication, APrimaryCrashFailsOverToAnInSyncReplica) {
  Cluster c(3);
  ASSERT_TRUE(c.controller_->CreateVolume({kVol, kBlockSize, kBlocks}, {1, 2, 3}).ok());
  ASSERT_TRUE(c.AwaitServing());
  for (uint32_t b = 0; b < 8; ++b) ASSERT_TRUE(c.Write(b, Block(static_cast<uint8_t>(10 + b))).ok());
  c.Crash(1);
  ASSERT_TRUE(c.AwaitServing());
  EXPECT_NE(c.primary(), 1u);
  EXPECT_EQ(c.controller_->stats().failovers, 1u);
  EXPECT_EQ(c.Record().in_sync.count(1), 0u);
  for (uint32_t b = 0; b < 8; ++b) {
    StatusOr<Bytes> r = c.Read(b);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r, Block(static_cast<uint8_t>(10 + b)));
  }
  ASSERT_TRUE(c.Write(20, Block(99)).ok());
  // The old primary comes back as a replica and is rebuilt.
  c.Restart(1);
  ASSERT_TRUE(c.AwaitInSync(3));
}

// A new primary rewrites every block before it serves. On a large volume
// and slow disks that takes many leases; while it makes progress it is not
// taken for dead, so the volume moves once, not from replica to replica.
TEST(Replication, ATakeoverLongerThanALeaseIsNotFailedOverAgain) {
  DiskTiming slow;
  slow.sync_latency = milliseconds(2);
  Cluster c(3, 7, slow);
  constexpr uint32_t kLarge = 3000;  // about 6 s of syncs at each replica: over seven leases
  ASSERT_TRUE(c.controller_->CreateVolume({kVol, kBlockSize, kLarge}, {1, 2, 3}).ok());
  ASSERT_TRUE(c.AwaitServing());
  for (uint32_t b = 0; b < 8; ++b) ASSERT_TRUE(c.Write(b * 300, Block(static_cast<uint8_t>(10 + b))).ok());
  const Time crash = c.loop_.now();
  c.Crash(1);
  ASSERT_TRUE(c.AwaitServing(seconds(60)));
  EXPECT_GT(c.loop_.now() - crash, c.options_.lease * 3) << "the takeover was long";
  EXPECT_EQ(c.controller_->stats().failovers, 1u);
  EXPECT_EQ(c.node(c.primary()).stats().takeovers, 1u);
  for (uint32_t b = 0; b < 8; ++b) {
    StatusOr<Bytes> r = c.Read(b * 300);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r, Block(static_cast<uint8_t>(10 + b)));
  }
  EXPECT_EQ(*c.node(c.primary()).DataBlocks(kVol), 8u) << "a takeover's rewrites of zeros are no data";
}

TEST(Replication, APartitionedPrimaryIsFencedAndCannotAcknowledge) {
  Cluster c(3);
  ASSERT_TRUE(c.controller_->CreateVolume({kVol, kBlockSize, kBlocks}, {1, 2, 3}).ok());
  ASSERT_TRUE(c.AwaitServing());
  ASSERT_TRUE(c.Write(0, Block(1)).ok());
  c.plan_.Isolate(1);
  // The old primary stops serving when its lease runs out, before anyone else starts.
  std::optional<Status> stale;
  c.node(1).Write(kVol, 0, Block(66), [&](Status s) { stale = s; });
  while (c.primary() == 1 && c.loop_.now() < Time{} + seconds(30)) c.loop_.RunFor(milliseconds(5));
  ASSERT_NE(c.primary(), 1u);
  EXPECT_FALSE(c.node(1).Serving(kVol));
  EXPECT_FALSE(stale.has_value() && stale->ok());  // it cannot reach the others
  ASSERT_TRUE(c.AwaitServing());
  ASSERT_TRUE(c.Write(0, Block(2)).ok());
  c.plan_.Heal();
  ASSERT_TRUE(c.AwaitInSync(3));
  ASSERT_TRUE(stale.has_value());
  EXPECT_EQ(stale->code(), StatusCode::kUnavailable);  // told it is no longer the primary
  StatusOr<Bytes> r = c.Read(0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, Block(2));
}

TEST(Replication, AReplicaGoneForGoodIsReplacedAndRebuilt) {
  Cluster c(4);
  ASSERT_TRUE(c.controller_->CreateVolume({kVol, kBlockSize, kBlocks}, {1, 2, 3}).ok());
  ASSERT_TRUE(c.AwaitServing());
  for (uint32_t b = 0; b < kBlocks; ++b) ASSERT_TRUE(c.Write(b, Block(static_cast<uint8_t>(b))).ok());
  c.Crash(3);
  ASSERT_TRUE(c.controller_->ReplaceReplica(kVol, 3, 4).ok());
  ASSERT_TRUE(c.AwaitInSync(3));
  EXPECT_EQ(c.Record().in_sync, (std::set<NodeId>{1, 2, 4}));
  EXPECT_GE(c.node(1).stats().blocks_resynced, kBlocks);  // every block, it had none
  // Node 4 now holds everything: it serves alone after 1 and 2 are lost.
  c.Crash(1);
  ASSERT_TRUE(c.AwaitServing());
  c.Crash(2);
  c.loop_.RunFor(seconds(3));
  if (c.primary() != 4) GTEST_SKIP() << "the failover went to 2 first";
  ASSERT_TRUE(c.AwaitServing());
  for (uint32_t b = 0; b < kBlocks; ++b) {
    StatusOr<Bytes> r = c.Read(b);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r, Block(static_cast<uint8_t>(b)));
  }
}

TEST(Replication, AFailedDiskAtTheReplicaTakesItOutOfSync) {
  Cluster c(3);
  ASSERT_TRUE(c.controller_->CreateVolume({kVol, kBlockSize, kBlocks}, {1, 2, 3}).ok());
  ASSERT_TRUE(c.AwaitServing());
  c.plan_.FailDisk(2, true);
  ASSERT_TRUE(c.Write(0, Block(5)).ok());
  EXPECT_EQ(c.Record().in_sync.count(2), 0u);
  c.plan_.FailDisk(2, false);
  ASSERT_TRUE(c.AwaitInSync(3));
}

TEST(Replication, GarbageOnTheWireIsIgnored) {
  Cluster c(3);
  ASSERT_TRUE(c.controller_->CreateVolume({kVol, kBlockSize, kBlocks}, {1, 2, 3}).ok());
  ASSERT_TRUE(c.AwaitServing());
  Random r(3);
  for (int i = 0; i < 2000; ++i) {
    Bytes junk(r.Uniform(80));
    for (auto& b : junk) b = static_cast<uint8_t>(r.Next());
    if (junk.size() >= 4 && r.Chance(0.5)) {  // a valid header, then junk
      junk[0] = 0x56;
      junk[1] = 0x53;
      junk[2] = 1;
    }
    const NodeId to = static_cast<NodeId>(r.Uniform(4));
    c.envs_[1 + r.Uniform(3)]->Send(to, to == 0 ? kControllerPort : kReplicaPort, junk);
  }
  c.loop_.RunFor(milliseconds(100));
  ASSERT_TRUE(c.AwaitServing());
  EXPECT_TRUE(c.Write(3, Block(7)).ok());
}


TEST(Snapshots, HoldExactlyTheWritesAcknowledgedBeforeThemAndCopyOnWrite) {
  Cluster c(3);
  ASSERT_TRUE(c.controller_->CreateVolume({kVol, kBlockSize, kBlocks}, {1, 2, 3}).ok());
  ASSERT_TRUE(c.AwaitServing());
  for (uint32_t b = 0; b < 8; ++b) ASSERT_TRUE(c.Write(b, Block(1)).ok());
  ASSERT_TRUE(c.Snapshot("before"));
  EXPECT_EQ(c.PreservedAt(2), 0u);  // taking it copies nothing
  for (uint32_t b = 0; b < 4; ++b) ASSERT_TRUE(c.Write(b, Block(2)).ok());
  ASSERT_TRUE(c.Write(2, Block(3)).ok());  // a second write of a block copies nothing more
  for (NodeId n : {1u, 2u, 3u}) EXPECT_EQ(c.PreservedAt(n), 4u) << "node " << n;
  for (uint32_t b = 0; b < 10; ++b) {
    StatusOr<Bytes> r = c.ReadSnapshot("before", b);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(*r, b < 8 ? Block(1) : Bytes(kBlockSize, 0)) << "block " << b;
  }
  StatusOr<Bytes> live = c.Read(2);
  ASSERT_TRUE(live.ok());
  EXPECT_EQ(*live, Block(3));
  EXPECT_EQ(c.ReadSnapshot("nope", 0).status().code(), StatusCode::kNotFound);
}

TEST(Snapshots, WritesDuringTheBarrierWaitAndLandAfterIt) {
  Cluster c(3);
  ASSERT_TRUE(c.controller_->CreateVolume({kVol, kBlockSize, kBlocks}, {1, 2, 3}).ok());
  ASSERT_TRUE(c.AwaitServing());
  ASSERT_TRUE(c.controller_->CreateSnapshot(kVol, "s").ok());
  // Writes keep coming while the snapshot is taken: each lands wholly on one side.
  std::vector<std::optional<Status>> results(20);
  for (uint32_t i = 0; i < 20; ++i) {
    c.node(1).Write(kVol, i, Block(static_cast<uint8_t>(i + 1)), [&results, i](Status s) { results[i] = s; });
    c.loop_.RunFor(std::chrono::microseconds(300));
  }
  c.loop_.RunFor(seconds(2));
  ASSERT_TRUE(c.Record().FindSnapshot("s")->ready);
  EXPECT_EQ(c.controller_->stats().failovers, 0u);
  for (uint32_t i = 0; i < 20; ++i) {
    ASSERT_TRUE(results[i].has_value() && results[i]->ok()) << i;
    StatusOr<Bytes> r = c.ReadSnapshot("s", i);
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(*r == Block(static_cast<uint8_t>(i + 1)) || *r == Bytes(kBlockSize, 0)) << i;
  }
}

TEST(Snapshots, SurvivePowerLossAndFailover) {
  Cluster c(3);
  ASSERT_TRUE(c.controller_->CreateVolume({kVol, kBlockSize, kBlocks}, {1, 2, 3}).ok());
  ASSERT_TRUE(c.AwaitServing());
  ASSERT_TRUE(c.Write(0, Block(1)).ok());
  ASSERT_TRUE(c.Snapshot("s"));
  ASSERT_TRUE(c.Write(0, Block(2)).ok());
  for (NodeId n : {1u, 2u, 3u}) c.Crash(n);
  c.loop_.RunFor(milliseconds(20));
  for (NodeId n : {2u, 3u}) c.Restart(n);  // 1, the primary, stays down: a failover
  ASSERT_TRUE(c.AwaitServing());
  ASSERT_NE(c.primary(), 1u);
  StatusOr<Bytes> r = c.ReadSnapshot("s", 0);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, Block(1));
  StatusOr<Bytes> live = c.Read(0);
  ASSERT_TRUE(live.ok());
  EXPECT_EQ(*live, Block(2));
}

TEST(Snapshots, AReplicaAwayWhenOneWasTakenGetsItBeforeRejoining) {
  Cluster c(3);
  ASSERT_TRUE(c.controller_->CreateVolume({kVol, kBlockSize, kBlocks}, {1, 2, 3}).ok());
  ASSERT_TRUE(c.AwaitServing());
  for (uint32_t b = 0; b < kBlocks; ++b) ASSERT_TRUE(c.Write(b, Block(1)).ok());
  c.plan_.Isolate(3);
  ASSERT_TRUE(c.Write(0, Block(2)).ok());
  ASSERT_TRUE(c.Snapshot("while-away"));
  ASSERT_TRUE(c.Write(1, Block(3)).ok());
  c.plan_.Heal();
  ASSERT_TRUE(c.AwaitInSync(3));
  // Only node 3 is left: its copy of the snapshot must be whole.
  c.Crash(1);
  c.loop_.RunFor(seconds(3));
  c.Crash(2);
  c.loop_.RunFor(seconds(3));
  if (c.primary() != 3) GTEST_SKIP() << "the failover went to 2 first";
  ASSERT_TRUE(c.AwaitServing());
  for (uint32_t b = 0; b < kBlocks; ++b) {
    StatusOr<Bytes> r = c.ReadSnapshot("while-away", b);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(*r, Block(b == 0 ? 2 : 1)) << "block " << b;
  }
}

TEST(Snapshots, DeletingOneFreesItsSpaceOnEveryReplica) {
  Cluster c(3);
  ASSERT_TRUE(c.controller_->CreateVolume({kVol, kBlockSize, kBlocks}, {1, 2, 3}).ok());
  ASSERT_TRUE(c.AwaitServing());
  ASSERT_TRUE(c.Snapshot("s"));
  for (uint32_t b = 0; b < kBlocks; ++b) ASSERT_TRUE(c.Write(b, Block(9)).ok());
  const uint64_t with = c.loop_.disk(2).bytes_stored();
  EXPECT_EQ(c.controller_->DeleteSnapshot(kVol, "nope").code(), StatusCode::kNotFound);
  ASSERT_TRUE(c.controller_->DeleteSnapshot(kVol, "s").ok());
  c.loop_.RunFor(seconds(1));
  EXPECT_LE(c.loop_.disk(2).bytes_stored() + kBlocks * kBlockSize, with);
  EXPECT_EQ(c.Record().FindSnapshot("s"), nullptr);
}

TEST(Snapshots, RefuseBadNames) {
  Cluster c(3);
  ASSERT_TRUE(c.controller_->CreateVolume({kVol, kBlockSize, kBlocks}, {1, 2, 3}).ok());
  EXPECT_EQ(c.controller_->CreateSnapshot(kVol, "").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c.controller_->CreateSnapshot(kVol, "a/b").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c.controller_->CreateSnapshot(kVol, std::string(129, 'a')).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c.controller_->CreateSnapshot("nope", "s").code(), StatusCode::kNotFound);
  ASSERT_TRUE(c.controller_->CreateSnapshot(kVol, "daily-2026.11.30_0").ok());
  EXPECT_EQ(c.controller_->CreateSnapshot(kVol, "daily-2026.11.30_0").code(), StatusCode::kAlreadyExists);
}

TEST(Snapshots, RestoreBringsTheVolumeBack) {
  Cluster c(3);
  ASSERT_TRUE(c.controller_->CreateVolume({kVol, kBlockSize, kBlocks}, {1, 2, 3}).ok());
  ASSERT_TRUE(c.AwaitServing());
  for (uint32_t b = 0; b < kBlocks; ++b) ASSERT_TRUE(c.Write(b, Block(static_cast<uint8_t>(b))).ok());
  ASSERT_TRUE(c.Snapshot("good"));
  for (uint32_t b = 0; b < kBlocks; b += 3) ASSERT_TRUE(c.Write(b, Block(0xEE)).ok());
  const uint64_t acked = c.node(1).stats().writes_acked;
  std::optional<Status> restored;
  c.node(1).Restore(kVol, "good", [&](Status s) { restored = s; });
  while (!restored) c.loop_.RunFor(milliseconds(1));
  ASSERT_TRUE(restored->ok()) << restored->ToString();
  EXPECT_EQ(c.node(1).stats().writes_acked - acked, (kBlocks + 2) / 3);  // only what differed
  for (uint32_t b = 0; b < kBlocks; ++b) {
    StatusOr<Bytes> r = c.Read(b);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r, Block(static_cast<uint8_t>(b)));
  }
  std::optional<Status> missing;
  c.node(1).Restore(kVol, "nope", [&](Status s) { missing = s; });
  EXPECT_EQ(missing->code(), StatusCode::kNotFound);
}

TEST(Snapshots, DiffsNameTheBlocksWrittenBetweenThem) {
  Cluster c(3);
  ASSERT_TRUE(c.controller_->CreateVolume({kVol, kBlockSize, kBlocks}, {1, 2, 3}).ok());
  ASSERT_TRUE(c.AwaitServing());
  for (uint32_t b : {1u, 5u, 9u}) ASSERT_TRUE(c.Write(b, Block(1)).ok());
  ASSERT_TRUE(c.Snapshot("a"));
  for (uint32_t b : {5u, 7u}) ASSERT_TRUE(c.Write(b, Block(2)).ok());
  ASSERT_TRUE(c.Write(7, Block(3)).ok());
  ASSERT_TRUE(c.Snapshot("b"));
  const auto diff = [&](const std::string& base, const std::string& snap) {
    std::optional<StatusOr<std::vector<uint32_t>>> r;
    c.node(c.primary()).DiffSnapshots(kVol, base, snap, [&](StatusOr<std::vector<uint32_t>> x) { r = std::move(x); });
    while (!r) c.loop_.RunFor(milliseconds(1));
    return std::move(*r);
  };
  StatusOr<std::vector<uint32_t>> all = diff("", "a");
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(*all, (std::vector<uint32_t>{1, 5, 9}));
  StatusOr<std::vector<uint32_t>> delta = diff("a", "b");
  ASSERT_TRUE(delta.ok());
  EXPECT_EQ(*delta, (std::vector<uint32_t>{5, 7}));
  EXPECT_TRUE(diff("b", "b")->empty());
  EXPECT_EQ(diff("a", "nope").status().code(), StatusCode::kNotFound);
}

TEST(Snapshots, ACloneStartsAsTheSnapshotAndThenGoesItsOwnWay) {
  Cluster c(4);
  ASSERT_TRUE(c.controller_->CreateVolume({kVol, kBlockSize, kBlocks}, {1, 2, 3}).ok());
  ASSERT_TRUE(c.AwaitServing());
  for (uint32_t b = 0; b < kBlocks; ++b) ASSERT_TRUE(c.Write(b, Block(static_cast<uint8_t>(b + 1))).ok());
  ASSERT_TRUE(c.Snapshot("golden"));
  ASSERT_TRUE(c.Write(0, Block(0x55)).ok());  // after the snapshot: not in the clone
  const char* kClone = "floor-2/db";
  EXPECT_EQ(c.controller_->CloneVolume({kClone, kBlockSize, kBlocks}, {4, 2}, {kVol, "golden"}).code(),
            StatusCode::kFailedPrecondition);  // node 4 does not hold the snapshot
  EXPECT_EQ(c.controller_->CloneVolume({kClone, kBlockSize, kBlocks + 1}, {2, 4}, {kVol, "golden"}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(c.controller_->CloneVolume({kClone, kBlockSize, kBlocks}, {2, 4}, {kVol, "nope"}).code(),
            StatusCode::kNotFound);
  ASSERT_TRUE(c.controller_->CloneVolume({kClone, kBlockSize, kBlocks}, {2, 4}, {kVol, "golden"}).ok());
  EXPECT_EQ(c.controller_->DeleteSnapshot(kVol, "golden").code(), StatusCode::kFailedPrecondition);
  const Time end = c.loop_.now() + seconds(10);
  while (!c.controller_->Find(kClone)->clone_from.volume.empty() && c.loop_.now() < end) {
    c.loop_.RunFor(milliseconds(5));
  }
  ASSERT_TRUE(c.controller_->Find(kClone)->clone_from.volume.empty()) << "never seeded";
  // A new primary serves a lease after its takeover began (replication.h: run-flat).
  while (!c.node(2).Serving(kClone) && c.loop_.now() < end + seconds(5)) c.loop_.RunFor(milliseconds(5));
  const auto read_clone = [&](uint32_t b) {
    std::optional<StatusOr<Bytes>> r;
    c.node(2).Read(kClone, b, [&](StatusOr<Bytes> x) { r = std::move(x); });
    while (!r) c.loop_.RunFor(milliseconds(1));
    return std::move(*r);
  };
  for (uint32_t b = 0; b < kBlocks; ++b) {
    StatusOr<Bytes> r = read_clone(b);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(*r, Block(static_cast<uint8_t>(b + 1))) << "block " << b;
  }
  std::optional<Status> w;
  c.node(2).Write(kClone, 1, Block(0x77), [&](Status s) { w = s; });
  while (!w) c.loop_.RunFor(milliseconds(1));
  ASSERT_TRUE(w->ok());
  StatusOr<Bytes> source = c.Read(1);
  ASSERT_TRUE(source.ok());
  EXPECT_EQ(*source, Block(2));  // the source is untouched
  EXPECT_TRUE(c.controller_->DeleteSnapshot(kVol, "golden").ok());  // seeded: free to go
}

TEST(Torture, ASeedReplaysExactly) {
  TortureOptions o;
  o.seed = 11;
  o.faulty = seconds(4);
  StatusOr<TortureResult> a = RunTorture(o), b = RunTorture(o);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->digest, b->digest);
  EXPECT_EQ(a->acknowledged_writes, b->acknowledged_writes);
  EXPECT_GT(a->acknowledged_writes, 100u);
  o.seed = 12;
  StatusOr<TortureResult> other = RunTorture(o);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->digest, a->digest);
  o.seed = 11;
  o.trace = true;
  StatusOr<TortureResult> traced = RunTorture(o);
  ASSERT_TRUE(traced.ok());
  EXPECT_EQ(traced->digest, a->digest);  // tracing changes nothing
  EXPECT_GT(traced->trace.size(), 1000u);
}

TEST(Torture, RefusesBadOptions) {
  TortureOptions o;
  o.repl = 4;
  EXPECT_EQ(RunTorture(o).status().where(), "repl");
  o = {};
  o.nodes = 2;
  EXPECT_EQ(RunTorture(o).status().where(), "nodes");
  o = {};
  o.blocks = 0;
  EXPECT_EQ(RunTorture(o).status().where(), "blocks");
}

// Many seeds of every replication factor; CI also runs 1,000 seeds of the
// default through the command (tests/tools).
TEST(Torture, NoAcknowledgedWriteIsLostOverManySeeds) {
  uint64_t acked = 0;
  for (int repl = 1; repl <= 3; ++repl) {
    for (uint64_t seed = 1; seed <= 30; ++seed) {
      TortureOptions o;
      o.seed = seed;
      o.repl = repl;
      o.nodes = repl + 1;
      o.faulty = seconds(5);
      StatusOr<TortureResult> r = RunTorture(o);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      EXPECT_TRUE(r->ok()) << "repl " << repl << " seed " << seed << ": " << r->check.ToString();
      acked += r->acknowledged_writes;
    }
  }
  EXPECT_GT(acked, 10000u);
}

}  // namespace
}  // namespace edgebed::storage
