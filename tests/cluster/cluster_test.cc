// The cluster end to end on the deterministic test loop: a server and
// hundreds of agents, with the scheduler, storage and policy engines in the
// loop — deploy, lose a node, lose the server, change policy, restart.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <set>

#include "core/cluster/protocol.h"
#include "core/model/emit.h"
#include "tests/cluster/harness.h"

namespace edgebed::cluster {
namespace {

using testing::Cluster;
using testing::ClusterOptions;

// Per floor: a namespace, a gateway Deployment pinned to the floor's nodes, an
// inference Deployment anywhere, and policy isolating the floor; one broker
// with a replicated volume on floor 1.
std::string Manifests(int floors, int gateways_per_floor, int inference_per_floor, bool broker = true) {
  std::string y = R"(apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: px-repl3}
provisioner: pxd.portworx.com
parameters: {repl: "3", priority_io: high}
)";
  for (int f = 1; f <= floors; ++f) {
    const std::string floor = "floor-" + std::to_string(f);
    y += "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: " + floor + ", labels: {floor: \"" +
         std::to_string(f) + "\"}}\n";
    y += "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: gateway, namespace: " + floor +
         "}\nspec:\n  replicas: " + std::to_string(gateways_per_floor) +
         "\n  selector: {matchLabels: {app: gateway}}\n  template:\n    metadata: {labels: {app: gateway}}\n"
         "    spec:\n      nodeSelector: {edgebed.io/floor: " +
         floor +
         "}\n      containers:\n      - name: gw\n        image: gw:1\n        ports: [{name: mqtt, "
         "containerPort: 1883}]\n        resources: {requests: {cpu: 100m, memory: 64Mi}}\n";
    y += "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: inference, namespace: " + floor +
         "}\nspec:\n  replicas: " + std::to_string(inference_per_floor) +
         "\n  selector: {matchLabels: {app: inference}}\n  template:\n    metadata: {labels: {app: inference}}\n"
         "    spec:\n      containers:\n      - name: model\n        image: infer:1\n        resources: {requests: "
         "{cpu: 500m, memory: 512Mi}}\n";
    y += "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: same-floor, namespace: " +
         floor + "}\nspec:\n  podSelector: {}\n  ingress:\n  - from:\n    - podSelector: {}\n";
  }
  if (!broker) return y;
  y += R"(---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: broker-data, namespace: floor-1}
spec:
  storageClassName: px-repl3
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: broker, namespace: floor-1}
spec:
  replicas: 1
  selector: {matchLabels: {app: broker}}
  template:
    metadata: {labels: {app: broker}}
    spec:
      containers:
      - name: broker
        image: mosquitto:2
        resources: {requests: {cpu: 200m, memory: 128Mi}}
      volumes:
      - name: data
        persistentVolumeClaim: {claimName: broker-data}
)";
  return y;
}

// Whether `node` satisfies the pod's nodeSelector (what these manifests use).
bool Satisfies(Cluster& c, const PodInfo& pod) {
  if (pod.name.rfind("gateway-", 0) != 0) return true;
  model::Node node = testing::EdgeNode(static_cast<int>(c.IdOf(pod.node)), c.options().floors);
  return node.meta.labels.at("edgebed.io/floor") == pod.namespace_;
}

// The end-to-end cases run over several seeds each (ctest runs every seed
// as its own test); the fault sweep below runs many more.
class ClusterSeeds : public ::testing::TestWithParam<uint64_t> {};
INSTANTIATE_TEST_SUITE_P(Seeds, ClusterSeeds, ::testing::Range<uint64_t>(1, 7));

ClusterOptions Options(int nodes, int floors) {
  ClusterOptions o;
  o.nodes = nodes;
  o.floors = floors;
  return o;
}

