#include "core/env/fault_env.h"

#include <gtest/gtest.h>

#include <memory>

#include "core/env/test_loop.h"

namespace edgebed {
namespace {

using std::chrono::milliseconds;

struct World {
  explicit World(uint64_t seed, int n = 3) : loop(seed) {
    for (int i = 0; i < n; ++i) {
      NodeId id = loop.AddNode();
      envs.push_back(std::make_unique<FaultEnv>(loop.env(id), plan));
      received.push_back(0);
      (void)envs.back()->Listen(1, [this, id](NodeId, ByteView) { ++received[id]; });
    }
  }
  TestLoop loop;
  FaultPlan plan;
  std::vector<std::unique_ptr<FaultEnv>> envs;
  std::vector<int> received;
};

TEST(FaultEnv, DropRateLosesAboutThatShare) {
  World w(3);
  w.plan.set_drop_rate(0.3);
  for (int i = 0; i < 10000; ++i) w.envs[0]->Send(1, 1, ToBytes("m"));
  w.loop.RunUntilIdle();
  EXPECT_NEAR(w.received[1], 7000, 200);
  EXPECT_EQ(w.plan.stats().dropped, 10000u - w.received[1]);
}

TEST(FaultEnv, DuplicatesArriveTwice) {
  World w(4);
  w.plan.set_duplicate_rate(1.0);
  for (int i = 0; i < 10; ++i) w.envs[0]->Send(1, 1, ToBytes("m"));
  w.loop.RunUntilIdle();
  EXPECT_EQ(w.received[1], 20);
}

TEST(FaultEnv, DelayAddsLatencyWithinBounds) {
  World w(5);
  w.plan.set_delay(milliseconds(10), milliseconds(20));
  std::vector<Time> at;
  w.envs[1]->Unlisten(1);
  ASSERT_TRUE(w.envs[1]->Listen(1, [&](NodeId, ByteView) { at.push_back(w.loop.now()); }).ok());
  for (int i = 0; i < 100; ++i) w.envs[0]->Send(1, 1, ToBytes("m"));
  w.loop.RunUntilIdle();
  ASSERT_EQ(at.size(), 100u);
  for (Time t : at) {
    EXPECT_GE(t, Time(milliseconds(11)));  // 1 ms network + at least 10 ms
    EXPECT_LE(t, Time(milliseconds(21)));
  }
}

TEST(FaultEnv, PartitionSplitsAndHealJoins) {
  World w(6, 4);
  w.plan.Partition({{0, 1}, {2}});  // node 3 is on the side of the unnamed
  EXPECT_TRUE(w.plan.Reachable(0, 1));
  EXPECT_FALSE(w.plan.Reachable(0, 2));
  EXPECT_FALSE(w.plan.Reachable(1, 3));
  EXPECT_FALSE(w.plan.Reachable(2, 3));
  for (NodeId to = 0; to < 4; ++to) w.envs[0]->Send(to, 1, ToBytes("m"));
  w.loop.RunUntilIdle();
  EXPECT_EQ(w.received, (std::vector<int>{1, 1, 0, 0}));
  w.plan.Heal();
  for (NodeId to = 0; to < 4; ++to) w.envs[0]->Send(to, 1, ToBytes("m"));
  w.loop.RunUntilIdle();
  EXPECT_EQ(w.received, (std::vector<int>{2, 2, 1, 1}));
}

TEST(FaultEnv, PartitionStopsMessagesAlreadyInFlight) {
  World w(7);
  w.envs[0]->Send(1, 1, ToBytes("m"));  // arrives after 1 ms
  w.plan.Isolate(1);
  w.loop.RunUntilIdle();
  EXPECT_EQ(w.received[1], 0);
  EXPECT_EQ(w.plan.stats().partitioned, 1u);
}

TEST(FaultEnv, BlockedLinkIsOneWay) {
  World w(8);
  w.plan.BlockLink(0, 1);
  w.envs[0]->Send(1, 1, ToBytes("m"));
  w.envs[1]->Send(0, 1, ToBytes("m"));
  w.loop.RunUntilIdle();
  EXPECT_EQ(w.received[1], 0);
  EXPECT_EQ(w.received[0], 1);
}

TEST(FaultEnv, FailedDiskFailsEveryOperationUntilRepaired) {
  World w(9);
  w.plan.FailDisk(0, true);
  Status write = Status::Ok(), sync = Status::Ok();
  w.envs[0]->disk().Write("f", 0, ToBytes("x"), [&](Status s) { write = s; });
  w.envs[0]->disk().Sync("f", [&](Status s) { sync = s; });
  w.loop.RunUntilIdle();
  EXPECT_EQ(write.code(), StatusCode::kIoError);
  EXPECT_EQ(write.ToString(), "f: write failed: injected disk failure on node 0");
  EXPECT_EQ(sync.code(), StatusCode::kIoError);
  w.plan.FailDisk(0, false);
  w.envs[0]->disk().Write("f", 0, ToBytes("x"), [&](Status s) { write = s; });
  w.loop.RunUntilIdle();
  EXPECT_TRUE(write.ok());
}

TEST(FaultEnv, FaultsReplayFromTheSeed) {
  auto run = [](uint64_t seed) {
    World w(seed);
    w.plan.set_drop_rate(0.2);
    w.plan.set_duplicate_rate(0.1);
    w.plan.set_delay(milliseconds(0), milliseconds(5));
    for (int i = 0; i < 500; ++i) w.envs[i % 3]->Send((i + 1) % 3, 1, ToBytes("m"));
    w.loop.RunUntilIdle();
    return std::make_pair(w.loop.trace_digest(), w.received);
  };
  EXPECT_EQ(run(11), run(11));
  EXPECT_NE(run(11).first, run(12).first);
}

TEST(FaultEnv, DestroyingTheWrapperCancelsDelayedSends) {
  TestLoop loop(1);
  NodeId a = loop.AddNode(), b = loop.AddNode();
  FaultPlan plan;
  int got = 0;
  ASSERT_TRUE(loop.env(b).Listen(1, [&](NodeId, ByteView) { ++got; }).ok());
  {
    FaultEnv fa(loop.env(a), plan);
    plan.set_delay(milliseconds(5), milliseconds(5));
    fa.Send(b, 1, ToBytes("m"));
  }
  loop.RunUntilIdle();
  EXPECT_EQ(got, 0);
}

}  // namespace
}  // namespace edgebed
