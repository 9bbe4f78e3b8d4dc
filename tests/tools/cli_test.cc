// End-to-end: the commands a user runs, run as a user runs them.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/results/results_db.h"
#include "tests/tools/process_util.h"

namespace edgebed::tools {
namespace {

namespace fs = std::filesystem;

const std::string kEdgebed = std::string(EDGEBED_BINARY_DIR) + "/tools/edgebed";
const std::string kSim = std::string(EDGEBED_BINARY_DIR) + "/tools/edgebed-sim";
const std::string kSource = EDGEBED_SOURCE_DIR;

struct TempDir {
  TempDir() {
    path = fs::temp_directory_path() /
           ("edgebed-cli-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string File(const std::string& name, const std::string& text) const {
    const fs::path p = path / name;
    std::ofstream(p) << text;
    return p.string();
  }
  fs::path path;
};

TEST(Validate, LoadsTheSmartBuildingManifests) {
  // A scenario file stands for its topology's nodes and every manifest it applies.
  Outcome o = Shell(kEdgebed + " validate -f " + kSource + "/scenarios/smart-building.yaml");
  EXPECT_EQ(o.exit_code, 0) << o.out;
  EXPECT_NE(o.out.find("52 objects loaded from 1 file, 2 warnings, 0 errors"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("DaemonSet b1-f2/sensor-gateway: on every node it fits"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("Service building-services/mqtt-broker: headless, ports 1883/TCP"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("SchedulePolicy every-5-minutes: interval 5m keep 6"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("1 Stork schedule (1 to the cloud)"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("Node b1-f3-n4"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("Deployment building-services/inference: 2 replicas"), std::string::npos);
  EXPECT_NE(o.out.find("StatefulSet building-services/mqtt-broker: 1 replica of 1 container"), std::string::npos);
}

TEST(Validate, AcceptsTheDocumentationsExamplesOfEachKindUnchanged) {
  for (const char* file :
       {"workload_kinds.yaml", "services.yaml", "batch_kinds.yaml", "priority_and_schedules.yaml"}) {
    Outcome o = Shell(kEdgebed + " validate " + kSource + "/tests/model/testdata/" + file);
    EXPECT_EQ(o.exit_code, 0) << o.out;
    EXPECT_NE(o.out.find(" 0 errors"), std::string::npos) << o.out;
  }
}

TEST(Validate, ReportsEveryErrorWithItsPlaceAndExitsOne) {
  TempDir dir;
  const std::string bad = dir.File("bad.yaml",
      "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n"
      "    resources: {requests: {cpu: 2 cores}}\n---\napiVersion: v1\nkind: Namespace\n"
      "metadata: {name: fine}\n");
  Outcome o = Shell(kEdgebed + " validate " + bad);
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_NE(o.out.find("error: " + bad + ":7:33: spec.containers[0].resources.requests.cpu: \"2 cores\" is not a quantity"),
            std::string::npos) << o.out;
  EXPECT_NE(o.out.find("Namespace fine"), std::string::npos);  // the good neighbour still loads
  EXPECT_NE(o.out.find("1 objects loaded from 1 file, 0 warnings, 1 error"), std::string::npos);
}

TEST(Validate, BadUsageExitsTwo) {
  EXPECT_EQ(Shell(kEdgebed + " validate").exit_code, 2);
  Outcome missing = Shell(kEdgebed + " validate -f /no/such/file.yaml");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.out.find("/no/such/file.yaml: no such file or directory"), std::string::npos);
  Outcome flag = Shell(kEdgebed + " validate --filenmae x");
  EXPECT_EQ(flag.exit_code, 2);
  EXPECT_NE(flag.out.find("did you mean '--filename'?"), std::string::npos);
  EXPECT_EQ(Shell(kEdgebed + " validate --help").exit_code, 0);
  EXPECT_EQ(Shell(kEdgebed + " --help").exit_code, 0);
  EXPECT_EQ(Shell(kEdgebed + " frobnicate").exit_code, 2);
}

uint16_t FreePort() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

// Three processes, one node each, on loopback; one is killed, the others
// declare it dead.
TEST(Heartbeat, ThreeProcessesDetectAKilledOne) {
  TempDir dir;
  const uint16_t ports[3] = {FreePort(), FreePort(), FreePort()};
  pid_t pids[3];
  for (int i = 0; i < 3; ++i) {
    std::vector<std::string> args = {kEdgebed, "heartbeat", "--id", std::to_string(i),
                                     "--listen", "127.0.0.1:" + std::to_string(ports[i]),
                                     "--interval", "200ms", "--timeout", "50ms",
                                     "--duration", i == 2 ? "60s" : "4s",
                                     "--data-dir", (dir.path / ("n" + std::to_string(i))).string()};
    for (int j = 0; j < 3; ++j) {
      if (j != i) args.push_back("--peer=" + std::to_string(j) + "=127.0.0.1:" + std::to_string(ports[j]));
    }
    const std::string log = (dir.path / ("log" + std::to_string(i))).string();
    pids[i] = ::fork();
    ASSERT_GE(pids[i], 0);
    if (pids[i] == 0) {
      std::freopen(log.c_str(), "w", stdout);
      std::freopen(log.c_str(), "a", stderr);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ::kill(pids[2], SIGKILL);
  for (int i = 0; i < 3; ++i) {
    int status = 0;
    ::waitpid(pids[i], &status, 0);
    if (i < 2) {
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "node " << i;
    }
  }
  for (int i = 0; i < 2; ++i) {
    std::ifstream in(dir.path / ("log" + std::to_string(i)));
    std::stringstream text;
    text << in.rdbuf();
    const std::string log = text.str();
    EXPECT_NE(log.find("probe.peer_state peer=2 state=alive"), std::string::npos) << log;
    EXPECT_NE(log.find("probe.peer_state peer=2 state=dead"), std::string::npos) << log;
    EXPECT_NE(log.find("peer " + std::to_string(1 - i) + ": alive"), std::string::npos) << log;
    EXPECT_NE(log.find("peer 2: dead"), std::string::npos) << log;
  }
}

TEST(Heartbeat, BadUsageExitsTwo) {
  EXPECT_EQ(Shell(kEdgebed + " heartbeat").exit_code, 2);
  Outcome peer = Shell(kEdgebed + " heartbeat --id 1 --peer nonsense");
  EXPECT_EQ(peer.exit_code, 2);
  EXPECT_NE(peer.out.find("is not ID=ADDRESS:PORT"), std::string::npos) << peer.out;
  EXPECT_EQ(Shell(kEdgebed + " heartbeat --id 1 --listen 127.0.0.1:99999").exit_code, 2);
}

// The main job, shortened: runs the smart building with both of its faults,
// says where its results went, and the same seed gives the same database but
// for its wall-clock table.
TEST(EdgebedSim, RunsTheSmartBuildingAndReplaysItFromTheSeed) {
  TempDir dir;
  const std::string flags = " run " + kSource + "/scenarios/smart-building.yaml --seed 3 --set duration=3m"
                            " --set faults[0].at=40s --set faults[0].for=40s --set faults[1].at=2m --set faults[1].for=20s";
  const std::string a = (dir.path / "a.db").string(), b = (dir.path / "b.db").string();
  Outcome first = Shell(kSim + flags + " --db " + a);
  ASSERT_EQ(first.exit_code, 0) << first.out;
  EXPECT_NE(first.out.find("16 nodes and 8 routers"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("node-crash b1-f2-n1 for 40s"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("partition b1-f3 for 20s"), std::string::npos) << first.out;
  EXPECT_EQ(first.out.find("not within the run"), std::string::npos) << "both faults recover: " << first.out;
  EXPECT_NE(first.out.find("results: " + a), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("report: edgebed report " + a + " -o " + (dir.path / "a.html").string()), std::string::npos)
      << first.out;
  ASSERT_EQ(Shell(kSim + flags + " --db " + b).exit_code, 0);

  auto dump = [](const std::string& path) {
    auto db = results::ResultsDb::Open(path);
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    std::ostringstream s;
    auto runs = (*db)->Runs();
    EXPECT_TRUE(runs.ok());
    for (const auto& r : *runs) {
      s << r.info.scenario << " " << r.info.seed << "\n";
      for (const auto& [k, v] : r.info.parameters) s << k << "=" << v << "\n";
      // Each StatusOr is kept in a variable: a range-for over *temporary dangles.
      const auto names = (*db)->MetricNames(r.run_id);
      EXPECT_TRUE(names.ok());
      for (const auto& name : *names) {
        const auto samples = (*db)->Samples(r.run_id, name);
        for (const auto& p : *samples) {
          s << name << " " << ToNanos(p.time) << " " << p.node << " " << p.value << " " << p.labels << "\n";
        }
      }
      const auto events = (*db)->Events(r.run_id);
      for (const auto& e : *events) {
        s << ToNanos(e.time) << " " << e.node << " " << e.kind << " " << e.detail << "\n";
      }
    }
    return s.str();
  };
  const std::string da = dump(a), db = dump(b);
  EXPECT_GT(da.size(), 10000u);
  EXPECT_EQ(da, db);
  EXPECT_NE(da.find("sim.fault_recovery_s"), std::string::npos);
  // The misconfigured device behind floor 1's first gateway keeps trying floor 2's.
  EXPECT_TRUE(std::regex_search(da, std::regex("policy\\.denied from=b1-f1/sensor-gateway-[0-9a-f]{10} "
                                               "to=b1-f2/sensor-gateway-[0-9a-f]{10} port=1883 at=egress")));
}

TEST(EdgebedSim, BadInputExitsNonZeroAndSaysWhere) {
  Outcome o = Shell(kSim + " run");
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.out.find("name one scenario file"), std::string::npos) << o.out;
  o = Shell(kSim + " run " + kSource + "/scenarios/smart-building.yaml --set duration=soon --db /dev/null/x.db");
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_NE(o.out.find("error: --set duration=soon: duration: \"soon\" is not a duration"), std::string::npos) << o.out;
  TempDir dir;
  const std::string bad = dir.File("bad.yaml", "name: x\nduration: 1m\nprofiles: {}\nnode_classes: {}\ntopology: {sites: []}\n");
  o = Shell(kSim + " run " + bad);
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_NE(o.out.find("bad.yaml:"), std::string::npos) << o.out;
  EXPECT_EQ(Shell(kSim + " walk").exit_code, 2);
  EXPECT_EQ(Shell(kSim + " run --help").exit_code, 0);
}

// The rows of a `policy matrix` output: its header's names, and each row's name and marks.
struct Matrix {
  std::vector<std::string> names;
  std::map<std::string, std::vector<std::string>> rows;
};
Matrix ParseMatrix(const std::string& out) {
  Matrix m;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    std::vector<std::string> cells;
    std::istringstream fields(line);
    std::string cell;
    while (std::getline(fields, cell, '\t')) cells.push_back(cell);
    if (cells.size() < 2) continue;
    if (cells[0] == "-") {
      m.names.assign(cells.begin() + 1, cells.end());
    } else {
      m.rows[cells[0]].assign(cells.begin() + 1, cells.end());
    }
  }
  return m;
}

TEST(Policy, MatrixOfTheSmartBuilding) {
  const Outcome o = Shell(kEdgebed + " policy matrix -f " + kSource + "/scenarios/smart-building.yaml --port 1883");
  ASSERT_EQ(o.exit_code, 0) << o.out;
  const Matrix m = ParseMatrix(o.out);
  // Three gateways a floor (the DaemonSet's pods), the services' pods.
  ASSERT_EQ(m.names.size(), 16u) << o.out;
  EXPECT_EQ(m.names.back(), "building-services/mqtt-broker-0");
  int gateways = 0;
  for (size_t from = 0; from < m.names.size(); ++from) {
    const std::string& name = m.names[from];
    if (name.find("/sensor-gateway-") == std::string::npos) continue;
    ++gateways;
    const std::vector<std::string>& row = m.rows.at(name);
    ASSERT_EQ(row.size(), m.names.size());
    // Each gateway reaches the broker on MQTT, and no other pod.
    EXPECT_EQ(row.back(), ".") << name;
    for (size_t to = 0; to + 1 < row.size(); ++to) {
      if (to != from) {
        EXPECT_EQ(row[to], "X") << name << " -> " << m.names[to];
      }
    }
  }
  EXPECT_EQ(gateways, 12);
}

TEST(Policy, ExplainNamesTheTierPolicyAndRule) {
  const std::string files = " -f " + kSource + "/scenarios/smart-building.yaml";
  Outcome o = Shell(kEdgebed + " policy explain" + files +
                    " --from 192.168.200.7 --to building-services/inference-0 --port 8500");
  ASSERT_EQ(o.exit_code, 0) << o.out;
  EXPECT_NE(o.out.find("ingress at the destination: denied by tier security, GlobalNetworkPolicy "
                       "security.block-guest-wifi, spec.ingress[0] (Deny)"),
            std::string::npos)
      << o.out;
  EXPECT_NE(o.out.find("verdict: denied"), std::string::npos) << o.out;
  // ICMP is probed by type: floor 1 isolates its pods from pings too. A
  // DaemonSet stands for its first pod.
  o = Shell(kEdgebed + " policy explain" + files +
            " --from b1-f2/sensor-gateway --to b1-f1/sensor-gateway --protocol ICMP");
  ASSERT_EQ(o.exit_code, 0) << o.out;
  const std::string first_of_floor1 = ParseMatrix(Shell(kEdgebed + " policy matrix" + files).out).names.at(0);
  EXPECT_NE(o.out.find(" -> " + first_of_floor1 + " ("), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("ICMP type 8 code 0\n"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("ingress at the destination: denied at the end of tier default: "
                       "NetworkPolicy b1-f1/default-deny applies and no rule matched"),
            std::string::npos)
      << o.out;
}

TEST(Sched, PlacesTheSmartBuilding) {
  const Outcome o = Shell(kEdgebed + " sched -f " + kSource + "/scenarios/smart-building.yaml");
  ASSERT_EQ(o.exit_code, 0) << o.out;
  // Inference needs the GPU nodes (tainted for it) and one replica per host;
  // the building-critical priority class puts it first in the queue.
  EXPECT_EQ(o.out.find("building-services/inference-0\tb1-f4-n4\n"), 0u) << o.out;
  EXPECT_NE(o.out.find("building-services/inference-1\tb1-f1-n4\n"), std::string::npos) << o.out;
  // A gateway on each gateway node of each floor.
  for (int floor = 1; floor <= 4; ++floor)
    for (int node = 1; node <= 3; ++node) {
      const std::string f = "b1-f" + std::to_string(floor);
      EXPECT_TRUE(std::regex_search(o.out, std::regex(f + "/sensor-gateway-[0-9a-f]{10}\t" + f + "-n" +
                                                      std::to_string(node) + "\n")))
          << f << "-n" << node << "\n" << o.out;
    }
  EXPECT_EQ(o.out.find("\t-\t"), std::string::npos) << o.out;
  // Same input, same seed: the same lines.
  EXPECT_EQ(Shell(kEdgebed + " sched -f " + kSource + "/scenarios/smart-building.yaml").out, o.out);
}

// A DaemonSet stands for a pod on each node that takes one, pinned there, as
// the cluster's controller makes them; the policy matrix sees them too.
TEST(Sched, ADaemonSetPlacesAPodOnEachNodeThatTakesOne) {
  TempDir dir;
  std::string text;
  for (const char* n : {"a", "b", "c"}) {
    text += std::string("apiVersion: v1\nkind: Node\nmetadata: {name: ") + n +
            (std::string(n) == "c" ? ", labels: {role: storage}" : "") +
            "}\nstatus: {capacity: {cpu: \"4\", memory: 8Gi}}\n" +
            (std::string(n) == "b" ? "spec: {taints: [{key: gpu, value: \"1\", effect: NoSchedule}]}\n" : "") + "---\n";
  }
  text += R"(apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: default}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: c, image: x, resources: {requests: {cpu: 100m}}}]
)";
  const std::string file = dir.File("daemons.yaml", text);
  const Outcome o = Shell(kEdgebed + " sched -f " + file);
  ASSERT_EQ(o.exit_code, 0) << o.out;
  // a and c; not b, whose taint it does not tolerate.
  std::vector<std::string> lines;
  std::istringstream in(o.out);
  for (std::string line; std::getline(in, line);) lines.push_back(line.substr(line.find('\t') + 1));
  std::sort(lines.begin(), lines.end());
  EXPECT_EQ(lines, (std::vector<std::string>{"a", "c"})) << o.out;
  EXPECT_EQ(o.out.rfind("default/agent-", 0), 0u) << o.out;
  const Outcome m = Shell(kEdgebed + " policy matrix -f " + file);
  ASSERT_EQ(m.exit_code, 0) << m.out;
  EXPECT_NE(m.out.find("default/agent-"), std::string::npos) << m.out;
}

TEST(Validate, TheDocumentationsJobAndCronJobLoad) {
  Outcome o = Shell(kEdgebed + " validate -f " + kSource + "/tests/model/testdata/batch_kinds.yaml");
  EXPECT_EQ(o.exit_code, 0) << o.out;
  EXPECT_NE(o.out.find("Job default/pi: 1 completion, 1 at a time of 1 container, Never, backoffLimit 4"),
            std::string::npos) << o.out;
  EXPECT_NE(o.out.find("CronJob default/hello: \"* * * * *\" (Allow), 1 completion"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("2 objects loaded from 1 file, 1 warning, 0 errors"), std::string::npos) << o.out;
}

TEST(Sched, AJobsStartingPodsArePlacedAndPoliced) {
  TempDir dir;
  const std::string file = dir.File("job.yaml", R"(apiVersion: v1
kind: Node
metadata: {name: a}
status: {capacity: {cpu: "4", memory: 8Gi}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: crunch, namespace: default}
spec:
  completions: 5
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: x, resources: {requests: {cpu: 100m}}}]
)");
  const Outcome o = Shell(kEdgebed + " sched -f " + file);
  ASSERT_EQ(o.exit_code, 0) << o.out;
  EXPECT_NE(o.out.find("default/crunch-0\ta"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("default/crunch-1\ta"), std::string::npos) << o.out;
  EXPECT_EQ(o.out.find("default/crunch-2"), std::string::npos) << o.out;
  const Outcome m = Shell(kEdgebed + " policy matrix -f " + file);
  ASSERT_EQ(m.exit_code, 0) << m.out;
  EXPECT_NE(m.out.find("default/crunch-1"), std::string::npos) << m.out;
}

TEST(Sched, ProfilesPreemptionAndReasons) {
  TempDir dir;
  std::string nodes;
  for (const char* n : {"a", "b"}) {
    nodes += std::string("apiVersion: v1\nkind: Node\nmetadata: {name: ") + n +
             "}\nstatus: {capacity: {cpu: \"4\", memory: 8Gi}}\n---\n";
  }
  const auto pod = [](const std::string& name, const std::string& cpu, const std::string& extra) {
    return "apiVersion: v1\nkind: Pod\nmetadata: {name: " + name + "}\nspec:\n" + extra +
           "  containers: [{name: c, image: x, resources: {requests: {cpu: \"" + cpu + "\"}}}]\n---\n";
  };
  const std::string cluster = dir.File(
      "cluster.yaml", nodes + pod("old", "3", "  nodeName: a\n  priority: 1\n") +
                          pod("filler", "2", "  nodeName: b\n  priority: 50\n") + pod("small", "500m", "") +
                          pod("urgent", "3", "  priority: 100\n"));
  // urgent goes first (priority) and fits nowhere: it evicts old, whose
  // priority is lowest, and waits for it to go. small then takes the least
  // allocated node, a (the room urgent reserved there is not counted as load
  // when scoring, as upstream).
  Outcome o = Shell(kEdgebed + " sched -f " + cluster);
  ASSERT_EQ(o.exit_code, 0) << o.out;
  EXPECT_EQ(o.out, "default/small\ta\ndefault/urgent\ta\tpreempts default/old\n");
  // A bin-packing profile puts small beside filler on b instead.
  const std::string packer = dir.File(
      "packer.yaml",
      "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles:\n"
      "- pluginConfig:\n  - name: NodeResourcesFit\n    args:\n      scoringStrategy: {type: MostAllocated}\n");
  o = Shell(kEdgebed + " sched -f " + cluster + " --config " + packer);
  ASSERT_EQ(o.exit_code, 0) << o.out;
  EXPECT_EQ(o.out, "default/small\tb\ndefault/urgent\ta\tpreempts default/old\n");
  // Without preemption urgent waits, and says why; old stays and small
  // takes the emptier node.
  const std::string no_preempt = dir.File(
      "nopreempt.yaml",
      "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles:\n"
      "- plugins:\n    postFilter:\n      disabled: [{name: DefaultPreemption}]\n");
  o = Shell(kEdgebed + " sched -f " + cluster + " --config " + no_preempt);
  ASSERT_EQ(o.exit_code, 0) << o.out;
  EXPECT_EQ(o.out, "default/small\tb\ndefault/urgent\t-\t0/2 nodes are available: 2 Insufficient cpu.\n");
}

TEST(StorageTorture, RunsSeedsAndEndsWithTheSummaryLine) {
  Outcome o = Shell(kEdgebed + " storage torture --seeds 3 --from 40 --nodes 4 --repl 2");
  EXPECT_EQ(o.exit_code, 0) << o.out;
  EXPECT_NE(o.out.find("torture: 3/3 seeds"), std::string::npos) << o.out;
  const size_t last = o.out.rfind("seeds: 3, acknowledged writes: ");
  ASSERT_NE(last, std::string::npos) << o.out;
  EXPECT_NE(o.out.find(", lost: 0, stale reads: 0\n", last), std::string::npos) << o.out;
  // The same seeds print the same numbers.
  EXPECT_EQ(Shell(kEdgebed + " storage torture --seeds 3 --from 40 --nodes 4 --repl 2").out, o.out);
  Outcome traced = Shell(kEdgebed + " storage torture --seeds 1 --from 40 --trace");
  EXPECT_EQ(traced.exit_code, 0);
  EXPECT_NE(traced.out.find("# every event of the run"), std::string::npos);
  EXPECT_NE(traced.out.find("final block 0 = "), std::string::npos);
}

TEST(StorageTorture, BadUsageExitsTwo) {
  EXPECT_EQ(Shell(kEdgebed + " storage").exit_code, 2);
  EXPECT_EQ(Shell(kEdgebed + " storage tortur").exit_code, 2);
  Outcome o = Shell(kEdgebed + " storage torture --repl 4");
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.out.find("--repl must be 1, 2 or 3"), std::string::npos) << o.out;
  EXPECT_EQ(Shell(kEdgebed + " storage torture --nodes 2 --repl 3").exit_code, 2);
  EXPECT_EQ(Shell(kEdgebed + " storage torture --seeds 0").exit_code, 2);
  EXPECT_EQ(Shell(kEdgebed + " storage torture --seeds x").exit_code, 2);
  EXPECT_EQ(Shell(kEdgebed + " storage --help").exit_code, 0);
}

TEST(Sched, BadInputExitsNonZeroAndSaysWhere) {
  TempDir dir;
  EXPECT_EQ(Shell(kEdgebed + " sched").exit_code, 2);
  EXPECT_EQ(Shell(kEdgebed + " sched --bogus -f x").exit_code, 2);
  EXPECT_EQ(Shell(kEdgebed + " sched -f " + dir.path.string() + "/missing.yaml").exit_code, 2);
  const std::string pod = dir.File("pod.yaml",
      "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  priorityClassName: gold\n"
      "  containers: [{name: c, image: x}]\n");
  Outcome o = Shell(kEdgebed + " sched -f " + pod);
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_NE(o.out.find("pod.yaml:1:1: pod default/p: no PriorityClass with name \"gold\" was found"),
            std::string::npos)
      << o.out;
  const std::string profile = dir.File("profile.yaml",
      "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles:\n"
      "- plugins:\n    score:\n      enabled: [{name: InterPodAfinity, weight: 2}]\n");
  const std::string ok = dir.File("ok.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n");
  o = Shell(kEdgebed + " sched -f " + ok + " --config " + profile);
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_NE(o.out.find("profile.yaml:6:17: profiles[0].plugins.score.enabled: unknown plugin "
                       "\"InterPodAfinity\"; did you mean \"InterPodAffinity\"?"),
            std::string::npos)
      << o.out;
}

}  // namespace
}  // namespace edgebed::tools
