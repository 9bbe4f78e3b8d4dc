// The pods' packet path on the deterministic test loop: three nodes, each
// with its own PodNetwork and a dataplane that judges only its own pods, as
// every agent's does. Connections open, carry messages in order and answer
// back on conntrack's reply path; what policy denies is dropped at the end
// that judged it, counted there and reported, and the sender only sees its
// SYNs go unanswered until the connection fails; nobody listening is a
// reset; frames off the wire that are not ours are counted and dropped.
#include "sim/pod_network.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/env/test_loop.h"
#include "core/model/loader.h"
#include "core/policy/classifier.h"
#include "core/policy/policy_set.h"

namespace edgebed::sim {
namespace {

using namespace std::chrono_literals;

// Two floors and a services namespace, one node each (pod CIDRs
// 10.42.{0,1,2}.0/24). Floor a is locked down both ways but may reach
// services; floor b has no policy at all. The broker takes MQTT from any
// floor and UDP statsd from floor a only; the vault takes nothing from
// anyone; idle has no policy (everything reaches it) and listens on nothing.
constexpr const char* kWorld = R"(
apiVersion: v1
kind: Namespace
metadata: {name: floor-a, labels: {floor: a}}
---
apiVersion: v1
kind: Namespace
metadata: {name: floor-b, labels: {floor: b}}
---
apiVersion: v1
kind: Namespace
metadata: {name: services}
---
apiVersion: v1
kind: Pod
metadata: {name: sensor, namespace: floor-a, labels: {app: sensor}}
spec: {containers: [{name: s, image: s}]}
status: {podIP: 10.42.0.10}
---
apiVersion: v1
kind: Pod
metadata: {name: sensor, namespace: floor-b, labels: {app: sensor}}
spec: {containers: [{name: s, image: s}]}
status: {podIP: 10.42.1.10}
---
apiVersion: v1
kind: Pod
metadata: {name: broker, namespace: services, labels: {app: broker}}
spec:
  containers:
  - name: b
    image: b
    ports: [{name: mqtt, containerPort: 1883}, {name: statsd, containerPort: 8125, protocol: UDP}]
status: {podIP: 10.42.2.10}
---
apiVersion: v1
kind: Pod
metadata: {name: vault, namespace: services, labels: {app: vault}}
spec: {containers: [{name: v, image: v, ports: [{containerPort: 443}]}]}
status: {podIP: 10.42.2.11}
---
apiVersion: v1
kind: Pod
metadata: {name: idle, namespace: services, labels: {app: idle}}
spec: {containers: [{name: i, image: i}]}
status: {podIP: 10.42.2.12}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: floor-a}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: to-services, namespace: floor-a}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: services}}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: broker-ingress, namespace: services}
spec:
  podSelector: {matchLabels: {app: broker}}
  policyTypes: [Ingress]
  ingress:
  - from: [{namespaceSelector: {matchExpressions: [{key: floor, operator: Exists}]}}]
    ports: [{protocol: TCP, port: mqtt}]
  - from: [{namespaceSelector: {matchLabels: {floor: a}}}]
    ports: [{protocol: UDP, port: statsd}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: vault-closed, namespace: services}
spec:
  podSelector: {matchLabels: {app: vault}}
  policyTypes: [Ingress]
)";

constexpr uint32_t kSensorA = 0x0a2a000a;  // 10.42.0.10, node 0
constexpr uint32_t kSensorB = 0x0a2a010a;  // 10.42.1.10, node 1
constexpr uint32_t kBroker = 0x0a2a020a;   // 10.42.2.10, node 2
constexpr uint32_t kVault = 0x0a2a020b;    // 10.42.2.11, node 2
constexpr uint32_t kIdle = 0x0a2a020c;     // 10.42.2.12, node 2
constexpr uint16_t kClientPort = 40000;

// Routes by /24, as each node's pod CIDR spreads them.
class CidrRouter final : public PodRouter {
 public:
  NodeId NodeOf(uint32_t pod_ip) override {
    auto it = nodes_.find(pod_ip >> 8);
    return it == nodes_.end() ? kNoNode : it->second;
  }
  void Add(uint32_t cidr_base, NodeId node) { nodes_[cidr_base >> 8] = node; }

 private:
  std::map<uint32_t, NodeId> nodes_;
};

