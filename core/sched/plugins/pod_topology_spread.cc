// PodTopologySpread: DoNotSchedule constraints filter, ScheduleAnyway ones score.
#include <climits>
#include <cmath>

#include "core/sched/plugins/plugins.h"
#include "core/sched/queue.h"

namespace edgebed::sched::plugins {
namespace {

bool CountsNothing(const model::TopologySpreadConstraint& c) {
  // Upstream counts no pod for an absent or empty ({}) selector.
  return !c.label_selector || c.label_selector->Empty();
}

class PodTopologySpread final : public Plugin {
 public:
  explicit PodTopologySpread(const PluginContext& c) : cluster_(*c.cluster) {}
  const char* name() const override { return "PodTopologySpread"; }

  bool PreFilter(CycleState& s) override {
    auto& hard = s.spread.hard;
    hard.clear();
    PodState& p = *s.pod;
    std::vector<size_t> which;
    for (size_t i = 0; i < p.constraints.size(); ++i) {
      if (p.constraints[i].when_unsatisfiable == "DoNotSchedule") which.push_back(i);
    }
    if (which.empty()) return false;
    const bool fast = p.node_affinity_signature.empty() && (which.size() == 1 || EveryNodeHasKeys(p, which));
    for (size_t i : which) {
      const auto& c = p.constraints[i];
      const Term& t = p.constraint_terms[i];
      CycleState::Spread::Constraint k = Prepared(p, i);
      k.self_match = c.label_selector && model::Matches(*c.label_selector, p.pod.meta.labels) ? 1 : 0;
      std::vector<int32_t> present;
      if (fast) {
        if (!k.counts_nothing) k.counts = &cluster_.Counts(t);
        present = cluster_.nodes_per_value(t.key);
      } else {
        k.domain_count.assign(cluster_.value_count(t.key), 0);
        present.assign(k.domain_count.size(), 0);
        const std::vector<uint8_t>* mask =
            p.node_affinity_signature.empty() ? nullptr : &cluster_.NodeAffinityMask(p);
        for (NodeState* n : cluster_.node_list()) {
          if (mask && !(*mask)[n->slot]) continue;
          bool has_all = true;
          for (size_t j : which) has_all = has_all && n->TopoValue(p.constraint_terms[j].key) >= 0;
          if (!has_all) continue;
          const int v = n->TopoValue(t.key);
          present[v] = 1;
          if (k.counts_nothing) continue;
          for (const PodState* e : n->pods) k.domain_count[v] += cluster_.Covers(t, *e) ? 1 : 0;
        }
      }
      int64_t domains = 0;
      int32_t min = INT32_MAX;
      for (size_t v = 0; v < present.size(); ++v) {
        if (!present[v]) continue;
        ++domains;
        min = std::min(min, Count(k, static_cast<int>(v)));
      }
      if (domains < std::max<int64_t>(1, c.min_domains.value_or(1))) min = 0;
      k.min_count = min;
      hard.push_back(std::move(k));
    }
    return true;
  }

  bool Filter(const CycleState& s, const NodeState& n, NodeStatus* st) const override {
    for (const auto& k : s.spread.hard) {
      const int v = n.TopoValue(k.key);
      if (v < 0) {
        st->Add("node(s) didn't match pod topology spread constraints (missing required label)");
        st->unresolvable = true;
        return false;
      }
      if (static_cast<int64_t>(Count(k, v)) + k.self_match - k.min_count > k.max_skew) {
        st->Add("node(s) didn't match pod topology spread constraints");
        return false;
      }
    }
    return true;
  }
  uint32_t HelpfulEvents() const override {
    return kPodAdd | kPodDelete | kNodeAdd | kNodeUpdate | kNodeDelete;
  }

