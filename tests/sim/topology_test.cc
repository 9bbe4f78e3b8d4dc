// The scenario topology in ns-3: every host reaches every other by tree
// routing, exactly as fast as stock ns-3 global routing takes the same
// packets over the same links (constant delays make the two comparable
// to the nanosecond); jitter never reorders; link faults cut what they name.
#include "sim/topology.h"

#include <gtest/gtest.h>

#include <set>

#include "core/env/memory_sink.h"
#include "sim/ns3_env.h"

namespace edgebed::sim {
namespace {

std::string Errors(const ScenarioLoad& r) {
  std::string out;
  for (const auto& e : r.errors) out += e.ToString() + "\n";
  return out;
}

// Two sites (one with its own uplink profile), uneven buildings and floors,
// cloud nodes; constant delays.
const char* kScenario = R"(name: topo
duration: 1m
profiles:
  lan: {delay: 50us, bandwidth: 1Gbps}
  riser: {delay: 100us, bandwidth: 10Gbps}
  campus: {delay: 300us, bandwidth: 10Gbps}
  metro: {delay: 2ms, bandwidth: 1Gbps}
  far: {delay: 7ms, bandwidth: 100Mbps}
  wan: {delay: 15ms, bandwidth: 200Mbps}
node_classes:
  n: {capacity: {cpu: "2", memory: 4Gi}}
topology:
  sites:
    - name: north
      buildings:
        - count: 2
          floors: [{count: 3, nodes: [{class: n, count: 3}]}]
        - count: 1
          floors: [{count: 1, nodes: [{class: n, count: 5}]}, {count: 2, nodes: [{class: n, count: 1}]}]
    - name: south
      uplink: far
      buildings:
        - count: 1
          floors: [{count: 2, nodes: [{class: n, count: 2}]}]
  cloud: {nodes: [{class: n, count: 2}]}
  server: {at: b2}
)";

Scenario Load(const std::vector<std::string>& overrides = {}) {
  ScenarioLoad r = LoadScenario(kScenario, "topo.yaml", ".", overrides);
  EXPECT_TRUE(r.ok()) << Errors(r);
  return *r.scenario;
}

// The hosts an Ns3World addresses: the cluster's nodes, then the server and the object store.
std::vector<const Host*> Hosts(const Topology& t) {
  std::vector<const Host*> hosts;
  for (const Host& h : t.nodes()) hosts.push_back(&h);
  hosts.push_back(&t.server());
  hosts.push_back(&t.object_store());
  return hosts;
}

TEST(Topology, AddressesAreDistinctAndInTheSharedSpace) {
  MemorySink sink;
  Ns3World world(1, sink);
  auto topo = Topology::Build(Load(), 1);
  ASSERT_TRUE(topo.ok()) << topo.status().ToString();
  const Topology& t = **topo;
  EXPECT_EQ(t.nodes().size(), 18u + 5 + 2 + 4 + 2);
  EXPECT_EQ(t.router_count(), 1u + 2 + 4 + 11 + 1);  // core, sites, buildings, floors, cloud
  std::set<uint32_t> seen;
  for (const Host* h : Hosts(t)) {
    EXPECT_TRUE(seen.insert(h->address.Get()).second) << h->name;
    EXPECT_EQ(h->address.Get() >> 22, ns3::Ipv4Address("100.64.0.0").Get() >> 22) << h->name;
  }
  EXPECT_EQ(t.nodes()[0].name, "b1-f1-n1");
  EXPECT_NE(t.Link("b1-f2"), nullptr);
  EXPECT_NE(t.Link("b3-f1-n5"), nullptr);
  EXPECT_NE(t.Link("south"), nullptr);
  EXPECT_NE(t.Link("cloud"), nullptr);
  EXPECT_EQ(t.Link("b9"), nullptr);
  EXPECT_EQ(t.Link("south")->profile().name, "far");
}

// One-way times of a small message for every ordered pair of hosts, one
// pair at a time so that no two share a queue.
std::vector<int64_t> AllPairs(Routing routing, size_t* hosts_out) {
  MemorySink sink;
  Ns3World world(1, sink);
  auto topo = Topology::Build(Load(), 1, routing);
  EXPECT_TRUE(topo.ok()) << topo.status().ToString();
  const std::vector<const Host*> hosts = Hosts(**topo);
  *hosts_out = hosts.size();
  for (const Host* h : hosts) world.AddNode(h->node, h->address);
  const size_t n = hosts.size();
  std::vector<int64_t> times(n * n, -1);
  for (NodeId i = 0; i < n; ++i)
    EXPECT_TRUE(world.env(i).Listen(1, [&times, &world](NodeId, ByteView m) {
      times[m[0] | (m[1] << 8)] = ToNanos(world.now());
    }).ok());
  const auto gap = std::chrono::milliseconds(100);
  for (size_t k = 0; k < n * n; ++k) {
    const NodeId from = static_cast<NodeId>(k / n), to = static_cast<NodeId>(k % n);
    if (from == to) continue;
    world.env(from).Schedule(gap * k, [&world, from, to, k] {
      world.env(from).Send(to, 1, Bytes{uint8_t(k), uint8_t(k >> 8)});
    });
  }
  world.RunFor(gap * (n * n) + std::chrono::seconds(1));
  for (size_t k = 0; k < n * n; ++k)
    if (times[k] >= 0) times[k] -= ToNanos(Time(gap * k));
  return times;
}

TEST(Topology, TreeRoutingMatchesStockGlobalRoutingPairForPair) {
  size_t n = 0;
  const std::vector<int64_t> tree = AllPairs(Routing::kTree, &n);
  const std::vector<int64_t> global = AllPairs(Routing::kGlobal, &n);
  int reached = 0;
  for (size_t k = 0; k < n * n; ++k) {
    if (k / n == k % n) continue;
    ASSERT_GE(tree[k], 0) << "host " << k / n << " did not reach host " << k % n;
    EXPECT_EQ(tree[k], global[k]) << "host " << k / n << " -> " << k % n;
    ++reached;
  }
  EXPECT_EQ(reached, static_cast<int>(n * (n - 1)));
  // b1-f1-n1 -> b1-f1-n2: two access links; -> b4 (south): node, floor,
  // building, site up; far, building, floor, node down.
  EXPECT_GT(tree[0 * n + 1], 100'000);
  EXPECT_LT(tree[0 * n + 1], 110'000);
}

TEST(Topology, LinkFaultsCutWhatTheyName) {
  MemorySink sink;
  Ns3World world(1, sink);
  auto topo = Topology::Build(Load(), 1);
  ASSERT_TRUE(topo.ok());
  const Topology& t = **topo;
  for (const Host& h : t.nodes()) world.AddNode(h.node, h.address);
  std::set<std::pair<NodeId, NodeId>> got;
  for (NodeId i = 0; i < world.node_count(); ++i)
    ASSERT_TRUE(world.env(i).Listen(1, [&got, i](NodeId from, ByteView) { got.insert({from, i}); }).ok());
  const auto exchange = [&] {
    got.clear();
    for (NodeId a = 0; a < world.node_count(); ++a)
      for (NodeId b = 0; b < world.node_count(); ++b)
        if (a != b) world.env(a).Send(b, 1, Bytes{1});
    world.RunFor(std::chrono::seconds(1));
  };
  // b1-f2 holds nodes 3, 4, 5.
  const auto in_floor = [](NodeId id) { return id >= 3 && id <= 5; };
  t.Link("b1-f2")->SetUp(false);
  exchange();
  for (NodeId a = 0; a < world.node_count(); ++a)
    for (NodeId b = 0; b < world.node_count(); ++b) {
      if (a == b) continue;
      const bool expect = in_floor(a) == in_floor(b);
      EXPECT_EQ(got.count({a, b}) > 0, expect) << a << " -> " << b;
    }
  t.Link("b1-f2")->SetUp(true);
  exchange();
  EXPECT_EQ(got.size(), world.node_count() * (world.node_count() - 1));
}

TEST(Topology, TooLargeForTheAddressPlanIsAnError) {
  MemorySink sink;
  Ns3World world(1, sink);
  // 33,000 buildings of one floor of 3 nodes: blocks round up past a /10.
  auto topo = Topology::Build(Load({"topology.sites[0].buildings[0].count=33000",
                                    "topology.sites[0].buildings[0].floors[0].count=1"}),
                              1);
  ASSERT_FALSE(topo.ok());
  EXPECT_NE(topo.status().message().find("the plan has a /10"), std::string::npos) << topo.status().ToString();
}

}  // namespace
}  // namespace edgebed::sim
