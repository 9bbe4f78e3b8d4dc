// Services end to end on the test loop: the server, the agents, the
// scheduler and the policy engine in the loop, and each node's simulated
// packet path (PodNetwork) translating through its agent's service table.
// Traffic to a ClusterIP reaches the Ready pods behind it and keeps to the
// one it drew; the policy is judged on the chosen pod after the
// translation, as upstream specifies (a policy allowing the broker's
// targetPort lets sensors in through the service; one allowing only the
// service's own port lets nothing in); a ClusterIP port that the service
// does not serve is refused by the sending node.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "core/base/ip.h"
#include "sim/pod_network.h"
#include "tests/cluster/harness.h"

namespace edgebed::sim {
namespace {

using cluster::testing::Cluster;
using cluster::testing::ClusterOptions;

// Which node holds an address: the one whose pod range holds it.
class ServerRouter final : public PodRouter {
 public:
  explicit ServerRouter(Cluster& c) : c_(c) {}
  NodeId NodeOf(uint32_t ip) override {
    for (NodeId id = 1; c_.agent(id) || id <= 6; ++id) {
      IpPrefix range;
      std::string why;
      if (c_.agent(id) && ParseCidr(c_.agent(id)->pod_cidr(), &range, &why) && range.Contains(Ipv4Prefix(ip, 32)))
        return id;
    }
    return kNoNode;
  }

