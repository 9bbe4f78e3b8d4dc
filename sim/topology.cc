#include "sim/topology.h"

#include <ns3/point-to-point-module.h>

#include <algorithm>

namespace edgebed::sim {
namespace {

constexpr uint32_t kSpaceBase = (100u << 24) | (64u << 16);  // 100.64.0.0
constexpr uint32_t kSpaceBits = 22;                          // a /10

// Forwarding by the address plan (see topology.h): a router owns
// [base, base + 2^bits); slot 0 of its children's size holds its own uplink
// /30 (parent's end base+1, its end base+2); slot i >= 1 is child i-1's block,
// whose first /30 is the link to it (this router's end base_c+1, the child's
// base_c+2). A host owns a /30 and sends everything up.
class TreeRouting final : public ns3::Ipv4RoutingProtocol {
 public:
  static ns3::TypeId GetTypeId() {
    static ns3::TypeId tid = ns3::TypeId("edgebed::sim::TreeRouting")
                                 .SetParent<ns3::Ipv4RoutingProtocol>()
                                 .SetGroupName("Internet")
                                 .AddConstructor<TreeRouting>();
    return tid;
  }

  struct Child {
    uint32_t base = 0;
    uint32_t interface = 0;
  };
  // REQUIRES: the node's interfaces are set up. `uplink` is 0 (none) for the root.
  void Configure(uint32_t base, uint32_t bits, uint32_t child_bits, uint32_t uplink, std::vector<Child> children,
                 bool root) {
    base_ = base;
    bits_ = bits;
    child_bits_ = child_bits;
    uplink_ = uplink;
    children_ = std::move(children);
    root_ = root;
    devices_.assign(ipv4_->GetNInterfaces(), nullptr);
    for (uint32_t i = 0; i < ipv4_->GetNInterfaces(); ++i) devices_[i] = ipv4_->GetNetDevice(i);
  }

  ns3::Ptr<ns3::Ipv4Route> RouteOutput(ns3::Ptr<ns3::Packet>, const ns3::Ipv4Header& header,
                                       ns3::Ptr<ns3::NetDevice>, ns3::Socket::SocketErrno& error) override {
    ns3::Ptr<ns3::Ipv4Route> route = Lookup(header.GetDestination().Get());
    error = route ? ns3::Socket::ERROR_NOTERROR : ns3::Socket::ERROR_NOROUTETOHOST;
    return route;
  }

  bool RouteInput(ns3::Ptr<const ns3::Packet> p, const ns3::Ipv4Header& header, ns3::Ptr<const ns3::NetDevice> idev,
                  UnicastForwardCallback ucb, MulticastForwardCallback, LocalDeliverCallback lcb,
                  ErrorCallback ecb) override {
    const uint32_t d = header.GetDestination().Get();
    if (IsLocal(d)) {
      lcb(p, header, static_cast<uint32_t>(ipv4_->GetInterfaceForDevice(idev)));
      return true;
    }
    ns3::Ptr<ns3::Ipv4Route> route = Lookup(d);
    if (!route) {
      ecb(p, header, ns3::Socket::ERROR_NOROUTETOHOST);
      return true;
    }
    ucb(route, p, header);
    return true;
  }

  void NotifyInterfaceUp(uint32_t) override {}
  void NotifyInterfaceDown(uint32_t) override {}
  void NotifyAddAddress(uint32_t, ns3::Ipv4InterfaceAddress) override {}
  void NotifyRemoveAddress(uint32_t, ns3::Ipv4InterfaceAddress) override {}
  void SetIpv4(ns3::Ptr<ns3::Ipv4> ipv4) override { ipv4_ = ipv4; }
  void PrintRoutingTable(ns3::Ptr<ns3::OutputStreamWrapper> stream, ns3::Time::Unit) const override {
    std::ostream& os = *stream->GetStream();
    os << "tree routing: block " << ns3::Ipv4Address(base_) << "/" << (32 - bits_) << ", " << children_.size()
       << " children of /" << (32 - child_bits_) << (root_ ? ", root" : ", default up") << "\n";
  }

