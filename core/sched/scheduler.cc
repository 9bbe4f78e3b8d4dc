#include "core/sched/scheduler.h"

#include <algorithm>
#include <climits>
#include <map>
#include <set>

#include "core/sched/cluster_state.h"
#include "core/sched/framework.h"
#include "core/sched/queue.h"

namespace edgebed::sched {

namespace {

std::string Key(const std::string& ns, const std::string& name) { return ns + "/" + name; }

// "3 Insufficient cpu, 2 node(s) had ..." as upstream's FitError: entries
// formatted with their counts, then sorted as strings.
std::string Histogram(const std::map<std::string_view, int>& counts) {
  std::vector<std::string> entries;
  for (const auto& [reason, count] : counts) entries.push_back(std::to_string(count) + " " + std::string(reason));
  std::sort(entries.begin(), entries.end());
  std::string out;
  for (const auto& e : entries) out += (out.empty() ? "" : ", ") + e;
  return out;
}

}  // namespace

class Scheduler::Impl {
 public:
  Impl(Config config, const VolumePlacement* volumes, Random random)
      : config_(std::move(config)), volumes_(volumes), random_(random),
        queue_(config_.initial_backoff, config_.max_backoff, config_.max_in_unschedulable) {
    for (const Profile& profile : config_.profiles) {
      ProfilePlugins pp;
      pp.profile = &profile;
      const PluginContext context{&cluster_, &profile, volumes_};
      for (const auto& name : profile.filters) {
        if (auto p = NewPlugin(name, context)) pp.filters.push_back(std::move(p));
      }
      for (const auto& [name, weight] : profile.scores) {
        if (auto p = NewPlugin(name, context)) pp.scores.emplace_back(std::move(p), weight);
      }
      profiles_.push_back(std::move(pp));
    }
  }

  void UpsertNamespace(const model::Namespace& ns, Time now) {
    cluster_.UpsertNamespace(ns);
    queue_.OnEvent(kNodeUpdate | kPodAdd, now);  // namespaceSelector terms may now match
  }

  void UpsertPriorityClass(const model::PriorityClass& pc) { classes_.by_name[pc.meta.name] = pc; }

  void UpsertNode(const model::Node& node, Time now) {
    const bool added = cluster_.FindNode(node.meta.name) == nullptr;
    cluster_.UpsertNode(node);
    queue_.OnEvent(added ? kNodeAdd : kNodeUpdate, now);
  }

  Status RemoveNode(const std::string& name, Time now) {
    if (!cluster_.RemoveNode(name)) return NotFound("no node \"" + name + "\"");
    queue_.OnEvent(kNodeDelete, now);
    return Status::Ok();
  }

  Status AddPod(const model::Pod& pod, Time now, const model::LabelSelector* owner) {
    const std::string key = Key(pod.meta.namespace_, pod.meta.name);
    if (cluster_.FindPod(key)) return AlreadyExists("pod " + key + " is already known");
    auto p = std::make_unique<PodState>();
    p->pod = pod;
    p->key = key;
    std::string error;
    if (!ResolvePriority(pod.spec, classes_, &p->priority, &p->preempt_never, &error)) {
      return InvalidArgument(error, key);
    }
    const bool bound = !pod.spec.node_name.empty();
    if (!bound) {
      for (const ProfilePlugins& pp : profiles_) {
        if (pp.profile->scheduler_name == pod.spec.scheduler_name) p->profile = pp.profile;
      }
      if (!p->profile) {
        return FailedPrecondition("no scheduler profile is named \"" + pod.spec.scheduler_name +
                                      "\"; the pod is left to that scheduler",
                                  key);
      }
    }
    cluster_.Prepare(p.get(), owner);
    PodState* ps = cluster_.InsertPod(std::move(p));
    if (bound) {
      cluster_.Bind(ps, pod.spec.node_name, now);
      queue_.OnEvent(kPodAdd, now);
    } else {
      queue_.Add(key, ps->priority, now);
    }
    return Status::Ok();
  }

  Status RemovePod(const std::string& ns, const std::string& name, Time now) {
    const std::string key = Key(ns, name);
    PodState* p = cluster_.FindPod(key);
    if (!p) return NotFound("no pod " + key);
    const bool was_bound = !p->node_name.empty();
    ClearNomination(p);
    queue_.Remove(key);
    cluster_.ErasePod(key);
    if (was_bound) queue_.OnEvent(kPodDelete, now);
    return Status::Ok();
  }

