// Topology: a scenario's sites, buildings, floors and nodes as an ns-3
// network whose every hop costs the same however large the network.
//
//   core router ─┬─ site router ── building router ── floor switch ── edge node
//                └─ cloud router ── cloud node, object store (and the server,
//                                   unless it sits in a building)
//
// Every link is a ProfiledChannel (sim/link.h) carrying its level's profile
// (scenario links: node, floor, building, site, cloud; a site's uplink may
// name its own). The control plane's machine hangs off the cloud router or
// off the router of the building the scenario names, by a node-class link.
//
// Routing. ns-3's global routing computes all-pairs routes (minutes at
// thousands of nodes) and its static routing scans a router's route list per
// packet. Here the address plan is the routing table: every vertex of the
// tree owns an aligned block of 100.64.0.0/10 (shared address space, never
// on anyone's LAN); a router's children own equal blocks in order after its
// own uplink's /30, so a router forwards with one subtraction and one shift
// (TreeRouting) and a host sends everything up. Setup is linear in the
// nodes, a hop is O(1).
//
// Routing::kGlobal builds the same tree the way a stock ns-3 script would
// (PointToPointHelper links with each profile's mean delay, the same
// addresses, Ipv4GlobalRoutingHelper): the baseline benchmarks/sim_bench.cc
// compares against. It carries no profile's jitter or loss and
// takes no link faults (links() hold no channel).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <ns3/core-module.h>
#include <ns3/internet-module.h>
#include <ns3/network-module.h>

#include "core/base/status.h"
#include "sim/link.h"
#include "sim/scenario.h"

namespace edgebed::sim {

enum class Routing { kTree, kGlobal };

// A machine of the topology: a cluster node, the server or the object store.
struct Host {
  std::string name;
  ns3::Ptr<ns3::Node> node;
  ns3::Ipv4Address address;
  double uplink_bps = 0;
};

// A link of the topology, named by what it connects below: a node's access
// link by the node ("b1-f2-n3"), a unit's uplink by the unit ("b1-f2", "b1",
// a site, "cloud"); the server's and object store's by "server" and
// "object-store".
struct NamedLink {
  std::string name;
  std::string level;  // node, floor, building, site, cloud
  ns3::Ptr<ProfiledChannel> channel;  // null under Routing::kGlobal
};

class Topology {
 public:
  // Seeds of the links derive from `seed`.
  static StatusOr<std::unique_ptr<Topology>> Build(const Scenario& scenario, uint64_t seed,
                                                   Routing routing = Routing::kTree);

  // The cluster's nodes, in the scenario's order (scenario.nodes[i] is nodes()[i]).
  const std::vector<Host>& nodes() const { return nodes_; }
  const Host& server() const { return server_; }
  const Host& object_store() const { return object_store_; }
  size_t router_count() const { return routers_.GetN(); }

  const std::vector<NamedLink>& links() const { return links_; }
  // The link a fault names: a node's access link or a unit's uplink; null if none.
  ProfiledChannel* Link(const std::string& name) const;

 private:
  Topology() = default;
  friend class TopologyBuilder;

  std::vector<Host> nodes_;
  Host server_, object_store_;
  ns3::NodeContainer routers_;
  std::vector<NamedLink> links_;
  std::map<std::string, size_t> link_index_;
};

}  // namespace edgebed::sim
