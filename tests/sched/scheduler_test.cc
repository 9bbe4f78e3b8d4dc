// The scheduler end to end through its library API: explanations,
// preemption choices, nominations, events, volumes, determinism.
#include "core/sched/scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "core/model/loader.h"
#include "core/sched/offline.h"

namespace edgebed::sched {
namespace {

std::vector<model::Object> Load(const std::string& yaml) {
  model::LoadResult r = model::LoadManifests(yaml, "test.yaml");
  EXPECT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].ToString());
  return std::move(r.objects);
}

std::string NodeYaml(const std::string& name, const std::string& cpu, const std::string& extra_labels = "",
                     const std::string& spec = "") {
  return "apiVersion: v1\nkind: Node\nmetadata: {name: " + name + ", labels: {" + extra_labels +
         "}}\n" + (spec.empty() ? "" : "spec: " + spec + "\n") + "status: {capacity: {cpu: \"" + cpu +
         "\", memory: 8Gi}}\n---\n";
}

std::string PodYaml(const std::string& name, const std::string& cpu, const std::string& extra = "",
                    const std::string& labels = "") {
  return "apiVersion: v1\nkind: Pod\nmetadata: {name: " + name + ", labels: {" + labels + "}}\nspec:\n" +
         extra + "  containers: [{name: c, image: x, resources: {requests: {cpu: \"" + cpu +
         "\"}}}]\n---\n";
}

std::map<std::string, Placement> Place(const std::string& yaml, uint64_t seed = 1,
                                       Config config = DefaultConfig(), const VolumePlacement* volumes = nullptr) {
  Scheduler s(config, volumes, Random(seed));
  std::vector<std::string> refused;
  Status st = AddObjects(s, Load(yaml), Time{}, &refused);
  EXPECT_TRUE(st.ok()) << st.ToString();
  std::map<std::string, Placement> out;
  for (Placement& p : PlaceAll(s)) out[p.pod] = std::move(p);
  return out;
}

TEST(Scheduler, ExplainsWhyAPodFitsNowhereAsUpstreamDoes) {
  std::string yaml;
  for (const char* n : {"a", "b", "c"}) {
    yaml += NodeYaml(n, "2");
    yaml += PodYaml(std::string("busy-") + n, "1500m", std::string("  nodeName: ") + n + "\n");
  }
  for (const char* n : {"d", "e"}) {
    yaml += NodeYaml(n, "8", "", "{taints: [{key: edge/floor, value: \"3\", effect: NoSchedule}]}");
  }
  yaml += PodYaml("camera", "1");
  auto out = Place(yaml);
  EXPECT_EQ(out["default/camera"].node, "");
  EXPECT_EQ(out["default/camera"].reason,
            "0/5 nodes are available: 2 node(s) had untolerated taint {edge/floor: 3}, 3 Insufficient cpu. "
            "preemption: 0/5 nodes are available: 2 Preemption is not helpful for scheduling, "
            "3 No preemption victims found for incoming pod.");
}

TEST(Scheduler, NoNodesAtAll) {
  auto out = Place(PodYaml("lonely", "1"));
  EXPECT_EQ(out["default/lonely"].reason, "no nodes available to schedule pods");
}

TEST(Scheduler, PreemptsTheLowestPriorityVictimsAndReportsThem) {
  std::string yaml = NodeYaml("a", "4") + NodeYaml("b", "4");
  // a holds two priority-10 pods, b one priority-100 and one priority-5 pod.
  yaml += PodYaml("a1", "2", "  nodeName: a\n  priority: 10\n");
  yaml += PodYaml("a2", "2", "  nodeName: a\n  priority: 10\n");
  yaml += PodYaml("b1", "2", "  nodeName: b\n  priority: 100\n");
  yaml += PodYaml("b2", "2", "  nodeName: b\n  priority: 5\n");
  yaml += PodYaml("urgent", "2", "  priority: 1000\n");
  auto out = Place(yaml);
  // b's highest victim (5) is lower than a's (10): b2 goes.
  EXPECT_EQ(out["default/urgent"].node, "b");
  EXPECT_EQ(out["default/urgent"].victims, std::vector<std::string>{"default/b2"});
  EXPECT_EQ(out.count("default/b2"), 0u);
}

TEST(Scheduler, PreemptsFewestVictimsAmongEqualPriorities) {
  std::string yaml = NodeYaml("a", "4") + NodeYaml("b", "4");
  yaml += PodYaml("a1", "1", "  nodeName: a\n  priority: 1\n");
  yaml += PodYaml("a2", "1", "  nodeName: a\n  priority: 1\n");
  yaml += PodYaml("a3", "2", "  nodeName: a\n  priority: 1\n");
  yaml += PodYaml("b1", "1", "  nodeName: b\n  priority: 1\n");
  yaml += PodYaml("b2", "3", "  nodeName: b\n  priority: 1\n");
  yaml += PodYaml("urgent", "3", "  priority: 1000\n");
  auto out = Place(yaml);
  // a: sum of lowest victims is larger (needs a3 + a1 or similar) vs b: b2 alone.
  EXPECT_EQ(out["default/urgent"].node, "b");
  EXPECT_EQ(out["default/urgent"].victims, std::vector<std::string>{"default/b2"});
}

