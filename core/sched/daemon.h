// DaemonSets as upstream's DaemonSet controller places them: which nodes
// take a daemon pod and what that pod looks like. The cluster's controller
// and the offline tools (edgebed sched, policy matrix) share it, so what
// the tools show is what the cluster runs.
//
// A daemon pod is the template's pod, named <set>-<10 hex digits of its
// node and revision>, labelled controller-revision-hash, pinned to its node
// by a required node affinity term on metadata.name (which replaces the
// template's required terms, as upstream writes it), with the tolerations
// upstream adds: it stays on a node that is not ready, unreachable, under
// pressure or cordoned. It still goes through the scheduler like any pod.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/model/objects.h"

namespace edgebed::sched {

inline constexpr const char* kRevisionHashLabel = "controller-revision-hash";

// The template's revision: a hash of the pod it makes, in its namespace.
std::string TemplateRevision(const std::string& ns, const model::PodTemplate& tmpl);

// The template's tolerations and the ones upstream's controller adds.
std::vector<model::Toleration> DaemonTolerations(const model::PodSpec& spec);

// A new daemon pod goes where the node selector and required node affinity
// match and every NoSchedule and NoExecute taint is tolerated (`run`); a
// running one stays while its NoExecute taints are (`keep`).
struct DaemonFit {
  bool run = false, keep = false;
};
DaemonFit DaemonFits(const model::DaemonSet& set, const model::Node& node);

// The daemon pod for `node` of template `revision`; `salt` makes another
// name should the first be taken.
model::Pod DaemonPod(const model::DaemonSet& set, const std::string& node, const std::string& revision,
                     uint64_t salt = 0);
// The node a daemon pod is for: the node name its required affinity names.
std::string DaemonNodeOf(const model::Pod& pod);

// One pod for each node that takes one, in the nodes' order.
std::vector<model::Pod> DaemonPods(const model::DaemonSet& set, const std::vector<model::Node>& nodes);

}  // namespace edgebed::sched
