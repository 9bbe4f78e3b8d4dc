// Jobs in the cluster, end to end on the test loop: never more than
// `parallelism` pods at once and exactly `completions` successes; failed
// pods counted against backoffLimit and replaced after upstream's growing
// back-off; OnFailure restarts in place; activeDeadlineSeconds; a server
// restart mid-Job counts nothing twice; and finished pods give their node's
// resources back to the scheduler.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "tests/cluster/harness.h"

namespace edgebed::cluster {
namespace {

using testing::Cluster;
using testing::ClusterOptions;

ClusterOptions Options(int nodes = 3) {
  ClusterOptions o;
  o.nodes = nodes;
  o.floors = 1;
  return o;
}

// A Job whose pods run `seconds` and exit with `exit_code` (after
// `failures` failed runs), requesting `cpu`.
std::string JobYaml(const std::string& name, const std::string& spec, const std::string& restart_policy,
                    double seconds, int exit_code = 0, int failures = 0, const std::string& cpu = "100m") {
  return R"(apiVersion: batch/v1
kind: Job
metadata: {name: )" + name + R"(, namespace: default}
spec:
)" + spec + R"(  template:
    metadata:
      labels: {app: )" + name + R"(}
      annotations:
        edgebed.io/run-seconds: ")" + std::to_string(seconds) + R"("
        edgebed.io/exit-code: ")" + std::to_string(exit_code) + R"("
        edgebed.io/failures: ")" + std::to_string(failures) + R"("
    spec:
      restartPolicy: )" + restart_policy + R"(
      containers:
      - name: work
        image: busybox
        resources: {requests: {cpu: )" + cpu + R"(, memory: 32Mi}}
)";
}

std::optional<JobInfo> FindJob(Cluster& c, const std::string& name) {
  for (const JobInfo& j : c.server().Jobs())
    if (j.name == name) return j;
  return std::nullopt;
}

std::map<std::string, PodInfo> PodsOf(Cluster& c, const std::string& job) {
  std::map<std::string, PodInfo> out;
  for (const PodInfo& p : c.server().Pods()) {
    auto it = p.labels.find("batch.kubernetes.io/job-name");
    if (it != p.labels.end() && it->second == job) out[p.name] = p;
  }
  return out;
}

int CountPhase(const std::map<std::string, PodInfo>& pods, const std::string& phase) {
  return static_cast<int>(std::count_if(pods.begin(), pods.end(), [&](const auto& p) { return p.second.phase == phase; }));
}

bool Finished(Cluster& c, const std::string& job) {
  auto j = FindJob(c, job);
  return j && (j->condition == "Complete" || j->condition == "Failed");
}

class JobSeeds : public ::testing::TestWithParam<uint64_t> {};
INSTANTIATE_TEST_SUITE_P(Seeds, JobSeeds, ::testing::Range<uint64_t>(1, 4));

TEST_P(JobSeeds, NeverMoreThanParallelismAtOnceAndExactlyCompletionsSucceed) {
  Cluster c(GetParam(), Options());
  c.Start();
  ASSERT_TRUE(c.Apply(JobYaml("batch", "  completions: 7\n  parallelism: 3\n", "Never", 4)).status.ok());
  int most_active = 0;
  ASSERT_TRUE(c.RunUntil(
      [&] {
        const auto pods = PodsOf(c, "batch");
        most_active = std::max(most_active, static_cast<int>(pods.size()) - CountPhase(pods, "Succeeded"));
        return Finished(c, "batch");
      },
      std::chrono::minutes(3), std::chrono::milliseconds(20)));
  EXPECT_EQ(most_active, 3);
  const JobInfo job = *FindJob(c, "batch");
  EXPECT_EQ(job.condition, "Complete");
  EXPECT_EQ(job.succeeded, 7);
  EXPECT_EQ(job.failed, 0);
  EXPECT_EQ(job.active, 0);
  EXPECT_GE(job.completion_ns, job.start_ns);
  const auto pods = PodsOf(c, "batch");
  EXPECT_EQ(pods.size(), 7u);
  EXPECT_EQ(CountPhase(pods, "Succeeded"), 7);
  for (const auto& [name, p] : pods) {
    // <job>-<five characters of the API server's alphabet>, labelled as upstream's.
    ASSERT_EQ(name.size(), std::string("batch-").size() + 5) << name;
    EXPECT_EQ(name.find_first_not_of("bcdfghjklmnpqrstvwxz2456789", 6), std::string::npos) << name;
    EXPECT_EQ(p.labels.at("job-name"), "batch");
    EXPECT_EQ(p.labels.at("controller-uid"), p.labels.at("batch.kubernetes.io/controller-uid"));
    EXPECT_EQ(p.owner, "Job/batch");
  }
}

TEST(JobTest, FailedPodsCountTowardBackoffLimitAndComeBackAfterAGrowingBackOff) {
  Cluster c(5, Options());
  c.Start();
  ASSERT_TRUE(c.Apply(JobYaml("flaky", "  backoffLimit: 2\n", "Never", 1, /*exit_code=*/3)).status.ok());
  std::map<std::string, Time> first_seen;
  ASSERT_TRUE(c.RunUntil(
      [&] {
        for (const auto& [name, p] : PodsOf(c, "flaky")) first_seen.emplace(name, c.loop().now());
        return Finished(c, "flaky");
      },
      std::chrono::minutes(3), std::chrono::milliseconds(50)));
  const JobInfo job = *FindJob(c, "flaky");
  EXPECT_EQ(job.condition, "Failed");
  EXPECT_EQ(job.reason, "BackoffLimitExceeded");
  EXPECT_EQ(job.failed, 3);  // more failures than the limit of 2
  EXPECT_EQ(job.succeeded, 0);
  const auto pods = PodsOf(c, "flaky");
  EXPECT_EQ(CountPhase(pods, "Failed"), 3);
  for (const auto& [name, p] : pods) EXPECT_EQ(p.exit_code, 3) << name << ": the node reports why it failed";
  // Each replacement waits 10 s, then 20 s, after the failure before it.
  std::vector<Time> created;
  for (const auto& [name, at] : first_seen) created.push_back(at);
  std::sort(created.begin(), created.end());
  ASSERT_EQ(created.size(), 3u);
  const double gap1 = ToSeconds(created[1] - created[0]), gap2 = ToSeconds(created[2] - created[1]);
  EXPECT_GE(gap1, 11.0);  // 1 s of run after start-up, then 10 s of back-off
  EXPECT_LT(gap1, 15.0);
  EXPECT_GE(gap2, 21.0);
  EXPECT_LT(gap2, 25.0);
}

TEST(JobTest, OnFailureRestartsTheContainerInPlaceUntilItSucceeds) {
  Cluster c(6, Options());
  c.Start();
  ASSERT_TRUE(c.Apply(JobYaml("retry", "  backoffLimit: 4\n", "OnFailure", 1, 0, /*failures=*/2)).status.ok());
  ASSERT_TRUE(c.RunUntil([&] { return Finished(c, "retry"); }, std::chrono::minutes(3)));
  const JobInfo job = *FindJob(c, "retry");
  EXPECT_EQ(job.condition, "Complete");
  EXPECT_EQ(job.succeeded, 1);
  EXPECT_EQ(job.failed, 0);
  EXPECT_EQ(PodsOf(c, "retry").size(), 1u);  // the same pod, restarted twice
}

TEST(JobTest, OnFailureRestartsCountTowardBackoffLimitAndTheJobFails) {
  Cluster c(7, Options());
  c.Start();
  ASSERT_TRUE(c.Apply(JobYaml("crashloop", "  backoffLimit: 2\n", "OnFailure", 1, /*exit_code=*/1)).status.ok());
  ASSERT_TRUE(c.RunUntil([&] { return Finished(c, "crashloop"); }, std::chrono::minutes(3)));
  const JobInfo job = *FindJob(c, "crashloop");
  EXPECT_EQ(job.condition, "Failed");
  EXPECT_EQ(job.reason, "BackoffLimitExceeded");
  EXPECT_TRUE(PodsOf(c, "crashloop").empty());  // its active pod is removed
}

TEST(JobTest, ActiveDeadlineSecondsFailsTheJobAndRemovesItsPods) {
  Cluster c(8, Options());
  c.Start();
  ASSERT_TRUE(c.Apply(JobYaml("slow", "  parallelism: 2\n  completions: 2\n  activeDeadlineSeconds: 30\n", "Never", 600))
                  .status.ok());
  const Time applied = c.loop().now();
  ASSERT_TRUE(c.RunUntil([&] { return Finished(c, "slow"); }, std::chrono::minutes(2)));
  EXPECT_NEAR(ToSeconds(c.loop().now() - applied), 30.0, 1.0);
  const JobInfo job = *FindJob(c, "slow");
  EXPECT_EQ(job.condition, "Failed");
  EXPECT_EQ(job.reason, "DeadlineExceeded");
  c.loop().RunFor(std::chrono::seconds(1));
  EXPECT_TRUE(PodsOf(c, "slow").empty());
  EXPECT_EQ(c.RunningCount(), 0);
}

TEST(JobTest, IndexedPodsEachCompleteTheirIndexOnce) {
  Cluster c(9, Options());
  c.Start();
  ASSERT_TRUE(c.Apply(JobYaml("shards", "  completions: 4\n  parallelism: 2\n  completionMode: Indexed\n", "Never", 2))
                  .status.ok());
  ASSERT_TRUE(c.RunUntil([&] { return Finished(c, "shards"); }, std::chrono::minutes(2)));
  const JobInfo job = *FindJob(c, "shards");
  EXPECT_EQ(job.condition, "Complete");
  EXPECT_EQ(job.completed_indexes, (std::vector<int32_t>{0, 1, 2, 3}));
  std::set<std::string> indexes;
  for (const auto& [name, p] : PodsOf(c, "shards")) {
    const std::string index = p.labels.at("batch.kubernetes.io/job-completion-index");
    EXPECT_EQ(name.rfind("shards-" + index + "-", 0), 0u) << name;
    indexes.insert(index);
  }
  EXPECT_EQ(indexes, (std::set<std::string>{"0", "1", "2", "3"}));
}

TEST(JobTest, TtlSecondsAfterFinishedDeletesTheJobWithItsPods) {
  Cluster c(11, Options());
  c.Start();
  ASSERT_TRUE(c.Apply(JobYaml("once", "  ttlSecondsAfterFinished: 20\n", "Never", 2)).status.ok());
  ASSERT_TRUE(c.RunUntil([&] { return Finished(c, "once"); }, std::chrono::minutes(1)));
  const Time finished = c.loop().now();
  EXPECT_EQ(PodsOf(c, "once").size(), 1u);
  ASSERT_TRUE(c.RunUntil([&] { return !FindJob(c, "once"); }, std::chrono::minutes(1)));
  EXPECT_NEAR(ToSeconds(c.loop().now() - finished), 20.0, 0.5);
  EXPECT_TRUE(PodsOf(c, "once").empty());
  EXPECT_FALSE(c.server().Get("Job", "default", "once").has_value());
}

TEST_P(JobSeeds, AServerRestartMidJobResumesWithoutCountingAnythingTwice) {
  Cluster c(GetParam() + 20, Options());
  c.Start();
  ASSERT_TRUE(c.Apply(JobYaml("resume", "  completions: 6\n  parallelism: 2\n", "Never", 8)).status.ok());
  ASSERT_TRUE(c.RunUntil([&] { auto j = FindJob(c, "resume"); return j && j->succeeded >= 2; }, std::chrono::minutes(2)));
  c.CrashServer();
  c.loop().RunFor(std::chrono::seconds(12));  // pods finish while the server is away
  c.RestartServer();
  ASSERT_TRUE(c.RunUntil([&] { return Finished(c, "resume"); }, std::chrono::minutes(3)));
  const JobInfo job = *FindJob(c, "resume");
  EXPECT_EQ(job.condition, "Complete");
  EXPECT_EQ(job.succeeded, 6);
  EXPECT_EQ(job.failed, 0);
  EXPECT_EQ(CountPhase(PodsOf(c, "resume"), "Succeeded"), 6);
  EXPECT_EQ(PodsOf(c, "resume").size(), 6u);
}

TEST(JobTest, ANodeFullOfFinishedPodsTakesNewOnes) {
  ClusterOptions o = Options(1);
  o.node = [](int i) {
    model::Node n = testing::EdgeNode(i, 1);
    n.capacity["cpu"] = n.allocatable["cpu"] = *model::Quantity::Parse("2");
    return n;
  };
  Cluster c(10, o);
  c.Start();
  // Four pods of a whole core each on a node of two: two at a time, the
  // next two only once the first have finished and given their cores back.
  ASSERT_TRUE(c.Apply(JobYaml("fill", "  completions: 4\n  parallelism: 4\n", "Never", 3, 0, 0, "1")).status.ok());
  ASSERT_TRUE(c.RunUntil([&] { return Finished(c, "fill"); }, std::chrono::minutes(2)));
  EXPECT_EQ(FindJob(c, "fill")->succeeded, 4);
  // The node holds four finished pods, and takes a pod of both its cores.
  ASSERT_TRUE(c.Apply(R"(apiVersion: v1
kind: Pod
metadata: {name: big, namespace: default}
spec:
  containers: [{name: c, image: nginx, resources: {requests: {cpu: "2"}}}]
)").status.ok());
  ASSERT_TRUE(c.RunUntil([&] { auto p = c.server().FindPod("default", "big"); return p && p->phase == "Running"; },
                         std::chrono::seconds(30)));
  EXPECT_EQ(CountPhase(PodsOf(c, "fill"), "Succeeded"), 4);
}

}  // namespace
}  // namespace edgebed::cluster
