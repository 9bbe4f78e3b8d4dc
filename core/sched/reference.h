// ReferenceScheduler: the naive twin of Scheduler (scheduler.h), the
// specification a differential test holds the fast scheduler to.
//
//   ReferenceScheduler fast_enough_to_trust(DefaultConfig(), nullptr, Random(seed));
//
// It promises the same public calls with the same semantics, the same
// Decisions (outcome, node, victims, reason text) and the same random draws
// in the same order as Scheduler, for the same sequence of calls: both follow
// the decision procedure written in scheduler.h, judge pods with the shared
// predicates (predicates.h) and order pending pods with the shared
// SchedulingQueue (queue.h). What differs is the method: this one keeps plain
// model objects (plus each pod's priority, bind time and nominated node) and,
// for every pod it tries, recomputes everything it needs — the resources
// requested on each node, the pod counts behind affinity and topology-spread
// rules, every score — by scanning all pods and nodes directly. Nothing about
// the cluster is cached between attempts, so there is nothing to keep
// consistent; that is the point. One attempt costs O(nodes x pods); it is
// meant to be read and to run differential tests of a few hundred nodes and
// pods, not to drive a control plane.
//
// Time is the caller's (`now`), randomness the Random given at construction;
// no call throws, errors are Status values.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "core/base/status.h"
#include "core/env/env.h"
#include "core/env/random.h"
#include "core/model/objects.h"
#include "core/sched/config.h"
#include "core/sched/scheduler.h"
#include "core/sched/volume_placement.h"

namespace edgebed::sched {

class ReferenceScheduler {
 public:
  // As Scheduler's: `volumes` may be null and must outlive the scheduler.
  ReferenceScheduler(Config config, const VolumePlacement* volumes, Random random);
  ~ReferenceScheduler();
  ReferenceScheduler(const ReferenceScheduler&) = delete;
  ReferenceScheduler& operator=(const ReferenceScheduler&) = delete;

  // Every call below means exactly what the Scheduler call of the same name
  // means (see scheduler.h).
  void UpsertNamespace(const model::Namespace& ns, Time now);
  void UpsertPriorityClass(const model::PriorityClass& pc);

  void UpsertNode(const model::Node& node, Time now);
  Status RemoveNode(const std::string& name, Time now);

  Status AddPod(const model::Pod& pod, Time now,
                const model::LabelSelector* owner_selector = nullptr);
  Status RemovePod(const std::string& ns, const std::string& name, Time now);
  void VolumesChanged(Time now);

  std::optional<Decision> ScheduleOne(Time now);
  std::optional<Time> NextBackoffExpiry() const;

  std::string NodeOf(const std::string& ns, const std::string& name) const;
  size_t pending() const;
  size_t node_count() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgebed::sched
