// The node's proxy table and its choice: endpoints built as the endpoints
// controller builds them, lookups checked against a plain scan over many
// random tables, kube-proxy's uniform random choice, ClientIP affinity, the
// Local traffic policies and kube-proxy's rejections.
#include "core/policy/services.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "core/base/ip.h"
#include "core/model/loader.h"

namespace edgebed::policy {
namespace {

model::Service LoadService(const std::string& yaml) {
  model::LoadResult r = model::LoadManifests(yaml, "svc.yaml");
  EXPECT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].ToString());
  EXPECT_EQ(r.objects.size(), 1u);
  return std::get<model::Service>(r.objects.at(0));
}

model::Pod MakePod(const std::string& name, const model::Labels& labels, const std::string& port_name = "",
                   int32_t port = 0) {
  model::Pod p;
  p.meta.namespace_ = "building";
  p.meta.name = name;
  p.meta.labels = labels;
  model::Container c;
  c.name = "main";
  if (port) c.ports.push_back(model::ContainerPort{port_name, port, "TCP", std::nullopt});
  p.spec.containers.push_back(c);
  return p;
}

uint32_t Ip(const char* text) { return *ParseIpv4(text); }

TEST(BuildServiceEntry, TakesReadyPodsOfTheSelectorAndResolvesNamedPortsPerPod) {
  const model::Service svc = LoadService(R"(apiVersion: v1
kind: Service
metadata: {name: mqtt, namespace: building}
spec:
  clusterIP: 10.43.0.20
  selector: {app: broker}
  ports:
  - {name: mqtt, port: 1883, targetPort: mqtt}
  - {name: admin, port: 80, targetPort: 8080}
)");
  const model::Pod a = MakePod("a", {{"app", "broker"}}, "mqtt", 1884);
  const model::Pod b = MakePod("b", {{"app", "broker"}, {"tier", "x"}}, "other", 9999);  // no "mqtt" port
  const model::Pod c = MakePod("c", {{"app", "broker"}}, "mqtt", 1885);                   // not ready
  const model::Pod d = MakePod("d", {{"app", "camera"}}, "mqtt", 1883);                   // not selected
  model::Pod e = MakePod("e", {{"app", "broker"}}, "mqtt", 1886);                         // another namespace
  e.meta.namespace_ = "floor-1";
  const std::vector<ServicePod> pods = {{&a, "n1", Ip("10.42.1.5"), true},  {&b, "n2", Ip("10.42.2.5"), true},
                                        {&c, "n3", Ip("10.42.3.5"), false}, {&d, "n1", Ip("10.42.1.6"), true},
                                        {&e, "n1", Ip("10.42.1.7"), true},  {&a, "n1", 0, true}};
  const ServiceEntry entry = BuildServiceEntry(svc, pods);
  EXPECT_EQ(entry.cluster_ip, Ip("10.43.0.20"));
  ASSERT_EQ(entry.ports.size(), 2u);
  ASSERT_EQ(entry.ports[0].backends.size(), 1u);
  EXPECT_EQ(entry.ports[0].backends[0], (ServiceBackend{Ip("10.42.1.5"), 1884, "n1"}));
  // A number reaches every selected Ready pod, whatever it declares.
  ASSERT_EQ(entry.ports[1].backends.size(), 2u);
  EXPECT_EQ(entry.ports[1].backends[1], (ServiceBackend{Ip("10.42.2.5"), 8080, "n2"}));

  model::Service all = svc;
  all.publish_not_ready_addresses = true;
  EXPECT_EQ(BuildServiceEntry(all, pods).ports[0].backends.size(), 2u);
  model::Service headless = svc;
  headless.cluster_ip = "None";
  EXPECT_EQ(BuildServiceEntry(headless, pods).cluster_ip, 0u);
  EXPECT_EQ(BuildServiceEntry(headless, pods).ports[0].backends.size(), 1u);  // names still resolve
  model::Service manual = svc;
  manual.selector.clear();
  EXPECT_TRUE(BuildServiceEntry(manual, pods).ports[0].backends.empty());
}

// ---- lookups against a plain scan ----------------------------------------------------

