// The heartbeat protocol on the deterministic test loop: the first of the
// three Envs it runs on unchanged (see tests/sim and tests/host for the others).
#include "core/probe/heartbeat.h"

#include <gtest/gtest.h>

#include <memory>

#include "core/env/fault_env.h"
#include "core/env/test_loop.h"

namespace edgebed {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// n nodes, each behind a FaultEnv, each probing every other.
struct Mesh {
  Mesh(uint64_t seed, int n, HeartbeatConfig config = {}, TestNetwork net = {})
      : loop(seed, net), config(config) {
    for (int i = 0; i < n; ++i) {
      NodeId id = loop.AddNode();
      envs.push_back(std::make_unique<FaultEnv>(loop.env(id), plan));
    }
    for (int i = 0; i < n; ++i) StartNode(i);
  }
  void StartNode(int i) {
    std::vector<NodeId> peers;
    for (NodeId j = 0; j < envs.size(); ++j) {
      if (j != static_cast<NodeId>(i)) peers.push_back(j);
    }
    if (beats.size() <= static_cast<size_t>(i)) beats.resize(i + 1);
    beats[i] = std::make_unique<Heartbeat>(*envs[i], config);
    EXPECT_TRUE(beats[i]->Start(peers).ok());
  }
  PeerState State(int observer, NodeId peer) { return beats[observer]->peer(peer).state; }
  int CountIn(PeerState s) {
    int c = 0;
    for (auto& b : beats) {
      if (!b) continue;
      for (NodeId p : b->peer_ids()) c += b->peer(p).state == s;
    }
    return c;
  }

