// Services in the kernel: the rendered nftables table applied in a node's
// network namespace, with pods in namespaces of their own on veth pairs
// (routed through the node, as Calico wires them), and real TCP
// connections made to the ClusterIP and to the node port. Needs root and
// network namespaces; skips, saying why, where it cannot make them. Every
// namespace it made is deleted, pass or fail.
#include "core/host/nft_services.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/base/ip.h"
#include "tests/host/netns_util.h"

namespace edgebed::host {
namespace {

uint32_t Ip(const char* s) { return *ParseIpv4(s); }

// ---- the rendering alone -------------------------------------------------------------

policy::ServiceEntry Broker(bool affinity = false) {
  policy::ServiceEntry e;
  e.namespace_ = "building";
  e.name = "mqtt";
  e.cluster_ip = Ip("10.43.0.20");
  e.client_ip_affinity = affinity;
  e.affinity_seconds = 600;
  policy::ServicePortEntry p;
  p.name = "mqtt";
  p.port = 1883;
  p.node_port = 31883;
  p.backends = {{Ip("10.42.1.11"), 1884, "node-a"}, {Ip("10.42.1.12"), 1884, "node-b"}};
  e.ports.push_back(p);
  return e;
}

TEST(NftServices, RendersADrawOverTheEndpointsAndTheirTranslations) {
  policy::ServiceTable table;
  table.Upsert(Broker());
  policy::ServiceEntry headless = Broker();
  headless.name = "mqtt-headless";
  headless.cluster_ip = 0;
  table.Upsert(headless);
  const std::string rules = RenderServiceRules(table, {"edgebed-services", "node-a", 0x4000});
  EXPECT_NE(rules.find("add table ip edgebed-services\ndelete table ip edgebed-services\n"), std::string::npos);
  EXPECT_NE(rules.find("10.43.0.20 . tcp . 1883 : goto svc-0"), std::string::npos) << rules;
  EXPECT_NE(rules.find("numgen random mod 2 vmap { 0 : goto svc-0-ep-0, 1 : goto svc-0-ep-1 }"), std::string::npos);
  EXPECT_NE(rules.find("meta l4proto tcp dnat to 10.42.1.12:1884"), std::string::npos);
  EXPECT_NE(rules.find("tcp . 31883 : goto node-svc-0"), std::string::npos);
  EXPECT_EQ(rules.find("mqtt-headless"), std::string::npos) << "a headless service has no rules";
}

// ---- in the kernel ---------------------------------------------------------------------


// A TCP server in a pod's namespace: answers each connection with its
// name and the address it saw the connection come from.
class PodServer {
 public:
  PodServer(std::string ns, std::string name, uint16_t port) : name_(std::move(name)) {
    thread_ = std::thread([this, ns, port] {
      const int fd = ::open(("/var/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) return;
      ::close(fd);
      const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      int one = 1;
      ::setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(port);
      if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(s, 64) != 0) return;
      listening_ = true;
      while (!stop_) {
        pollfd p{s, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        sockaddr_in peer{};
        socklen_t len = sizeof peer;
        const int c = ::accept(s, reinterpret_cast<sockaddr*>(&peer), &len);
        if (c < 0) continue;
        const std::string line = name_ + " " + FormatIpv4(ntohl(peer.sin_addr.s_addr)) + "\n";
        (void)!::write(c, line.data(), line.size());
        ::close(c);
      }
      ::close(s);
    });
    for (int i = 0; i < 100 && !listening_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ~PodServer() {
    stop_ = true;
    thread_.join();
  }
  bool listening() const { return listening_; }

 private:
  std::string name_;
  std::atomic<bool> stop_{false}, listening_{false};
  std::thread thread_;
};

// Connects from namespace `ns` and reads the answer: "pod1 10.42.1.20",
// or "refused" / "timeout" / "error N".
std::string Connect(const std::string& ns, const char* ip, uint16_t port) {
  return InNamespace(ns, [&]() -> std::string {
    const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(Ip(ip));
    std::string out;
    if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS) {
      out = errno == ECONNREFUSED ? "refused" : "error " + std::to_string(errno);
    } else {
      pollfd p{s, POLLIN, 0};
      const int n = ::poll(&p, 1, 2000);
      if (n == 0) {
        out = "timeout";
      } else {
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
          out = err == ECONNREFUSED ? "refused" : err == EHOSTUNREACH ? "unreachable" : "error " + std::to_string(err);
        } else {
          char buf[128];
          const ssize_t got = ::read(s, buf, sizeof buf);
          out = got > 0 ? std::string(buf, static_cast<size_t>(got) - 1) : "closed";
        }
      }
    }
    ::close(s);
    return out;
  });
}

// A node namespace with three pods on veth pairs: pod1 (10.42.1.11) and
// pod2 (10.42.1.12) serve on 1884, client (10.42.1.20) connects; the node
// holds 10.42.1.1 on its side of every pair, a /32 route to each pod, and
// a route for the service range (to a veth that leads nowhere, as a
// default route would take it off the node).
class KernelServices : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to make network namespaces and nftables rules";
    prefix_ = "ebsv" + std::to_string(::getpid()) + "-";
    if (Sh("ip netns add " + Ns("node")) != 0)
      GTEST_SKIP() << "cannot make network namespaces here (ip netns add failed)";
    made_.push_back(Ns("node"));
    bool ok = Sh("ip -n " + Ns("node") + " link set lo up") == 0 &&
              Sh("ip netns exec " + Ns("node") + " sysctl -qw net.ipv4.ip_forward=1") == 0 &&
              Sh("ip -n " + Ns("node") + " link add svc0 type veth peer name svc1") == 0 &&
              Sh("ip -n " + Ns("node") + " link set svc0 up") == 0 &&
              Sh("ip -n " + Ns("node") + " link set svc1 up") == 0 &&
              Sh("ip -n " + Ns("node") + " route add 10.43.0.0/16 dev svc0") == 0;
    int i = 0;
    for (const auto& [pod, ip] : std::map<std::string, std::string>{
             {"client", "10.42.1.20"}, {"pod1", "10.42.1.11"}, {"pod2", "10.42.1.12"}}) {
      const std::string ns = Ns(pod), host = "ebv" + std::to_string(::getpid() % 100000) + "-" + std::to_string(i++);
      ok = ok && Sh("ip netns add " + ns) == 0;
      if (ok) made_.push_back(ns);
      ok = ok && Sh("ip link add " + host + " netns " + Ns("node") + " type veth peer name eth0 netns " + ns) == 0 &&
           Sh("ip -n " + Ns("node") + " addr add 10.42.1.1/32 dev " + host) == 0 &&
           Sh("ip -n " + Ns("node") + " link set " + host + " up") == 0 &&
           Sh("ip -n " + Ns("node") + " route add " + ip + "/32 dev " + host) == 0 &&
           Sh("ip -n " + ns + " link set lo up") == 0 && Sh("ip -n " + ns + " addr add " + ip + "/32 dev eth0") == 0 &&
           Sh("ip -n " + ns + " link set eth0 up") == 0 &&
           Sh("ip -n " + ns + " route add 10.42.1.1/32 dev eth0") == 0 &&
           Sh("ip -n " + ns + " route add default via 10.42.1.1 dev eth0") == 0;
    }
    if (!ok) GTEST_SKIP() << "cannot wire veth pairs between network namespaces here";
    const Status probe = Apply(policy::ServiceTable());
    if (probe.code() == StatusCode::kUnavailable) GTEST_SKIP() << "nftables is not usable here: " << probe.ToString();
    ASSERT_TRUE(probe.ok()) << probe.ToString();
    pod1_ = std::make_unique<PodServer>(Ns("pod1"), "pod1", 1884);
    pod2_ = std::make_unique<PodServer>(Ns("pod2"), "pod2", 1884);
    ASSERT_TRUE(pod1_->listening() && pod2_->listening());
    ASSERT_EQ(Connect(Ns("client"), "10.42.1.11", 1884), "pod1 10.42.1.20") << "pods reach each other through the node";
  }

