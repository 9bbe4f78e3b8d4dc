#include "sim/simulation.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

#include "core/base/ip.h"
#include "core/cluster/agent.h"
#include "core/cluster/server.h"
#include "core/env/fault_env.h"
#include "core/storage/object_store.h"
#include "sim/ns3_env.h"
#include "sim/pod_network.h"
#include "sim/workload.h"

namespace edgebed::sim {
namespace {

// The cluster's join token: the simulation's own, never a real secret.
constexpr const char* kToken =
    "K10" "5e1f0000000000000000000000000000000000000000000000000000000000ed" "::server:simulated-cluster";

constexpr Duration kTick = std::chrono::seconds(1);  // directory, routes and health
constexpr Duration kBootSpread = std::chrono::seconds(5);
constexpr Duration kJoinWait = std::chrono::seconds(60);

ns3::Time ToNs3(Time t) { return ns3::NanoSeconds(ToNanos(t)); }

QuantileSummary Quantiles(std::vector<double> v) {
  QuantileSummary q;
  q.count = v.size();
  if (v.empty()) return q;
  std::sort(v.begin(), v.end());
  auto at = [&](double p) { return v[std::min(v.size() - 1, static_cast<size_t>(std::ceil(p * v.size())) - (p > 0 ? 1 : 0))]; };
  q.p50 = at(0.5);
  q.p99 = at(0.99);
  q.max = v.back();
  return q;
}

const char* KindName(Fault::Kind k) {
  switch (k) {
    case Fault::Kind::kNodeCrash: return "node-crash";
    case Fault::Kind::kLinkDown: return "link-down";
    case Fault::Kind::kPartition: return "partition";
    case Fault::Kind::kLatencySpike: return "latency-spike";
    case Fault::Kind::kDiskFailure: return "disk-failure";
    case Fault::Kind::kServerLoss: return "server-loss";
  }
  return "?";
}

}  // namespace

class Simulation::Impl final : public PodRouter {
 public:
  Impl(const Scenario& s, MetricsSink& sink, SimulationOptions options)
      : s_(s), sink_(sink), options_(std::move(options)) {}

  ~Impl() override {
    // Objects on nodes go before the world that holds their timers.
    nodes_.clear();
    server_.reset();
    server_env_.reset();
    object_store_.reset();
    object_store_env_.reset();
    world_.reset();
  }

  StatusOr<SimulationSummary> Run() {
    world_ = std::make_unique<Ns3World>(s_.seed, sink_);
    auto topology = Topology::Build(s_, MixSeed(s_.seed, 0x7090), options_.routing);
    if (!topology.ok()) return topology.status();
    topo_ = std::move(*topology);
    for (const Host& h : topo_->nodes()) world_->AddNode(h.node, h.address, EnvOptions(h));
    server_id_ = world_->AddNode(topo_->server().node, topo_->server().address, EnvOptions(topo_->server()));
    object_store_id_ =
        world_->AddNode(topo_->object_store().node, topo_->object_store().address, EnvOptions(topo_->object_store()));

    nodes_.resize(s_.nodes.size());
    server_env_ = std::make_unique<FaultEnv>(world_->env(server_id_), plan_);
    // The cloud's object store, where cloud snapshot schedules back volumes up.
    object_store_env_ = std::make_unique<FaultEnv>(world_->env(object_store_id_), plan_);
    object_store_ = std::make_unique<storage::ObjectStoreServer>(*object_store_env_);
    StartServer();
    for (NodeId id = 0; id < nodes_.size(); ++id) {
      const Duration boot = world_->env(id).random().UniformDuration(Duration(0), kBootSpread);
      ns3::Simulator::Schedule(ToNs3(Time(boot)), [this, id] { StartNode(id); });
    }
    ns3::Simulator::Schedule(ToNs3(Time(kTick)), [this] { Tick(); });
    ns3::Simulator::Schedule(ToNs3(Time(s_.metrics_interval)), [this] { Sample(); });
    for (size_t i = 0; i < s_.faults.size(); ++i)
      ns3::Simulator::Schedule(ToNs3(Time(s_.faults[i].at)), [this, i] { Strike(i); });
    faults_.resize(s_.faults.size());
    for (size_t i = 0; i < s_.faults.size(); ++i) {
      faults_[i].fault = s_.faults[i].Describe();
      faults_[i].at = Time(s_.faults[i].at);
    }

    const Time end = Time(s_.duration);
    while (world_->now() < end) {
      world_->RunUntil(std::min(end, world_->now() + options_.progress_step));
      if (options_.on_progress) options_.on_progress(MakeProgress());
    }
    Sample();  // the last interval, even when it is short
    return Summarize();
  }

