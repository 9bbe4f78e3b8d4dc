// A real cluster on one machine: `edgebed server` and three `edgebed agent`s,
// each node in its own network namespace joined by a bridge, running a
// cut-down smart building as processes in pod namespaces. Real TCP and UDP
// probes between the pods must be let through exactly where
// `edgebed policy matrix --live` says; an agent with a bad token is refused;
// a server killed and started again has lost nothing.
//
// Needs root, network namespaces and FUSE; skips, saying why, where it
// cannot have them. Every namespace, process and file it made goes, pass or fail.
// Addresses are 10.199.0.0/24 on the test's own bridge only.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <functional>
#include <future>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/host/volume_fs.h"
#include "tests/tools/process_util.h"
#include "tools/daemon_command.h"

namespace edgebed::tools {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

const std::string kBinDir = std::string(EDGEBED_BINARY_DIR) + "/tools";
const std::string kEdgebed = kBinDir + "/edgebed";

// The command line that runs edgebed inside a network namespace. It enters
// the namespace with nsenter, not `ip netns exec`, which would give it a
// mount namespace of its own: the pod namespaces an agent names under
// /run/netns, and the volumes it mounts, must be seen from outside, as on a
// real node.
std::vector<std::string> InNetns(const std::string& netns, std::vector<std::string> args) {
  std::vector<std::string> all{"nsenter", "--net=/run/netns/" + netns, kEdgebed};
  all.insert(all.end(), args.begin(), args.end());
  return all;
}

// The real-node smart building the README shows (scenarios/real-nodes/).
const std::string kSite = std::string(EDGEBED_SOURCE_DIR) + "/scenarios/real-nodes/smart-building.yaml";

struct Pod {
  std::string key, ip, node, netns;
};

class RealClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to make network namespaces";
    if (!fs::exists(kEdgebed)) GTEST_SKIP() << "the edgebed binary is not built at " << kEdgebed;
    if (Status fuse = host::VolumeFsMount::FuseAvailable(); !fuse.ok())
      GTEST_SKIP() << "the pods' volumes need FUSE here: " << fuse.ToString();
    prefix_ = "ebt" + std::to_string(::getpid() % 100000) + "-";
    dir_ = fs::temp_directory_path() / ("edgebed-real-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    if (Shell("ip netns add " + Ns("br")).exit_code != 0) {
      made_.push_back(Ns("br"));  // in case it half-exists
      GTEST_SKIP() << "cannot make network namespaces here (ip netns add failed)";
    }
    made_.push_back(Ns("br"));
    // The pods run the same binary: the agents find it on their PATH.
    const char* path = std::getenv("PATH");
    ::setenv("PATH", (kBinDir + ":" + (path ? path : "/usr/bin:/bin")).c_str(), 1);
    std::string script = "set -e\nip -n " + Ns("br") + " link add br0 type bridge\nip -n " + Ns("br") +
                         " link set br0 up\n";
    for (int i = 0; i <= 4; ++i) {
      const std::string ns = Ns("n" + std::to_string(i));
      made_.push_back(ns);
      script += "ip netns add " + ns + "\n";
      script += "ip -n " + ns + " link set lo up\n";
      script += "ip link add eth0 netns " + ns + " type veth peer name v" + std::to_string(i) + " netns " + Ns("br") + "\n";
      script += "ip -n " + Ns("br") + " link set v" + std::to_string(i) + " master br0 up\n";
      script += "ip -n " + ns + " addr add " + NodeIp(i) + "/24 dev eth0\n";
      script += "ip -n " + ns + " link set eth0 up\n";
    }
    const Outcome wired = Shell("sh -c '" + script + "'");
    ASSERT_EQ(wired.exit_code, 0) << wired.out;
  }

  void TearDown() override {
    agents_.clear();
    server_.reset();
    // Pods outlive their agent by design (a restarted agent adopts them): kill them here.
    std::set<std::string> pod_prefixes;
    for (int i = 1; i <= 4; ++i) {
      char p[16];
      std::snprintf(p, sizeof p, "eb%04x-", AgentNodeId(NodeName(i)) & 0xFFFF);
      pod_prefixes.insert(p);
    }
    const Outcome list = Shell("ip netns list");
    std::istringstream lines(list.out);
    for (std::string line; std::getline(lines, line);) {
      const std::string name = line.substr(0, line.find(' '));
      for (const std::string& p : pod_prefixes)
        if (name.rfind(p, 0) == 0) made_.push_back(name);
    }
    for (const std::string& ns : made_) {
      Shell("for p in $(ip netns pids " + ns + " 2>/dev/null); do kill -9 $p; done");
    }
    // Whatever still runs for one of this run's nodes, wherever it is.
    for (const auto& entry : fs::directory_iterator("/proc")) {
      const std::string pid = entry.path().filename().string();
      if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
      const std::string environ = ReadFile(entry.path() / "environ");
      if (environ.find("NODE_NAME=" + prefix_ + "node-") != std::string::npos) ::kill(std::stoi(pid), SIGKILL);
    }
    for (auto it = made_.rbegin(); it != made_.rend(); ++it) Shell("ip netns del " + *it);
    // Volume mounts whose agent died with them.
    if (!dir_.empty()) {
      std::istringstream mounts(ReadFile("/proc/mounts"));
      std::vector<std::string> ours;
      for (std::string line; std::getline(mounts, line);) {
        std::istringstream fields(line);
        std::string device, point;
        fields >> device >> point;
        if (point.rfind(dir_.string() + "/", 0) == 0) ours.push_back(point);
      }
      for (auto it = ours.rbegin(); it != ours.rend(); ++it) ::umount2(it->c_str(), MNT_DETACH);
      std::error_code ec;
      fs::remove_all(dir_, ec);
    }
  }

  std::string Ns(const std::string& what) const { return prefix_ + what; }
  static std::string NodeIp(int i) { return "10.199.0." + std::to_string(i + 1); }
  // Unique to this run, so that its pods' processes can be told by their NODE_NAME.
  std::string NodeName(int i) const { return prefix_ + "node-" + std::to_string(i); }
  std::string Config() const { return (dir_ / "server" / "admin.yaml").string(); }

  void StartServer(std::vector<std::string> extra = {}) {
    const size_t before = Count(ReadFile(dir_ / "server.log"), "serving on");
    std::vector<std::string> args{"server", "--data-dir", (dir_ / "server").string(), "--listen", NodeIp(0) + ":6443"};
    args.insert(args.end(), extra.begin(), extra.end());
    server_ = std::make_unique<Daemon>(InNetns(Ns("n0"), args), dir_ / "server.log");
    ASSERT_TRUE(WaitFor([&] { return Count(server_->log(), "serving on") > before; })) << server_->log();
  }
  Daemon& StartAgent(int i, const std::string& token, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"agent", "--server", NodeIp(0) + ":6443", "--token", token, "--data-dir",
                                  (dir_ / NodeName(i)).string(), "--node-name", NodeName(i), "--node-ip", NodeIp(i),
                                  "--labels", "floor=" + std::to_string(i), "--pools", "ssd=4Gi/high"};
    args.insert(args.end(), extra.begin(), extra.end());
    agents_.push_back(std::make_unique<Daemon>(InNetns(Ns("n" + std::to_string(i)), args), dir_ / (NodeName(i) + ".log")));
    return *agents_.back();
  }
  std::string Token() const {
    std::string t = ReadFile(dir_ / "server" / "token");
    while (!t.empty() && t.back() == '\n') t.pop_back();
    return t;
  }
  // Runs in the server's namespace: the API listens there.
  Outcome InServer(const std::string& args) const {
    return Shell("ip netns exec " + Ns("n0") + " " + kEdgebed + " " + args);
  }

  // The cluster's pods, with the namespaces they run in.
  std::vector<Pod> Pods() {
    std::vector<Pod> pods;
    const Outcome got = InServer("ctl --config " + Config() + " get pods -A -o json");
    if (got.exit_code != 0) return pods;
    json::value v;
    try {
      v = json::parse(got.out);
    } catch (const std::exception&) {
      return pods;
    }
    std::map<std::string, std::string> netns_of_ip;
    const Outcome list = Shell("ip netns list");
    std::istringstream lines(list.out);
    for (std::string line; std::getline(lines, line);) {
      const std::string name = line.substr(0, line.find(' '));
      if (name.rfind("eb", 0) != 0 || name.rfind(prefix_, 0) == 0) continue;
      const Outcome addr = Shell("ip -n " + name + " -4 -o addr show dev eth0");
      const size_t at = addr.out.find("inet ");
      if (at == std::string::npos) continue;
      const std::string ip = addr.out.substr(at + 5, addr.out.find('/', at) - at - 5);
      netns_of_ip[ip] = name;
    }
    for (const json::value& item : v.at("items").as_array()) {
      const json::object& meta = item.at("metadata").as_object();
      Pod p;
      p.key = std::string(meta.at("namespace").as_string()) + "/" + std::string(meta.at("name").as_string());
      p.node = std::string(item.at("spec").at("nodeName").as_string());
      p.ip = std::string(item.at("status").at("podIP").as_string());
      p.netns = netns_of_ip.count(p.ip) ? netns_of_ip[p.ip] : "";
      pods.push_back(p);
    }
    return pods;
  }

  std::string prefix_;
  fs::path dir_;
  std::vector<std::string> made_;
  std::unique_ptr<Daemon> server_;
  std::vector<std::unique_ptr<Daemon>> agents_;
};

