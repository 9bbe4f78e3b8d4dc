// NodeResourcesFit and NodeResourcesBalancedAllocation.
#include <cmath>

#include "core/sched/plugins/plugins.h"
#include "core/sched/queue.h"

namespace edgebed::sched::plugins {
namespace {

class NodeResourcesFit final : public Plugin {
 public:
  explicit NodeResourcesFit(const PluginContext& c) : cluster_(*c.cluster), profile_(*c.profile) {
    for (const auto& r : profile_.fit_resources) {
      slots_.push_back(cluster_.ResourceSlotOf(r.name));
      weights_.push_back(r.weight);
    }
    for (const auto& p : profile_.shape) shape_.emplace_back(p.utilization, int64_t{p.score} * 10);
  }
  const char* name() const override { return "NodeResourcesFit"; }

  bool Filter(const CycleState& s, const NodeState& n, NodeStatus* st) const override {
    const PodState& p = *s.pod;
    if (static_cast<int64_t>(n.pods.size()) + 1 > n.allowed_pods) st->Add("Too many pods");
    if (!p.requests_nothing) {
      // cpu, memory, ephemeral-storage first, then the rest by name.
      for (int slot : {kCpuSlot, kMemorySlot, kEphemeralSlot}) Check(p, n, slot, st);
      for (int slot : p.extended_slots) Check(p, n, slot, st);
    }
    return st->empty();
  }
  uint32_t HelpfulEvents() const override { return kPodDelete | kNodeAdd | kNodeUpdate; }

  int64_t Score(const CycleState& s, const NodeState& n) const override {
    const PodState& p = *s.pod;
    int64_t sum = 0, weights = 0;
    double ratio_sum = 0;
    for (size_t i = 0; i < slots_.size(); ++i) {
      const int slot = slots_[i];
      int64_t pod_req, node_req;
      if (slot == kCpuSlot) {
        pod_req = p.nz_cpu;
        node_req = n.nz_cpu;
      } else if (slot == kMemorySlot) {
        pod_req = p.nz_mem;
        node_req = n.nz_mem;
      } else {
        pod_req = At(p.request, slot);
        if (slot != kEphemeralSlot && pod_req == 0) continue;  // an extended resource it does not use
        node_req = At(n.requested, slot);
      }
      const int64_t alloc = At(n.allocatable, slot);
      if (alloc == 0) continue;
      const int64_t req = node_req + pod_req;
      int64_t score = 0;
      switch (profile_.fit_strategy) {
        case ScoringStrategy::kLeastAllocated:
          score = req > alloc ? 0 : (alloc - req) * 100 / alloc;
          break;
        case ScoringStrategy::kMostAllocated:
          score = std::min(req, alloc) * 100 / alloc;
          break;
        case ScoringStrategy::kRequestedToCapacityRatio: {
          const int64_t util = req > alloc ? 100 : req * 100 / alloc;
          score = BrokenLinear(util);
          if (score <= 0) continue;  // upstream counts only positive resource scores
          break;
        }
      }
      sum += score * weights_[i];
      weights += weights_[i];
      (void)ratio_sum;
    }
    if (weights == 0) return 0;
    if (profile_.fit_strategy == ScoringStrategy::kRequestedToCapacityRatio) {
      return std::llround(static_cast<double>(sum) / static_cast<double>(weights));
    }
    return sum / weights;
  }

 private:
  void Check(const PodState& p, const NodeState& n, int slot, NodeStatus* st) const {
    const int64_t want = At(p.request, slot);
    if (want <= 0) return;
    const int64_t alloc = At(n.allocatable, slot);
    if (want > alloc - At(n.requested, slot)) {
      st->Add(cluster_.InsufficientReason(slot));
      if (want > alloc) st->unresolvable = true;  // no eviction can make room
    }
  }
  int64_t BrokenLinear(int64_t p) const {
    for (size_t i = 0; i < shape_.size(); ++i) {
      if (p <= shape_[i].first) {
        if (i == 0) return shape_[0].second;
        const auto& [u0, s0] = shape_[i - 1];
        const auto& [u1, s1] = shape_[i];
        return s0 + (s1 - s0) * (p - u0) / (u1 - u0);
      }
    }
    return shape_.back().second;
  }

  ClusterState& cluster_;
  const Profile& profile_;
  std::vector<int> slots_;
  std::vector<int64_t> weights_;
  std::vector<std::pair<int64_t, int64_t>> shape_;
};

class BalancedAllocation final : public Plugin {
 public:
  explicit BalancedAllocation(const PluginContext& c) {
    for (const auto& r : c.profile->balanced_resources) slots_.push_back(c.cluster->ResourceSlotOf(r.name));
  }
  const char* name() const override { return "NodeResourcesBalancedAllocation"; }

  bool PreScore(CycleState& s, const std::vector<NodeState*>&) override {
    // Upstream skips best-effort pods: nothing to balance.
    for (int slot : slots_) {
      if (At(s.pod->request, slot) != 0) return true;
    }
    return false;
  }
  int64_t Score(const CycleState& s, const NodeState& n) const override {
    double fractions[16];
    size_t count = 0;
    for (int slot : slots_) {
      const int64_t pod_req = At(s.pod->request, slot);
      if (slot > kEphemeralSlot && pod_req == 0) continue;
      const int64_t alloc = At(n.allocatable, slot);
      if (alloc == 0) continue;
      double f = static_cast<double>(At(n.requested, slot) + pod_req) / static_cast<double>(alloc);
      if (f > 1) f = 1;
      if (count < 16) fractions[count++] = f;
    }
    double std = 0;
    if (count == 2) {
      std = std::fabs(fractions[0] - fractions[1]) / 2;
    } else if (count > 2) {
      double mean = 0;
      for (size_t i = 0; i < count; ++i) mean += fractions[i];
      mean /= static_cast<double>(count);
      double var = 0;
      for (size_t i = 0; i < count; ++i) var += (fractions[i] - mean) * (fractions[i] - mean);
      std = std::sqrt(var / static_cast<double>(count));
    }
    return static_cast<int64_t>((1 - std) * 100);
  }

 private:
  std::vector<int> slots_;
};

}  // namespace

std::unique_ptr<Plugin> NewNodeResourcesFit(const PluginContext& c) {
  return std::make_unique<NodeResourcesFit>(c);
}
std::unique_ptr<Plugin> NewBalancedAllocation(const PluginContext& c) {
  return std::make_unique<BalancedAllocation>(c);
}

}  // namespace edgebed::sched::plugins