TEST_P(ClusterSeeds, TwoHundredNodesRunEveryPodWhereItFits) {
  Cluster c(GetParam(), Options(200, 10));
  c.Start();
  ASSERT_EQ(c.JoinedCount(), 200);
  ApplyResult r = c.Apply(Manifests(10, 4, 6));
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  const int want = 10 * (4 + 6) + 1;
  ASSERT_TRUE(c.RunUntil([&] { return c.RunningCount() == want; }, std::chrono::minutes(2)))
      << c.RunningCount() << " of " << want << " running";
  for (const PodInfo& p : c.server().Pods()) {
    EXPECT_EQ(p.phase, "Running") << p.namespace_ << "/" << p.name;
    EXPECT_FALSE(p.ip.empty());
    EXPECT_TRUE(Satisfies(c, p)) << p.namespace_ << "/" << p.name << " on " << p.node;
    // The agent runs it.
    auto pods = c.agent(c.IdOf(p.node))->pods();
    EXPECT_TRUE(std::count(pods.begin(), pods.end(), p.namespace_ + "/" + p.name)) << p.name;
  }
  EXPECT_FALSE(c.loop().sink().SamplesNamed("cluster.pod_startup_s").empty());
  // The broker's volume exists with three replicas, attached where the broker
  // runs when that node holds one.
  const storage::VolumeRecord* v = c.server().volumes().Find("floor-1/broker-data");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->replicas.size(), 3u);
  for (const PodInfo& p : c.server().Pods()) {
    if (p.name.rfind("broker-", 0) == 0 &&
        std::count(v->replicas.begin(), v->replicas.end(), c.IdOf(p.node))) {
      EXPECT_EQ(v->primary, c.IdOf(p.node)) << "the broker runs on a replica node: the volume is attached there";
    }
  }
}

TEST(ClusterTest, WrongTokenAndReplayedJoinAreRefused) {
  Cluster c(2, Options(2, 1));
  c.Start();
  const uint64_t refused = c.server().stats().refused_joins;
  // An agent with the wrong secret on a third node.
  NodeId intruder = c.loop().AddNode();
  ModelRuntime runtime(c.loop().env(intruder));
  AgentOptions o;
  o.token = "wrong-secret";
  o.server = 0;
  o.node = testing::EdgeNode(99, 1);
  Agent agent(c.loop().env(intruder), o, runtime);
  ASSERT_TRUE(agent.Start().ok());
  c.loop().RunFor(std::chrono::seconds(10));
  EXPECT_FALSE(agent.joined());
  EXPECT_EQ(c.server().stats().refused_joins, refused);  // it never proved anything: the server's proof failed first
  EXPECT_GT(agent.stats().unauthenticated, 0u);

  // A Join replayed from the wire: record a real one, then send it again.
  Bytes recorded;
  NodeId spy = c.loop().AddNode();
  Nonce agent_nonce{};
  agent_nonce[0] = 7;
  ASSERT_TRUE(c.loop().env(spy).Listen(kAgentPort, [&](NodeId, ByteView m) {
    Envelope e;
    cluster::Challenge ch;
    if (!DecodeEnvelope(m, &e).ok() || !Decode(e, &ch).ok()) return;
    Key key = DeriveClusterKey("edge-secret");
    model::Node node = testing::EdgeNode(100, 1);
    std::string manifest = model::ToYaml(model::Object(node));
    Join join{node.meta.name, agent_nonce, ch.server_nonce, manifest,
              AgentProof(key, agent_nonce, ch.server_nonce, node.meta.name, manifest)};
    recorded = Encode(join);
    c.loop().env(spy).Send(0, kServerPort, recorded);
  }).ok());
  c.loop().env(spy).Send(0, kServerPort, Encode(Hello{"edge-100", agent_nonce, 1}));
  c.loop().RunFor(std::chrono::seconds(2));
  ASSERT_FALSE(recorded.empty());
  EXPECT_EQ(c.server().stats().joins, 3u);  // the genuine join of edge-100
  const uint64_t before = c.server().stats().refused_joins;
  c.loop().env(spy).Send(0, kServerPort, recorded);
  c.loop().RunFor(std::chrono::seconds(2));
  EXPECT_EQ(c.server().stats().refused_joins, before + 1);
  EXPECT_EQ(c.server().stats().joins, 3u);

  // An agent that skips checking the server and answers with the wrong secret.
  NodeId rogue = c.loop().AddNode();
  Nonce rogue_nonce{};
  rogue_nonce[0] = 9;
  std::string refusal;
  ASSERT_TRUE(c.loop().env(rogue).Listen(kAgentPort, [&](NodeId, ByteView m) {
    Envelope e;
    cluster::Challenge ch;
    cluster::Refuse refuse;
    if (DecodeEnvelope(m, &e).ok() && Decode(e, &refuse).ok()) refusal = refuse.reason;
    if (!DecodeEnvelope(m, &e).ok() || !Decode(e, &ch).ok()) return;
    Key wrong = DeriveClusterKey("guessed");
    model::Node node = testing::EdgeNode(101, 1);
    std::string manifest = model::ToYaml(model::Object(node));
    c.loop().env(rogue).Send(0, kServerPort, Encode(Join{node.meta.name, rogue_nonce, ch.server_nonce, manifest,
                                                          AgentProof(wrong, rogue_nonce, ch.server_nonce,
                                                                     node.meta.name, manifest)}));
  }).ok());
  c.loop().env(rogue).Send(0, kServerPort, Encode(Hello{"edge-101", rogue_nonce, 1}));
  c.loop().RunFor(std::chrono::seconds(2));
  EXPECT_EQ(c.server().stats().refused_joins, before + 2);
  EXPECT_NE(refusal.find("token"), std::string::npos) << refusal;
  EXPECT_EQ(c.server().stats().joins, 3u);
}

