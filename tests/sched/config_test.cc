// KubeSchedulerConfiguration in, scheduler Config out.
#include "core/sched/config.h"

#include <gtest/gtest.h>

#include "core/model/loader.h"

namespace edgebed::sched {
namespace {

StatusOr<Config> FromYaml(const std::string& yaml) {
  model::LoadResult r = model::LoadManifests(yaml, "profile.yaml");
  if (!r.ok()) return InvalidArgument(r.errors[0].ToString());
  for (const auto& o : r.objects) {
    if (const auto* c = std::get_if<model::KubeSchedulerConfiguration>(&o)) return ConfigFromObject(*c);
  }
  return NotFound("no configuration");
}

const char* kHead = "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n";

TEST(NumFeasibleNodesToFind, FollowsUpstreamAdaptivePercentage) {
  EXPECT_EQ(NumFeasibleNodesToFind(0, 99), 99);
  EXPECT_EQ(NumFeasibleNodesToFind(0, 100), 100);
  EXPECT_EQ(NumFeasibleNodesToFind(0, 500), 230);
  EXPECT_EQ(NumFeasibleNodesToFind(0, 1000), 420);
  EXPECT_EQ(NumFeasibleNodesToFind(0, 5000), 500);
  EXPECT_EQ(NumFeasibleNodesToFind(0, 6000), 300);
  EXPECT_EQ(NumFeasibleNodesToFind(100, 6000), 6000);
  EXPECT_EQ(NumFeasibleNodesToFind(1, 6000), 100);
}

TEST(Config, DefaultIsUpstreamsProfilePlusVolumePlugins) {
  Config c = DefaultConfig();
  ASSERT_EQ(c.profiles.size(), 1u);
  EXPECT_EQ(c.profiles[0].filters.front(), "NodeUnschedulable");
  EXPECT_EQ(c.profiles[0].filters.back(), "InterPodAffinity");
  int taint = 0;
  for (const auto& [name, w] : c.profiles[0].scores) {
    if (name == "TaintToleration") taint = w;
  }
  EXPECT_EQ(taint, 3);
  EXPECT_TRUE(c.profiles[0].preemption);
}

TEST(Config, EnablesDisablesAndWeighsPluginsAndReadsArgs) {
  StatusOr<Config> c = FromYaml(std::string(kHead) + R"(percentageOfNodesToScore: 100
profiles:
- schedulerName: packer
  plugins:
    score:
      disabled: [{name: NodeResourcesBalancedAllocation}]
      enabled: [{name: VolumeLocality, weight: 7}]
    postFilter:
      disabled: [{name: DefaultPreemption}]
  pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: MostAllocated
        resources: [{name: cpu, weight: 3}, {name: nvidia.com/gpu, weight: 1}]
  - name: InterPodAffinity
    args: {hardPodAffinityWeight: 5}
- schedulerName: spreader
  plugins:
    multiPoint:
      disabled: [{name: '*'}]
      enabled: [{name: NodeResourcesFit}, {name: PodTopologySpread, weight: 9}]
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->percentage_of_nodes_to_score, 100);
  ASSERT_EQ(c->profiles.size(), 2u);
  const Profile& packer = c->profiles[0];
  EXPECT_EQ(packer.scheduler_name, "packer");
  EXPECT_FALSE(packer.preemption);
  EXPECT_EQ(packer.fit_strategy, ScoringStrategy::kMostAllocated);
  ASSERT_EQ(packer.fit_resources.size(), 2u);
  EXPECT_EQ(packer.fit_resources[0].weight, 3);
  EXPECT_EQ(packer.hard_pod_affinity_weight, 5);
  bool balanced = false;
  int volume = 0;
  for (const auto& [name, w] : packer.scores) {
    balanced = balanced || name == "NodeResourcesBalancedAllocation";
    if (name == "VolumeLocality") volume = w;
  }
  EXPECT_FALSE(balanced);
  EXPECT_EQ(volume, 7);
  const Profile& spreader = c->profiles[1];
  EXPECT_EQ(spreader.filters, (std::vector<std::string>{"NodeResourcesFit", "PodTopologySpread"}));
  ASSERT_EQ(spreader.scores.size(), 2u);
  EXPECT_EQ(spreader.scores[1], (std::pair<std::string, int>{"PodTopologySpread", 9}));
  EXPECT_FALSE(spreader.preemption);
}

TEST(Config, RequestedToCapacityRatioShape) {
  StatusOr<Config> c = FromYaml(std::string(kHead) + R"(profiles:
- pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: RequestedToCapacityRatio
        requestedToCapacityRatio:
          shape: [{utilization: 0, score: 0}, {utilization: 100, score: 10}]
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->profiles[0].fit_strategy, ScoringStrategy::kRequestedToCapacityRatio);
  EXPECT_EQ(c->profiles[0].shape.size(), 2u);
}

TEST(Config, ErrorsNameThePlaceAndTheFix) {
  struct Case {
    std::string body, want;
  } cases[] = {
      {"profiles:\n- plugins:\n    filter:\n      enabled: [{name: NodeAfinity}]\n",
       "did you mean \"NodeAffinity\"?"},
      {"profiles:\n- plugins:\n    score:\n      enabled: [{name: ImageLocality}]\n",
       "edgebed does not model it"},
      {"profiles:\n- schedulerName: a\n- schedulerName: a\n", "is used by an earlier profile"},
      {"profiles:\n- pluginConfig:\n  - name: NodeResourcesFit\n    args:\n      scoringStrategy:\n"
       "        type: RequestedToCapacityRatio\n        requestedToCapacityRatio:\n"
       "          shape: [{utilization: 50, score: 1}, {utilization: 10, score: 2}]\n",
       "strictly increasing"},
      {"profiles:\n- pluginConfig:\n  - name: Bogus\n", "unknown plugin \"Bogus\""},
  };
  for (const Case& c : cases) {
    StatusOr<Config> got = FromYaml(std::string(kHead) + c.body);
    ASSERT_FALSE(got.ok()) << c.body;
    EXPECT_NE(got.status().ToString().find(c.want), std::string::npos) << got.status().ToString();
    EXPECT_NE(got.status().ToString().find("profile.yaml:"), std::string::npos) << got.status().ToString();
  }
}

TEST(Config, LoaderRefusesUnknownFieldsAndBadValues) {
  model::LoadResult r = model::LoadManifests(std::string(kHead) + "percentageOfNodeToScore: 10\n", "p.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.errors[0].ToString().find("percentageOfNodesToScore"), std::string::npos)
      << r.errors[0].ToString();
  r = model::LoadManifests(std::string(kHead) + "podInitialBackoffSeconds: 5\npodMaxBackoffSeconds: 2\n",
                           "p.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.errors[0].ToString().find("at least podInitialBackoffSeconds"), std::string::npos);
}

}  // namespace
}  // namespace edgebed::sched
