// Network policy in the kernel: what NftPolicy (core/host/nft_policy.h)
// costs to apply and to pass packets through, against a naive rendering in
// the same run: one accept rule per (source pod, destination pod, port) the
// policy allows, and a drop per guarded pod, in one chain, replaced whole on
// every change (how a hand-written iptables ruleset grows).
//
// The world: P pods in one namespace, in 20 groups (app=g0..g19); K
// NetworkPolicies, policy k guarding group k % 20 and letting group
// (k + 1) % 20 in on TCP port 1000 + k (for the traffic, on UDP too).
// Every pod is on this node.
//
// Needs root (network namespaces, nftables); skips without it.
#include <benchmark/benchmark.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/base/ip.h"
#include "core/host/nft_policy.h"
#include "core/host/nft_services.h"
#include "tests/host/netns_util.h"

namespace edgebed::host {
namespace {

using policy::Classifier;
using policy::Endpoint;
using policy::Inventory;
using policy::PolicySet;

constexpr int kGroups = 20;

uint32_t PodAddress(int i) { return 0x0a2a0000u + 2 + static_cast<uint32_t>(i); }  // 10.42.0.2 + i

struct World {
  Inventory inventory;
  PolicySet policies;
  std::vector<PolicySet::OrderedTier> tiers;
  std::unique_ptr<Classifier> classifier;
  std::vector<std::string> keys;

  // `udp_too`: each policy lets the same port in over UDP as well.
  World(int pods, int policy_count, int extra_pods = 0, bool udp_too = false) {
    inventory.AddNamespace("bench", {});
    for (int i = 0; i < pods + extra_pods; ++i) {
      Endpoint e;
      e.namespace_ = "bench";
      e.name = "pod" + std::to_string(i);
      e.labels["app"] = "g" + std::to_string(i % kGroups);
      e.ips = {PodAddress(i)};
      (void)inventory.AddEndpoint(e);
      keys.push_back(e.Key());
    }
    for (int k = 0; k < policy_count; ++k) {
      model::NetworkPolicy np;
      np.meta.namespace_ = "bench";
      np.meta.name = "allow-" + std::to_string(k);
      np.pod_selector.match_labels["app"] = "g" + std::to_string(k % kGroups);
      np.policy_types = {"Ingress"};
      model::NetworkPolicyRule rule;
      model::NetworkPolicyPeer peer;
      peer.pod_selector = model::LabelSelector();
      peer.pod_selector->match_labels["app"] = "g" + std::to_string((k + 1) % kGroups);
      rule.peers.push_back(peer);
      model::NetworkPolicyPort port;
      port.protocol = "TCP";
      port.port = model::IntOrString{true, 1000 + k, ""};
      rule.ports.push_back(port);
      if (udp_too) {
        port.protocol = "UDP";
        rule.ports.push_back(port);
      }
      np.ingress.push_back(rule);
      (void)policies.Upsert(np);
    }
    tiers = *policies.Ordered();
    classifier = std::make_unique<Classifier>(tiers, inventory);
  }
};

// The baseline: every allowed (source, destination, port) as its own rule.
struct NaiveRules {
  std::string script;
  size_t rules = 0;
};
NaiveRules RenderNaive(const World& w) {
  std::ostringstream s;
  NaiveRules out;
  s << "add table ip naive-policy\ndelete table ip naive-policy\nadd table ip naive-policy\n"
       "add chain ip naive-policy forward { type filter hook forward priority 0; policy accept; }\n"
       "add rule ip naive-policy forward ct state established,related accept\n";
  out.rules = 1;
  const std::vector<Endpoint>& pods = w.inventory.endpoints();
  for (const Endpoint& dst : pods) {
    const policy::Program& program = w.classifier->program(dst, policy::Direction::kIngress);
    if (program.tiers.empty()) continue;
    for (const policy::CompiledRule& r : program.rules) {
      for (const Endpoint& src : pods) {
        if (!r.source.any_address && !r.source.addresses.Contains(src.ips[0])) continue;
        for (const auto& range : r.destination.ports.ranges()) {
          for (uint32_t port = range.first; port <= range.second; ++port) {
            s << "add rule ip naive-policy forward ip saddr " << FormatIpv4(src.ips[0]) << " ip daddr "
              << FormatIpv4(dst.ips[0]) << " meta l4proto " << r.protocol << " th dport " << port << " accept\n";
            ++out.rules;
          }
        }
      }
    }
    s << "add rule ip naive-policy forward ip daddr " << FormatIpv4(dst.ips[0]) << " drop\n";
    ++out.rules;
  }
  out.script = s.str();
  return out;
}


// A node namespace and, when asked, a client and a server pod wired to it
// (client: pod `client`, server: pod `server` of the world), deleted at exit.
class Node {
 public:
  static Node* Get() {
    static Node node;
    return node.ok_ ? &node : nullptr;
  }
  const std::string& name() const { return node_; }
  std::string Pod(const std::string& which) const { return prefix_ + which; }
  // Wires a pod namespace `which` with address `ip`; false when it cannot.
  bool Wire(const std::string& which, uint32_t ip) {
    if (wired_.count(which)) return true;
    const std::string ns = Pod(which), a = FormatIpv4(ip), host = "ebb" + std::to_string(::getpid() % 100000) + which;
    if (Sh("ip netns add " + ns) != 0) return false;
    made_.push_back(ns);
    const bool ok = Sh("ip link add " + host + " netns " + node_ + " type veth peer name eth0 netns " + ns) == 0 &&
                    Sh("ip -n " + node_ + " addr add 10.42.255.1/32 dev " + host) == 0 &&
                    Sh("ip -n " + node_ + " link set " + host + " up") == 0 &&
                    Sh("ip -n " + node_ + " route add " + a + "/32 dev " + host) == 0 &&
                    Sh("ip -n " + ns + " link set lo up") == 0 &&
                    Sh("ip -n " + ns + " addr add " + a + "/32 dev eth0") == 0 &&
                    Sh("ip -n " + ns + " link set eth0 up") == 0 &&
                    Sh("ip -n " + ns + " route add 10.42.255.1/32 dev eth0") == 0 &&
                    Sh("ip -n " + ns + " route add 10.42.0.0/16 via 10.42.255.1 dev eth0") == 0;
    if (ok) wired_.insert(which);
    return ok;
  }
  Status Apply(const std::string& script) {
    return InNamespace(node_, [&] { return ApplyNft(script); });
  }
  void Clear() {
    (void)Apply("add table ip edgebed-policy\ndelete table ip edgebed-policy\nadd table ip naive-policy\n"
                "delete table ip naive-policy\n");
  }
  ~Node() {
    for (auto it = made_.rbegin(); it != made_.rend(); ++it) Sh("ip netns del " + *it);
  }

