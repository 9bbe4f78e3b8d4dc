#include "core/storage/cloudsnap.h"

#include <gtest/gtest.h>

#include <memory>
#include <optional>

#include "core/env/fault_env.h"
#include "core/env/test_loop.h"

namespace edgebed::storage {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr uint32_t kBlockSize = 256;
constexpr uint32_t kBlocks = 24;
constexpr const char* kVol = "floor-1/db";

Bytes Block(uint8_t fill) { return Bytes(kBlockSize, fill); }

// Two clusters and the cloud: cluster A is node 0 (controller) and 1-3,
// cluster B is node 4 (controller) and 5-6, node 7 is the object store,
// 40 ms away from everyone.
class Clouds {
 public:
  Clouds() : loop_(3) {
    ReplicationOptions o;
    o.ack_timeout = milliseconds(100);
    o.lease = milliseconds(800);
    o.resync_interval = milliseconds(200);
    for (int i = 0; i < 8; ++i) envs_.push_back(std::make_unique<FaultEnv>(loop_.env(loop_.AddNode()), plan_));
    for (NodeId n = 0; n < 7; ++n) loop_.SetLatency(n, 7, milliseconds(40));
    a_ = std::make_unique<VolumeController>(*envs_[0], o);
    b_ = std::make_unique<VolumeController>(*envs_[4], o);
    for (NodeId n : {1u, 2u, 3u}) nodes_[n] = std::make_unique<StorageNode>(*envs_[n], 0, o);
    for (NodeId n : {5u, 6u}) nodes_[n] = std::make_unique<StorageNode>(*envs_[n], 4, o);
    server_ = std::make_unique<ObjectStoreServer>(*envs_[7]);
    for (NodeId n : {1u, 5u}) {
      clients_[n] = std::make_unique<ObjectStoreClient>(*envs_[n], 7);
    }
  }

  CloudSnap Cloud(NodeId n, CloudSnapOptions o = {}) { return CloudSnap(*envs_[n], *nodes_[n], *clients_[n], o); }

  template <typename T>
  T Await(std::optional<T>& result, Duration limit = seconds(60)) {
    const Time end = loop_.now() + limit;
    while (!result && loop_.now() < end) loop_.RunFor(milliseconds(1));
    EXPECT_TRUE(result.has_value()) << "no answer";
    return result ? std::move(*result) : T(Unavailable("no answer"));
  }
  bool AwaitServing(NodeId n, const std::string& volume) {
    const Time end = loop_.now() + seconds(10);
    while (!nodes_[n]->Serving(volume) && loop_.now() < end) loop_.RunFor(milliseconds(5));
    return nodes_[n]->Serving(volume);
  }
  Status Write(NodeId n, const std::string& volume, uint32_t b, Bytes data) {
    std::optional<Status> r;
    nodes_[n]->Write(volume, b, std::move(data), [&](Status s) { r = s; });
    return Await(r);
  }
  Bytes Read(NodeId n, const std::string& volume, uint32_t b) {
    std::optional<StatusOr<Bytes>> r;
    nodes_[n]->Read(volume, b, [&](StatusOr<Bytes> x) { r = std::move(x); });
    StatusOr<Bytes> got = Await(r);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    return got.ok() ? *got : Bytes{};
  }
  // Takes a snapshot in cluster A and returns when it was ready.
  int64_t Snapshot(const std::string& name) {
    EXPECT_TRUE(a_->CreateSnapshot(kVol, name).ok());
    const Time end = loop_.now() + seconds(10);
    while (loop_.now() < end) {
      const SnapshotRecord* s = a_->Find(kVol)->FindSnapshot(name);
      if (s && s->ready) return s->ready_ns;
      loop_.RunFor(milliseconds(5));
    }
    ADD_FAILURE() << "snapshot " << name << " never ready";
    return 0;
  }
  StatusOr<CloudBackup> Backup(CloudSnap& cloud, const std::string& snap, int64_t ready_ns) {
    std::optional<StatusOr<CloudBackup>> r;
    cloud.Backup(kVol, snap, ready_ns, [&](StatusOr<CloudBackup> b) { r = std::move(b); });
    return Await(r);
  }

