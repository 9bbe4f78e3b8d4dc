// DaemonSets in the cluster, end to end on the test loop with the scheduler
// in the loop: a pod on every node the template fits and on none other, a
// node that joins gets one and a node that goes loses it, a daemon stays on a
// lost node (it tolerates the unreachable taint), and a changed template
// rolls node by node within maxUnavailable — or waits for deletions with
// OnDelete.
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

constexpr int kNodes = 10, kFloors = 5;  // floor f: nodes f and f + 5

// Nodes 5 and 10 carry an accelerator taint; node 9 is cordoned.
ClusterOptions Options() {
  ClusterOptions o;
  o.nodes = kNodes;
  o.floors = kFloors;
  o.node = [](int i) {
    model::Node n = testing::EdgeNode(i, kFloors);
    if (i % 5 == 0) n.taints.push_back({"edgebed.io/accelerator", "jetson", "NoSchedule"});
    if (i == 9) n.unschedulable = true;
    return n;
  };
  return o;
}

std::string Gateway(const std::string& extra_spec = "", const std::string& image = "gw:1",
                    const std::string& strategy = "") {
  return R"(apiVersion: v1
kind: Namespace
metadata: {name: building}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: gw, namespace: building}
spec:
  selector: {matchLabels: {app: gw}}
  template:
    metadata: {labels: {app: gw}}
    spec:
      containers:
      - name: gw
        image: )" + image + R"(
        resources: {requests: {cpu: 100m, memory: 64Mi}}
)" + extra_spec + strategy;
}

// The daemon pods by node, as the server has them.
std::map<std::string, std::vector<PodInfo>> ByNode(Cluster& c) {
  std::map<std::string, std::vector<PodInfo>> out;
  for (const PodInfo& p : c.server().Pods())
    if (p.owner == "DaemonSet/gw") out[p.node].push_back(p);
  return out;
}

std::set<std::string> Nodes(const std::map<std::string, std::vector<PodInfo>>& by_node) {
  std::set<std::string> out;
  for (const auto& [node, pods] : by_node) out.insert(node);
  return out;
}

bool AllRunning(Cluster& c) {
  for (const PodInfo& p : c.server().Pods())
    if (p.owner == "DaemonSet/gw" && p.phase != "Running") return false;
  return true;
}

class DaemonSetSeeds : public ::testing::TestWithParam<uint64_t> {};
INSTANTIATE_TEST_SUITE_P(Seeds, DaemonSetSeeds, ::testing::Range<uint64_t>(1, 5));

TEST_P(DaemonSetSeeds, APodOnEveryNodeItFitsAndNoneElse) {
  Cluster c(GetParam(), Options());
  c.Start();
  ASSERT_TRUE(c.Apply(Gateway()).status.ok());
  // Every node but the tainted ones (5, 10); the cordoned node 9 too, as upstream.
  const std::set<std::string> want = {"edge-1", "edge-2", "edge-3", "edge-4", "edge-6", "edge-7", "edge-8", "edge-9"};
  ASSERT_TRUE(c.RunUntil([&] { return Nodes(ByNode(c)) == want && AllRunning(c); }, std::chrono::seconds(30)))
      << ::testing::PrintToString(Nodes(ByNode(c)));
  for (const auto& [node, pods] : ByNode(c)) {
    ASSERT_EQ(pods.size(), 1u) << node;
    EXPECT_EQ(pods[0].name.rfind("gw-", 0), 0u);
    EXPECT_EQ(pods[0].labels.count("controller-revision-hash"), 1u);
  }
  // Tolerating the taint takes the accelerator nodes in; a nodeSelector narrows to a floor.
  ASSERT_TRUE(c.Apply(Gateway("      tolerations: [{key: edgebed.io/accelerator, operator: Exists}]\n")).status.ok());
  ASSERT_TRUE(c.RunUntil([&] { return ByNode(c).size() == 10u && AllRunning(c); }, std::chrono::seconds(60)));
  ASSERT_TRUE(c.Apply(Gateway("      nodeSelector: {edgebed.io/floor: floor-2}\n")).status.ok());
  ASSERT_TRUE(c.RunUntil([&] { return Nodes(ByNode(c)) == std::set<std::string>{"edge-2", "edge-7"} && AllRunning(c); },
                         std::chrono::seconds(60)))
      << ::testing::PrintToString(Nodes(ByNode(c)));
  // Deleting the DaemonSet deletes its pods.
  ASSERT_TRUE(c.Delete("DaemonSet", "building", "gw").ok());
  ASSERT_TRUE(c.RunUntil([&] { return ByNode(c).empty(); }, std::chrono::seconds(10)));
}

TEST_P(DaemonSetSeeds, ANodeThatJoinsGetsOneAndANodeThatGoesLosesIt) {
  Cluster c(GetParam(), Options());
  c.StartServer();
  for (NodeId i = 1; i <= 8; ++i) c.StartAgent(i);
  ASSERT_TRUE(c.RunUntil([&] { return c.JoinedCount() == 8; }, std::chrono::minutes(1)));
  ASSERT_TRUE(c.Apply(Gateway()).status.ok());
  ASSERT_TRUE(c.RunUntil([&] { return ByNode(c).size() == 7u && AllRunning(c); }, std::chrono::seconds(30)));
  c.StartAgent(9);
  ASSERT_TRUE(c.RunUntil([&] { return ByNode(c).count("edge-9") && AllRunning(c); }, std::chrono::seconds(30)));
  EXPECT_EQ(ByNode(c).size(), 8u);
  // The Node object goes (decommissioned): its daemon pod goes with it.
  ASSERT_TRUE(c.Delete("Node", "", "edge-3").ok());
  ASSERT_TRUE(c.RunUntil([&] { return !ByNode(c).count("edge-3"); }, std::chrono::seconds(10)));
  EXPECT_EQ(ByNode(c).size(), 7u);
}