  // PodRouter: pod CIDRs as the agents hold them (routes as BGP would spread them).
  NodeId NodeOf(uint32_t ip) override {
    auto it = routes_.find(ip >> (32 - s_.cluster.node_cidr_prefix));
    return it == routes_.end() ? kNoNode : it->second;
  }

 private:
  struct NodeSlot {
    std::unique_ptr<FaultEnv> env;
    std::unique_ptr<NodeResources> resources;
    std::unique_ptr<PodNetwork> net;
    std::unique_ptr<SimRuntime> runtime;
    std::unique_ptr<cluster::Agent> agent;
    std::string pod_cidr;  // as last routed
    // The gateway of the node's pod range: an address of the node's own that
    // every pod reaches, where its node ports answer (0 until routed).
    uint32_t address = 0;
    bool up = false;
  };

  static Ns3EnvOptions EnvOptions(const Host& h) {
    Ns3EnvOptions o;
    o.uplink_bps = h.uplink_bps;
    return o;
  }

  void StartServer() {
    cluster::ServerOptions o;
    o.token = kToken;
    o.cluster_cidr = s_.cluster.cluster_cidr;
    o.node_cidr_prefix = s_.cluster.node_cidr_prefix;
    o.max_volume_blocks = static_cast<uint32_t>(s_.cluster.volume_blocks_max);
    o.object_store = object_store_id_;
    server_ = std::make_unique<cluster::Server>(*server_env_, o);
    server_->Start([this](Status st) {
      if (!st.ok()) server_env_->RecordEvent("sim.server_failed", st.ToString());
    });
  }

  void StartNode(NodeId id) {
    NodeSlot& n = nodes_[id];
    const GeneratedNode& g = s_.nodes[id];
    n.env = std::make_unique<FaultEnv>(world_->env(id), plan_);
    const auto cpu = g.node.allocatable.find("cpu");
    n.resources = std::make_unique<NodeResources>(
        *n.env, cpu == g.node.allocatable.end() ? 1.0 : static_cast<double>(cpu->second.MilliValue()) / 1000);
    n.net = std::make_unique<PodNetwork>(*n.env, *this, [this, id]() -> policy::Dataplane* {
      NodeSlot& slot = nodes_[id];
      return slot.agent ? slot.agent->dataplane() : nullptr;
    });
    n.net->set_services(
        [this, id]() -> const policy::ServiceTable* {
          NodeSlot& slot = nodes_[id];
          return slot.agent ? &slot.agent->services() : nullptr;
        },
        g.node.meta.name,
        [this, id]() -> uint32_t { return nodes_[id].address; });
    n.net->EnableIds(policy::IdsOptions{});
    n.net->set_deny_observer([this, id](const policy::Packet& p, bool at_egress, const policy::Verdict&) {
      OnDenied(id, p, at_egress);
    });
    n.runtime = std::make_unique<SimRuntime>(*n.env, s_, PlaceOf(s_, g), *n.net, *n.resources, directory_, stats_);
    cluster::AgentOptions o;
    o.token = kToken;
    o.server = server_id_;
    o.node = g.node;
    n.agent = std::make_unique<cluster::Agent>(*n.env, o, *n.runtime);
    if (Status st = n.agent->Start(); !st.ok()) n.env->RecordEvent("sim.agent_failed", st.ToString());
    n.up = true;
  }

