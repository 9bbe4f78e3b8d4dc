// VolumePlacement: what the storage layer tells the scheduler about where a
// pod's volumes can be used and where their data lives.
//
// The scheduler asks it for pods that mount a persistentVolumeClaim. The
// storage engine (core/storage) implements it from its volumes' replica
// placement; tests implement it with a table. Calls are made on the
// scheduler's thread and must be fast (once per pod and candidate node).
// When its answers change (a replica moved, a volume was created), the owner
// calls Scheduler::VolumesChanged() so waiting pods are retried.
#pragma once

#include <string>

#include "core/model/objects.h"

namespace edgebed::sched {

class VolumePlacement {
 public:
  virtual ~VolumePlacement() = default;

  // Empty if the pod's volumes can be attached on `node`; else the reason,
  // a "node(s) ..." phrase as upstream's (e.g. "node(s) had no replica of
  // volume floor-1/models and it is not sharedv4"). REQUIRES: the pod mounts
  // at least one persistentVolumeClaim.
  virtual std::string CannotPlace(const model::Pod& pod, const model::Node& node) const = 0;
  // 0..100: how much of the pod's volume data `node` holds locally (100: a
  // replica of every volume). Scored by VolumeLocality.
  virtual int Locality(const model::Pod& pod, const model::Node& node) const = 0;
};

}  // namespace edgebed::sched
