// edgebed policy: what the network policies of some manifests allow.
//
//   edgebed policy matrix -f FILE... [--port N] [--protocol TCP|UDP|SCTP]
//   edgebed policy explain -f FILE... --from NS/POD|IP --to NS/POD|IP
//                          (--port N [--protocol TCP|UDP|SCTP] | --protocol ICMP [--icmp-type T])
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

// What a connection is probed with: a protocol with ports and the
// destination port, or ICMP (ICMPv6) with a type and code.
struct Probe {
  std::string protocol = "TCP";
  int port = 80;
  int icmp_type = 8, icmp_code = 0;  // an echo request
};

// The reachability matrix of every pod among `objects`, in the format above
// (each line ending in "\n"). Errors: a bad probe (the matrix takes TCP, UDP
// and SCTP), a policy that does not compile (a bad selector, an undefined
// tier), pods with clashing addresses.
StatusOr<std::string> ReachabilityMatrix(const std::vector<model::Object>& objects,
                                         const Probe& probe);

// The explanation `explain` prints, for one packet from `from` to `to` (each
// "NS/POD" or an IPv4 address).
StatusOr<std::string> ExplainConnection(const std::vector<model::Object>& objects,
                                        const std::string& from, const std::string& to,
                                        const Probe& probe);

}  // namespace edgebed::tools