  void StopNode(NodeId id) {
    NodeSlot& n = nodes_[id];
    if (n.agent) {
      lost_writes_acked_ += n.agent->storage().stats().writes_acked;
      lost_blocks_resynced_ += n.agent->storage().stats().blocks_resynced;
    }
    if (n.net) {
      lost_.flows_allowed += n.net->stats().flows_allowed;
      lost_.flows_denied += n.net->stats().flows_denied;
      if (n.net->ids()) lost_alerts_ += n.net->ids()->alerts().size();
    }
    n.agent.reset();
    n.runtime.reset();
    n.net.reset();
    n.resources.reset();
    n.env.reset();
    n.pod_cidr.clear();
    n.address = 0;
    n.up = false;
  }

  // Who a pod address is, for events a person reads.
  std::string NameOf(uint32_t ip) const {
    auto it = names_.find(ip);
    return it == names_.end() ? FormatIpv4(ip) : it->second;
  }

  void OnDenied(NodeId node, const policy::Packet& p, bool at_egress) {
    // One event per flow a minute: a device retrying forever is one line a minute.
    const auto key = std::make_tuple(p.src, p.dst, p.dst_port);
    const Time now = world_->now();
    auto [it, inserted] = denied_seen_.try_emplace(key, now);
    if (!inserted && now - it->second < std::chrono::minutes(1)) return;
    it->second = now;
    world_->env(node).RecordEvent("policy.denied", "from=" + NameOf(p.src) + " to=" + NameOf(p.dst) +
                                                       " port=" + std::to_string(p.dst_port) +
                                                       " at=" + (at_egress ? "egress" : "ingress"));
  }

  // ---- every second: routes, endpoints, health ----------------------------------

  void Tick() {
    for (NodeId id = 0; id < nodes_.size(); ++id) {
      NodeSlot& n = nodes_[id];
      if (!n.agent || n.agent->pod_cidr().empty() || n.agent->pod_cidr() == n.pod_cidr) continue;
      IpPrefix prefix;
      std::string why;
      if (!ParseCidr(n.agent->pod_cidr(), &prefix, &why)) continue;
      n.pod_cidr = n.agent->pod_cidr();
      n.address = prefix.v4() + 1;
      routes_[prefix.v4() >> (32 - s_.cluster.node_cidr_prefix)] = id;
    }
    // One look at the server's pods and nodes serves the directory and the
    // health check alike.
    std::optional<ClusterView> view;
    if (server_ && server_->serving()) {
      view.emplace();
      view->pods = server_->Pods();
      for (const cluster::NodeInfo& n : server_->Nodes()) view->ready[n.name] = n.ready;
      RefreshDirectory(*view);
    }
    MaybeApply();
    CheckHealth(view);
    ns3::Simulator::Schedule(ToNs3(Time(kTick)), [this] { Tick(); });
  }

  // What the server says of its pods and nodes at one moment.
  struct ClusterView {
    std::vector<cluster::PodInfo> pods;
    std::map<std::string, bool> ready;  // node -> Ready
  };

  void RefreshDirectory(const ClusterView& view) {
    const std::map<std::string, bool>& ready = view.ready;
    std::vector<Directory::Pod> pods;
    names_.clear();
    pods_running_ = pods_total_ = 0;
    for (const cluster::PodInfo& p : view.pods) {
      if (p.phase != "Succeeded" && p.phase != "Failed") ++pods_total_;
      auto ip = ParseIpv4(p.ip);
      if (ip) names_[*ip] = p.namespace_ + "/" + p.name;
      if (p.phase != "Running") continue;
      ++pods_running_;
      auto r = ready.find(p.node);
      if (ip && r != ready.end() && r->second) pods.push_back(Directory::Pod{p.namespace_, p.name, p.labels, *ip});
    }
    directory_.Replace(std::move(pods));
  }

