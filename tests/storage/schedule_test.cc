#include "core/storage/schedule.h"

#include <gtest/gtest.h>

#include <memory>

#include "core/env/random.h"
#include "core/env/test_loop.h"

namespace edgebed::storage {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

TEST(Civil, KnownDatesAndRoundTrips) {
  EXPECT_EQ(UnixSeconds(1970, 1, 1), 0);
  EXPECT_EQ(UnixSeconds(2000, 3, 1), 951868800);
  const CivilTime c = ToCivil(UnixSeconds(2026, 1, 1));
  EXPECT_EQ(c.weekday, 4);  // a Thursday
  EXPECT_EQ(ToCivil(UnixSeconds(2024, 2, 29, 23, 59, 59)).day, 29);
  EXPECT_EQ(ToCivil(UnixSeconds(2024, 2, 29, 23, 59, 59) + 1).month, 3);
  Random r(5);
  for (int i = 0; i < 20000; ++i) {
    const int64_t t = r.UniformInt(-2'000'000'000LL, 13'000'000'000LL);
    const CivilTime x = ToCivil(t);
    ASSERT_EQ(UnixSeconds(x.year, x.month, x.day, x.hour, x.minute, x.second), t) << t;
    ASSERT_EQ(x.weekday, ToCivil(t - 7 * 86400).weekday);
  }
}

TEST(SchedulePolicy, BadPoliciesNameTheField) {
  SchedulePolicy p;
  EXPECT_EQ(ValidateSchedulePolicy(p).where(), "policy");
  p.interval = IntervalRule{milliseconds(10), 3};
  EXPECT_EQ(ValidateSchedulePolicy(p).where(), "policy.interval.every");
  p.interval = IntervalRule{minutes(5), -1};
  EXPECT_EQ(ValidateSchedulePolicy(p).where(), "policy.interval.retain");
  p.interval.reset();
  p.daily = CalendarRule{1440, 0, 1, 0};
  EXPECT_EQ(ValidateSchedulePolicy(p).where(), "policy.daily.minute_of_day");
  p.daily.reset();
  p.weekly = CalendarRule{0, 7, 1, 0};
  EXPECT_EQ(ValidateSchedulePolicy(p).where(), "policy.weekly.weekday");
  p.weekly.reset();
  p.monthly = CalendarRule{0, 0, 32, 0};
  EXPECT_EQ(ValidateSchedulePolicy(p).where(), "policy.monthly.day_of_month");
}

// A volume on a test loop, a scheduler beside its controller.
// With `months`, only the controller runs, ticking slowly, so that months
// of simulated time pass in a moment: the snapshots are asked for, never taken.
struct World {
  explicit World(SnapshotScheduler::Options o = {}, bool months = false) : loop(1) {
    ReplicationOptions r;
    r.lease = months ? hours(1) : milliseconds(800);
    r.ack_timeout = milliseconds(100);
    for (int i = 0; i < 3; ++i) loop.AddNode();
    controller = std::make_unique<VolumeController>(loop.env(0), r);
    if (!months) {
      for (NodeId n : {1u, 2u}) nodes.push_back(std::make_unique<StorageNode>(loop.env(n), 0, r));
    }
    EXPECT_TRUE(controller->CreateVolume({"v", 64, 8}, {1, 2}).ok());
    scheduler = std::make_unique<SnapshotScheduler>(loop.env(0), *controller, std::move(o));
  }
  std::vector<std::string> Snapshots() {
    std::vector<std::string> names;
    for (const SnapshotRecord& s : controller->Find("v")->snapshots) names.push_back(s.name);
    return names;
  }
  TestLoop loop;
  std::unique_ptr<VolumeController> controller;
  std::vector<std::unique_ptr<StorageNode>> nodes;
  std::unique_ptr<SnapshotScheduler> scheduler;
};

TEST(SnapshotScheduler, IntervalSnapshotsKeepTheLastRetained) {
  std::vector<std::string> ready;
  SnapshotScheduler::Options o;
  o.on_ready = [&](const std::string& volume, const std::string& policy, const SnapshotRecord& s) {
    EXPECT_EQ(volume, "v");
    EXPECT_EQ(policy, "every-minute");
    EXPECT_TRUE(s.ready);
    ready.push_back(s.name);
  };
  World w(std::move(o));
  SchedulePolicy p;
  p.interval = IntervalRule{minutes(1), 3};
  EXPECT_EQ(w.scheduler->Add("nope", "every-minute", p).code(), StatusCode::kNotFound);
  EXPECT_EQ(w.scheduler->Add("v", "bad name", p).where(), "policy name");
  ASSERT_TRUE(w.scheduler->Add("v", "every-minute", p).ok());
  w.loop.RunFor(minutes(5) + seconds(30));
  EXPECT_EQ(w.scheduler->stats().taken, 5u);
  EXPECT_EQ(w.scheduler->stats().deleted, 2u);
  const std::vector<std::string> kept = w.Snapshots();
  ASSERT_EQ(kept.size(), 3u);
  EXPECT_EQ(kept[0], "every-minute-interval-20260101-000300-3");
  EXPECT_EQ(kept[2], "every-minute-interval-20260101-000500-5");
  EXPECT_EQ(ready.size(), 5u);  // each once, as it became ready
  // Snapshots taken by hand are not the schedule's to delete.
  ASSERT_TRUE(w.controller->CreateSnapshot("v", "by-hand").ok());
  w.loop.RunFor(minutes(5));
  EXPECT_NE(w.controller->Find("v")->FindSnapshot("by-hand"), nullptr);
  EXPECT_EQ(w.Snapshots().size(), 4u);
}

TEST(SnapshotScheduler, ARestartedSchedulerTakesBackWhatItsRulesTook) {
  int announced = 0;
  SnapshotScheduler::Options o;
  o.on_ready = [&](const std::string&, const std::string&, const SnapshotRecord&) { ++announced; };
  World w(o);
  SchedulePolicy p;
  p.interval = IntervalRule{minutes(1), 3};
  ASSERT_TRUE(w.scheduler->Add("v", "every-minute", p).ok());
  ASSERT_TRUE(w.controller->CreateSnapshot("v", "every-minute-by-hand").ok());  // not a rule's name
  w.loop.RunFor(minutes(4) + seconds(30));
  ASSERT_EQ(announced, 4);
  // The server restarts: a new scheduler, the same controller; the policy now keeps 2.
  w.scheduler = std::make_unique<SnapshotScheduler>(w.loop.env(0), *w.controller, o);
  p.interval->retain = 2;
  ASSERT_TRUE(w.scheduler->Add("v", "every-minute", p).ok());
  EXPECT_EQ(w.Snapshots(), (std::vector<std::string>{"every-minute-by-hand", "every-minute-interval-20260101-000300-3",
                                                     "every-minute-interval-20260101-000400-4"}));
  w.loop.RunFor(minutes(1) + seconds(10));
  EXPECT_EQ(announced, 5);  // the new one only
  const std::vector<std::string> kept = w.Snapshots();
  ASSERT_EQ(kept.size(), 3u);
  EXPECT_EQ(kept[0], "every-minute-by-hand");
  EXPECT_EQ(kept[1], "every-minute-interval-20260101-000400-4");
}

TEST(SnapshotScheduler, CalendarRulesFallOnTheirDays) {
  SnapshotScheduler::Options o;
  o.tick = minutes(1);
  World w(std::move(o), /*months=*/true);
  SchedulePolicy p;
  p.daily = CalendarRule{22 * 60 + 14, 0, 1, 2};    // 10:14PM, keep 2
  p.weekly = CalendarRule{60, 0, 1, 0};             // Sundays 1:00AM, keep Stork's 7
  p.monthly = CalendarRule{8 * 60 + 5, 0, 31, 0};  // the 31st 8:05AM (February's rolls over to March 3)
  ASSERT_TRUE(w.scheduler->Add("v", "cal", p).ok());
  w.loop.RunFor(hours(24 * 62));  // 2026-01-01 to 2026-03-04
  std::vector<std::string> weekly, monthly, daily;
  for (const std::string& n : w.Snapshots()) {
    if (n.find("-weekly-") != std::string::npos) weekly.push_back(n.substr(11, 15));
    if (n.find("-monthly-") != std::string::npos) monthly.push_back(n.substr(12, 15));
    if (n.find("-daily-") != std::string::npos) daily.push_back(n.substr(10, 15));
  }
  // The last seven Sundays before March 4, 2026, at 1:00.
  EXPECT_EQ(weekly, (std::vector<std::string>{"20260118-010000", "20260125-010000", "20260201-010000",
                                              "20260208-010000", "20260215-010000", "20260222-010000",
                                              "20260301-010000"}));
  EXPECT_EQ(monthly, (std::vector<std::string>{"20260131-080500", "20260303-080500"}));
  EXPECT_EQ(daily, (std::vector<std::string>{"20260302-221400", "20260303-221400"}));
}

}  // namespace
}  // namespace edgebed::storage