TEST(ClusterTest, GarbageFromTheWireIsCountedAndDropped) {
  Cluster c(3, Options(3, 1));
  c.Start();
  ASSERT_TRUE(c.Apply(Manifests(1, 2, 1, /*broker=*/false)).status.ok());
  ASSERT_TRUE(c.RunUntil([&] { return c.RunningCount() == 3; }, std::chrono::minutes(1)));
  NodeId junk = c.loop().AddNode();
  Random random(5);
  for (int i = 0; i < 2000; ++i) {
    Bytes m(random.Uniform(64));
    for (auto& b : m) b = static_cast<uint8_t>(random.Next());
    if (i % 2 == 0 && m.size() >= 5) {
      m[0] = 0x10, m[1] = 0xEC, m[2] = kClusterVersion;  // a plausible header
      m[3] = static_cast<uint8_t>(16 + random.Uniform(6));
      m[4] = 0;
    }
    c.loop().env(junk).Send(0, kServerPort, m);
    c.loop().env(junk).Send(1, kAgentPort, m);
  }
  c.loop().RunFor(std::chrono::seconds(30));
  EXPECT_GT(c.server().stats().bad_messages + c.server().stats().unauthenticated, 0u);
  EXPECT_GT(c.agent(1)->stats().bad_messages, 0u);
  EXPECT_EQ(c.RunningCount(), 3);
}

// A node is lost: after the grace period it is NotReady and tainted, its pods
// are evicted after their 300 s toleration and run elsewhere, and its volume
// fails over without losing an acknowledged write.
TEST_P(ClusterSeeds, NodeLossReschedulesAfterTolerationAndFailsVolumesOver) {
  Cluster c(GetParam(), Options(200, 10));
  c.Start();
  ASSERT_TRUE(c.Apply(Manifests(10, 3, 3)).status.ok());
  const int want = 10 * 6 + 1;
  ASSERT_TRUE(c.RunUntil([&] { return c.RunningCount() == want; }, std::chrono::minutes(2)));
  std::vector<PodInfo> pods = c.server().Pods();
  PodInfo b = *std::find_if(pods.begin(), pods.end(), [](const PodInfo& p) { return p.name.rfind("broker-", 0) == 0; });
  // The broker writes through its node's agent; remember what was acknowledged.
  std::map<uint32_t, uint8_t> acked;
  NodeId broker_node = c.IdOf(b.node);
  ASSERT_TRUE(c.RunUntil([&] { return c.agent(broker_node)->storage().Serving("floor-1/broker-data") ||
                                      c.server().volumes().Find("floor-1/broker-data") != nullptr; },
                         std::chrono::seconds(30)));
  for (uint32_t block = 0; block < 32; ++block) {
    Bytes data(4096, static_cast<uint8_t>(block + 1));
    c.agent(broker_node)->Write("floor-1/broker-data", block, data, [&, block](Status s) {
      if (s.ok()) acked[block] = static_cast<uint8_t>(block + 1);
    });
  }
  ASSERT_TRUE(c.RunUntil([&] { return acked.size() == 32; }, std::chrono::seconds(60)));

  // Lose the node that runs the most pods (and the volume's primary with it, if it is one).
  const storage::VolumeRecord* v = c.server().volumes().Find("floor-1/broker-data");
  ASSERT_NE(v, nullptr);
  NodeId victim = v->primary;
  std::set<std::string> on_victim;
  for (const PodInfo& p : c.server().Pods())
    if (c.IdOf(p.node) == victim) on_victim.insert(p.namespace_ + "/" + p.name);
  ASSERT_FALSE(on_victim.empty());
  const Time lost_at = c.loop().now();
  c.CrashAgent(victim);

  // Not evicted before grace + toleration.
  c.loop().RunFor(std::chrono::seconds(200));
  bool notready = false;
  for (const NodeInfo& n : c.server().Nodes())
    if (n.name == "edge-" + std::to_string(victim)) notready = !n.ready && n.unreachable_taint;
  EXPECT_TRUE(notready);
  for (const std::string& key : on_victim) {
    size_t slash = key.find('/');
    EXPECT_TRUE(c.server().FindPod(key.substr(0, slash), key.substr(slash + 1)).has_value()) << key;
  }
  // Then every workload is back in full, elsewhere.
  ASSERT_TRUE(c.RunUntil(
      [&] {
        if (c.RunningCount() != want) return false;
        for (const PodInfo& p : c.server().Pods())
          if (c.IdOf(p.node) == victim) return false;
        return true;
      },
      std::chrono::minutes(6)))
      << c.RunningCount();
  EXPECT_GE(c.loop().now() - lost_at, std::chrono::seconds(300));
  EXPECT_FALSE(c.loop().sink().SamplesNamed("cluster.node_loss_recovery_s").empty());

  // The volume failed over; every acknowledged block reads back from the new primary.
  v = c.server().volumes().Find("floor-1/broker-data");
  ASSERT_NE(v->primary, victim);
  pods = c.server().Pods();
  b = *std::find_if(pods.begin(), pods.end(), [](const PodInfo& p) { return p.name.rfind("broker-", 0) == 0; });
  NodeId reader = c.IdOf(b.node);
  std::map<uint32_t, Bytes> read;
  for (const auto& entry : acked) {
    const uint32_t block = entry.first;  // clang: no structured binding in a capture (C++17)
    c.agent(reader)->Read("floor-1/broker-data", block, [&read, block](StatusOr<Bytes> r) {
      if (r.ok()) read[block] = *r;
    });
  }
  ASSERT_TRUE(c.RunUntil([&] { return read.size() == acked.size(); }, std::chrono::seconds(60)));
  for (const auto& [block, value] : acked) EXPECT_EQ(read[block], Bytes(4096, value)) << "block " << block;
}