  int JoinedCount() const {
    int joined = 0;
    for (const NodeSlot& n : nodes_)
      if (n.agent && n.agent->joined()) ++joined;
    return joined;
  }

  void MaybeApply() {
    if (applied_ || !server_ || !server_->serving()) return;
    const bool all = JoinedCount() == static_cast<int>(nodes_.size());
    if (!all && world_->now() < Time(kJoinWait)) return;
    applied_ = true;
    joined_after_ = world_->now().time_since_epoch();
    server_env_->RecordEvent("sim.apply", "manifests=" + std::to_string(s_.manifests.size()) +
                                              " joined=" + std::to_string(JoinedCount()));
    apply_started_ = world_->now();
    ApplyNext(0);
  }

  void ApplyNext(size_t i) {
    if (i >= s_.manifests.size()) applies_done_ = true;
    if (i >= s_.manifests.size() || !server_) return;
    server_->Apply(s_.manifests[i].second, s_.manifests[i].first, [this, i](cluster::ApplyResult r) {
      for (const model::Diagnostic& e : r.errors) {
        apply_errors_.push_back(e.ToString());
        server_env_->RecordEvent("sim.apply_error", e.ToString());
      }
      if (!r.status.ok() && r.errors.empty()) apply_errors_.push_back(s_.manifests[i].first + ": " + r.status.ToString());
      ApplyNext(i + 1);
    });
  }

  // Whole: the server serves, every up node is joined and Ready, and every
  // pod is Running on one of them.
  bool Healthy(const std::optional<ClusterView>& view) {
    if (!view || !applied_) return false;
    std::map<std::string, bool> ready = view->ready;
    for (NodeId id = 0; id < nodes_.size(); ++id) {
      if (!nodes_[id].up) {
        // Its pods run nowhere, whatever the server has yet to notice.
        ready[s_.nodes[id].node.meta.name] = false;
        continue;
      }
      auto r = ready.find(s_.nodes[id].node.meta.name);
      if (r == ready.end() || !r->second) return false;
    }
    std::map<std::string, int> owned;  // "ns/Deployment/name" -> pods Running
    for (const cluster::PodInfo& p : view->pods) {
      if (p.phase == "Succeeded") continue;
      if (p.phase != "Running") return false;
      auto r = ready.find(p.node);
      if (r == ready.end() || !r->second) return false;
      if (!p.owner.empty()) ++owned[p.namespace_ + "/" + p.owner];
    }
    // Every Deployment has its replicas (right after an apply, before the
    // controller has made them, there are simply fewer pods).
    for (const cluster::StoredObject& o : server_->List("Deployment")) {
      if (owned[o.namespace_ + "/Deployment/" + o.name] < Replicas(o)) return false;
    }
    return applies_done_;
  }

  int Replicas(const cluster::StoredObject& o) {
    auto& [revision, replicas] = replicas_[o.namespace_ + "/" + o.name];
    if (revision != o.resource_version) {
      revision = o.resource_version;
      replicas = 0;
      model::LoadResult r = model::LoadManifests(o.manifest, "deployment");
      for (const model::Object& object : r.objects)
        if (const auto* d = std::get_if<model::Deployment>(&object)) replicas = d->replicas;
    }
    return replicas;
  }

  void CheckHealth(const std::optional<ClusterView>& view) {
    const bool healthy = Healthy(view);
    if (healthy && !all_running_after_ && applied_) {
      all_running_after_ = world_->now() - apply_started_;
      server_env_->RecordEvent("sim.all_running", "after_s=" + std::to_string(ToSeconds(*all_running_after_)));
    }
    if (!awaiting_) return;
    if (!healthy) {
      broken_since_fault_ = true;
      return;
    }
    // A fault the cluster has not (yet) noticed has nothing to recover from;
    // once it is undone, being whole at once is a recovery of 0 s.
    if (!broken_since_fault_ && !faults_[*awaiting_].undone) return;
    const size_t i = *awaiting_;
    const Duration took = world_->now() - awaiting_since_;
    faults_[i].recovery = took;
    const Fault& f = s_.faults[i];
    sink_.Record(MetricSample{world_->now(), kNoNode, "sim.fault_recovery_s", ToSeconds(took),
                              "fault=" + std::to_string(i + 1) + ",kind=" + KindName(f.kind) +
                                  (f.target.empty() ? "" : ",target=" + f.target)});
    awaiting_.reset();
  }