  void VolumesChanged(Time now) { queue_.OnEvent(kVolumeChange, now); }

  std::optional<Decision> ScheduleOne(Time now);

  std::optional<Time> NextBackoffExpiry() const { return queue_.NextBackoffExpiry(); }

  std::string NodeOf(const std::string& ns, const std::string& name) {
    PodState* p = cluster_.FindPod(Key(ns, name));
    return p ? p->node_name : "";
  }
  const model::Pod* FindPod(const std::string& ns, const std::string& name) {
    PodState* p = cluster_.FindPod(Key(ns, name));
    return p ? &p->pod : nullptr;
  }
  size_t pending() const {
    size_t n = 0;
    for (const auto& [key, p] : cluster_.pods()) n += p->node_name.empty() ? 1 : 0;
    return n;
  }
  size_t node_count() const { return cluster_.node_count(); }

 private:
  struct ProfilePlugins {
    const Profile* profile = nullptr;
    std::vector<std::unique_ptr<Plugin>> filters;
    std::vector<std::pair<std::unique_ptr<Plugin>, int>> scores;
  };
  struct Active {
    std::vector<int> filters;  // indexes into ProfilePlugins::filters that did not skip
  };
  struct Candidate {
    NodeState* node;
    std::vector<PodState*> victims;  // most important first
  };

  ProfilePlugins& PluginsOf(const PodState& p) {
    for (ProfilePlugins& pp : profiles_) {
      if (pp.profile == p.profile) return pp;
    }
    return profiles_.front();
  }

  Active PreFilter(ProfilePlugins& pp, CycleState& s) {
    Active a;
    for (size_t i = 0; i < pp.filters.size(); ++i) {
      if (pp.filters[i]->PreFilter(s)) a.filters.push_back(static_cast<int>(i));
    }
    return a;
  }

  bool RunFilters(ProfilePlugins& pp, const Active& a, const CycleState& s, const NodeState& n,
                  NodeStatus* st) {
    for (int i : a.filters) {
      if (!pp.filters[i]->Filter(s, n, st)) {
        st->plugin = i;
        return false;
      }
    }
    return true;
  }

  // Pods nominated to `n` that count as already there for `p`.
  std::vector<PodState*> NominatedFor(const PodState& p, const NodeState& n) {
    std::vector<PodState*> out;
    if (nominated_.empty()) return out;
    auto it = nominated_.find(n.node.meta.name);
    if (it == nominated_.end()) return out;
    for (const auto& [key, q] : it->second) {
      if (q != &p && q->node_name.empty() && q->priority >= p.priority) out.push_back(q);
    }
    return out;
  }

  // Filters with nominated pods: the node must pass with them and without
  // them. `a` and `s` hold the pre-filter state of the cluster as it is.
  bool FilterNode(ProfilePlugins& pp, Active& a, CycleState& s, NodeState& n, Time now,
                  NodeStatus* st) {
    if (nominated_.empty()) return RunFilters(pp, a, s, n, st);
    std::vector<PodState*> nominated = NominatedFor(*s.pod, n);
    if (nominated.empty()) return RunFilters(pp, a, s, n, st);
    for (PodState* q : nominated) cluster_.Bind(q, n.node.meta.name, now);
    Active with = PreFilter(pp, s);
    const bool ok_with = RunFilters(pp, with, s, n, st);
    for (PodState* q : nominated) cluster_.Unbind(q);
    a = PreFilter(pp, s);
    if (!ok_with) return false;
    return RunFilters(pp, a, s, n, st);
  }

  void ClearNomination(PodState* p) {
    if (p->nominated.empty()) return;
    auto it = nominated_.find(p->nominated);
    if (it != nominated_.end()) {
      it->second.erase(p->key);
      if (it->second.empty()) nominated_.erase(it);
    }
    p->nominated.clear();
  }

  NodeState* SelectHost(ProfilePlugins& pp, CycleState& s, const std::vector<NodeState*>& feasible);
  std::optional<Candidate> SelectVictims(ProfilePlugins& pp, CycleState& s, NodeState& n, Time now,
                                         NodeStatus* st);
  // A node the filters rejected: its reasons are reasons_[first, first + count).
  struct Rejection {
    NodeState* node;
    uint32_t first;
    uint16_t count;
    int16_t plugin;
    bool unresolvable;
  };
  std::string Preempt(ProfilePlugins& pp, CycleState& s, Time now, Decision* d);

