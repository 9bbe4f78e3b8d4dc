// InterPodAffinity: required and preferred pod affinity and anti-affinity,
// the incoming pod's and (symmetrically) the bound pods'.
#include "core/sched/plugins/plugins.h"
#include "core/sched/queue.h"

namespace edgebed::sched::plugins {
namespace {

class InterPodAffinity final : public Plugin {
 public:
  explicit InterPodAffinity(const PluginContext& c) : cluster_(*c.cluster), profile_(*c.profile) {}
  const char* name() const override { return "InterPodAffinity"; }

  bool PreFilter(CycleState& s) override {
    CycleState::InterPodAffinity& st = s.ipa;
    PodState& p = *s.pod;
    st = {};
    if (p.req_affinity.size() == 1) {
      const DomainCounts& c = cluster_.Counts(p.req_affinity[0]);
      st.affinity.emplace_back(p.req_affinity[0].key, &c);
      st.affinity_counts_empty = c.total == 0;
    } else if (p.req_affinity.size() > 1) {
      // Pods must match every term at once: rare enough to count directly.
      st.owned.resize(p.req_affinity.size());
      for (NodeState* n : cluster_.node_list()) {
        for (const PodState* e : n->pods) {
          bool all = true;
          for (const Term& t : p.req_affinity) all = all && cluster_.Covers(t, *e);
          if (!all) continue;
          for (size_t i = 0; i < p.req_affinity.size(); ++i) {
            const int v = n->TopoValue(p.req_affinity[i].key);
            if (v < 0) continue;
            auto& by_value = st.owned[i].by_value;
            if (by_value.size() <= static_cast<size_t>(v)) by_value.resize(v + 1, 0);
            ++by_value[v];
            ++st.owned[i].total;
            st.affinity_counts_empty = false;
          }
        }
      }
      for (size_t i = 0; i < p.req_affinity.size(); ++i) {
        st.affinity.emplace_back(p.req_affinity[i].key, &st.owned[i]);
      }
    }
    st.pod_matches_own_terms = !p.req_affinity.empty();
    for (const Term& t : p.req_affinity) {
      st.pod_matches_own_terms = st.pod_matches_own_terms && cluster_.Covers(t, p);
    }
    for (const Term& t : p.req_anti_affinity) st.anti.push_back({&t, &cluster_.Counts(t)});
    for (const auto& g : cluster_.groups()) {
      if (g->kind == TermGroup::kRequiredAnti && cluster_.Covers(g->term, p)) {
        st.existing_anti.push_back(g.get());
      }
    }
    st.skip = st.affinity.empty() && st.anti.empty() && st.existing_anti.empty();
    return !st.skip;
  }

  bool Filter(const CycleState& s, const NodeState& n, NodeStatus* status) const override {
    const CycleState::InterPodAffinity& st = s.ipa;
    if (!st.affinity.empty()) {
      bool pods_exist = true;
      for (const auto& [key, counts] : st.affinity) {
        const int v = n.TopoValue(key);
        if (v < 0) return Fail(status, "node(s) didn't match pod affinity rules", true);
        if (counts->At(v) <= 0) pods_exist = false;
      }
      if (!pods_exist && !(st.affinity_counts_empty && st.pod_matches_own_terms)) {
        return Fail(status, "node(s) didn't match pod affinity rules", true);
      }
    }
    for (const auto& a : st.anti) {
      const int v = n.TopoValue(a.term->key);
      if (v >= 0 && a.counts->At(v) > 0) {
        return Fail(status, "node(s) didn't match pod anti-affinity rules", false);
      }
    }
    for (const TermGroup* g : st.existing_anti) {
      const int v = n.TopoValue(g->term.key);
      if (v >= 0 && g->carriers.At(v) > 0) {
        return Fail(status, "node(s) didn't satisfy existing pods anti-affinity rules", false);
      }
    }
    return true;
  }
  uint32_t HelpfulEvents() const override { return kPodAdd | kPodDelete | kNodeAdd | kNodeUpdate; }

  bool PreScore(CycleState& s, const std::vector<NodeState*>&) override {
    auto& score = s.ipa.score;
    score.clear();
    const PodState& p = *s.pod;
    const bool has_preferred = !p.pref_affinity.empty() || !p.pref_anti_affinity.empty();
    if (profile_.ignore_preferred_terms_of_existing_pods && !has_preferred) return false;
    for (const Term& t : p.pref_affinity) score.push_back({t.key, t.term.weight, &cluster_.Counts(t)});
    for (const Term& t : p.pref_anti_affinity) {
      score.push_back({t.key, -int64_t{t.term.weight}, &cluster_.Counts(t)});
    }
    if (cluster_.pods_with_terms() > 0) {
      for (const auto& g : cluster_.groups()) {
        int64_t weight = 0;
        switch (g->kind) {
          case TermGroup::kRequiredAffinity:
            weight = profile_.hard_pod_affinity_weight;
            break;
          case TermGroup::kRequiredAnti:
            break;
          case TermGroup::kPreferredAffinity:
            if (!profile_.ignore_preferred_terms_of_existing_pods) weight = g->term.term.weight;
            break;
          case TermGroup::kPreferredAnti:
            if (!profile_.ignore_preferred_terms_of_existing_pods) weight = -int64_t{g->term.term.weight};
            break;
        }
        if (weight != 0 && cluster_.Covers(g->term, p)) score.push_back({g->term.key, weight, &g->carriers});
      }
    }
    return !score.empty();
  }
  int64_t Score(const CycleState& s, const NodeState& n) const override {
    int64_t sum = 0;
    for (const auto& c : s.ipa.score) sum += c.weight * c.counts->At(n.TopoValue(c.key));
    return sum;
  }
  void NormalizeScore(const CycleState&, const std::vector<NodeState*>&,
                      std::vector<int64_t>& scores) const override {
    if (scores.empty()) return;
    int64_t min = scores[0], max = scores[0];
    for (int64_t v : scores) {
      min = std::min(min, v);
      max = std::max(max, v);
    }
    const int64_t diff = max - min;
    for (int64_t& v : scores) {
      v = diff > 0 ? static_cast<int64_t>(100.0 * static_cast<double>(v - min) / static_cast<double>(diff))
                   : 0;
    }
  }

 private:
  static bool Fail(NodeStatus* status, const char* reason, bool unresolvable) {
    status->Add(reason);
    status->unresolvable = unresolvable;
    return false;
  }

  ClusterState& cluster_;
  const Profile& profile_;
};

}  // namespace

std::unique_ptr<Plugin> NewInterPodAffinity(const PluginContext& c) {
  return std::make_unique<InterPodAffinity>(c);
}

}  // namespace edgebed::sched::plugins