 private:
  bool IsLocal(uint32_t d) const {
    const uint32_t off = d - base_;
    if (children_.empty() || off >> bits_) return d == base_ + 2 && !root_;
    const uint32_t slot = off >> child_bits_;
    if (slot == 0) return d == base_ + 2 && !root_;
    // This router's end of the link to a child.
    return slot <= children_.size() && (off & ((1u << child_bits_) - 1)) == 1;
  }

  ns3::Ptr<ns3::Ipv4Route> Via(uint32_t interface, uint32_t gateway, uint32_t destination) const {
    ns3::Ptr<ns3::Ipv4Route> route = ns3::Create<ns3::Ipv4Route>();
    route->SetDestination(ns3::Ipv4Address(destination));
    route->SetGateway(ns3::Ipv4Address(gateway));
    route->SetSource(ipv4_->GetAddress(interface, 0).GetLocal());
    route->SetOutputDevice(devices_[interface]);
    return route;
  }

  ns3::Ptr<ns3::Ipv4Route> Lookup(uint32_t d) const {
    const uint32_t off = d - base_;
    const bool inside = (off >> bits_) == 0;
    if (inside && !children_.empty()) {
      const uint32_t slot = off >> child_bits_;
      if (slot >= 1 && slot <= children_.size()) {
        const Child& c = children_[slot - 1];
        return Via(c.interface, c.base + 2, d);
      }
    }
    if (root_) return nullptr;
    if (inside && d == base_ + 2) return nullptr;  // itself
    return Via(uplink_, base_ + 1, d);
  }

  ns3::Ptr<ns3::Ipv4> ipv4_;
  std::vector<ns3::Ptr<ns3::NetDevice>> devices_;
  uint32_t base_ = 0, bits_ = 0, child_bits_ = 0, uplink_ = 0;
  std::vector<Child> children_;
  bool root_ = false;
};

class TreeRoutingHelper final : public ns3::Ipv4RoutingHelper {
 public:
  TreeRoutingHelper* Copy() const override { return new TreeRoutingHelper(*this); }
  ns3::Ptr<ns3::Ipv4RoutingProtocol> Create(ns3::Ptr<ns3::Node>) const override {
    return ns3::CreateObject<TreeRouting>();
  }
};

uint32_t CeilLog2(uint64_t n) {
  uint32_t bits = 0;
  while ((uint64_t{1} << bits) < n) ++bits;
  return bits;
}

}  // namespace

// Builds the abstract tree, sizes and places every block, then makes the
// ns-3 nodes, links and routes.
class TopologyBuilder {
 public:
  TopologyBuilder(const Scenario& s, uint64_t seed, Routing routing) : s_(s), seed_(seed), routing_(routing) {}

  StatusOr<std::unique_ptr<Topology>> Build() {
    topo_.reset(new Topology());
    EDGEBED_RETURN_IF_ERROR(Shape());
    const uint32_t root_bits = Size(0);
    if (root_bits > kSpaceBits)
      return InvalidArgument("the topology needs a /" + std::to_string(32 - root_bits) +
                                 " of addresses and the plan has a /10; use fewer or more evenly sized units",
                             "topology");
    Place(0, kSpaceBase);

    for (Vertex& v : vertices_) v.node = ns3::CreateObject<ns3::Node>();
    ns3::InternetStackHelper stack;
    stack.SetIpv6StackInstall(false);
    TreeRoutingHelper tree;
    if (routing_ == Routing::kTree) stack.SetRoutingHelper(tree);
    for (Vertex& v : vertices_) {
      stack.Install(v.node);
      if (v.host == kNoHost) topo_->routers_.Add(v.node);
    }
    for (size_t i = 1; i < vertices_.size(); ++i) EDGEBED_RETURN_IF_ERROR(Wire(i));
    if (routing_ == Routing::kTree) {
      for (Vertex& v : vertices_) {
        auto routing = ns3::DynamicCast<TreeRouting>(v.node->GetObject<ns3::Ipv4>()->GetRoutingProtocol());
        std::vector<TreeRouting::Child> children;
        for (size_t c : v.children) children.push_back({vertices_[c].base, vertices_[c].parent_interface});
        routing->Configure(v.base, v.bits, v.child_bits, v.uplink_interface, std::move(children), v.parent < 0);
      }
    } else {
      ns3::Ipv4GlobalRoutingHelper::PopulateRoutingTables();
    }
    for (Vertex& v : vertices_) {
      if (v.host == kNoHost) continue;
      Host h{v.name, v.node, v.address, v.uplink_bps};
      if (v.host == kServer) topo_->server_ = h;
      else if (v.host == kObjectStore) topo_->object_store_ = h;
      else topo_->nodes_[static_cast<size_t>(v.host)] = h;
    }
    return std::move(topo_);
  }

