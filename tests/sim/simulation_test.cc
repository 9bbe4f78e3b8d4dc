// The smart building end to end: the real cluster in ns-3, shortened to a few
// simulated minutes by --set overrides, every sample and event in a
// MemorySink. A run replays from its seed; each kind of fault shows in the
// metrics as the fault start and end, a recovery measured after it, and the
// effect that kind has (nodes NotReady, messages lost, latency up, a volume
// failed over, pods running on without the control plane); the policy drops
// the misconfigured device's flows and nothing else.
//
// Assertions are about behaviour (a rate falls, a count drops and comes
// back), not about exact numbers, so that a change in timing elsewhere does
// not break them; where a fault needs a particular node (the one holding a
// floor's gateway, or the broker volume's primary) the test finds it from a
// run's own events first.
#include "sim/simulation.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "core/env/memory_sink.h"

namespace edgebed::sim {
namespace {

const std::string kSmartBuilding = EDGEBED_SOURCE_DIR "/scenarios/smart-building.yaml";

struct BuildingRun {
  Scenario scenario;
  MemorySink sink;
  SimulationSummary summary;
};

// The seed the building runs with: its file's, or $EDGEBED_SEED (the
// assertions are meant to hold for any seed; EDGEBED_SEED=N runs one).
std::optional<std::string> SeedFromEnvironment() {
  const char* seed = std::getenv("EDGEBED_SEED");
  if (!seed || !*seed) return std::nullopt;
  return std::string(seed);
}
std::string Replay() {
  const std::optional<std::string> seed = SeedFromEnvironment();
  return seed ? "EDGEBED_SEED=" + *seed : "the scenario's own seed (EDGEBED_SEED=N runs another)";
}

// The smart building with `overrides` (--set style), run to its end.
BuildingRun RunBuilding(std::vector<std::string> overrides) {
  BuildingRun run;
  const bool seeded = std::any_of(overrides.begin(), overrides.end(),
                                  [](const std::string& o) { return o.rfind("seed=", 0) == 0; });
  if (const std::optional<std::string> seed = SeedFromEnvironment(); seed && !seeded) overrides.push_back("seed=" + *seed);
  ScenarioLoad load = LoadScenarioFile(kSmartBuilding, overrides);
  for (const model::Diagnostic& e : load.errors) ADD_FAILURE() << e.ToString();
  if (!load.ok()) return run;
  run.scenario = *std::move(load.scenario);
  Simulation simulation(run.scenario, run.sink);
  StatusOr<SimulationSummary> summary = simulation.Run();
  EXPECT_TRUE(summary.ok()) << summary.status().ToString();
  if (summary.ok()) run.summary = *std::move(summary);
  EXPECT_TRUE(run.summary.apply_errors.empty()) << run.summary.apply_errors.front();
  return run;
}

double Seconds(Time t) { return ToSeconds(t.time_since_epoch()); }
bool Has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The samples of `name` whose labels hold `labels` ("" for all).
std::vector<MetricSample> Samples(const BuildingRun& run, const std::string& name, const std::string& labels = "") {
  std::vector<MetricSample> out;
  for (const MetricSample& s : run.sink.SamplesNamed(name))
    if (Has(s.labels, labels)) out.push_back(s);
  return out;
}

std::vector<EventRecord> Events(const BuildingRun& run, const std::string& kind, const std::string& detail = "") {
  std::vector<EventRecord> out;
  for (const EventRecord& e : run.sink.EventsOfKind(kind))
    if (Has(e.detail, detail)) out.push_back(e);
  return out;
}

// A counter's growth per second between the samples taken at `from` and at
// `to` (seconds; the last sample at or before each).
double Rate(const std::vector<MetricSample>& counter, double from, double to) {
  auto at = [&](double t) {
    double v = 0;
    for (const MetricSample& s : counter)
      if (Seconds(s.time) <= t + 1e-9) v = s.value;
    return v;
  };
  return (at(to) - at(from)) / (to - from);
}

// The values of a gauge sampled within (from, to].
std::vector<double> Within(const std::vector<MetricSample>& gauge, double from, double to) {
  std::vector<double> out;
  for (const MetricSample& s : gauge)
    if (Seconds(s.time) > from && Seconds(s.time) <= to) out.push_back(s.value);
  return out;
}

double Min(const std::vector<double>& v) { return v.empty() ? NAN : *std::min_element(v.begin(), v.end()); }
double Max(const std::vector<double>& v) { return v.empty() ? NAN : *std::max_element(v.begin(), v.end()); }

std::string Describe(const MetricSample& s) {
  char value[64];
  std::snprintf(value, sizeof value, "%.17g", s.value);
  return std::to_string(ToNanos(s.time)) + " node=" + std::to_string(s.node) + " " + s.name + "{" + s.labels +
         "} " + value;
}
std::string Describe(const EventRecord& e) {
  return std::to_string(ToNanos(e.time)) + " node=" + std::to_string(e.node) + " " + e.kind + " " + e.detail;
}

// Where two runs first part, or "" when every sample and event agrees.
std::string FirstDifference(const BuildingRun& a, const BuildingRun& b) {
  const size_t samples = std::min(a.sink.samples().size(), b.sink.samples().size());
  for (size_t i = 0; i < samples; ++i) {
    const std::string x = Describe(a.sink.samples()[i]), y = Describe(b.sink.samples()[i]);
    if (x != y) return "sample " + std::to_string(i) + ": " + x + " | " + y;
  }
  if (a.sink.samples().size() != b.sink.samples().size())
    return std::to_string(a.sink.samples().size()) + " samples | " + std::to_string(b.sink.samples().size());
  const size_t events = std::min(a.sink.events().size(), b.sink.events().size());
  for (size_t i = 0; i < events; ++i) {
    const std::string x = Describe(a.sink.events()[i]), y = Describe(b.sink.events()[i]);
    if (x != y) return "event " + std::to_string(i) + ": " + x + " | " + y;
  }
  if (a.sink.events().size() != b.sink.events().size())
    return std::to_string(a.sink.events().size()) + " events | " + std::to_string(b.sink.events().size());
  return "";
}

// The name of the node an event was recorded on.
std::string NodeName(const BuildingRun& run, NodeId node) {
  return node < run.scenario.nodes.size() ? run.scenario.nodes[node].node.meta.name : "";
}

// A run of the building as its file has it but for its faults: what the
// fault tests learn placements from, and what the policy test reads.
const BuildingRun& Baseline() {
  static const BuildingRun* run = new BuildingRun(RunBuilding({"duration=2m", "faults=[]"}));
  return *run;
}

// A gateway node of floor 1 that the broker does not run on (where the
// scheduler put it is in the baseline's events): a fault there silences
// that gateway and leaves the building's broker alone.
std::string FirstFloorGatewayNode() {
  const std::vector<EventRecord> broker =
      Events(Baseline(), "cluster.pod_scheduled", "pod=building-services/mqtt-broker-0 ");
  if (broker.size() != 1) return "";
  for (const char* node : {"b1-f1-n1", "b1-f1-n2", "b1-f1-n3"})
    if (!Has(broker[0].detail, std::string("node=") + node)) return node;
  return "";
}

// What every fault leaves in the results: its start and its end as events,
// and sim.fault_recovery_s samples labelled with its kind and target, one of
// them after it was undone.
void ExpectFaultRecorded(const BuildingRun& run, const std::string& kind, const std::string& target, double at,
                         double until) {
  SCOPED_TRACE(kind + " " + target);
  const std::string what = kind + (target.empty() ? "" : " " + target);
  const std::vector<EventRecord> starts = Events(run, "sim.fault_start");
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_DOUBLE_EQ(Seconds(starts[0].time), at);
  EXPECT_TRUE(Has(starts[0].detail, "fault=1 " + what)) << starts[0].detail;
  const std::vector<EventRecord> ends = Events(run, "sim.fault_end");
  ASSERT_EQ(ends.size(), 1u);
  EXPECT_DOUBLE_EQ(Seconds(ends[0].time), until);
  EXPECT_TRUE(Has(ends[0].detail, "fault=1 " + what)) << ends[0].detail;

  const std::vector<MetricSample> recovery = Samples(run, "sim.fault_recovery_s");
  ASSERT_FALSE(recovery.empty());
  for (const MetricSample& s : recovery) {
    EXPECT_EQ(s.labels, "fault=1,kind=" + kind + (target.empty() ? "" : ",target=" + target));
    EXPECT_GE(s.value, 0);
    EXPECT_GE(Seconds(s.time), at);
  }
  EXPECT_GE(Seconds(recovery.back().time), until) << "whole again after the fault was undone";
  EXPECT_DOUBLE_EQ(recovery.back().value, Seconds(recovery.back().time) - until);

  ASSERT_EQ(run.summary.faults.size(), 1u);
  const FaultReport& report = run.summary.faults[0];
  ASSERT_TRUE(report.undone.has_value());
  EXPECT_DOUBLE_EQ(Seconds(*report.undone), until);
  ASSERT_TRUE(report.recovery.has_value());
  EXPECT_DOUBLE_EQ(ToSeconds(*report.recovery), recovery.back().value);
  // Every up node Ready at the end.
  const std::vector<MetricSample> ready = Samples(run, "cluster.nodes_ready");
  ASSERT_FALSE(ready.empty());
  EXPECT_EQ(ready.back().value, static_cast<double>(run.scenario.nodes.size()));
}

// ---- determinism ------------------------------------------------------------------

TEST(Simulation, TheSameSeedReplaysEverySampleAndEventAndAnotherSeedDoesNot) {
  const std::vector<std::string> building = {
      "duration=150s", "faults=[{at: 50s, kind: node-crash, target: b1-f2-n1, for: 30s},"
                       " {at: 100s, kind: partition, target: b1-f3, for: 20s}]"};
  auto with_seed = [&](int seed) {
    std::vector<std::string> o = building;
    o.push_back("seed=" + std::to_string(seed));
    return o;
  };
  const BuildingRun first = RunBuilding(with_seed(5));
  const BuildingRun again = RunBuilding(with_seed(5));
  const BuildingRun other = RunBuilding(with_seed(6));

  ASSERT_GT(first.sink.samples().size(), 500u);
  ASSERT_GT(first.sink.events().size(), 40u);
  ASSERT_GT(first.summary.messages_received, 5000u) << "the run did its work";
  EXPECT_EQ(FirstDifference(first, again), "");
  EXPECT_EQ(first.summary.events, again.summary.events);
  EXPECT_EQ(first.summary.messages_sent, again.summary.messages_sent);
  EXPECT_EQ(first.summary.publish_ms.p99, again.summary.publish_ms.p99);
  EXPECT_EQ(first.summary.e2e_ms.max, again.summary.e2e_ms.max);

  EXPECT_NE(FirstDifference(first, other), "") << "seed 6 ran exactly as seed 5";
  EXPECT_NE(first.summary.events, other.summary.events);
}

// ---- faults -------------------------------------------------------------------------

TEST(Simulation, ANodeCrashTakesItsPodsAwayUntilItComesBack) {
  SCOPED_TRACE(Replay());
  const std::string node = FirstFloorGatewayNode();
  ASSERT_FALSE(node.empty()) << "no cluster.pod_scheduled event placed the broker";
  // The misconfigured device sits behind that node's gateway.
  const BuildingRun run = RunBuilding({"duration=200s", "workloads[1].pods.node=" + node,
                                       "faults=[{at: 60s, kind: node-crash, target: " + node + ", for: 60s}]"});
  ExpectFaultRecorded(run, "node-crash", node, 60, 120);

  // The server notices the silence and marks the node NotReady.
  const std::vector<EventRecord> not_ready = Events(run, "cluster.node_not_ready", "node=" + node + " ");
  ASSERT_EQ(not_ready.size(), 1u);
  const double noticed = Seconds(not_ready[0].time);
  EXPECT_GT(noticed, 60);
  EXPECT_LT(noticed, 120);
  const std::vector<MetricSample> ready = Samples(run, "cluster.nodes_ready");
  EXPECT_EQ(Min(Within(ready, 0, 60)), 16);
  EXPECT_EQ(Min(Within(ready, noticed, 120)), 15);
  // The cluster is not whole while a gateway of floor 1 sits on a dead node,
  // even before the server has noticed.
  for (const MetricSample& s : Samples(run, "sim.fault_recovery_s"))
    EXPECT_GE(Seconds(s.time), 120) << Describe(s);
  // The device behind the node's gateway falls silent with it, and speaks again after.
  const std::vector<MetricSample> device = Samples(run, "workload.messages_sent", "workload=misconfigured-device");
  EXPECT_GT(Rate(device, 20, 60), 0.1);
  EXPECT_EQ(Rate(device, 70, 120), 0);
  EXPECT_GT(Rate(device, 140, 200), 0.1);
  // So do the sensors behind that gateway: one of the building's twelve.
  const std::vector<MetricSample> sent = Samples(run, "workload.messages_sent", "workload=sensors");
  const double before = Rate(sent, 20, 60), during = Rate(sent, 70, 120), after = Rate(sent, 140, 200);
  EXPECT_LT(during, 0.97 * before) << before << " -> " << during;
  EXPECT_GT(after, 0.95 * before) << before << " -> " << after;
  EXPECT_EQ(Events(run, "node.crash").size(), 1u);
  EXPECT_EQ(Events(run, "node.restart").size(), 1u);
}

TEST(Simulation, ALinkDownCutsANodeOffWithoutStoppingIt) {
  SCOPED_TRACE(Replay());
  const std::string node = FirstFloorGatewayNode();
  ASSERT_FALSE(node.empty());
  const BuildingRun run = RunBuilding({"duration=170s", "workloads[1].pods.node=" + node,
                                       "faults=[{at: 60s, kind: link-down, target: " + node + ", for: 50s}]"});
  ExpectFaultRecorded(run, "link-down", node, 60, 110);

  ASSERT_EQ(Events(run, "cluster.node_not_ready", "node=" + node + " ").size(), 1u);
  EXPECT_EQ(Min(Within(Samples(run, "cluster.nodes_ready"), 60, 110)), 15);
  EXPECT_TRUE(Events(run, "node.crash").empty()) << "the node runs on behind its cut link";
  // The gateway behind the cut link goes on publishing; its messages never reach the broker.
  const std::vector<MetricSample> sent = Samples(run, "workload.messages_sent", "workload=sensors");
  const std::vector<MetricSample> received = Samples(run, "workload.messages_received", "workload=broker");
  EXPECT_GT(Rate(received, 20, 60), 0.95 * Rate(sent, 20, 60));
  EXPECT_GT(Rate(sent, 60, 110), 0.9 * Rate(sent, 20, 60)) << "nobody stopped sending";
  // What the gateway behind the cut link sends is lost: one twelfth of the readings.
  EXPECT_LT(Rate(received, 60, 110), 0.96 * Rate(sent, 60, 110));
  EXPECT_GT(Rate(received, 60, 110), 0.85 * Rate(sent, 60, 110));
  EXPECT_GT(Rate(received, 120, 170), 0.95 * Rate(sent, 120, 170)) << "delivered again once the link is back";
}

TEST(Simulation, APartitionCutsAWholeFloorOffUntilItHeals) {
  SCOPED_TRACE(Replay());
  const BuildingRun run = RunBuilding({"duration=170s", "faults=[{at: 60s, kind: partition, target: b1-f3, for: 50s}]"});
  ExpectFaultRecorded(run, "partition", "b1-f3", 60, 110);

  // Every node of the floor, and only those, goes NotReady.
  const std::vector<EventRecord> not_ready = Events(run, "cluster.node_not_ready");
  EXPECT_EQ(not_ready.size(), 4u);
  for (const EventRecord& e : not_ready) {
    EXPECT_TRUE(Has(e.detail, "node=b1-f3-n")) << e.detail;
    EXPECT_GT(Seconds(e.time), 60);
    EXPECT_LT(Seconds(e.time), 110);
  }
  EXPECT_EQ(Min(Within(Samples(run, "cluster.nodes_ready"), 60, 110)), 12);
  // The floor's readings are lost while it is cut off.
  const std::vector<MetricSample> sent = Samples(run, "workload.messages_sent", "workload=sensors");
  const std::vector<MetricSample> received = Samples(run, "workload.messages_received", "workload=broker");
  EXPECT_GT(Rate(received, 20, 60), 0.95 * Rate(sent, 20, 60));
  EXPECT_LT(Rate(received, 60, 110), 0.9 * Rate(sent, 60, 110));
  EXPECT_GT(Rate(received, 120, 170), 0.95 * Rate(sent, 120, 170));
}

TEST(Simulation, ALatencySpikeOnAFloorsUplinkShowsInThePublishLatency) {
  SCOPED_TRACE(Replay());
  const BuildingRun run = RunBuilding(
      {"duration=160s", "faults=[{at: 60s, kind: latency-spike, target: b1-f3, extra_delay: 50ms, for: 40s}]"});
  ExpectFaultRecorded(run, "latency-spike", "b1-f3", 60, 100);

  // One floor's readings (or, if the broker is on that floor, the other
  // floors') cross the slow link: far more than 1% of them.
  const std::vector<MetricSample> p99 =
      Samples(run, "workload.publish_latency_ms", "workload=broker,quantile=0.99");
  EXPECT_LT(Max(Within(p99, 20, 60)), 10);
  EXPECT_GT(Min(Within(p99, 70, 100)), 50) << "every window of the spike";
  EXPECT_LT(Max(Within(p99, 110, 160)), 10);
  // Slow is not gone: no node is lost and nothing is dropped.
  EXPECT_EQ(Min(Within(Samples(run, "cluster.nodes_ready"), 0, 160)), 16);
  EXPECT_TRUE(Events(run, "cluster.node_not_ready").empty());
  const std::vector<MetricSample> sent = Samples(run, "workload.messages_sent", "workload=sensors");
  const std::vector<MetricSample> received = Samples(run, "workload.messages_received", "workload=broker");
  EXPECT_GT(Rate(received, 60, 100), 0.95 * Rate(sent, 60, 100));
}

// The broker's volume is replicated three ways; its primary is wherever the
// provisioner and the scheduler put it. A first run fails each node's disk in
// turn: the failover it causes names the primary (storage.failover from=<id>).
TEST(Simulation, ADiskFailureOfTheBrokerVolumesPrimaryFailsItOver) {
  SCOPED_TRACE(Replay());
  const Scenario& scenario = Baseline().scenario;
  std::string faults = "faults=[";
  constexpr int kFirst = 30, kEach = 10, kFor = 8;
  for (size_t i = 0; i < scenario.nodes.size(); ++i)
    faults += std::string(i ? ", " : "") + "{at: " + std::to_string(kFirst + kEach * i) +
              "s, kind: disk-failure, target: " + scenario.nodes[i].node.meta.name + ", for: " + std::to_string(kFor) + "s}";
  faults += "]";
  const BuildingRun search = RunBuilding({"duration=" + std::to_string(kFirst + kEach * scenario.nodes.size() + 10) + "s", faults});
  const std::vector<EventRecord> failovers = Events(search, "storage.failover", "volume=building-services/data-mqtt-broker-0 ");
  ASSERT_FALSE(failovers.empty()) << "no node's disk failure moved the broker's volume";
  // A volume only ever fails over away from the disk failing at the time.
  for (const EventRecord& e : failovers) {
    const double t = Seconds(e.time) - kFirst;
    ASSERT_GE(t, 0) << Describe(e);
    const size_t failing = static_cast<size_t>(t / kEach);
    EXPECT_LE(t - kEach * failing, kFor + 2) << Describe(e);
    EXPECT_TRUE(Has(e.detail, " from=" + std::to_string(failing) + " ")) << Describe(e);
  }
  const std::string from = failovers.front().detail.substr(failovers.front().detail.find(" from=") + 6);
  const NodeId primary = static_cast<NodeId>(std::stoul(from));
  const std::string node = NodeName(search, primary);
  ASSERT_FALSE(node.empty()) << from;

  const BuildingRun run = RunBuilding({"duration=140s", "faults=[{at: 60s, kind: disk-failure, target: " + node + ", for: 40s}]"});
  ExpectFaultRecorded(run, "disk-failure", node, 60, 100);
  const std::vector<EventRecord> moved = Events(run, "storage.failover", "volume=building-services/data-mqtt-broker-0 ");
  ASSERT_EQ(moved.size(), 1u);
  EXPECT_TRUE(Has(moved[0].detail, " from=" + std::to_string(primary) + " ")) << moved[0].detail;
  EXPECT_GT(Seconds(moved[0].time), 60);
  EXPECT_LT(Seconds(moved[0].time), 100);
  const std::vector<MetricSample> took = Samples(run, "storage.failover_s", "volume=building-services/data-mqtt-broker-0");
  ASSERT_EQ(took.size(), 1u);
  EXPECT_GT(Seconds(took[0].time), 60);
  EXPECT_LT(Seconds(took[0].time), 100);
  // The failed replica leaves the in-sync set and is brought back after the repair.
  const std::vector<MetricSample> in_sync = Samples(run, "storage.replicas_in_sync");
  const double whole = Min(Within(in_sync, 20, 60));
  EXPECT_EQ(Max(Within(in_sync, 20, 60)), whole);
  EXPECT_LT(Min(Within(in_sync, 60, 100)), whole);
  EXPECT_EQ(in_sync.back().value, whole);
  EXPECT_EQ(Max(Within(Samples(run, "storage.replicas_out_of_sync"), 20, 60)), 0);
  // The broker's writes go on through the failover, and no node is lost.
  const std::vector<MetricSample> writes = Samples(run, "storage.writes", "workload=broker");
  EXPECT_GT(Rate(writes, 60, 100), 0);
  EXPECT_GT(Rate(writes, 100, 140), 0);
  EXPECT_EQ(Min(Within(Samples(run, "cluster.nodes_ready"), 0, 140)), 16);
}

// The broker's volume goes to the cloud every five minutes (its class's
// Stork schedule): the recovery point grows from the schedule's start until
// the first backup, then stays within the interval and a backup's time. With
// the floor of the volume's primary cut off across a backup, the volume fails
// over and the backup is made from the new primary.
TEST(Simulation, TheBrokersVolumeGoesToTheCloudAndItsRecoveryPointStaysWithinTheSchedule) {
  SCOPED_TRACE(Replay());
  const BuildingRun run = RunBuilding({"duration=11m", "faults=[]"});
  const std::vector<EventRecord> backups = Events(run, "storage.cloudsnap", "volume=building-services/data-mqtt-broker-0 ");
  ASSERT_EQ(backups.size(), 2u);
  EXPECT_TRUE(Has(backups[0].detail, " seq=1 full ")) << Describe(backups[0]);
  EXPECT_TRUE(Has(backups[1].detail, " seq=2 incremental ")) << Describe(backups[1]);
  EXPECT_FALSE(Has(backups[1].detail, " blocks=0 ")) << "the broker wrote between the two: " << Describe(backups[1]);
  EXPECT_TRUE(Events(run, "storage.cloudsnap_failed").empty());
  for (const MetricSample& s : Samples(run, "storage.cloudsnap_s")) EXPECT_LT(s.value, 30) << Describe(s);
  const std::vector<MetricSample> rpo = Samples(run, "storage.cloudsnap_rpo_s", "volume=building-services/data-mqtt-broker-0");
  ASSERT_FALSE(rpo.empty());
  EXPECT_GT(Max(Within(rpo, 0, Seconds(backups[0].time))), 290);  // nothing in the cloud for five minutes
  EXPECT_LT(Max(Within(rpo, Seconds(backups[0].time) + 10, 660)), 300 + 30 + 10);
  const std::string primary = backups[0].detail.substr(backups[0].detail.find(" node=") + 6, 8);  // bN-fN-nN
  ASSERT_EQ(primary.size(), 8u);

  // Cut the primary's floor off from 4:30 to 7:30, across the 5:06 backup.
  const std::string floor = primary.substr(0, 5);
  const BuildingRun cut = RunBuilding({"duration=11m", "faults=[{at: 270s, kind: partition, target: " + floor + ", for: 180s}]"});
  const std::vector<EventRecord> moved = Events(cut, "storage.failover", "volume=building-services/data-mqtt-broker-0 ");
  ASSERT_FALSE(moved.empty());
  std::vector<EventRecord> during;
  for (const EventRecord& e : Events(cut, "storage.cloudsnap", "volume=building-services/data-mqtt-broker-0 "))
    if (Seconds(e.time) > 270 && Seconds(e.time) < 450) during.push_back(e);
  ASSERT_FALSE(during.empty()) << "no backup while " << floor << " was cut off";
  EXPECT_FALSE(Has(during[0].detail, " node=" + floor + "-")) << Describe(during[0]);
  EXPECT_LT(Max(Within(Samples(cut, "storage.cloudsnap_rpo_s", "volume=building-services/data-mqtt-broker-0"),
                       Seconds(during[0].time) + 10, 660)),
            300 + 60 + 10);
}

TEST(Simulation, PodsRunOnWithoutTheServerAndTheClusterRecoversWhenItReturns) {
  SCOPED_TRACE(Replay());
  const BuildingRun run = RunBuilding({"duration=160s", "faults=[{at: 60s, kind: server-loss, for: 40s}]"});
  ExpectFaultRecorded(run, "server-loss", "", 60, 100);

  // The data path needs no control plane: readings keep reaching the broker.
  const std::vector<MetricSample> sent = Samples(run, "workload.messages_sent", "workload=sensors");
  const std::vector<MetricSample> received = Samples(run, "workload.messages_received", "workload=broker");
  EXPECT_GT(Rate(received, 60, 100), 0.8 * Rate(received, 20, 60));
  EXPECT_GT(Rate(received, 60, 100), 0.95 * Rate(sent, 60, 100));
  // Not whole without its server; back from its datastore with every pod.
  for (const MetricSample& s : Samples(run, "sim.fault_recovery_s")) EXPECT_GE(Seconds(s.time), 100) << Describe(s);
  const std::vector<EventRecord> started = Events(run, "cluster.server_started");
  ASSERT_EQ(started.size(), 2u);
  EXPECT_GE(Seconds(started[1].time), 100);
  const std::vector<MetricSample> running = Samples(run, "cluster.pods", "phase=Running");
  ASSERT_FALSE(running.empty());
  const double before = Max(Within(running, 20, 60));
  EXPECT_GT(before, 0);
  EXPECT_TRUE(Has(started[1].detail, "pods=" + std::to_string(static_cast<int>(before)))) << started[1].detail;
  EXPECT_EQ(running.back().value, before);
  EXPECT_GE(Events(run, "cluster.agent_rejoining").size(), 16u) << "every agent joins the new server";
}

// ---- batch --------------------------------------------------------------------------

TEST(Simulation, TheEnergyRollupRunsAtEachFiveMinutesOfSimulatedTime) {
  SCOPED_TRACE(Replay());
  const BuildingRun run = RunBuilding({"duration=6m", "faults=[]"});
  // The CronJob's schedule reads simulated time as 2026-01-01 00:00 UTC on.
  const std::vector<EventRecord> created = Events(run, "cluster.cronjob_job_created");
  ASSERT_EQ(created.size(), 1u);
  EXPECT_DOUBLE_EQ(Seconds(created[0].time), 300);
  EXPECT_TRUE(Has(created[0].detail, "cronjob=building-services/energy-rollup job=energy-rollup-29453765 "
                                     "scheduled=2026-01-01T00:05:00Z"))
      << created[0].detail;
  // Its pod runs its few core-seconds and completes the Job.
  const std::vector<MetricSample> took = Samples(run, "workload.job_s", "workload=energy-rollup");
  ASSERT_EQ(took.size(), 1u);
  EXPECT_GE(took[0].value, 3.0);
  EXPECT_LT(took[0].value, 4.0);
  EXPECT_LT(Seconds(took[0].time), 320);
  EXPECT_EQ(Events(run, "cluster.job_complete", "job=building-services/energy-rollup-29453765").size(), 1u);
  EXPECT_EQ(run.summary.pods_finished, 1);
  EXPECT_EQ(run.summary.pods_running, run.summary.pods_total);
}

// ---- policy -------------------------------------------------------------------------

TEST(Simulation, TheMisconfiguredDeviceIsDroppedAndNothingElseIs) {
  SCOPED_TRACE(Replay());
  const BuildingRun& run = Baseline();
  double denied = 0, allowed = 0;
  for (const MetricSample& s : Samples(run, "policy.flows_denied")) denied += s.value;
  for (const MetricSample& s : Samples(run, "policy.flows_allowed")) allowed += s.value;
  EXPECT_GT(denied, 0);
  EXPECT_GT(allowed, 0);
  EXPECT_EQ(denied, static_cast<double>(run.summary.flows_denied));
  const std::vector<EventRecord> events = Events(run, "policy.denied");
  ASSERT_FALSE(events.empty());
  const std::regex device("from=b1-f1/sensor-gateway-[0-9a-f]{10} to=b1-f2/sensor-gateway-[0-9a-f]{10} port=1883 at=egress");
  for (const EventRecord& e : events) EXPECT_TRUE(std::regex_match(e.detail, device)) << e.detail;
  // The sensors' own readings all arrive.
  EXPECT_GT(run.summary.messages_received, 0u);
  const std::vector<MetricSample> sent = Samples(run, "workload.messages_sent", "workload=sensors");
  const std::vector<MetricSample> received = Samples(run, "workload.messages_received", "workload=broker");
  EXPECT_GT(Rate(received, 20, 120), 0.95 * Rate(sent, 20, 120));

  // Without the device (it runs in no pod), nothing at all is denied.
  const BuildingRun quiet = RunBuilding({"duration=2m", "faults=[]", "workloads[1].pods.namespace=nowhere"});
  for (const MetricSample& s : Samples(quiet, "policy.flows_denied")) EXPECT_EQ(s.value, 0) << Describe(s);
  EXPECT_TRUE(Events(quiet, "policy.denied").empty());
  EXPECT_EQ(quiet.summary.flows_denied, 0u);
  EXPECT_GT(quiet.summary.flows_allowed, 0u);
  EXPECT_GT(quiet.summary.messages_received, 0u);
}

}  // namespace
}  // namespace edgebed::sim
