// The simulator at scale, against stock ns-3 in the same run.
//
// Network (BM_TreeNetwork against BM_StockNetwork): N edge nodes in floors
// of 10, 20 floors a building, buildings on one site, every link a constant
// delay (so both variants carry the same packets at the same instants).
// Every node sends a 64-byte message each simulated second to its floor's
// first node and to the node N/2 further on (another building from 1,000
// nodes up; another floor at 100), through its Ns3Env. Ours is
// Topology::Build(Routing::kTree): ProfiledChannel links, routes from the
// address plan. The baseline is the same tree as a stock ns-3 script builds
// it (Routing::kGlobal: PointToPointHelper links, Ipv4GlobalRoutingHelper),
// carrying the same traffic through the same Ns3Env, so the two runs
// execute the same events and differ only in the network. What the Env
// costs over bare ns-3 UDP sockets is BM_EnvMessages against
// BM_StockUdpMessages.
//
// Whole cluster (BM_WholeCluster): a shipped scenario through
// sim::Simulation, shortened by overrides; no stock baseline exists.
//
// Counters: setup_s (topology and an Env per node), events (run only),
// events_per_s and sim_s_per_wall_s (of the run), bytes_per_node (growth of
// the resident set over setup, divided by the edge nodes). Seconds are CPU
// seconds of the simulation's one thread (run_wall_s is the wall clock):
// the same as wall seconds on an idle core, and steadier on a shared
// machine. Figures and the command are in benchmarks/README.md.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "core/env/env.h"
#include "sim/ns3_env.h"
#include "sim/scenario.h"
#include "sim/simulation.h"
#include "sim/topology.h"

#ifndef EDGEBED_SOURCE_DIR
#define EDGEBED_SOURCE_DIR "."
#endif

namespace edgebed::sim {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::seconds;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// CPU time of the calling thread: the simulation runs on one thread, so this
// is what its wall time would be on an idle core, on a machine others share.
double ThreadCpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

// The resident set, in bytes. `trim` first gives freed heap pages back to
// the system, so that an earlier, larger run does not hide this one's growth.
double ResidentBytes(bool trim = true) {
  if (trim) malloc_trim(0);
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) * 1024;
  }
  return 0;
}

// Constant delays, so that the stock baseline (which takes each profile's
// mean) and ours deliver every packet at the same instant.
constexpr const char* kNetwork = R"(name: sim-bench
duration: 1m
profiles:
  lan: {delay: 60us, bandwidth: 1Gbps}
  riser: {delay: 120us, bandwidth: 10Gbps}
  campus: {delay: 400us, bandwidth: 10Gbps}
  metro: {delay: 2ms, bandwidth: 1Gbps}
  wan: {delay: 20ms, bandwidth: 200Mbps}
node_classes:
  edge: {capacity: {cpu: "4", memory: 8Gi}}
topology:
  sites:
    - name: site
      buildings:
        - count: 1
          floors: [{count: 1, nodes: [{class: edge, count: 10}]}]
  links: {node: lan, floor: riser, building: campus, site: metro, cloud: wan}
  server: {at: cloud}
)";

// N edge nodes: floors of 10, up to 20 floors a building.
// REQUIRES: nodes is a multiple of 10, and of 200 above 200.
Scenario Network(int nodes) {
  const int floors = std::min(20, nodes / 10);
  const int buildings = nodes / (10 * floors);
  ScenarioLoad r = LoadScenario(kNetwork, "sim-bench.yaml", ".",
                                {"topology.sites[0].buildings[0].count=" + std::to_string(buildings),
                                 "topology.sites[0].buildings[0].floors[0].count=" + std::to_string(floors)});
  if (!r.ok()) {
    for (const auto& e : r.errors) std::fprintf(stderr, "sim_bench: %s\n", e.ToString().c_str());
    std::abort();
  }
  return std::move(*r.scenario);
}

constexpr Port kPort = 7;
constexpr size_t kMessageBytes = 64;
constexpr Duration kPeriod = seconds(1);
constexpr Duration kTraffic = seconds(10);  // simulated

// One node's traffic: every kPeriod, a message to its floor's first node
// and one to the node half the network away, until kTraffic. Nodes start
// spread over the first period, as independent machines would.
class Pinger {
 public:
  Pinger(Env& env, NodeId near, NodeId far) : env_(env), near_(near), far_(far) {}
  void Start(Duration offset) {
    env_.Schedule(offset, [this] { Tick(); });
  }