TEST_P(ClusterSeeds, PolicyChangeReachesExactlyTheAffectedNodes) {
  Cluster c(GetParam(), Options(200, 10));
  c.Start();
  ASSERT_TRUE(c.Apply(Manifests(10, 2, 0)).status.ok());
  ASSERT_TRUE(c.RunUntil([&] { return c.RunningCount() == 10 * 2 + 1; }, std::chrono::minutes(1)));
  c.loop().RunFor(std::chrono::seconds(5));
  std::map<NodeId, uint64_t> before;
  std::set<NodeId> floor2;
  for (int i = 1; i <= 200; ++i) before[static_cast<NodeId>(i)] = c.agent(static_cast<NodeId>(i))->stats().view_changes;
  for (const PodInfo& p : c.server().Pods())
    if (p.namespace_ == "floor-2") floor2.insert(c.IdOf(p.node));
  ASSERT_FALSE(floor2.empty());
  ApplyResult r = c.Apply(R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: same-floor, namespace: floor-2}
spec:
  podSelector: {}
  ingress:
  - from:
    - podSelector: {matchLabels: {app: gateway}}
    ports: [{port: mqtt}]
)");
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  c.loop().RunFor(std::chrono::seconds(5));
  for (int i = 1; i <= 200; ++i) {
    NodeId id = static_cast<NodeId>(i);
    uint64_t delta = c.agent(id)->stats().view_changes - before[id];
    if (floor2.count(id))
      EXPECT_GT(delta, 0u) << "node " << i << " runs floor-2 pods";
    else
      EXPECT_EQ(delta, 0u) << "node " << i << " runs no floor-2 pod";
  }
  // And the floor-2 dataplanes enforce it: gateway to gateway on mqtt is allowed, anything else denied.
  std::vector<PodInfo> gw;
  for (const PodInfo& p : c.server().Pods())
    if (p.namespace_ == "floor-2" && p.name.rfind("gateway-", 0) == 0) gw.push_back(p);
  ASSERT_EQ(gw.size(), 2u);
  policy::Dataplane* dp = c.agent(c.IdOf(gw[1].node))->dataplane();
  ASSERT_NE(dp, nullptr);
  policy::Packet ok{*ParseIpv4(gw[0].ip), *ParseIpv4(gw[1].ip), policy::kTcp, 40000, 1883};
  policy::Packet other{*ParseIpv4(gw[0].ip), *ParseIpv4(gw[1].ip), policy::kTcp, 40001, 22};
  EXPECT_TRUE(dp->Process(ok, c.loop().now()).allowed);
  EXPECT_FALSE(dp->Process(other, c.loop().now()).allowed);
}

