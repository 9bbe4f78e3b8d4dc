// Offline placement: feeds a scheduler manifests, runs it until no pod is
// left to try.
//
//   Status st = AddObjects(scheduler, objects, Time{}, &refused);
//   std::vector<Placement> out = PlaceAll(scheduler);
//
// Preemption victims are evicted at once (as if their graceful termination
// took no time) and simulated time jumps over backoffs, so the result
// depends only on the input and the seed. Works for Scheduler and for the
// naive ReferenceScheduler alike (both have the same methods).
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/env/env.h"
#include "core/base/status.h"
#include "core/model/objects.h"
#include "core/sched/scheduler.h"

namespace edgebed::sched {

struct Placement {
  std::string pod;                   // namespace/name
  std::string node;                  // empty when not placed
  std::vector<std::string> victims;  // pods it preempted on the way
  std::string reason;                // why not placed
};

// Feeds a scheduler the objects of some manifests: PriorityClasses,
// Namespaces and Nodes first, then pods already bound (spec.nodeName: the
// load the others are placed around), then pending pods, Deployment
// replicas and StatefulSet pods (with their workload's selector as their
// owner's) and the pods a Job starts with (model::JobPods), in file order. Pods whose schedulerName no profile has are left out and listed in
// `refused` ("ns/name<TAB>-<TAB>why"). Errors: an unknown PriorityClass, a
// pod name given twice; the status names the manifest position.
template <typename S>
Status AddObjects(S& s, const std::vector<model::Object>& objects, Time now,
                  std::vector<std::string>* refused) {
  for (const auto& o : objects) {
    if (const auto* pc = std::get_if<model::PriorityClass>(&o)) s.UpsertPriorityClass(*pc);
    if (const auto* ns = std::get_if<model::Namespace>(&o)) s.UpsertNamespace(*ns, now);
    if (const auto* n = std::get_if<model::Node>(&o)) s.UpsertNode(*n, now);
  }
  const auto add = [&](const model::Pod& pod, const model::LabelSelector* owner) -> Status {
    Status st = s.AddPod(pod, now, owner);
    if (st.code() == StatusCode::kFailedPrecondition) {
      refused->push_back(pod.meta.namespace_ + "/" + pod.meta.name + "\t-\t" + st.message());
      return Status::Ok();
    }
    if (!st.ok()) return Status(st.code(), "pod " + st.where() + ": " + st.message(), pod.meta.pos.ToString());
    return st;
  };
  for (int pass = 0; pass < 2; ++pass) {
    const bool want_bound = pass == 0;
    for (const auto& o : objects) {
      if (const auto* pod = std::get_if<model::Pod>(&o)) {
        if (!pod->spec.node_name.empty() == want_bound) {
          if (Status st = add(*pod, nullptr); !st.ok()) return st;
        }
      } else if (const auto* d = std::get_if<model::Deployment>(&o)) {
        for (const model::Pod& pod : model::ReplicaPods(*d)) {
          if (!pod.spec.node_name.empty() == want_bound) {
            if (Status st = add(pod, &d->selector); !st.ok()) return st;
          }
        }
      } else if (const auto* ss = std::get_if<model::StatefulSet>(&o)) {
        for (const model::Pod& pod : model::StatefulPods(*ss)) {
          if (!pod.spec.node_name.empty() == want_bound) {
            if (Status st = add(pod, &ss->selector); !st.ok()) return st;
          }
        }
      } else if (const auto* job = std::get_if<model::Job>(&o)) {
        for (const model::Pod& pod : model::JobPods(*job)) {
          if (!pod.spec.node_name.empty() == want_bound) {
            if (Status st = add(pod, nullptr); !st.ok()) return st;
          }
        }
      }
    }
  }
  return Status::Ok();
}

// Bound pods in the order they were bound, then the pods left unplaced in
// the order of their last attempt. `observe`, when given, sees every
// decision first (the control plane's hook: attach volumes on a bind).
// `max_attempts` guards against a loop that should not exist; hitting it
// ends the run with the pods left unplaced.
template <typename S>
std::vector<Placement> PlaceAll(S& s, Time now = Time{}, uint64_t max_attempts = 100'000'000,
                                const std::function<void(const Decision&, Time)>& observe = nullptr) {
  std::vector<Placement> bound;
  std::map<std::string, std::vector<std::string>> victims_of;
  std::map<std::string, std::string> reason_of;
  std::map<std::string, uint64_t> last_try;
  uint64_t attempts = 0;
  while (attempts < max_attempts) {
    std::optional<Decision> d = s.ScheduleOne(now);
    if (!d) {
      std::optional<Time> next = s.NextBackoffExpiry();
      if (!next) break;
      now = std::max(now, *next);
      continue;
    }
    last_try[d->pod] = ++attempts;
    if (observe) observe(*d, now);
    switch (d->outcome) {
      case Decision::kBound:
        bound.push_back({d->pod, d->node, victims_of[d->pod], ""});
        reason_of.erase(d->pod);
        break;
      case Decision::kNominated:
        for (const std::string& victim : d->victims) {
          victims_of[d->pod].push_back(victim);
          const size_t slash = victim.find('/');
          (void)s.RemovePod(victim.substr(0, slash), victim.substr(slash + 1), now);
        }
        reason_of[d->pod] = "nominated to " + d->node + " after preempting, but it did not fit there";
        break;
      case Decision::kUnschedulable:
        reason_of[d->pod] = d->reason;
        break;
    }
  }
  std::vector<std::pair<uint64_t, std::string>> unplaced;
  for (const auto& [pod, reason] : reason_of) unplaced.emplace_back(last_try[pod], pod);
  std::sort(unplaced.begin(), unplaced.end());
  for (const auto& [when, pod] : unplaced) bound.push_back({pod, "", victims_of[pod], reason_of[pod]});
  return bound;
}

}  // namespace edgebed::sched
