// What network policy is evaluated against: namespaces, the endpoints (pods)
// in them, their service accounts, and the non-pod networks (Calico's
// NetworkSet and GlobalNetworkSet: sensors, the cloud) known by CIDR.
//
// Addresses are IPv4 host-order integers, as the dataplane sees them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/base/ip.h"
#include "core/base/status.h"
#include "core/model/objects.h"

namespace edgebed::policy {

using model::Labels;

// IANA protocol numbers for the protocols policies name.
inline constexpr uint8_t kIcmp = 1, kTcp = 6, kUdp = 17, kIcmpv6 = 58, kSctp = 132,
                         kUdpLite = 136;
// "TCP", "udp"... or a number "1".."255"; nullopt otherwise.
std::optional<uint8_t> ProtocolNumber(const std::string& name);
std::string ProtocolName(uint8_t protocol);  // "TCP", or the number

// TCP header flags, as connection tracking reads them.
inline constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kAck = 0x10;

// One packet's header fields, as the classifier reads them. For ICMP,
// type/code are set and src_port carries the echo identifier.
struct Packet {
  uint32_t src = 0, dst = 0;
  uint8_t protocol = kTcp;
  uint16_t src_port = 0, dst_port = 0;
  uint8_t icmp_type = 0, icmp_code = 0;
  uint8_t tcp_flags = kSyn;  // a connection's first packet unless said otherwise
  std::string ToString() const;  // "10.42.0.5:40000 -> 10.42.0.6:1883 TCP"
};

struct NamedPort {
  std::string name;
  uint8_t protocol = kTcp;
  uint16_t port = 0;
};

struct Endpoint {
  std::string namespace_, name;
  Labels labels;  // as on the pod
  std::string service_account = "default";
  std::vector<uint32_t> ips;
  std::vector<NamedPort> ports;  // the containers' named ports
  std::string Key() const { return namespace_ + "/" + name; }
};

struct NetworkSet {
  std::string namespace_;  // empty: a GlobalNetworkSet
  std::string name;
  Labels labels;
  std::vector<IpPrefix> nets;
};

// Something a selector can pick: a pod or a network set.
struct Entity {
  const Endpoint* endpoint = nullptr;
  const NetworkSet* network = nullptr;
  explicit operator bool() const { return endpoint || network; }
};

class Inventory {
 public:
  // Adds the automatic labels kubernetes.io/metadata.name and
  // projectcalico.org/name, as the API server and Calico do.
  void AddNamespace(const std::string& name, Labels labels);
  void SetServiceAccountLabels(const std::string& namespace_, const std::string& name,
                               Labels labels);
  // Refuses an endpoint whose key or an address is already taken.
  Status AddEndpoint(Endpoint endpoint);
  // Adds the endpoint, or replaces the one with its key (new labels, ports
  // or addresses) in place; refuses an address another endpoint holds.
  Status UpsertEndpoint(Endpoint endpoint);
  Status AddNetworkSet(NetworkSet network);

  // The pod with this address, else the network set with the longest prefix
  // holding it, else nothing (an address outside everything: the Internet).
  Entity Lookup(uint32_t address) const;
  // Everything that holds the address: its pod, then every network set with
  // a net containing it. A selector matches an address when it matches any of
  // them, as Calico's IP sets do (a pod inside a network set's CIDR is in
  // both sets).
  std::vector<Entity> Holders(uint32_t address) const;
  const Endpoint* FindEndpoint(const std::string& key) const;  // "ns/name"

  // Labels of a namespace (empty when unknown) and of a service account.
  const Labels& NamespaceLabels(const std::string& name) const;
  const Labels& ServiceAccountLabels(const std::string& namespace_, const std::string& name) const;
  // A pod's labels as Calico's selectors see them: its own plus
  // projectcalico.org/namespace, projectcalico.org/orchestrator: k8s and
  // projectcalico.org/serviceaccount.
  const Labels& SelectorLabels(const Endpoint& endpoint) const;

  const std::vector<Endpoint>& endpoints() const { return endpoints_; }
  // Indexes into endpoints() of those in one namespace, ascending.
  const std::vector<size_t>& EndpointsIn(const std::string& namespace_) const;
  const std::vector<NetworkSet>& networks() const { return networks_; }

 private:
  std::map<std::string, Labels> namespaces_;
  std::map<std::pair<std::string, std::string>, Labels> service_accounts_;
  std::vector<Endpoint> endpoints_;
  std::vector<Labels> selector_labels_;  // parallel to endpoints_
  std::vector<NetworkSet> networks_;
  std::map<uint32_t, size_t> by_address_;
  std::map<std::string, size_t> by_key_;
  std::map<std::string, std::vector<size_t>> by_namespace_;
};

// A Calico (Global)NetworkSet as the inventory holds it (its nets were
// checked by the loader; a bare address is a host prefix).
NetworkSet NetworkSetFromObject(const model::NetworkSet& set);

// The inventory of loaded manifests: their Namespaces, ServiceAccounts,
// NetworkSets and GlobalNetworkSets, their Pods, and each
// Deployment's replicas as pods NAME-0 .. NAME-(replicas-1) with the
// template's labels and ports (what the Deployment will run, before a
// cluster names them). Addresses come from status.podIP or, when absent, are
// assigned from `pod_cidr` in the order of the pods' keys. Namespaces that
// pods name but no manifest defines get only their automatic labels.
StatusOr<Inventory> InventoryFromObjects(const std::vector<model::Object>& objects,
                                         const std::string& pod_cidr = "10.42.0.0/16");

}  // namespace edgebed::policy