TEST_P(ClusterSeeds, ServerPartitionedAwayAndBack) {
  Cluster c(GetParam(), Options(200, 10));
  c.Start();
  ASSERT_TRUE(c.Apply(Manifests(10, 2, 2)).status.ok());
  const int want = 10 * 4 + 1;
  ASSERT_TRUE(c.RunUntil([&] { return c.RunningCount() == want; }, std::chrono::minutes(1)));
  std::map<NodeId, std::vector<std::string>> running;
  for (int i = 1; i <= 200; ++i) running[static_cast<NodeId>(i)] = c.runtime(static_cast<NodeId>(i))->running();
  std::vector<PodInfo> pods = c.server().Pods();
  PodInfo b = *std::find_if(pods.begin(), pods.end(), [](const PodInfo& p) { return p.name.rfind("broker-", 0) == 0; });
  Agent* broker = c.agent(c.IdOf(b.node));
  c.plan().Isolate(0);
  c.loop().RunFor(std::chrono::minutes(1));
  // Volume I/O goes on without the control plane (run-flat).
  std::map<uint32_t, Status> written;
  for (uint32_t block = 0; block < 16; ++block)
    broker->Write("floor-1/broker-data", block, Bytes(4096, static_cast<uint8_t>(block + 7)),
                  [&, block](Status s) { written[block] = s; });
  ASSERT_TRUE(c.RunUntil([&] { return written.size() == 16; }, std::chrono::seconds(30)));
  for (const auto& [block, s] : written) EXPECT_TRUE(s.ok()) << "block " << block << ": " << s.ToString();
  std::map<uint32_t, Bytes> read;
  for (uint32_t block = 0; block < 16; ++block)
    broker->Read("floor-1/broker-data", block, [&, block](StatusOr<Bytes> r) { read[block] = r.ok() ? *r : Bytes(); });
  ASSERT_TRUE(c.RunUntil([&] { return read.size() == 16; }, std::chrono::seconds(30)));
  for (uint32_t block = 0; block < 16; ++block)
    EXPECT_EQ(read[block], Bytes(4096, static_cast<uint8_t>(block + 7))) << "block " << block;
  c.loop().RunFor(std::chrono::minutes(2));
  // Agents ran on as they were.
  for (int i = 1; i <= 200; ++i) {
    EXPECT_EQ(c.runtime(static_cast<NodeId>(i))->running(), running[static_cast<NodeId>(i)]) << "node " << i;
    EXPECT_FALSE(c.agent(static_cast<NodeId>(i))->server_reachable());
  }
  c.plan().Heal();
  ASSERT_TRUE(c.RunUntil(
      [&] {
        for (const NodeInfo& n : c.server().Nodes())
          if (!n.ready) return false;
        return c.RunningCount() == want;
      },
      std::chrono::minutes(2)));
  for (int i = 1; i <= 200; ++i) EXPECT_TRUE(c.agent(static_cast<NodeId>(i))->server_reachable());
}

TEST_P(ClusterSeeds, ServerRestartLosesNothing) {
  Cluster c(GetParam(), Options(200, 10));
  c.Start();
  ASSERT_TRUE(c.Apply(Manifests(10, 2, 2)).status.ok());
  const int want = 10 * 4 + 1;
  ASSERT_TRUE(c.RunUntil([&] { return c.RunningCount() == want; }, std::chrono::minutes(1)));
  std::map<std::string, std::string> placed;
  for (const PodInfo& p : c.server().Pods()) placed[p.namespace_ + "/" + p.name] = p.node + " " + p.ip;
  const size_t objects = c.server().List("Deployment").size();
  c.CrashServer();
  c.loop().RunFor(std::chrono::seconds(20));
  c.RestartServer();
  ASSERT_TRUE(c.RunUntil([&] { return c.RunningCount() == want; }, std::chrono::minutes(2)));
  std::map<std::string, std::string> after;
  for (const PodInfo& p : c.server().Pods()) after[p.namespace_ + "/" + p.name] = p.node + " " + p.ip;
  EXPECT_EQ(after, placed);
  EXPECT_EQ(c.server().List("Deployment").size(), objects);
  EXPECT_NE(c.server().volumes().Find("floor-1/broker-data"), nullptr);
}

