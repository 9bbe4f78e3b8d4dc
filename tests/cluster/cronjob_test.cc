// CronJobs in the cluster, end to end on the test loop, on the wall clock
// 2026-01-01T00:00:00Z at the loop's time zero: Jobs named after their
// scheduled minute, Allow / Forbid / Replace, suspend and the missed run
// it leaves, startingDeadlineSeconds, history limits, and a restarted
// server that neither repeats a run nor runs every one it missed.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "core/storage/schedule.h"
#include "tests/cluster/harness.h"

namespace edgebed::cluster {
namespace {

using testing::Cluster;
using testing::ClusterOptions;

const int64_t kEpochMinute = storage::UnixSeconds(2026, 1, 1) / 60;

ClusterOptions Options() {
  ClusterOptions o;
  o.nodes = 3;
  o.floors = 1;
  return o;
}

std::string CronYaml(const std::string& spec, double run_seconds, int exit_code = 0) {
  return R"(apiVersion: batch/v1
kind: CronJob
metadata: {name: report, namespace: default}
spec:
  schedule: "* * * * *"
)" + spec + R"(  jobTemplate:
    metadata: {labels: {made-by: report}}
    spec:
      backoffLimit: 0
      template:
        metadata:
          annotations: {edgebed.io/run-seconds: ")" + std::to_string(run_seconds) + R"(", edgebed.io/exit-code: ")" +
         std::to_string(exit_code) + R"("}
        spec:
          restartPolicy: Never
          containers: [{name: report, image: busybox, resources: {requests: {cpu: 100m}}}]
)";
}

std::map<std::string, JobInfo> Jobs(Cluster& c) {
  std::map<std::string, JobInfo> out;
  for (const JobInfo& j : c.server().Jobs())
    if (j.owner == "CronJob/report") out[j.name] = j;
  return out;
}

int Active(const std::map<std::string, JobInfo>& jobs) {
  return static_cast<int>(std::count_if(jobs.begin(), jobs.end(), [](const auto& j) { return j.second.condition.empty(); }));
}

std::string JobAt(int64_t minute_after_epoch) { return "report-" + std::to_string(kEpochMinute + minute_after_epoch); }

// Runs until the loop's clock reads `minute`:`second` after the epoch.
void RunTo(Cluster& c, int minute, int second = 0) {
  const Time at = Time(std::chrono::minutes(minute) + std::chrono::seconds(second));
  if (c.loop().now() < at) c.loop().RunFor(at - c.loop().now());
}

TEST(CronJobTest, EachScheduledMinuteMakesAJobNamedAfterIt) {
  Cluster c(1, Options());
  c.Start();
  ASSERT_TRUE(c.Apply(CronYaml("", 5)).status.ok());
  RunTo(c, 4, 30);
  const auto jobs = Jobs(c);
  // Minutes 1-4 each made one; minute 1's has gone with the default
  // successfulJobsHistoryLimit of 3.
  EXPECT_EQ(jobs.size(), 3u);
  EXPECT_FALSE(jobs.count(JobAt(1)));
  for (int m = 2; m <= 4; ++m) {
    ASSERT_TRUE(jobs.count(JobAt(m))) << JobAt(m);
    EXPECT_EQ(jobs.at(JobAt(m)).condition, "Complete");
  }
  const CronJobInfo cj = c.server().CronJobs().at(0);
  EXPECT_EQ(cj.last_schedule_unix, (kEpochMinute + 4) * 60);
  EXPECT_EQ(cj.next_schedule_unix, (kEpochMinute + 5) * 60);
  EXPECT_GE(cj.last_successful_unix, (kEpochMinute + 4) * 60);
  // The Job carries the template's labels and its pods the Job's name.
  const auto stored = c.server().Get("Job", "default", JobAt(2));
  ASSERT_TRUE(stored.has_value());
  EXPECT_NE(stored->manifest.find("made-by: report"), std::string::npos);
  EXPECT_NE(stored->manifest.find("2026-01-01T00:02:00Z"), std::string::npos);
}

TEST(CronJobTest, AllowRunsJobsSideBySide) {
  Cluster c(2, Options());
  c.Start();
  ASSERT_TRUE(c.Apply(CronYaml("", 150)).status.ok());
  int most = 0;
  for (int s = 0; s < 5 * 60; s += 5) {
    RunTo(c, 0, s);
    most = std::max(most, Active(Jobs(c)));
  }
  EXPECT_GE(most, 2);
}

TEST(CronJobTest, ForbidSkipsARunWhileOneIsActiveAndRunsItWhenThatEnds) {
  Cluster c(3, Options());
  c.Start();
  ASSERT_TRUE(c.Apply(CronYaml("  concurrencyPolicy: Forbid\n", 90)).status.ok());
  int most = 0;
  for (int s = 0; s < 6 * 60; s += 2) {
    RunTo(c, 0, s);
    most = std::max(most, Active(Jobs(c)));
  }
  EXPECT_EQ(most, 1);
  // Minute 1 runs ~90 s; minute 2 is skipped while it runs and, with no
  // deadline, runs as soon as it ends (upstream's missed-run catch-up) —
  // so the Job after minute 1's is minute 2's, made late, not minute 3's.
  const auto jobs = Jobs(c);
  ASSERT_TRUE(jobs.count(JobAt(1)));
  ASSERT_TRUE(jobs.count(JobAt(2)));
  EXPECT_FALSE(jobs.count(JobAt(3)));
}

TEST(CronJobTest, ReplaceStopsTheActiveJobForTheNewOne) {
  Cluster c(4, Options());
  c.Start();
  ASSERT_TRUE(c.Apply(CronYaml("  concurrencyPolicy: Replace\n", 90)).status.ok());
  int most = 0;
  for (int s = 0; s < 4 * 60 + 30; s += 2) {
    RunTo(c, 0, s);
    most = std::max(most, Active(Jobs(c)));
  }
  EXPECT_EQ(most, 1);
  const auto jobs = Jobs(c);
  // Each minute's Job replaced the one before: only minute 4's is left.
  EXPECT_EQ(jobs.size(), 1u);
  EXPECT_TRUE(jobs.count(JobAt(4)));
  for (const PodInfo& p : c.server().Pods()) EXPECT_EQ(p.labels.at("job-name"), JobAt(4)) << p.name;
}

TEST(CronJobTest, SuspendMakesNoJobsAndResumingRunsTheNewestMissedOne) {
  Cluster c(5, Options());
  c.Start();
  ASSERT_TRUE(c.Apply(CronYaml("  suspend: true\n", 5)).status.ok());
  RunTo(c, 3, 30);
  EXPECT_TRUE(Jobs(c).empty());
  ASSERT_TRUE(c.Apply(CronYaml("", 5)).status.ok());
  c.loop().RunFor(std::chrono::seconds(1));
  // Minutes 1-3 were missed: only minute 3's runs, at once.
  const auto jobs = Jobs(c);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_TRUE(jobs.count(JobAt(3)));
}

TEST(CronJobTest, StartingDeadlineSecondsLetsAMissedRunGo) {
  Cluster c(6, Options());
  c.Start();
  ASSERT_TRUE(c.Apply(CronYaml("  suspend: true\n  startingDeadlineSeconds: 10\n", 5)).status.ok());
  RunTo(c, 3, 30);
  ASSERT_TRUE(c.Apply(CronYaml("  startingDeadlineSeconds: 10\n", 5)).status.ok());
  c.loop().RunFor(std::chrono::seconds(1));
  EXPECT_TRUE(Jobs(c).empty());  // minute 3 is 30 s gone, past its 10 s
  RunTo(c, 4, 5);
  EXPECT_TRUE(Jobs(c).count(JobAt(4)));
}

TEST(CronJobTest, HistoryLimitsDeleteOlderFinishedJobsWithTheirPods) {
  Cluster c(7, Options());
  c.Start();
  ASSERT_TRUE(c.Apply(CronYaml("  successfulJobsHistoryLimit: 2\n", 3)).status.ok());
  RunTo(c, 6, 30);
  const auto jobs = Jobs(c);
  EXPECT_EQ(jobs.size(), 2u);
  EXPECT_TRUE(jobs.count(JobAt(5)));
  EXPECT_TRUE(jobs.count(JobAt(6)));
  for (const PodInfo& p : c.server().Pods())
    EXPECT_TRUE(p.labels.at("job-name") == JobAt(5) || p.labels.at("job-name") == JobAt(6)) << p.name;
  // Failed Jobs keep one by default.
  ASSERT_TRUE(c.Delete("CronJob", "default", "report").ok());
  c.loop().RunFor(std::chrono::seconds(1));
  EXPECT_TRUE(Jobs(c).empty());
  EXPECT_TRUE(c.server().Pods().empty());
  ASSERT_TRUE(c.Apply(CronYaml("", 3, /*exit_code=*/1)).status.ok());
  RunTo(c, 10, 30);
  const auto failed = Jobs(c);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed.begin()->second.condition, "Failed");
  EXPECT_EQ(failed.begin()->first, JobAt(10));
}

TEST(CronJobTest, ARestartedServerNeitherRepeatsARunNorRunsEveryOneItMissed) {
  Cluster c(8, Options());
  c.Start();
  ASSERT_TRUE(c.Apply(CronYaml("  successfulJobsHistoryLimit: 10\n", 5)).status.ok());
  RunTo(c, 2, 30);
  ASSERT_EQ(Jobs(c).size(), 2u);
  c.CrashServer();
  RunTo(c, 6, 30);  // minutes 3-6 pass without a server
  c.RestartServer();
  c.loop().RunFor(std::chrono::seconds(5));
  auto jobs = Jobs(c);
  EXPECT_EQ(jobs.size(), 3u);  // 1, 2, and only the newest missed: 6
  EXPECT_TRUE(jobs.count(JobAt(1)) && jobs.count(JobAt(2)) && jobs.count(JobAt(6)));
  RunTo(c, 7, 30);
  jobs = Jobs(c);
  EXPECT_EQ(jobs.size(), 4u);
  EXPECT_TRUE(jobs.count(JobAt(7)));
  for (const auto& [name, j] : jobs) EXPECT_EQ(j.condition, "Complete") << name;
}

}  // namespace
}  // namespace edgebed::cluster