 private:
  Node() {
    if (::geteuid() != 0) return;
    prefix_ = "ebnb" + std::to_string(::getpid()) + "-";
    node_ = prefix_ + "node";
    if (Sh("ip netns add " + node_) != 0) return;
    made_.push_back(node_);
    ok_ = Sh("ip -n " + node_ + " link set lo up") == 0 &&
          Sh("ip netns exec " + node_ + " sysctl -qw net.ipv4.ip_forward=1") == 0 && Apply("add table ip probe\ndelete table ip probe\n").ok();
  }
  bool ok_ = false;
  std::string prefix_, node_;
  std::vector<std::string> made_;
  std::set<std::string> wired_;
};

constexpr const char* kNeedsRoot = "needs root: network namespaces and nftables";

// ---- update latency and size ---------------------------------------------------

// A pod comes and goes, turn by turn: the time to render and apply it.
void BM_Update_Ours(benchmark::State& state) {
  Node* node = Node::Get();
  if (!node) return state.SkipWithError(kNeedsRoot);
  node->Clear();
  const int pods = static_cast<int>(state.range(0)), policies = static_cast<int>(state.range(1));
  const World without(pods, policies), with(pods, policies, 1);
  NftPolicy nft(NftPolicyOptions{}, [node](const std::string& s) { return node->Apply(s); });
  const auto t0 = std::chrono::steady_clock::now();
  Status s = nft.Update(*without.classifier, without.inventory, without.keys);
  const double full = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!s.ok()) return state.SkipWithError(s.ToString().c_str());
  size_t bytes = 0;
  bool odd = false;
  for (auto _ : state) {
    const World& w = odd ? without : with;
    odd = !odd;
    s = nft.Update(*w.classifier, w.inventory, w.keys);
    if (!s.ok()) return state.SkipWithError(s.ToString().c_str());
    bytes += nft.last_script().size();
  }
  state.counters["rules"] = static_cast<double>(nft.rule_count());
  state.counters["elements"] = static_cast<double>(nft.element_count());
  state.counters["full_ms"] = full * 1e3;
  state.counters["script_bytes"] = static_cast<double>(bytes) / static_cast<double>(state.iterations());
  node->Clear();
}

void BM_Update_Naive(benchmark::State& state) {
  Node* node = Node::Get();
  if (!node) return state.SkipWithError(kNeedsRoot);
  node->Clear();
  const int pods = static_cast<int>(state.range(0)), policies = static_cast<int>(state.range(1));
  const World without(pods, policies), with(pods, policies, 1);
  NaiveRules last;
  bool odd = false;
  for (auto _ : state) {
    last = RenderNaive(odd ? without : with);
    odd = !odd;
    const Status s = node->Apply(last.script);
    if (!s.ok()) return state.SkipWithError(s.ToString().c_str());
  }
  state.counters["rules"] = static_cast<double>(last.rules);
  state.counters["script_bytes"] = static_cast<double>(last.script.size());
  node->Clear();
}

// {pods, policies}
// {pods, policies}; the naive rules number policies x (pods / 20)^2, so
// not the largest.
BENCHMARK(BM_Update_Ours)->Args({200, 20})->Args({200, 200})->Args({1000, 20})->Args({1000, 200})
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Update_Naive)->Args({200, 20})->Args({200, 200})->Args({1000, 20})
    ->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

