// The heartbeat protocol inside an ns-3 topology of 120 edge nodes: the same
// source file as on the test loop (tests/probe) and on real sockets
// (tests/host). It exercises what the topology tests do not: the Ns3Env
// under a protocol, with loss and partitions from a FaultEnv, messages of
// hundreds of datagrams, a node's crash and restart, and replay by seed.
#include <gtest/gtest.h>

#include <map>
#include <memory>

#include "core/env/fault_env.h"
#include "core/env/memory_sink.h"
#include "core/probe/heartbeat.h"
#include "sim/ns3_env.h"
#include "sim/scenario.h"
#include "sim/topology.h"

namespace edgebed::sim {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// 2 buildings x 6 floors x 10 nodes on one site; constant delays.
const char* kCampus = R"(name: heartbeat
duration: 1m
profiles:
  lan: {delay: 100us, bandwidth: 1Gbps}
  riser: {delay: 200us, bandwidth: 10Gbps}
  campus: {delay: 1ms, bandwidth: 10Gbps}
  metro: {delay: 2ms, bandwidth: 1Gbps}
  wan: {delay: 20ms, bandwidth: 200Mbps}
node_classes:
  n: {capacity: {cpu: "2", memory: 4Gi}}
topology:
  sites:
    - name: site
      buildings:
        - count: 2
          floors: [{count: 6, nodes: [{class: n, count: 10}]}]
  links: {node: lan, floor: riser, building: campus, site: metro, cloud: wan}
  server: {at: cloud}
)";

Scenario LoadCampus() {
  ScenarioLoad r = LoadScenario(kCampus, "heartbeat.yaml", ".");
  EXPECT_TRUE(r.ok());
  return std::move(*r.scenario);
}

// Node i probes its floor neighbour, a node on the next floor and its twin
// in the other building.
struct Campus {
  explicit Campus(uint64_t seed, HeartbeatConfig config = {}) : scenario(LoadCampus()), world(seed, sink) {
    auto built = Topology::Build(scenario, seed);
    EXPECT_TRUE(built.ok()) << built.status().ToString();
    topology = std::move(*built);
    for (const Host& h : topology->nodes()) {
      Ns3EnvOptions options;
      options.uplink_bps = h.uplink_bps;
      const NodeId id = world.AddNode(h.node, h.address, options);
      envs.push_back(std::make_unique<FaultEnv>(world.env(id), plan));
    }
    const NodeId n = static_cast<NodeId>(envs.size());
    for (NodeId i = 0; i < n; ++i) {
      beats.push_back(std::make_unique<Heartbeat>(*envs[i], config));
      EXPECT_TRUE(beats[i]->Start({(i + 1) % n, (i + 10) % n, (i + 60) % n}).ok());
    }
  }
  bool SameBuilding(NodeId a, NodeId b) const {
    return scenario.nodes[a].building == scenario.nodes[b].building;
  }
  int Count(PeerState s, bool cross_building) const {
    int c = 0;
    for (NodeId i = 0; i < beats.size(); ++i) {
      for (NodeId p : beats[i]->peer_ids()) {
        if (SameBuilding(i, p) != cross_building) c += beats[i]->peer(p).state == s;
      }
    }
    return c;
  }

  Scenario scenario;
  MemorySink sink;
  Ns3World world;
  std::unique_ptr<Topology> topology;
  FaultPlan plan;
  std::vector<std::unique_ptr<FaultEnv>> envs;
  std::vector<std::unique_ptr<Heartbeat>> beats;
};

TEST(HeartbeatNs3, EveryPeerAliveWithTheRoundTripOfTheTopology) {
  Campus c(1);
  ASSERT_EQ(c.envs.size(), 120u);
  c.world.RunFor(seconds(5));
  EXPECT_EQ(c.Count(PeerState::kAlive, false) + c.Count(PeerState::kAlive, true), 360);
  // Node 0 -> node 1: two 100 us hops each way. Node 0 -> node 60: the other
  // building, through the site's router: 2 x (100 us + 200 us + 1 ms) each way.
  const Duration same_floor = c.beats[0]->peer(1).last_rtt;
  const Duration other_building = c.beats[0]->peer(60).last_rtt;
  EXPECT_GE(same_floor, std::chrono::microseconds(400));
  EXPECT_LT(same_floor, std::chrono::microseconds(500));
  EXPECT_GE(other_building, std::chrono::microseconds(5200));
  EXPECT_LT(other_building, std::chrono::microseconds(5400));
  EXPECT_EQ(c.world.TotalNetStats().bad_datagrams, 0u);
}