TEST_F(RealClusterTest, PodsAsProcessesReachEachOtherExactlyAsPolicySays) {
  StartServer();
  for (int i = 1; i <= 3; ++i) StartAgent(i, Token());
  ASSERT_TRUE(WaitFor([&] {
    return Count(InServer("ctl --config " + Config() + " get nodes").out, "Ready") == 3;
  })) << InServer("ctl --config " + Config() + " get nodes").out;

  const Outcome applied = InServer("ctl --config " + Config() + " apply -f " + kSite);
  ASSERT_EQ(applied.exit_code, 0) << applied.out;
  ASSERT_TRUE(WaitFor([&] {
    const std::string pods = InServer("ctl --config " + Config() + " get pods -A").out;
    return Count(pods, "Running") == 6;
  })) << InServer("ctl --config " + Config() + " get pods -A").out << agents_[0]->log();

  std::vector<Pod> pods = Pods();
  ASSERT_EQ(pods.size(), 6u);
  std::set<std::string> nodes;
  for (const Pod& p : pods) {
    ASSERT_FALSE(p.netns.empty()) << p.key << " at " << p.ip << " runs in no namespace found among\n"
                                  << Shell("ip netns list").out;
    nodes.insert(p.node);
    // A process of the pod really runs in it.
    EXPECT_FALSE(Shell("ip netns pids " + p.netns).out.empty()) << p.key;
  }
  EXPECT_GE(nodes.size(), 2u) << "the pods should spread over the nodes";

  // What the policy says, for each destination port, from the live cluster.
  struct Port {
    int number;
    const char* proto;
    const char* serving_app;  // whose pods listen on it
  };
  const std::vector<Port> ports = {{1883, "tcp", "mqtt-broker"}, {8080, "tcp", "display"}, {8081, "udp", "display"}};
  int allowed = 0, denied = 0;
  for (const Port& port : ports) {
    const Outcome matrix = InServer("policy matrix --live --config " + Config() + " --port " +
                                    std::to_string(port.number) + " --protocol " + (port.proto[0] == 't' ? "TCP" : "UDP"));
    ASSERT_EQ(matrix.exit_code, 0) << matrix.out;
    std::istringstream rows(matrix.out);
    std::string header;
    std::getline(rows, header);
    std::vector<std::string> columns;
    {
      std::istringstream h(header);
      for (std::string c; std::getline(h, c, '\t');) columns.push_back(c);
    }
    std::map<std::pair<std::string, std::string>, bool> expected;
    for (std::string row; std::getline(rows, row);) {
      std::istringstream r(row);
      std::string src, cell;
      std::getline(r, src, '\t');
      for (size_t c = 1; std::getline(r, cell, '\t'); ++c) expected[{src, columns[c]}] = cell == ".";
    }
    // Every probe at once: a denied one waits out its timeout.
    struct Probe {
      std::string src, dst;
      bool want;
      std::future<Outcome> got;
    };
    std::vector<Probe> probes;
    for (const Pod& src : pods) {
      for (const Pod& dst : pods) {
        if (src.key == dst.key) continue;
        const std::string dst_name = dst.key.substr(dst.key.find('/') + 1);
        if (dst_name.rfind(std::string(port.serving_app) + "-", 0) != 0) continue;
        auto want = expected.find({src.key, dst.key});
        ASSERT_NE(want, expected.end()) << src.key << " -> " << dst.key << " not in the matrix:\n" << matrix.out;
        const std::string command = "ip netns exec " + src.netns + " " + kEdgebed + " workload probe --to " + dst.ip +
                                    ":" + std::to_string(port.number) + " --proto " + port.proto +
                                    " --count 2 --timeout 1500 --interval 100";
        probes.push_back({src.key, dst.key, want->second, std::async(std::launch::async, Shell, command)});
      }
    }
    for (Probe& p : probes) {
      const Outcome o = p.got.get();
      const bool got = o.exit_code == 0;
      EXPECT_EQ(got, p.want) << p.src << " -> " << p.dst << ":" << port.number << "/" << port.proto
                             << (p.want ? " should get through" : " should be refused") << "\n"
                             << o.out;
      (p.want ? allowed : denied)++;
    }
  }
  // The policy must have cut something and let something through, or this proves nothing.
  std::cout << "probes between pod namespaces: " << allowed << " allowed, " << denied << " denied, as the matrix said\n";
  EXPECT_GT(allowed, 0);
  EXPECT_GT(denied, 0);
  // The kernel holds the rules: one policy table per node with local pods,
  // and `edgebed policy rules` shows it, each rule naming its policy.
  for (const std::string& node : nodes) {
    const int i = node.back() - '0';
    const Outcome rules = Shell("ip netns exec " + Ns("n" + std::to_string(i)) + " " + kEdgebed + " policy rules");
    EXPECT_EQ(rules.exit_code, 0) << node << ": " << rules.out;
    EXPECT_TRUE(rules.out.find("isolate-floor") != std::string::npos ||
                rules.out.find("broker-from-onboarded-floors") != std::string::npos)
        << node << ": " << rules.out;
  }
  // The sensors publish through the broker's Service (a ClusterIP, DNATed by
  // the node's nftables before policy judges the broker's own address): an
  // onboarded floor's readings reach the broker's volume, the other floor's
  // are refused.
  const Pod* broker = nullptr;
  for (const Pod& p : pods)
    if (p.key.rfind("building-services/mqtt-broker-", 0) == 0) broker = &p;
  ASSERT_NE(broker, nullptr);
  const fs::path store = dir_ / broker->node / "pods" / ("building-services_" + broker->key.substr(18)) / "volumes" /
                         "broker-data" / "messages.log";
  ASSERT_TRUE(WaitFor([&] {
    const std::string log = ReadFile(store);
    for (const Pod& p : pods)
      if (p.key.rfind("floor-1/sensor-", 0) == 0 && log.find("from=" + p.key.substr(8)) == std::string::npos)
        return false;
    return true;
  })) << store << ":\n" << ReadFile(store).substr(0, 2000);
  const std::string stored = ReadFile(store);
  for (const Pod& p : pods) {
    if (p.key.rfind("floor-2/sensor-", 0) != 0) continue;
    EXPECT_EQ(stored.find("from=" + p.key.substr(8)), std::string::npos) << p.key << " got through to the broker";
    const fs::path log = dir_ / p.node / "pods" / ("floor-2_" + p.key.substr(8)) / "sensor.log";
    EXPECT_TRUE(WaitFor([&] { return ReadFile(log).find("cannot reach the broker 10.43.0.10:1883") != std::string::npos; }))
        << log << ":\n" << ReadFile(log);
  }

  // An agent with the wrong secret is refused, and the server says so.
  const std::string token = Token();
  Daemon& intruder = StartAgent(4, token.substr(0, token.find("::server:") + 9) + "wrong");
  ASSERT_TRUE(WaitFor([&] { return server_->log().find("did not prove the cluster secret") != std::string::npos; }))
      << server_->log();
  (void)intruder;
  EXPECT_EQ(InServer("ctl --config " + Config() + " get nodes").out.find(NodeName(4)), std::string::npos);

  // The server dies and comes back: nothing is lost, the pods never stopped.
  const std::string before = InServer("ctl --config " + Config() + " get pods -A -o json").out;
  server_->Stop(SIGKILL);
  StartServer();
  EXPECT_EQ(InServer("ctl --config " + Config() + " get pods -A -o json").out, before);
  ASSERT_TRUE(WaitFor([&] {
    return Count(InServer("ctl --config " + Config() + " get nodes").out, "Ready") == 3;
  }));
  for (const Pod& p : Pods()) EXPECT_FALSE(Shell("ip netns pids " + p.netns).out.empty()) << p.key;
}