TEST(DaemonSetTest, ADaemonStaysOnALostNodeWhileOtherPodsMoveAway) {
  Cluster c(3, Options());
  c.Start();
  const std::string web = R"(
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: building}
spec:
  replicas: 6
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: web:1, resources: {requests: {cpu: 100m}}}]}
)";
  ASSERT_TRUE(c.Apply(Gateway() + web).status.ok());
  ASSERT_TRUE(c.RunUntil([&] { return c.RunningCount() == 8 + 6; }, std::chrono::seconds(60)));
  std::string victim;
  for (const PodInfo& p : c.server().Pods())
    if (p.owner == "Deployment/web" && p.node != "edge-5" && p.node != "edge-10") victim = p.node;
  ASSERT_FALSE(victim.empty());
  const std::string daemon = ByNode(c).at(victim).at(0).name;
  c.CrashAgent(c.IdOf(victim));
  // Past grace and the default toleration: the Deployment's pods were evicted and run elsewhere ...
  ASSERT_TRUE(c.RunUntil(
      [&] {
        int web_running = 0;
        for (const PodInfo& p : c.server().Pods())
          if (p.owner == "Deployment/web" && p.phase == "Running" && p.node != victim) ++web_running;
        return web_running == 6;
      },
      std::chrono::minutes(8)));
  // ... the daemon stays bound to its node, tolerating the unreachable taint, and no second one appears.
  c.loop().RunFor(std::chrono::minutes(2));
  ASSERT_EQ(ByNode(c).at(victim).size(), 1u);
  EXPECT_EQ(ByNode(c).at(victim)[0].name, daemon);
  EXPECT_EQ(ByNode(c).size(), 8u);
  // The node comes back: its daemon runs again.
  c.RestartAgent(c.IdOf(victim));
  ASSERT_TRUE(c.RunUntil([&] { return AllRunning(c) && ByNode(c).size() == 8u; }, std::chrono::minutes(2)));
}

TEST_P(DaemonSetSeeds, ARollingUpdateReplacesNodeByNodeWithinMaxUnavailable) {
  Cluster c(GetParam(), Options());
  c.Start();
  ASSERT_TRUE(c.Apply(Gateway("", "gw:1", "  updateStrategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 2}}\n"))
                  .status.ok());
  ASSERT_TRUE(c.RunUntil([&] { return ByNode(c).size() == 8u && AllRunning(c); }, std::chrono::seconds(30)));
  std::set<std::string> first;
  for (const auto& [node, pods] : ByNode(c)) first.insert(pods[0].name);
  ASSERT_TRUE(c.Apply(Gateway("", "gw:2", "  updateStrategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 2}}\n"))
                  .status.ok());
  int worst = 0;
  const bool done = c.RunUntil(
      [&] {
        int without = 0;
        bool all_new = true;
        for (const char* node : {"edge-1", "edge-2", "edge-3", "edge-4", "edge-6", "edge-7", "edge-8", "edge-9"}) {
          auto by = ByNode(c);
          auto it = by.find(node);
          bool running = false;
          if (it != by.end())
            for (const PodInfo& p : it->second) {
              running |= p.phase == "Running";
              all_new &= !first.count(p.name);
            }
          else
            all_new = false;
          without += running ? 0 : 1;
        }
        worst = std::max(worst, without);
        return all_new && AllRunning(c);
      },
      std::chrono::minutes(2), std::chrono::milliseconds(20));
  ASSERT_TRUE(done);
  EXPECT_LE(worst, 2);
  EXPECT_GE(worst, 1);  // it did take some down: the update was not free
  for (const auto& [node, pods] : ByNode(c)) EXPECT_EQ(pods.size(), 1u) << node;
}

TEST(DaemonSetTest, OnDeleteReplacesOnlyWhatIsDeleted) {
  Cluster c(5, Options());
  c.Start();
  ASSERT_TRUE(c.Apply(Gateway("", "gw:1", "  updateStrategy: {type: OnDelete}\n")).status.ok());
  ASSERT_TRUE(c.RunUntil([&] { return ByNode(c).size() == 8u && AllRunning(c); }, std::chrono::seconds(30)));
  const auto before = ByNode(c);
  ASSERT_TRUE(c.Apply(Gateway("", "gw:2", "  updateStrategy: {type: OnDelete}\n")).status.ok());
  c.loop().RunFor(std::chrono::seconds(30));
  for (const auto& [node, pods] : ByNode(c)) EXPECT_EQ(pods.at(0).name, before.at(node).at(0).name) << node;
  ASSERT_TRUE(c.Delete("Pod", "building", before.at("edge-2").at(0).name).ok());
  ASSERT_TRUE(c.RunUntil([&] { return ByNode(c).count("edge-2") && AllRunning(c); }, std::chrono::seconds(30)));
  const auto after = ByNode(c);
  EXPECT_NE(after.at("edge-2").at(0).name, before.at("edge-2").at(0).name);
  EXPECT_NE(after.at("edge-2").at(0).labels.at("controller-revision-hash"),
            before.at("edge-2").at(0).labels.at("controller-revision-hash"));
  EXPECT_EQ(after.at("edge-1").at(0).name, before.at("edge-1").at(0).name);
}

}  // namespace
}  // namespace edgebed::cluster
