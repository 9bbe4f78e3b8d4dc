// A whole cluster on the deterministic test loop: one server (node 0) and
// agents on nodes 1..N, every node's Env wrapped in a FaultEnv sharing one
// plan, so a test can crash and restart nodes (the server too), partition,
// and run a seed again to see the same trace. Tests and benchmarks/cluster_bench
// drive clusters through it.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/cluster/agent.h"
#include "core/cluster/runtime.h"
#include "core/cluster/server.h"
#include "core/env/fault_env.h"
#include "core/env/test_loop.h"
#include "core/model/loader.h"

namespace edgebed::cluster::testing {

inline constexpr const char* kToken = "K10" "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
                                      "::server:edge-secret";

// Node i (1-based) of a building of floors: labels for building, floor,
// zone and hostname; 4 cpu, 8Gi; every third node with a storage pool.
inline model::Node EdgeNode(int i, int floors) {
  model::Node n;
  n.meta.name = "edge-" + std::to_string(i);
  const int floor = (i - 1) % floors + 1;
  n.meta.labels = {{"edgebed.io/building", "b" + std::to_string((i - 1) % 2 + 1)},
                   {"edgebed.io/floor", "floor-" + std::to_string(floor)},
                   {"topology.kubernetes.io/zone", "zone-" + std::to_string((i - 1) % 4)},
                   {"kubernetes.io/hostname", n.meta.name}};
  n.capacity = {{"cpu", *model::Quantity::Parse("4")}, {"memory", *model::Quantity::Parse("8Gi")},
                {"pods", *model::Quantity::Parse("110")}};
  n.allocatable = n.capacity;
  if (i % 3 == 0) n.meta.annotations["storage.edgebed.io/pools"] = "ssd=100Gi/high";
  return n;
}

struct ClusterOptions {
  int nodes = 10;
  int floors = 5;
  // What agent i (1-based) registers; EdgeNode(i, floors) when not set.
  std::function<model::Node(int)> node;
  TestNetwork network{std::chrono::milliseconds(1), std::chrono::microseconds(200)};
  ServerOptions server;
  AgentOptions agent;
};

class Cluster {
 public:
  Cluster(uint64_t seed, ClusterOptions options) : loop_(seed, options.network), options_(std::move(options)) {
    if (options_.server.token.empty()) options_.server.token = kToken;
    if (options_.agent.token.empty()) options_.agent.token = kToken;
    for (int i = 0; i <= options_.nodes; ++i) {
      NodeId id = loop_.AddNode();
      envs_.push_back(std::make_unique<FaultEnv>(loop_.env(id), plan_));
    }
    envs_.resize(static_cast<size_t>(options_.nodes) + 1);
    runtimes_.resize(envs_.size());
    agents_.resize(envs_.size());
  }

  ~Cluster() {
    // EDGEBED_CLUSTER_EVENTS=1 prints every event recorded, to see why a test failed.
    if (std::getenv("EDGEBED_CLUSTER_EVENTS"))
      for (const EventRecord& e : loop_.sink().events())
        std::fprintf(stderr, "%.3f node %u %s %s\n", ToSeconds(e.time.time_since_epoch()), e.node, e.kind.c_str(),
                     e.detail.c_str());
    agents_.clear();
    runtimes_.clear();
    server_.reset();
  }

  // Starts the server and every agent, and runs until all have joined.
  void Start() {
    StartServer();
    for (int i = 1; i <= options_.nodes; ++i) StartAgent(static_cast<NodeId>(i));
    RunUntil([&] { return JoinedCount() == options_.nodes; }, std::chrono::minutes(2));
  }

  void StartServer() {
    server_ = std::make_unique<Server>(*envs_[0], options_.server);
    server_started_ = false;
    server_->Start([this](Status s) {
      server_status_ = s;
      server_started_ = true;
    });
    RunUntil([&] { return server_started_; }, std::chrono::seconds(30));
  }

  void StartAgent(NodeId id) {
    runtimes_[id] = std::make_unique<ModelRuntime>(*envs_[id]);
    AgentOptions o = options_.agent;
    o.server = 0;
    o.node = options_.node ? options_.node(static_cast<int>(id)) : EdgeNode(static_cast<int>(id), options_.floors);
    agents_[id] = std::make_unique<Agent>(*envs_[id], o, *runtimes_[id]);
    Status s = agents_[id]->Start();
    (void)s;
  }

  // A power loss: the node's objects are gone with it.
  void CrashAgent(NodeId id) {
    agents_[id].reset();
    runtimes_[id].reset();
    loop_.Crash(id);
  }
  void RestartAgent(NodeId id) {
    loop_.Restart(id);
    StartAgent(id);
  }
  void CrashServer() {
    server_.reset();
    loop_.Crash(0);
  }
  void RestartServer() {
    loop_.Restart(0);
    StartServer();
  }

  ApplyResult Apply(const std::string& yaml) {
    ApplyResult out;
    bool done = false;
    server_->Apply(yaml, "test.yaml", [&](ApplyResult r) {
      out = std::move(r);
      done = true;
    });
    RunUntil([&] { return done; }, std::chrono::seconds(30));
    return out;
  }

  Status Delete(const std::string& kind, const std::string& ns, const std::string& name) {
    Status out = Internal("not done");
    bool done = false;
    server_->Delete(kind, ns, name, [&](Status s) {
      out = s;
      done = true;
    });
    RunUntil([&] { return done; }, std::chrono::seconds(30));
    return out;
  }

  template <typename Pred>
  bool RunUntil(Pred pred, Duration limit, Duration step = std::chrono::milliseconds(100)) {
    const Time end = loop_.now() + limit;
    while (!pred()) {
      if (loop_.now() >= end) return false;
      loop_.RunFor(step);
    }
    return true;
  }

  int JoinedCount() const {
    int n = 0;
    for (const auto& a : agents_)
      if (a && a->joined()) ++n;
    return n;
  }

  // Pods the server sees Running.
  int RunningCount() const {
    int n = 0;
    for (const PodInfo& p : server_->Pods())
      if (p.phase == "Running") ++n;
    return n;
  }

  NodeId IdOf(const std::string& node_name) const {
    return static_cast<NodeId>(std::stoi(node_name.substr(5)));
  }

  TestLoop& loop() { return loop_; }
  FaultPlan& plan() { return plan_; }
  Server& server() { return *server_; }
  Agent* agent(NodeId id) { return agents_[id].get(); }
  ModelRuntime* runtime(NodeId id) { return runtimes_[id].get(); }
  const ClusterOptions& options() const { return options_; }
  Env& env(NodeId id) { return *envs_[id]; }

 private:
  TestLoop loop_;
  ClusterOptions options_;
  FaultPlan plan_;
  std::vector<std::unique_ptr<FaultEnv>> envs_;
  std::vector<std::unique_ptr<ModelRuntime>> runtimes_;
  std::vector<std::unique_ptr<Agent>> agents_;
  std::unique_ptr<Server> server_;
  bool server_started_ = false;
  Status server_status_;
};

}  // namespace edgebed::cluster::testing