TEST(Scheduler, PreemptionPolicyNeverWaits) {
  std::string yaml = NodeYaml("a", "2") + PodYaml("low", "2", "  nodeName: a\n  priority: 1\n") +
                     PodYaml("polite", "2", "  priority: 1000\n  preemptionPolicy: Never\n");
  auto out = Place(yaml);
  EXPECT_EQ(out["default/polite"].node, "");
  EXPECT_EQ(out["default/polite"].reason,
            "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to "
            "preemptionPolicy=Never.");
}

TEST(Scheduler, ANominatedPodKeepsItsRoomFromLowerPriorityPods) {
  std::string yaml = NodeYaml("a", "4");
  yaml += PodYaml("old", "3", "  nodeName: a\n  priority: 1\n");
  yaml += PodYaml("urgent", "3", "  priority: 1000\n");
  yaml += PodYaml("small-1", "500m", "  priority: 2\n");
  yaml += PodYaml("small-2", "500m", "  priority: 2\n");
  yaml += PodYaml("small-3", "500m", "  priority: 2\n");
  auto out = Place(yaml);
  EXPECT_EQ(out["default/urgent"].node, "a");
  EXPECT_EQ(out["default/urgent"].victims, std::vector<std::string>{"default/old"});
  // Only 1 cpu is left beside the nominated pod: two small pods fit, the third waits.
  int placed = 0;
  for (const char* p : {"default/small-1", "default/small-2", "default/small-3"}) placed += out[p].node == "a";
  EXPECT_EQ(placed, 2);
}

TEST(Scheduler, AnUnschedulablePodIsRetriedWhenANodeArrives) {
  Scheduler s(DefaultConfig(), nullptr, Random(1));
  std::vector<std::string> refused;
  ASSERT_TRUE(AddObjects(s, Load(NodeYaml("small", "1") + PodYaml("big", "4")), Time{}, &refused).ok());
  auto first = s.ScheduleOne(Time{});
  ASSERT_TRUE(first);
  EXPECT_EQ(first->outcome, Decision::kUnschedulable);
  EXPECT_FALSE(s.ScheduleOne(Time{} + std::chrono::minutes(1)));  // waits: nothing changed
  s.UpsertNode(std::get<model::Node>(Load(NodeYaml("large", "8"))[0]), Time{} + std::chrono::minutes(1));
  auto second = s.ScheduleOne(Time{} + std::chrono::minutes(1));
  ASSERT_TRUE(second);
  EXPECT_EQ(second->outcome, Decision::kBound);
  EXPECT_EQ(second->node, "large");
  EXPECT_EQ(s.NodeOf("default", "big"), "large");
  EXPECT_EQ(s.pending(), 0u);
}

TEST(Scheduler, BoundPodsCountAsLoadAndUnknownNamesAreRefused) {
  Scheduler s(DefaultConfig(), nullptr, Random(1));
  auto objects = Load(NodeYaml("a", "2") + PodYaml("x", "1", "  priorityClassName: gold\n"));
  std::vector<std::string> refused;
  Status st = AddObjects(s, objects, Time{}, &refused);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.ToString().find("no PriorityClass with name \"gold\""), std::string::npos) << st.ToString();
  EXPECT_NE(st.ToString().find("test.yaml:"), std::string::npos) << st.ToString();

  Scheduler t(DefaultConfig(), nullptr, Random(1));
  ASSERT_TRUE(AddObjects(t, Load(NodeYaml("a", "2") + PodYaml("other", "1", "  schedulerName: custom\n")),
                         Time{}, &refused).ok());
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_NE(refused[0].find("no scheduler profile is named \"custom\""), std::string::npos);
}

TEST(Scheduler, AntiAffinitySpreadsReplicasAcrossNodesAndAffinityJoinsThem) {
  std::string yaml;
  for (int i = 0; i < 4; ++i) yaml += NodeYaml("n" + std::to_string(i), "8");
  yaml += R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: broker}
spec:
  replicas: 5
  selector: {matchLabels: {app: broker}}
  template:
    metadata: {labels: {app: broker}}
    spec:
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - labelSelector: {matchLabels: {app: broker}}
            topologyKey: kubernetes.io/hostname
      containers: [{name: c, image: x}]
---
apiVersion: v1
kind: Pod
metadata: {name: sidecar}
spec:
  affinity:
    podAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
      - labelSelector: {matchLabels: {app: broker}}
        topologyKey: kubernetes.io/hostname
  containers: [{name: c, image: x}]
)";
  auto out = Place(yaml);
  std::set<std::string> used;
  int placed = 0;
  for (int i = 0; i < 5; ++i) {
    const Placement& p = out["default/broker-" + std::to_string(i)];
    if (p.node.empty()) {
      EXPECT_EQ(p.reason,
                "0/4 nodes are available: 4 node(s) didn't match pod anti-affinity rules. preemption: 0/4 "
                "nodes are available: 4 No preemption victims found for incoming pod.");
      continue;
    }
    ++placed;
    EXPECT_TRUE(used.insert(p.node).second) << p.node;
  }
  EXPECT_EQ(placed, 4);
  EXPECT_TRUE(used.count(out["default/sidecar"].node));
}