 private:
  static constexpr int kNoHost = -1, kServer = -2, kObjectStore = -3;
  struct Vertex {
    std::string name, level, profile;  // of its uplink
    int host = kNoHost;                // index into nodes, kServer, kObjectStore; kNoHost for a router
    int parent = -1;
    std::vector<size_t> children;
    uint32_t bits = 2, child_bits = 2, base = 0;
    ns3::Ptr<ns3::Node> node;
    ns3::Ipv4Address address;          // of its uplink end (hosts: the host's address)
    uint32_t uplink_interface = 0, parent_interface = 0;  // on itself / on its parent
    double uplink_bps = 0;
  };

  size_t Add(int parent, std::string name, std::string level, std::string profile, int host = kNoHost) {
    Vertex v;
    v.name = std::move(name);
    v.level = std::move(level);
    v.profile = std::move(profile);
    v.host = host;
    v.parent = parent;
    vertices_.push_back(std::move(v));
    const size_t id = vertices_.size() - 1;
    if (parent >= 0) vertices_[static_cast<size_t>(parent)].children.push_back(id);
    return id;
  }

  Status Shape() {
    const LinkClasses& l = s_.topology.links;
    Add(-1, "core", "", "");
    std::vector<size_t> site_v, building_v, floor_v;
    for (size_t i = 0; i < s_.sites.size(); ++i) {
      const std::string& uplink = s_.topology.sites[i].uplink;
      site_v.push_back(Add(0, s_.sites[i].name, "site", uplink.empty() ? l.site : uplink));
    }
    for (const Unit& b : s_.buildings)
      building_v.push_back(Add(static_cast<int>(site_v[static_cast<size_t>(b.site)]), b.name, "building", l.building));
    for (const Unit& f : s_.floors)
      floor_v.push_back(Add(static_cast<int>(building_v[static_cast<size_t>(f.building)]), f.name, "floor", l.floor));
    const size_t cloud = Add(0, "cloud", "cloud", l.cloud);
    topo_->nodes_.resize(s_.nodes.size());
    for (size_t i = 0; i < s_.nodes.size(); ++i) {
      const GeneratedNode& n = s_.nodes[i];
      const size_t parent = n.floor >= 0 ? floor_v[static_cast<size_t>(n.floor)] : cloud;
      Add(static_cast<int>(parent), n.node.meta.name, "node", l.node, static_cast<int>(i));
    }
    size_t server_parent = cloud;
    for (size_t b = 0; b < s_.buildings.size(); ++b)
      if (s_.buildings[b].name == s_.topology.server.at) server_parent = building_v[b];
    Add(static_cast<int>(server_parent), "server", "node", l.node, kServer);
    Add(static_cast<int>(cloud), "object-store", "node", l.node, kObjectStore);
    return Status::Ok();
  }