// A changed template rolls the pods over within maxSurge / maxUnavailable.
TEST_P(ClusterSeeds, RollingUpdateStaysWithinSurgeAndUnavailability) {
  Cluster c(GetParam(), Options(10, 1));
  c.Start();
  auto deployment = [](const std::string& image) {
    return "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: default}\nspec:\n"
           "  replicas: 6\n  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 2, maxUnavailable: 1}}\n"
           "  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n"
           "    spec:\n      containers: [{name: web, image: \"" + image + "\"}]\n";
  };
  ASSERT_TRUE(c.Apply(deployment("web:1")).status.ok());
  ASSERT_TRUE(c.RunUntil([&] { return c.RunningCount() == 6; }, std::chrono::minutes(1)));
  std::set<std::string> old_names;
  for (const PodInfo& p : c.server().Pods()) old_names.insert(p.name);
  ASSERT_TRUE(c.Apply(deployment("web:2")).status.ok());
  int max_total = 0, min_running = 6;
  bool done = c.RunUntil(
      [&] {
        std::vector<PodInfo> pods = c.server().Pods();
        int running = 0, fresh_running = 0;
        for (const PodInfo& p : pods) {
          running += p.phase == "Running";
          fresh_running += p.phase == "Running" && !old_names.count(p.name);
        }
        max_total = std::max<int>(max_total, static_cast<int>(pods.size()));
        min_running = std::min(min_running, running);
        return fresh_running == 6 && pods.size() == 6u;
      },
      std::chrono::minutes(2), std::chrono::milliseconds(10));
  ASSERT_TRUE(done);
  EXPECT_LE(max_total, 6 + 2);
  EXPECT_GE(min_running, 6 - 1);
  for (const PodInfo& p : c.server().Pods()) EXPECT_FALSE(old_names.count(p.name)) << p.name;
  EXPECT_FALSE(c.loop().sink().SamplesNamed("cluster.apply_to_running_s").empty());
}

// Watches see every durable change in revision order, from any revision.
TEST(ClusterTest, WatchSeesChangesInOrderAndGetListDeleteWork) {
  Cluster c(9, Options(4, 1));
  c.Start();
  const Revision start = c.server().revision();
  std::vector<WatchEvent> events;
  auto id = c.server().Watch("o/Namespace/", start, [&](const WatchEvent& e) { events.push_back(e); });
  ASSERT_TRUE(id.ok());
  ApplyResult r1 = c.Apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n");
  ApplyResult r2 = c.Apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: b, labels: {zone: east}}\n");
  ASSERT_TRUE(r1.status.ok() && r2.status.ok());
  ASSERT_TRUE(c.Delete("Namespace", "", "a").ok());
  c.loop().RunFor(std::chrono::seconds(1));
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].key, "o/Namespace/a");
  EXPECT_EQ(events[1].key, "o/Namespace/b");
  EXPECT_TRUE(events[2].deleted);
  EXPECT_LT(events[0].revision, events[1].revision);
  EXPECT_LT(events[1].revision, events[2].revision);
  // A second watch from the start replays the same.
  std::vector<WatchEvent> replay;
  ASSERT_TRUE(c.server().Watch("o/Namespace/", start, [&](const WatchEvent& e) { replay.push_back(e); }).ok());
  c.loop().RunFor(std::chrono::seconds(1));
  ASSERT_EQ(replay.size(), 3u);
  EXPECT_EQ(replay[2].revision, events[2].revision);
  // Get and List.
  auto b = c.server().Get("Namespace", "", "b");
  ASSERT_TRUE(b.has_value());
  EXPECT_NE(b->manifest.find("zone: east"), std::string::npos) << b->manifest;
  EXPECT_EQ(b->resource_version, events[1].revision);
  EXPECT_FALSE(c.server().Get("Namespace", "", "a").has_value());
  EXPECT_EQ(c.Delete("Namespace", "", "a").code(), StatusCode::kNotFound);
  // Unchanged re-apply changes nothing.
  ApplyResult again = c.Apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: b, labels: {zone: east}}\n");
  ASSERT_EQ(again.applied.size(), 1u);
  EXPECT_NE(again.applied[0].find("unchanged"), std::string::npos);
}

