// Connection tracking: replies of allowed connections pass, TCP is followed
// through its states, the table stays within its bound, and a dataplane that
// holds only some endpoints judges only their side.
#include "core/policy/dataplane.h"

#include <gtest/gtest.h>

#include "core/model/loader.h"

namespace edgebed::policy {
namespace {

using namespace std::chrono_literals;

// Namespace floor-1 with a sensor and a broker; the broker admits MQTT
// (1883) from the sensor only, and the sensor may not open connections.
constexpr const char* kManifests = R"(
apiVersion: v1
kind: Namespace
metadata: {name: floor-1}
---
apiVersion: v1
kind: Pod
metadata: {name: sensor, namespace: floor-1, labels: {app: sensor}}
spec: {containers: [{name: s, image: s}]}
status: {podIP: 10.42.1.10}
---
apiVersion: v1
kind: Pod
metadata: {name: broker, namespace: floor-1, labels: {app: broker}}
spec: {containers: [{name: b, image: b, ports: [{name: mqtt, containerPort: 1883}]}]}
status: {podIP: 10.42.1.20}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: broker-ingress, namespace: floor-1}
spec:
  podSelector: {matchLabels: {app: broker}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: sensor}}}]
    ports: [{port: mqtt}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: sensor-no-egress-but-dns, namespace: floor-1}
spec:
  podSelector: {matchLabels: {app: sensor}}
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {app: broker}}}]
)";

constexpr uint32_t kSensor = 0x0a2a010a, kBroker = 0x0a2a0114;

class DataplaneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model::LoadResult loaded = model::LoadManifests(kManifests, "dp.yaml");
    ASSERT_TRUE(loaded.ok()) << loaded.errors[0].ToString();
    StatusOr<PolicyWorld> world = PolicyWorldFromObjects(loaded.objects);
    ASSERT_TRUE(world.ok()) << world.status().ToString();
    world_ = *std::move(world);
    classifier_ = std::make_unique<Classifier>(world_.tiers, world_.inventory);
  }

  Dataplane Make(Dataplane::Options options = {}) {
    return Dataplane(classifier_.get(), &world_.inventory, std::move(options));
  }

  static Packet Tcp(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport, uint8_t flags) {
    Packet p;
    p.src = src;
    p.dst = dst;
    p.src_port = sport;
    p.dst_port = dport;
    p.protocol = kTcp;
    p.tcp_flags = flags;
    return p;
  }

  PolicyWorld world_;
  std::unique_ptr<Classifier> classifier_;
  Time now_{};
};

TEST_F(DataplaneTest, AllowedConnectionGoesThroughItsTcpStatesAndRepliesPass) {
  Dataplane dp = Make();
  const Packet syn = Tcp(kSensor, 40000, kBroker, 1883, kSyn);
  Dataplane::Result r = dp.Process(syn, now_);
  EXPECT_TRUE(r.allowed);
  EXPECT_EQ(r.path, Dataplane::Path::kNew);
  EXPECT_EQ(dp.StateOf(syn), TcpState::kSynSent);

  const Packet syn_ack = Tcp(kBroker, 1883, kSensor, 40000, kSyn | kAck);
  r = dp.Process(syn_ack, now_);
  EXPECT_TRUE(r.allowed);
  EXPECT_EQ(r.path, Dataplane::Path::kReply);  // the broker may not open it, but may answer
  EXPECT_EQ(dp.StateOf(syn), TcpState::kSynRecv);

  EXPECT_TRUE(dp.Process(Tcp(kSensor, 40000, kBroker, 1883, kAck), now_).allowed);
  EXPECT_EQ(dp.StateOf(syn), TcpState::kEstablished);
  EXPECT_EQ(dp.Process(Tcp(kSensor, 40000, kBroker, 1883, kAck), now_).path,
            Dataplane::Path::kEstablished);

  dp.Process(Tcp(kSensor, 40000, kBroker, 1883, kFin | kAck), now_);
  EXPECT_EQ(dp.StateOf(syn), TcpState::kFinWait);
  dp.Process(Tcp(kBroker, 1883, kSensor, 40000, kFin | kAck), now_);
  EXPECT_EQ(dp.StateOf(syn), TcpState::kLastAck);
  dp.Process(Tcp(kSensor, 40000, kBroker, 1883, kAck), now_);
  EXPECT_EQ(dp.StateOf(syn), TcpState::kTimeWait);

  EXPECT_EQ(dp.stats().new_allowed, 1u);
  EXPECT_EQ(dp.stats().fast_path, 6u);
}