TEST(HeartbeatNs3, RetriesRideOutLossAndAPartitionIsDetectedAndHealed) {
  Campus c(2);
  c.plan.set_drop_rate(0.1);
  c.world.RunFor(seconds(20));
  EXPECT_EQ(c.Count(PeerState::kDead, false) + c.Count(PeerState::kDead, true), 0);
  EXPECT_GT(c.plan.stats().dropped, 1000u);

  std::vector<NodeId> building_one;
  for (NodeId i = 0; i < 60; ++i) building_one.push_back(i);
  c.plan.Partition({building_one});
  c.world.RunFor(seconds(6));
  int cross_pairs = 0;
  for (NodeId i = 0; i < c.beats.size(); ++i) {
    for (NodeId p : c.beats[i]->peer_ids()) cross_pairs += !c.SameBuilding(i, p);
  }
  EXPECT_EQ(cross_pairs, 142);
  EXPECT_EQ(c.Count(PeerState::kDead, true), cross_pairs);
  EXPECT_EQ(c.Count(PeerState::kDead, false), 0);

  // After the heal every pair answers again (the 10% loss goes on, so a
  // pair may sit at Suspect for a round, but none stays Dead).
  std::map<std::pair<NodeId, NodeId>, uint64_t> answered;
  for (NodeId i = 0; i < c.beats.size(); ++i) {
    for (NodeId p : c.beats[i]->peer_ids()) answered[{i, p}] = c.beats[i]->peer(p).rounds_answered;
  }
  c.plan.Heal();
  c.world.RunFor(seconds(3));
  EXPECT_EQ(c.Count(PeerState::kDead, true) + c.Count(PeerState::kDead, false), 0);
  for (const auto& [pair, before] : answered) {
    EXPECT_GT(c.beats[pair.first]->peer(pair.second).rounds_answered, before)
        << pair.first << " -> " << pair.second;
  }
}

TEST(HeartbeatNs3, LargeMessagesCrossTheCampusWhole) {
  Campus c(3);
  // A second protocol instance on its own port, with 1 MiB pings between
  // three nodes: 749 datagrams each way, through up to six hops.
  HeartbeatConfig big;
  big.port = 8;
  big.payload_bytes = 1 << 20;
  big.interval = seconds(2);
  big.timeout = milliseconds(500);
  Heartbeat a(*c.envs[0], big), b(*c.envs[60], big), d(*c.envs[119], big);
  ASSERT_TRUE(a.Start({60, 119}).ok());
  ASSERT_TRUE(b.Start({0}).ok());
  ASSERT_TRUE(d.Start({}).ok());
  c.world.RunFor(seconds(7));
  EXPECT_EQ(a.peer(60).state, PeerState::kAlive);
  EXPECT_EQ(a.peer(119).state, PeerState::kAlive);
  EXPECT_EQ(b.peer(0).state, PeerState::kAlive);
  EXPECT_GE(a.peer(60).rounds_answered, 3u);
  EXPECT_EQ(a.counters().bad_messages + b.counters().bad_messages, 0u);
  // 2 MiB at 1 Gbit/s on the edge links is some 17 ms of serialization.
  EXPECT_GT(a.peer(60).last_rtt, milliseconds(17));
  const Ns3NetStats net = c.world.TotalNetStats();
  EXPECT_EQ(net.bad_datagrams, 0u);
  EXPECT_EQ(net.partial_messages_dropped, 0u);
}

TEST(HeartbeatNs3, CrashedNodeIsDeclaredDeadAndComesBack) {
  Campus c(4);
  c.world.RunFor(seconds(3));
  c.world.Crash(5);
  c.beats[5].reset();
  c.world.RunFor(seconds(5));
  EXPECT_EQ(c.beats[4]->peer(5).state, PeerState::kDead);  // 4 probes 5 (i + 1)
  c.world.Restart(5);
  c.beats[5] = std::make_unique<Heartbeat>(*c.envs[5], HeartbeatConfig{});
  ASSERT_TRUE(c.beats[5]->Start({6, 15, 65}).ok());
  c.world.RunFor(seconds(3));
  EXPECT_EQ(c.beats[4]->peer(5).state, PeerState::kAlive);
  EXPECT_FALSE(c.sink.EventsOfKind("node.crash").empty());
}

std::string EventLog(uint64_t seed) {
  Campus c(seed);
  c.plan.set_drop_rate(0.15);
  c.world.RunFor(seconds(5));
  c.plan.Isolate(7);
  c.world.RunFor(seconds(5));
  std::string log;
  for (const auto& e : c.sink.events()) {
    log += std::to_string(ToNanos(e.time)) + " " + std::to_string(e.node) + " " + e.kind + " " +
           e.detail + "\n";
  }
  for (const auto& s : c.sink.samples()) {
    log += std::to_string(ToNanos(s.time)) + " " + std::to_string(s.node) + " " +
           std::to_string(s.value) + "\n";
  }
  return log;
}

TEST(HeartbeatNs3, SameSeedSameEventsByteForByte) {
  const std::string a = EventLog(9), b = EventLog(9);
  EXPECT_EQ(a, b);
  EXPECT_GT(a.size(), 1000u);
  EXPECT_NE(a, EventLog(10));
}

}  // namespace
}  // namespace edgebed::sim
