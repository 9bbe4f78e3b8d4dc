// The scheduling queue: priority order, backoff doubling, event-driven moves.
#include "core/sched/queue.h"

#include <gtest/gtest.h>

namespace edgebed::sched {
namespace {

using std::chrono::seconds;

Time At(int s) { return Time{} + seconds(s); }

SchedulingQueue MakeQueue() { return SchedulingQueue(seconds(1), seconds(10), std::chrono::minutes(5)); }

TEST(SchedulingQueue, PopsHighestPriorityThenOldestThenFirstAdded) {
  SchedulingQueue q = MakeQueue();
  q.Add("ns/late-low", 0, At(2));
  q.Add("ns/b", 10, At(1));
  q.Add("ns/a", 10, At(1));
  q.Add("ns/early-low", 0, At(0));
  q.Add("ns/high", 100, At(3));
  std::vector<std::string> order;
  while (auto k = q.Pop(At(3))) order.push_back(*k);
  EXPECT_EQ(order, (std::vector<std::string>{"ns/high", "ns/b", "ns/a", "ns/early-low", "ns/late-low"}));
}

TEST(SchedulingQueue, BackoffDoublesPerAttemptUpToTheMaximum) {
  SchedulingQueue q = MakeQueue();
  q.Add("ns/p", 0, At(0));
  int now = 0;
  std::vector<int> waits;
  for (int attempt = 0; attempt < 6; ++attempt) {
    ASSERT_TRUE(q.Pop(At(now)).has_value());
    q.Failed("ns/p", kPodDelete, At(now));
    q.OnEvent(kPodDelete, At(now));  // an event moves it on, but only as far as backoff
    EXPECT_FALSE(q.Pop(At(now)).has_value());
    ASSERT_TRUE(q.NextBackoffExpiry().has_value());
    const int until = static_cast<int>(std::chrono::duration_cast<seconds>(
                                           q.NextBackoffExpiry()->time_since_epoch()).count());
    waits.push_back(until - now);
    now = until;
  }
  EXPECT_EQ(waits, (std::vector<int>{1, 2, 4, 8, 10, 10}));
}

TEST(SchedulingQueue, UnschedulablePodsWaitForAnEventThatCouldHelp) {
  SchedulingQueue q = MakeQueue();
  q.Add("ns/p", 0, At(0));
  ASSERT_TRUE(q.Pop(At(0)));
  q.Failed("ns/p", kNodeAdd | kNodeUpdate, At(0));
  EXPECT_EQ(q.unschedulable(), 1u);
  q.OnEvent(kPodAdd, At(30));  // cannot help: stays
  EXPECT_FALSE(q.Pop(At(30)).has_value());
  EXPECT_EQ(q.unschedulable(), 1u);
  q.OnEvent(kNodeAdd, At(31));  // backoff long over: straight to active
  EXPECT_EQ(q.Pop(At(31)), std::optional<std::string>("ns/p"));
}

TEST(SchedulingQueue, NothingHelpsButTimeAfterFiveMinutes) {
  SchedulingQueue q = MakeQueue();
  q.Add("ns/p", 0, At(0));
  ASSERT_TRUE(q.Pop(At(0)));
  q.Failed("ns/p", 0, At(0));
  EXPECT_FALSE(q.Pop(At(300)).has_value());
  EXPECT_EQ(q.Pop(At(301)), std::optional<std::string>("ns/p"));
}

TEST(SchedulingQueue, RemoveForgetsAPodWhereverItIs) {
  SchedulingQueue q = MakeQueue();
  q.Add("ns/a", 0, At(0));
  q.Add("ns/b", 0, At(0));
  ASSERT_EQ(q.Pop(At(0)), std::optional<std::string>("ns/a"));
  q.Failed("ns/a", kPodDelete, At(0));
  q.Remove("ns/a");
  q.Remove("ns/b");
  q.OnEvent(kAnyEvent, At(100));
  EXPECT_FALSE(q.Pop(At(100)).has_value());
  EXPECT_FALSE(q.Contains("ns/a"));
  EXPECT_EQ(q.active() + q.backing_off() + q.unschedulable(), 0u);
}

}  // namespace
}  // namespace edgebed::sched
