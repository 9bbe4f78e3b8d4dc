// StatefulSets in the cluster, end to end on the test loop with the
// scheduler and the storage engine in the loop: stable names and claims made
// from the templates, OrderedReady one at a time and Parallel at once, claims
// kept on scale-down (or deleted when the retention policy says so), a pod
// made again after its node is lost mounts the same volume with its data,
// and rolling updates go from the highest ordinal down to the partition.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "tests/cluster/harness.h"

namespace edgebed::cluster {
namespace {

using testing::Cluster;
using testing::ClusterOptions;

ClusterOptions Options() {
  ClusterOptions o;
  o.nodes = 10;
  o.floors = 5;
  return o;
}

std::string Broker(int replicas, const std::string& image = "mosquitto:2", const std::string& extra = "") {
  return R"(apiVersion: v1
kind: Namespace
metadata: {name: building}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: px-repl2}
provisioner: pxd.portworx.com
parameters: {repl: "2", priority_io: high}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: broker, namespace: building}
spec:
  replicas: )" + std::to_string(replicas) + R"(
  serviceName: broker
  selector: {matchLabels: {app: broker}}
  template:
    metadata: {labels: {app: broker}}
    spec:
      containers:
      - name: mqtt
        image: )" + image + R"(
        resources: {requests: {cpu: 100m, memory: 64Mi}}
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      storageClassName: px-repl2
      resources: {requests: {storage: 64Ki}}
)" + extra;
}

std::map<std::string, PodInfo> Pods(Cluster& c) {
  std::map<std::string, PodInfo> out;
  for (const PodInfo& p : c.server().Pods())
    if (p.owner == "StatefulSet/broker") out[p.name] = p;
  return out;
}

bool Running(Cluster& c, const std::set<std::string>& names) {
  std::set<std::string> running;
  for (const auto& [name, p] : Pods(c))
    if (p.phase == "Running") running.insert(name);
  return running == names;
}

std::set<std::string> Claims(Cluster& c) {
  std::set<std::string> out;
  for (const StoredObject& o : c.server().List("PersistentVolumeClaim", "building")) out.insert(o.name);
  return out;
}

class StatefulSetSeeds : public ::testing::TestWithParam<uint64_t> {};
INSTANTIATE_TEST_SUITE_P(Seeds, StatefulSetSeeds, ::testing::Range<uint64_t>(1, 5));

TEST_P(StatefulSetSeeds, OrderedReadyStartsOneAtATimeAndKeepsClaimsOnScaleDown) {
  Cluster c(GetParam(), Options());
  c.Start();
  ASSERT_TRUE(c.Apply(Broker(3)).status.ok());
  // At every look, the pods are a prefix of the ordinals, and only the newest may be not yet running.
  bool ordered = true;
  ASSERT_TRUE(c.RunUntil(
      [&] {
        const auto pods = Pods(c);
        int i = 0, not_running = 0;
        for (const auto& [name, p] : pods) {
          ordered &= name == "broker-" + std::to_string(i++);
          not_running += p.phase != "Running";
        }
        ordered &= not_running <= 1;
        return Running(c, {"broker-0", "broker-1", "broker-2"});
      },
      std::chrono::seconds(60), std::chrono::milliseconds(5)));
  EXPECT_TRUE(ordered);
  EXPECT_EQ(Claims(c), (std::set<std::string>{"data-broker-0", "data-broker-1", "data-broker-2"}));
  ASSERT_TRUE(c.RunUntil([&] { return c.server().volumes().Find("building/data-broker-2") != nullptr; },
                         std::chrono::seconds(30)));
  // Scale down: the highest goes, the claims stay; scale up again: the same claims.
  ASSERT_TRUE(c.Apply(Broker(1)).status.ok());
  ASSERT_TRUE(c.RunUntil([&] { return Pods(c).size() == 1u && Pods(c).count("broker-0"); }, std::chrono::seconds(30)));
  EXPECT_EQ(Claims(c).size(), 3u);
  ASSERT_TRUE(c.Apply(Broker(3)).status.ok());
  ASSERT_TRUE(c.RunUntil([&] { return Running(c, {"broker-0", "broker-1", "broker-2"}); }, std::chrono::seconds(60)));
  EXPECT_EQ(Claims(c).size(), 3u);
  // Deleting the set leaves the claims (upstream's default retention).
  ASSERT_TRUE(c.Delete("StatefulSet", "building", "broker").ok());
  ASSERT_TRUE(c.RunUntil([&] { return Pods(c).empty(); }, std::chrono::seconds(10)));
  EXPECT_EQ(Claims(c).size(), 3u);
}

