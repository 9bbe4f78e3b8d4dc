// The policy dataplane: packets per second per core on the established-flow
// fast path and on first packets, against the reference evaluator (the
// specification, read rule by rule) and a linear scan of the compiled rules
// (how iptables-style rule lists scale), in the same run. Rule sets are
// ClassBench filter sets (written in ClassBench's format and parsed back) and
// Kubernetes-shaped ones: many namespaces, each with its own policies.
#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/env/random.h"
#include "core/model/objects.h"
#include "core/policy/classbench.h"
#include "core/policy/classifier.h"
#include "core/policy/dataplane.h"
#include "core/policy/reference.h"
#include "core/policy/services.h"

namespace edgebed::policy {
namespace {

constexpr uint32_t kProtected = 0x0a2a0001;  // the endpoint the rules guard
constexpr size_t kPackets = 4096;

// A filter set in ClassBench's format, shaped like its ACL seeds: sources
// often a wildcard or a /16../24 block, destinations the specific servers an
// ACL protects (/24../32), destination ports mostly one well-known port,
// some ranges, TCP mostly.
std::string GenerateClassBench(size_t filters, uint64_t seed) {
  Random r(seed);
  static const int kSourceLengths[] = {0, 0, 8, 16, 16, 20, 24, 24, 28, 32};
  static const int kDestinationLengths[] = {24, 24, 28, 30, 32, 32, 32, 32, 32, 32};
  static const int kPorts[] = {22, 25, 53, 80, 110, 123, 143, 161, 443, 1521, 1883, 3306, 5432, 8080, 8883};
  std::string text;
  // Addresses come from a few thousand hosts in a /8, as in a site's ACL.
  const auto prefix = [&](const int* lengths) {
    const int length = lengths[r.Uniform(10)];
    const uint32_t host = 0x0a000000u | static_cast<uint32_t>(r.Uniform(4096)) << 8 |
                          static_cast<uint32_t>(r.Uniform(256));
    return Ipv4Prefix(host & (length == 0 ? 0 : ~uint32_t{0} << (32 - length)), length).ToString();
  };
  for (size_t i = 0; i < filters; ++i) {
    std::string dports;
    const double kind = r.UnitReal();
    if (kind < 0.7) {
      const int port = kPorts[r.Uniform(15)];
      dports = std::to_string(port) + " : " + std::to_string(port);
    } else if (kind < 0.9) {
      dports = "1024 : 65535";
    } else {
      dports = "0 : 65535";
    }
    const double p = r.UnitReal();
    const char* protocol = p < 0.75 ? "0x06/0xFF" : p < 0.95 ? "0x11/0xFF" : "0x00/0x00";
    text += "@" + prefix(kSourceLengths) + "\t" + prefix(kDestinationLengths) + "\t0 : 65535\t" +
            dports + "\t" + protocol + "\t0x0000/0x0000\n";
  }
  return text;
}

// Packets that land inside the filters, as ClassBench's trace generator does,
// plus some that match none.
std::vector<Packet> PacketsFor(const std::vector<Rule>& rules, uint64_t seed) {
  Random r(seed);
  std::vector<Packet> packets;
  const auto inside = [&](const EntityMatch& m) {
    if (m.nets.empty()) return static_cast<uint32_t>(r.Uniform(uint64_t{1} << 32));
    const IpPrefix& n = m.nets.front();
    const uint32_t host = n.prefix == 32 ? 0 : static_cast<uint32_t>(r.Uniform(uint64_t{1} << (32 - n.prefix)));
    return (n.v4() & (n.prefix == 0 ? 0 : ~uint32_t{0} << (32 - n.prefix))) | host;
  };
  for (size_t i = 0; i < kPackets; ++i) {
    Packet p;
    if (r.Chance(0.9)) {
      const Rule& rule = rules[r.Uniform(rules.size())];
      p.src = inside(rule.source);
      p.dst = inside(rule.destination);
      p.protocol = rule.protocol ? *rule.protocol : kTcp;
      p.dst_port = rule.destination.ports.empty()
                       ? static_cast<uint16_t>(r.Uniform(65536))
                       : static_cast<uint16_t>(r.UniformInt(rule.destination.ports.front().first,
                                                            rule.destination.ports.front().last));
    } else {
      // Inside the site but matching no filter, most likely: the slow case.
      p.src = 0x0a000000u | static_cast<uint32_t>(r.Uniform(1u << 24));
      p.dst = 0x0a000000u | static_cast<uint32_t>(r.Uniform(1u << 24));
      p.dst_port = static_cast<uint16_t>(r.Uniform(65536));
    }
    p.src_port = static_cast<uint16_t>(1024 + r.Uniform(60000));
    packets.push_back(p);
  }
  return packets;
}

// One endpoint guarded by a ClassBench filter set as its ingress rules.
struct ClassBenchWorld {
  Inventory inventory;
  PolicySet set;
  std::vector<PolicySet::OrderedTier> tiers;
  std::vector<Packet> packets;
  std::unique_ptr<Classifier> indexed, scanned;
  const Endpoint* endpoint = nullptr;