// ---- traffic through the rules --------------------------------------------------

// 200 pods. The client is pod 0 (group 0), the server pod 199 (group 19,
// the last pod): the policy letting group 0 into group 19 is the last one,
// on port 1000 + K - 1, so the naive chain is walked to its end for every
// new connection.
constexpr int kTrafficPods = 200;
enum class Table { kNone, kOurs, kNaive };

// Moves the calling thread into network namespace `ns` for its lifetime.
class EnterNamespace {
 public:
  explicit EnterNamespace(const std::string& ns) {
    home_ = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    const int fd = ::open(("/var/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    ok_ = home_ >= 0 && fd >= 0 && ::setns(fd, CLONE_NEWNET) == 0;
    if (fd >= 0) ::close(fd);
  }
  ~EnterNamespace() {
    if (home_ >= 0) {
      (void)::setns(home_, CLONE_NEWNET);
      ::close(home_);
    }
  }
  bool ok() const { return ok_; }

 private:
  int home_ = -1;
  bool ok_ = false;
};

struct Traffic {
  Node* node = nullptr;
  int server_fd = -1, udp_fd = -1;
  std::atomic<bool> stop{false};
  std::thread server;
  uint16_t port = 0;
  ~Traffic() {
    stop = true;
    if (server.joinable()) server.join();
    if (server_fd >= 0) ::close(server_fd);
    if (udp_fd >= 0) ::close(udp_fd);
  }
};

std::string Setup(Traffic* t, Table table, int policies) {
  t->node = Node::Get();
  if (!t->node) return kNeedsRoot;
  const int pods = kTrafficPods;
  if (!t->node->Wire("client", PodAddress(0)) || !t->node->Wire("server", PodAddress(kTrafficPods - 1))) {
    return "cannot wire veth pairs between network namespaces";
  }
  t->node->Clear();
  const World w(pods, policies, 0, /*udp_too=*/true);
  if (table == Table::kOurs) {
    NftPolicy nft(NftPolicyOptions{}, [t](const std::string& s) { return t->node->Apply(s); });
    const Status s = nft.Update(*w.classifier, w.inventory, w.keys);
    if (!s.ok()) return s.ToString();
  } else if (table == Table::kNaive) {
    const Status s = t->node->Apply(RenderNaive(w).script);
    if (!s.ok()) return s.ToString();
  }
  t->port = static_cast<uint16_t>(1000 + policies - 1);
  const uint16_t port = t->port;
  // The server: accepts and lets go (TCP), echoes (UDP).
  const bool ok = InNamespace(t->node->Pod("server"), [&] {
    t->server_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    t->udp_fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(t->server_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    return ::bind(t->server_fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
           ::listen(t->server_fd, 4096) == 0 && ::bind(t->udp_fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  });
  if (!ok) return "cannot listen in the server's namespace";
  t->server = std::thread([t] {
    while (!t->stop) {
      pollfd p[2] = {{t->server_fd, POLLIN, 0}, {t->udp_fd, POLLIN, 0}};
      if (::poll(p, 2, 50) <= 0) continue;
      if (p[0].revents & POLLIN) {
        const int c = ::accept4(t->server_fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (c >= 0) ::close(c);
      }
      if (p[1].revents & POLLIN) {
        char buf[64];
        sockaddr_in from{};
        socklen_t len = sizeof from;
        const ssize_t n = ::recvfrom(t->udp_fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
        if (n > 0) ::sendto(t->udp_fd, buf, static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&from), len);
      }
    }
  });
  return "";
}

sockaddr_in ServerAddress(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(PodAddress(kTrafficPods - 1));
  return a;
}

// New TCP connections per second, client to server: each one's SYN is
// judged by the rules (its later packets by conntrack).
void BM_TcpConnect(benchmark::State& state, Table table) {
  Traffic t;
  const std::string why = Setup(&t, table, static_cast<int>(state.range(0)));
  if (!why.empty()) return state.SkipWithError(why.c_str());
  const sockaddr_in to = ServerAddress(t.port);
  EnterNamespace client(t.node->Pod("client"));
  if (!client.ok()) return state.SkipWithError("cannot enter the client's namespace");
  size_t failed = 0;
  for (auto _ : state) {
    const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (::connect(s, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) ++failed;
    linger l{1, 0};  // a reset: no TIME_WAIT to run out of ports
    ::setsockopt(s, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    ::close(s);
  }
  if (failed) state.SkipWithError("connections failed: the policy should allow them");
  state.counters["connections_per_s"] = benchmark::Counter(static_cast<double>(state.iterations()),
                                                            benchmark::Counter::kIsRate);
  t.node->Clear();
}

// UDP round trips per second on one flow: after the first, conntrack's.
void BM_UdpRoundTrip(benchmark::State& state, Table table) {
  Traffic t;
  const std::string why = Setup(&t, table, static_cast<int>(state.range(0)));
  if (!why.empty()) return state.SkipWithError(why.c_str());
  const sockaddr_in to = ServerAddress(t.port);
  const int s = InNamespace(t.node->Pod("client"), [] { return ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0); });
  timeval timeout{1, 0};
  ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::connect(s, reinterpret_cast<const sockaddr*>(&to), sizeof to);
  char buf[64] = "ping";
  size_t lost = 0;
  for (auto _ : state) {
    ::send(s, buf, 32, 0);
    if (::recv(s, buf, sizeof buf, 0) <= 0) ++lost;
  }
  ::close(s);
  if (lost) state.SkipWithError("datagrams lost: the policy should allow them");
  state.counters["round_trips_per_s"] = benchmark::Counter(static_cast<double>(state.iterations()),
                                                            benchmark::Counter::kIsRate);
  t.node->Clear();
}

BENCHMARK_CAPTURE(BM_TcpConnect, none, Table::kNone)->Arg(200)->UseRealTime();
BENCHMARK_CAPTURE(BM_TcpConnect, ours, Table::kOurs)->Arg(20)->Arg(200)->UseRealTime();
BENCHMARK_CAPTURE(BM_TcpConnect, naive, Table::kNaive)->Arg(20)->Arg(200)->UseRealTime();
BENCHMARK_CAPTURE(BM_UdpRoundTrip, none, Table::kNone)->Arg(200)->UseRealTime();
BENCHMARK_CAPTURE(BM_UdpRoundTrip, ours, Table::kOurs)->Arg(200)->UseRealTime();
BENCHMARK_CAPTURE(BM_UdpRoundTrip, naive, Table::kNaive)->Arg(200)->UseRealTime();

}  // namespace
}  // namespace edgebed::host

BENCHMARK_MAIN();