TEST(StatefulSetTest, ParallelStartsEveryPodAtOnceAndTheRetentionPolicyCanDeleteClaims) {
  Cluster c(11, Options());
  c.Start();
  const std::string extra = R"(  podManagementPolicy: Parallel
  persistentVolumeClaimRetentionPolicy: {whenScaled: Delete, whenDeleted: Delete}
)";
  ASSERT_TRUE(c.Apply(Broker(3, "mosquitto:2", extra)).status.ok());
  c.loop().RunFor(std::chrono::milliseconds(300));
  EXPECT_EQ(Pods(c).size(), 3u);  // all made in one pass
  ASSERT_TRUE(c.RunUntil([&] { return Running(c, {"broker-0", "broker-1", "broker-2"}); }, std::chrono::seconds(60)));
  ASSERT_TRUE(c.Apply(Broker(1, "mosquitto:2", extra)).status.ok());
  ASSERT_TRUE(c.RunUntil([&] { return Claims(c) == std::set<std::string>{"data-broker-0"}; }, std::chrono::seconds(30)));
  ASSERT_TRUE(c.Delete("StatefulSet", "building", "broker").ok());
  ASSERT_TRUE(c.RunUntil([&] { return Claims(c).empty() && Pods(c).empty(); }, std::chrono::seconds(30)));
}

TEST(StatefulSetTest, APodMadeAgainAfterItsNodeIsLostMountsTheSameVolumeWithItsData) {
  Cluster c(7, Options());
  c.Start();
  ASSERT_TRUE(c.Apply(Broker(3)).status.ok());
  ASSERT_TRUE(c.RunUntil([&] { return Running(c, {"broker-0", "broker-1", "broker-2"}); }, std::chrono::seconds(60)));
  const std::string volume = "building/data-broker-1";
  ASSERT_TRUE(c.RunUntil([&] { return c.server().volumes().Find(volume) != nullptr; }, std::chrono::seconds(30)));
  const std::string first = Pods(c).at("broker-1").node;
  // The pod writes through its node's agent.
  size_t acked = 0;
  ASSERT_TRUE(c.RunUntil(
      [&] {
        if (acked == 8) return true;
        acked = 0;
        for (uint32_t b = 0; b < 8; ++b)
          c.agent(c.IdOf(first))->Write(volume, b, Bytes(4096, static_cast<uint8_t>(0x40 + b)),
                                        [&acked](Status s) { acked += s.ok(); });
        c.loop().RunFor(std::chrono::seconds(2));
        return acked == 8;
      },
      std::chrono::seconds(60), std::chrono::seconds(1)));
  c.CrashAgent(c.IdOf(first));
  // Past grace and toleration the pod is evicted and made again, with the same name, elsewhere.
  ASSERT_TRUE(c.RunUntil(
      [&] {
        const auto pods = Pods(c);
        auto it = pods.find("broker-1");
        return it != pods.end() && it->second.node != first && it->second.phase == "Running";
      },
      std::chrono::minutes(8)));
  const std::string second = Pods(c).at("broker-1").node;
  EXPECT_EQ(Claims(c).count("data-broker-1"), 1u);
  std::map<uint32_t, Bytes> read;
  ASSERT_TRUE(c.RunUntil(
      [&] {
        for (uint32_t b = 0; b < 8; ++b)
          if (!read.count(b))
            c.agent(c.IdOf(second))->Read(volume, b, [&read, b](StatusOr<Bytes> r) {
              if (r.ok()) read[b] = *r;
            });
        c.loop().RunFor(std::chrono::seconds(1));
        return read.size() == 8;
      },
      std::chrono::minutes(2), std::chrono::seconds(1)));
  for (uint32_t b = 0; b < 8; ++b) EXPECT_EQ(read[b], Bytes(4096, static_cast<uint8_t>(0x40 + b))) << b;
}

TEST_P(StatefulSetSeeds, ARollingUpdateGoesFromTheHighestOrdinalDownToThePartition) {
  Cluster c(GetParam(), Options());
  c.Start();
  ASSERT_TRUE(c.Apply(Broker(4)).status.ok());
  const std::set<std::string> all = {"broker-0", "broker-1", "broker-2", "broker-3"};
  ASSERT_TRUE(c.RunUntil([&] { return Running(c, all); }, std::chrono::seconds(60)));
  std::map<std::string, std::string> old_hash;
  for (const auto& [name, p] : Pods(c)) old_hash[name] = p.labels.at("controller-revision-hash");
  ASSERT_TRUE(c.Apply(Broker(4, "mosquitto:3", "  updateStrategy: {rollingUpdate: {partition: 1}}\n")).status.ok());
  std::vector<std::string> order;  // the order in which pods came back updated
  int worst = 0;
  ASSERT_TRUE(c.RunUntil(
      [&] {
        const auto pods = Pods(c);
        int down = 0;
        for (const std::string& name : all) {
          auto it = pods.find(name);
          if (it == pods.end() || it->second.phase != "Running") ++down;
          if (it != pods.end() && it->second.labels.at("controller-revision-hash") != old_hash[name] &&
              std::find(order.begin(), order.end(), name) == order.end())
            order.push_back(name);
        }
        worst = std::max(worst, down);
        return order.size() == 3 && Running(c, all);
      },
      std::chrono::seconds(120), std::chrono::milliseconds(5)));
  EXPECT_EQ(order, (std::vector<std::string>{"broker-3", "broker-2", "broker-1"}));
  EXPECT_EQ(worst, 1);
  EXPECT_EQ(Pods(c).at("broker-0").labels.at("controller-revision-hash"), old_hash["broker-0"]);  // below the partition
}

}  // namespace
}  // namespace edgebed::cluster