ServiceEntry RandomEntry(Random& rng, int index) {
  ServiceEntry e;
  e.namespace_ = "ns" + std::to_string(rng.Uniform(3));
  e.name = "svc" + std::to_string(index % 7);
  e.cluster_ip = rng.Chance(0.2) ? 0 : Ip("10.43.0.0") + static_cast<uint32_t>(rng.Uniform(6));
  const int ports = 1 + static_cast<int>(rng.Uniform(3));
  for (int i = 0; i < ports; ++i) {
    ServicePortEntry p;
    p.name = "p" + std::to_string(i);
    p.protocol = rng.Chance(0.5) ? kTcp : kUdp;
    p.port = static_cast<uint16_t>(80 + rng.Uniform(4));
    p.node_port = rng.Chance(0.3) ? static_cast<uint16_t>(30000 + rng.Uniform(5)) : 0;
    e.ports.push_back(p);
  }
  return e;
}

// The newest upsert of each name wins; among services claiming the same
// frontend, the one that claimed it last holds it (as the table does).
struct ReferenceTable {
  std::vector<ServiceEntry> order;  // upserts and claims, oldest first
  void Upsert(const ServiceEntry& e) {
    Remove(e.namespace_, e.name);
    order.push_back(e);
  }
  void Remove(const std::string& ns, const std::string& name) {
    for (auto it = order.begin(); it != order.end(); ++it)
      if (it->namespace_ == ns && it->name == name) {
        order.erase(it);
        return;
      }
  }
  std::string ByClusterIp(uint32_t ip, uint16_t port, uint8_t proto) const {
    std::string found;
    for (const ServiceEntry& e : order)
      for (const ServicePortEntry& p : e.ports)
        if (e.cluster_ip && e.cluster_ip == ip && p.port == port && p.protocol == proto) found = e.key();
    return found;
  }
  std::string ByNodePort(uint16_t port, uint8_t proto) const {
    std::string found;
    for (const ServiceEntry& e : order)
      for (const ServicePortEntry& p : e.ports)
        if (p.node_port && p.node_port == port && p.protocol == proto) found = e.key();
    return found;
  }
  bool IsClusterIp(uint32_t ip) const {
    for (const ServiceEntry& e : order)
      if (e.cluster_ip == ip && ip) return true;
    return false;
  }
};

TEST(ServiceTable, LookupsAgreeWithAPlainScanOverRandomTables) {
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    Random rng(seed);
    ServiceTable table;
    ReferenceTable reference;
    for (int step = 0; step < 40; ++step) {
      if (rng.Chance(0.75)) {
        ServiceEntry e = RandomEntry(rng, step);
        // Frontends are unique in a real cluster (the API server allocates
        // them): only upsert entries that do not clash with another name's.
        bool clash = false;
        for (const ServicePortEntry& p : e.ports) {
          const std::string a = reference.ByClusterIp(e.cluster_ip, p.port, p.protocol);
          const std::string b = p.node_port ? reference.ByNodePort(p.node_port, p.protocol) : "";
          clash |= (e.cluster_ip && !a.empty() && a != e.key()) || (!b.empty() && b != e.key());
        }
        for (const auto& [key, other] : table.services())
          if (key != e.key() && other.cluster_ip && other.cluster_ip == e.cluster_ip) clash = true;
        if (clash) continue;
        table.Upsert(e);
        reference.Upsert(e);
      } else {
        const std::string ns = "ns" + std::to_string(rng.Uniform(3)), name = "svc" + std::to_string(rng.Uniform(7));
        table.Remove(ns, name);
        reference.Remove(ns, name);
      }
      for (uint32_t ip = Ip("10.43.0.0"); ip < Ip("10.43.0.0") + 6; ++ip) {
        ASSERT_EQ(table.IsClusterIp(ip), reference.IsClusterIp(ip)) << "seed " << seed;
        for (uint16_t port = 80; port < 84; ++port)
          for (uint8_t proto : {kTcp, kUdp}) {
            auto f = table.ByClusterIp(ip, port, proto);
            ASSERT_EQ(f ? f->service->key() : "", reference.ByClusterIp(ip, port, proto)) << "seed " << seed;
            if (f) {
              EXPECT_EQ(f->port->port, port);
            }
          }
      }
      for (uint16_t port = 30000; port < 30005; ++port)
        for (uint8_t proto : {kTcp, kUdp}) {
          auto f = table.ByNodePort(port, proto);
          ASSERT_EQ(f ? f->service->key() : "", reference.ByNodePort(port, proto)) << "seed " << seed;
        }
    }
  }
}