  explicit ClassBenchWorld(int64_t filters) {
    const std::string text = GenerateClassBench(static_cast<size_t>(filters), 42);
    std::vector<Rule> rules = *ParseClassBench(text, "generated.txt");
    packets = PacketsFor(rules, 7);
    set.Upsert(ClassBenchPolicy(std::move(rules), "classbench"));
    tiers = *set.Ordered();
    Endpoint e;
    e.namespace_ = "bench";
    e.name = "guarded";
    e.ips = {kProtected};
    (void)inventory.AddEndpoint(e);
    endpoint = &inventory.endpoints().front();
    indexed = std::make_unique<Classifier>(tiers, inventory);
    scanned = std::make_unique<Classifier>(tiers, inventory, SIZE_MAX);
  }
};

// A world of each size is built once, on first use, and kept for the run.
template <typename World>
World& Cached(int64_t size) {
  static std::map<int64_t, std::unique_ptr<World>> worlds;
  auto& w = worlds[size];
  if (!w) w = std::make_unique<World>(size);
  return *w;
}
ClassBenchWorld& World(int64_t filters) { return Cached<ClassBenchWorld>(filters); }

// The world's packets, one per iteration, each judged by `judge`; returns
// how many were allowed.
template <typename World, typename Judge>
size_t JudgeAll(benchmark::State& state, World& w, const Judge& judge) {
  size_t i = 0, allowed = 0;
  for (auto _ : state) allowed += judge(w, w.packets[i++ % kPackets]).allowed;
  benchmark::DoNotOptimize(allowed);
  state.SetItemsProcessed(state.iterations());
  return allowed;
}

// The first packets of the ClassBench world of state.range(0) filters, each
// judged by `judge` at the guarded endpoint's ingress.
template <typename Judge>
void FirstPackets(benchmark::State& state, const Judge& judge) {
  JudgeAll(state, World(state.range(0)), judge);
}

void BM_FirstPacket_Indexed(benchmark::State& state) {
  FirstPackets(state, [](ClassBenchWorld& w, const Packet& p) {
    return w.indexed->Evaluate(*w.endpoint, Direction::kIngress, p);
  });
  state.counters["index_bytes_per_rule"] =
      static_cast<double>(World(state.range(0)).indexed->index_bytes()) /
      static_cast<double>(state.range(0));
}

void BM_FirstPacket_LinearScan(benchmark::State& state) {
  FirstPackets(state, [](ClassBenchWorld& w, const Packet& p) {
    return w.scanned->Evaluate(*w.endpoint, Direction::kIngress, p);
  });
}

void BM_FirstPacket_Reference(benchmark::State& state) {
  ClassBenchWorld& world = World(state.range(0));
  const ReferenceEvaluator reference(world.tiers, world.inventory);
  FirstPackets(state, [&](ClassBenchWorld& w, const Packet& p) {
    return reference.Evaluate(*w.endpoint, Direction::kIngress, p);
  });
}

BENCHMARK(BM_FirstPacket_Indexed)->Arg(100)->Arg(1000)->Arg(10000)->Arg(100000);
BENCHMARK(BM_FirstPacket_LinearScan)->Arg(100)->Arg(1000)->Arg(10000)->Arg(100000);
BENCHMARK(BM_FirstPacket_Reference)->Arg(100)->Arg(1000)->Arg(10000);

// Compiling a ClassBench set: what a policy update costs today (the whole
// program is rebuilt).
void BM_Compile(benchmark::State& state) {
  ClassBenchWorld& w = World(state.range(0));
  for (auto _ : state) {
    Classifier c(w.tiers, w.inventory);
    benchmark::DoNotOptimize(c.rule_count());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Compile)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);


// --- Kubernetes-shaped rule sets ---
//
// A building of many namespaces (floors, tenants), each with 10 pods of five
// apps and the policies an operator writes: default deny, same-app traffic,
// gateways to the floor's broker on MQTT, the broker's database, web from
// anywhere on 443; plus a security tier that denies a guest network and
// passes the rest. About 10 Kubernetes rules per namespace once converted.
struct KubernetesWorld : PolicyWorld {
  std::vector<model::Object> objects;
  std::vector<Packet> packets;
  std::unique_ptr<Classifier> classifier;
  size_t rules = 0;

