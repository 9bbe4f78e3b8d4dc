// Snapshot schedules in the cluster, end to end on the test loop: a Stork
// SchedulePolicy named from a StorageClass, the server's scheduler taking
// snapshots, and the agent at the volume's primary backing each one of a
// cloud schedule up to the object store — through a failover and a server
// restart — with what is in the cloud restorable, byte for byte.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>

#include "core/storage/cloudsnap.h"
#include "core/storage/object_store.h"
#include "tests/cluster/harness.h"

namespace edgebed::cluster {
namespace {

using testing::Cluster;
using testing::ClusterOptions;

constexpr int kNodes = 9;  // pools on 3, 6 and 9
constexpr NodeId kStore = kNodes + 1;

constexpr const char* kManifests = R"(apiVersion: stork.libopenstorage.org/v1alpha1
kind: SchedulePolicy
metadata: {name: every-minute}
policy:
  interval: {intervalMinutes: 1, retain: 3}
---
apiVersion: stork.libopenstorage.org/v1alpha1
kind: SchedulePolicy
metadata: {name: every-two-minutes}
policy:
  interval: {intervalMinutes: 2}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: px-backed-up}
provisioner: pxd.portworx.com
parameters:
  repl: "3"
  priority_io: high
  snapshotschedule.stork.libopenstorage.org/to-cloud: |
    schedulePolicyName: every-minute
    annotations:
      portworx/snapshot-type: cloud
  snapshotschedule.stork.libopenstorage.org/local: |
    schedulePolicyName: every-two-minutes
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: px-plain}
provisioner: pxd.portworx.com
parameters: {repl: "2", priority_io: high}
---
apiVersion: v1
kind: Namespace
metadata: {name: floor-1}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: floor-1}
spec:
  storageClassName: px-backed-up
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 256Ki}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: restored, namespace: floor-1}
spec:
  storageClassName: px-plain
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 256Ki}}
)";

struct World {
  explicit World(uint64_t seed) : c(seed, Opts()) {
    const NodeId id = c.loop().AddNode();
    EXPECT_EQ(id, kStore);
    store = std::make_unique<storage::ObjectStoreServer>(c.loop().env(kStore));
    c.Start();
  }
  static ClusterOptions Opts() {
    ClusterOptions o;
    o.nodes = kNodes;
    o.floors = 3;
    o.server.object_store = kStore;
    o.server.cloudsnap_full_every = 3;
    return o;
  }
  NodeId Primary(const std::string& volume) {
    const storage::VolumeRecord* v = c.server().volumes().Find(volume);
    return v ? v->primary : kNoNode;
  }
  // Writes blocks [from, to) with `fill` through the primary's agent.
  bool Write(uint32_t from, uint32_t to, uint8_t fill) {
    size_t acked = 0;
    const NodeId p = Primary("floor-1/data");
    if (p == kNoNode || !c.agent(p)) return false;
    for (uint32_t b = from; b < to; ++b)
      c.agent(p)->Write("floor-1/data", b, Bytes(4096, fill), [&acked](Status s) { acked += s.ok(); });
    return c.RunUntil([&] { return acked == to - from; }, std::chrono::seconds(30));
  }
  std::vector<const EventRecord*> Events(const std::string& kind) {
    std::vector<const EventRecord*> out;
    for (const EventRecord& e : c.loop().sink().events())
      if (e.kind == kind) out.push_back(&e);
    return out;
  }
  Cluster c;
  std::unique_ptr<storage::ObjectStoreServer> store;
};

class CloudBackupSeeds : public ::testing::TestWithParam<uint64_t> {};
INSTANTIATE_TEST_SUITE_P(Seeds, CloudBackupSeeds, ::testing::Range<uint64_t>(1, 9));