struct Denial {
  Time time;
  NodeId node;
  policy::Packet packet;
  bool at_egress;
  policy::Verdict verdict;
};

Bytes Text(const std::string& s) { return Bytes(s.begin(), s.end()); }
std::string Text(ByteView b) { return std::string(b.begin(), b.end()); }

class PodNetworkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model::LoadResult loaded = model::LoadManifests(kWorld, "pod_network_test.yaml");
    ASSERT_TRUE(loaded.ok()) << loaded.errors[0].ToString();
    StatusOr<policy::PolicyWorld> world = policy::PolicyWorldFromObjects(loaded.objects);
    ASSERT_TRUE(world.ok()) << world.status().ToString();
    world_ = *std::move(world);
    classifier_ = std::make_unique<policy::Classifier>(world_.tiers, world_.inventory);

    const std::vector<std::vector<std::string>> local = {
        {"floor-a/sensor"}, {"floor-b/sensor"}, {"services/broker", "services/vault", "services/idle"}};
    for (NodeId id = 0; id < local.size(); ++id) {
      ASSERT_EQ(loop_.AddNode(), id);
      router_.Add(0x0a2a0000 | id << 8, id);
      policy::Dataplane::Options options;
      options.local_endpoints = local[id];
      dataplanes_.push_back(std::make_unique<policy::Dataplane>(classifier_.get(), &world_.inventory, options));
      policy::Dataplane* dp = dataplanes_.back().get();
      nets_.push_back(std::make_unique<PodNetwork>(loop_.env(id), router_, [dp] { return dp; }));
      nets_.back()->set_deny_observer(
          [this, id](const policy::Packet& p, bool at_egress, const policy::Verdict& v) {
            denials_.push_back(Denial{loop_.now(), id, p, at_egress, v});
          });
    }
  }

  PodNetwork& net(NodeId id) { return *nets_[id]; }
  const PodNetworkStats& stats(NodeId id) { return nets_[id]->stats(); }

  // Listens on (ip, port) and keeps what arrives, as text.
  std::vector<std::string>& Collect(NodeId node, uint32_t ip, uint16_t port, uint8_t protocol = policy::kTcp) {
    std::vector<std::string>& got = received_[{ip, port}];
    net(node).Bind(ip, port, protocol, [&got](const PodNetwork::Message& m) { got.push_back(Text(m.payload)); });
    return got;
  }

  const std::vector<std::string>& Got(uint32_t ip, uint16_t port) { return received_[{ip, port}]; }

  // Records when each failure of (ip, port)'s connections was heard.
  std::vector<Time>& Failures(NodeId node, uint32_t ip, uint16_t port) {
    std::vector<Time>& when = failures_[{ip, port}];
    net(node).OnFailure(ip, port, [this, &when](uint32_t, uint16_t) { when.push_back(loop_.now()); });
    return when;
  }

  TestLoop loop_{/*seed=*/7};
  CidrRouter router_;
  policy::PolicyWorld world_;
  std::unique_ptr<policy::Classifier> classifier_;
  std::vector<std::unique_ptr<policy::Dataplane>> dataplanes_;
  std::vector<std::unique_ptr<PodNetwork>> nets_;
  std::vector<Denial> denials_;
  std::map<std::pair<uint32_t, uint16_t>, std::vector<std::string>> received_;
  std::map<std::pair<uint32_t, uint16_t>, std::vector<Time>> failures_;
};

