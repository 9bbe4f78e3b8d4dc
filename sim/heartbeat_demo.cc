#include "sim/heartbeat_demo.h"

#include <algorithm>
#include <memory>
#include <set>

#include "core/env/fault_env.h"
#include "core/probe/heartbeat.h"
#include "sim/ns3_env.h"

namespace edgebed::sim {
namespace {

// Passes everything on and keeps the round-trip samples for percentiles.
class RttTap final : public MetricsSink {
 public:
  explicit RttTap(MetricsSink& next) : next_(next) {}
  void Record(const MetricSample& s) override {
    if (s.name == "probe.rtt_ms") rtts_.push_back(s.value);
    next_.Record(s);
  }
  void Event(const EventRecord& e) override { next_.Event(e); }
  std::vector<double>& rtts() { return rtts_; }

 private:
  MetricsSink& next_;
  std::vector<double> rtts_;
};

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

struct Transition {
  Time at;
  NodeId observer, peer;
  PeerState to;
};

}  // namespace

Status HeartbeatDemoOptions::Validate() const {
  EDGEBED_RETURN_IF_ERROR(topology.Validate());
  if (duration < std::chrono::seconds(10)) {
    return InvalidArgument("must be at least 10s so the fault timeline fits", "duration");
  }
  if (drop_rate < 0 || drop_rate >= 0.5) {
    return InvalidArgument("must be in [0, 0.5): beyond that no detector can tell loss from death",
                           "drop_rate");
  }
  if (interval < std::chrono::milliseconds(100) || interval > duration / 10) {
    return InvalidArgument("must be between 100ms and a tenth of the duration", "interval");
  }
  return Status::Ok();
}

StatusOr<HeartbeatDemoReport> RunHeartbeatDemo(const HeartbeatDemoOptions& options,
                                               MetricsSink& sink) {
  EDGEBED_RETURN_IF_ERROR(options.Validate());
  RttTap tap(sink);
  Ns3World world(options.seed, tap);
  auto built = EdgeTopology::Build(options.topology);
  if (!built.ok()) return built.status();
  const EdgeTopology& topology = **built;
  const auto& nodes = topology.edge_nodes();
  const auto n = static_cast<NodeId>(nodes.size());

  FaultPlan plan;
  plan.set_drop_rate(options.drop_rate);
  std::vector<std::unique_ptr<FaultEnv>> envs;
  for (const EdgeNodeInfo& info : nodes) {
    Ns3EnvOptions env_options;
    env_options.uplink_bps = info.uplink_bps;
    envs.push_back(std::make_unique<FaultEnv>(
        world.env(world.AddNode(info.node, info.address, env_options)), plan));
  }

  HeartbeatConfig config;
  config.interval = options.interval;
  config.timeout = options.interval / 4;
  std::vector<Transition> transitions;
  std::vector<std::unique_ptr<Heartbeat>> beats(n);
  std::vector<std::vector<NodeId>> peers(n);
  const NodeId per_floor = static_cast<NodeId>(options.topology.nodes_per_floor);
  const NodeId per_building = per_floor * static_cast<NodeId>(options.topology.floors_per_building);
  auto start = [&](NodeId i) -> Status {
    beats[i] = std::make_unique<Heartbeat>(*envs[i], config);
    beats[i]->set_on_change([&transitions, &world, i](NodeId peer, PeerState, PeerState to) {
      transitions.push_back({world.now(), i, peer, to});
    });
    return beats[i]->Start(peers[i]);
  };
  HeartbeatDemoReport report;
  for (NodeId i = 0; i < n; ++i) {
    std::set<NodeId> chosen{(i + 1) % n, (i + per_floor) % n, (i + per_building) % n};
    chosen.erase(i);
    peers[i].assign(chosen.begin(), chosen.end());
    report.probe_pairs += static_cast<int>(peers[i].size());
    EDGEBED_RETURN_IF_ERROR(start(i));
  }

  // The fault timeline, and which probe pairs each fault must flip.
  const NodeId victim = 0;
  const NodeId side = options.topology.buildings > 1 ? per_building : per_floor;
  const bool one_side = options.topology.buildings > 1 || options.topology.floors_per_building > 1;
  auto crosses = [&](NodeId a, NodeId b) { return (a < side) != (b < side); };
  struct Step {
    double at_fraction;
    std::string name;
    std::function<void()> apply;
    std::function<bool(NodeId observer, NodeId peer)> affected;
    PeerState expect;
  };
  const std::string side_name = options.topology.buildings > 1 ? "building 1" : "floor 1";
  std::vector<Step> steps = {
      {0.30, "partition " + side_name,
       [&] {
         std::vector<NodeId> cut;
         for (NodeId i = 0; i < side && i < n; ++i) cut.push_back(i);
         plan.Partition({cut});
       },
       crosses, PeerState::kDead},
      {0.50, "heal " + side_name, [&] { plan.Heal(); }, crosses, PeerState::kAlive},
      {0.65, "crash " + nodes[victim].Name(),
       [&] {
         world.Crash(victim);
         beats[victim].reset();
       },
       [&](NodeId, NodeId peer) { return peer == victim; }, PeerState::kDead},
      {0.80, "restart " + nodes[victim].Name(),
       [&] {
         world.Restart(victim);
         (void)start(victim);
       },
       [&](NodeId, NodeId peer) { return peer == victim; }, PeerState::kAlive},
  };
  if (!one_side) steps.erase(steps.begin(), steps.begin() + 2);

  const Time t0 = world.now();
  for (size_t s = 0; s < steps.size(); ++s) {
    const Step& step = steps[s];
    const Time at = t0 + Duration(static_cast<int64_t>(
                             static_cast<double>(options.duration.count()) * step.at_fraction));
    world.RunUntil(at);
    step.apply();
    tap.Event(EventRecord{at, kNoNode, "fault.injected", step.name});
    const Time until = s + 1 < steps.size()
                           ? t0 + Duration(static_cast<int64_t>(
                                      static_cast<double>(options.duration.count()) *
                                      steps[s + 1].at_fraction))
                           : t0 + options.duration;
    const size_t first_transition = transitions.size();
    world.RunUntil(until);

    FaultOutcome outcome{step.name, at, 0, 0, Duration::zero(), Duration::zero()};
    std::set<std::pair<NodeId, NodeId>> pending;
    for (NodeId i = 0; i < n; ++i) {
      for (NodeId p : peers[i]) {
        if (step.affected(i, p)) pending.insert({i, p});
      }
    }
    outcome.pairs_affected = static_cast<int>(pending.size());
    for (size_t k = first_transition; k < transitions.size(); ++k) {
      const Transition& t = transitions[k];
      if (t.to != step.expect || !pending.erase({t.observer, t.peer})) continue;
      ++outcome.pairs_changed;
      const Duration since = t.at - at;
      if (outcome.pairs_changed == 1) outcome.first_detected = since;
      outcome.all_detected = since;
    }
    const std::string detail = "fault=\"" + step.name + "\" pairs=" +
                               std::to_string(outcome.pairs_affected) + " changed=" +
                               std::to_string(outcome.pairs_changed);
    tap.Event(EventRecord{until, kNoNode, "fault.outcome", detail});
    tap.Record(MetricSample{until, kNoNode, "fault.detect_all_ms",
                                               ToMillis(outcome.all_detected),
                                               "fault=" + step.name});
    report.faults.push_back(outcome);
  }

  report.edge_nodes = static_cast<int>(n);
  report.routers = static_cast<int>(topology.router_count());
  report.sim_events = ns3::Simulator::GetEventCount();
  const Ns3NetStats net = world.TotalNetStats();
  report.messages_sent = net.messages_sent;
  report.messages_delivered = net.messages_delivered;
  report.datagrams_sent = net.datagrams_sent;
  report.rtt_samples = tap.rtts().size();
  report.rtt_p50_ms = Percentile(tap.rtts(), 0.50);
  report.rtt_p99_ms = Percentile(tap.rtts(), 0.99);
  return report;
}

}  // namespace edgebed::sim