TEST_P(CloudBackupSeeds, ACloudScheduleBacksTheVolumeUpFromWhereverItsPrimaryIs) {
  World w(GetParam());
  ApplyResult applied = w.c.Apply(kManifests);
  ASSERT_TRUE(applied.status.ok()) << applied.status.ToString();
  ASSERT_TRUE(w.c.RunUntil([&] { return w.Primary("floor-1/data") != kNoNode && w.Primary("floor-1/restored") != kNoNode; },
                           std::chrono::seconds(30)));
  ASSERT_TRUE(w.c.RunUntil([&] { return w.c.agent(w.Primary("floor-1/data"))->storage().Serving("floor-1/data"); },
                           std::chrono::seconds(30)));
  ASSERT_TRUE(w.Write(0, 16, 0xA1));

  // A minute in, the first snapshot; then its backup, full, from the primary.
  ASSERT_TRUE(w.c.RunUntil([&] { return w.Events("storage.cloudsnap").size() >= 1; }, std::chrono::seconds(90)));
  const NodeId first_primary = w.Primary("floor-1/data");
  EXPECT_NE(w.Events("storage.cloudsnap")[0]->detail.find("node=edge-" + std::to_string(first_primary)),
            std::string::npos);
  EXPECT_NE(w.Events("storage.cloudsnap")[0]->detail.find(" full"), std::string::npos);
  std::vector<CloudBackupInfo> info = w.c.server().CloudBackups();
  ASSERT_EQ(info.size(), 1u);  // the local schedule backs nothing up
  EXPECT_EQ(info[0].volume, "floor-1/data");
  EXPECT_GE(info[0].newest_ready_ns, info[0].since_ns + 60'000'000'000);
  EXPECT_FALSE(w.c.loop().sink().SamplesNamed("storage.cloudsnap_s").empty());

  // Newer data, a newer backup: incremental, carrying only what changed.
  ASSERT_TRUE(w.Write(4, 6, 0xB2));
  ASSERT_TRUE(w.c.RunUntil([&] { return w.Events("storage.cloudsnap").size() >= 2; }, std::chrono::seconds(90)));
  EXPECT_NE(w.Events("storage.cloudsnap")[1]->detail.find(" incremental blocks=2 "), std::string::npos)
      << w.Events("storage.cloudsnap")[1]->detail;

  // The primary's node is lost: the volume fails over and the backups go on from the new primary.
  w.c.CrashAgent(first_primary);
  ASSERT_TRUE(w.c.RunUntil(
      [&] {
        const NodeId p = w.Primary("floor-1/data");
        return p != first_primary && p != kNoNode && w.c.agent(p) && w.c.agent(p)->storage().Serving("floor-1/data");
      },
      std::chrono::minutes(2)));
  const NodeId second_primary = w.Primary("floor-1/data");
  ASSERT_TRUE(w.Write(8, 9, 0xC3));
  const size_t before = w.Events("storage.cloudsnap").size();
  ASSERT_TRUE(w.c.RunUntil(
      [&] {
        for (const EventRecord* e : w.Events("storage.cloudsnap"))
          if (e->detail.find("node=edge-" + std::to_string(second_primary)) != std::string::npos) return true;
        return false;
      },
      std::chrono::minutes(3)));
  EXPECT_GT(w.Events("storage.cloudsnap").size(), before);
  std::set<std::string> seen;
  for (const EventRecord* e : w.Events("storage.cloudsnap"))
    EXPECT_TRUE(seen.insert(e->detail.substr(0, e->detail.find(" node="))).second) << "twice: " << e->detail;

  // Retention: each rule keeps its own, no more.
  std::map<std::string, int> kept;
  for (const storage::SnapshotRecord& s : w.c.server().volumes().Find("floor-1/data")->snapshots)
    ++kept[s.name.substr(0, s.name.find("-interval-"))];
  EXPECT_EQ(kept["to-cloud"], 3);
  EXPECT_GE(kept["local"], 1);
  EXPECT_LE(kept["local"], 10);

  // The server restarts: it remembers what is in the cloud, and the schedule goes on.
  const int64_t newest = w.c.server().CloudBackups().at(0).newest_ready_ns;
  w.c.CrashServer();
  w.c.loop().RunFor(std::chrono::seconds(5));
  w.c.RestartServer();
  info = w.c.server().CloudBackups();
  ASSERT_EQ(info.size(), 1u);
  EXPECT_EQ(info[0].newest_ready_ns, newest);
  ASSERT_TRUE(w.c.RunUntil([&] { return w.c.server().CloudBackups().at(0).newest_ready_ns > newest; },
                           std::chrono::minutes(3)));
  seen.clear();
  for (const EventRecord* e : w.Events("storage.cloudsnap"))  // the agents' reports again, to the new server
    EXPECT_TRUE(seen.insert(e->detail.substr(0, e->detail.find(" node="))).second) << "twice: " << e->detail;

  // What the cloud holds restores into another volume as it was written.
  const NodeId target = w.Primary("floor-1/restored");
  ASSERT_TRUE(w.c.agent(target));
  storage::ObjectStoreClientOptions co;
  co.port = 7499;  // beside the agent's own client
  storage::ObjectStoreClient client(w.c.env(target), kStore, co);
  storage::CloudSnap cloud(w.c.env(target), w.c.agent(target)->storage(), client);
  std::vector<storage::CloudBackup> list;
  bool listed = false;
  cloud.List("floor-1/data", [&](StatusOr<std::vector<storage::CloudBackup>> l) {
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    list = *l;
    listed = true;
  });
  ASSERT_TRUE(w.c.RunUntil([&] { return listed; }, std::chrono::seconds(30)));
  ASSERT_GE(list.size(), 4u);
  EXPECT_TRUE(list[0].full);
  EXPECT_TRUE(list[3].full);  // every third is full
  Status restored = Internal("not done");
  bool done = false;
  cloud.Restore("floor-1/data", list.back().seq, "floor-1/restored", [&](Status s) {
    restored = s;
    done = true;
  });
  ASSERT_TRUE(w.c.RunUntil([&] { return done; }, std::chrono::seconds(60)));
  ASSERT_TRUE(restored.ok()) << restored.ToString();
  std::map<uint32_t, Bytes> read;
  for (uint32_t b = 0; b < 17; ++b)
    w.c.agent(target)->Read("floor-1/restored", b, [&read, b](StatusOr<Bytes> r) {
      if (r.ok()) read[b] = *r;
    });
  ASSERT_TRUE(w.c.RunUntil([&] { return read.size() == 17; }, std::chrono::seconds(30)));
  for (uint32_t b = 0; b < 17; ++b) {
    uint8_t want = b < 16 ? 0xA1 : 0;
    if (b == 4 || b == 5) want = 0xB2;
    if (b == 8) want = 0xC3;
    EXPECT_EQ(read[b], Bytes(4096, want)) << "block " << b;
  }
}

TEST(CloudBackupTest, ASchedulePolicyThatDoesNotExistYetIsSaidAndThenFollowed) {
  World w(3);
  std::string manifests = kManifests;
  manifests = manifests.substr(manifests.find("---\napiVersion: storage.k8s.io/v1"));  // no SchedulePolicy
  ASSERT_TRUE(w.c.Apply(manifests).status.ok());
  ASSERT_TRUE(w.c.RunUntil([&] { return w.Events("storage.schedule_policy_missing").size() == 2; }, std::chrono::seconds(30)));
  EXPECT_NE(w.Events("storage.schedule_policy_missing")[1]->detail.find("schedule=to-cloud policy=every-minute"),
            std::string::npos);
  w.c.loop().RunFor(std::chrono::minutes(2));
  EXPECT_TRUE(w.Events("storage.cloudsnap").empty());
  ASSERT_TRUE(w.c.Apply(std::string(kManifests).substr(0, std::string(kManifests).find("---\napiVersion: storage.k8s.io/v1")))
                  .status.ok());
  ASSERT_TRUE(w.c.RunUntil([&] { return !w.Events("storage.cloudsnap").empty(); }, std::chrono::seconds(90)));
  // Deleting the policy stops the schedule: no snapshot after that.
  ASSERT_TRUE(w.c.Delete("SchedulePolicy", "", "every-minute").ok());
  w.c.loop().RunFor(std::chrono::seconds(5));
  const size_t taken = w.c.server().volumes().Find("floor-1/data")->snapshots.size();
  w.c.loop().RunFor(std::chrono::minutes(3));
  size_t cloud_now = 0;
  for (const storage::SnapshotRecord& s : w.c.server().volumes().Find("floor-1/data")->snapshots)
    cloud_now += s.name.rfind("to-cloud-", 0) == 0;
  EXPECT_LE(cloud_now, taken);
}

TEST(CloudBackupTest, RecordsRoundTripAndRejectGarbage) {
  BackupRequest q{"floor-1/data", "to-cloud-interval-20260101-000100-1", 60'000'000'000, 10, "bucket", 7};
  Bytes b = Encode(q);
  BackupRequest qo;
  ASSERT_TRUE(Decode(b, &qo).ok());
  EXPECT_EQ(qo.snapshot, q.snapshot);
  EXPECT_EQ(qo.object_store, 10u);
  EXPECT_EQ(qo.full_every, 7u);
  for (size_t n = 0; n < b.size(); ++n) EXPECT_FALSE(Decode(ByteView(b.data(), n), &qo).ok()) << n;
  BackupReport r;
  r.snapshot = q.snapshot;
  r.ok = true;
  r.seq = 4;
  r.bytes = 8192;
  Bytes rb = Encode(r);
  BackupReport ro;
  ASSERT_TRUE(Decode(rb, &ro).ok());
  EXPECT_EQ(ro.seq, 4u);
  EXPECT_TRUE(ro.ok);
  for (size_t n = 0; n < rb.size(); ++n) EXPECT_FALSE(Decode(ByteView(rb.data(), n), &ro).ok()) << n;
  rb[1 + 1 + rb[1] + 8] = 2;  // the ok flag, out of range
  EXPECT_FALSE(Decode(rb, &ro).ok());
}

}  // namespace
}  // namespace edgebed::cluster
