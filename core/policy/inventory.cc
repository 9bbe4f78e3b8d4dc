#include "core/policy/inventory.h"

#include <algorithm>
#include <cctype>
#include <set>

namespace edgebed::policy {

namespace {

const std::pair<const char*, uint8_t> kProtocols[] = {
    {"TCP", kTcp}, {"UDP", kUdp}, {"ICMP", kIcmp}, {"ICMPv6", kIcmpv6},
    {"SCTP", kSctp}, {"UDPLite", kUdpLite}};

const Labels& Empty() {
  static const Labels empty;
  return empty;
}

// A pod's labels as Calico's selectors see them.
Labels CalicoLabels(const Endpoint& endpoint) {
  Labels labels = endpoint.labels;
  labels["projectcalico.org/namespace"] = endpoint.namespace_;
  labels["projectcalico.org/orchestrator"] = "k8s";
  labels["projectcalico.org/serviceaccount"] = endpoint.service_account;
  return labels;
}

}  // namespace

std::optional<uint8_t> ProtocolNumber(const std::string& name) {
  for (const auto& [known, number] : kProtocols) {
    if (name.size() == std::char_traits<char>::length(known) &&
        std::equal(name.begin(), name.end(), known, [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return number;
    }
  }
  if (name.empty() || name.size() > 3 ||
      !std::all_of(name.begin(), name.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    return std::nullopt;
  }
  const int n = std::stoi(name);
  if (n < 1 || n > 255) return std::nullopt;
  return static_cast<uint8_t>(n);
}

std::string ProtocolName(uint8_t protocol) {
  for (const auto& [known, number] : kProtocols) {
    if (number == protocol) return known;
  }
  return std::to_string(protocol);
}

std::string Packet::ToString() const {
  if (protocol == kIcmp || protocol == kIcmpv6) {
    return FormatIpv4(src) + " -> " + FormatIpv4(dst) + " " + ProtocolName(protocol) + " type " +
           std::to_string(icmp_type) + " code " + std::to_string(icmp_code);
  }
  return FormatIpv4(src) + ":" + std::to_string(src_port) + " -> " + FormatIpv4(dst) + ":" +
         std::to_string(dst_port) + " " + ProtocolName(protocol);
}

void Inventory::AddNamespace(const std::string& name, Labels labels) {
  labels["kubernetes.io/metadata.name"] = name;
  labels["projectcalico.org/name"] = name;
  namespaces_[name] = std::move(labels);
}

void Inventory::SetServiceAccountLabels(const std::string& namespace_, const std::string& name,
                                        Labels labels) {
  service_accounts_[{namespace_, name}] = std::move(labels);
}

Status Inventory::UpsertEndpoint(Endpoint endpoint) {
  const std::string key = endpoint.Key();
  auto found = by_key_.find(key);
  if (found == by_key_.end()) return AddEndpoint(std::move(endpoint));
  const size_t index = found->second;
  for (uint32_t ip : endpoint.ips) {
    if (auto it = by_address_.find(ip); it != by_address_.end() && it->second != index) {
      return AlreadyExists(FormatIpv4(ip) + " is already the address of " +
                               endpoints_[it->second].Key(),
                           key);
    }
  }
  for (uint32_t ip : endpoints_[index].ips) by_address_.erase(ip);
  for (uint32_t ip : endpoint.ips) by_address_[ip] = index;
  selector_labels_[index] = CalicoLabels(endpoint);
  endpoints_[index] = std::move(endpoint);
  return Status::Ok();
}

Status Inventory::AddEndpoint(Endpoint endpoint) {
  const std::string key = endpoint.Key();
  if (by_key_.count(key)) return AlreadyExists("an endpoint of this name exists", key);
  for (uint32_t ip : endpoint.ips) {
    if (auto it = by_address_.find(ip); it != by_address_.end()) {
      return AlreadyExists(FormatIpv4(ip) + " is already the address of " +
                               endpoints_[it->second].Key(),
                           key);
    }
  }
  const size_t index = endpoints_.size();
  for (uint32_t ip : endpoint.ips) by_address_[ip] = index;
  by_key_[key] = index;
  by_namespace_[endpoint.namespace_].push_back(index);
  selector_labels_.push_back(CalicoLabels(endpoint));
  endpoints_.push_back(std::move(endpoint));
  return Status::Ok();
}

Status Inventory::AddNetworkSet(NetworkSet network) {
  for (const NetworkSet& n : networks_) {
    if (n.namespace_ == network.namespace_ && n.name == network.name) {
      return AlreadyExists("a network set of this name exists", network.name);
    }
  }
  networks_.push_back(std::move(network));
  return Status::Ok();
}

Entity Inventory::Lookup(uint32_t address) const {
  if (auto it = by_address_.find(address); it != by_address_.end()) {
    return Entity{&endpoints_[it->second], nullptr};
  }
  const IpPrefix host = Ipv4Prefix(address, 32);
  const NetworkSet* best = nullptr;
  int best_prefix = -1;
  for (const NetworkSet& n : networks_) {
    for (const IpPrefix& net : n.nets) {
      if (net.prefix > best_prefix && net.Contains(host)) {
        best = &n;
        best_prefix = net.prefix;
      }
    }
  }
  return Entity{nullptr, best};
}

std::vector<Entity> Inventory::Holders(uint32_t address) const {
  std::vector<Entity> holders;
  if (auto it = by_address_.find(address); it != by_address_.end()) {
    holders.push_back(Entity{&endpoints_[it->second], nullptr});
  }
  const IpPrefix host = Ipv4Prefix(address, 32);
  for (const NetworkSet& n : networks_) {
    if (std::any_of(n.nets.begin(), n.nets.end(), [&](const IpPrefix& net) { return net.Contains(host); })) {
      holders.push_back(Entity{nullptr, &n});
    }
  }
  return holders;
}

const std::vector<size_t>& Inventory::EndpointsIn(const std::string& namespace_) const {
  static const std::vector<size_t> none;
  auto it = by_namespace_.find(namespace_);
  return it == by_namespace_.end() ? none : it->second;
}

const Endpoint* Inventory::FindEndpoint(const std::string& key) const {
  auto it = by_key_.find(key);
  return it == by_key_.end() ? nullptr : &endpoints_[it->second];
}

const Labels& Inventory::NamespaceLabels(const std::string& name) const {
  auto it = namespaces_.find(name);
  return it == namespaces_.end() ? Empty() : it->second;
}

const Labels& Inventory::ServiceAccountLabels(const std::string& namespace_,
                                              const std::string& name) const {
  auto it = service_accounts_.find({namespace_, name});
  return it == service_accounts_.end() ? Empty() : it->second;
}

const Labels& Inventory::SelectorLabels(const Endpoint& endpoint) const {
  return selector_labels_[static_cast<size_t>(&endpoint - endpoints_.data())];
}

NetworkSet NetworkSetFromObject(const model::NetworkSet& set) {
  NetworkSet network;
  network.namespace_ = set.global ? "" : set.meta.namespace_;
  network.name = set.meta.name;
  network.labels = set.meta.labels;
  for (const std::string& text : set.nets) {
    IpPrefix net;
    std::string why;
    if (ParseCidr(text, &net, &why)) network.nets.push_back(net);
  }
  return network;
}

StatusOr<Inventory> InventoryFromObjects(const std::vector<model::Object>& objects,
                                         const std::string& pod_cidr) {
  IpPrefix pool;
  std::string why;
  if (!ParseCidr(pod_cidr, &pool, &why) || pool.family != 4 || pool.prefix > 30) {
    return InvalidArgument("the pod CIDR must be an IPv4 prefix of /30 or wider",
                           pod_cidr);
  }
  Inventory inventory;
  std::map<std::string, const model::Pod*> pods;  // by key: addresses go in key order
  std::set<std::string> namespaces;
  std::vector<model::Pod> replicas;  // of Deployments; reserved so pointers stay put
  size_t replica_count = 0;
  for (const model::Object& o : objects) {
    if (const auto* d = std::get_if<model::Deployment>(&o)) replica_count += static_cast<size_t>(d->replicas);
    if (const auto* ss = std::get_if<model::StatefulSet>(&o)) replica_count += static_cast<size_t>(std::max(ss->replicas, 0));
    if (const auto* job = std::get_if<model::Job>(&o)) replica_count += static_cast<size_t>(std::max(job->spec.parallelism, 0));
  }
  replicas.reserve(replica_count);
  for (const model::Object& o : objects) {
    std::vector<model::Pod> expanded;
    std::string what;
    if (const auto* d = std::get_if<model::Deployment>(&o)) {
      expanded = model::ReplicaPods(*d);
      what = "a replica of Deployment " + d->meta.name;
    } else if (const auto* ss = std::get_if<model::StatefulSet>(&o)) {
      expanded = model::StatefulPods(*ss);
      what = "a pod of StatefulSet " + ss->meta.name;
    } else if (const auto* job = std::get_if<model::Job>(&o)) {
      expanded = model::JobPods(*job);
      what = "a pod of Job " + job->meta.name;
    }
    for (model::Pod& pod : expanded) {
      replicas.push_back(std::move(pod));
      const model::Pod* p = &replicas.back();
      if (!pods.emplace(p->meta.namespace_ + "/" + p->meta.name, p).second) {
        return AlreadyExists("pod " + p->meta.namespace_ + "/" + p->meta.name + " (" + what + ") is defined twice",
                             model::MetaOf(o).pos.ToString());
      }
    }
  }
  for (const model::Object& o : objects) {
    if (const auto* ns = std::get_if<model::Namespace>(&o)) {
      inventory.AddNamespace(ns->meta.name, ns->meta.labels);
      namespaces.insert(ns->meta.name);
    } else if (const auto* account = std::get_if<model::ServiceAccount>(&o)) {
      inventory.SetServiceAccountLabels(account->meta.namespace_, account->meta.name,
                                        account->meta.labels);
    } else if (const auto* set = std::get_if<model::NetworkSet>(&o)) {
      Status s = inventory.AddNetworkSet(NetworkSetFromObject(*set));
      if (!s.ok()) return s.WithContext(set->meta.pos.ToString());
    } else if (const auto* pod = std::get_if<model::Pod>(&o)) {
      const std::string key = pod->meta.namespace_ + "/" + pod->meta.name;
      if (!pods.emplace(key, pod).second) {
        return AlreadyExists("pod " + key + " is defined twice", pod->meta.pos.ToString());
      }
    }
  }
  std::set<uint32_t> taken;
  for (const auto& [key, pod] : pods) {
    for (const std::string& ip : pod->pod_ips) {
      if (auto v4 = ParseIpv4(ip)) taken.insert(*v4);
    }
  }
  const uint32_t first = pool.v4() & ~((pool.prefix == 0 ? 0xffffffffu : (1u << (32 - pool.prefix)) - 1)) ;
  const uint32_t size = pool.prefix == 0 ? 0xffffffffu : 1u << (32 - pool.prefix);
  uint32_t next = 1;  // skip the network address
  for (const auto& [key, pod] : pods) {
    if (!namespaces.count(pod->meta.namespace_)) {
      inventory.AddNamespace(pod->meta.namespace_, {});
      namespaces.insert(pod->meta.namespace_);
    }
    Endpoint e;
    e.namespace_ = pod->meta.namespace_;
    e.name = pod->meta.name;
    e.labels = pod->meta.labels;
    e.service_account = pod->spec.service_account_name;
    for (const std::string& ip : pod->pod_ips) {
      if (auto v4 = ParseIpv4(ip)) e.ips.push_back(*v4);
    }
    if (e.ips.empty() && !pod->spec.host_network) {
      while (next < size - 1 && taken.count(first + next)) ++next;
      if (next >= size - 1) {
        return ResourceExhausted("the pod CIDR " + pod_cidr + " has no address left for " + key,
                                 pod->meta.pos.ToString());
      }
      e.ips.push_back(first + next);
      taken.insert(first + next);
    }
    for (const model::Container& c : pod->spec.containers) {
      for (const model::ContainerPort& p : c.ports) {
        if (p.name.empty()) continue;
        e.ports.push_back({p.name, ProtocolNumber(p.protocol).value_or(kTcp),
                           static_cast<uint16_t>(p.container_port)});
      }
    }
    Status s = inventory.AddEndpoint(std::move(e));
    if (!s.ok()) return s.WithContext(pod->meta.pos.ToString());
  }
  return inventory;
}

}  // namespace edgebed::policy
