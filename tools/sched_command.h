// edgebed sched: offline placement of the pods of some manifests onto their nodes.
//
//   edgebed sched -f FILE... [--config PROFILE] [--seed N]
//
// Loads Nodes, Namespaces, PriorityClasses, Pods and Deployments (each
// Deployment stands for its replica pods), then runs the scheduler
// (core/sched) until no pod is left to try. Pods that carry spec.nodeName
// are already bound and count as load. Output, one line per pod in the
// order the scheduler decided them (pods it could not place last):
//   NAMESPACE/POD<TAB>NODE                              bound
//   NAMESPACE/POD<TAB>NODE<TAB>preempts NS/VICTIM,...   bound after preempting
//   NAMESPACE/POD<TAB>-<TAB>REASON                      not placed
// PROFILE is a KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1).
// Time is simulated: a pod backing off waits in simulated seconds, so the
// same input and seed always print the same lines.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/model/objects.h"
#include "core/sched/config.h"

namespace edgebed::tools {

// argv[0] is "sched". Exit code: 0 when the input was valid, 1 when a
// manifest or the profile has an error, 2 on bad usage.
int RunSched(int argc, char** argv);

// Places the pods of `objects` and returns the output described above.
// Errors: a pod naming a PriorityClass that does not exist, two pods (or
// replicas) with one name.
StatusOr<std::string> PlacePods(const std::vector<model::Object>& objects,
                                const sched::Config& config, uint64_t seed);

}  // namespace edgebed::tools
