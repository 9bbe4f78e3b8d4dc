// The scenario format: the shipped scenarios load and unroll as documented;
// bad scenarios get file:line:column errors that name the field and the fix;
// --set overrides reach any field and errors in them name the --set.
#include "sim/scenario.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace edgebed::sim {
namespace {

namespace fs = std::filesystem;

std::string SourceDir() { return EDGEBED_SOURCE_DIR; }

std::string Errors(const ScenarioLoad& r) {
  std::string out;
  for (const auto& e : r.errors) out += e.ToString() + "\n";
  return out;
}

// A small valid scenario; tests break one thing at a time.
const char* kMinimal = R"(name: tiny
seed: 3
duration: 2m
profiles:
  lan: {delay: 100us, bandwidth: 1Gbps}
  riser: {delay: {distribution: normal, mean: 200us, stddev: 50us}, bandwidth: 10Gbps}
  campus: {delay: {distribution: lognormal, median: 1ms, sigma: 0.5}}
  metro: {delay: {distribution: pareto, scale: 2ms, shape: 2.5}, loss: 0.001}
  wan: {delay: 15ms, bandwidth: 100Mbps, queue: 200}
node_classes:
  small: {capacity: {cpu: "2", memory: 4Gi}}
  big: {capacity: {cpu: "8", memory: 16Gi}, labels: {accelerator: gpu}, pools: "ssd=100Gi/high"}
topology:
  sites:
    - name: north
      buildings:
        - count: 2
          floors:
            - count: 3
              nodes: [{class: small, count: 2}, {class: big}]
  cloud: {nodes: [{class: big, count: 1}]}
workloads:
  - name: s
    kind: sensor
    pods: {namespace: "f-*", selector: "app == 'gw'"}
    publish_to: {namespace: svc, selector: "app == 'broker'", port: 1883}
faults:
  - {at: 90s, kind: partition, target: b2-f1, for: 10s}
  - {at: 30s, kind: node-crash, target: b1-f2-n3}
  - {at: 60s, kind: latency-spike, target: cloud, extra_delay: 200ms, for: 20s}
  - {at: 70s, kind: server-loss, for: 15s}
)";

ScenarioLoad Load(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  return LoadScenario(yaml, "test.yaml", SourceDir() + "/scenarios", overrides);
}

TEST(Scenario, UnrollsTheTopology) {
  ScenarioLoad r = Load(kMinimal);
  ASSERT_TRUE(r.ok()) << Errors(r);
  const Scenario& s = *r.scenario;
  EXPECT_EQ(s.name, "tiny");
  EXPECT_EQ(s.seed, 3u);
  EXPECT_EQ(s.duration, std::chrono::minutes(2));
  ASSERT_EQ(s.nodes.size(), 2u * 3 * 3 + 1);
  EXPECT_EQ(s.buildings.size(), 2u);
  EXPECT_EQ(s.floors.size(), 6u);
  EXPECT_EQ(s.nodes[0].node.meta.name, "b1-f1-n1");
  EXPECT_EQ(s.nodes[2].node.meta.name, "b1-f1-n3");
  EXPECT_EQ(s.nodes[2].class_name, "big");
  EXPECT_EQ(s.nodes[9].node.meta.name, "b2-f1-n1");
  EXPECT_EQ(s.nodes.back().node.meta.name, "cloud-n1");
  const model::Labels& l = s.nodes[5].node.meta.labels;  // b1-f2-n3
  EXPECT_EQ(l.at("kubernetes.io/hostname"), "b1-f2-n3");
  EXPECT_EQ(l.at("topology.kubernetes.io/region"), "north");
  EXPECT_EQ(l.at("topology.kubernetes.io/zone"), "b1");
  EXPECT_EQ(l.at("edgebed.io/floor"), "2");
  EXPECT_EQ(l.at("accelerator"), "gpu");
  EXPECT_EQ(s.nodes[5].node.meta.annotations.at("storage.edgebed.io/pools"), "ssd=100Gi/high");
  EXPECT_EQ(s.nodes[0].node.allocatable.at("pods").Value(), 110);
  // Faults come sorted by time.
  ASSERT_EQ(s.faults.size(), 4u);
  EXPECT_EQ(s.faults[0].Describe(), "node-crash b1-f2-n3");
  EXPECT_EQ(s.faults[1].Describe(), "latency-spike cloud +200ms for 20s");
  EXPECT_EQ(s.faults[3].Describe(), "partition b2-f1 for 10s");
  EXPECT_EQ(s.profiles.at("metro").delay.kind(), DelayDistribution::Kind::kPareto);
  EXPECT_DOUBLE_EQ(s.profiles.at("metro").loss, 0.001);
  EXPECT_EQ(s.profiles.at("wan").queue_packets, 200u);
  EXPECT_DOUBLE_EQ(s.profiles.at("wan").bandwidth_bps, 100e6);
}

