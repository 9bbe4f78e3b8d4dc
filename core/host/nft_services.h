// A node's Services in the kernel: the service table the agent's view
// holds (core/policy/services.h) rendered as one nftables table, in the
// manner of kube-proxy's nftables mode, and applied through libnftables as
// one atomic transaction (the old table goes in the same batch that brings
// the new one, so no packet sees half of either).
//
// What the rules do, as ServiceProxy does in simulation:
// - a new connection to a ClusterIP and port (from a pod, through the
//   node's prerouting hook, or from the node itself, through output) jumps
//   to its service's chain, which draws one endpoint uniformly (numgen
//   random) and DNATs to it; the kernel's conntrack keeps the connection
//   on that endpoint and turns the answers back;
// - sessionAffinity ClientIP: each endpoint remembers its clients in a set
//   with the affinity's timeout, checked before the draw;
// - internalTrafficPolicy Local: only this node's endpoints are drawn;
// - node ports: a connection to one of the node's own addresses on a node
//   port goes the same way; externalTrafficPolicy Cluster marks it for
//   masquerade (the pod sees the node's address), Local keeps the client's
//   address and draws this node's endpoints only;
// - a service port with nothing to draw, and a port of a ClusterIP that no
//   service serves, is rejected (ICMP unreachable, TCP reset) in the filter
//   hooks, as kube-proxy's REJECT rules do.
// Headless and ExternalName services have no rules. Policy (the filter
// rules of the dataplane) sees the translated packet, as upstream.
#pragma once

#include <cstdint>
#include <string>

#include "core/base/status.h"
#include "core/policy/services.h"

namespace edgebed::host {

struct NftServiceOptions {
  std::string table = "edgebed-services";  // an `ip` family table of its own
  std::string node_name;                   // for the Local traffic policies
  uint32_t masquerade_mark = 0x4000;       // kube-proxy's
};

// The nft script: replaces the table whole.
std::string RenderServiceRules(const policy::ServiceTable& services, const NftServiceOptions& options);

// Runs an nft script through libnftables in the calling thread's network
// namespace. kUnavailable when libnftables cannot reach the kernel (not
// root, no nf_tables); kInvalidArgument with nft's own message when the
// script is refused (then nothing of it was applied).
Status ApplyNft(const std::string& script);

}  // namespace edgebed::host