  bool PreScore(CycleState& s, const std::vector<NodeState*>& feasible) override {
    auto& sp = s.spread;
    sp.soft.clear();
    PodState& p = *s.pod;
    std::vector<size_t> which;
    for (size_t i = 0; i < p.constraints.size(); ++i) {
      if (p.constraints[i].when_unsatisfiable == "ScheduleAnyway") which.push_back(i);
    }
    if (which.empty() || feasible.empty()) return false;
    sp.require_all = !p.system_default_spread;
    sp.ignored.assign(feasible.size(), 0);
    const auto has_all_keys = [&](const NodeState& n) {
      for (size_t i : which) {
        if (n.TopoValue(p.constraint_terms[i].key) < 0) return false;
      }
      return true;
    };
    int64_t not_ignored = 0;
    for (size_t f = 0; f < feasible.size(); ++f) {
      sp.ignored[f] = sp.require_all && !has_all_keys(*feasible[f]);
      not_ignored += sp.ignored[f] ? 0 : 1;
    }
    const bool fast = p.node_affinity_signature.empty() && (!sp.require_all || EveryNodeHasKeys(p, which));
    for (size_t i : which) {
      const auto& c = p.constraints[i];
      const Term& t = p.constraint_terms[i];
      CycleState::Spread::Constraint k = Prepared(p, i);
      k.hostname = c.topology_key == kHostnameLabel;
      std::vector<int32_t> candidate(cluster_.value_count(t.key), 0);
      int64_t size = 0;
      for (size_t f = 0; f < feasible.size(); ++f) {
        if (sp.ignored[f]) continue;
        const int v = feasible[f]->TopoValue(t.key);
        if (v < 0) continue;
        if (!candidate[v]) {
          candidate[v] = 1;
          if (!k.hostname) ++size;
        }
      }
      if (k.hostname) size = not_ignored;
      k.weight = std::log(static_cast<double>(size + 2));
      if (!k.counts_nothing) {
        if (fast || k.hostname) {
          k.counts = &cluster_.Counts(t);
        }
        if (!fast && !k.hostname) {
          k.domain_count.assign(candidate.size(), 0);
          const std::vector<uint8_t>* mask =
              p.node_affinity_signature.empty() ? nullptr : &cluster_.NodeAffinityMask(p);
          for (NodeState* n : cluster_.node_list()) {
            const int v = n->TopoValue(t.key);
            if (v < 0 || !candidate[v]) continue;
            if (mask && !(*mask)[n->slot]) continue;
            if (sp.require_all && !has_all_keys(*n)) continue;
            for (const PodState* e : n->pods) k.domain_count[v] += cluster_.Covers(t, *e) ? 1 : 0;
          }
          k.counts = nullptr;
        }
      }
      sp.soft.push_back(std::move(k));
    }
    return true;
  }

  int64_t Score(const CycleState& s, const NodeState& n) const override {
    // Ignored nodes are told apart in NormalizeScore; here every node is scored.
    double score = 0;
    for (const auto& k : s.spread.soft) {
      const int v = n.TopoValue(k.key);
      if (v < 0) continue;
      int64_t count = 0;
      if (!k.counts_nothing) {
        if (k.hostname && cluster_.nodes_per_value(k.key)[v] != 1) {
          for (const PodState* e : n.pods) count += cluster_.Covers(*k.term, *e) ? 1 : 0;
        } else {
          count = Count(k, v);
        }
      }
      score += static_cast<double>(count) * k.weight + static_cast<double>(k.max_skew - 1);
    }
    return std::llround(score);
  }

  void NormalizeScore(const CycleState& s, const std::vector<NodeState*>&,
                      std::vector<int64_t>& scores) const override {
    const auto& ignored = s.spread.ignored;
    int64_t min = INT64_MAX, max = 0;
    for (size_t i = 0; i < scores.size(); ++i) {
      if (ignored[i]) continue;
      min = std::min(min, scores[i]);
      max = std::max(max, scores[i]);
    }
    for (size_t i = 0; i < scores.size(); ++i) {
      if (ignored[i]) {
        scores[i] = 0;
      } else if (max == 0) {
        scores[i] = 100;
      } else {
        scores[i] = 100 * (max + min - scores[i]) / max;
      }
    }
  }

 private:
  // True if every node has the topology key of each constraint in `which`.
  bool EveryNodeHasKeys(const PodState& p, const std::vector<size_t>& which) const {
    for (size_t i : which) {
      if (cluster_.nodes_with_key(p.constraint_terms[i].key) != static_cast<int>(cluster_.node_count())) {
        return false;
      }
    }
    return true;
  }
  // The fields of constraint i that filtering and scoring share.
  static CycleState::Spread::Constraint Prepared(const PodState& p, size_t i) {
    CycleState::Spread::Constraint k;
    k.key = p.constraint_terms[i].key;
    k.max_skew = p.constraints[i].max_skew;
    k.term = &p.constraint_terms[i];
    k.counts_nothing = CountsNothing(p.constraints[i]);
    return k;
  }
  static int32_t Count(const CycleState::Spread::Constraint& k, int v) {
    if (k.counts_nothing) return 0;
    if (k.counts) return k.counts->At(v);
    return v >= 0 && static_cast<size_t>(v) < k.domain_count.size() ? k.domain_count[v] : 0;
  }

  ClusterState& cluster_;
};

}  // namespace

std::unique_ptr<Plugin> NewPodTopologySpread(const PluginContext& c) {
  return std::make_unique<PodTopologySpread>(c);
}

}  // namespace edgebed::sched::plugins
