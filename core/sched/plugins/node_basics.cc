// NodeUnschedulable, NodeName, NodePorts, TaintToleration and NodeAffinity:
// the plugins that judge a node by itself.
#include "core/sched/plugins/plugins.h"
#include "core/sched/queue.h"

namespace edgebed::sched::plugins {
namespace {

class NodeUnschedulable final : public Plugin {
 public:
  const char* name() const override { return "NodeUnschedulable"; }
  bool Filter(const CycleState& s, const NodeState& n, NodeStatus* st) const override {
    if (!n.node.unschedulable) return true;
    static const model::Taint kTaint{kUnschedulableTaintKey, "", "NoSchedule"};
    if (TolerationsTolerate(s.pod->pod.spec.tolerations, kTaint)) return true;
    st->Add("node(s) were unschedulable");
    st->unresolvable = true;
    return false;
  }
  uint32_t HelpfulEvents() const override { return kNodeAdd | kNodeUpdate; }
};

class NodeName final : public Plugin {
 public:
  const char* name() const override { return "NodeName"; }
  bool PreFilter(CycleState& s) override { return !s.pod->pod.spec.node_name.empty(); }
  bool Filter(const CycleState& s, const NodeState& n, NodeStatus* st) const override {
    if (s.pod->pod.spec.node_name == n.node.meta.name) return true;
    st->Add("node(s) didn't match the requested node name");
    st->unresolvable = true;
    return false;
  }
  uint32_t HelpfulEvents() const override { return kNodeAdd; }
};

class NodePorts final : public Plugin {
 public:
  const char* name() const override { return "NodePorts"; }
  bool PreFilter(CycleState& s) override { return !s.pod->host_ports.empty(); }
  bool Filter(const CycleState& s, const NodeState& n, NodeStatus* st) const override {
    for (const auto& port : s.pod->host_ports) {
      if (n.used_ports.count(port)) {
        st->Add("node(s) didn't have free ports for the requested pod ports");
        return false;
      }
    }
    return true;
  }
  uint32_t HelpfulEvents() const override { return kPodDelete | kNodeAdd; }
};

class TaintToleration final : public Plugin {
 public:
  const char* name() const override { return "TaintToleration"; }
  bool Filter(const CycleState& s, const NodeState& n, NodeStatus* st) const override {
    if (!n.hard_taints) return true;
    for (size_t i = 0; i < n.node.taints.size(); ++i) {
      const model::Taint& taint = n.node.taints[i];
      if (taint.effect != "NoSchedule" && taint.effect != "NoExecute") continue;
      if (TolerationsTolerate(s.pod->pod.spec.tolerations, taint)) continue;
      st->Add(n.taint_reasons[i]);
      st->unresolvable = true;
      return false;
    }
    return true;
  }
  uint32_t HelpfulEvents() const override { return kNodeAdd | kNodeUpdate; }

  int64_t Score(const CycleState& s, const NodeState& n) const override {
    int64_t intolerable = 0;
    for (const auto& taint : n.node.taints) {
      if (taint.effect != "PreferNoSchedule") continue;
      bool tolerated = false;
      for (const auto& t : s.pod->pod.spec.tolerations) {
        if ((t.effect.empty() || t.effect == "PreferNoSchedule") && Tolerates(t, taint)) {
          tolerated = true;
          break;
        }
      }
      if (!tolerated) ++intolerable;
    }
    return intolerable;
  }
  void NormalizeScore(const CycleState&, const std::vector<NodeState*>&,
                      std::vector<int64_t>& scores) const override {
    DefaultNormalizeScore(true, scores);
  }
};

class NodeAffinity final : public Plugin {
 public:
  explicit NodeAffinity(const PluginContext& c) : cluster_(*c.cluster) {}
  const char* name() const override { return "NodeAffinity"; }
  bool PreFilter(CycleState& s) override {
    if (s.pod->node_affinity_signature.empty()) return false;
    s.node_affinity_mask = &cluster_.NodeAffinityMask(*s.pod);
    return true;
  }
  bool Filter(const CycleState& s, const NodeState& n, NodeStatus* st) const override {
    if ((*s.node_affinity_mask)[n.slot]) return true;
    st->Add("node(s) didn't match Pod's node affinity/selector");
    st->unresolvable = true;
    return false;
  }
  uint32_t HelpfulEvents() const override { return kNodeAdd | kNodeUpdate; }

  bool PreScore(CycleState& s, const std::vector<NodeState*>&) override {
    const auto& na = s.pod->pod.spec.affinity.node_affinity;
    return na && !na->preferred.empty();
  }
  int64_t Score(const CycleState& s, const NodeState& n) const override {
    int64_t sum = 0;
    for (const auto& p : s.pod->pod.spec.affinity.node_affinity->preferred) {
      if (p.weight != 0 && TermMatches(p.preference, n.node)) sum += p.weight;
    }
    return sum;
  }
  void NormalizeScore(const CycleState&, const std::vector<NodeState*>&,
                      std::vector<int64_t>& scores) const override {
    DefaultNormalizeScore(false, scores);
  }

 private:
  ClusterState& cluster_;
};

}  // namespace

std::unique_ptr<Plugin> NewNodeUnschedulable(const PluginContext&) {
  return std::make_unique<NodeUnschedulable>();
}
std::unique_ptr<Plugin> NewNodeName(const PluginContext&) { return std::make_unique<NodeName>(); }
std::unique_ptr<Plugin> NewNodePorts(const PluginContext&) { return std::make_unique<NodePorts>(); }
std::unique_ptr<Plugin> NewTaintToleration(const PluginContext&) {
  return std::make_unique<TaintToleration>();
}
std::unique_ptr<Plugin> NewNodeAffinity(const PluginContext& c) {
  return std::make_unique<NodeAffinity>(c);
}

}  // namespace edgebed::sched::plugins