  void AwaitRecovery(size_t i) {
    awaiting_ = i;
    awaiting_since_ = world_->now();
    broken_since_fault_ = false;
    faults_[i].recovery.reset();
  }

  // ---- faults -----------------------------------------------------------------------

  NodeId NodeNamed(const std::string& name) const {
    for (NodeId id = 0; id < s_.nodes.size(); ++id)
      if (s_.nodes[id].node.meta.name == name) return id;
    return kNoNode;
  }

  void Strike(size_t i) {
    const Fault& f = s_.faults[i];
    sink_.Event(EventRecord{world_->now(), kNoNode, "sim.fault_start", "fault=" + std::to_string(i + 1) + " " + f.Describe()});
    Apply(f, /*undo=*/false);
    AwaitRecovery(i);
    if (f.duration)
      ns3::Simulator::Schedule(ToNs3(Time(*f.duration)), [this, i] {
        const Fault& g = s_.faults[i];
        sink_.Event(EventRecord{world_->now(), kNoNode, "sim.fault_end", "fault=" + std::to_string(i + 1) + " " + g.Describe()});
        Apply(g, /*undo=*/true);
        faults_[i].undone = world_->now();
        AwaitRecovery(i);
      });
  }

  void Apply(const Fault& f, bool undo) {
    switch (f.kind) {
      case Fault::Kind::kNodeCrash: {
        const NodeId id = NodeNamed(f.target);
        if (id == kNoNode) return;
        if (!undo) {
          StopNode(id);
          world_->Crash(id);
        } else {
          world_->Restart(id);
          StartNode(id);
        }
        return;
      }
      case Fault::Kind::kDiskFailure: {
        const NodeId id = NodeNamed(f.target);
        if (id != kNoNode) plan_.FailDisk(id, !undo);
        return;
      }
      case Fault::Kind::kLinkDown:
      case Fault::Kind::kPartition: {
        if (ProfiledChannel* link = topo_->Link(f.target)) link->SetUp(undo);
        return;
      }
      case Fault::Kind::kLatencySpike: {
        if (ProfiledChannel* link = topo_->Link(f.target)) link->SetExtraDelay(undo ? Duration(0) : f.extra_delay);
        return;
      }
      case Fault::Kind::kServerLoss:
        if (!undo) {
          server_.reset();
          world_->Crash(server_id_);
        } else {
          world_->Restart(server_id_);
          StartServer();
        }
        return;
    }
  }

  // ---- samples ------------------------------------------------------------------------

  void Record(const std::string& name, double value, const std::string& labels = {}) {
    sink_.Record(MetricSample{world_->now(), kNoNode, name, value, labels});
  }