TEST_F(PodNetworkTest, AnAllowedConnectionOpensOnceAndDeliversInOrder) {
  std::vector<std::string>& got = Collect(2, kBroker, 1883);
  // The first messages wait for the handshake, the later ones ride on it.
  for (int i = 0; i < 5; ++i) net(0).Send(kSensorA, kClientPort, kBroker, 1883, policy::kTcp, Text("m" + std::to_string(i)));
  loop_.RunFor(100ms);
  for (int i = 5; i < 10; ++i) net(0).Send(kSensorA, kClientPort, kBroker, 1883, policy::kTcp, Text("m" + std::to_string(i)));
  loop_.RunFor(100ms);

  ASSERT_EQ(got.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(got[i], "m" + std::to_string(i));
  // One flow, judged once at each end; everything after took the fast path.
  EXPECT_EQ(stats(0).flows_allowed, 1u);
  EXPECT_EQ(stats(2).flows_allowed, 1u);
  EXPECT_EQ(stats(0).flows_denied + stats(2).flows_denied, 0u);
  EXPECT_EQ(stats(2).delivered, 10u);
  EXPECT_EQ(stats(0).sent, 11u);  // a SYN and ten data segments
  EXPECT_EQ(stats(2).sent, 1u);   // the SYN-ACK
  EXPECT_EQ(dataplanes_[0]->StateOf(policy::Packet{kSensorA, kBroker, policy::kTcp, kClientPort, 1883}),
            policy::TcpState::kEstablished);
  EXPECT_EQ(dataplanes_[2]->StateOf(policy::Packet{kSensorA, kBroker, policy::kTcp, kClientPort, 1883}),
            policy::TcpState::kEstablished);
  EXPECT_TRUE(denials_.empty());
  EXPECT_EQ(stats(0).connect_failures + stats(0).resets, 0u);
}

TEST_F(PodNetworkTest, AFlowDeniedAtEgressNeverLeavesAndTheSenderGivesUpAfterItsRetries) {
  std::vector<std::string>& got = Collect(1, kSensorB, 1883);
  std::vector<Time>& failed = Failures(0, kSensorA, kClientPort);
  // Floor a may only reach services.
  net(0).Send(kSensorA, kClientPort, kSensorB, 1883, policy::kTcp, Text("hello"));
  net(0).Send(kSensorA, kClientPort, kSensorB, 1883, policy::kTcp, Text("again"));  // waits on the same SYN
  loop_.RunFor(30s);

  EXPECT_TRUE(got.empty());
  EXPECT_EQ(stats(1).sent + stats(1).delivered + stats(1).flows_allowed + stats(1).flows_denied, 0u)
      << "nothing reached floor b's node";
  // SYNs at 0, 1, 3 and 7 s (waits of 1, 2, 4 s), each judged and dropped;
  // after the last one's wait of 8 s the connection fails.
  ASSERT_EQ(denials_.size(), 4u);
  const Duration expected_at[] = {0s, 1s, 3s, 7s};
  for (size_t i = 0; i < denials_.size(); ++i) {
    const Denial& d = denials_[i];
    EXPECT_EQ(d.time.time_since_epoch(), expected_at[i]) << i;
    EXPECT_EQ(d.node, 0u);
    EXPECT_TRUE(d.at_egress);
    EXPECT_EQ(d.packet.src, kSensorA);
    EXPECT_EQ(d.packet.dst, kSensorB);
    EXPECT_EQ(d.packet.dst_port, 1883);
    EXPECT_EQ(d.packet.tcp_flags, policy::kSyn);
    EXPECT_FALSE(d.verdict.allowed);
    EXPECT_FALSE(d.verdict.egress.allowed);
  }
  EXPECT_EQ(stats(0).flows_denied, 4u);
  EXPECT_EQ(stats(0).denied_packets, 4u);
  EXPECT_EQ(stats(0).flows_allowed, 0u);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].time_since_epoch(), 15s);
  EXPECT_EQ(stats(0).connect_failures, 1u);
  EXPECT_EQ(stats(0).resets, 0u);

  // The next message opens a new connection, which is judged again.
  net(0).Send(kSensorA, kClientPort, kSensorB, 1883, policy::kTcp, Text("later"));
  loop_.RunFor(500ms);
  EXPECT_EQ(denials_.size(), 5u);
  EXPECT_TRUE(got.empty());
}

TEST_F(PodNetworkTest, AFlowDeniedAtIngressIsDroppedByTheDestinationsNode) {
  Collect(2, kVault, 443);
  std::vector<Time>& failed = Failures(0, kSensorA, kClientPort);
  // Floor a's egress lets it go to services; the vault takes nothing.
  net(0).Send(kSensorA, kClientPort, kVault, 443, policy::kTcp, Text("open up"));
  loop_.RunFor(30s);

  EXPECT_TRUE(Got(kVault, 443).empty());
  EXPECT_EQ(stats(0).flows_allowed, 1u) << "the source's egress let the SYN out (retries ride its conntrack entry)";
  EXPECT_EQ(stats(0).flows_denied, 0u);
  EXPECT_EQ(stats(2).flows_denied, 4u);  // every SYN is judged anew: a denied flow is not tracked
  EXPECT_EQ(stats(2).denied_packets, 4u);
  EXPECT_EQ(stats(2).sent, 0u) << "no SYN-ACK, no RST: the sender hears nothing";
  ASSERT_EQ(denials_.size(), 4u);
  for (const Denial& d : denials_) {
    EXPECT_EQ(d.node, 2u);
    EXPECT_FALSE(d.at_egress);
    EXPECT_EQ(d.packet.dst, kVault);
    EXPECT_FALSE(d.verdict.allowed);
    EXPECT_FALSE(d.verdict.ingress.allowed);
  }
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].time_since_epoch(), 15s);
  EXPECT_EQ(stats(0).connect_failures, 1u);
}