TEST_F(DataplaneTest, DeniedConnectionsAreNotTrackedAndStrayPacketsAreInvalid) {
  Dataplane dp = Make();
  // The sensor to the broker on a port other than MQTT: denied at the
  // broker's ingress, and not remembered.
  Dataplane::Result r = dp.Process(Tcp(kSensor, 40001, kBroker, 8080, kSyn), now_);
  EXPECT_FALSE(r.allowed);
  EXPECT_EQ(r.verdict.ingress.by, Decision::By::kEndOfTier);
  EXPECT_EQ(dp.tracked(), 0u);
  // A reply-looking packet with no connection is invalid, whatever policy says.
  r = dp.Process(Tcp(kBroker, 1883, kSensor, 40002, kSyn | kAck), now_);
  EXPECT_FALSE(r.allowed);
  EXPECT_EQ(r.path, Dataplane::Path::kInvalid);
  EXPECT_EQ(dp.stats().invalid, 1u);
}

TEST_F(DataplaneTest, UdpRepliesPassUntilTheTimeoutThenTheFlowIsJudgedAgain) {
  Dataplane dp = Make();
  Packet out;
  out.src = kSensor;
  out.dst = kBroker;
  out.protocol = kUdp;
  out.src_port = 5000;
  out.dst_port = 1883;  // the broker's named port is TCP: UDP 1883 is not allowed
  EXPECT_FALSE(dp.Process(out, now_).allowed);

  // The broker reaching the sensor is allowed (no policy isolates the
  // sensor's ingress or the broker's egress); its replies come back.
  Packet to_sensor = out;
  to_sensor.src = kBroker;
  to_sensor.dst = kSensor;
  to_sensor.src_port = 6000;
  to_sensor.dst_port = 7000;
  EXPECT_TRUE(dp.Process(to_sensor, now_).allowed);
  Packet reply = to_sensor;
  std::swap(reply.src, reply.dst);
  std::swap(reply.src_port, reply.dst_port);
  EXPECT_EQ(dp.Process(reply, now_ + 10s).path, Dataplane::Path::kReply);
  // Replied: the stream timeout (120 s) applies from the last packet.
  EXPECT_EQ(dp.Process(reply, now_ + 100s).path, Dataplane::Path::kReply);
  // Past it, the sensor's packet is a new flow, and the sensor may not
  // start flows to the broker's port 6000.
  Dataplane::Result late = dp.Process(reply, now_ + 300s);
  EXPECT_EQ(late.path, Dataplane::Path::kNew);
  EXPECT_FALSE(late.allowed);
  EXPECT_EQ(dp.stats().expired, 1u);
}

TEST_F(DataplaneTest, IcmpEchoRepliesMatchTheirRequest) {
  Dataplane dp = Make();
  Packet echo;
  echo.src = kBroker;
  echo.dst = kSensor;
  echo.protocol = kIcmp;
  echo.icmp_type = 8;
  echo.src_port = 77;  // the echo identifier
  EXPECT_TRUE(dp.Process(echo, now_).allowed);
  Packet reply = echo;
  std::swap(reply.src, reply.dst);
  reply.icmp_type = 0;
  EXPECT_EQ(dp.Process(reply, now_).path, Dataplane::Path::kReply);
}

TEST_F(DataplaneTest, TheTableIsBoundedAndEvictsTheLeastRecentlyUsed) {
  Dataplane::Options options;
  options.conntrack.max_entries = 4;
  Dataplane dp = Make(options);
  for (uint16_t port = 1000; port < 1010; ++port) {
    ASSERT_TRUE(dp.Process(Tcp(kBroker, port, kSensor, 22, kSyn), now_).allowed);
    // Keep the first connection busy: it must survive the evictions.
    dp.Process(Tcp(kBroker, 1000, kSensor, 22, kAck), now_);
    EXPECT_LE(dp.tracked(), 4u);
  }
  EXPECT_EQ(dp.stats().evicted, 6u);
  EXPECT_EQ(dp.Process(Tcp(kSensor, 22, kBroker, 1000, kAck), now_).path, Dataplane::Path::kReply);
  // An evicted connection's next packet is no longer tracked: invalid.
  EXPECT_EQ(dp.Process(Tcp(kBroker, 1001, kSensor, 22, kAck), now_).path,
            Dataplane::Path::kInvalid);
}

TEST_F(DataplaneTest, ANodeJudgesOnlyItsOwnEndpoints) {
  // The sensor's node checks the sensor's egress, not the broker's ingress.
  Dataplane::Options sensor_node;
  sensor_node.local_endpoints = {"floor-1/sensor"};
  Dataplane dp = Make(sensor_node);
  Dataplane::Result r = dp.Process(Tcp(kSensor, 40000, kBroker, 8080, kSyn), now_);
  EXPECT_TRUE(r.allowed);  // the broker's node will refuse it
  EXPECT_EQ(r.verdict.ingress.by, Decision::By::kRemote);

  Dataplane::Options broker_node;
  broker_node.local_endpoints = {"floor-1/broker"};
  Dataplane dp2 = Make(broker_node);
  EXPECT_FALSE(dp2.Process(Tcp(kSensor, 40000, kBroker, 8080, kSyn), now_).allowed);
}

}  // namespace
}  // namespace edgebed::policy
