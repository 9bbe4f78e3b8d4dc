// Predicates: the pure rules of Kubernetes scheduling, on model objects.
//
// These are definitions, not optimizations: the scheduler (scheduler.h) and
// the naive reference (reference.h) both judge tolerations, node selectors,
// affinity terms and resource requests with them, and differ only in how
// they find the pods and nodes to judge. Each follows upstream's
// component-helpers and scheduler utilities.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/model/objects.h"

namespace edgebed::sched {

inline constexpr const char* kHostnameLabel = "kubernetes.io/hostname";
inline constexpr const char* kZoneLabel = "topology.kubernetes.io/zone";
inline constexpr const char* kRegionLabel = "topology.kubernetes.io/region";
inline constexpr const char* kNamespaceNameLabel = "kubernetes.io/metadata.name";
inline constexpr const char* kUnschedulableTaintKey = "node.kubernetes.io/unschedulable";

// Pods a node holds when its allocatable does not say (the kubelet's default maxPods).
inline constexpr int64_t kDefaultMaxPods = 110;
// What a container that requests no cpu or memory counts as when scoring.
inline constexpr int64_t kDefaultMilliCpuRequest = 100;
inline constexpr int64_t kDefaultMemoryRequest = 200ll * 1024 * 1024;

// A resource amount in the scheduler's unit: millicores for cpu, whole units
// (bytes, devices) for everything else.
int64_t Amount(const std::string& resource, const model::Quantity& q);

// The pod's effective request per resource: max(sum over containers, max over
// init containers), as upstream's computePodResourceRequest. Resources the
// pod does not name are absent.
std::map<std::string, int64_t> PodRequests(const model::PodSpec& spec);
// The same with upstream's non-zero defaults for cpu and memory (a container
// without a cpu request counts 100m, without memory 200Mi): used for scoring.
std::pair<int64_t, int64_t> NonZeroCpuMemory(const model::PodSpec& spec);
// A node's allocatable per resource; "pods" defaults to kDefaultMaxPods.
std::map<std::string, int64_t> NodeAllocatable(const model::Node& node);

// Tolerations (upstream v1helper.TolerationsTolerateTaint).
bool Tolerates(const model::Toleration& toleration, const model::Taint& taint);
bool TolerationsTolerate(const std::vector<model::Toleration>& tolerations,
                         const model::Taint& taint);

// Node affinity: one requirement against a node's labels (In, NotIn, Exists,
// DoesNotExist, Gt, Lt; Gt/Lt compare integers and fail on a non-integer).
bool RequirementMatches(const model::NodeSelectorRequirement& r, const model::Labels& labels);
// A term: every matchExpression against labels and every matchField against
// the node's name (metadata.name only); a term with neither matches nothing.
bool TermMatches(const model::NodeSelectorTerm& term, const model::Node& node);
// spec.nodeSelector and the required node affinity terms (ORed).
bool RequiredNodeAffinityMatches(const model::PodSpec& spec, const model::Node& node);

// An inter-pod affinity term as upstream's AffinityTerm: a label selector
// (absent: matches no pod), the namespaces it covers (names, plus those whose
// labels a namespaceSelector matches; neither given: the owner's namespace)
// and a topology key.
struct AffinityTerm {
  std::optional<model::LabelSelector> selector;
  std::set<std::string> namespaces;
  std::optional<model::LabelSelector> namespace_selector;  // {} matches every namespace
  std::string topology_key;
  int32_t weight = 0;  // preferred terms only
};
AffinityTerm MakeAffinityTerm(const model::PodAffinityTerm& term, const std::string& owner_ns,
                              int32_t weight = 0);
// True if a pod with these labels in a namespace with these labels is
// covered by the term.
bool AffinityTermMatches(const AffinityTerm& term, const std::string& pod_ns,
                         const model::Labels& pod_labels, const model::Labels& ns_labels);

// The label a node is grouped by for spreading the node list across zones
// (upstream's GetZoneKey: region and zone; empty when the node has neither).
std::string ZoneKey(const model::Labels& node_labels);

// The pod's priority: spec.priority when set; else the named PriorityClass's
// value; else the global default class's; else 0. An unknown class name is
// an error (the API server's admission rejects such a pod).
struct PriorityClasses {
  std::map<std::string, model::PriorityClass> by_name;
};
// Priority admission, as upstream's: the pod's PriorityClass (one of
// `classes` or a built-in system-node-critical / system-cluster-critical),
// or the global default with the highest value, gives its priority and
// preemption policy. Errors (false, *error says why): a class that does not
// exist; a spec.priority or spec.preemptionPolicy that differs from what the
// class gives. A pod with neither a class nor a default keeps its own
// spec.priority (0 if none).
bool ResolvePriority(const model::PodSpec& spec, const PriorityClasses& classes, int32_t* priority,
                     bool* preempt_never, std::string* error);

// The system default spread constraints upstream applies to a pod with an
// owner and none of its own: hostname maxSkew 3 and zone maxSkew 5, both
// ScheduleAnyway.
std::vector<model::TopologySpreadConstraint> SystemDefaultConstraints();

}  // namespace edgebed::sched
