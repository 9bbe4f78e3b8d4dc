// Services at the server: addresses and node ports allocated in their
// ranges (kept across re-applies and restarts, refused with upstream's
// words when taken, out of range or changed), and every node's table
// holding each service with its Ready endpoints.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "core/base/ip.h"
#include "core/model/loader.h"
#include "tests/cluster/harness.h"

namespace edgebed::cluster {
namespace {

using testing::Cluster;
using testing::ClusterOptions;

ClusterOptions Options() {
  ClusterOptions o;
  o.nodes = 4;
  o.floors = 2;
  return o;
}

std::string Service(const std::string& name, const std::string& spec) {
  return "apiVersion: v1\nkind: Service\nmetadata: {name: " + name + ", namespace: building}\nspec:\n" + spec;
}

const char* kNamespace = "apiVersion: v1\nkind: Namespace\nmetadata: {name: building}\n";

model::Service Stored(Cluster& c, const std::string& name) {
  auto o = c.server().Get("Service", "building", name);
  EXPECT_TRUE(o.has_value()) << name;
  model::LoadResult r = model::LoadManifests(o ? o->manifest : "", "stored.yaml");
  EXPECT_TRUE(r.ok() && r.objects.size() == 1);
  return std::get<model::Service>(r.objects.at(0));
}

TEST(Services, AddressesAndNodePortsAreAllocatedInTheirRangesAndKept) {
  Cluster c(11, Options());
  c.Start();
  ASSERT_TRUE(c.Apply(kNamespace).status.ok());
  std::set<std::string> ips;
  std::set<int32_t> node_ports;
  for (int i = 0; i < 20; ++i) {
    const std::string name = "svc-" + std::to_string(i);
    const std::string yaml = Service(name, "  type: NodePort\n  selector: {app: x}\n  ports: [{port: 80}]\n");
    ApplyResult r = c.Apply(yaml);
    ASSERT_TRUE(r.status.ok()) << r.status.ToString();
    const model::Service s = Stored(c, name);
    IpPrefix range, ip;
    std::string why;
    ASSERT_TRUE(ParseCidr("10.43.0.0/16", &range, &why));
    ASSERT_TRUE(ParseIpAddress(s.cluster_ip, &ip)) << s.cluster_ip;
    EXPECT_TRUE(range.Contains(ip)) << s.cluster_ip;
    EXPECT_TRUE(ips.insert(s.cluster_ip).second) << "allocated twice: " << s.cluster_ip;
    ASSERT_EQ(s.ports.size(), 1u);
    EXPECT_GE(s.ports[0].node_port, 30000);
    EXPECT_LE(s.ports[0].node_port, 32767);
    EXPECT_TRUE(node_ports.insert(s.ports[0].node_port).second);
    // Applied again as written, nothing changes.
    r = c.Apply(yaml);
    ASSERT_EQ(r.applied.size(), 1u);
    EXPECT_NE(r.applied[0].find("unchanged"), std::string::npos) << r.applied[0];
  }
  const model::Service before = Stored(c, "svc-7");
  c.CrashServer();
  c.RestartServer();
  const model::Service after = Stored(c, "svc-7");
  EXPECT_EQ(after.cluster_ip, before.cluster_ip);
  EXPECT_EQ(after.ports[0].node_port, before.ports[0].node_port);
  // A new service after the restart takes none of the old addresses.
  ASSERT_TRUE(c.Apply(Service("fresh", "  selector: {app: x}\n  ports: [{port: 80}]\n")).status.ok());
  EXPECT_FALSE(ips.count(Stored(c, "fresh").cluster_ip));
}

TEST(Services, TakenOutOfRangeOrChangedAddressesAreRefusedInUpstreamsWords) {
  Cluster c(12, Options());
  c.Start();
  ASSERT_TRUE(c.Apply(kNamespace).status.ok());
  ASSERT_TRUE(c.Apply(Service("a", "  clusterIP: 10.43.0.20\n  type: NodePort\n  ports: [{port: 80, nodePort: 30080}]\n"))
                  .status.ok());
  EXPECT_EQ(Stored(c, "a").cluster_ip, "10.43.0.20");
  struct Case {
    std::string spec, error;
  } cases[] = {
      {"  clusterIP: 10.43.0.20\n  ports: [{port: 80}]\n",
       "service building/b: spec.clusterIP: failed to allocate IP 10.43.0.20: provided IP is already allocated"},
      {"  clusterIP: 10.44.0.1\n  ports: [{port: 80}]\n",
       "service building/b: spec.clusterIP: failed to allocate IP 10.44.0.1: provided IP is not in the valid range. "
       "The range of valid IPs is 10.43.0.0/16"},
      {"  type: NodePort\n  ports: [{port: 80, nodePort: 30080}]\n",
       "service building/b: spec.ports[0].nodePort: 30080: provided port is already allocated"},
      {"  type: NodePort\n  ports: [{port: 80, nodePort: 8080}]\n",
       "service building/b: spec.ports[0].nodePort: 8080: provided port is not in the valid range. The range of "
       "valid ports is 30000-32767"},
  };
  for (const Case& k : cases) {
    const ApplyResult r = c.Apply(Service("b", k.spec));
    EXPECT_FALSE(r.status.ok()) << k.spec;
    EXPECT_NE(r.status.ToString().find(k.error), std::string::npos) << r.status.ToString();
    EXPECT_FALSE(c.server().Get("Service", "building", "b").has_value()) << "a refused service is not stored";
  }
  const ApplyResult changed =
      c.Apply(Service("a", "  clusterIP: 10.43.0.21\n  type: NodePort\n  ports: [{port: 80, nodePort: 30080}]\n"));
  EXPECT_NE(changed.status.ToString().find("spec.clusterIP: field is immutable (it is 10.43.0.20)"), std::string::npos)
      << changed.status.ToString();
  EXPECT_EQ(Stored(c, "a").cluster_ip, "10.43.0.20") << "nothing already accepted is lost";
  // The same UDP node port beside a TCP one is another port; a headless
  // service takes no address at all.
  EXPECT_TRUE(c.Apply(Service("udp", "  type: NodePort\n  ports: [{port: 53, protocol: UDP, nodePort: 30080}]\n")).status.ok());
  ASSERT_TRUE(c.Apply(Service("headless", "  clusterIP: None\n  selector: {app: x}\n  ports: [{port: 80}]\n")).status.ok());
  EXPECT_EQ(Stored(c, "headless").cluster_ip, "None");
}

TEST(Services, EveryNodeHoldsEachServiceWithItsReadyEndpoints) {
  Cluster c(13, Options());
  c.Start();
  ASSERT_TRUE(c.Apply(std::string(kNamespace) + R"(---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: building}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx, ports: [{name: http, containerPort: 8080}]}]
---
)" + Service("web", "  clusterIP: None\n  selector: {app: web}\n  ports: [{port: 80, targetPort: http}]\n"))
                  .status.ok());
  auto endpoints = [&](NodeId id) {
    std::set<std::string> out;
    const policy::ServiceEntry* svc = c.agent(id)->services().Find("building", "web");
    if (!svc) return out;
    for (const policy::ServiceBackend& b : svc->ports.at(0).backends)
      out.insert(FormatIpv4(b.ip) + ":" + std::to_string(b.port) + "@" + b.node);
    return out;
  };
  auto running = [&] {
    std::set<std::string> out;
    for (const PodInfo& p : c.server().Pods())
      if (p.phase == "Running") out.insert(p.ip + ":8080@" + p.node);
    return out;
  };
  auto agree = [&] {
    for (NodeId id = 1; id <= 4; ++id)
      if (endpoints(id) != running()) return false;
    return running().size() == 3;
  };
  ASSERT_TRUE(c.RunUntil(agree, std::chrono::minutes(1)));
  EXPECT_EQ(c.agent(1)->services().Find("building", "web")->cluster_ip, 0u) << "headless";

  // Scaled down, the endpoints follow on every node.
  ASSERT_TRUE(c.Apply(R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: building}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx, ports: [{name: http, containerPort: 8080}]}]
)").status.ok());
  ASSERT_TRUE(c.RunUntil([&] { return running().size() == 1 && endpoints(1) == running() && endpoints(4) == running(); },
                         std::chrono::minutes(1)));
  // A node that joins later gets the services too.
  c.CrashAgent(3);
  c.RestartAgent(3);
  ASSERT_TRUE(c.RunUntil([&] { return c.agent(3)->joined() && endpoints(3) == running(); }, std::chrono::minutes(1)));
}

}  // namespace
}  // namespace edgebed::cluster