 private:
  void Tick() {
    env_.Send(near_, kPort, Bytes(kMessageBytes, 1));
    env_.Send(far_, kPort, Bytes(kMessageBytes, 2));
    if (env_.now() + kPeriod < Time(kTraffic)) env_.Schedule(kPeriod, [this] { Tick(); });
  }

  Env& env_;
  NodeId near_, far_;
};

void BM_Network(benchmark::State& state, Routing routing) {
  const int n = static_cast<int>(state.range(0));
  const Scenario scenario = Network(n);
  for (auto _ : state) {
    NullSink sink;
    uint64_t delivered = 0, events = 0;
    double setup_s = 0, run_s = 0, run_wall_s = 0, bytes = 0;
    {
      Ns3World world(1, sink);  // its destructor tears ns-3 down
      const double rss_before = ResidentBytes();
      const double setup_start = ThreadCpuSeconds();
      auto topo = Topology::Build(scenario, 1, routing);
      if (!topo.ok()) {
        state.SkipWithError(topo.status().ToString().c_str());
        break;
      }
      std::vector<std::unique_ptr<Pinger>> pingers;
      for (const Host& h : (*topo)->nodes()) {
        Ns3EnvOptions options;
        options.uplink_bps = h.uplink_bps;
        const NodeId id = world.AddNode(h.node, h.address, options);
        (void)world.env(id).Listen(kPort, [&delivered](NodeId, ByteView) { ++delivered; });
      }
      for (NodeId id = 0; id < static_cast<NodeId>(n); ++id) {
        const NodeId floor_first = id / 10 * 10;
        const NodeId near = id == floor_first ? id + 1 : floor_first;
        const NodeId far = (id + static_cast<NodeId>(n) / 2) % static_cast<NodeId>(n);
        pingers.push_back(std::make_unique<Pinger>(world.env(id), near, far));
        pingers.back()->Start(kPeriod * id / n);
      }
      setup_s = ThreadCpuSeconds() - setup_start;
      bytes = ResidentBytes() - rss_before;

      const uint64_t events_before = ns3::Simulator::GetEventCount();
      const double run_start = ThreadCpuSeconds();
      const auto run_wall_start = Clock::now();
      world.RunFor(kTraffic + seconds(1));  // the last messages arrive
      run_s = ThreadCpuSeconds() - run_start;
      run_wall_s = SecondsSince(run_wall_start);
      events = ns3::Simulator::GetEventCount() - events_before;
    }
    const uint64_t sent = uint64_t{2} * n * static_cast<uint64_t>(kTraffic / kPeriod);
    if (delivered != sent) {
      const std::string error = "delivered " + std::to_string(delivered) + " of " + std::to_string(sent);
      state.SkipWithError(error.c_str());
    }
    state.counters["nodes"] = n;
    state.counters["setup_s"] = setup_s;
    state.counters["run_s"] = run_s;
    state.counters["run_wall_s"] = run_wall_s;
    state.counters["events"] = static_cast<double>(events);
    state.counters["events_per_s"] = static_cast<double>(events) / run_s;
    state.counters["sim_s_per_wall_s"] = ToSeconds(kTraffic + seconds(1)) / run_s;
    state.counters["bytes_per_node"] = bytes / n;
    state.counters["delivered"] = static_cast<double>(delivered);
  }
}

void BM_TreeNetwork(benchmark::State& state) { BM_Network(state, Routing::kTree); }
void BM_StockNetwork(benchmark::State& state) { BM_Network(state, Routing::kGlobal); }


// --- the Env's message layer against bare ns-3 UDP sockets -----------------
//
// Two nodes of one floor (1 Gbit/s, 60 us to the floor switch); 2,000
// messages of the given size, spaced so that no queue overflows. The
// baseline sends the same payload as the same number of 1,400-byte
// datagrams, paced the same way, on ns-3 UdpSockets; the Env adds its
// envelope, the checks on every datagram, reassembly and delivery to a
// port's receiver. items_per_second counts messages delivered whole.

constexpr int kMessages = 2000;
constexpr uint32_t kChunk = 1400;