TEST(ClusterTest, AWatchFromCompactedHistoryIsRefused) {
  ClusterOptions o = Options(1, 1);
  o.server.datastore.keep_revisions = 4;
  Cluster c(13, o);
  c.Start();
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(c.Apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: ns" + std::to_string(i) + "}\n").status.ok());
  auto old = c.server().Watch("o/", 1, [](const WatchEvent&) {});
  ASSERT_FALSE(old.ok());
  EXPECT_EQ(old.status().code(), StatusCode::kOutOfRange);
  EXPECT_NE(old.status().message().find("list again"), std::string::npos);
  std::vector<WatchEvent> recent;
  ASSERT_TRUE(c.server().Watch("o/Namespace/", c.server().revision() - 1, [&](const WatchEvent& e) { recent.push_back(e); }).ok());
  c.loop().RunFor(std::chrono::seconds(1));
  EXPECT_EQ(recent.size(), 1u);
}

TEST(ClusterTest, BadManifestsAreRefusedAndTheRestApplied) {
  Cluster c(10, Options(2, 1));
  c.Start();
  ApplyResult r = c.Apply(R"(apiVersion: v1
kind: Namespace
metadata: {name: good}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: bad, namespace: good}
spec:
  replicas: "many"
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: p, namespace: good}
spec:
  tier: nonexistent
  selector: all()
  ingress: [{action: Allow}]
)");
  EXPECT_FALSE(r.status.ok());
  EXPECT_GE(r.errors.size(), 2u);
  ASSERT_EQ(r.applied.size(), 1u);
  EXPECT_TRUE(c.server().Get("Namespace", "", "good").has_value());
  EXPECT_FALSE(c.server().Get("CalicoNetworkPolicy", "good", "p").has_value());
  // A deleted Deployment takes its pods with it.
  ASSERT_TRUE(c.Apply(Manifests(1, 2, 0, false)).status.ok());
  ASSERT_TRUE(c.RunUntil([&] { return c.RunningCount() == 2; }, std::chrono::minutes(1)));
  ASSERT_TRUE(c.Delete("Deployment", "floor-1", "gateway").ok());
  c.loop().RunFor(std::chrono::seconds(5));
  EXPECT_TRUE(c.server().Pods().empty());
  EXPECT_TRUE(c.agent(1)->pods().empty());
}