  void TearDown() override {
    pod1_.reset();
    pod2_.reset();
    for (const std::string& ns : made_) Sh("ip netns del " + ns);
  }

  std::string Ns(const std::string& name) const { return prefix_ + name; }

  Status Apply(const policy::ServiceTable& table) {
    const std::string rules = RenderServiceRules(table, {"edgebed-services", "node-a", 0x4000});
    return InNamespace(Ns("node"), [&] { return ApplyNft(rules); });
  }

  std::string prefix_;
  std::vector<std::string> made_;
  std::unique_ptr<PodServer> pod1_, pod2_;
};

TEST_F(KernelServices, AClusterIpReachesEachEndpointAndKeepsTheClientsAddress) {
  policy::ServiceTable table;
  table.Upsert(Broker());
  ASSERT_TRUE(Apply(table).ok()) << Apply(table).ToString();
  std::map<std::string, int> seen;
  for (int i = 0; i < 30; ++i) ++seen[Connect(Ns("client"), "10.43.0.20", 1883)];
  EXPECT_GT(seen["pod1 10.42.1.20"], 0) << ::testing::PrintToString(seen);
  EXPECT_GT(seen["pod2 10.42.1.20"], 0) << ::testing::PrintToString(seen);
  EXPECT_EQ(seen["pod1 10.42.1.20"] + seen["pod2 10.42.1.20"], 30) << ::testing::PrintToString(seen);
  // From the node itself (the output hook) too.
  const std::string from_node = Connect(Ns("node"), "10.43.0.20", 1883);
  EXPECT_TRUE(from_node.rfind("pod1 ", 0) == 0 || from_node.rfind("pod2 ", 0) == 0) << from_node;
  // A port the service does not serve, and a service with no endpoint, are refused.
  EXPECT_EQ(Connect(Ns("client"), "10.43.0.20", 22), "refused");
  policy::ServiceEntry empty = Broker();
  empty.ports[0].backends.clear();
  table.Upsert(empty);
  ASSERT_TRUE(Apply(table).ok());
  EXPECT_EQ(Connect(Ns("client"), "10.43.0.20", 1883), "refused");
  EXPECT_EQ(Connect(Ns("node"), "10.43.0.20", 1883), "refused");
  // Removed, the address is nobody's: nothing answers.
  table.Remove("building", "mqtt");
  ASSERT_TRUE(Apply(table).ok());
  const std::string gone = Connect(Ns("client"), "10.43.0.20", 1883);
  EXPECT_TRUE(gone == "timeout" || gone == "unreachable") << gone;
}

TEST_F(KernelServices, ClientIpAffinityKeepsAClientOnOneEndpoint) {
  policy::ServiceTable table;
  table.Upsert(Broker(/*affinity=*/true));
  ASSERT_TRUE(Apply(table).ok());
  std::set<std::string> seen;
  for (int i = 0; i < 12; ++i) seen.insert(Connect(Ns("client"), "10.43.0.20", 1883));
  EXPECT_EQ(seen.size(), 1u) << ::testing::PrintToString(seen);
}

TEST_F(KernelServices, ANodePortMasqueradesUnlessItsTrafficPolicyIsLocal) {
  policy::ServiceTable table;
  table.Upsert(Broker());
  ASSERT_TRUE(Apply(table).ok());
  std::set<std::string> seen;
  for (int i = 0; i < 20; ++i) seen.insert(Connect(Ns("client"), "10.42.1.1", 31883));
  EXPECT_EQ(seen, (std::set<std::string>{"pod1 10.42.1.1", "pod2 10.42.1.1"})) << "from the node's address";
  // Local: this node's endpoints only (pod1 is on node-a), from the client's own address.
  policy::ServiceEntry local = Broker();
  local.external_local = true;
  table.Upsert(local);
  ASSERT_TRUE(Apply(table).ok());
  seen.clear();
  for (int i = 0; i < 10; ++i) seen.insert(Connect(Ns("client"), "10.42.1.1", 31883));
  EXPECT_EQ(seen, (std::set<std::string>{"pod1 10.42.1.20"}));
  // A node port nobody here serves is refused.
  local.ports[0].backends.erase(local.ports[0].backends.begin());
  table.Upsert(local);
  ASSERT_TRUE(Apply(table).ok());
  EXPECT_EQ(Connect(Ns("client"), "10.42.1.1", 31883), "refused");
}

TEST_F(KernelServices, ARefusedRulesetChangesNothing) {
  policy::ServiceTable table;
  table.Upsert(Broker());
  ASSERT_TRUE(Apply(table).ok());
  const Status bad = InNamespace(Ns("node"), [] { return ApplyNft("table ip edgebed-services {\n  chain x {\n    nonsense\n  }\n}\n"); });
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument) << bad.ToString();
  const std::string still = Connect(Ns("client"), "10.43.0.20", 1883);
  EXPECT_TRUE(still.rfind("pod1 ", 0) == 0 || still.rfind("pod2 ", 0) == 0) << still;
}

}  // namespace
}  // namespace edgebed::host