TEST_F(PodNetworkTest, ASynToAPortNobodyListensOnIsResetAndFailsAtOnce) {
  std::vector<Time>& failed = Failures(1, kSensorB, kClientPort);
  net(1).Send(kSensorB, kClientPort, kIdle, 80, policy::kTcp, Text("anyone?"));
  loop_.RunFor(100ms);

  ASSERT_EQ(failed.size(), 1u);
  EXPECT_LT(failed[0].time_since_epoch(), 10ms) << "one round trip, no retries";
  EXPECT_EQ(stats(1).resets, 1u);
  EXPECT_EQ(stats(1).connect_failures, 0u);
  EXPECT_EQ(stats(2).unbound, 1u);
  EXPECT_EQ(stats(2).delivered, 0u);
  EXPECT_TRUE(denials_.empty()) << "the RST is the SYN's reply, not a flow of its own";
  loop_.RunFor(30s);
  EXPECT_EQ(failed.size(), 1u) << "no retry timer is left behind";
}

TEST_F(PodNetworkTest, RepliesTravelBackWhereIngressToTheClientIsDenied) {
  // Floor a's sensor takes no ingress at all; the broker answers anyway.
  PodNetwork& server = net(2);
  server.Bind(kBroker, 1883, policy::kTcp,
              [&server](const PodNetwork::Message& m) { server.Reply(m, Text("ack " + Text(m.payload))); });
  std::vector<std::string>& answers = Collect(0, kSensorA, kClientPort);
  for (int i = 0; i < 3; ++i) net(0).Send(kSensorA, kClientPort, kBroker, 1883, policy::kTcp, Text(std::to_string(i)));
  loop_.RunFor(1s);

  EXPECT_EQ(answers, (std::vector<std::string>{"ack 0", "ack 1", "ack 2"}));
  EXPECT_TRUE(denials_.empty());
  EXPECT_EQ(stats(0).flows_denied + stats(2).flows_denied, 0u);

  // The same sensor cannot be reached by a connection of its own: floor b
  // tries it and is dropped at floor a's ingress.
  Collect(0, kSensorA, 9000);
  net(1).Send(kSensorB, kClientPort, kSensorA, 9000, policy::kTcp, Text("in?"));
  loop_.RunFor(100ms);
  EXPECT_TRUE(Got(kSensorA, 9000).empty());
  ASSERT_EQ(denials_.size(), 1u);
  EXPECT_EQ(denials_[0].node, 0u);
  EXPECT_FALSE(denials_[0].at_egress);
}

// Both ends on one node: its one dataplane judges both, once, and the
// answers come back within the same node.
TEST_F(PodNetworkTest, AFlowBetweenPodsOfOneNodeIsJudgedOnceForBothEnds) {
  std::vector<std::string>& got = Collect(2, kIdle, 80);
  net(2).Send(kBroker, kClientPort, kIdle, 80, policy::kTcp, Text("local"));
  loop_.RunFor(100ms);
  EXPECT_EQ(got, std::vector<std::string>{"local"});
  EXPECT_EQ(stats(2).flows_allowed, 1u);

  // The vault takes nothing: its own ingress drops it, and the event says so.
  net(2).Send(kBroker, kClientPort, kVault, 443, policy::kTcp, Text("let me in"));
  loop_.RunFor(100ms);
  ASSERT_EQ(denials_.size(), 1u);
  EXPECT_EQ(denials_[0].node, 2u);
  EXPECT_FALSE(denials_[0].at_egress) << "judged at the vault's ingress, on the same node";
  EXPECT_TRUE(denials_[0].verdict.egress.allowed);
  EXPECT_FALSE(denials_[0].verdict.ingress.allowed);
  EXPECT_EQ(stats(2).flows_denied, 1u);
}