TEST(Scenario, ShippedScenariosLoad) {
  for (const char* name : {"smart-building.yaml", "campus.yaml", "stress-10k.yaml"}) {
    ScenarioLoad r = LoadScenarioFile(SourceDir() + "/scenarios/" + name);
    ASSERT_TRUE(r.ok()) << name << "\n" << Errors(r);
  }
  ScenarioLoad r = LoadScenarioFile(SourceDir() + "/scenarios/smart-building.yaml");
  const Scenario& s = *r.scenario;
  EXPECT_EQ(s.nodes.size(), 16u);
  // floor.yaml is expanded once per floor, with its variables substituted.
  int floors = 0;
  for (const auto& [name, text] : s.manifests)
    if (name.find("floor.yaml [") != std::string::npos) {
      ++floors;
      EXPECT_EQ(text.find("${"), std::string::npos) << name;
    }
  EXPECT_EQ(floors, 4);
  EXPECT_EQ(s.profiles.at("wan").delay.kind(), DelayDistribution::Kind::kEmpirical);
}

TEST(Scenario, OverridesReachAnyField) {
  ScenarioLoad r = Load(kMinimal, {"duration=5m", "seed=9", "topology.sites[0].buildings[0].count=4",
                                   "profiles.lan.delay={distribution: normal, mean: 1ms, stddev: 0s}",
                                   "topology.sites[0].buildings[0].floors[0].nodes[0].count=3"});
  ASSERT_TRUE(r.ok()) << Errors(r);
  EXPECT_EQ(r.scenario->duration, std::chrono::minutes(5));
  EXPECT_EQ(r.scenario->seed, 9u);
  EXPECT_EQ(r.scenario->nodes.size(), 4u * 3 * 4 + 1);
  EXPECT_EQ(r.scenario->profiles.at("lan").delay.kind(), DelayDistribution::Kind::kNormal);
  EXPECT_EQ(r.scenario->overrides.size(), 5u);
}