  TestLoop loop;
  FaultPlan plan;
  HeartbeatConfig config;
  std::vector<std::unique_ptr<FaultEnv>> envs;
  std::vector<std::unique_ptr<Heartbeat>> beats;
};

TEST(Heartbeat, HealthyMeshIsAllAliveWithTheRoundTripOfTheNetwork) {
  TestNetwork net;
  net.latency = milliseconds(3);
  Mesh m(1, 5, {}, net);
  m.loop.RunFor(seconds(10));
  EXPECT_EQ(m.CountIn(PeerState::kAlive), 5 * 4);
  for (auto& b : m.beats) {
    for (NodeId p : b->peer_ids()) {
      EXPECT_EQ(b->peer(p).last_rtt, milliseconds(6));
      EXPECT_GE(b->peer(p).rounds_answered, 9u);
      EXPECT_EQ(b->peer(p).pings_sent, b->peer(p).rounds);  // no retries needed
    }
  }
  EXPECT_FALSE(m.loop.sink().SamplesNamed("probe.rtt_ms").empty());
}

TEST(Heartbeat, RetriesRideOutMessageLoss) {
  Mesh m(2, 6);
  m.plan.set_drop_rate(0.1);
  m.loop.RunFor(seconds(60));
  EXPECT_EQ(m.CountIn(PeerState::kDead), 0);
  uint64_t retries = 0;
  for (auto& b : m.beats) {
    for (NodeId p : b->peer_ids()) retries += b->peer(p).pings_sent - b->peer(p).rounds;
  }
  EXPECT_GT(retries, 100u);
  EXPECT_GT(m.plan.stats().dropped, 300u);  // about 10% of some 4000 messages
}

TEST(Heartbeat, PartitionIsDetectedOnBothSidesAndHealed) {
  Mesh m(3, 6);
  m.loop.RunFor(seconds(5));
  ASSERT_EQ(m.CountIn(PeerState::kAlive), 30);
  m.plan.Partition({{0, 1, 2}, {3, 4, 5}});
  m.loop.RunFor(seconds(5));
  for (int a = 0; a < 6; ++a) {
    for (NodeId b = 0; b < 6; ++b) {
      if (a == static_cast<int>(b)) continue;
      const bool same_side = (a < 3) == (b < 3);
      EXPECT_EQ(m.State(a, b), same_side ? PeerState::kAlive : PeerState::kDead)
          << a << " sees " << b;
    }
  }
  EXPECT_EQ(m.loop.sink().EventsOfKind("probe.peer_state").size(), 30u + 18u * 2);
  m.plan.Heal();
  m.loop.RunFor(seconds(2));
  EXPECT_EQ(m.CountIn(PeerState::kAlive), 30);
}

TEST(Heartbeat, CrashedNodeIsDeadUntilItRestarts) {
  Mesh m(4, 4);
  m.loop.RunFor(seconds(3));
  m.loop.Crash(2);
  m.beats[2].reset();  // its process is gone
  m.loop.RunFor(seconds(5));
  for (int a : {0, 1, 3}) EXPECT_EQ(m.State(a, 2), PeerState::kDead);
  m.loop.Restart(2);
  m.StartNode(2);
  m.loop.RunFor(seconds(3));
  EXPECT_EQ(m.CountIn(PeerState::kAlive), 12);
}

TEST(Heartbeat, SuspectComesBeforeDead) {
  Mesh m(5, 2);
  std::vector<PeerState> seen;
  m.beats[0]->set_on_change([&](NodeId, PeerState, PeerState to) { seen.push_back(to); });
  m.loop.RunFor(seconds(2));
  m.plan.Isolate(1);
  m.loop.RunFor(seconds(6));
  EXPECT_EQ(seen, (std::vector<PeerState>{PeerState::kAlive, PeerState::kSuspect, PeerState::kDead}));
}

TEST(Heartbeat, LargePayloadsTravelWholeBothWays) {
  HeartbeatConfig config;
  config.payload_bytes = 300 * 1024;
  TestNetwork net;
  net.bandwidth_bps = 100e6;
  Mesh m(6, 3, config, net);
  m.loop.RunFor(seconds(5));
  EXPECT_EQ(m.CountIn(PeerState::kAlive), 6);
  for (auto& b : m.beats) EXPECT_EQ(b->counters().bad_messages, 0u);
  // 2 x 300 KiB at 100 Mbit/s is about 50 ms of serialization.
  EXPECT_GT(m.beats[0]->peer(1).last_rtt, milliseconds(49));
}

TEST(Heartbeat, MalformedMessagesAreCountedAndIgnored) {
  Mesh m(7, 2);
  m.loop.RunFor(seconds(2));
  for (const char* junk : {"", "x", "\x01\xeb\x01\x01\x00", "\x01\xeb\x01\x02\x00\x05\x01"}) {
    m.envs[1]->Send(0, m.config.port, ToBytes(junk));
  }
  m.loop.RunFor(milliseconds(100));
  EXPECT_EQ(m.beats[0]->counters().bad_messages, 4u);
  EXPECT_EQ(m.State(0, 1), PeerState::kAlive);
}

TEST(Heartbeat, BadConfigIsRefusedWithTheField) {
  TestLoop loop(1);
  loop.AddNode();
  HeartbeatConfig config;
  config.timeout = milliseconds(600);
  Heartbeat hb(loop.env(0), config);
  Status s = hb.Start({});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.ToString(),
            "timeout: attempts * timeout must fit in one interval; lower attempts or timeout, or "
            "raise interval");
}

TEST(Heartbeat, SameSeedReplaysExactlyUnderFaults) {
  auto run = [](uint64_t seed) {
    TestNetwork net;
    net.jitter = milliseconds(2);
    Mesh m(seed, 5, {}, net);
    m.plan.set_drop_rate(0.2);
    m.plan.set_duplicate_rate(0.05);
    m.loop.RunFor(seconds(10));
    m.plan.Isolate(3);
    m.loop.RunFor(seconds(10));
    return m.loop.trace_digest();
  };
  for (uint64_t seed = 1; seed <= 5; ++seed) EXPECT_EQ(run(seed), run(seed));
  EXPECT_NE(run(1), run(2));
}

}  // namespace
}  // namespace edgebed