  void Sample() {
    const Time now = world_->now();
    const Duration window = now - last_sample_;
    if (window <= Duration(0)) return;
    // Cluster.
    if (server_ && server_->serving()) {
      std::map<std::string, int> phases;
      for (const cluster::PodInfo& p : server_->Pods()) ++phases[p.phase];
      for (const char* phase : {"Pending", "Running", "Succeeded", "Failed"})
        Record("cluster.pods", phases[phase], std::string("phase=") + phase);
      int ready = 0;
      for (const cluster::NodeInfo& n : server_->Nodes()) ready += n.ready ? 1 : 0;
      Record("cluster.nodes_ready", ready);
      // Storage: replicas in and out of sync over every volume.
      int in_sync = 0, out_of_sync = 0, volumes = 0;
      for (const cluster::StoredObject& o : server_->List("PersistentVolumeClaim")) {
        const storage::VolumeRecord* v = server_->volumes().Find(o.namespace_ + "/" + o.name);
        if (!v) continue;
        ++volumes;
        in_sync += static_cast<int>(v->in_sync.size());
        out_of_sync += static_cast<int>(v->replicas.size() - v->in_sync.size());
        // Used space as the primary's replica holds it, against the modelled
        // size: the series a capacity forecast is made from. Not sampled while
        // the primary's node is down.
        const std::string labels = "volume=" + v->layout.name;
        const double block = v->layout.block_size;
        Record("storage.volume_size_bytes", block * v->layout.blocks, labels);
        if (v->primary < nodes_.size() && nodes_[v->primary].agent) {
          StatusOr<uint64_t> data = nodes_[v->primary].agent->storage().DataBlocks(v->layout.name);
          if (data.ok()) Record("storage.volume_used_bytes", block * static_cast<double>(*data), labels);
        }
      }
      Record("storage.volumes", volumes);
      Record("storage.replicas_in_sync", in_sync);
      Record("storage.replicas_out_of_sync", out_of_sync);
      // The recovery point each volume has in the cloud: how much of its
      // history a restore from there would lose, were the building lost now.
      std::optional<double> rpo_now;
      for (const cluster::CloudBackupInfo& b : server_->CloudBackups()) {
        const int64_t since = b.newest_ready_ns >= 0 ? b.newest_ready_ns : b.since_ns;
        const double rpo = ToSeconds(Duration(ToNanos(now) - since));
        Record("storage.cloudsnap_rpo_s", rpo, "volume=" + b.volume);
        rpo_now = std::max(rpo_now.value_or(0), rpo);
        if (b.newest_ready_ns >= 0) rpo_worst_ = std::max(rpo_worst_.value_or(0), rpo);
        cloud_volumes_.insert(b.volume);
      }
      rpo_end_ = rpo_now;
    }
    // Replication: writes every in-sync replica acknowledged, and blocks
    // copied to replicas catching up, over the window.
    uint64_t acked = lost_writes_acked_, resynced = lost_blocks_resynced_;
    for (const NodeSlot& n : nodes_) {
      if (!n.agent) continue;
      acked += n.agent->storage().stats().writes_acked;
      resynced += n.agent->storage().stats().blocks_resynced;
    }
    Record("storage.replicated_writes_per_s", static_cast<double>(acked - std::min(acked, last_acked_)) / ToSeconds(window));
    Record("storage.resync_blocks_per_s", static_cast<double>(resynced - std::min(resynced, last_resynced_)) / ToSeconds(window));
    last_acked_ = std::max(last_acked_, acked);
    last_resynced_ = std::max(last_resynced_, resynced);
    // Policy and nodes.
    PodNetworkStats net;
    double busy = 0, cores = 0, cpu_max = 0;
    int64_t memory_max = 0;
    uint64_t alerts = 0;
    for (NodeId id = 0; id < nodes_.size(); ++id) {
      NodeSlot& n = nodes_[id];
      if (!n.net) continue;
      const PodNetworkStats& s = n.net->stats();
      net.flows_allowed += s.flows_allowed;
      net.flows_denied += s.flows_denied;
      net.delivered += s.delivered;
      net.sent += s.sent;
      if (n.net->ids()) alerts += n.net->ids()->alerts().size();
      const double b = n.resources->busy_core_seconds();
      double& last = last_busy_[id];
      const double used = std::max(0.0, b - last) / ToSeconds(window);
      last = b;
      busy += used;
      cores += n.resources->cores();
      cpu_max = std::max(cpu_max, used / n.resources->cores());
      memory_max = std::max(memory_max, n.resources->memory_bytes);
    }
    // Counters restart with a node; keep totals monotonic across crashes.
    const uint64_t allowed = net.flows_allowed + lost_.flows_allowed, denied = net.flows_denied + lost_.flows_denied;
    Record("policy.flows_allowed", static_cast<double>(allowed - std::min(allowed, last_allowed_)));
    Record("policy.flows_denied", static_cast<double>(denied - std::min(denied, last_denied_)));
    last_allowed_ = std::max(last_allowed_, allowed);
    last_denied_ = std::max(last_denied_, denied);
    ids_alerts_ = std::max(ids_alerts_, alerts + lost_alerts_);
    Record("policy.ids_alerts", static_cast<double>(ids_alerts_));
    Record("node.cpu_utilisation", cores > 0 ? busy / cores : 0, "stat=mean");
    Record("node.cpu_utilisation", cpu_max, "stat=max");
    Record("node.memory_bytes", static_cast<double>(memory_max), "stat=max");
    // Links by level: share of the window each direction spent sending.
    std::map<std::string, std::pair<double, double>> by_level;  // level -> (max, sum) and count below
    std::map<std::string, int> count;
    for (size_t i = 0; i < topo_->links().size(); ++i) {
      const NamedLink& l = topo_->links()[i];
      if (!l.channel) continue;
      for (int d = 0; d < 2; ++d) {
        const LinkCounters now_c = l.channel->counters(d);
        LinkCounters& prev = last_links_[i * 2 + d];
        const double u = Utilisation(prev, now_c, window);
        prev = now_c;
        auto& [mx, sum] = by_level[l.level];
        mx = std::max(mx, u);
        sum += u;
        ++count[l.level];
      }
    }
    for (const auto& [level, v] : by_level) {
      Record("net.link_utilisation", v.first, "level=" + level + ",stat=max");
      Record("net.link_utilisation", v.second / count[level], "level=" + level + ",stat=mean");
    }
    // Workloads.
    for (auto& [name, c] : stats_.by_workload) {
      const std::string w = "workload=" + name;
      Record("workload.messages_sent", static_cast<double>(c.messages_sent), w);
      Record("workload.messages_received", static_cast<double>(c.messages_received), w);
      Record("workload.connect_failures", static_cast<double>(c.connect_failures), w);
      auto quantiles = [&](const char* metric, std::vector<double>& v, std::vector<double>& all) {
        if (v.empty()) return;
        const QuantileSummary q = Quantiles(v);
        Record(metric, q.p50, w + ",quantile=0.5");
        Record(metric, q.p99, w + ",quantile=0.99");
        all.insert(all.end(), v.begin(), v.end());
        v.clear();
      };
      quantiles("workload.publish_latency_ms", c.publish_ms, all_publish_);
      quantiles("workload.e2e_latency_ms", c.e2e_ms, all_e2e_);
      quantiles("storage.write_latency_ms", c.write_ms, all_write_);
      for (double s : c.model_load_s) Record("workload.model_load_s", s, w);
      c.model_load_s.clear();
      for (double s : c.job_s) Record("workload.job_s", s, w);
      c.job_s.clear();
      if (c.jobs_done) Record("workload.jobs_done", static_cast<double>(c.jobs_done), w);
      if (c.volume_writes) Record("storage.writes", static_cast<double>(c.volume_writes), w);
    }
    last_sample_ = now;
    if (now < Time(s_.duration)) ns3::Simulator::Schedule(ToNs3(Time(s_.metrics_interval)), [this] { Sample(); });
  }