  explicit KubernetesWorld(int64_t namespaces) {
    static const char* const kApps[] = {"sensor", "gateway", "broker", "db", "web"};
    const auto selector = [](const char* app) {
      model::LabelSelector s;
      s.match_labels["app"] = app;
      return s;
    };
    const auto port = [](int number) {
      model::NetworkPolicyPort p;
      p.port = model::IntOrString{true, number, ""};
      return p;
    };
    for (int n = 0; n < namespaces; ++n) {
      const std::string ns = "floor-" + std::to_string(n);
      model::Namespace space;
      space.meta.name = ns;
      space.meta.labels = {{"floor", std::to_string(n)}, {"building", std::to_string(n / 20)}};
      objects.push_back(space);
      for (int i = 0; i < 10; ++i) {
        model::Pod pod;
        pod.meta.name = std::string(kApps[i % 5]) + "-" + std::to_string(i / 5);
        pod.meta.namespace_ = ns;
        pod.meta.labels = {{"app", kApps[i % 5]}};
        model::Container c;
        c.ports.push_back({"mqtt", 1883, "TCP", std::nullopt});
        pod.spec.containers.push_back(c);
        objects.push_back(pod);
      }
      const auto policy = [&](const std::string& name) {
        model::NetworkPolicy np;
        np.meta.name = name;
        np.meta.namespace_ = ns;
        np.policy_types = {"Ingress"};
        return np;
      };
      objects.push_back(policy("default-deny"));
      for (const char* app : kApps) {
        model::NetworkPolicy same = policy(std::string("same-app-") + app);
        same.pod_selector = selector(app);
        model::NetworkPolicyRule rule;
        rule.peers.push_back({selector(app), std::nullopt, std::nullopt});
        same.ingress.push_back(rule);
        objects.push_back(same);
      }
      model::NetworkPolicy mqtt = policy("broker-mqtt");
      mqtt.pod_selector = selector("broker");
      model::NetworkPolicyRule from_gateways;
      model::LabelSelector this_building;
      this_building.match_labels["building"] = std::to_string(n / 20);
      from_gateways.peers.push_back({selector("gateway"), this_building, std::nullopt});
      from_gateways.ports.push_back(port(1883));
      mqtt.ingress.push_back(from_gateways);
      objects.push_back(mqtt);
      model::NetworkPolicy db = policy("db-from-broker");
      db.pod_selector = selector("db");
      model::NetworkPolicyRule from_broker;
      from_broker.peers.push_back({selector("broker"), std::nullopt, std::nullopt});
      from_broker.ports.push_back(port(5432));
      db.ingress.push_back(from_broker);
      objects.push_back(db);
      model::NetworkPolicy web = policy("web-https");
      web.pod_selector = selector("web");
      model::NetworkPolicyRule anyone;
      anyone.ports.push_back(port(443));
      web.ingress.push_back(anyone);
      objects.push_back(web);
    }
    model::Tier security;
    security.meta.name = "security";
    security.order = 100;
    objects.push_back(security);
    model::CalicoPolicy guest;
    guest.global = true;
    guest.meta.name = "block-guest";
    guest.tier = "security";
    guest.types = {"Ingress"};
    model::CalicoRule deny;
    deny.action = "Deny";
    deny.source.nets = {"192.168.200.0/24"};
    model::CalicoRule pass;
    pass.action = "Pass";
    guest.ingress = {deny, pass};
    objects.push_back(guest);

    static_cast<PolicyWorld&>(*this) = *PolicyWorldFromObjects(objects);
    classifier = std::make_unique<Classifier>(tiers, inventory);
    for (const auto& [key, p] : policies.policies()) rules += p.ingress_rules.size() + p.egress_rules.size();
    Random r(9);
    static const uint16_t kPorts[] = {1883, 5432, 443, 80};
    const std::vector<Endpoint>& pods = inventory.endpoints();
    for (size_t i = 0; i < kPackets; ++i) {
      Packet p;
      // Mostly within a floor or a building, where policies decide.
      const Endpoint& dst = pods[r.Uniform(pods.size())];
      const size_t near = static_cast<size_t>(&dst - pods.data());
      const size_t src = r.Chance(0.7) ? (near / 10) * 10 + r.Uniform(10) : r.Uniform(pods.size());
      p.src = pods[src].ips[0];
      p.dst = dst.ips[0];
      p.dst_port = kPorts[r.Uniform(4)];
      p.src_port = static_cast<uint16_t>(30000 + r.Uniform(30000));
      packets.push_back(p);
    }
  }
};

KubernetesWorld& Kubernetes(int64_t namespaces) { return Cached<KubernetesWorld>(namespaces); }

// A new connection judged at both ends: egress at the source pod, ingress at
// the destination pod.
template <typename Judge>
void BothEnds(benchmark::State& state, const Judge& judge) {
  KubernetesWorld& w = Kubernetes(state.range(0));
  const size_t allowed = JudgeAll(state, w, judge);
  state.counters["rules"] = static_cast<double>(w.rules);
  state.counters["pods"] = static_cast<double>(w.inventory.endpoints().size());
  state.counters["allowed_share"] = static_cast<double>(allowed) / static_cast<double>(state.iterations());
}

void BM_Kubernetes_Classifier(benchmark::State& state) {
  BothEnds(state, [](KubernetesWorld& w, const Packet& p) { return w.classifier->Evaluate(p); });
}

void BM_Kubernetes_Reference(benchmark::State& state) {
  KubernetesWorld& world = Kubernetes(state.range(0));
  const ReferenceEvaluator reference(world.tiers, world.inventory);
  BothEnds(state, [&](KubernetesWorld&, const Packet& p) { return reference.Evaluate(p); });
}
BENCHMARK(BM_Kubernetes_Classifier)->Arg(10)->Arg(100)->Arg(1000);
BENCHMARK(BM_Kubernetes_Reference)->Arg(10)->Arg(100)->Arg(1000);

// What a change costs: one pod relabelled (an app changes role) and the
// classifier updated, against compiling everything again.
void BM_Kubernetes_UpdateOnePod(benchmark::State& state) {
  KubernetesWorld& w = Kubernetes(state.range(0));
  Endpoint e = w.inventory.endpoints()[3];
  size_t compiled = 0;
  for (auto _ : state) {
    e.labels["app"] = e.labels["app"] == "db" ? "web" : "db";
    (void)w.inventory.UpsertEndpoint(e);
    compiled += w.classifier->Update({e.Key()});
  }
  state.counters["programs_compiled"] =
      static_cast<double>(compiled) / static_cast<double>(state.iterations());
  state.counters["programs"] = static_cast<double>(w.classifier->program_count());
}

void BM_Kubernetes_CompileAll(benchmark::State& state) {
  KubernetesWorld& w = Kubernetes(state.range(0));
  for (auto _ : state) {
    Classifier c(w.tiers, w.inventory);
    benchmark::DoNotOptimize(c.program_count());
  }
}
BENCHMARK(BM_Kubernetes_UpdateOnePod)->Arg(100)->Arg(1000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Kubernetes_CompileAll)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond);

// The established-flow fast path: packets of connections already tracked,
// in either direction, through the whole dataplane of a 10,000-pod building.
void BM_FastPath(benchmark::State& state) {
  KubernetesWorld& w = Kubernetes(1000);
  Dataplane dp(w.classifier.get(), &w.inventory, Dataplane::Options{});
  const size_t flows = static_cast<size_t>(state.range(0));
  std::vector<Packet> packets;
  const Time now{};
  for (size_t i = 0; packets.size() < flows && i < flows * 20; ++i) {
    Packet syn = w.packets[i % kPackets];
    syn.src_port = static_cast<uint16_t>(1024 + i / kPackets);
    syn.tcp_flags = kSyn;
    if (!dp.Process(syn, now).allowed) continue;
    Packet data = syn;
    data.tcp_flags = kAck;
    packets.push_back(data);
    if (packets.size() % 2 == 0) {  // half the packets are replies
      std::swap(data.src, data.dst);
      std::swap(data.src_port, data.dst_port);
      packets.back() = data;
    }
  }
  if (packets.empty()) {
    state.SkipWithError("no connection was allowed");
    return;
  }
  size_t i = 0, allowed = 0;
  for (auto _ : state) allowed += dp.Process(packets[i++ % packets.size()], now).allowed;
  benchmark::DoNotOptimize(allowed);
  state.SetItemsProcessed(state.iterations());
  state.counters["flows"] = static_cast<double>(packets.size());
}
BENCHMARK(BM_FastPath)->Arg(1000)->Arg(100000);

// ---- Services: a node's proxy choosing for each new flow -----------------------------

// N services of 3 ports and 5 endpoints each; the flows go to a random
// service port (one flow in ten to an address no service holds).
ServiceTable Services(int n) {
  ServiceTable table;
  for (int i = 0; i < n; ++i) {
    ServiceEntry e;
    e.namespace_ = "ns" + std::to_string(i % 100);
    e.name = "svc" + std::to_string(i);
    e.cluster_ip = 0x0a2b0000u + 2 + static_cast<uint32_t>(i);
    for (uint16_t p = 0; p < 3; ++p) {
      ServicePortEntry port;
      port.port = static_cast<uint16_t>(8000 + p);
      for (uint32_t b = 0; b < 5; ++b)
        port.backends.push_back(ServiceBackend{0x0a2a0000u + static_cast<uint32_t>(i) * 8 + b, 9000, "n" + std::to_string(b)});
      e.ports.push_back(port);
    }
    table.Upsert(std::move(e));
  }
  return table;
}

std::vector<ServiceProxy::Flow> ServiceFlows(int n) {
  Random rng(11);
  std::vector<ServiceProxy::Flow> flows;
  for (int i = 0; i < 4096; ++i) {
    const bool miss = rng.Chance(0.1);
    flows.push_back(ServiceProxy::Flow{0x0a2a8000u + static_cast<uint32_t>(rng.Uniform(1000)),
                                       miss ? 0x0a2a0001u : 0x0a2b0002u + static_cast<uint32_t>(rng.Uniform(n)),
                                       static_cast<uint16_t>(8000 + rng.Uniform(3)), kTcp});
  }
  return flows;
}

void BM_ServiceProxy(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const ServiceTable table = Services(n);
  const std::vector<ServiceProxy::Flow> flows = ServiceFlows(n);
  ServiceProxy proxy("n0");
  Random rng(3);
  size_t i = 0, translated = 0;
  for (auto _ : state)
    translated += proxy.Translate(table, flows[i++ % flows.size()], false, rng, Time{}).outcome == ServiceProxy::kTranslated;
  benchmark::DoNotOptimize(translated);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ServiceProxy)->Arg(10)->Arg(1000)->Arg(10000);

// Baseline: the frontend found by walking every service port, as a chain
// with one rule per service port (iptables-style) is walked.
void BM_ServiceProxyLinearScan(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const ServiceTable table = Services(n);
  const std::vector<ServiceProxy::Flow> flows = ServiceFlows(n);
  std::vector<std::pair<const ServiceEntry*, const ServicePortEntry*>> rules;
  for (const auto& [key, svc] : table.services())
    for (const ServicePortEntry& p : svc.ports) rules.emplace_back(&svc, &p);
  Random rng(3);
  size_t i = 0, translated = 0;
  for (auto _ : state) {
    const ServiceProxy::Flow& f = flows[i++ % flows.size()];
    for (const auto& [svc, port] : rules)
      if (svc->cluster_ip == f.dst && port->port == f.dst_port && port->protocol == f.protocol) {
        translated += port->backends[rng.Uniform(port->backends.size())].ip != 0;
        break;
      }
  }
  benchmark::DoNotOptimize(translated);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ServiceProxyLinearScan)->Arg(10)->Arg(1000)->Arg(10000);

}  // namespace
}  // namespace edgebed::policy

BENCHMARK_MAIN();