  TestLoop loop_;
  FaultPlan plan_;
  std::vector<std::unique_ptr<FaultEnv>> envs_;
  std::unique_ptr<VolumeController> a_, b_;
  std::unique_ptr<StorageNode> nodes_[7];
  std::unique_ptr<ObjectStoreServer> server_;
  std::unique_ptr<ObjectStoreClient> clients_[7];
};

TEST(CloudSnap, IncrementalBackupsRestoreIntoAnotherCluster) {
  Clouds w;
  ASSERT_TRUE(w.a_->CreateVolume({kVol, kBlockSize, kBlocks}, {1, 2, 3}).ok());
  ASSERT_TRUE(w.AwaitServing(1, kVol));
  for (uint32_t b : {0u, 3u, 7u, 20u}) ASSERT_TRUE(w.Write(1, kVol, b, Block(static_cast<uint8_t>(b + 1))).ok());
  const int64_t t1 = w.Snapshot("s1");
  CloudSnap cloud = w.Cloud(1);
  StatusOr<CloudBackup> first = w.Backup(cloud, "s1", t1);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(first->full);
  EXPECT_EQ(first->seq, 1u);
  EXPECT_EQ(first->carried, (std::vector<uint32_t>{0, 3, 7, 20}));  // not the zero blocks
  EXPECT_EQ(first->snapshot_ready_ns, t1);

  ASSERT_TRUE(w.Write(1, kVol, 3, Block(0x33)).ok());
  ASSERT_TRUE(w.Write(1, kVol, 9, Block(0x99)).ok());
  const int64_t t2 = w.Snapshot("s2");
  StatusOr<CloudBackup> second = w.Backup(cloud, "s2", t2);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_FALSE(second->full);
  EXPECT_EQ(second->parent, 1u);
  EXPECT_EQ(second->carried, (std::vector<uint32_t>{3, 9}));  // only what changed

  // Writes after the snapshot are not in the backup.
  ASSERT_TRUE(w.Write(1, kVol, 0, Block(0xEE)).ok());

  // Migration: cluster B restores the chain into a volume of its own.
  const char* kCopy = "floor-1/db-copy";
  ASSERT_TRUE(w.b_->CreateVolume({kCopy, kBlockSize, kBlocks}, {5, 6}).ok());
  ASSERT_TRUE(w.AwaitServing(5, kCopy));
  ASSERT_TRUE(w.Write(5, kCopy, 11, Block(0x11)).ok());  // overwritten by the restore
  CloudSnap remote = w.Cloud(5);
  std::optional<Status> restored;
  remote.Restore(kVol, 2, kCopy, [&](Status s) { restored = s; });
  const Status restore = w.Await(restored);
  ASSERT_TRUE(restore.ok()) << restore.ToString();
  for (uint32_t b = 0; b < kBlocks; ++b) {
    Bytes want(kBlockSize, 0);
    if (b == 0 || b == 7 || b == 20) want = Block(static_cast<uint8_t>(b + 1));
    if (b == 3) want = Block(0x33);
    if (b == 9) want = Block(0x99);
    EXPECT_EQ(w.Read(5, kCopy, b), want) << "block " << b;
  }
  // And the older point in time, too.
  std::optional<Status> older;
  remote.Restore(kVol, 1, kCopy, [&](Status s) { older = s; });
  ASSERT_TRUE(w.Await(older).ok());
  EXPECT_EQ(w.Read(5, kCopy, 3), Block(4));
  EXPECT_EQ(w.Read(5, kCopy, 9), Bytes(kBlockSize, 0));

  std::optional<StatusOr<std::vector<CloudBackup>>> listed;
  remote.List(kVol, [&](StatusOr<std::vector<CloudBackup>> l) { listed = std::move(l); });
  StatusOr<std::vector<CloudBackup>> all = w.Await(listed);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].snapshot, "s1");
  EXPECT_EQ((*all)[1].snapshot, "s2");
}

TEST(CloudSnap, AFullBackupEveryNAndWhenTheBaseSnapshotIsGone) {
  Clouds w;
  ASSERT_TRUE(w.a_->CreateVolume({kVol, kBlockSize, kBlocks}, {1, 2, 3}).ok());
  ASSERT_TRUE(w.AwaitServing(1, kVol));
  CloudSnapOptions o;
  o.full_every = 3;
  CloudSnap cloud = w.Cloud(1, o);
  std::vector<bool> full;
  for (int i = 1; i <= 5; ++i) {
    ASSERT_TRUE(w.Write(1, kVol, static_cast<uint32_t>(i), Block(static_cast<uint8_t>(i))).ok());
    const std::string name = "s" + std::to_string(i);
    StatusOr<CloudBackup> b = w.Backup(cloud, name, w.Snapshot(name));
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    full.push_back(b->full);
  }
  EXPECT_EQ(full, (std::vector<bool>{true, false, false, true, false}));
  // The base of the next incremental is deleted: the next one is full.
  ASSERT_TRUE(w.a_->DeleteSnapshot(kVol, "s5").ok());
  w.loop_.RunFor(seconds(1));
  StatusOr<CloudBackup> b = w.Backup(cloud, "s6", w.Snapshot("s6"));
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_TRUE(b->full);
}