  Progress MakeProgress() const {
    Progress p;
    p.now = world_->now();
    p.duration = s_.duration;
    p.events = ns3::Simulator::GetEventCount();
    p.nodes_joined = JoinedCount();
    p.pods_running = pods_running_;
    p.pods_total = pods_total_;
    return p;
  }

  SimulationSummary Summarize() {
    SimulationSummary out;
    out.nodes = s_.nodes.size();
    out.routers = topo_->router_count();
    out.events = ns3::Simulator::GetEventCount();
    out.joined_after = joined_after_;
    out.all_running_after = all_running_after_;
    out.apply_errors = apply_errors_;
    if (server_ && server_->serving()) {
      for (const cluster::PodInfo& p : server_->Pods()) {
        const bool finished = p.phase == "Succeeded" || p.phase == "Failed";
        out.pods_finished += finished ? 1 : 0;
        out.pods_total += finished ? 0 : 1;
        out.pods_running += p.phase == "Running" ? 1 : 0;
      }
      for (const cluster::NodeInfo& n : server_->Nodes()) out.nodes_ready += n.ready ? 1 : 0;
    }
    out.flows_allowed = last_allowed_;
    out.flows_denied = last_denied_;
    out.ids_alerts = ids_alerts_;
    for (const auto& [name, c] : stats_.by_workload) {
      out.messages_sent += c.messages_sent;
      out.messages_received += c.messages_received;
      out.inference_requests += c.requests_done;
      out.volume_writes += c.volume_writes;
      out.volume_write_errors += c.volume_write_errors;
    }
    out.publish_ms = Quantiles(all_publish_);
    out.e2e_ms = Quantiles(all_e2e_);
    out.volume_write_ms = Quantiles(all_write_);
    out.cloud_volumes = static_cast<int>(cloud_volumes_.size());
    out.rpo_end_s = rpo_end_;
    out.rpo_worst_s = rpo_worst_;
    out.faults = faults_;
    return out;
  }