TEST_F(PodNetworkTest, ASynToAnUnboundPortOfTheSameNodeIsResetAndLeavesNothingBehind) {
  std::vector<Time>& failed = Failures(2, kBroker, kClientPort);
  net(2).Send(kBroker, kClientPort, kIdle, 81, policy::kTcp, Text("anyone?"));
  const uint64_t sent = stats(2).sent;
  loop_.RunFor(30s);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(stats(2).resets, 1u);
  EXPECT_EQ(stats(2).connect_failures, 0u);
  EXPECT_EQ(stats(2).sent, sent) << "no SYN is retried after the reset";
}

TEST_F(PodNetworkTest, UdpDatagramsAreJudgedPerFlowAndRepliesComeBack) {
  PodNetwork& server = net(2);
  int statsd = 0;
  server.Bind(kBroker, 8125, policy::kUdp, [&](const PodNetwork::Message& m) {
    ++statsd;
    server.Reply(m, Text("ok"));
  });
  std::vector<std::string>& answers_a = Collect(0, kSensorA, kClientPort, policy::kUdp);
  std::vector<std::string>& answers_b = Collect(1, kSensorB, kClientPort, policy::kUdp);
  for (int i = 0; i < 5; ++i) {
    net(0).Send(kSensorA, kClientPort, kBroker, 8125, policy::kUdp, Text("a"));
    net(1).Send(kSensorB, kClientPort, kBroker, 8125, policy::kUdp, Text("b"));
    loop_.RunFor(100ms);
  }

  // Floor a's flow: judged by its first datagram, the rest on conntrack.
  EXPECT_EQ(statsd, 5);
  EXPECT_EQ(answers_a.size(), 5u);
  EXPECT_EQ(stats(0).flows_allowed, 1u);
  // Floor b's: statsd is floor a's only; each datagram is judged and dropped
  // at the broker's ingress, and UDP has no answer to wait for.
  EXPECT_TRUE(answers_b.empty());
  EXPECT_EQ(stats(1).flows_allowed, 1u) << "floor b's egress is open";
  EXPECT_EQ(stats(2).flows_allowed, 1u);
  EXPECT_EQ(stats(2).flows_denied, 5u);
  EXPECT_EQ(stats(2).denied_packets, 5u);
  EXPECT_EQ(denials_.size(), 5u);
  EXPECT_EQ(stats(1).connect_failures + stats(1).resets, 0u);
  // A second UDP flow from floor a (another source port) is a flow of its own.
  net(0).Send(kSensorA, kClientPort + 1, kBroker, 8125, policy::kUdp, Text("a2"));
  loop_.RunFor(100ms);
  EXPECT_EQ(statsd, 6);
  EXPECT_EQ(stats(0).flows_allowed, 2u);
}

TEST_F(PodNetworkTest, DataForAPodThatHasGoneIsAnsweredByAReset) {
  std::vector<std::string>& got = Collect(2, kBroker, 1883);
  std::vector<Time>& failed = Failures(0, kSensorA, kClientPort);
  net(0).Send(kSensorA, kClientPort, kBroker, 1883, policy::kTcp, Text("one"));
  loop_.RunFor(100ms);
  ASSERT_EQ(got.size(), 1u);

  net(2).Unbind(kBroker);
  net(0).Send(kSensorA, kClientPort, kBroker, 1883, policy::kTcp, Text("two"));
  loop_.RunFor(100ms);
  EXPECT_EQ(got.size(), 1u);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(stats(0).resets, 1u);
  EXPECT_EQ(stats(2).unbound, 1u);

  // The next message opens afresh (conntrack reopens the closed entry) and
  // is refused again by a SYN nobody listens to; once the broker is back,
  // the same connection works.
  net(0).Send(kSensorA, kClientPort, kBroker, 1883, policy::kTcp, Text("three"));
  loop_.RunFor(100ms);
  EXPECT_EQ(failed.size(), 2u);
  EXPECT_EQ(stats(0).resets, 2u);
  Collect(2, kBroker, 1883);
  net(0).Send(kSensorA, kClientPort, kBroker, 1883, policy::kTcp, Text("four"));
  loop_.RunFor(100ms);
  EXPECT_EQ(Got(kBroker, 1883), (std::vector<std::string>{"one", "four"}));
  EXPECT_EQ(failed.size(), 2u);
  EXPECT_TRUE(denials_.empty());
}

