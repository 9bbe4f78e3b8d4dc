// edgebed policy: what the network policies of some manifests allow.
//
//   edgebed policy matrix -f FILE... [--port N] [--protocol TCP|UDP|SCTP]
//   edgebed policy explain -f FILE... --from NS/POD|IP --to NS/POD|IP --port N [--protocol P]
//
// matrix prints, tab-separated, a header line "-" then each destination
// NS/POD, then per source NS/POD one cell per destination: "." when a new
// connection to that port is allowed, "X" when not. Pods are sorted by
// namespace, then name; their addresses come from status.podIP or are
// assigned from 10.42.0.0/16.
// explain prints which tier, policy and rule decided at each end.
#pragma once

#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/model/objects.h"

namespace edgebed::tools {

// argv[0] is "policy". Exit code: 0 when the input was valid, 1 when a
// manifest or policy has an error, 2 on bad usage.
int RunPolicy(int argc, char** argv);

// The reachability matrix of every pod among `objects`, in the format above
// (each line ending in "\n"). Errors: a policy that does not compile (a bad
// selector, an undefined tier), pods with clashing addresses.
StatusOr<std::string> ReachabilityMatrix(const std::vector<model::Object>& objects, int port,
                                         const std::string& protocol);

// The explanation `explain` prints, for one packet from `from` to `to` (each
// "NS/POD" or an IPv4 address).
StatusOr<std::string> ExplainConnection(const std::vector<model::Object>& objects,
                                        const std::string& from, const std::string& to, int port,
                                        const std::string& protocol);

}  // namespace edgebed::tools
