// The heartbeat protocol over real UDP/TCP sockets on 127.0.0.1: the same
// source file as on the test loop (tests/probe) and inside ns-3 (tests/sim).
#include <gtest/gtest.h>

#include "core/env/fault_env.h"
#include "core/probe/heartbeat.h"
#include "tests/host/host_test_util.h"

namespace edgebed::host {
namespace {

using std::chrono::milliseconds;

HeartbeatConfig Fast() {
  HeartbeatConfig c;
  c.interval = milliseconds(100);
  c.timeout = milliseconds(30);
  c.attempts = 3;
  return c;
}

struct Mesh {
  explicit Mesh(int n, HeartbeatConfig config = Fast()) : nodes(n) {
    for (auto& e : nodes.envs) faults.push_back(std::make_unique<FaultEnv>(*e, plan));
    for (int i = 0; i < n; ++i) {
      std::vector<NodeId> peers;
      for (int j = 0; j < n; ++j) {
        if (j != i) peers.push_back(static_cast<NodeId>(j));
      }
      beats.push_back(std::make_unique<Heartbeat>(*faults[i], config));
      EXPECT_TRUE(beats.back()->Start(peers).ok());
    }
  }
  bool All(PeerState s, const std::function<bool(NodeId, NodeId)>& which = nullptr) {
    for (NodeId i = 0; i < beats.size(); ++i) {
      for (NodeId p : beats[i]->peer_ids()) {
        if ((!which || which(i, p)) && beats[i]->peer(p).state != s) return false;
      }
    }
    return true;
  }
  ~Mesh() {
    beats.clear();
    faults.clear();
  }

  LoopbackNodes nodes;
  FaultPlan plan;
  std::vector<std::unique_ptr<FaultEnv>> faults;
  std::vector<std::unique_ptr<Heartbeat>> beats;
};

TEST(HeartbeatHost, EndpointsOnLoopbackSeeEachOtherAlive) {
  Mesh m(4);
  ASSERT_TRUE(m.nodes.RunUntil([&] { return m.All(PeerState::kAlive); }));
  EXPECT_FALSE(m.nodes.sink.SamplesNamed("probe.rtt_ms").empty());
  EXPECT_LT(m.beats[0]->peer(1).last_rtt, milliseconds(30));
}

TEST(HeartbeatHost, PartitionIsDetectedAndHealedUnderLoss) {
  Mesh m(4);
  m.plan.set_drop_rate(0.1);
  ASSERT_TRUE(m.nodes.RunUntil([&] { return m.All(PeerState::kAlive); }));
  m.plan.Partition({{0, 1}, {2, 3}});
  auto across = [](NodeId a, NodeId b) { return (a < 2) != (b < 2); };
  ASSERT_TRUE(m.nodes.RunUntil([&] { return m.All(PeerState::kDead, across); }));
  m.plan.Heal();
  ASSERT_TRUE(m.nodes.RunUntil([&] { return m.All(PeerState::kAlive, across); }));
  EXPECT_GT(m.plan.stats().partitioned, 0u);
}

TEST(HeartbeatHost, LargePayloadsGoOverTcpAndComeBackIntact) {
  HeartbeatConfig big = Fast();
  big.payload_bytes = 512 * 1024;
  big.interval = milliseconds(1500);
  big.timeout = milliseconds(400);  // room for a loaded machine: this test is about the TCP path, not speed
  Mesh m(3, big);
  ASSERT_TRUE(m.nodes.RunUntil([&] {
    return m.All(PeerState::kAlive) && m.beats[0]->peer(1).rounds_answered >= 2;
  }));
  for (auto& b : m.beats) EXPECT_EQ(b->counters().bad_messages, 0u);
  EXPECT_GT(m.nodes.envs[0]->net_stats().tcp_frames_sent, 0u);
}

TEST(HeartbeatHost, ClosedEndpointIsDeclaredDead) {
  Mesh m(3);
  ASSERT_TRUE(m.nodes.RunUntil([&] { return m.All(PeerState::kAlive); }));
  m.beats[2].reset();
  m.faults[2].reset();
  m.nodes.envs[2]->Close();
  ASSERT_TRUE(m.nodes.RunUntil([&] {
    return m.beats[0]->peer(2).state == PeerState::kDead &&
           m.beats[1]->peer(2).state == PeerState::kDead;
  }));
  EXPECT_EQ(m.beats[0]->peer(1).state, PeerState::kAlive);
}

}  // namespace
}  // namespace edgebed::host
