// Services as a node's proxy holds them, and the choice it makes for each
// new connection: kube-proxy's part of a node, beside Calico's.
//
//   ServiceTable table;                                  // from the node's view
//   table.Upsert(BuildServiceEntry(service, pods));      // the server builds these
//   ServiceProxy proxy("b1-f1-n1");
//   ServiceProxy::Translation t = proxy.Translate(table, flow, false, random, now);
//   if (t.outcome == ServiceProxy::kTranslated) ... send to t.ip:t.port
//
// A Service's endpoints are the pods its selector picks in its namespace
// that are Ready (all of them with publishNotReadyAddresses), each with the
// service port's targetPort resolved for that pod (a name is looked up among
// the pod's container ports; a pod without it is no endpoint of that port).
//
// Translation is destination NAT before policy, as upstream specifies: the
// node's policy sees the chosen pod's address and port, never the
// service's. A connection to a ClusterIP (or to this node's address on a
// NodePort) goes to one endpoint drawn uniformly from the caller's seeded
// source (kube-proxy's random choice), or, with sessionAffinity ClientIP,
// to the endpoint the same client had within the timeout. Traffic
// policies narrow the draw to this node's endpoints: internalTrafficPolicy
// Local for cluster traffic, externalTrafficPolicy Local for node ports
// (which then keep the client's address; Cluster masquerades it to the
// node's). A service port with no endpoint to draw rejects the connection,
// as kube-proxy's REJECT rule does. Headless services (no ClusterIP) are
// held for name lookups and never translated.
//
// The caller keeps the translation with the connection (conntrack) and
// asks again only for new ones. Plain state; no I/O.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "core/env/env.h"
#include "core/env/random.h"
#include "core/model/objects.h"
#include "core/policy/inventory.h"

namespace edgebed::policy {

struct ServiceBackend {
  uint32_t ip = 0;
  uint16_t port = 0;  // the target port, resolved for this pod
  std::string node;   // where the pod runs
  bool operator==(const ServiceBackend& o) const { return ip == o.ip && port == o.port && node == o.node; }
};

struct ServicePortEntry {
  std::string name;
  uint8_t protocol = kTcp;
  uint16_t port = 0;
  uint16_t node_port = 0;  // 0: none
  std::vector<ServiceBackend> backends;  // by address
  bool operator==(const ServicePortEntry& o) const {
    return name == o.name && protocol == o.protocol && port == o.port && node_port == o.node_port &&
           backends == o.backends;
  }
};

struct ServiceEntry {
  std::string namespace_, name;
  uint32_t cluster_ip = 0;  // 0: headless or ExternalName; never translated
  bool client_ip_affinity = false;
  uint32_t affinity_seconds = 10800;
  bool internal_local = false, external_local = false;
  std::vector<ServicePortEntry> ports;
  std::string key() const { return namespace_ + "/" + name; }
  bool operator==(const ServiceEntry& o) const {
    return namespace_ == o.namespace_ && name == o.name && cluster_ip == o.cluster_ip &&
           client_ip_affinity == o.client_ip_affinity && affinity_seconds == o.affinity_seconds &&
           internal_local == o.internal_local && external_local == o.external_local && ports == o.ports;
  }
};

// A pod as an endpoint candidate: where it runs, its address (0: none yet)
// and whether it is Ready.
struct ServicePod {
  const model::Pod* pod = nullptr;
  std::string node;
  uint32_t ip = 0;
  bool ready = false;
};

// The entry of `service` (spec.clusterIP already allocated) over the pods
// of its namespace: the endpoints of each port, by address.
ServiceEntry BuildServiceEntry(const model::Service& service, const std::vector<ServicePod>& pods);

// Whether a flow entering at node `node` may go to `backend`: a Local
// traffic policy (internal for cluster traffic, external for node ports)
// keeps it to that node's own endpoints.
bool MayReach(const ServiceEntry& service, const ServiceBackend& backend, bool via_node_port, const std::string& node);

class ServiceTable {
 public:
  // Replaces the service of the same namespace/name.
  void Upsert(ServiceEntry entry);
  void Remove(const std::string& ns, const std::string& name);
  void Clear();
  const ServiceEntry* Find(const std::string& ns, const std::string& name) const;

  struct Frontend {
    const ServiceEntry* service = nullptr;
    const ServicePortEntry* port = nullptr;
  };
  // The service port behind a ClusterIP address and port; or behind a node port.
  std::optional<Frontend> ByClusterIp(uint32_t ip, uint16_t port, uint8_t protocol) const;
  std::optional<Frontend> ByNodePort(uint16_t node_port, uint8_t protocol) const;
  // True when `ip` is some service's ClusterIP (a flow to one of its ports
  // nobody serves is rejected as kube-proxy's).
  bool IsClusterIp(uint32_t ip) const;
  const std::map<std::string, ServiceEntry>& services() const { return services_; }

 private:
  void Index(const ServiceEntry& entry, bool add);
  std::map<std::string, ServiceEntry> services_;  // by namespace/name
  // Frontends to their services: the entries of services_, which stay put
  // until removed (an upsert replaces an entry's value in place).
  std::map<std::tuple<uint32_t, uint16_t, uint8_t>, const ServiceEntry*> cluster_ips_;
  std::map<std::pair<uint16_t, uint8_t>, const ServiceEntry*> node_ports_;
  std::map<uint32_t, int> cluster_ip_users_;
};

class ServiceProxy {
 public:
  explicit ServiceProxy(std::string node_name) : node_(std::move(node_name)) {}

  enum Outcome { kNotAService, kNoEndpoints, kTranslated };
  struct Translation {
    Outcome outcome = kNotAService;
    uint32_t ip = 0;     // the chosen endpoint
    uint16_t port = 0;
    bool masquerade = false;  // a node port with externalTrafficPolicy Cluster: the source becomes the node's
    const ServiceEntry* service = nullptr;
  };
  struct Flow {
    uint32_t src = 0, dst = 0;
    uint16_t dst_port = 0;
    uint8_t protocol = kTcp;
  };
  // A new flow. `to_node_address`: it came to this node's own address,
  // where only node ports are served.
  Translation Translate(const ServiceTable& table, const Flow& flow, bool to_node_address, Random& random, Time now);

  size_t affinities() const { return affinity_.size(); }

 private:
  struct Sticky {
    ServiceBackend backend;
    Time until{};
  };
  std::string node_;
  // sessionAffinity ClientIP: (service, port, client) -> its endpoint.
  std::map<std::tuple<std::string, uint16_t, uint32_t>, Sticky> affinity_;
  Time next_sweep_{};
};

}  // namespace edgebed::policy