// Over many seeds of random faults — agents crashing and coming back, the
// server partitioned away or restarted, messages lost and duplicated — the
// cluster converges once the faults stop: every pod Running on a node that
// satisfies it, run by exactly that node's agent and by no other, every
// acknowledged volume write still there.
TEST(ClusterTest, ConvergesAfterRandomFaultsOverManySeeds) {
  // EDGEBED_CLUSTER_SEEDS=N sweeps more.
  const uint64_t seeds = std::getenv("EDGEBED_CLUSTER_SEEDS") ? std::strtoull(std::getenv("EDGEBED_CLUSTER_SEEDS"), nullptr, 10) : 16;
  for (uint64_t seed = 1; seed <= seeds; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Cluster c(seed * 7919, Options(15, 3));
    c.Start();
    ASSERT_TRUE(c.Apply(Manifests(3, 2, 2)).status.ok());
    const int want = 3 * 4 + 1;
    ASSERT_TRUE(c.RunUntil([&] { return c.RunningCount() == want; }, std::chrono::minutes(2)));
    Random r(seed);
    c.plan().set_drop_rate(0.02);
    c.plan().set_duplicate_rate(0.02);
    std::map<uint32_t, uint8_t> acked;
    std::set<NodeId> down;
    for (int round = 0; round < 12; ++round) {
      switch (r.Uniform(6)) {
        case 0: {
          NodeId n = static_cast<NodeId>(1 + r.Uniform(15));
          if (!down.count(n) && down.size() < 2) {
            c.CrashAgent(n);
            down.insert(n);
          }
          break;
        }
        case 1:
          if (!down.empty()) {
            NodeId n = *down.begin();
            c.RestartAgent(n);
            down.erase(n);
          }
          break;
        case 2:
          c.plan().Isolate(0);
          break;
        case 3:
          c.plan().Heal();
          break;
        case 4:
          if (r.Chance(0.3)) {
            c.CrashServer();
            c.loop().RunFor(std::chrono::seconds(5));
            c.RestartServer();
          }
          break;
        default: {
          // The broker writes through whichever agent runs it.
          for (const PodInfo& p : c.server().Pods()) {
            if (p.name.rfind("broker-", 0) != 0 || p.node.empty()) continue;
            Agent* a = c.agent(c.IdOf(p.node));
            if (!a) continue;
            uint32_t block = static_cast<uint32_t>(round);  // one write per block: acks cannot race
            uint8_t value = static_cast<uint8_t>(1 + r.Uniform(250));
            a->Write("floor-1/broker-data", block, Bytes(4096, value), [&acked, block, value](Status s) {
              if (s.ok()) acked[block] = value;
            });
          }
          break;
        }
      }
      c.loop().RunFor(std::chrono::seconds(5 + r.Uniform(60)));
    }
    // The faults stop.
    c.plan().Heal();
    c.plan().set_drop_rate(0);
    c.plan().set_duplicate_rate(0);
    for (NodeId n : down) c.RestartAgent(n);
    ASSERT_TRUE(c.RunUntil(
        [&] {
          if (c.RunningCount() != want || c.JoinedCount() != 15) return false;
          for (const NodeInfo& n : c.server().Nodes())
            if (!n.ready) return false;
          return true;
        },
        std::chrono::minutes(10)))
        << c.RunningCount() << " running, " << c.JoinedCount() << " joined";
    c.loop().RunFor(std::chrono::seconds(5));
    std::map<NodeId, std::set<std::string>> expected;
    for (const PodInfo& p : c.server().Pods()) {
      EXPECT_TRUE(Satisfies(c, p)) << p.name << " on " << p.node;
      expected[c.IdOf(p.node)].insert(p.namespace_ + "/" + p.name);
    }
    for (int i = 1; i <= 15; ++i) {
      NodeId id = static_cast<NodeId>(i);
      std::vector<std::string> running = c.runtime(id)->running();
      EXPECT_EQ(std::set<std::string>(running.begin(), running.end()), expected[id]) << "node " << i;
    }
    // Every acknowledged write reads back (the last acknowledged value of its block).
    PodInfo b;
    for (const PodInfo& p : c.server().Pods())
      if (p.name.rfind("broker-", 0) == 0) b = p;
    std::map<uint32_t, Bytes> read;
    for (const auto& entry : acked) {
      const uint32_t block = entry.first;
      c.agent(c.IdOf(b.node))->Read("floor-1/broker-data", block, [&read, block](StatusOr<Bytes> v) {
        read[block] = v.ok() ? *v : Bytes();
      });
    }
    ASSERT_TRUE(c.RunUntil([&] { return read.size() == acked.size(); }, std::chrono::minutes(1)));
    for (const auto& [block, value] : acked) EXPECT_EQ(read[block], Bytes(4096, value)) << "block " << block;
  }
}

// A node whose pod range is used up takes no more pods, and the ones left
// over wait with a reason instead of spinning.
TEST(ClusterTest, PodAddressesRunOutCleanly) {
  ClusterOptions o = Options(3, 1);
  o.server.cluster_cidr = "10.42.0.0/28";
  o.server.node_cidr_prefix = 30;  // one usable pod address per node
  Cluster c(12, o);
  c.Start();
  ASSERT_TRUE(c.Apply(Manifests(1, 0, 5, false)).status.ok());
  c.loop().RunFor(std::chrono::seconds(30));
  EXPECT_EQ(c.RunningCount(), 3);
  int waiting = 0;
  for (const PodInfo& p : c.server().Pods())
    if (p.node.empty()) {
      ++waiting;
      EXPECT_NE(p.reason.find("no pod address"), std::string::npos) << p.reason;
    }
  EXPECT_EQ(waiting, 2);
  EXPECT_LT(c.loop().sink().EventsOfKind("cluster.no_pod_address").size(), 40u);
  // A fourth node joins the /28's last range... there is none: refused with a reason.
  std::set<std::string> ips;
  for (const PodInfo& p : c.server().Pods()) {
    if (!p.ip.empty()) {
      EXPECT_TRUE(ips.insert(p.ip).second) << p.ip;
    }
  }
}

// The same seed gives the same run, event for event.
TEST(ClusterTest, ReplaysExactlyFromASeed) {
  auto run = [](uint64_t seed) {
    Cluster c(seed, Options(16, 4));
    c.Start();
    (void)c.Apply(Manifests(4, 2, 2));
    c.loop().RunFor(std::chrono::seconds(30));
    c.CrashAgent(3);
    c.loop().RunFor(std::chrono::minutes(6));
    return c.loop().trace_digest();
  };
  EXPECT_EQ(run(11), run(11));
  EXPECT_NE(run(11), run(12));
}

}  // namespace
}  // namespace edgebed::cluster
