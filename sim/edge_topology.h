// EdgeTopology: buildings -> floors -> edge nodes as an ns-3 network, with
// routes installed straight from the hierarchy.
//
// Each edge node hangs off its floor's router by a point-to-point link, each
// floor router off its building's router, each building router off one core
// router. ns-3's global routing is not used: it computes all-pairs routes and
// takes minutes at thousands of nodes. The hierarchy already says where every
// address lives, so each router gets one route per child prefix and a default
// route to its parent, and each hop costs the same however large the network.
//
// Address plan (why the limits): building b owns 10.(b+1).0.0/16; floor f of
// it owns 10.(b+1).f.0/24, one /30 per edge node link (so at most 64 nodes a
// floor); floor uplinks are /30s in 10.(b+1).255.0/24 (at most 64 floors);
// building uplinks are /30s in 10.255.0.0/16 (at most 254 buildings).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <ns3/core-module.h>
#include <ns3/internet-module.h>
#include <ns3/network-module.h>

#include "core/base/status.h"
#include "core/env/env.h"
#include "sim/topology.h"  // Routing

namespace edgebed::sim {

struct LinkSpec {
  std::string data_rate = "1Gbps";
  Duration delay = std::chrono::microseconds(100);
  uint32_t queue_packets = 1000;
};


struct EdgeTopologySpec {
  int buildings = 2;
  int floors_per_building = 6;
  int nodes_per_floor = 10;
  LinkSpec node_link;                                           // edge node <-> floor router
  LinkSpec floor_link{"10Gbps", std::chrono::microseconds(200), 1000};     // floor <-> building
  LinkSpec building_link{"10Gbps", std::chrono::milliseconds(1), 1000};  // building <-> core
  Routing routing = Routing::kTree;

  // OK if the numbers fit the address plan; otherwise names the field and the limit.
  Status Validate() const;
  int edge_node_count() const { return buildings * floors_per_building * nodes_per_floor; }
};

struct EdgeNodeInfo {
  ns3::Ptr<ns3::Node> node;
  ns3::Ipv4Address address;
  int building = 0, floor = 0, index = 0;
  double uplink_bps = 0;
  std::string Name() const;  // "b1-f2-n3", numbered from 1 as people count floors
};

class EdgeTopology {
 public:
  static StatusOr<std::unique_ptr<EdgeTopology>> Build(const EdgeTopologySpec& spec);

  const std::vector<EdgeNodeInfo>& edge_nodes() const { return edge_nodes_; }
  const EdgeTopologySpec& spec() const { return spec_; }
  size_t router_count() const { return routers_.GetN(); }

 private:
  explicit EdgeTopology(const EdgeTopologySpec& spec) : spec_(spec) {}

  EdgeTopologySpec spec_;
  std::vector<EdgeNodeInfo> edge_nodes_;
  ns3::NodeContainer routers_;
};

}  // namespace edgebed::sim
