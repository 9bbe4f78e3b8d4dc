#include "core/env/test_loop.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace edgebed {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(TestLoop, TimersFireInTimeThenSchedulingOrder) {
  TestLoop loop(1);
  Env& env = loop.env(loop.AddNode());
  std::vector<int> order;
  env.Schedule(milliseconds(20), [&] { order.push_back(3); });
  env.Schedule(milliseconds(10), [&] { order.push_back(1); });
  env.Schedule(milliseconds(10), [&] { order.push_back(2); });
  env.Schedule(milliseconds(-5), [&] { order.push_back(0); });
  loop.RunUntilIdle();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(loop.now(), Time(milliseconds(20)));
}

TEST(TestLoop, CancelStopsATimerOnceOnly) {
  TestLoop loop(1);
  Env& env = loop.env(loop.AddNode());
  int fired = 0;
  TimerId t = env.Schedule(seconds(1), [&] { ++fired; });
  EXPECT_TRUE(env.Cancel(t));
  EXPECT_FALSE(env.Cancel(t));
  TimerId done = env.Schedule(seconds(1), [&] { ++fired; });
  loop.RunUntilIdle();
  EXPECT_EQ(fired, 1);
  EXPECT_FALSE(env.Cancel(done));
}

TEST(TestLoop, ScheduleIsNeverSynchronous) {
  TestLoop loop(1);
  Env& env = loop.env(loop.AddNode());
  bool ran = false;
  env.Schedule(Duration::zero(), [&] { ran = true; });
  EXPECT_FALSE(ran);
  loop.Step();
  EXPECT_TRUE(ran);
}

TEST(TestLoop, MessagesArriveAfterLatencyInOrder) {
  TestNetwork net;
  net.latency = milliseconds(5);
  net.jitter = milliseconds(3);
  TestLoop loop(9, net);
  NodeId a = loop.AddNode(), b = loop.AddNode();
  std::vector<std::string> got;
  std::vector<Time> at;
  ASSERT_TRUE(loop.env(b).Listen(3, [&](NodeId from, ByteView m) {
    EXPECT_EQ(from, a);
    got.emplace_back(m.AsStringView());
    at.push_back(loop.now());
  }).ok());
  for (int i = 0; i < 50; ++i) loop.env(a).Send(b, 3, ToBytes(std::to_string(i)));
  loop.RunUntilIdle();
  ASSERT_EQ(got.size(), 50u);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(got[i], std::to_string(i));
  for (Time t : at) {
    EXPECT_GE(t, Time(milliseconds(5)));
    EXPECT_LE(t, Time(milliseconds(8)));
  }
}

TEST(TestLoop, BandwidthSerializesLargeMessages) {
  TestNetwork net;
  net.latency = milliseconds(1);
  net.bandwidth_bps = 8e6;  // 1 MB/s
  TestLoop loop(1, net);
  NodeId a = loop.AddNode(), b = loop.AddNode();
  std::vector<Time> at;
  ASSERT_TRUE(loop.env(b).Listen(1, [&](NodeId, ByteView m) {
    EXPECT_EQ(m.size(), 100000u);
    at.push_back(loop.now());
  }).ok());
  loop.env(a).Send(b, 1, Bytes(100000, 7));
  loop.env(a).Send(b, 1, Bytes(100000, 7));
  loop.RunUntilIdle();
  ASSERT_EQ(at.size(), 2u);
  EXPECT_EQ(at[0], Time(milliseconds(101)));
  EXPECT_EQ(at[1], Time(milliseconds(201)));
}

TEST(TestLoop, ListenRejectsATakenPortAndDropsToClosedPorts) {
  TestLoop loop(1);
  NodeId a = loop.AddNode();
  Env& env = loop.env(a);
  ASSERT_TRUE(env.Listen(5, [](NodeId, ByteView) {}).ok());
  EXPECT_EQ(env.Listen(5, [](NodeId, ByteView) {}).code(), StatusCode::kAlreadyExists);
  env.Send(a, 6, ToBytes("nobody"));
  env.Send(a, 5, ToBytes("self"));
  loop.RunUntilIdle();
  EXPECT_EQ(loop.stats().messages_delivered, 1u);
  EXPECT_EQ(loop.stats().messages_dropped, 1u);
}