// ---- the proxy's choice ------------------------------------------------------------

ServiceEntry Broker(int backends, bool affinity = false) {
  ServiceEntry e;
  e.namespace_ = "building";
  e.name = "mqtt";
  e.cluster_ip = Ip("10.43.0.20");
  e.client_ip_affinity = affinity;
  e.affinity_seconds = 600;
  ServicePortEntry p;
  p.port = 1883;
  p.node_port = 31883;
  for (int i = 0; i < backends; ++i)
    p.backends.push_back(ServiceBackend{Ip("10.42.1.10") + static_cast<uint32_t>(i), 1884,
                                        "n" + std::to_string(i % 2)});
  e.ports.push_back(p);
  return e;
}

ServiceProxy::Flow ToBroker(uint32_t client) { return ServiceProxy::Flow{client, Ip("10.43.0.20"), 1883, kTcp}; }

TEST(ServiceProxy, PicksEachEndpointUniformlyFromTheSeededSource) {
  ServiceTable table;
  table.Upsert(Broker(4));
  std::map<uint32_t, int> hits;
  const int draws = 40000;
  Random rng(7);
  ServiceProxy proxy("n0");
  for (int i = 0; i < draws; ++i) {
    const auto t = proxy.Translate(table, ToBroker(Ip("10.42.5.1") + static_cast<uint32_t>(i % 50)), false, rng, Time{});
    ASSERT_EQ(t.outcome, ServiceProxy::kTranslated);
    EXPECT_EQ(t.port, 1884);
    EXPECT_FALSE(t.masquerade);
    ++hits[t.ip];
  }
  ASSERT_EQ(hits.size(), 4u);
  // Chi-square with 3 degrees of freedom: 16.27 is its 0.1% tail.
  double chi2 = 0;
  for (const auto& [ip, n] : hits) chi2 += std::pow(n - draws / 4.0, 2) / (draws / 4.0);
  EXPECT_LT(chi2, 16.27);
  // The same seed, the same choices.
  Random a(99), b(99);
  ServiceProxy pa("n0"), pb("n0");
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(pa.Translate(table, ToBroker(1), false, a, Time{}).ip, pb.Translate(table, ToBroker(1), false, b, Time{}).ip);
}

TEST(ServiceProxy, ClientIpAffinityKeepsAClientOnItsEndpointUntilTheTimeout) {
  ServiceTable table;
  table.Upsert(Broker(8, /*affinity=*/true));
  Random rng(3);
  ServiceProxy proxy("n0");
  Time now{};
  std::set<uint32_t> seen;
  const uint32_t first = proxy.Translate(table, ToBroker(Ip("10.42.5.1")), false, rng, now).ip;
  for (int i = 0; i < 50; ++i) {
    now += std::chrono::seconds(30);  // each connection renews the affinity
    EXPECT_EQ(proxy.Translate(table, ToBroker(Ip("10.42.5.1")), false, rng, now).ip, first);
    seen.insert(proxy.Translate(table, ToBroker(Ip("10.42.6.0") + static_cast<uint32_t>(i)), false, rng, now).ip);
  }
  EXPECT_GT(seen.size(), 4u) << "other clients spread over the endpoints";
  // Past the timeout the client is drawn again; over many clients some move.
  int moved = 0;
  for (uint32_t c = 0; c < 40; ++c) {
    const uint32_t client = Ip("10.42.7.0") + c;
    const uint32_t before = proxy.Translate(table, ToBroker(client), false, rng, now).ip;
    if (proxy.Translate(table, ToBroker(client), false, rng, now + std::chrono::seconds(601)).ip != before) ++moved;
  }
  EXPECT_GT(moved, 20);
  // Its endpoint gone, the client goes to another at once.
  ServiceEntry fewer = Broker(8, true);
  auto& backends = fewer.ports[0].backends;
  backends.erase(std::remove_if(backends.begin(), backends.end(), [&](const ServiceBackend& b) { return b.ip == first; }),
                 backends.end());
  table.Upsert(fewer);
  EXPECT_NE(proxy.Translate(table, ToBroker(Ip("10.42.5.1")), false, rng, now).ip, first);
}

