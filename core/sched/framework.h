// The scheduling framework: the plugin interface and the per-pod cycle
// state, as upstream's framework (PreFilter, Filter, PreScore, Score,
// NormalizeScore), with upstream's plugin names and boundaries so that an
// upstream plugin test maps onto ours one to one. Internal to core/sched.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/sched/cluster_state.h"
#include "core/sched/config.h"
#include "core/sched/volume_placement.h"

namespace edgebed::sched {

// Why a node was rejected: the reasons of the first filter that said no.
// Reasons are views of strings that outlive the cycle (literals, or
// ClusterState::Intern()), kept inline so that rejecting thousands of nodes
// allocates nothing.
struct NodeStatus {
  static constexpr int kMaxReasons = 8;
  std::array<std::string_view, kMaxReasons> reason;  // [0, count) are set
  int count = 0;
  bool unresolvable = false;  // preemption cannot help on this node
  int plugin = -1;            // index of the rejecting filter in the profile

  void Reset() {
    count = 0;
    unresolvable = false;
    plugin = -1;
  }
  void Add(std::string_view r) {
    if (count < kMaxReasons) reason[count++] = r;
  }
  bool empty() const { return count == 0; }
  const std::string_view* begin() const { return reason.data(); }
  const std::string_view* end() const { return reason.data() + count; }
};

// What a plugin computed for the pod being scheduled. One member per
// plugin that keeps state (upstream keys a map by plugin name; a struct
// costs nothing per lookup).
struct CycleState {
  PodState* pod = nullptr;

  // NodeAffinity: by node slot, where the pod's required node rules hold.
  const std::vector<uint8_t>* node_affinity_mask = nullptr;

  struct AffinityTermCounts {
    const Term* term;
    const DomainCounts* counts;
  };
  struct InterPodAffinity {
    bool skip = true;
    // Required affinity: per term, pods that match all the pod's terms, by
    // domain of the term's key (the cache's counts for one term; else built
    // here into `owned`).
    std::vector<std::pair<int, const DomainCounts*>> affinity;
    std::vector<DomainCounts> owned;
    bool affinity_counts_empty = true;
    bool pod_matches_own_terms = false;
    std::vector<AffinityTermCounts> anti;                 // pod's required anti-affinity
    std::vector<const TermGroup*> existing_anti;          // bound pods' anti terms covering the pod
    // Scoring: weight * carriers or covered pods per domain, summed.
    struct Contribution {
      int key;
      int64_t weight;
      const DomainCounts* counts;
    };
    std::vector<Contribution> score;
  } ipa;

  struct Spread {
    struct Constraint {
      int key = -1;
      int32_t max_skew = 1;
      int32_t self_match = 0;
      int32_t min_count = 0;
      // Covered pods per domain: the cache's counts when every node with the
      // key is eligible (`counts`), else counted here (`domain_count`).
      const DomainCounts* counts = nullptr;
      std::vector<int32_t> domain_count;  // by value id
      bool counts_nothing = false;        // absent or empty selector
      bool hostname = false;
      const Term* term = nullptr;
      double weight = 0;                  // score: ln(size + 2)
    };
    std::vector<Constraint> hard;  // DoNotSchedule
    std::vector<Constraint> soft;  // ScheduleAnyway
    bool require_all = true;
    std::vector<int32_t> ignored;  // by feasible index: 1 when ignored
  } spread;

  bool balanced_skip = false;
};

class Plugin {
 public:
  virtual ~Plugin() = default;
  virtual const char* name() const = 0;

  // Filter side. PreFilter returns false when Filter has nothing to check for
  // this pod (upstream's Skip).
  virtual bool PreFilter(CycleState&) { return true; }
  // True if the node passes; else fills `status`.
  virtual bool Filter(const CycleState&, const NodeState&, NodeStatus*) const { return true; }
  // The cluster events that could make a node this filter rejected pass.
  virtual uint32_t HelpfulEvents() const { return 0; }

  // Score side: PreScore over the feasible nodes (false: skip, all score 0),
  // raw Score per node, then NormalizeScore over all of them to 0..100.
  virtual bool PreScore(CycleState&, const std::vector<NodeState*>&) { return true; }
  virtual int64_t Score(const CycleState&, const NodeState&) const { return 0; }
  virtual void NormalizeScore(const CycleState&, const std::vector<NodeState*>&,
                              std::vector<int64_t>&) const {}
};

// Everything a plugin may consult besides the cycle state.
struct PluginContext {
  ClusterState* cluster;
  const Profile* profile;
  const VolumePlacement* volumes;
};

// Makes the plugin called `name` (a filter or score plugin of config.h), or
// null if edgebed has none by that name.
std::unique_ptr<Plugin> NewPlugin(const std::string& name, const PluginContext& context);

// Upstream's DefaultNormalizeScore: scale to 0..100 by the maximum; reversed
// if asked; all zero stays 0 (or 100 reversed).
void DefaultNormalizeScore(bool reverse, std::vector<int64_t>& scores);

}  // namespace edgebed::sched
