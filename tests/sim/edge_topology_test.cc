#include "sim/edge_topology.h"

#include <gtest/gtest.h>

#include <set>

#include "core/env/memory_sink.h"
#include "sim/ns3_env.h"

namespace edgebed::sim {
namespace {

TEST(EdgeTopology, BuildsTheHierarchyWithDistinctAddresses) {
  MemorySink sink;
  Ns3World world(1, sink);  // owns the simulator state for this test
  EdgeTopologySpec spec;
  spec.buildings = 3;
  spec.floors_per_building = 4;
  spec.nodes_per_floor = 5;
  auto topo = EdgeTopology::Build(spec);
  ASSERT_TRUE(topo.ok()) << topo.status().ToString();
  EXPECT_EQ((*topo)->edge_nodes().size(), 60u);
  EXPECT_EQ((*topo)->router_count(), 1u + 3 + 12);
  std::set<uint32_t> addresses;
  for (const auto& n : (*topo)->edge_nodes()) addresses.insert(n.address.Get());
  EXPECT_EQ(addresses.size(), 60u);
  const EdgeNodeInfo& last = (*topo)->edge_nodes().back();
  EXPECT_EQ(last.Name(), "b3-f4-n5");
  EXPECT_EQ(last.address, ns3::Ipv4Address("10.3.3.18"));
}

TEST(EdgeTopology, RefusesSpecsOutsideTheAddressPlan) {
  EdgeTopologySpec spec;
  spec.nodes_per_floor = 65;
  EXPECT_EQ(spec.Validate().ToString(),
            "nodes_per_floor: must be 1..64 (each floor is a /24 of /30 links)");
  spec = {};
  spec.buildings = 0;
  EXPECT_EQ(spec.Validate().where(), "buildings");
  spec = {};
  spec.floor_link.data_rate = "10 furlongs";
  EXPECT_EQ(spec.Validate().ToString(),
            "floor_link.data_rate: \"10 furlongs\" has an unknown unit; use bps, kbps, Mbps, "
            "Gbps, Tbps (bits) or Bps, KBps, MBps, GBps (bytes)");
}

}  // namespace
}  // namespace edgebed::sim
