// Pods as processes on a real node: a "node" network namespace made for the
// test, the ProcessRuntime running on a thread inside it, and pods running
// `edgebed workload serve|probe` in namespaces of their own, talking real
// TCP and UDP through the node. Needs root and network namespaces; skips,
// saying why, where it cannot make them. Every namespace, process and file
// it made is removed, pass or fail.
#include "core/host/process_runtime.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio.hpp>

namespace edgebed::host {
namespace {

namespace fs = std::filesystem;
using cluster::PodPhase;
using cluster::PodReport;
using cluster::PodRun;

const std::string kEdgebed = std::string(EDGEBED_BINARY_DIR) + "/tools/edgebed";

int Sh(const std::string& cmd) {
  const int rc = std::system((cmd + " >/dev/null 2>&1").c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

std::string Output(const std::string& cmd) {
  std::string out;
  if (FILE* f = ::popen((cmd + " 2>&1").c_str(), "r")) {
    char buf[512];
    while (size_t n = std::fread(buf, 1, sizeof buf, f)) out.append(buf, n);
    ::pclose(f);
  }
  return out;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Processes in group `pgid` that are not zombies.
int LiveInGroup(pid_t pgid) {
  std::istringstream ps(Output("ps -eo pgid=,stat="));
  int live = 0;
  for (std::string group, stat; ps >> group >> stat;)
    if (std::atoi(group.c_str()) == pgid && stat[0] != 'Z') ++live;
  return live;
}

bool Eventually(const std::function<bool()>& done, std::chrono::milliseconds limit = std::chrono::seconds(8)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return done();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// The node: a thread inside the node's network namespace running an
// io_context, as the agent's one thread would.
class NodeThread {
 public:
  bool Start(const std::string& netns) {
    std::promise<bool> entered;
    auto future = entered.get_future();
    thread_ = std::thread([this, netns, &entered] {
      const int fd = ::open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
      const bool ok = fd >= 0 && ::setns(fd, CLONE_NEWNET) == 0;
      if (fd >= 0) ::close(fd);
      entered.set_value(ok);
      if (ok) io_.run();
    });
    return future.get();
  }
  ~NodeThread() { Join(); }
  void Join() {
    guard_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }
  // Runs `fn` on the node's thread and returns what it returned.
  template <typename Fn>
  auto Do(Fn fn) -> decltype(fn()) {
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto future = task.get_future();
    boost::asio::post(io_, [&task] { task(); });
    return future.get();
  }
  boost::asio::io_context& io() { return io_; }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_ =
      boost::asio::make_work_guard(io_);
  std::thread thread_;
};

model::Container Container(const std::string& name, std::vector<std::string> command) {
  model::Container c;
  c.name = name;
  c.image = "edgebed";
  c.command = std::move(command);
  return c;
}

PodRun MakePod(const std::string& name, const std::string& ip, std::vector<model::Container> containers,
               const std::string& restart_policy = "Always") {
  PodRun run;
  run.pod.meta.name = name;
  run.pod.meta.namespace_ = "demo";
  run.pod.spec.node_name = "node-a";
  run.pod.spec.restart_policy = restart_policy;
  run.pod.spec.containers = std::move(containers);
  run.pod.pod_ips = {ip};
  return run;
}

PodRun Server(const std::string& name, const std::string& ip) {
  return MakePod(name, ip, {Container("serve", {kEdgebed, "workload", "serve", "--tcp", "8080,8081", "--udp", "9090"})});
}

PodRun Prober(const std::string& name, const std::string& ip, const std::string& to, const std::string& proto) {
  return MakePod(name, ip,
                 {Container("probe", {kEdgebed, "workload", "probe", "--to", to, "--proto", proto, "--count", "3",
                                      "--interval", "50", "--timeout", "1000"})},
                 "Never");
}

class ProcessRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to make network namespaces, veth pairs and routes";
    if (::access(kEdgebed.c_str(), X_OK) != 0) GTEST_SKIP() << "the edgebed binary is not built at " << kEdgebed;
    const std::string id = std::to_string(::getpid() % 100000);
    node_ns_ = "ebpn" + id;
    prefix_ = "ebpt" + id + "-";
    if (Sh("ip netns add " + node_ns_) != 0) GTEST_SKIP() << "cannot make network namespaces here (ip netns add failed)";
    made_node_ = true;
    // A node with an uplink and an address of its own, as real nodes have.
    if (Sh("ip -n " + node_ns_ + " link set lo up") != 0 ||
        Sh("ip -n " + node_ns_ + " link add name uplink0 type veth peer name uplink1") != 0 ||
        Sh("ip -n " + node_ns_ + " addr add 10.99.0.1/24 dev uplink0") != 0 ||
        Sh("ip -n " + node_ns_ + " link set uplink0 up") != 0 || Sh("ip -n " + node_ns_ + " link set uplink1 up") != 0)
      GTEST_SKIP() << "cannot set up links in a network namespace here";
    data_dir_ = (fs::temp_directory_path() /
                 ("edgebed-proc-" + id + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name()))
                    .string();
    fs::remove_all(data_dir_);
    node_ = std::make_unique<NodeThread>();
    if (!node_->Start(node_ns_)) GTEST_SKIP() << "cannot enter the node's network namespace (setns failed)";
    runtime_ = MakeRuntime();
    ASSERT_NE(runtime_, nullptr);
  }

  void TearDown() override {
    if (node_ && runtime_) {
      std::atomic<bool> stopped{false};
      node_->Do([&] {
        runtime_->StopAll([&] { stopped = true; });
        return 0;
      });
      Eventually([&] { return stopped.load(); }, std::chrono::seconds(10));
      node_->Do([&] {
        runtime_.reset();
        return 0;
      });
    }
    if (node_) node_->Join();
    node_.reset();
    // Whatever is left (a failed assertion, a stop that did not finish):
    // every process in one of our namespaces, then the namespaces.
    for (const std::string& ns : OurNetns()) {
      std::istringstream pids(Output("ip netns pids " + ns));
      for (std::string pid; pids >> pid;) ::kill(std::atoi(pid.c_str()), SIGKILL);
      Sh("ip netns del " + ns);
    }
    if (made_node_) Sh("ip netns del " + node_ns_);
    if (!data_dir_.empty()) fs::remove_all(data_dir_);
  }

  std::unique_ptr<ProcessRuntime> MakeRuntime() {
    return node_->Do([this]() -> std::unique_ptr<ProcessRuntime> {
      ProcessRuntimeOptions o;
      o.data_dir = data_dir_;
      o.netns_prefix = prefix_;
      o.node_name = "node-a";
      o.grace_period = std::chrono::milliseconds(300);
      o.backoff_initial = std::chrono::milliseconds(100);
      o.backoff_max = std::chrono::milliseconds(400);
      if (mount_volume_) o.mount_volume = [this](const PodRun& run, const cluster::VolumeMount& v,
                                                 ProcessRuntimeOptions::MountDone done) {
        StatusOr<std::string> r = mount_volume_(run, v);
        boost::asio::post(node_->io(), [r, done] { done(r); });  // later, as a real mount answers
      };
      o.unmount_volume = [this](const PodRun&, const cluster::VolumeMount& v, const std::string& dir,
                                std::function<void()> done) {
        {
          std::lock_guard<std::mutex> lock(mu_);
          unmounted_.push_back(v.claim + " " + dir);
        }
        boost::asio::post(node_->io(), done);
      };
      if (tweak_) tweak_(o);
      auto r = ProcessRuntime::Create(node_->io(), o);
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      if (!r.ok()) return nullptr;
      (*r)->SetReporter([this](const std::string& key, const PodReport& report) {
        std::lock_guard<std::mutex> lock(mu_);
        reports_.emplace_back(key, report);
      });
      return std::move(*r);
    });
  }

  // The namespaces under our prefix that `ip netns` lists.
  std::vector<std::string> OurNetns() {
    std::vector<std::string> out;
    if (prefix_.empty()) return out;  // never everyone's
    std::istringstream list(Output("ip netns list"));
    for (std::string line; std::getline(list, line);) {
      const std::string name = line.substr(0, line.find(' '));
      if (name.rfind(prefix_, 0) == 0) out.push_back(name);
    }
    return out;
  }

  void Start(const PodRun& run) {
    node_->Do([&] {
      runtime_->Start(run);
      return 0;
    });
  }
  std::optional<ProcessPodStatus> Status(const std::string& key) {
    return node_->Do([&] { return runtime_->status(key); });
  }
  std::vector<PodReport> Reports(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<PodReport> out;
    for (const auto& kr : reports_)
      if (kr.first == key) out.push_back(kr.second);
    return out;
  }
  std::optional<PodReport> Last(const std::string& key) {
    auto all = Reports(key);
    if (all.empty()) return std::nullopt;
    return all.back();
  }
  bool WaitFor(const std::string& key, PodPhase phase, const std::string& reason = "",
               std::chrono::milliseconds limit = std::chrono::seconds(8)) {
    return Eventually(
        [&] {
          auto last = Last(key);
          return last && last->phase == phase && (reason.empty() || last->reason == reason);
        },
        limit);
  }
  std::string Describe(const std::string& key) {
    std::ostringstream out;
    for (const PodReport& r : Reports(key))
      out << cluster::PodPhaseName(r.phase) << "/" << r.reason << "/" << r.restarts << " ";
    if (auto s = Status(key)) {
      out << "message: " << s->message << "; network.log: " << ReadFile(s->dir + "/network.log");
      for (const auto& c : s->containers) out << "; " << c.name << ".log: " << ReadFile(c.log_path);
    }
    return out.str();
  }
  bool Stop(const std::string& key) {
    std::atomic<bool> done{false};
    node_->Do([&] {
      runtime_->Stop(key, [&] { done = true; });
      return 0;
    });
    return Eventually([&] { return done.load(); }, std::chrono::seconds(10));
  }
  // Runs `edgebed workload probe` in a pod's namespace; its exit code.
  int ProbeFrom(const std::string& netns, const std::string& to, const std::string& proto) {
    return Sh("ip netns exec " + netns + " " + kEdgebed + " workload probe --to " + to + " --proto " + proto +
              " --count 1 --timeout 1000");
  }

  std::string node_ns_, prefix_, data_dir_;
  bool made_node_ = false;
  std::unique_ptr<NodeThread> node_;
  std::unique_ptr<ProcessRuntime> runtime_;
  std::function<StatusOr<std::string>(const PodRun&, const cluster::VolumeMount&)> mount_volume_;
  std::function<void(ProcessRuntimeOptions&)> tweak_;
  std::mutex mu_;
  std::vector<std::pair<std::string, PodReport>> reports_;
  std::vector<std::string> unmounted_;
};

TEST_F(ProcessRuntimeTest, PodsReachEachOtherOverTcpAndUdpThroughTheNode) {
  Start(Server("web1", "10.42.1.11"));
  Start(Server("web2", "10.42.1.12"));
  ASSERT_TRUE(WaitFor("demo/web1", PodPhase::kRunning, "Started")) << Describe("demo/web1");
  ASSERT_TRUE(WaitFor("demo/web2", PodPhase::kRunning, "Started")) << Describe("demo/web2");
  EXPECT_EQ(Reports("demo/web1").front().reason, "ContainerCreating");

  // The pod's network as Calico makes it, visible to `ip netns`.
  const auto web1 = Status("demo/web1");
  ASSERT_TRUE(web1.has_value());
  EXPECT_NE(Output("ip netns list").find(web1->netns), std::string::npos);
  EXPECT_NE(Output("ip -n " + web1->netns + " addr show eth0").find("10.42.1.11/32"), std::string::npos);
  EXPECT_NE(Output("ip -n " + web1->netns + " route").find("default via 169.254.1.1 dev eth0 onlink"), std::string::npos);
  EXPECT_NE(Output("ip -n " + node_ns_ + " route").find("10.42.1.11 dev " + web1->host_veth), std::string::npos);
  EXPECT_EQ(Output("ip netns exec " + node_ns_ + " cat /proc/sys/net/ipv4/conf/" + web1->host_veth + "/proxy_arp"), "1\n");
  EXPECT_EQ(Output("ip netns exec " + node_ns_ + " cat /proc/sys/net/ipv4/ip_forward"), "1\n");

  // Pods as clients, run by the runtime: TCP to web1, UDP to web2, and a port nobody serves.
  Start(Prober("probe-tcp", "10.42.1.20", "10.42.1.11:8081", "tcp"));
  Start(Prober("probe-udp", "10.42.1.21", "10.42.1.12:9090", "udp"));
  Start(Prober("probe-closed", "10.42.1.22", "10.42.1.11:7777", "tcp"));
  ASSERT_TRUE(WaitFor("demo/probe-tcp", PodPhase::kSucceeded, "Completed")) << Describe("demo/probe-tcp");
  ASSERT_TRUE(WaitFor("demo/probe-udp", PodPhase::kSucceeded, "Completed")) << Describe("demo/probe-udp");
  ASSERT_TRUE(WaitFor("demo/probe-closed", PodPhase::kFailed, "Error")) << Describe("demo/probe-closed");
  const std::string tcp_log = ReadFile(Status("demo/probe-tcp")->containers[0].log_path);
  EXPECT_NE(tcp_log.find("attempt 3 ok rtt="), std::string::npos) << tcp_log;
  EXPECT_NE(tcp_log.find("reply=web1 probe 1 from probe-tcp"), std::string::npos) << tcp_log;
  EXPECT_NE(ReadFile(Status("demo/probe-closed")->containers[0].log_path).find("attempt 1 refused"), std::string::npos);
  EXPECT_EQ(Status("demo/probe-closed")->containers[0].last_exit_code, std::optional<int>(1));

  // And from the test, in web2's namespace.
  const auto web2 = Status("demo/web2");
  EXPECT_EQ(ProbeFrom(web2->netns, "10.42.1.11:8080", "tcp"), 0);
  EXPECT_EQ(ProbeFrom(web2->netns, "10.42.1.11:9090", "udp"), 0);
  EXPECT_EQ(ProbeFrom(web2->netns, "10.42.1.11:9999", "udp"), 1) << "a closed UDP port answers unreachable";
}

TEST_F(ProcessRuntimeTest, RestartPoliciesAsTheKubelet) {
  Start(MakePod("crash", "10.42.2.1", {Container("c", {"/bin/sh", "-c", "exit 1"})}, "OnFailure"));
  Start(MakePod("never", "10.42.2.2", {Container("c", {"/bin/sh", "-c", "exit 3"})}, "Never"));
  Start(MakePod("always", "10.42.2.3", {Container("c", {"/bin/sh", "-c", "exit 0"})}, "Always"));
  Start(MakePod("done", "10.42.2.4", {Container("c", {"sh", "-c", "test \"$POD_NAME/$POD_IP/$NODE_NAME\" = done/10.42.2.4/node-a"})},
                "OnFailure"));
  Start(MakePod("nocommand", "10.42.2.5", {Container("c", {})}));
  Start(MakePod("noexec", "10.42.2.6", {Container("c", {"/nonexistent/program"})}));

  // OnFailure: restarted after each failure, the count rising.
  ASSERT_TRUE(Eventually([&] {
    auto last = Last("demo/crash");
    return last && last->restarts >= 3;
  })) << Describe("demo/crash");
  bool backed_off = false;
  for (const PodReport& r : Reports("demo/crash")) backed_off = backed_off || r.reason == "CrashLoopBackOff";
  EXPECT_TRUE(backed_off) << Describe("demo/crash");
  // Never: fails with the exit code.
  ASSERT_TRUE(WaitFor("demo/never", PodPhase::kFailed, "Error")) << Describe("demo/never");
  EXPECT_EQ(Status("demo/never")->containers[0].last_exit_code, std::optional<int>(3));
  EXPECT_EQ(Last("demo/never")->exit_code, 3);  // and the server hears it
  EXPECT_EQ(Last("demo/never")->restarts, 0u);
  // Always: even exit 0 is restarted.
  ASSERT_TRUE(Eventually([&] {
    auto last = Last("demo/always");
    return last && last->restarts >= 2 && last->phase == PodPhase::kRunning;
  })) << Describe("demo/always");
  // OnFailure and exit 0 (the env it checks was right): done.
  ASSERT_TRUE(WaitFor("demo/done", PodPhase::kSucceeded, "Completed")) << Describe("demo/done");
  // Nothing to run, or nothing there to exec: failures that say why.
  ASSERT_TRUE(WaitFor("demo/nocommand", PodPhase::kFailed, "CreateContainerConfigError")) << Describe("demo/nocommand");
  EXPECT_NE(Status("demo/nocommand")->message.find("command"), std::string::npos);
  ASSERT_TRUE(WaitFor("demo/noexec", PodPhase::kFailed, "StartError")) << Describe("demo/noexec");
  EXPECT_NE(Status("demo/noexec")->message.find("/nonexistent/program"), std::string::npos);
}

TEST_F(ProcessRuntimeTest, StopKillsTheTreeAndRemovesTheNetwork) {
  // A shell that ignores SIGTERM (so SIGKILL must come), with children of its own.
  Start(MakePod("tree", "10.42.3.1",
                {Container("c", {"/bin/sh", "-c", "trap '' TERM; sleep 1000 & sleep 1000 & while :; do sleep 0.1; done"})}));
  ASSERT_TRUE(WaitFor("demo/tree", PodPhase::kRunning, "Started")) << Describe("demo/tree");
  const auto s = Status("demo/tree");
  ASSERT_TRUE(s && s->containers[0].pid > 0);
  const pid_t pgid = s->containers[0].pid;
  ASSERT_TRUE(Eventually([&] { return LiveInGroup(pgid) >= 3; })) << "the shell and its two sleeps";
  const size_t reports_before = Reports("demo/tree").size();

  ASSERT_TRUE(Stop("demo/tree"));
  EXPECT_EQ(LiveInGroup(pgid), 0) << "every process of the pod's group is gone (zombies aside, which init reaps)";
  EXPECT_EQ(Output("ip netns list").find(s->netns), std::string::npos);
  EXPECT_NE(Sh("ip -n " + node_ns_ + " link show " + s->host_veth), 0);
  EXPECT_EQ(Output("ip -n " + node_ns_ + " route").find("10.42.3.1"), std::string::npos);
  EXPECT_FALSE(fs::exists(s->dir));
  EXPECT_FALSE(Status("demo/tree").has_value());
  EXPECT_EQ(Reports("demo/tree").size(), reports_before) << "no report follows a stop";
  EXPECT_TRUE(Stop("demo/tree")) << "a second stop is harmless";

  // The same pod again, at once: it gets a fresh network and runs.
  Start(Server("tree", "10.42.3.1"));
  ASSERT_TRUE(WaitFor("demo/tree", PodPhase::kRunning, "Started")) << Describe("demo/tree");
}

TEST_F(ProcessRuntimeTest, ANewRuntimeAdoptsRunningPodsAndCleansUpTheRest) {
  cluster::VolumeMount volume;
  volume.claim = "sensor-data";
  volume.volume = "demo/sensor-data";
  const std::string volume_dir = data_dir_ + "-volume";
  fs::create_directories(volume_dir);
  mount_volume_ = [volume_dir](const PodRun&, const cluster::VolumeMount&) -> StatusOr<std::string> { return volume_dir; };
  node_->Do([&] {
    runtime_.reset();
    return 0;
  });
  runtime_ = MakeRuntime();

  PodRun broker = MakePod("broker", "10.42.4.1",
                          {Container("b", {kEdgebed, "workload", "broker", "--listen", "1883", "--store",
                                           "$(EDGEBED_VOLUME_SENSOR_DATA)"})});
  broker.volumes = {volume};
  Start(broker);
  Start(Server("old", "10.42.4.2"));
  ASSERT_TRUE(WaitFor("demo/broker", PodPhase::kRunning, "Started")) << Describe("demo/broker");
  ASSERT_TRUE(WaitFor("demo/old", PodPhase::kRunning, "Started")) << Describe("demo/old");
  const auto before = Status("demo/broker");
  const auto old = Status("demo/old");

  // The agent goes away; its pods stay.
  node_->Do([&] {
    runtime_.reset();
    return 0;
  });
  ASSERT_EQ(::kill(before->containers[0].pid, 0), 0);
  runtime_ = MakeRuntime();
  Start(broker);
  ASSERT_TRUE(WaitFor("demo/broker", PodPhase::kRunning, "Started")) << Describe("demo/broker");
  const auto after = Status("demo/broker");
  EXPECT_EQ(after->containers[0].pid, before->containers[0].pid);
  EXPECT_TRUE(after->containers[0].adopted);

  // The adopted broker still works: a sensor publishes to it, it stores to the volume.
  PodRun sensor = MakePod("sensor", "10.42.4.3",
                          {Container("s", {kEdgebed, "workload", "sensor", "--broker", "10.42.4.1:1883", "--topic",
                                           "floor1/temp", "--interval", "20", "--count", "5"})},
                          "OnFailure");
  Start(sensor);
  ASSERT_TRUE(WaitFor("demo/sensor", PodPhase::kSucceeded, "Completed")) << Describe("demo/sensor");
  EXPECT_TRUE(Eventually([&] {
    return ReadFile(volume_dir + "/messages.log").find("PUB floor1/temp seq=5") != std::string::npos;
  })) << ReadFile(volume_dir + "/messages.log");

  // It counts what it got, as a client asks it.
  const std::string stats = Output("ip netns exec " + Status("demo/sensor")->netns +
                                   " bash -c 'exec 3<>/dev/tcp/10.42.4.1/1883; echo STATS >&3; head -1 <&3'");
  EXPECT_EQ(stats, "STATS floor1/temp=5\n");

  // Its exit is still seen, though it is no child of this runtime.
  ::kill(after->containers[0].pid, SIGKILL);
  ASSERT_TRUE(Eventually([&] {
    auto last = Last("demo/broker");
    return last && last->restarts >= 1;
  })) << Describe("demo/broker");

  // "old" was not given again: Cleanup removes it, processes and network.
  std::atomic<bool> cleaned{false};
  node_->Do([&] {
    runtime_->Cleanup({"demo/broker", "demo/sensor"}, [&] { cleaned = true; });
    return 0;
  });
  ASSERT_TRUE(Eventually([&] { return cleaned.load(); }, std::chrono::seconds(10)));
  EXPECT_EQ(LiveInGroup(old->containers[0].pid), 0);
  EXPECT_EQ(Output("ip netns list").find(old->netns), std::string::npos);
  EXPECT_FALSE(fs::exists(old->dir));
  EXPECT_TRUE(Status("demo/broker").has_value()) << "a kept pod is left alone";

  ASSERT_TRUE(Stop("demo/broker"));
  {
    std::lock_guard<std::mutex> lock(mu_);
    EXPECT_EQ(unmounted_, std::vector<std::string>{"sensor-data " + volume_dir});
  }
  fs::remove_all(volume_dir);
}

TEST_F(ProcessRuntimeTest, AFailedNetworkOrMountIsAReportedPodFailure) {
  mount_volume_ = [](const PodRun&, const cluster::VolumeMount& v) -> StatusOr<std::string> {
    return Unavailable("no replica of " + v.volume + " is reachable");
  };
  node_->Do([&] {
    runtime_.reset();
    return 0;
  });
  runtime_ = MakeRuntime();
  PodRun mounting = Server("mounting", "10.42.5.1");
  cluster::VolumeMount volume;
  volume.claim = "data";
  volume.volume = "demo/data";
  mounting.volumes = {volume};
  Start(mounting);
  ASSERT_TRUE(WaitFor("demo/mounting", PodPhase::kFailed, "FailedMount")) << Describe("demo/mounting");
  EXPECT_NE(Status("demo/mounting")->message.find("no replica of demo/data"), std::string::npos);

  // An `ip` that fails every step.
  tweak_ = [](ProcessRuntimeOptions& o) { o.ip_binary = "/bin/false"; };
  std::unique_ptr<ProcessRuntime> broken = MakeRuntime();
  ASSERT_NE(broken, nullptr);
  node_->Do([&] {
    broken->Start(Server("sandbox", "10.42.5.2"));
    return 0;
  });
  ASSERT_TRUE(WaitFor("demo/sandbox", PodPhase::kFailed, "FailedCreatePodSandBox"));
  const auto s = node_->Do([&] { return broken->status("demo/sandbox"); });
  ASSERT_TRUE(s.has_value());
  EXPECT_NE(s->message.find("network.log"), std::string::npos) << s->message;
  std::atomic<bool> stopped{false};
  node_->Do([&] {
    broken->StopAll([&] { stopped = true; });
    return 0;
  });
  EXPECT_TRUE(Eventually([&] { return stopped.load(); }));
  node_->Do([&] {
    broken.reset();
    return 0;
  });
}

}  // namespace
}  // namespace edgebed::host