 private:
  Cluster& c_;
};

// The world of these tests: three brokers behind a service, two floor
// gateways, and a policy letting the floors in on one port.
std::string World(const std::string& allowed_port, const std::string& service_spec = "",
                  const std::string& extra_peer = "") {
  return std::string(R"(apiVersion: v1
kind: Namespace
metadata: {name: building, labels: {role: services}}
---
apiVersion: v1
kind: Namespace
metadata: {name: floor-1, labels: {role: floor}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: broker, namespace: building}
spec:
  replicas: 3
  selector: {matchLabels: {app: broker}}
  template:
    metadata: {labels: {app: broker}}
    spec:
      containers:
      - name: mqtt
        image: mosquitto:2
        ports: [{name: mqtt, containerPort: 1884}, {name: ssh, containerPort: 2222}]
        resources: {requests: {cpu: 100m}}
---
apiVersion: v1
kind: Service
metadata: {name: mqtt, namespace: building}
spec:
  selector: {app: broker}
  ports: [{name: mqtt, port: 1883, targetPort: mqtt)") + (service_spec.empty() ? "" : ", nodePort: 31883") + R"(}]
)" + (service_spec.empty() ? "" : service_spec + "\n") + R"(---
apiVersion: apps/v1
kind: Deployment
metadata: {name: gateway, namespace: floor-1}
spec:
  replicas: 2
  selector: {matchLabels: {app: gateway}}
  template:
    metadata: {labels: {app: gateway}}
    spec:
      containers: [{name: gw, image: gateway:1, resources: {requests: {cpu: 100m}}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: broker-from-floors, namespace: building}
spec:
  podSelector: {matchLabels: {app: broker}}
  policyTypes: [Ingress]
  ingress:
  - from: [{namespaceSelector: {matchLabels: {role: floor}}})" + extra_peer + R"(]
    ports: [{port: )" + allowed_port + R"(}]
)";
}

class ServicePathTest : public ::testing::TestWithParam<uint64_t> {
 protected:
  void Build(const std::string& allowed_port, const std::string& service_spec = "", const std::string& extra_peer = "") {
    ClusterOptions o;
    o.nodes = 6;
    o.floors = 3;
    cluster_ = std::make_unique<Cluster>(GetParam(), o);
    cluster_->Start();
    router_ = std::make_unique<ServerRouter>(*cluster_);
    for (NodeId id = 1; id <= 6; ++id) {
      nets_[id] = std::make_unique<PodNetwork>(cluster_->env(id), *router_, [this, id]() -> policy::Dataplane* {
        return cluster_->agent(id) ? cluster_->agent(id)->dataplane() : nullptr;
      });
      nets_[id]->set_services(
          [this, id]() -> const policy::ServiceTable* {
            return cluster_->agent(id) ? &cluster_->agent(id)->services() : nullptr;
          },
          "edge-" + std::to_string(id), [this, id]() -> uint32_t { return NodeAddress(id); });
    }
    const cluster::ApplyResult r = cluster_->Apply(World(allowed_port, service_spec, extra_peer));
    ASSERT_TRUE(r.status.ok()) << r.status.ToString();
    ASSERT_TRUE(cluster_->RunUntil([&] { return cluster_->RunningCount() == 5 && EveryNodeSeesEndpoints(3); },
                                   std::chrono::minutes(2)));
    // The brokers listen on their container ports; every gateway's answers come back to it.
    for (const cluster::PodInfo& p : cluster_->server().Pods()) {
      const uint32_t ip = *ParseIpv4(p.ip);
      PodNetwork& net = *nets_[cluster_->IdOf(p.node)];
      if (p.labels.at("app") == "broker") {
        brokers_[ip] = p.name;
        for (uint16_t port : {1884, 2222})
          net.Bind(ip, port, policy::kTcp, [this, ip, port, &net](const PodNetwork::Message& m) {
            ++received_[{ip, port}];
            net.Reply(m, Bytes{'o', 'k'});
          });
      } else {
        gateways_.push_back({ip, cluster_->IdOf(p.node)});
        net.Bind(ip, 40000, policy::kTcp, [this, ip](const PodNetwork::Message& m) { answers_[ip].insert(m.src_ip); });
        net.OnFailure(ip, 40000, [this, ip](uint32_t, uint16_t) { ++failures_[ip]; });
      }
    }
    const policy::ServiceEntry* svc = cluster_->agent(1)->services().Find("building", "mqtt");
    ASSERT_NE(svc, nullptr);
    cluster_ip_ = svc->cluster_ip;
  }

  // The gateway of a node's pod range: its own address, where node ports answer.
  uint32_t NodeAddress(NodeId id) {
    IpPrefix range;
    std::string why;
    if (!cluster_ || !cluster_->agent(id) || !ParseCidr(cluster_->agent(id)->pod_cidr(), &range, &why)) return 0;
    return range.v4() + 1;
  }

  // Nodes that hold a broker, and those that do not.
  std::set<NodeId> BrokerNodes() {
    std::set<NodeId> out;
    for (const cluster::PodInfo& p : cluster_->server().Pods())
      if (p.labels.at("app") == "broker") out.insert(cluster_->IdOf(p.node));
    return out;
  }

  bool EveryNodeSeesEndpoints(size_t n) {
    for (NodeId id = 1; id <= 6; ++id) {
      const policy::ServiceEntry* svc = cluster_->agent(id)->services().Find("building", "mqtt");
      if (!svc || svc->ports.size() != 1 || svc->ports[0].backends.size() != n) return false;
    }
    return true;
  }

  int Received(uint16_t port) {
    int n = 0;
    for (const auto& [key, count] : received_)
      if (key.second == port) n += count;
    return n;
  }

  std::unique_ptr<Cluster> cluster_;
  std::unique_ptr<ServerRouter> router_;
  std::map<NodeId, std::unique_ptr<PodNetwork>> nets_;
  std::map<uint32_t, std::string> brokers_;
  std::vector<std::pair<uint32_t, NodeId>> gateways_;
  std::map<std::pair<uint32_t, uint16_t>, int> received_;
  std::map<uint32_t, std::set<uint32_t>> answers_;  // gateway -> where its answers came from
  std::map<uint32_t, int> failures_;
  uint32_t cluster_ip_ = 0;
};

TEST_P(ServicePathTest, ThePolicyJudgesTheChosenPodAfterTranslation) {
  Build("mqtt");  // the broker's named container port: what the packet carries after DNAT
  ASSERT_EQ(gateways_.size(), 2u);
  uint64_t flows = 0;
  for (int round = 0; round < 20; ++round) {
    for (const auto& [ip, node] : gateways_) {
      // A new connection each round (a new source port), so each draws again.
      nets_[node]->Bind(ip, static_cast<uint16_t>(41000 + round), policy::kTcp, [](const PodNetwork::Message&) {});
      nets_[node]->Send(ip, static_cast<uint16_t>(41000 + round), cluster_ip_, 1883, policy::kTcp, Bytes{'m'});
    }
    cluster_->loop().RunFor(std::chrono::milliseconds(50));
  }
  for (const auto& [ip, node] : gateways_) flows += nets_[node]->stats().service_flows;
  EXPECT_EQ(flows, 40u);
  EXPECT_EQ(Received(1884), 40);
  std::set<uint32_t> reached;
  for (const auto& [key, count] : received_)
    if (key.second == 1884 && count > 0) reached.insert(key.first);
  EXPECT_EQ(reached.size(), 3u) << "40 draws over 3 brokers reach all of them";

  // One connection keeps the pod it drew, and its answers come from the service.
  const auto [gw, node] = gateways_[0];
  received_.clear();
  for (int i = 0; i < 10; ++i) nets_[node]->Send(gw, 40000, cluster_ip_, 1883, policy::kTcp, Bytes{'x'});
  cluster_->loop().RunFor(std::chrono::seconds(1));
  EXPECT_EQ(Received(1884), 10);
  EXPECT_EQ(received_.size(), 1u);
  EXPECT_EQ(answers_[gw], std::set<uint32_t>{cluster_ip_});

  // Straight to a broker's other port: the policy drops it.
  const uint32_t broker = brokers_.begin()->first;
  nets_[node]->Send(gw, 40000, broker, 2222, policy::kTcp, Bytes{'x'});
  // A port of the ClusterIP the service does not serve: refused by the sending node.
  nets_[node]->Send(gw, 40001, cluster_ip_, 22, policy::kTcp, Bytes{'x'});
  cluster_->loop().RunFor(std::chrono::seconds(20));
  EXPECT_EQ(Received(2222), 0);
  EXPECT_EQ(nets_[node]->stats().service_rejects, 1u);
}

TEST_P(ServicePathTest, APolicyOnTheServicePortAloneLetsNothingIn) {
  Build("1883");  // the service's port: never what the chosen pod sees
  const auto [gw, node] = gateways_[0];
  nets_[node]->Send(gw, 40000, cluster_ip_, 1883, policy::kTcp, Bytes{'x'});
  cluster_->loop().RunFor(std::chrono::seconds(20));
  EXPECT_EQ(Received(1884), 0);
  EXPECT_EQ(failures_[gw], 1) << "the SYN to the chosen broker is dropped at its ingress, and retried until it fails";
}

TEST_P(ServicePathTest, EndpointsFollowTheBrokersThatAreReady) {
  Build("mqtt");
  // A broker's node crashes: once the node is NotReady its pod is no
  // endpoint anywhere; its replacement, once Running, is.
  const uint32_t lost_ip = brokers_.begin()->first;
  std::string lost_node;
  for (const cluster::PodInfo& p : cluster_->server().Pods())
    if (p.ip == FormatIpv4(lost_ip)) lost_node = p.node;
  cluster_->CrashAgent(cluster_->IdOf(lost_node));
  auto holds = [&](NodeId id, uint32_t ip) {
    const policy::ServiceEntry* svc = cluster_->agent(id)->services().Find("building", "mqtt");
    if (!svc) return false;
    for (const policy::ServiceBackend& b : svc->ports[0].backends)
      if (b.ip == ip) return true;
    return false;
  };
  const NodeId witness = cluster_->IdOf(lost_node) == 1 ? 2 : 1;
  ASSERT_TRUE(cluster_->RunUntil([&] { return !holds(witness, lost_ip); }, std::chrono::minutes(2)));
  EXPECT_GE(cluster_->loop().now().time_since_epoch(), std::chrono::seconds(40)) << "not before the node's grace";
  ASSERT_TRUE(cluster_->RunUntil(
      [&] {
        for (NodeId id = 1; id <= 6; ++id)
          if (cluster_->agent(id) && cluster_->agent(id)->services().Find("building", "mqtt")->ports[0].backends.size() != 3)
            return false;
        return true;
      },
      std::chrono::minutes(10)));

  // Deleted, the service leaves every node's table, and its address is refused no more but routed nowhere.
  ASSERT_TRUE(cluster_->Delete("Service", "building", "mqtt").ok());
  ASSERT_TRUE(cluster_->RunUntil(
      [&] {
        for (NodeId id = 1; id <= 6; ++id)
          if (cluster_->agent(id) && cluster_->agent(id)->services().Find("building", "mqtt")) return false;
        return true;
      },
      std::chrono::seconds(30)));
}

TEST_P(ServicePathTest, ANodePortForwardsFromTheNodesAddressUnlessTrafficPolicyIsLocal) {
  // externalTrafficPolicy Cluster: any node's port reaches a broker, whose
  // policy sees the node's address as the source; the floors' rule does
  // not match it, a rule for the nodes' addresses does.
  Build("mqtt", "  type: NodePort", ", {ipBlock: {cidr: 10.42.0.0/16}}");
  NodeId away = 0;
  for (NodeId id = 1; id <= 6; ++id)
    if (!BrokerNodes().count(id)) away = id;
  ASSERT_NE(away, 0u);
  const auto [gw, node] = gateways_[0];
  for (int i = 0; i < 5; ++i) nets_[node]->Send(gw, 40000, NodeAddress(away), 31883, policy::kTcp, Bytes{'x'});
  cluster_->loop().RunFor(std::chrono::seconds(2));
  EXPECT_EQ(Received(1884), 5);
  EXPECT_EQ(nets_[away]->stats().node_port_flows, 1u);
  EXPECT_EQ(answers_[gw], std::set<uint32_t>{NodeAddress(away)}) << "answers come back from the node port";
}

TEST_P(ServicePathTest, ANodePortWithLocalTrafficPolicyKeepsTheClientAndTheNodesOwnPods) {
  Build("mqtt", "  type: NodePort\n  externalTrafficPolicy: Local");
  const auto [gw, node] = gateways_[0];
  const NodeId home = *BrokerNodes().begin();
  NodeId away = 0;
  for (NodeId id = 1; id <= 6; ++id)
    if (!BrokerNodes().count(id)) away = id;
  ASSERT_NE(away, 0u);
  // The client's own address reaches the broker: the floors' rule lets it in.
  nets_[node]->Send(gw, 40000, NodeAddress(home), 31883, policy::kTcp, Bytes{'x'});
  cluster_->loop().RunFor(std::chrono::seconds(2));
  EXPECT_EQ(Received(1884), 1);
  for (const auto& [key, count] : received_) EXPECT_EQ(BrokerNodes().count(cluster_->IdOf([&] {
    for (const cluster::PodInfo& p : cluster_->server().Pods())
      if (p.ip == FormatIpv4(key.first)) return p.node;
    return std::string("edge-0");
  }())), 1u);
  // A node without a broker has no endpoint to offer: refused at once.
  nets_[node]->Send(gw, 40001, NodeAddress(away), 31883, policy::kTcp, Bytes{'x'});
  cluster_->loop().RunFor(std::chrono::seconds(2));
  EXPECT_EQ(Received(1884), 1);
  EXPECT_EQ(nets_[away]->stats().service_rejects, 1u);
  EXPECT_EQ(failures_[gw], 0) << "the failure is heard on port 40001";
}

TEST_P(ServicePathTest, ANodePortFromTheNodesAddressIsDeniedByAPolicyForPodsOnly) {
  Build("mqtt", "  type: NodePort");
  const auto [gw, node] = gateways_[0];
  NodeId away = 0;
  for (NodeId id = 1; id <= 6; ++id)
    if (!BrokerNodes().count(id)) away = id;
  nets_[node]->Send(gw, 40000, NodeAddress(away), 31883, policy::kTcp, Bytes{'x'});
  cluster_->loop().RunFor(std::chrono::seconds(20));
  EXPECT_EQ(Received(1884), 0);
  EXPECT_EQ(failures_[gw], 1);
}

INSTANTIATE_TEST_SUITE_P(Seeds, ServicePathTest, ::testing::Values(1, 2, 3, 4));

}  // namespace
}  // namespace edgebed::sim
