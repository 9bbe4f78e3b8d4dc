// Scheduler: places pending pods on nodes as kube-scheduler does — filter,
// score, preempt — for a control plane that feeds it changes one at a time.
//
//   Scheduler s(DefaultConfig(), /*volumes=*/nullptr, Random(seed));
//   s.AddNode(node);  s.AddPod(pod, now);             // pending or already bound
//   while (auto d = s.ScheduleOne(now)) {
//     if (d->outcome == Decision::kBound) bind(d->pod, d->node);
//     if (d->outcome == Decision::kNominated) for (auto& v : d->victims) evict(v);
//   }
//
// The scheduler keeps its own cache of nodes, pods and namespaces, updated by
// the Add/Update/Remove calls, and never rescans the cluster per pod: node
// resources are summed as pods come and go, and the pod counts that affinity
// and topology-spread rules ask for are kept per topology domain and updated
// incrementally. No I/O of its own; time is the caller's (`now`).
//
// Decision procedure (shared, to the draw of each random number, with the
// naive reference in reference.h, which a differential test holds it to):
// 1. The queue (queue.h) yields the next pod.
// 2. Nodes are listed round-robin across zones (ZoneKey: the first node of
//    each zone in the order zones appeared, then the second of each...; in a
//    zone, nodes in the order they joined it; a zone that empties leaves the
//    order, a node that changes zone joins the end of its new one), as
//    upstream's node tree. Every node carries kubernetes.io/hostname (its
//    name, unless its labels say otherwise), as every kubelet sets it.
// 3. If the pod has a nominated node (from an earlier preemption) and it
//    passes every filter there, that node is chosen without scoring.
// 4. Otherwise filters run on nodes in list order starting at a rotating
//    index, stopping after NumFeasibleNodesToFind feasible nodes; the index
//    then moves past the nodes examined. A node's filters run in profile
//    order and stop at the first that rejects it. Pods nominated to a node
//    with priority >= the pod's count as already there (and the node must
//    pass both with and without them).
// 5. One feasible node is chosen as is. Several are scored: every score
//    plugin gives 0..100 after its normalisation, times its weight, summed.
//    The highest total wins; ties are broken by reservoir sampling over the
//    feasible list in order (the k-th tied node replaces the choice when
//    random.Uniform(k) == 0), as upstream's selectHost.
// 6. No feasible node: if the profile preempts and the pod may, preemption
//    (upstream's DefaultPreemption) looks at the nodes whose rejection was
//    resolvable (NodeResourcesFit, NodePorts, InterPodAffinity's
//    anti-affinity, PodTopologySpread skew), from a random offset
//    (random.Uniform(count)), dry-running at most
//    max(count * min_candidate_nodes_percentage / 100, absolute) of them;
//    on each it removes every lower-priority pod, checks the pod then fits,
//    and gives back victims most important first (higher priority, then
//    earlier start) while it still fits. Among candidates it picks the
//    lowest highest-victim priority, then lowest sum of priorities, then
//    fewest victims, then latest start of the highest-priority victims,
//    then the first found.
// 7. The outcome is a Decision; a bound pod counts on its node at once
//    ("assumed"), a nominated one reserves its room on the node for pods of
//    lower priority and is retried when its victims are gone.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/env/env.h"
#include "core/env/random.h"
#include "core/model/objects.h"
#include "core/sched/config.h"
#include "core/sched/volume_placement.h"

namespace edgebed::sched {

struct Decision {
  enum Outcome {
    kBound,          // `node` is where the pod goes; the caller binds it
    kNominated,      // preemption: evict `victims`, the pod will then fit on `node`
    kUnschedulable,  // `reason` says why, upstream-style
  };
  Outcome outcome = kUnschedulable;
  std::string pod;                   // "namespace/name"
  std::string node;
  std::vector<std::string> victims;  // "namespace/name", kNominated only
  // e.g. "0/5 nodes are available: 3 Insufficient cpu, 2 node(s) had
  // untolerated taint {edge/floor: 3}. preemption: 0/5 nodes are available:
  // 3 No preemption victims found for incoming pod, 2 Preemption is not
  // helpful for scheduling."
  std::string reason;
};

class Scheduler {
 public:
  // `volumes` may be null (no pod's volume then constrains placement); it
  // must outlive the scheduler. `random` breaks ties and picks the
  // preemption offset.
  Scheduler(Config config, const VolumePlacement* volumes, Random random);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Namespaces and priority classes, needed before the pods that use them
  // (namespaceSelector terms see a namespace's labels; a namespace never
  // added has only its kubernetes.io/metadata.name label).
  void UpsertNamespace(const model::Namespace& ns, Time now);
  void UpsertPriorityClass(const model::PriorityClass& pc);

  // Nodes. Adding an existing name updates it (its pods stay).
  void UpsertNode(const model::Node& node, Time now);
  // Removes a node; pods bound to it stay bound to nothing until removed.
  Status RemoveNode(const std::string& name, Time now);

  // A pod: pending if spec.nodeName is empty (queued), else bound to that
  // node and counted as its load (the node need not exist yet).
  // `owner_selector`, when given, is the selector of the workload that owns
  // the pod (a Deployment's), used for the default spread constraints.
  // Errors: kAlreadyExists, kInvalidArgument (unknown PriorityClass),
  // kFailedPrecondition (no profile for spec.schedulerName: the pod is left
  // for another scheduler).
  Status AddPod(const model::Pod& pod, Time now,
                const model::LabelSelector* owner_selector = nullptr);
  // Removes a pod, pending or bound (e.g. a preemption victim evicted).
  Status RemovePod(const std::string& ns, const std::string& name, Time now);
  // The storage layer's placement changed: pods waiting on volumes retry.
  void VolumesChanged(Time now);

  // Tries the next pod the queue yields at `now`; nothing when no pod is
  // ready (pending pods may be backing off: see NextBackoffExpiry()).
  std::optional<Decision> ScheduleOne(Time now);
  std::optional<Time> NextBackoffExpiry() const;

  // Where a pod is bound ("" when pending or unknown).
  std::string NodeOf(const std::string& ns, const std::string& name) const;
  // The pod as added, or null.
  const model::Pod* FindPod(const std::string& ns, const std::string& name) const;
  size_t pending() const;
  size_t node_count() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgebed::sched