TEST_F(PodNetworkTest, UnbindForgetsTheConnectionsAPodOpened) {
  std::vector<Time>& failed = Failures(0, kSensorA, kClientPort);
  net(0).Send(kSensorA, kClientPort, kVault, 443, policy::kTcp, Text("x"));  // dropped at the vault: SYNs retry
  loop_.RunFor(2s);
  net(0).Unbind(kSensorA);
  loop_.RunFor(30s);
  EXPECT_TRUE(failed.empty()) << "a pod that has gone hears nothing more";
  EXPECT_EQ(stats(2).flows_denied, 2u) << "SYNs at 0 and 1 s, none after the unbind";
}

TEST_F(PodNetworkTest, FramesThatAreNotOursAreCountedAndDropped) {
  Collect(2, kBroker, 1883);
  Env& other = loop_.env(0);
  const std::vector<Bytes> garbage = {
      {},                                            // empty
      Text("GET / HTTP/1.1\r\n\r\n"),                // someone else's protocol
      {0xEB, 0x90, 0x01, 0x00, 0x03},                // our header, nothing after it
      {0xEB, 0x90, 0x01, 0x00, 0x09, 0, 0, 0, 0},    // an unknown frame type
      {0xEB, 0x90, 0x07, 0x00, 0x03, 1, 2, 3, 4},    // a version we do not speak
      Bytes(4096, 0xFF),
  };
  for (const Bytes& b : garbage) other.Send(2, kPodTrafficPort, b);
  loop_.RunFor(100ms);
  EXPECT_EQ(stats(2).bad_frames, garbage.size());
  EXPECT_EQ(stats(2).delivered, 0u);
  EXPECT_EQ(stats(2).sent, 0u);

  // The node goes on working.
  net(0).Send(kSensorA, kClientPort, kBroker, 1883, policy::kTcp, Text("still here"));
  loop_.RunFor(100ms);
  EXPECT_EQ(Got(kBroker, 1883), std::vector<std::string>{"still here"});
}

TEST_F(PodNetworkTest, APacketForAnAddressNoNodeHoldsHasNoRoute) {
  std::vector<Time>& failed = Failures(1, kSensorB, kClientPort);
  net(1).Send(kSensorB, kClientPort, 0x0a2a630a /* 10.42.99.10 */, 80, policy::kTcp, Text("?"));
  loop_.RunFor(30s);
  EXPECT_EQ(stats(1).no_route, 4u);  // every SYN
  EXPECT_EQ(failed.size(), 1u);
}

TEST_F(PodNetworkTest, APortScanRaisesAnIdsAlert) {
  for (NodeId id = 0; id < 3; ++id) net(id).EnableIds(policy::IdsOptions{});
  // Ordinary traffic first: one connection, many messages, is no scan.
  Collect(2, kBroker, 1883);
  for (int i = 0; i < 30; ++i) net(0).Send(kSensorA, kClientPort, kBroker, 1883, policy::kTcp, Text("reading"));
  loop_.RunFor(1s);
  EXPECT_TRUE(loop_.sink().EventsOfKind("policy.ids_alert").empty());

  // Floor b is open both ways out; idle has no policy and listens on nothing:
  // every probe is allowed, and reset.
  for (uint16_t port = 1; port <= 25; ++port)
    net(1).Send(kSensorB, static_cast<uint16_t>(kClientPort + port), kIdle, port, policy::kTcp, Text("?"));
  loop_.RunFor(5s);

  EXPECT_EQ(stats(1).resets, 25u);
  EXPECT_EQ(stats(1).flows_allowed, 25u);
  const std::vector<EventRecord> alerts = loop_.sink().EventsOfKind("policy.ids_alert");
  ASSERT_FALSE(alerts.empty());
  for (const EventRecord& e : alerts) {
    EXPECT_NE(e.detail.find("kind=port_scan subject=10.42.1.10 target=10.42.2.12"), std::string::npos) << e.detail;
  }
  // Seen at the scanner's node (egress) and at the target's (ingress), once each.
  ASSERT_NE(net(1).ids(), nullptr);
  EXPECT_EQ(net(1).ids()->alerts().size(), 1u);
  EXPECT_EQ(net(2).ids()->alerts().size(), 1u);
  EXPECT_TRUE(net(0).ids()->alerts().empty());
  EXPECT_EQ(alerts.size(), 2u);
}

}  // namespace
}  // namespace edgebed::sim
