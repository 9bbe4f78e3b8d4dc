// The workload models of a simulated node, on the test loop: what a pod's
// workload does with its node's cpu, and that nothing of it outlives the pod.
#include "sim/workload.h"

#include <gtest/gtest.h>

#include <memory>

#include "core/env/test_loop.h"

namespace edgebed::sim {
namespace {

using namespace std::chrono_literals;

constexpr uint32_t kAnalytics = 0x0a2a000a;  // 10.42.0.10, on node 0
constexpr uint32_t kSender = 0x0a2a010a;     // 10.42.1.10, on node 1

class TwoNodes final : public PodRouter {
 public:
  NodeId NodeOf(uint32_t ip) override { return (ip >> 8 & 0xff) < 2 ? (ip >> 8 & 0xff) : kNoNode; }
};

// One node runs an analytics pod (a stream workload, 10 ms of its one core
// per message); another node sends to it, with no policy on the way.
class WorkloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Workload analytics;
    analytics.name = "analytics";
    analytics.kind = Workload::Kind::kStream;
    analytics.pods = PodMatch{"services", "app == 'analytics'"};
    analytics.cpu_per_message = 10ms;
    scenario_.workloads.push_back(analytics);

    ASSERT_EQ(loop_.AddNode(), 0u);
    ASSERT_EQ(loop_.AddNode(), 1u);
    for (NodeId id = 0; id < 2; ++id) nets_.push_back(std::make_unique<PodNetwork>(loop_.env(id), router_, nullptr));
    resources_ = std::make_unique<NodeResources>(loop_.env(0), 1.0);
    runtime_ = std::make_unique<SimRuntime>(loop_.env(0), scenario_, std::map<std::string, std::string>{}, *nets_[0],
                                            *resources_, directory_, stats_);
    runtime_->SetReporter([this](const std::string& key, const cluster::PodReport& r) {
      if (r.phase == cluster::PodPhase::kRunning) running_.push_back(key);
    });

    run_.pod.meta.namespace_ = "services";
    run_.pod.meta.name = "analytics-0";
    run_.pod.meta.labels = {{"app", "analytics"}};
    model::Container c;
    c.name = "stream";
    c.image = "edgebed/stream-analytics:0.3";
    model::ContainerPort port;
    port.container_port = 9000;
    c.ports.push_back(port);
    run_.pod.spec.containers.push_back(c);
    run_.pod.pod_ips = {"10.42.0.10"};
  }

  void Send(int messages) {
    for (int i = 0; i < messages; ++i) nets_[1]->Send(kSender, 40000, kAnalytics, 9000, policy::kTcp, Bytes(64, 1));
  }
  const WorkloadCounters& counters() { return stats_.by_workload["analytics"]; }

  TestLoop loop_{/*seed=*/3};
  TwoNodes router_;
  Scenario scenario_;
  Directory directory_;
  WorkloadStats stats_;
  std::vector<std::unique_ptr<PodNetwork>> nets_;
  std::unique_ptr<NodeResources> resources_;
  std::unique_ptr<SimRuntime> runtime_;
  std::vector<std::string> running_;
  cluster::PodRun run_;
};

TEST_F(WorkloadTest, MessagesQueueForTheNodesCpu) {
  runtime_->Start(run_);
  loop_.RunFor(5s);  // started: a seeded start-up time of at most 3 s
  ASSERT_EQ(running_, std::vector<std::string>{"services/analytics-0"});
  Send(20);
  loop_.RunFor(100ms);
  // 20 messages of 10 ms on one core: about half are done after 100 ms.
  EXPECT_GT(counters().messages_received, 5u);
  EXPECT_LT(counters().messages_received, 15u);
  EXPECT_GT(resources_->queued(), 0u);
  loop_.RunFor(1s);
  EXPECT_EQ(counters().messages_received, 20u);
  EXPECT_NEAR(resources_->busy_core_seconds(), 0.2, 1e-9);
}

// A pod stopped while its messages still wait for the cpu: its work dies
// with it (it once ran on, in a model already destroyed).
TEST_F(WorkloadTest, AStoppedPodsQueuedWorkNeverRuns) {
  runtime_->Start(run_);
  loop_.RunFor(5s);
  ASSERT_EQ(running_.size(), 1u);
  Send(20);
  loop_.RunFor(50ms);
  const uint64_t done = counters().messages_received;
  ASSERT_LT(done, 20u);
  runtime_->Stop("services/analytics-0");
  EXPECT_EQ(runtime_->running_models(), 0u);
  loop_.RunFor(1s);
  EXPECT_EQ(counters().messages_received, done);

  // The pod started again works as before.
  runtime_->Start(run_);
  loop_.RunFor(5s);
  Send(3);
  loop_.RunFor(1s);
  EXPECT_EQ(counters().messages_received, done + 3);
}

// A batch workload (a Job's pod) spends its cpu on the node, two runs
// sharing one core, and each pod then reports Succeeded; under
// restartPolicy Always it would run again instead.
TEST(BatchWorkloadTest, ARunToCompletionSpendsItsCpuAndThePodSucceeds) {
  TestLoop loop(/*seed=*/5);
  ASSERT_EQ(loop.AddNode(), 0u);
  TwoNodes router;
  PodNetwork net(loop.env(0), router, nullptr);
  NodeResources cores(loop.env(0), 1.0);
  Directory directory;
  WorkloadStats stats;
  Scenario scenario;
  Workload report;
  report.name = "report";
  report.kind = Workload::Kind::kBatch;
  report.pods = PodMatch{"*", "has(job-name)"};
  report.cpu = 30s;
  scenario.workloads.push_back(report);
  SimRuntime runtime(loop.env(0), scenario, {}, net, cores, directory, stats);
  std::map<std::string, std::vector<cluster::PodPhase>> phases;
  runtime.SetReporter([&](const std::string& key, const cluster::PodReport& r) { phases[key].push_back(r.phase); });
  for (int i = 0; i < 2; ++i) {
    cluster::PodRun run;
    run.pod.meta.namespace_ = "default";
    run.pod.meta.name = "report-" + std::to_string(i);
    run.pod.meta.labels = {{"job-name", "report"}};
    run.pod.spec.restart_policy = "Never";
    run.pod.pod_ips = {"10.42.0." + std::to_string(20 + i)};
    runtime.Start(run);
  }
  loop.RunFor(40s);  // started within 3 s; the first done 30 s later, the second waits for the core
  EXPECT_EQ(stats.by_workload["report"].jobs_done, 1u);
  loop.RunFor(30s);
  EXPECT_EQ(stats.by_workload["report"].jobs_done, 2u);
  EXPECT_NEAR(cores.busy_core_seconds(), 60.0, 1e-9);
  for (int i = 0; i < 2; ++i) {
    const std::string key = "default/report-" + std::to_string(i);
    EXPECT_EQ(phases[key], (std::vector<cluster::PodPhase>{cluster::PodPhase::kRunning, cluster::PodPhase::kSucceeded}))
        << key;
  }
  const std::vector<double>& took = stats.by_workload["report"].job_s;
  ASSERT_EQ(took.size(), 2u);
  EXPECT_NEAR(took[0], 30.0, 1e-6);
  EXPECT_GT(took[1], 55.0);  // waited for the other's 30 s of the one core
}

}  // namespace
}  // namespace edgebed::sim