  Config config_;
  const VolumePlacement* volumes_;
  Random random_;
  ClusterState cluster_;
  SchedulingQueue queue_;
  PriorityClasses classes_;
  std::vector<ProfilePlugins> profiles_;
  size_t next_start_ = 0;
  // Pods nominated by preemption: by node name, then pod key (an order that
  // does not depend on where pods sit in memory).
  std::map<std::string, std::map<std::string, PodState*>> nominated_;
  // Buffers one cycle uses, kept to spare the allocations.
  std::vector<NodeState*> feasible_;
  std::vector<Rejection> failed_;
  std::vector<std::string_view> reasons_;
  std::vector<int64_t> total_, scores_;
};

NodeState* Scheduler::Impl::SelectHost(ProfilePlugins& pp, CycleState& s,
                                       const std::vector<NodeState*>& feasible) {
  std::vector<int64_t>& total = total_;
  std::vector<int64_t>& scores = scores_;
  total.assign(feasible.size(), 0);
  scores.resize(feasible.size());
  for (auto& [plugin, weight] : pp.scores) {
    if (!plugin->PreScore(s, feasible)) continue;
    for (size_t i = 0; i < feasible.size(); ++i) scores[i] = plugin->Score(s, *feasible[i]);
    plugin->NormalizeScore(s, feasible, scores);
    for (size_t i = 0; i < feasible.size(); ++i) total[i] += weight * scores[i];
  }
  size_t chosen = 0;
  uint64_t ties = 1;
  for (size_t i = 1; i < feasible.size(); ++i) {
    if (total[i] > total[chosen]) {
      chosen = i;
      ties = 1;
    } else if (total[i] == total[chosen]) {
      ++ties;
      if (random_.Uniform(ties) == 0) chosen = i;
    }
  }
  return feasible[chosen];
}

std::optional<Scheduler::Impl::Candidate> Scheduler::Impl::SelectVictims(ProfilePlugins& pp,
                                                                         CycleState& s, NodeState& n,
                                                                         Time now, NodeStatus* st) {
  const PodState& p = *s.pod;
  std::vector<PodState*> lower;
  for (PodState* q : n.pods) {
    if (q->priority < p.priority) lower.push_back(q);
  }
  if (lower.empty()) {
    st->Add("No preemption victims found for incoming pod");
    return std::nullopt;
  }
  std::sort(lower.begin(), lower.end(), [](const PodState* a, const PodState* b) {
    if (a->priority != b->priority) return a->priority > b->priority;
    if (a->start != b->start) return a->start < b->start;
    return a->key < b->key;
  });
  std::vector<Time> starts;
  for (PodState* q : lower) starts.push_back(q->start);
  const std::string node_name = n.node.meta.name;
  for (PodState* q : lower) cluster_.Unbind(q);
  std::vector<PodState*> victims;
  Active a = PreFilter(pp, s);
  NodeStatus fit;
  const bool fits = FilterNode(pp, a, s, n, now, &fit);
  if (!fits) {
    *st = std::move(fit);
    st->plugin = -1;
  } else {
    for (size_t i = 0; i < lower.size(); ++i) {
      cluster_.Bind(lower[i], node_name, starts[i]);
      Active again = PreFilter(pp, s);
      NodeStatus ignored;
      if (!FilterNode(pp, again, s, n, now, &ignored)) {
        cluster_.Unbind(lower[i]);
        victims.push_back(lower[i]);
      }
    }
  }
  // Put the cluster back as it was.
  for (size_t i = 0; i < lower.size(); ++i) {
    if (lower[i]->node == nullptr) cluster_.Bind(lower[i], node_name, starts[i]);
  }
  if (!fits || victims.empty()) return std::nullopt;
  return Candidate{&n, std::move(victims)};
}

std::string Scheduler::Impl::Preempt(ProfilePlugins& pp, CycleState& s, Time now, Decision* d) {
  PodState& p = *s.pod;
  const int64_t all = static_cast<int64_t>(cluster_.node_count());
  if (p.preempt_never) return "preemption: not eligible due to preemptionPolicy=Never.";
  std::set<const NodeState*> resolvable;
  for (const Rejection& r : failed_) {
    if (!r.unresolvable) resolvable.insert(r.node);
  }
  std::vector<NodeState*> potential;
  for (NodeState* n : cluster_.node_list()) {
    if (resolvable.count(n)) potential.push_back(n);
  }
  std::map<std::string_view, int> reasons;
  int64_t with_reason = 0;
  std::vector<Candidate> candidates;
  if (!potential.empty()) {
    const size_t count = potential.size();
    const size_t offset = random_.Uniform(count);
    size_t wanted = std::max<size_t>(count * static_cast<size_t>(pp.profile->min_candidate_nodes_percentage) / 100,
                                     static_cast<size_t>(pp.profile->min_candidate_nodes_absolute));
    // Upstream's dry run stops at the target, but never before a first candidate.
    wanted = std::clamp<size_t>(wanted, 1, count);
    for (size_t i = 0; i < count && candidates.size() < wanted; ++i) {
      NodeState& n = *potential[(offset + i) % count];
      NodeStatus st;
      auto c = SelectVictims(pp, s, n, now, &st);
      if (c) {
        candidates.push_back(std::move(*c));
      } else if (!st.empty()) {
        ++with_reason;
        for (std::string_view r : st) ++reasons[r];
      }
    }
  }
  if (candidates.empty()) {
    ClearNomination(&p);  // as upstream: a nomination that no longer holds is dropped
    if (all - with_reason > 0) reasons["Preemption is not helpful for scheduling"] += static_cast<int>(all - with_reason);
    return "preemption: 0/" + std::to_string(all) + " nodes are available: " + Histogram(reasons) + ".";
  }
  // pickOneNodeForPreemption.
  const auto highest = [](const Candidate& c) { return c.victims.front()->priority; };
  const auto sum = [](const Candidate& c) {
    int64_t total = 0;
    for (const PodState* v : c.victims) total += int64_t{v->priority} + int64_t{INT32_MAX} + 1;
    return total;
  };
  const auto earliest_top = [&](const Candidate& c) {
    const int32_t top = highest(c);
    Time t = Time::max();
    for (const PodState* v : c.victims) {
      if (v->priority == top) t = std::min(t, v->start);
    }
    return t;
  };
  size_t best = 0;
  for (size_t i = 1; i < candidates.size(); ++i) {
    const Candidate& a = candidates[i];
    const Candidate& b = candidates[best];
    bool better = false;
    if (highest(a) != highest(b)) {
      better = highest(a) < highest(b);
    } else if (sum(a) != sum(b)) {
      better = sum(a) < sum(b);
    } else if (a.victims.size() != b.victims.size()) {
      better = a.victims.size() < b.victims.size();
    } else if (earliest_top(a) != earliest_top(b)) {
      better = earliest_top(a) > earliest_top(b);
    }
    if (better) best = i;
  }
  Candidate& chosen = candidates[best];
  const std::string node = chosen.node->node.meta.name;
  // Lower-priority pods nominated to the node give way.
  auto it = nominated_.find(node);
  if (it != nominated_.end()) {
    std::vector<PodState*> lose;
    for (const auto& [key, q] : it->second) {
      if (q->priority < p.priority) lose.push_back(q);
    }
    for (PodState* q : lose) ClearNomination(q);
  }
  ClearNomination(&p);
  p.nominated = node;
  nominated_[node][p.key] = &p;
  d->outcome = Decision::kNominated;
  d->node = node;
  for (const PodState* v : chosen.victims) d->victims.push_back(v->key);
  std::sort(d->victims.begin(), d->victims.end());
  return "";
}

std::optional<Decision> Scheduler::Impl::ScheduleOne(Time now) {
  cluster_.NewCycle();
  std::optional<std::string> key = queue_.Pop(now);
  if (!key) return std::nullopt;
  PodState* p = cluster_.FindPod(*key);
  Decision d;
  d.pod = *key;
  if (cluster_.node_count() == 0) {
    d.reason = "no nodes available to schedule pods";
    queue_.Failed(*key, kNodeAdd, now);
    return d;
  }
  ProfilePlugins& pp = PluginsOf(*p);
  CycleState s;
  s.pod = p;
  Active a = PreFilter(pp, s);

  NodeState* chosen = nullptr;
  if (!p->nominated.empty()) {
    if (NodeState* n = cluster_.FindNode(p->nominated)) {
      NodeStatus st;
      if (FilterNode(pp, a, s, *n, now, &st)) chosen = n;
    }
  }
  failed_.clear();
  reasons_.clear();
  if (!chosen) {
    const auto& nodes = cluster_.node_list();
    const size_t all = nodes.size();
    const size_t to_find = pp.scores.empty()
                               ? 1
                               : static_cast<size_t>(NumFeasibleNodesToFind(
                                     config_.percentage_of_nodes_to_score, static_cast<int32_t>(all)));
    std::vector<NodeState*>& feasible = feasible_;
    feasible.clear();
    size_t processed = 0;
    next_start_ %= all;
    size_t at = next_start_;
    NodeStatus st;
    for (size_t i = 0; i < all && feasible.size() < to_find; ++i) {
      NodeState* n = nodes[at];
      if (++at == all) at = 0;
      st.Reset();
      if (FilterNode(pp, a, s, *n, now, &st)) {
        feasible.push_back(n);
      } else {
        failed_.push_back({n, static_cast<uint32_t>(reasons_.size()), static_cast<uint16_t>(st.count),
                           static_cast<int16_t>(st.plugin), st.unresolvable});
        reasons_.insert(reasons_.end(), st.begin(), st.end());
      }
      processed = i + 1;
    }
    next_start_ = (next_start_ + processed) % all;
    if (feasible.size() == 1) {
      chosen = feasible[0];
    } else if (!feasible.empty()) {
      chosen = SelectHost(pp, s, feasible);
    }
  }
  if (chosen) {
    ClearNomination(p);
    cluster_.Bind(p, chosen->node.meta.name, now);
    queue_.Done(*key);
    queue_.OnEvent(kPodAdd, now);
    d.outcome = Decision::kBound;
    d.node = chosen->node.meta.name;
    return d;
  }

  std::map<std::string_view, int> reasons;
  uint32_t helpful = 0;
  for (const Rejection& r : failed_) {
    for (uint32_t i = r.first; i < r.first + r.count; ++i) ++reasons[reasons_[i]];
    if (r.plugin >= 0) helpful |= pp.filters[r.plugin]->HelpfulEvents();
  }
  d.reason = "0/" + std::to_string(cluster_.node_count()) + " nodes are available: " + Histogram(reasons) + ".";
  if (pp.profile->preemption) {
    const std::string message = Preempt(pp, s, now, &d);
    if (!message.empty()) d.reason += " " + message;
  }
  if (d.outcome == Decision::kNominated) {
    d.reason.clear();
    helpful |= kPodDelete;
  }
  queue_.Failed(*key, helpful, now);
  return d;
}

Scheduler::Scheduler(Config config, const VolumePlacement* volumes, Random random)
    : impl_(std::make_unique<Impl>(std::move(config), volumes, random)) {}
Scheduler::~Scheduler() = default;

void Scheduler::UpsertNamespace(const model::Namespace& ns, Time now) { impl_->UpsertNamespace(ns, now); }
void Scheduler::UpsertPriorityClass(const model::PriorityClass& pc) { impl_->UpsertPriorityClass(pc); }
void Scheduler::UpsertNode(const model::Node& node, Time now) { impl_->UpsertNode(node, now); }
Status Scheduler::RemoveNode(const std::string& name, Time now) { return impl_->RemoveNode(name, now); }
Status Scheduler::AddPod(const model::Pod& pod, Time now, const model::LabelSelector* owner_selector) {
  return impl_->AddPod(pod, now, owner_selector);
}
Status Scheduler::RemovePod(const std::string& ns, const std::string& name, Time now) {
  return impl_->RemovePod(ns, name, now);
}
void Scheduler::VolumesChanged(Time now) { impl_->VolumesChanged(now); }
std::optional<Decision> Scheduler::ScheduleOne(Time now) { return impl_->ScheduleOne(now); }
std::optional<Time> Scheduler::NextBackoffExpiry() const { return impl_->NextBackoffExpiry(); }
std::string Scheduler::NodeOf(const std::string& ns, const std::string& name) const {
  return impl_->NodeOf(ns, name);
}
const model::Pod* Scheduler::FindPod(const std::string& ns, const std::string& name) const {
  return impl_->FindPod(ns, name);
}
size_t Scheduler::pending() const { return impl_->pending(); }
size_t Scheduler::node_count() const { return impl_->node_count(); }

}  // namespace edgebed::sched