TEST(CloudSnap, ABrokenChainOrAnotherLayoutIsRefused) {
  Clouds w;
  ASSERT_TRUE(w.a_->CreateVolume({kVol, kBlockSize, kBlocks}, {1, 2, 3}).ok());
  ASSERT_TRUE(w.AwaitServing(1, kVol));
  CloudSnap cloud = w.Cloud(1);
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(w.Write(1, kVol, 0, Block(static_cast<uint8_t>(i))).ok());
    const std::string name = "s" + std::to_string(i);
    ASSERT_TRUE(w.Backup(cloud, name, w.Snapshot(name)).ok());
  }
  std::optional<Status> deleted;
  w.clients_[1]->Delete("edgebed-cloudsnaps", "floor-1/db/00000002.manifest", [&](Status s) { deleted = s; });
  ASSERT_TRUE(w.Await(deleted).ok());
  const char* kOther = "other";
  ASSERT_TRUE(w.b_->CreateVolume({kOther, kBlockSize, kBlocks + 1}, {5}).ok());
  ASSERT_TRUE(w.AwaitServing(5, kOther));
  CloudSnap remote = w.Cloud(5);
  std::optional<Status> broken, missing, layout;
  remote.Restore(kVol, 3, kOther, [&](Status s) { broken = s; });
  const Status chain = w.Await(broken);
  EXPECT_EQ(chain.code(), StatusCode::kNotFound);
  EXPECT_NE(chain.ToString().find("lack 2, which backup 3 builds on"), std::string::npos) << chain.ToString();
  remote.Restore(kVol, 9, kOther, [&](Status s) { missing = s; });
  EXPECT_EQ(w.Await(missing).code(), StatusCode::kNotFound);
  remote.Restore(kVol, 1, kOther, [&](Status s) { layout = s; });
  EXPECT_EQ(w.Await(layout).code(), StatusCode::kInvalidArgument);
}

TEST(CloudSnap, BackupsCrossALossyWan) {
  Clouds w;
  ASSERT_TRUE(w.a_->CreateVolume({kVol, kBlockSize, kBlocks}, {1, 2, 3}).ok());
  ASSERT_TRUE(w.AwaitServing(1, kVol));
  for (uint32_t b = 0; b < kBlocks; ++b) ASSERT_TRUE(w.Write(1, kVol, b, Block(static_cast<uint8_t>(b))).ok());
  const int64_t t = w.Snapshot("s");
  w.plan_.BlockLink(7, 2);  // irrelevant links fail; the path to the cloud loses and duplicates
  w.plan_.set_drop_rate(0.1);
  w.plan_.set_duplicate_rate(0.1);
  CloudSnap cloud = w.Cloud(1);
  StatusOr<CloudBackup> b = w.Backup(cloud, "s", t);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->carried.size(), kBlocks - 1);  // block 0 is zeros
}

TEST(CloudSnap, ManifestsRoundTripAndBadOnesNameTheField) {
  CloudBackup b;
  b.volume = "v";
  b.snapshot = "s";
  b.seq = 4;
  b.parent = 3;
  b.block_size = 4096;
  b.blocks = 100;
  b.carried = {1, 2, 50, 99};
  b.parts = 1;
  b.snapshot_ready_ns = 7;
  b.created_ns = 9;
  StatusOr<CloudBackup> back = DecodeManifest(EncodeManifest(b));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->carried, b.carried);
  EXPECT_EQ(back->parent, 3u);
  EXPECT_FALSE(back->full);
  CloudBackup bad = b;
  bad.parts = 2;
  EXPECT_EQ(DecodeManifest(EncodeManifest(bad)).status().where(), "manifest.parts");
  bad = b;
  bad.full = true;  // with a parent
  EXPECT_EQ(DecodeManifest(EncodeManifest(bad)).status().where(), "manifest.parent");
  bad = b;
  bad.carried = {1, 100};
  EXPECT_EQ(DecodeManifest(EncodeManifest(bad)).status().where(), "manifest.carried");
  Bytes junk = EncodeManifest(b);
  junk.resize(junk.size() / 2);
  EXPECT_FALSE(DecodeManifest(junk).ok());
}

}  // namespace
}  // namespace edgebed::storage
