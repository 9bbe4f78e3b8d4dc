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

// One-way delivery time of a small message for each (from, to) pair.
std::vector<int64_t> DeliveryTimes(Routing routing, const std::vector<std::pair<NodeId, NodeId>>& pairs) {
  MemorySink sink;
  Ns3World world(1, sink);
  EdgeTopologySpec spec;
  spec.buildings = 3;
  spec.floors_per_building = 4;
  spec.nodes_per_floor = 5;
  spec.routing = routing;
  auto topo = EdgeTopology::Build(spec);
  EXPECT_TRUE(topo.ok());
  for (const auto& n : (*topo)->edge_nodes()) world.AddNode(n.node, n.address);
  std::vector<int64_t> times(pairs.size(), -1);
  for (NodeId i = 0; i < world.node_count(); ++i) {
    EXPECT_TRUE(world.env(i).Listen(1, [&times, &world](NodeId, ByteView m) {
      times[m[0] | (m[1] << 8)] = ToNanos(world.now());
    }).ok());
  }
  // One pair at a time, 10 ms apart, so no two messages share a queue.
  for (size_t k = 0; k < pairs.size(); ++k) {
    world.env(pairs[k].first).Schedule(std::chrono::milliseconds(10 * k), [&world, &pairs, k] {
      world.env(pairs[k].first).Send(pairs[k].second, 1, Bytes{uint8_t(k), uint8_t(k >> 8)});
    });
  }
  world.RunFor(std::chrono::milliseconds(10 * pairs.size() + 100));
  for (size_t k = 0; k < pairs.size(); ++k) times[k] -= 10'000'000 * int64_t(k);
  return times;
}

// Differential: the routes installed from the hierarchy give every pair the
// same path length as stock ns-3 global routing computes.
TEST(EdgeTopology, HierarchicalRoutesMatchGlobalRouting) {
  Random r(5);
  std::vector<std::pair<NodeId, NodeId>> pairs;
  while (pairs.size() < 300) {
    NodeId a = NodeId(r.Uniform(60)), b = NodeId(r.Uniform(60));
    if (a != b) pairs.push_back({a, b});
  }
  const auto ours = DeliveryTimes(Routing::kTree, pairs);
  const auto stock = DeliveryTimes(Routing::kGlobal, pairs);
  for (size_t k = 0; k < pairs.size(); ++k) {
    ASSERT_GT(ours[k], 0) << pairs[k].first << " -> " << pairs[k].second << " never arrived";
    ASSERT_EQ(ours[k], stock[k]) << pairs[k].first << " -> " << pairs[k].second;
  }
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