constexpr const char* kRecorder = R"(apiVersion: v1
kind: Namespace
metadata: {name: floor-1}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: px-replicated}
provisioner: pxd.portworx.com
parameters: {repl: "3", priority_io: "high"}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: recordings, namespace: floor-1}
spec:
  storageClassName: px-replicated
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 16Mi}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: recorder, namespace: floor-1}
spec:
  replicas: 1
  selector: {matchLabels: {app: recorder}}
  template:
    metadata: {labels: {app: recorder}}
    spec:
      tolerations:
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 1}
      containers:
      - name: recorder
        image: edgebed/recorder
        command: ["sh", "-c", "echo started > $EDGEBED_VOLUME_RECORDINGS/started-$POD_NAME; sync; exec sleep 3600"]
        resources: {requests: {cpu: 100m, memory: 32Mi}}
      volumes:
      - name: data
        persistentVolumeClaim: {claimName: recordings}
)";

TEST_F(RealClusterTest, AVolumeWrittenThroughItsMountSurvivesKillingItsNode) {
  StartServer({"--node-monitor-grace-period", "4s"});
  for (int i = 1; i <= 3; ++i) StartAgent(i, Token(), {"--node-status-update-frequency", "1s"});
  const std::string ctl = "ctl --config " + Config() + " ";
  ASSERT_TRUE(WaitFor([&] { return Count(InServer(ctl + "get nodes").out, "Ready") == 3; }));
  std::ofstream(dir_ / "recorder.yaml") << kRecorder;
  ASSERT_EQ(InServer(ctl + "apply -f " + (dir_ / "recorder.yaml").string()).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return Count(InServer(ctl + "get pods -n floor-1").out, "Running") == 1; }))
      << InServer(ctl + "get pods -n floor-1").out;
  std::vector<Pod> pods = Pods();
  ASSERT_EQ(pods.size(), 1u);
  const Pod first = pods[0];
  const int node = first.node.back() - '0';
  const std::string pod_name = first.key.substr(first.key.find('/') + 1);
  const fs::path mount = dir_ / NodeName(node) / "pods" / ("floor-1_" + pod_name) / "volumes" / "recordings";
  // The pod wrote through its mount; now a person does too, and syncs.
  ASSERT_TRUE(WaitFor([&] { return fs::exists(mount / ("started-" + pod_name)); })) << mount;
  EXPECT_NE(Shell("mount").out.find(mount.string()), std::string::npos) << "the volume is not a mounted filesystem";
  std::string payload;
  for (int i = 0; i < 20000; ++i) payload += "reading " + std::to_string(i) + "\n";
  {
    std::error_code ec;
    fs::create_directories(mount / "floor-1", ec);
    ASSERT_FALSE(ec) << ec.message() << "\n" << agents_[node - 1]->log();
    const std::string file = (mount / "floor-1" / "readings.log").string();
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0) << std::strerror(errno) << "\n" << agents_[node - 1]->log();
    ASSERT_EQ(::write(fd, payload.data(), payload.size()), static_cast<ssize_t>(payload.size()))
        << std::strerror(errno) << "\n" << agents_[node - 1]->log();
    ASSERT_EQ(::fsync(fd), 0) << std::strerror(errno);  // durable on the replicas once this returns
    ::close(fd);
  }
  // Every replica in sync (one that fell behind under load is resynced).
  EXPECT_TRUE(WaitFor([&] { return InServer(ctl + "get volumes -n floor-1").out.find("Healthy") != std::string::npos; }))
      << InServer(ctl + "get volumes -n floor-1").out;

  // The pod's node dies; its agent with it (and the mount it served).
  agents_[node - 1]->Stop(SIGKILL);
  std::string moved_to;
  std::string new_name;
  ASSERT_TRUE(WaitFor([&] {
    for (const Pod& p : Pods()) {
      if (p.node != first.node && !p.netns.empty()) {
        moved_to = p.node;
        new_name = p.key.substr(p.key.find('/') + 1);
        return Count(InServer(ctl + "get pods -n floor-1").out, "Running") >= 1;
      }
    }
    return false;
  }, 60s)) << InServer(ctl + "get pods -n floor-1").out << InServer(ctl + "get volumes -n floor-1").out
           << server_->log().substr(server_->log().size() > 3000 ? server_->log().size() - 3000 : 0);
  const int new_node = moved_to.back() - '0';
  const fs::path new_mount = dir_ / NodeName(new_node) / "pods" / ("floor-1_" + new_name) / "volumes" / "recordings";
  ASSERT_TRUE(WaitFor([&] { return fs::exists(new_mount / ("started-" + new_name)); }, 30s))
      << new_mount << "\n" << agents_[new_node - 1]->log();
  // Everything written and synced before the crash is there, byte for byte.
  EXPECT_EQ(ReadFile(new_mount / "floor-1" / "readings.log"), payload);
  EXPECT_TRUE(fs::exists(new_mount / ("started-" + pod_name)));
  const std::string volumes_after = InServer(ctl + "get volumes -n floor-1").out;
  EXPECT_NE(volumes_after.find(moved_to), std::string::npos) << volumes_after;

  // The dead node's agent starts again on its data dir: it rejoins, and its
  // replica, recovered from its files, is brought back in sync.
  StartAgent(node, Token(), {"--node-status-update-frequency", "1s"});
  EXPECT_TRUE(WaitFor([&] { return Count(InServer(ctl + "get nodes").out, "Ready") == 3; }, 30s))
      << InServer(ctl + "get nodes").out;
  EXPECT_TRUE(WaitFor([&] { return InServer(ctl + "get volumes -n floor-1").out.find("Healthy") != std::string::npos; },
                      30s))
      << InServer(ctl + "get volumes -n floor-1").out << agents_.back()->log();
  // What the evicted pod left on it goes: its processes, and the mount that died with the old agent.
  EXPECT_TRUE(WaitFor([&] { return ReadFile("/proc/mounts").find(mount.string()) == std::string::npos; }, 10s))
      << mount << " is still mounted";
  EXPECT_FALSE(fs::exists(mount.parent_path().parent_path()));
}

}  // namespace
}  // namespace edgebed::tools