  const Scenario& s_;
  MetricsSink& sink_;
  SimulationOptions options_;
  std::unique_ptr<Ns3World> world_;
  std::unique_ptr<Topology> topo_;
  FaultPlan plan_;
  std::vector<NodeSlot> nodes_;
  NodeId server_id_ = kNoNode, object_store_id_ = kNoNode;
  std::unique_ptr<FaultEnv> server_env_, object_store_env_;
  std::unique_ptr<storage::ObjectStoreServer> object_store_;
  std::set<std::string> cloud_volumes_;  // with a cloud schedule, ever
  std::optional<double> rpo_end_, rpo_worst_;
  std::unique_ptr<cluster::Server> server_;
  std::unordered_map<uint32_t, NodeId> routes_;  // pod CIDR (shifted) -> node
  Directory directory_;
  std::unordered_map<uint32_t, std::string> names_;
  WorkloadStats stats_;
  std::map<std::tuple<uint32_t, uint32_t, uint16_t>, Time> denied_seen_;
  bool applied_ = false, applies_done_ = false;
  std::map<std::string, std::pair<cluster::Revision, int>> replicas_;  // Deployment -> (revision, replicas)
  Time apply_started_{};
  Duration joined_after_{0};
  std::optional<Duration> all_running_after_;
  std::vector<std::string> apply_errors_;
  int pods_running_ = 0, pods_total_ = 0;
  std::vector<FaultReport> faults_;
  std::optional<size_t> awaiting_;
  Time awaiting_since_{};
  bool broken_since_fault_ = false;  // the cluster was not whole since awaiting_since_
  // Sampling state.
  Time last_sample_{};
  std::map<NodeId, double> last_busy_;
  std::map<size_t, LinkCounters> last_links_;
  PodNetworkStats lost_;
  uint64_t last_allowed_ = 0, last_denied_ = 0, ids_alerts_ = 0, lost_alerts_ = 0;
  uint64_t lost_writes_acked_ = 0, lost_blocks_resynced_ = 0, last_acked_ = 0, last_resynced_ = 0;
  std::vector<double> all_publish_, all_e2e_, all_write_;
};

Simulation::Simulation(const Scenario& scenario, MetricsSink& sink, SimulationOptions options)
    : impl_(std::make_unique<Impl>(scenario, sink, std::move(options))) {}
Simulation::~Simulation() = default;
StatusOr<SimulationSummary> Simulation::Run() { return impl_->Run(); }

}  // namespace edgebed::sim