  // Bits of the block of vertex `id` (and of its children's blocks).
  uint32_t Size(size_t id) {
    Vertex& v = vertices_[id];
    if (v.children.empty()) return v.bits = 2;
    uint32_t child_bits = 2;
    for (size_t c : v.children) child_bits = std::max(child_bits, Size(c));
    v.child_bits = child_bits;
    v.bits = child_bits + CeilLog2(v.children.size() + 1);
    return v.bits;
  }

  void Place(size_t id, uint32_t base) {
    Vertex& v = vertices_[id];
    v.base = base;
    for (size_t i = 0; i < v.children.size(); ++i)
      Place(v.children[i], base + static_cast<uint32_t>((i + 1) << v.child_bits));
  }

  static uint32_t Interface(ns3::Ptr<ns3::NetDevice> device, uint32_t address, const char* mask) {
    ns3::Ptr<ns3::Ipv4> ipv4 = device->GetNode()->GetObject<ns3::Ipv4>();
    const auto interface = static_cast<uint32_t>(ipv4->AddInterface(device));
    ipv4->AddAddress(interface, ns3::Ipv4InterfaceAddress(ns3::Ipv4Address(address), ns3::Ipv4Mask(mask)));
    ipv4->SetMetric(interface, 1);
    ipv4->SetUp(interface);
    return interface;
  }

  // The link from vertex `id` up to its parent.
  Status Wire(size_t id) {
    Vertex& v = vertices_[id];
    Vertex& p = vertices_[static_cast<size_t>(v.parent)];
    auto profile_it = s_.profiles.find(v.profile);
    if (profile_it == s_.profiles.end()) return InvalidArgument("no profile '" + v.profile + "'", "topology.links");
    const LinkProfile& profile = profile_it->second;
    ns3::Ptr<ns3::NetDevice> up_end, down_end;
    ns3::Ptr<ProfiledChannel> channel;
    if (routing_ == Routing::kTree) {
      StatusOr<ProfiledLink> link = Connect(p.node, v.node, profile, MixSeed(seed_, 0x117c0000 + id));
      if (!link.ok()) return link.status().WithContext("profiles." + profile.name);
      up_end = link->a;
      down_end = link->b;
      channel = link->channel;
    } else {
      ns3::PointToPointHelper p2p;
      p2p.SetDeviceAttribute("DataRate", ns3::DataRateValue(ns3::DataRate(static_cast<uint64_t>(profile.bandwidth_bps))));
      p2p.SetChannelAttribute("Delay", ns3::TimeValue(ns3::NanoSeconds(std::min(profile.delay.Mean(), Duration(std::chrono::seconds(10))).count())));
      p2p.SetQueue("ns3::DropTailQueue<Packet>", "MaxSize", ns3::StringValue(std::to_string(profile.queue_packets) + "p"));
      ns3::NetDeviceContainer devices = p2p.Install(p.node, v.node);
      up_end = devices.Get(0);
      down_end = devices.Get(1);
    }
    v.parent_interface = Interface(up_end, v.base + 1, "255.255.255.252");
    v.uplink_interface = Interface(down_end, v.base + 2, "255.255.255.252");
    v.address = ns3::Ipv4Address(v.base + 2);
    v.uplink_bps = profile.bandwidth_bps;
    topo_->link_index_[v.name] = topo_->links_.size();
    topo_->links_.push_back(NamedLink{v.name, v.level, channel});
    return Status::Ok();
  }

  const Scenario& s_;
  uint64_t seed_;
  Routing routing_;
  std::unique_ptr<Topology> topo_;
  std::vector<Vertex> vertices_;
};

StatusOr<std::unique_ptr<Topology>> Topology::Build(const Scenario& scenario, uint64_t seed, Routing routing) {
  return TopologyBuilder(scenario, seed, routing).Build();
}

ProfiledChannel* Topology::Link(const std::string& name) const {
  auto it = link_index_.find(name);
  return it == link_index_.end() ? nullptr : ns3::PeekPointer(links_[it->second].channel);
}

}  // namespace edgebed::sim