TEST(Scheduler, TopologySpreadKeepsZonesWithinMaxSkew) {
  std::string yaml;
  for (int i = 0; i < 6; ++i) {
    yaml += NodeYaml("n" + std::to_string(i), "16", "topology.kubernetes.io/zone: z" + std::to_string(i % 3));
  }
  yaml += R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: sensor}
spec:
  replicas: 10
  selector: {matchLabels: {app: sensor}}
  template:
    metadata: {labels: {app: sensor}}
    spec:
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule,
         labelSelector: {matchLabels: {app: sensor}}}
      containers: [{name: c, image: x, resources: {requests: {cpu: 100m}}}]
)";
  auto out = Place(yaml);
  std::map<int, int> per_zone;
  for (int i = 0; i < 10; ++i) {
    const std::string node = out["default/sensor-" + std::to_string(i)].node;
    ASSERT_FALSE(node.empty());
    ++per_zone[std::stoi(node.substr(1)) % 3];
  }
  EXPECT_EQ(per_zone[0] + per_zone[1] + per_zone[2], 10);
  for (const auto& [zone, n] : per_zone) EXPECT_GE(n, 3) << zone;
}

// A storage layer that holds each claim's replicas on some nodes.
class TableVolumes final : public VolumePlacement {
 public:
  std::map<std::string, std::set<std::string>> replicas;  // claim -> nodes
  std::string CannotPlace(const model::Pod& pod, const model::Node& node) const override {
    for (const auto& v : pod.spec.volumes) {
      if (v.claim_name && !replicas.at(*v.claim_name).count(node.meta.name)) {
        return "node(s) had no replica of volume " + *v.claim_name;
      }
    }
    return "";
  }
  int Locality(const model::Pod& pod, const model::Node& node) const override {
    for (const auto& v : pod.spec.volumes) {
      if (v.claim_name && replicas.at(*v.claim_name).count(node.meta.name)) return 100;
    }
    return 0;
  }
};

TEST(Scheduler, VolumePlacementAndLocalityFollowTheStorageLayer) {
  TableVolumes volumes;
  volumes.replicas["models"] = {"n1", "n3"};
  volumes.replicas["archive"] = {};
  std::string yaml;
  for (int i = 0; i < 4; ++i) yaml += NodeYaml("n" + std::to_string(i), "4");
  yaml += PodYaml("inference", "1", "  volumes: [{name: m, persistentVolumeClaim: {claimName: models}}]\n");
  yaml += PodYaml("hungry", "8", "  volumes: [{name: m, persistentVolumeClaim: {claimName: models}}]\n");
  yaml += PodYaml("orphan", "1", "  volumes: [{name: a, persistentVolumeClaim: {claimName: archive}}]\n");
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    auto out = Place(yaml, seed, DefaultConfig(), &volumes);
    // Only replica holders pass; of those, locality is equal: either one.
    const std::string node = out["default/inference"].node;
    EXPECT_TRUE(node == "n1" || node == "n3") << node;
    // Filters run in upstream's order: resources before volumes.
    EXPECT_EQ(out["default/hungry"].reason,
              "0/4 nodes are available: 4 Insufficient cpu. "
              "preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling.");
    EXPECT_EQ(out["default/orphan"].reason,
              "0/4 nodes are available: 4 node(s) had no replica of volume archive. "
              "preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling.");
  }
}

TEST(Scheduler, VolumeLocalityPrefersTheNodeThatHoldsTheData) {
  TableVolumes volumes;
  volumes.replicas["models"] = {"n2"};
  Config config = DefaultConfig();
  // Without the placement filter (a sharedv4 volume mounts anywhere), locality still steers.
  auto& filters = config.profiles[0].filters;
  filters.erase(std::find(filters.begin(), filters.end(), "VolumePlacement"));
  std::string yaml;
  for (int i = 0; i < 4; ++i) yaml += NodeYaml("n" + std::to_string(i), "4");
  yaml += PodYaml("inference", "1", "  volumes: [{name: m, persistentVolumeClaim: {claimName: models}}]\n");
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    EXPECT_EQ(Place(yaml, seed, config, &volumes)["default/inference"].node, "n2");
  }
}

TEST(Scheduler, SameSeedSameDecisionsAndSeedsBreakTiesDifferently) {
  std::string yaml;
  for (int i = 0; i < 20; ++i) yaml += NodeYaml("n" + std::to_string(i), "4");
  for (int i = 0; i < 30; ++i) yaml += PodYaml("p" + std::to_string(i), "100m");
  const auto a = Place(yaml, 7), b = Place(yaml, 7);
  std::set<std::string> distinct;
  for (uint64_t seed = 1; seed <= 5; ++seed) distinct.insert(Place(yaml, seed)["default/p0"].node);
  for (const auto& [pod, p] : a) EXPECT_EQ(p.node, b.at(pod).node) << pod;
  EXPECT_GT(distinct.size(), 1u);
}

}  // namespace
}  // namespace edgebed::sched
