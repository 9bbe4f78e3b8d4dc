// Config: the scheduler's profiles, as kube-scheduler's KubeSchedulerConfiguration.
//
//   StatusOr<Config> config = ConfigFromObject(loaded_configuration);  // or DefaultConfig()
//
// A Profile is a list of filter plugins in the order they run and of score
// plugins with their weights, plus the args of the plugins that take any.
// DefaultConfig() is upstream's v1 default profile (filters NodeUnschedulable,
// NodeName, TaintToleration, NodeAffinity, NodePorts, NodeResourcesFit,
// VolumePlacement, PodTopologySpread, InterPodAffinity; scores
// TaintToleration 3, NodeAffinity 2, PodTopologySpread 2, InterPodAffinity 2,
// NodeResourcesFit 1, NodeResourcesBalancedAllocation 1) plus edgebed's
// VolumePlacement filter and VolumeLocality score (weight 2: prefer a node
// that holds a replica of the pod's volume, as Portworx's Stork does).
// ImageLocality and the volume plugins of cloud disks are not modelled.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/base/status.h"
#include "core/model/objects.h"

namespace edgebed::sched {

enum class ScoringStrategy { kLeastAllocated, kMostAllocated, kRequestedToCapacityRatio };

struct Profile {
  std::string scheduler_name = "default-scheduler";
  std::vector<std::string> filters;                  // in the order they run
  std::vector<std::pair<std::string, int>> scores;   // plugin, weight (>= 1)
  bool preemption = true;                            // DefaultPreemption (PostFilter)

  // NodeResourcesFit
  ScoringStrategy fit_strategy = ScoringStrategy::kLeastAllocated;
  std::vector<model::ResourceWeight> fit_resources = {{"cpu", 1}, {"memory", 1}};
  // RequestedToCapacityRatio: (utilization 0..100, score 0..10), increasing utilization.
  std::vector<model::UtilizationShapePoint> shape = {{0, 10}, {100, 0}};
  // NodeResourcesBalancedAllocation
  std::vector<model::ResourceWeight> balanced_resources = {{"cpu", 1}, {"memory", 1}};
  // InterPodAffinity
  int32_t hard_pod_affinity_weight = 1;
  bool ignore_preferred_terms_of_existing_pods = false;
  // PodTopologySpread: constraints for pods that have none (List), or the
  // system defaults (hostname maxSkew 3, zone maxSkew 5, ScheduleAnyway) for
  // pods that belong to a Deployment (System). The selector is the owner's.
  bool system_default_constraints = true;
  std::vector<model::TopologySpreadConstraint> default_constraints;
  // DefaultPreemption
  int32_t min_candidate_nodes_percentage = 10;
  int32_t min_candidate_nodes_absolute = 100;
};

struct Config {
  // 0: adaptive, as upstream (all nodes below 100; 50% falling by 1% per 125
  // nodes to at least 5%, and at least 100 nodes). 100: score every node.
  int32_t percentage_of_nodes_to_score = 0;
  std::chrono::nanoseconds initial_backoff = std::chrono::seconds(1);
  std::chrono::nanoseconds max_backoff = std::chrono::seconds(10);
  // An unschedulable pod is retried after this long even if no cluster event
  // could have helped it (upstream's podMaxInUnschedulablePodsDuration).
  std::chrono::nanoseconds max_in_unschedulable = std::chrono::minutes(5);
  std::vector<Profile> profiles = {Profile{}};
};

// Every plugin edgebed's scheduler has, by extension point.
const std::vector<std::string>& KnownFilterPlugins();
const std::vector<std::pair<std::string, int>>& DefaultScorePlugins();

Config DefaultConfig();

// Applies a KubeSchedulerConfiguration over the defaults, as upstream does:
// plugins enabled at an extension point (or multiPoint) are appended to the
// default set, "disabled: [{name: '*'}]" clears it, a score weight replaces
// the default one. Errors name the field and the fix (unknown plugin names
// with the closest known one, duplicate schedulerNames, a shape that is not
// increasing).
StatusOr<Config> ConfigFromObject(const model::KubeSchedulerConfiguration& object);

// How many feasible nodes to find before scoring (upstream's
// numFeasibleNodesToFind).
int32_t NumFeasibleNodesToFind(int32_t percentage_of_nodes_to_score, int32_t num_all_nodes);

}  // namespace edgebed::sched