// Twice the time the 1 Gbit/s link needs for a message.
ns3::Time Gap(size_t size) { return ns3::NanoSeconds(std::max<int64_t>(100'000, static_cast<int64_t>(size * 16))); }

std::unique_ptr<Topology> TwoNodes() {
  static const Scenario scenario = [] {
    ScenarioLoad r = LoadScenario(kNetwork, "sim-bench.yaml", ".",
                                  {"topology.sites[0].buildings[0].floors[0].nodes[0].count=2"});
    if (!r.ok()) std::abort();
    return std::move(*r.scenario);
  }();
  auto topo = Topology::Build(scenario, 1);
  if (!topo.ok()) std::abort();
  return std::move(*topo);
}

void BM_EnvMessages(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  uint64_t delivered = 0;
  for (auto _ : state) {
    NullSink sink;
    Ns3World world(1, sink);
    auto topo = TwoNodes();
    const Host& ha = topo->nodes()[0];
    const Host& hb = topo->nodes()[1];
    Ns3EnvOptions options;
    options.uplink_bps = ha.uplink_bps;
    const NodeId a = world.AddNode(ha.node, ha.address, options);
    const NodeId b = world.AddNode(hb.node, hb.address, options);
    (void)world.env(b).Listen(1, [&](NodeId, ByteView m) { delivered += m.size() == size; });
    for (int i = 0; i < kMessages; ++i) {
      world.env(a).Schedule(Duration(Gap(size).GetNanoSeconds() * i),
                            [&world, a, b, size] { world.env(a).Send(b, 1, Bytes(size, 7)); });
    }
    world.RunFor(seconds(30));
  }
  state.SetItemsProcessed(static_cast<int64_t>(delivered));
  state.counters["delivered"] = static_cast<double>(delivered) / static_cast<double>(state.iterations());
}

void BM_StockUdpMessages(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  uint64_t delivered = 0;
  for (auto _ : state) {
    NullSink sink;
    Ns3World world(1, sink);  // only to own and tear down the simulator
    auto topo = TwoNodes();
    const auto tid = ns3::UdpSocketFactory::GetTypeId();
    ns3::Ptr<ns3::Socket> rx = ns3::Socket::CreateSocket(topo->nodes()[1].node, tid);
    rx->Bind(ns3::InetSocketAddress(ns3::Ipv4Address::GetAny(), 9100));
    uint64_t bytes = 0;
    rx->SetRecvCallback(ns3::MakeBoundCallback(
        +[](uint64_t* counter, ns3::Ptr<ns3::Socket> s) {
          while (ns3::Ptr<ns3::Packet> p = s->Recv()) {
            Bytes buffer(p->GetSize());
            p->CopyData(buffer.data(), p->GetSize());
            *counter += buffer.size();
          }
        },
        &bytes));
    ns3::Ptr<ns3::Socket> tx = ns3::Socket::CreateSocket(topo->nodes()[0].node, tid);
    const ns3::InetSocketAddress to(topo->nodes()[1].address, 9100);
    const double bps = topo->nodes()[0].uplink_bps;
    for (int i = 0; i < kMessages; ++i) {
      ns3::Simulator::Schedule(Gap(size) * i, [tx, to, size, bps] {
        size_t left = size;
        double at = 0;
        do {
          const size_t chunk = std::min<size_t>(left, kChunk);
          ns3::Simulator::Schedule(ns3::Seconds(at), [tx, to, chunk] {
            Bytes payload(chunk, 7);
            tx->SendTo(ns3::Create<ns3::Packet>(payload.data(), static_cast<uint32_t>(chunk)), 0, to);
          });
          at += static_cast<double>((chunk + 30) * 8) / bps;
          left -= chunk;
        } while (left > 0);
      });
    }
    ns3::Simulator::Stop(ns3::Seconds(30));
    ns3::Simulator::Run();
    delivered += bytes / size;
  }
  state.SetItemsProcessed(static_cast<int64_t>(delivered));
  state.counters["delivered"] = static_cast<double>(delivered) / static_cast<double>(state.iterations());
}


// --- the whole cluster ------------------------------------------------------
//
// A shipped scenario through sim::Simulation (server, agents, scheduler,
// storage, policy, workloads, faults), metrics into a NullSink (what the
// results database costs is results_bench's). bytes_per_node is the largest
// resident set seen at a simulated second, less the one before the run.

void BM_WholeCluster(benchmark::State& state, const char* file, const char* duration) {
  const std::string path = std::string(EDGEBED_SOURCE_DIR) + "/scenarios/" + file;
  ScenarioLoad loaded = LoadScenarioFile(path, {std::string("duration=") + duration});
  if (!loaded.ok()) {
    state.SkipWithError(loaded.errors.front().ToString().c_str());
    return;
  }
  const Scenario& scenario = *loaded.scenario;
  for (auto _ : state) {
    NullSink sink;
    const double rss_before = ResidentBytes();
    double rss_max = rss_before, first_second_s = 0;
    const auto start = Clock::now();
    const double cpu_start = ThreadCpuSeconds();
    SimulationOptions options;
    options.on_progress = [&](const Progress&) {
      if (first_second_s == 0) first_second_s = ThreadCpuSeconds() - cpu_start;
      rss_max = std::max(rss_max, ResidentBytes(/*trim=*/false));
    };
    StatusOr<SimulationSummary> summary = [&] {
      Simulation simulation(scenario, sink, options);
      return simulation.Run();
    }();
    const double wall = SecondsSince(start);
    const double cpu = ThreadCpuSeconds() - cpu_start;
    if (!summary.ok()) {
      state.SkipWithError(summary.status().ToString().c_str());
      break;
    }
    const double n = static_cast<double>(summary->nodes);
    state.counters["nodes"] = n;
    state.counters["to_first_sim_s"] = first_second_s;
    state.counters["cpu_s"] = cpu;
    state.counters["wall_s"] = wall;
    state.counters["events"] = static_cast<double>(summary->events);
    state.counters["events_per_s"] = static_cast<double>(summary->events) / cpu;
    state.counters["sim_s_per_wall_s"] = ToSeconds(scenario.duration) / cpu;
    state.counters["bytes_per_node"] = (rss_max - rss_before) / n;
    state.counters["pods_running"] = summary->pods_running;
    state.counters["pods_total"] = summary->pods_total;
  }
}

// The runs that take minutes come only with --large: the stock baseline at
// 5,000 nodes (global routing's setup grows with about the cube of the
// nodes, so 10,000 is not tried) and the 10,000-node cluster.
void Register(bool large) {
  auto* tree = benchmark::RegisterBenchmark("BM_TreeNetwork", BM_TreeNetwork);
  auto* stock = benchmark::RegisterBenchmark("BM_StockNetwork", BM_StockNetwork);
  for (int n : {100, 1000, 5000, 10000}) tree->Arg(n);
  for (int n : {100, 1000}) stock->Arg(n);
  if (large) stock->Arg(5000);
  for (auto* b : {tree, stock}) b->Unit(benchmark::kSecond)->Iterations(1);

  for (auto* b : {benchmark::RegisterBenchmark("BM_EnvMessages", BM_EnvMessages),
                  benchmark::RegisterBenchmark("BM_StockUdpMessages", BM_StockUdpMessages)})
    b->Arg(100)->Arg(16 << 10)->Arg(256 << 10)->Unit(benchmark::kMillisecond);

  benchmark::RegisterBenchmark("BM_WholeCluster/campus_5m", BM_WholeCluster, "campus.yaml", "5m")
      ->Unit(benchmark::kSecond)->Iterations(1);
  if (large) {
    benchmark::RegisterBenchmark("BM_WholeCluster/stress_10k_60s", BM_WholeCluster, "stress-10k.yaml", "60s")
        ->Unit(benchmark::kSecond)->Iterations(1);
  }
}

// ns-3 registers its types and builds its singletons on first use; done
// here once, so that the first benchmark's memory does not include them.
void WarmUp() {
  const Scenario scenario = Network(100);
  for (Routing routing : {Routing::kTree, Routing::kGlobal}) {
    NullSink sink;
    Ns3World world(1, sink);
    auto topo = Topology::Build(scenario, 1, routing);
    if (!topo.ok()) std::abort();
    for (const Host& h : (*topo)->nodes()) world.AddNode(h.node, h.address);
    world.env(0).Send(1, kPort, Bytes(kMessageBytes, 1));
    world.RunFor(seconds(1));
  }
}

}  // namespace
}  // namespace edgebed::sim

// sim_bench [--large] [Google Benchmark flags]
int main(int argc, char** argv) {
  bool large = false;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--large") {
      large = true;
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  edgebed::sim::Register(large);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  edgebed::sim::WarmUp();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
