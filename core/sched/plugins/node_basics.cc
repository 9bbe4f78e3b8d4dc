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
    st->reasons.push_back("node(s) were unschedulable");
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
    st->reasons.push_back("node(s) didn't match the requested node name");
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
        st->reasons.push_back("node(s) didn't have free ports for the requested pod ports");
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
    for (const auto& taint : n.node.taints) {
      if (taint.effect != "NoSchedule" && taint.effect != "NoExecute") continue;
      if (TolerationsTolerate(s.pod->pod.spec.tolerations, taint)) continue;
      st->reasons.push_back("node(s) had untolerated taint {" + taint.key + ": " + taint.value + "}");
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
  const char* name() const override { return "NodeAffinity"; }
  bool PreFilter(CycleState& s) override {
    const model::PodSpec& spec = s.pod->pod.spec;
    return !spec.node_selector.empty() ||
           (spec.affinity.node_affinity && !spec.affinity.node_affinity->required.empty());
  }
  bool Filter(const CycleState& s, const NodeState& n, NodeStatus* st) const override {
    if (RequiredNodeAffinityMatches(s.pod->pod.spec, n.node)) return true;
    st->reasons.push_back("node(s) didn't match Pod's node affinity/selector");
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
std::unique_ptr<Plugin> NewNodeAffinity(const PluginContext&) {
  return std::make_unique<NodeAffinity>();
}

}  // namespace edgebed::sched::plugins
