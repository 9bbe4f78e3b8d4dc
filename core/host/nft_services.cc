#include "core/host/nft_services.h"

#include <nftables/libnftables.h>

#include <memory>
#include <sstream>
#include <vector>

#include "core/base/ip.h"

namespace edgebed::host {
namespace {

const char* ProtocolName(uint8_t protocol) {
  switch (protocol) {
    case policy::kUdp: return "udp";
    case policy::kSctp: return "sctp";
    default: return "tcp";
  }
}

// nft's quoting of a comment: the service's name, which is a DNS label and
// so never holds a quote.
std::string Comment(const std::string& text) { return "comment \"" + text + "\""; }

struct PortRules {
  const policy::ServiceEntry* service;
  const policy::ServicePortEntry* port;
  std::string chain;                                   // svc-<n>: the draw for cluster traffic
  std::vector<const policy::ServiceBackend*> cluster;  // what cluster traffic may reach
  std::vector<const policy::ServiceBackend*> external; // what node-port traffic may reach
};

}  // namespace

std::string RenderServiceRules(const policy::ServiceTable& services, const NftServiceOptions& o) {
  std::vector<PortRules> ports;
  std::vector<std::string> cluster_ips;
  for (const auto& [key, svc] : services.services()) {
    if (svc.cluster_ip == 0) continue;  // headless or ExternalName: names only
    cluster_ips.push_back(FormatIpv4(svc.cluster_ip));
    for (const policy::ServicePortEntry& p : svc.ports) {
      PortRules r{&svc, &p, "svc-" + std::to_string(ports.size()), {}, {}};
      for (const policy::ServiceBackend& b : p.backends) {
        if (policy::MayReach(svc, b, /*via_node_port=*/false, o.node_name)) r.cluster.push_back(&b);
        if (policy::MayReach(svc, b, /*via_node_port=*/true, o.node_name)) r.external.push_back(&b);
      }
      ports.push_back(std::move(r));
    }
  }

  std::ostringstream s;
  const std::string& t = o.table;
  // Made (if missing) and deleted, then made anew: one batch, one swap.
  s << "add table ip " << t << "\ndelete table ip " << t << "\ntable ip " << t << " {\n";

  // Which (address, protocol, port) a service serves, and the node ports
  // (all of them, those with an endpoint to go to, and where they go).
  std::vector<std::string> served, service_map, node_ports, node_ports_served, node_port_map;
  for (const PortRules& r : ports) {
    const std::string ip = FormatIpv4(r.service->cluster_ip);
    const std::string l4 = std::string(ProtocolName(r.port->protocol)) + " . " + std::to_string(r.port->port);
    if (!r.cluster.empty()) {
      served.push_back(ip + " . " + l4);
      service_map.push_back(ip + " . " + l4 + " : goto " + r.chain);
    }
    if (r.port->node_port) {
      const std::string np = std::string(ProtocolName(r.port->protocol)) + " . " + std::to_string(r.port->node_port);
      node_ports.push_back(np);
      if (!r.external.empty()) {
        node_ports_served.push_back(np);
        node_port_map.push_back(np + " : goto node-" + r.chain);
      }
    }
  }
  auto set = [&](const std::string& name, const std::string& type, const std::vector<std::string>& elements,
                 const char* kind = "set") {
    s << "  " << kind << " " << name << " {\n    type " << type << "\n";
    if (std::string(kind) == "set" && type.find('.') == std::string::npos) s << "    flags interval\n";
    if (!elements.empty()) {
      s << "    elements = {";
      for (size_t i = 0; i < elements.size(); ++i) s << (i ? ", " : " ") << elements[i];
      s << " }\n";
    }
    s << "  }\n";
  };
  set("cluster-ips", "ipv4_addr", cluster_ips);
  set("served", "ipv4_addr . inet_proto . inet_service", served);
  set("node-ports", "inet_proto . inet_service", node_ports);
  set("service-ips", "ipv4_addr . inet_proto . inet_service : verdict", service_map, "map");
  set("service-nodeports", "inet_proto . inet_service : verdict", node_port_map, "map");
  set("node-ports-served", "inet_proto . inet_service", node_ports_served);

  // Per service port: the draw, each endpoint's DNAT, and the node-port entry.
  for (const PortRules& r : ports) {
    const policy::ServiceEntry& svc = *r.service;
    const std::string name = svc.key() + ":" + (r.port->name.empty() ? std::to_string(r.port->port) : r.port->name);
    // Every endpoint of the port gets a chain (the node-port draw may reach
    // ones the cluster draw may not, and the other way round).
    auto endpoint_chain = [&](const policy::ServiceBackend* b) {
      return r.chain + "-ep-" + std::to_string(b - r.port->backends.data());
    };
    for (const policy::ServiceBackend& endpoint : r.port->backends) {
      const policy::ServiceBackend* b = &endpoint;
      const std::string chain = endpoint_chain(b);
      if (svc.client_ip_affinity)
        s << "  set " << chain << "-clients {\n    type ipv4_addr\n    flags dynamic,timeout\n    timeout "
          << svc.affinity_seconds << "s\n  }\n";
      s << "  chain " << chain << " {\n";
      if (svc.client_ip_affinity) s << "    update @" << chain << "-clients { ip saddr }\n";
      s << "    meta l4proto " << ProtocolName(r.port->protocol) << " dnat to " << FormatIpv4(b->ip) << ":" << b->port
        << "\n  }\n";
    }
    auto draw = [&](const std::string& chain, const std::vector<const policy::ServiceBackend*>& from) {
      s << "  chain " << chain << " {\n    " << Comment(name) << "\n";
      if (svc.client_ip_affinity)
        for (const policy::ServiceBackend* b : from)
          s << "    ip saddr @" << endpoint_chain(b) << "-clients goto " << endpoint_chain(b) << "\n";
      if (from.size() == 1) {
        s << "    goto " << endpoint_chain(from[0]) << "\n";
      } else {
        s << "    numgen random mod " << from.size() << " vmap {";
        for (size_t i = 0; i < from.size(); ++i) s << (i ? ", " : " ") << i << " : goto " << endpoint_chain(from[i]);
        s << " }\n";
      }
      s << "  }\n";
    };
    if (!r.cluster.empty()) draw(r.chain, r.cluster);
    if (r.port->node_port && !r.external.empty()) {
      draw(r.chain + "-external", r.external);
      s << "  chain node-" << r.chain << " {\n";
      if (!svc.external_local) s << "    meta mark set meta mark | " << o.masquerade_mark << "\n";
      s << "    goto " << r.chain << "-external\n  }\n";
    }
  }

  // Translation: pods' traffic through prerouting, the node's own through
  // output; node ports on any of the node's own addresses.
  s << "  chain services {\n"
       "    ip daddr . meta l4proto . th dport vmap @service-ips\n"
       "    fib daddr type local meta l4proto . th dport vmap @service-nodeports\n"
       "  }\n"
       "  chain nat-prerouting {\n    type nat hook prerouting priority dstnat\n    jump services\n  }\n"
       "  chain nat-output {\n    type nat hook output priority -100\n    jump services\n  }\n"
       "  chain nat-postrouting {\n    type nat hook postrouting priority srcnat\n"
       "    meta mark & " << o.masquerade_mark << " == " << o.masquerade_mark << " masquerade\n  }\n";
  // Refusals, before the translation would have happened.
  s << "  chain reject-unserved {\n"
       "    ip daddr @cluster-ips ip daddr . meta l4proto . th dport != @served reject\n"
       "    fib daddr type local meta l4proto . th dport @node-ports meta l4proto . th dport != @node-ports-served "
       "reject\n"
       "  }\n"
       "  chain filter-output {\n    type filter hook output priority -110\n    ct state new jump reject-unserved\n"
       "  }\n"
       "  chain filter-forward {\n    type filter hook forward priority -110\n    ct state new jump reject-unserved\n"
       "  }\n"
       "  chain filter-input {\n    type filter hook input priority -110\n    ct state new jump reject-unserved\n"
       "  }\n";
  s << "}\n";
  return s.str();
}

Status ApplyNft(const std::string& script) {
  std::unique_ptr<nft_ctx, void (*)(nft_ctx*)> ctx(nft_ctx_new(NFT_CTX_DEFAULT), nft_ctx_free);
  if (!ctx) return Unavailable("libnftables: cannot make a context");
  nft_ctx_buffer_output(ctx.get());
  nft_ctx_buffer_error(ctx.get());
  if (nft_run_cmd_from_buffer(ctx.get(), script.c_str()) != 0) {
    const std::string why = nft_ctx_get_error_buffer(ctx.get());
    if (why.find("Operation not permitted") != std::string::npos ||
        why.find("Protocol not supported") != std::string::npos)
      return Unavailable("nftables: " + why);
    return InvalidArgument("nftables refused the ruleset: " + why);
  }
  return Status::Ok();
}

}  // namespace edgebed::host
