#include "sim/edge_topology.h"

#include <cstdio>

#include <ns3/point-to-point-module.h>

#include "core/base/units.h"

namespace edgebed::sim {
namespace {

std::string Dotted(int a, int b, int c, int d) {
  char text[48];
  std::snprintf(text, sizeof text, "%d.%d.%d.%d", a, b, c, d);
  return text;
}

struct Wired {
  ns3::Ipv4Address parent_address, child_address;
  uint32_t parent_interface = 0, child_interface = 0;
};

// Gives `device` the address `host` of the /30 `subnet` (host 1 or 2).
// Addresses are set on the interface directly: Ipv4AddressHelper checks each
// new address against every earlier one, which turns setup quadratic.
std::pair<ns3::Ipv4Address, uint32_t> Address(ns3::Ptr<ns3::NetDevice> device, uint32_t subnet,
                                              uint32_t host) {
  ns3::Ptr<ns3::Ipv4> ipv4 = device->GetNode()->GetObject<ns3::Ipv4>();
  const auto interface = static_cast<uint32_t>(ipv4->AddInterface(device));
  const ns3::Ipv4Address address(subnet + host);
  ipv4->AddAddress(interface, ns3::Ipv4InterfaceAddress(address, ns3::Ipv4Mask("255.255.255.252")));
  ipv4->SetMetric(interface, 1);
  ipv4->SetUp(interface);
  return {address, interface};
}

Wired Connect(ns3::Ptr<ns3::Node> parent, ns3::Ptr<ns3::Node> child, const LinkSpec& spec,
              double bps, const std::string& subnet) {
  ns3::PointToPointHelper p2p;
  p2p.SetDeviceAttribute("DataRate", ns3::DataRateValue(ns3::DataRate(static_cast<uint64_t>(bps))));
  p2p.SetChannelAttribute("Delay", ns3::TimeValue(ns3::NanoSeconds(spec.delay.count())));
  p2p.SetQueue("ns3::DropTailQueue<Packet>", "MaxSize",
               ns3::StringValue(std::to_string(spec.queue_packets) + "p"));
  ns3::NetDeviceContainer devices = p2p.Install(parent, child);
  const uint32_t base = ns3::Ipv4Address(subnet.c_str()).Get();
  const auto [parent_address, parent_interface] = Address(devices.Get(0), base, 1);
  const auto [child_address, child_interface] = Address(devices.Get(1), base, 2);
  return Wired{parent_address, child_address, parent_interface, child_interface};
}

ns3::Ptr<ns3::Ipv4StaticRouting> RoutingOf(ns3::Ptr<ns3::Node> node) {
  ns3::Ipv4StaticRoutingHelper helper;
  return helper.GetStaticRouting(node->GetObject<ns3::Ipv4>());
}

}  // namespace

Status EdgeTopologySpec::Validate() const {
  if (buildings < 1 || buildings > 254) {
    return InvalidArgument("must be 1..254 (the address plan gives each building a /16)",
                           "buildings");
  }
  if (floors_per_building < 1 || floors_per_building > 64) {
    return InvalidArgument("must be 1..64 (floor uplinks share one /24 per building)",
                           "floors_per_building");
  }
  if (nodes_per_floor < 1 || nodes_per_floor > 64) {
    return InvalidArgument("must be 1..64 (each floor is a /24 of /30 links)", "nodes_per_floor");
  }
  for (const auto& [name, link] : {std::pair<const char*, const LinkSpec*>{"node_link", &node_link},
                                   {"floor_link", &floor_link},
                                   {"building_link", &building_link}}) {
    if (Status s = ParseDataRate(link->data_rate).status(); !s.ok()) {
      return s.WithContext(std::string(name) + ".data_rate");
    }
    if (link->delay < Duration::zero()) {
      return InvalidArgument("must not be negative", std::string(name) + ".delay");
    }
    if (link->queue_packets < 1) {
      return InvalidArgument("must be at least 1", std::string(name) + ".queue_packets");
    }
  }
  return Status::Ok();
}

std::string EdgeNodeInfo::Name() const {
  return "b" + std::to_string(building + 1) + "-f" + std::to_string(floor + 1) + "-n" +
         std::to_string(index + 1);
}

StatusOr<std::unique_ptr<EdgeTopology>> EdgeTopology::Build(const EdgeTopologySpec& spec) {
  EDGEBED_RETURN_IF_ERROR(spec.Validate());
  const double node_bps = *ParseDataRate(spec.node_link.data_rate);
  const double floor_bps = *ParseDataRate(spec.floor_link.data_rate);
  const double building_bps = *ParseDataRate(spec.building_link.data_rate);

  std::unique_ptr<EdgeTopology> topo(new EdgeTopology(spec));
  const int floors = spec.buildings * spec.floors_per_building;
  topo->routers_.Create(1 + spec.buildings + floors);
  ns3::NodeContainer edge;
  edge.Create(spec.edge_node_count());

  const bool hierarchical = spec.routing == Routing::kTree;
  ns3::InternetStackHelper stack;
  if (hierarchical) stack.SetRoutingHelper(ns3::Ipv4StaticRoutingHelper());
  stack.SetIpv6StackInstall(false);
  stack.Install(topo->routers_);
  stack.Install(edge);

  // Each router: one route per child prefix, a default route to its parent.
  auto route = [hierarchical](ns3::Ptr<ns3::Node> node, const std::string& prefix,
                              const char* mask, ns3::Ipv4Address via, uint32_t interface) {
    if (hierarchical) {
      RoutingOf(node)->AddNetworkRouteTo(ns3::Ipv4Address(prefix.c_str()), ns3::Ipv4Mask(mask),
                                         via, interface);
    }
  };
  auto default_route = [hierarchical](ns3::Ptr<ns3::Node> node, ns3::Ipv4Address via,
                                      uint32_t interface) {
    if (hierarchical) RoutingOf(node)->SetDefaultRoute(via, interface);
  };

  ns3::Ptr<ns3::Node> core = topo->routers_.Get(0);
  int next_router = 1, next_edge = 0;
  for (int b = 0; b < spec.buildings; ++b) {
    ns3::Ptr<ns3::Node> building = topo->routers_.Get(next_router++);
    const Wired up = Connect(core, building, spec.building_link, building_bps,
                             Dotted(10, 255, b / 64, 4 * (b % 64)));
    route(core, Dotted(10, b + 1, 0, 0), "255.255.0.0", up.child_address, up.parent_interface);
    default_route(building, up.parent_address, up.child_interface);

    for (int f = 0; f < spec.floors_per_building; ++f) {
      ns3::Ptr<ns3::Node> floor = topo->routers_.Get(next_router++);
      const Wired fl = Connect(building, floor, spec.floor_link, floor_bps,
                               Dotted(10, b + 1, 255, 4 * f));
      route(building, Dotted(10, b + 1, f, 0), "255.255.255.0", fl.child_address,
            fl.parent_interface);
      default_route(floor, fl.parent_address, fl.child_interface);

      for (int n = 0; n < spec.nodes_per_floor; ++n) {
        ns3::Ptr<ns3::Node> node = edge.Get(next_edge++);
        const Wired nl =
            Connect(floor, node, spec.node_link, node_bps, Dotted(10, b + 1, f, 4 * n));
        // The floor router reaches the node by the connected /30 route.
        default_route(node, nl.parent_address, nl.child_interface);
        topo->edge_nodes_.push_back(EdgeNodeInfo{node, nl.child_address, b, f, n, node_bps});
      }
    }
  }
  if (!hierarchical) ns3::Ipv4GlobalRoutingHelper::PopulateRoutingTables();
  return topo;
}

}  // namespace edgebed::sim