TEST(ServiceProxy, LocalTrafficPoliciesKeepToThisNodesEndpoints) {
  ServiceTable table;
  ServiceEntry e = Broker(4);
  e.internal_local = true;
  table.Upsert(e);
  Random rng(5);
  ServiceProxy on_n1("n1"), on_n9("n9");
  for (int i = 0; i < 50; ++i) {
    const auto t = on_n1.Translate(table, ToBroker(1), false, rng, Time{});
    ASSERT_EQ(t.outcome, ServiceProxy::kTranslated);
    EXPECT_TRUE(t.ip == Ip("10.42.1.11") || t.ip == Ip("10.42.1.13"));
  }
  EXPECT_EQ(on_n9.Translate(table, ToBroker(1), false, rng, Time{}).outcome, ServiceProxy::kNoEndpoints);

  // Node ports: Cluster spreads and masquerades; Local keeps the client's
  // address and this node's pods.
  const ServiceProxy::Flow to_node_port{Ip("192.168.1.50"), Ip("192.168.0.9"), 31883, kTcp};
  std::set<uint32_t> spread;
  for (int i = 0; i < 100; ++i) {
    const auto t = on_n9.Translate(table, to_node_port, true, rng, Time{});
    ASSERT_EQ(t.outcome, ServiceProxy::kTranslated);
    EXPECT_TRUE(t.masquerade);
    spread.insert(t.ip);
  }
  EXPECT_EQ(spread.size(), 4u);
  e.external_local = true;
  table.Upsert(e);
  const auto local = on_n1.Translate(table, to_node_port, true, rng, Time{});
  EXPECT_EQ(local.outcome, ServiceProxy::kTranslated);
  EXPECT_FALSE(local.masquerade);
  EXPECT_EQ(on_n9.Translate(table, to_node_port, true, rng, Time{}).outcome, ServiceProxy::kNoEndpoints);
  // A node port is served on the node's address only; a ClusterIP port only on the ClusterIP.
  EXPECT_EQ(on_n1.Translate(table, ServiceProxy::Flow{1, Ip("10.43.0.20"), 31883, kTcp}, false, rng, Time{}).outcome,
            ServiceProxy::kNoEndpoints);
  EXPECT_EQ(on_n1.Translate(table, ServiceProxy::Flow{1, Ip("192.168.0.9"), 1883, kTcp}, true, rng, Time{}).outcome,
            ServiceProxy::kNotAService);
}

TEST(ServiceProxy, RejectsWhatAServiceDoesNotServeAndPassesEverythingElse) {
  ServiceTable table;
  table.Upsert(Broker(0));
  Random rng(1);
  ServiceProxy proxy("n0");
  EXPECT_EQ(proxy.Translate(table, ToBroker(1), false, rng, Time{}).outcome, ServiceProxy::kNoEndpoints);
  EXPECT_EQ(proxy.Translate(table, ServiceProxy::Flow{1, Ip("10.43.0.20"), 22, kTcp}, false, rng, Time{}).outcome,
            ServiceProxy::kNoEndpoints);
  EXPECT_EQ(proxy.Translate(table, ServiceProxy::Flow{1, Ip("10.43.0.20"), 1883, kUdp}, false, rng, Time{}).outcome,
            ServiceProxy::kNoEndpoints);
  EXPECT_EQ(proxy.Translate(table, ServiceProxy::Flow{1, Ip("10.42.1.10"), 1884, kTcp}, false, rng, Time{}).outcome,
            ServiceProxy::kNotAService);
  table.Remove("building", "mqtt");
  EXPECT_EQ(proxy.Translate(table, ToBroker(1), false, rng, Time{}).outcome, ServiceProxy::kNotAService);
}

}  // namespace
}  // namespace edgebed::policy