TEST(Scenario, ErrorsInOverridesNameTheSet) {
  ScenarioLoad r = Load(kMinimal, {"duration=5 minutes"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.errors[0].pos.file, "--set duration=5 minutes") << Errors(r);
  EXPECT_EQ(r.errors[0].path, "duration");

  r = Load(kMinimal, {"topology.sites[3].name=x"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(Errors(r).find("--set topology.sites[3].name=x"), std::string::npos) << Errors(r);
  EXPECT_NE(Errors(r).find("the list has 1 items"), std::string::npos) << Errors(r);

  r = Load(kMinimal, {"duraton=5m"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(Errors(r).find("did you mean \"duration\""), std::string::npos) << Errors(r);

  r = Load(kMinimal, {"no-equals-sign"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(Errors(r).find("write --set path=value"), std::string::npos) << Errors(r);
}

struct BadCase {
  std::string from, to;  // replace in kMinimal
  std::string expect;    // in the errors
  int line = 0;          // of the first error; 0: not checked
};

TEST(Scenario, BadScenariosGetPositionedErrors) {
  const std::vector<BadCase> cases = {
      {"duration: 2m", "duration: 2 minutes", "duration", 3},
      {"duration: 2m", "durtion: 2m", "durtion", 3},
      {"{delay: 100us, bandwidth: 1Gbps}", "{delay: 100us, bandwith: 1Gbps}", "bandwidth", 5},
      {"stddev: 50us", "stddev: -50us", "is not a duration", 6},
      {"sigma: 0.5", "sigma: 50", "sigma", 7},
      {"scale: 2ms, shape: 2.5", "scale: 2ms", "shape", 8},
      {"loss: 0.001", "loss: 1.5", "probability", 8},
      {"distribution: lognormal", "distribution: gaussian", "gaussian", 7},
      {"{class: big}", "{class: huge}", "no node class 'huge'", 20},
      {"{cpu: \"2\", memory: 4Gi}", "{cpu: \"2\"}", "needs memory", 11},
      {"pools: \"ssd=100Gi/high\"", "pools: \"ssd=lots\"", "pools", 12},
      {"target: b2-f1,", "target: b9-f1,", "'b9-f1' names no site", 28},
      {"target: b1-f2-n3}", "target: b1-f2-n9}", "names no node", 29},
      {"kind: server-loss,", "kind: server-loss, target: b1,", "takes no target", 31},
      {"extra_delay: 200ms, ", "", "extra_delay", 30},
      {"kind: node-crash", "kind: node-explode", "node-explode", 29},
      {"selector: \"app == 'gw'\"", "selector: \"app == \"", "selector", 25},
      {"port: 1883}", "port: 70000}", "port", 26},
      {"port: 1883}", "port: 1883, node: n1}", "only a workload's own pods can be narrowed to nodes", 26},
      {"{namespace: svc, selector: \"app == 'broker'\", port: 1883}", "{namespace: svc, service: mqtt, selector: \"app == 'broker'\", port: 1883}",
       "a target names a service or selects pods, not both", 26},
      {"{namespace: svc, selector: \"app == 'broker'\", port: 1883}", "{service: mqtt, port: 1883}",
       "a service target needs the service's namespace, without wildcards", 26},
      {"    kind: sensor\n", "    kind: sensor\n    window: 5s\n", "applies to stream workloads only", 0},
      {"    kind: sensor\n", "    kind: sensor\n    cpu: 5s\n", "applies to batch workloads only", 0},
  };
  for (const BadCase& c : cases) {
    std::string yaml = kMinimal;
    const size_t at = yaml.find(c.from);
    ASSERT_NE(at, std::string::npos) << c.from;
    yaml.replace(at, c.from.size(), c.to);
    ScenarioLoad r = Load(yaml);
    ASSERT_FALSE(r.ok()) << "accepted: " << c.to;
    EXPECT_NE(Errors(r).find(c.expect), std::string::npos) << c.to << "\n" << Errors(r);
    EXPECT_EQ(r.errors[0].pos.file, "test.yaml") << Errors(r);
    if (c.line) {
      const bool at_line = std::any_of(r.errors.begin(), r.errors.end(),
                                       [&](const model::Diagnostic& e) { return e.pos.line == c.line; });
      EXPECT_TRUE(at_line) << "no error at line " << c.line << " for " << c.to << "\n" << Errors(r);
    }
    EXPECT_GT(r.errors[0].pos.column, 0) << Errors(r);
  }
}

TEST(Scenario, ABatchWorkloadRunsToCompletion) {
  std::string yaml = kMinimal;
  yaml.replace(yaml.find("faults:"), 0, R"yaml(  - name: nightly-report
    kind: batch
    pods: {namespace: svc, selector: "has(job-name)"}
    cpu: 90s
    read: {volume: history, blocks: 64}
)yaml");
  ScenarioLoad r = Load(yaml);
  ASSERT_TRUE(r.ok()) << Errors(r);
  const Workload& w = r.scenario->workloads.back();
  EXPECT_EQ(w.kind, Workload::Kind::kBatch);
  EXPECT_EQ(w.cpu, std::chrono::seconds(90));
  EXPECT_EQ(w.read_volume, "history");
  EXPECT_EQ(w.read_blocks, 64u);
}

TEST(Scenario, SyntaxErrorsAndWrongShapes) {
  ScenarioLoad r = Load("name: x\nprofiles: [\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(Errors(r).find("YAML syntax error"), std::string::npos) << Errors(r);
  EXPECT_GT(r.errors[0].pos.line, 0);
  r = Load("- just\n- a list\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(Errors(r).find("a scenario is a mapping"), std::string::npos);
  r = Load("name: x\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(Errors(r).find("profiles: is required"), std::string::npos) << Errors(r);
}

class ScenarioFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("edgebed-scenario-" + std::to_string(::getpid()));
    fs::create_directories(dir_ / "m");
  }
  void TearDown() override { fs::remove_all(dir_); }
  void Write(const std::string& name, const std::string& text) { std::ofstream(dir_ / name) << text; }
  ScenarioLoad LoadWith(const std::string& manifests) {
    std::string yaml = kMinimal;
    yaml += "manifests:\n" + manifests;
    Write("s.yaml", yaml);
    return LoadScenarioFile((dir_ / "s.yaml").string());
  }
  fs::path dir_;
};

TEST_F(ScenarioFiles, ManifestsPerFloorAndErrorsInThem) {
  Write("m/ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: f-${floor}\n  labels: {b: ${building}}\n");
  ScenarioLoad r = LoadWith("  - {path: m/ns.yaml, for_each: floor}\n");
  ASSERT_TRUE(r.ok()) << Errors(r);
  ASSERT_EQ(r.scenario->manifests.size(), 6u);
  EXPECT_NE(r.scenario->manifests[4].second.find("name: f-b2-f2"), std::string::npos);
  EXPECT_NE(r.scenario->manifests[4].first.find("[b2-f2]"), std::string::npos);

  Write("m/ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: f-${flor}\n");
  r = LoadWith("  - {path: m/ns.yaml, for_each: floor}\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(Errors(r).find("unknown variable ${flor}"), std::string::npos) << Errors(r);
  EXPECT_EQ(r.errors[0].pos.line, 4);

  Write("m/pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: c\n      image: x\n      resources: {requests: {cpu: 12x}}\n");
  r = LoadWith("  - {path: m/pod.yaml}\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(Errors(r).find("pod.yaml:9:"), std::string::npos) << "the manifest's own position: " << Errors(r);

  Write("m/node.yaml", "apiVersion: v1\nkind: Node\nmetadata:\n  name: n\n");
  r = LoadWith("  - {path: m/node.yaml}\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(Errors(r).find("Node objects come from the scenario's topology"), std::string::npos) << Errors(r);

  r = LoadWith("  - {path: m/missing.yaml}\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(Errors(r).find("missing.yaml: cannot be read"), std::string::npos) << Errors(r);

  r = LoadWith("  - {path: m/ns.yaml, inline: \"x: 1\"}\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(Errors(r).find("exactly one of path"), std::string::npos) << Errors(r);
}

TEST_F(ScenarioFiles, EmpiricalDelaysFromCsv) {
  Write("rtt.csv", "rtt_us\n# measured\n1000\n3000\n2000\n");
  std::string yaml = kMinimal;
  yaml.replace(yaml.find("wan: {delay: 15ms"), std::string("wan: {delay: 15ms").size(),
               "wan: {delay: {distribution: empirical, file: rtt.csv}");
  Write("s.yaml", yaml);
  ScenarioLoad r = LoadScenarioFile((dir_ / "s.yaml").string());
  ASSERT_TRUE(r.ok()) << Errors(r);
  const DelayDistribution& d = r.scenario->profiles.at("wan").delay;
  EXPECT_EQ(d.Mean(), std::chrono::microseconds(1000));  // one way: half the round trip
  Random random(1);
  for (int i = 0; i < 1000; ++i) {
    const Duration x = d.Sample(random);
    EXPECT_GE(x, std::chrono::microseconds(500));
    EXPECT_LE(x, std::chrono::microseconds(1500));
  }
  Write("rtt.csv", "rtt_ms\n12\nfast\n");
  r = LoadScenarioFile((dir_ / "s.yaml").string());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(Errors(r).find("rtt.csv:3: 'fast' is not a number"), std::string::npos) << Errors(r);
}

TEST(Scenario, PodMatch) {
  PodMatch m{"b*-f*", "app == 'gw'"};
  EXPECT_TRUE(m.Matches("b1-f2", {{"app", "gw"}}));
  EXPECT_FALSE(m.Matches("b1-f2", {{"app", "broker"}}));
  EXPECT_FALSE(m.Matches("building-services", {{"app", "gw"}}));
  EXPECT_TRUE((PodMatch{"*", "all()"}.Matches("x", {})));
}

}  // namespace
}  // namespace edgebed::sim