TEST(TestLoop, OversizedAndUnknownDestinationsAreDroppedWithAnEvent) {
  TestLoop loop(1);
  NodeId a = loop.AddNode();
  loop.env(a).Send(99, 1, ToBytes("x"));
  loop.env(a).Send(a, 1, Bytes(Env::kMaxMessageSize + 1));
  EXPECT_EQ(loop.stats().messages_dropped, 2u);
  EXPECT_EQ(loop.sink().EventsOfKind("env.send_dropped").size(), 2u);
}

TEST(TestLoop, CrashKillsTimersListenersAndUnsyncedWrites) {
  TestLoop loop(1);
  NodeId a = loop.AddNode(), b = loop.AddNode();
  int fired = 0, received = 0;
  loop.env(a).Schedule(seconds(1), [&] { ++fired; });
  ASSERT_TRUE(loop.env(a).Listen(1, [&](NodeId, ByteView) { ++received; }).ok());
  loop.env(a).disk().Write("f", 0, ToBytes("lost"), [](Status) {});
  loop.RunFor(milliseconds(10));
  loop.Crash(a);
  loop.env(b).Send(a, 1, ToBytes("to the dead"));
  loop.RunFor(seconds(2));
  EXPECT_EQ(fired, 0);
  EXPECT_EQ(received, 0);
  loop.Restart(a);
  EXPECT_TRUE(loop.IsUp(a));
  bool missing = false;
  loop.env(a).disk().Size("f", [&](StatusOr<uint64_t> s) {
    missing = s.status().code() == StatusCode::kNotFound;
  });
  loop.RunUntilIdle();
  EXPECT_TRUE(missing);
  // The restarted node can listen and schedule again.
  ASSERT_TRUE(loop.env(a).Listen(1, [&](NodeId, ByteView) { ++received; }).ok());
  loop.env(b).Send(a, 1, ToBytes("hello again"));
  loop.RunUntilIdle();
  EXPECT_EQ(received, 1);
}

// A small chatty system whose every step depends on random draws and message
// timing: the trace must be a pure function of the seed.
uint64_t RunGossip(uint64_t seed, std::vector<std::string>* trace) {
  TestNetwork net;
  net.jitter = milliseconds(4);
  net.fifo = false;
  TestLoop loop(seed, net);
  loop.RecordTrace(trace != nullptr);
  const int n = 8;
  for (int i = 0; i < n; ++i) loop.AddNode();
  for (NodeId i = 0; i < n; ++i) {
    Env& env = loop.env(i);
    (void)env.Listen(1, [&env, n](NodeId, ByteView m) {
      if (m.size() < 40) {
        Bytes next(m.begin(), m.end());
        next.push_back(static_cast<uint8_t>(env.random().Uniform(256)));
        env.Send(static_cast<NodeId>(env.random().Uniform(n)), 1, next);
      }
    });
    env.Schedule(milliseconds(env.random().Uniform(10)), [&env, n] {
      env.Send(static_cast<NodeId>(env.random().Uniform(n)), 1, ToBytes("x"));
    });
  }
  loop.RunUntilIdle();
  if (trace) *trace = loop.trace();
  return loop.trace_digest();
}

TEST(TestLoop, SameSeedGivesTheIdenticalEventTrace) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    std::vector<std::string> first, second;
    const uint64_t d1 = RunGossip(seed, &first);
    const uint64_t d2 = RunGossip(seed, &second);
    ASSERT_EQ(first, second) << "seed " << seed;
    ASSERT_EQ(d1, d2) << "seed " << seed;
    ASSERT_GT(first.size(), 100u);
  }
  EXPECT_NE(RunGossip(1, nullptr), RunGossip(2, nullptr));
}

}  // namespace
}  // namespace edgebed
