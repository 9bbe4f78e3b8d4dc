#include "core/policy/services.h"

#include <algorithm>

#include "core/base/ip.h"

namespace edgebed::policy {
namespace {

// The port a service port reaches on `pod`: its targetPort as a number, or
// the container port of that name and protocol; 0 when the pod has none.
uint16_t TargetPort(const model::ServicePort& port, const model::Pod& pod) {
  if (!port.target_port) return static_cast<uint16_t>(port.port);
  if (port.target_port->is_int) return static_cast<uint16_t>(port.target_port->int_value);
  for (const model::Container& c : pod.spec.containers)
    for (const model::ContainerPort& p : c.ports)
      if (p.name == port.target_port->str_value && p.protocol == port.protocol)
        return static_cast<uint16_t>(p.container_port);
  return 0;
}

}  // namespace

ServiceEntry BuildServiceEntry(const model::Service& service, const std::vector<ServicePod>& pods) {
  ServiceEntry e;
  e.namespace_ = service.meta.namespace_;
  e.name = service.meta.name;
  if (!service.headless() && service.type != "ExternalName") e.cluster_ip = ParseIpv4(service.cluster_ip).value_or(0);
  e.client_ip_affinity = service.session_affinity == "ClientIP";
  e.affinity_seconds = static_cast<uint32_t>(service.session_affinity_timeout);
  e.internal_local = service.internal_traffic_policy == "Local";
  e.external_local = service.external_traffic_policy == "Local";
  for (const model::ServicePort& sp : service.ports) {
    ServicePortEntry port;
    port.name = sp.name;
    port.protocol = ProtocolNumber(sp.protocol).value_or(kTcp);
    port.port = static_cast<uint16_t>(sp.port);
    port.node_port = static_cast<uint16_t>(sp.node_port);
    if (!service.selector.empty() && service.type != "ExternalName") {
      for (const ServicePod& p : pods) {
        if (!p.pod || p.ip == 0 || p.pod->meta.namespace_ != service.meta.namespace_) continue;
        if (!p.ready && !service.publish_not_ready_addresses) continue;
        bool selected = true;
        for (const auto& [k, v] : service.selector) {
          auto it = p.pod->meta.labels.find(k);
          selected &= it != p.pod->meta.labels.end() && it->second == v;
        }
        if (!selected) continue;
        const uint16_t target = TargetPort(sp, *p.pod);
        if (target != 0) port.backends.push_back(ServiceBackend{p.ip, target, p.node});
      }
      std::sort(port.backends.begin(), port.backends.end(), [](const ServiceBackend& a, const ServiceBackend& b) {
        return std::tie(a.ip, a.port) < std::tie(b.ip, b.port);
      });
    }
    e.ports.push_back(std::move(port));
  }
  return e;
}

bool MayReach(const ServiceEntry& service, const ServiceBackend& backend, bool via_node_port, const std::string& node) {
  const bool local_only = via_node_port ? service.external_local : service.internal_local;
  return !local_only || backend.node == node;
}

// ---- ServiceTable ------------------------------------------------------------------

void ServiceTable::Index(const ServiceEntry& entry, bool add) {
  for (const ServicePortEntry& p : entry.ports) {
    if (entry.cluster_ip != 0) {
      const auto k = std::make_tuple(entry.cluster_ip, p.port, p.protocol);
      if (add) {
        cluster_ips_[k] = &entry;
      } else if (auto it = cluster_ips_.find(k); it != cluster_ips_.end() && it->second == &entry) {
        cluster_ips_.erase(it);
      }
    }
    if (p.node_port != 0) {
      const auto k = std::make_pair(p.node_port, p.protocol);
      if (add) {
        node_ports_[k] = &entry;
      } else if (auto it = node_ports_.find(k); it != node_ports_.end() && it->second == &entry) {
        node_ports_.erase(it);
      }
    }
  }
  if (entry.cluster_ip != 0) {
    int& users = cluster_ip_users_[entry.cluster_ip];
    users += add ? 1 : -1;
    if (users <= 0) cluster_ip_users_.erase(entry.cluster_ip);
  }
}

void ServiceTable::Upsert(ServiceEntry entry) {
  const std::string key = entry.key();
  auto it = services_.find(key);
  if (it != services_.end()) {
    if (it->second == entry) return;
    Index(it->second, false);
    it->second = std::move(entry);
  } else {
    it = services_.emplace(key, std::move(entry)).first;
  }
  Index(it->second, true);
}

void ServiceTable::Remove(const std::string& ns, const std::string& name) {
  auto it = services_.find(ns + "/" + name);
  if (it == services_.end()) return;
  Index(it->second, false);
  services_.erase(it);
}

void ServiceTable::Clear() {
  services_.clear();
  cluster_ips_.clear();
  node_ports_.clear();
  cluster_ip_users_.clear();
}

const ServiceEntry* ServiceTable::Find(const std::string& ns, const std::string& name) const {
  auto it = services_.find(ns + "/" + name);
  return it == services_.end() ? nullptr : &it->second;
}

namespace {
std::optional<ServiceTable::Frontend> FrontendOf(const ServiceEntry& service, uint16_t port, uint8_t protocol,
                                                 bool node_port) {
  for (const ServicePortEntry& p : service.ports)
    if ((node_port ? p.node_port : p.port) == port && p.protocol == protocol)
      return ServiceTable::Frontend{&service, &p};
  return std::nullopt;
}
}  // namespace

std::optional<ServiceTable::Frontend> ServiceTable::ByClusterIp(uint32_t ip, uint16_t port, uint8_t protocol) const {
  auto it = cluster_ips_.find(std::make_tuple(ip, port, protocol));
  if (it == cluster_ips_.end()) return std::nullopt;
  return FrontendOf(*it->second, port, protocol, false);
}

std::optional<ServiceTable::Frontend> ServiceTable::ByNodePort(uint16_t node_port, uint8_t protocol) const {
  auto it = node_ports_.find(std::make_pair(node_port, protocol));
  if (it == node_ports_.end()) return std::nullopt;
  return FrontendOf(*it->second, node_port, protocol, true);
}

bool ServiceTable::IsClusterIp(uint32_t ip) const { return cluster_ip_users_.count(ip) > 0; }

// ---- ServiceProxy ------------------------------------------------------------------

ServiceProxy::Translation ServiceProxy::Translate(const ServiceTable& table, const Flow& flow, bool to_node_address,
                                                  Random& random, Time now) {
  Translation t;
  std::optional<ServiceTable::Frontend> f = to_node_address ? table.ByNodePort(flow.dst_port, flow.protocol)
                                                            : table.ByClusterIp(flow.dst, flow.dst_port, flow.protocol);
  if (!f) {
    // A ClusterIP answers only on its service's ports: anything else is
    // rejected, as kube-proxy does, rather than routed nowhere.
    if (!to_node_address && table.IsClusterIp(flow.dst)) t.outcome = kNoEndpoints;
    return t;
  }
  t.service = f->service;
  const bool local_only = to_node_address ? f->service->external_local : f->service->internal_local;
  t.masquerade = to_node_address && !f->service->external_local;
  // Every endpoint may be drawn, or (a Local policy) this node's only.
  std::vector<const ServiceBackend*> local;
  if (local_only)
    for (const ServiceBackend& b : f->port->backends)
      if (MayReach(*f->service, b, to_node_address, node_)) local.push_back(&b);
  const size_t count = local_only ? local.size() : f->port->backends.size();
  auto candidate = [&](size_t i) { return local_only ? local[i] : &f->port->backends[i]; };
  if (count == 0) {
    t.outcome = kNoEndpoints;
    return t;
  }

  if (now >= next_sweep_) {  // forget expired affinities now and then, so the map holds only live ones
    for (auto it = affinity_.begin(); it != affinity_.end();)
      it = it->second.until <= now ? affinity_.erase(it) : std::next(it);
    next_sweep_ = now + std::chrono::seconds(60);
  }
  const ServiceBackend* chosen = nullptr;
  if (f->service->client_ip_affinity) {
    Sticky& sticky = affinity_[std::make_tuple(f->service->key(), f->port->port, flow.src)];
    if (sticky.until > now)
      for (size_t i = 0; i < count && !chosen; ++i)
        if (*candidate(i) == sticky.backend) chosen = candidate(i);
    if (!chosen) chosen = candidate(random.Uniform(count));
    sticky = Sticky{*chosen, now + std::chrono::seconds(f->service->affinity_seconds)};
  } else {
    chosen = candidate(random.Uniform(count));
  }
  t.outcome = kTranslated;
  t.ip = chosen->ip;
  t.port = chosen->port;
  return t;
}

}  // namespace edgebed::policy
