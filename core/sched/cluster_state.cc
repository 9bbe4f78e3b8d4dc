#include "core/sched/cluster_state.h"

#include <algorithm>

namespace edgebed::sched {

namespace {

void AppendSelector(std::string* s, const model::LabelSelector& sel) {
  for (const auto& [k, v] : sel.match_labels) *s += k + "=" + v + ",";
  for (const auto& r : sel.match_expressions) {
    *s += r.key + " " + r.op + " (";
    for (const auto& v : r.values) *s += v + ",";
    *s += "),";
  }
}

bool HardEffect(const std::string& effect) {
  return effect == "NoSchedule" || effect == "NoExecute";
}

}  // namespace

ClusterState::ClusterState() {
  for (const char* r : {"cpu", "memory", "ephemeral-storage"}) ResourceSlotOf(r);
}

int ClusterState::ResourceSlotOf(const std::string& name) {
  if (auto found = resource_slot_.find(name); found != resource_slot_.end()) return found->second;
  auto [it, added] = resource_slot_.emplace(name, static_cast<int>(resource_names_.size()));
  if (added) {
    resource_names_.push_back(name);
    insufficient_.push_back("Insufficient " + name);
  }
  return it->second;
}

int ClusterState::FindKey(const std::string& key) const {
  auto it = key_id_.find(key);
  return it == key_id_.end() ? -1 : it->second;
}

int ClusterState::KeyId(const std::string& key) {
  auto [it, added] = key_id_.emplace(key, static_cast<int>(key_names_.size()));
  if (!added) return it->second;
  key_names_.push_back(key);
  values_.emplace_back();
  nodes_per_value_.emplace_back();
  nodes_with_key_.push_back(0);
  for (auto& n : nodes_) {
    if (n) FillTopo(n.get());
  }
  return it->second;
}

void ClusterState::FillTopo(NodeState* n) {
  // Undo this node's old values, then record the current ones.
  for (size_t k = 0; k < n->topo.size(); ++k) {
    if (n->topo[k] >= 0) {
      --nodes_per_value_[k][n->topo[k]];
      --nodes_with_key_[k];
    }
  }
  n->topo.assign(key_names_.size(), -1);
  for (size_t k = 0; k < key_names_.size(); ++k) {
    auto label = n->node.meta.labels.find(key_names_[k]);
    if (label == n->node.meta.labels.end()) continue;
    auto [v, added] = values_[k].emplace(label->second, static_cast<int>(values_[k].size()));
    if (added) nodes_per_value_[k].push_back(0);
    n->topo[k] = v->second;
    ++nodes_per_value_[k][v->second];
    ++nodes_with_key_[k];
  }
}

void ClusterState::UpsertNamespace(const model::Namespace& ns) {
  model::Labels labels = ns.meta.labels;
  labels[kNamespaceNameLabel] = ns.meta.name;
  auto it = namespaces_.find(ns.meta.name);
  if (it != namespaces_.end() && it->second == labels) return;
  namespaces_[ns.meta.name] = std::move(labels);
  InvalidateCounts();
}

const model::Labels& ClusterState::NamespaceLabels(const std::string& ns) {
  auto it = namespaces_.find(ns);
  if (it != namespaces_.end()) return it->second;
  return namespaces_.emplace(ns, model::Labels{{kNamespaceNameLabel, ns}}).first->second;
}

NodeState* ClusterState::FindNode(const std::string& name) {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

NodeState* ClusterState::UpsertNode(const model::Node& node) {
  model::Node copy = node;
  copy.meta.labels.emplace(kHostnameLabel, copy.meta.name);
  NodeState* n = FindNode(node.meta.name);
  const bool added = n == nullptr;
  if (added) {
    int slot;
    if (!free_slots_.empty()) {
      slot = free_slots_.back();
      free_slots_.pop_back();
    } else {
      slot = static_cast<int>(nodes_.size());
      nodes_.emplace_back();
    }
    nodes_[slot] = std::make_unique<NodeState>();
    n = nodes_[slot].get();
    n->slot = slot;
    by_name_[node.meta.name] = n;
  }
  const bool labels_changed = added || n->node.meta.labels != copy.meta.labels;
  n->node = std::move(copy);
  n->allocatable.assign(resource_names_.size(), 0);
  n->allowed_pods = kDefaultMaxPods;
  for (const auto& [name, amount] : NodeAllocatable(n->node)) {
    if (name == "pods") {
      n->allowed_pods = amount;
      continue;
    }
    const size_t slot = static_cast<size_t>(ResourceSlotOf(name));
    if (n->allocatable.size() <= slot) n->allocatable.resize(slot + 1, 0);
    n->allocatable[slot] = amount;
  }
  n->taint_reasons.clear();
  for (const auto& t : n->node.taints) {
    n->taint_reasons.push_back("node(s) had untolerated taint {" + t.key + ": " + t.value + "}");
  }
  n->hard_taints = std::any_of(n->node.taints.begin(), n->node.taints.end(),
                               [](const model::Taint& t) { return HardEffect(t.effect); });
  if (labels_changed) {
    // The node's pods count in the domains of its labels: take them out
    // under the old labels, put them back under the new ones.
    for (PodState* p : n->pods) Count(p, n, -1);
    FillTopo(n);
    for (PodState* p : n->pods) Count(p, n, +1);
    InvalidateCounts();
    ++node_epoch_;
    const std::string zone = ZoneKey(n->node.meta.labels);
    if (added || zone != n->zone) {
      if (!added) LeaveZone(n);
      n->zone = zone;
      JoinZone(n);
    }
  }
  if (added) {
    auto waiting = waiting_for_node_.find(node.meta.name);
    if (waiting != waiting_for_node_.end()) {
      std::vector<PodState*> pods = std::move(waiting->second);
      waiting_for_node_.erase(waiting);
      for (PodState* p : pods) {
        p->node_name.clear();
        Bind(p, node.meta.name, p->start);
      }
    }
  }
  return n;
}

bool ClusterState::RemoveNode(const std::string& name) {
  NodeState* n = FindNode(name);
  if (!n) return false;
  std::vector<PodState*> pods = n->pods;
  for (PodState* p : pods) {
    const Time start = p->start;
    Unbind(p);
    p->node_name = name;  // still bound by name: it counts again if the node returns
    p->start = start;
    waiting_for_node_[name].push_back(p);
  }
  for (size_t k = 0; k < n->topo.size(); ++k) {
    if (n->topo[k] >= 0) {
      --nodes_per_value_[k][n->topo[k]];
      --nodes_with_key_[k];
    }
  }
  by_name_.erase(name);
  LeaveZone(n);
  const int slot = n->slot;
  nodes_[slot].reset();
  free_slots_.push_back(slot);
  InvalidateCounts();
  ++node_epoch_;
  return true;
}

void ClusterState::JoinZone(NodeState* n) {
  std::vector<NodeState*>& nodes = zone_nodes_[n->zone];
  if (nodes.empty()) zones_.push_back(n->zone);
  nodes.push_back(n);
  order_dirty_ = true;
}

void ClusterState::LeaveZone(NodeState* n) {
  auto it = zone_nodes_.find(n->zone);
  if (it == zone_nodes_.end()) return;
  std::vector<NodeState*>& nodes = it->second;
  nodes.erase(std::find(nodes.begin(), nodes.end(), n));
  if (nodes.empty()) {
    zone_nodes_.erase(it);
    zones_.erase(std::find(zones_.begin(), zones_.end(), n->zone));
  }
  order_dirty_ = true;
}

const std::vector<NodeState*>& ClusterState::node_list() {
  if (!order_dirty_) return order_;
  order_.clear();
  std::vector<const std::vector<NodeState*>*> lists;
  for (const auto& z : zones_) lists.push_back(&zone_nodes_.at(z));
  for (size_t i = 0; order_.size() < by_name_.size(); ++i) {
    for (const auto* list : lists) {
      if (i < list->size()) order_.push_back((*list)[i]);
    }
  }
  order_dirty_ = false;
  return order_;
}

PodState* ClusterState::FindPod(const std::string& key) {
  auto it = pods_.find(key);
  return it == pods_.end() ? nullptr : it->second.get();
}

PodState* ClusterState::InsertPod(std::unique_ptr<PodState> pod) {
  PodState* p = pod.get();
  pods_[p->key] = std::move(pod);
  return p;
}

std::unique_ptr<PodState> ClusterState::ErasePod(const std::string& key) {
  auto it = pods_.find(key);
  if (it == pods_.end()) return nullptr;
  std::unique_ptr<PodState> p = std::move(it->second);
  pods_.erase(it);
  if (p->node) Unbind(p.get());
  auto waiting = waiting_for_node_.find(p->node_name);
  if (waiting != waiting_for_node_.end()) {
    auto& v = waiting->second;
    v.erase(std::remove(v.begin(), v.end(), p.get()), v.end());
    if (v.empty()) waiting_for_node_.erase(waiting);
  }
  return p;
}

Term ClusterState::MakeTerm(const AffinityTerm& t) {
  Term out;
  out.term = t;
  out.key = KeyId(t.topology_key);
  std::string& s = out.signature;
  s = t.topology_key + "|";
  if (t.selector) {
    s += "sel:";
    AppendSelector(&s, *t.selector);
  } else {
    s += "nosel";
  }
  s += "|ns:";
  for (const auto& n : t.namespaces) s += n + ",";
  if (t.namespace_selector) {
    s += "|nssel:";
    AppendSelector(&s, *t.namespace_selector);
  }
  return out;
}

void ClusterState::Prepare(PodState* p, const model::LabelSelector* owner_selector) {
  const model::PodSpec& spec = p->pod.spec;
  p->request.assign(resource_names_.size(), 0);
  p->extended_slots.clear();
  p->requests_nothing = true;
  for (const auto& [name, amount] : PodRequests(spec)) {
    if (name == "pods") continue;  // a node's pod count is not a request (as upstream)
    const size_t slot = static_cast<size_t>(ResourceSlotOf(name));
    if (p->request.size() <= slot) p->request.resize(slot + 1, 0);
    p->request[slot] = amount;
    if (amount > 0) {
      p->requests_nothing = false;
      if (static_cast<int>(slot) > kEphemeralSlot) p->extended_slots.push_back(static_cast<int>(slot));
    }
  }
  std::tie(p->nz_cpu, p->nz_mem) = NonZeroCpuMemory(spec);
  p->host_ports.clear();
  for (const auto& c : spec.containers) {
    for (const auto& port : c.ports) {
      if (port.host_port && *port.host_port > 0) {
        p->host_ports.emplace_back(port.protocol.empty() ? "TCP" : port.protocol, *port.host_port);
      }
    }
  }
  const std::string& ns = p->pod.meta.namespace_;
  p->req_affinity.clear();
  p->req_anti_affinity.clear();
  p->pref_affinity.clear();
  p->pref_anti_affinity.clear();
  if (const auto& a = spec.affinity.pod_affinity) {
    for (const auto& t : a->required) p->req_affinity.push_back(MakeTerm(MakeAffinityTerm(t, ns)));
    for (const auto& w : a->preferred) {
      p->pref_affinity.push_back(MakeTerm(MakeAffinityTerm(w.term, ns, w.weight)));
    }
  }
  if (const auto& a = spec.affinity.pod_anti_affinity) {
    for (const auto& t : a->required) p->req_anti_affinity.push_back(MakeTerm(MakeAffinityTerm(t, ns)));
    for (const auto& w : a->preferred) {
      p->pref_anti_affinity.push_back(MakeTerm(MakeAffinityTerm(w.term, ns, w.weight)));
    }
  }
  p->constraints = spec.topology_spread_constraints;
  p->system_default_spread = false;
  if (p->constraints.empty() && owner_selector && p->profile) {
    p->system_default_spread = p->profile->system_default_constraints;
    p->constraints = p->profile->system_default_constraints ? SystemDefaultConstraints()
                                                            : p->profile->default_constraints;
    for (auto& c : p->constraints) c.label_selector = *owner_selector;
  }
  p->constraint_terms.clear();
  for (const auto& c : p->constraints) {
    AffinityTerm t;
    t.selector = c.label_selector;
    t.namespaces.insert(ns);
    t.topology_key = c.topology_key;
    p->constraint_terms.push_back(MakeTerm(t));
  }
  p->node_affinity_signature.clear();
  if (!spec.node_selector.empty() ||
      (spec.affinity.node_affinity && !spec.affinity.node_affinity->required.empty())) {
    std::string& sig = p->node_affinity_signature;
    for (const auto& [k, v] : spec.node_selector) sig += k + "=" + v + ",";
    const auto requirements = [&](const std::vector<model::NodeSelectorRequirement>& rs) {
      for (const auto& r : rs) {
        sig += r.key + " " + r.op + " (";
        for (const auto& v : r.values) sig += v + ",";
        sig += ")";
      }
    };
    if (spec.affinity.node_affinity) {
      for (const auto& term : spec.affinity.node_affinity->required) {
        sig += "|e:";
        requirements(term.match_expressions);
        sig += "|f:";
        requirements(term.match_fields);
      }
    }
  }
  p->has_claim = std::any_of(spec.volumes.begin(), spec.volumes.end(),
                             [](const model::PodVolume& v) { return v.claim_name.has_value(); });
}

bool ClusterState::Covers(const Term& t, const PodState& pod) const {
  const std::string& ns = pod.pod.meta.namespace_;
  static const model::Labels kNone;
  const model::Labels* ns_labels = &kNone;
  if (t.term.namespace_selector) {
    auto it = namespaces_.find(ns);
    if (it != namespaces_.end()) ns_labels = &it->second;
  }
  if (t.term.namespace_selector && ns_labels == &kNone) {
    const model::Labels implicit{{kNamespaceNameLabel, ns}};
    return AffinityTermMatches(t.term, ns, pod.pod.meta.labels, implicit);
  }
  return AffinityTermMatches(t.term, ns, pod.pod.meta.labels, *ns_labels);
}

const std::vector<uint8_t>& ClusterState::NodeAffinityMask(const PodState& pod) {
  Mask& m = masks_[pod.node_affinity_signature];
  if (m.epoch != node_epoch_ + 1 || m.by_slot.size() != nodes_.size()) {
    m.epoch = node_epoch_ + 1;
    m.by_slot.assign(nodes_.size(), 0);
    for (const auto& n : nodes_) {
      if (n) m.by_slot[n->slot] = RequiredNodeAffinityMatches(pod.pod.spec, n->node) ? 1 : 0;
    }
  }
  return m.by_slot;
}

void ClusterState::NewCycle() {
  // Masks take a byte per node slot: keep at most 16 MiB of them.
  if (masks_.size() * std::max<size_t>(nodes_.size(), 1) > (16u << 20)) masks_.clear();
  // Entries unused for kIdleCycles cycles go, checked every kIdleCycles.
  constexpr uint64_t kIdleCycles = 64;
  if (++cycle_ % kIdleCycles != 0) return;
  for (auto it = counts_.begin(); it != counts_.end();) {
    it = it->second.last_used + kIdleCycles < cycle_ ? counts_.erase(it) : std::next(it);
  }
}

const DomainCounts& ClusterState::Counts(const Term& t) {
  auto it = counts_.find(t.signature);
  if (it != counts_.end()) {
    it->second.last_used = cycle_;
    return it->second.counts;
  }
  CountEntry& e = counts_[t.signature];
  e.term = t;
  e.last_used = cycle_;
  e.counts.by_value.assign(values_[t.key].size(), 0);
  for (const auto& n : nodes_) {
    if (!n) continue;
    const int v = n->TopoValue(t.key);
    if (v < 0) continue;
    for (const PodState* p : n->pods) {
      if (Covers(t, *p)) {
        ++e.counts.by_value[v];
        ++e.counts.total;
      }
    }
  }
  return e.counts;
}

void ClusterState::Count(PodState* pod, NodeState* node, int delta) {
  for (auto& [sig, e] : counts_) {
    const int v = node->TopoValue(e.term.key);
    if (v < 0 || !Covers(e.term, *pod)) continue;
    if (e.counts.by_value.size() <= static_cast<size_t>(v)) e.counts.by_value.resize(v + 1, 0);
    e.counts.by_value[v] += delta;
    e.counts.total += delta;
  }
  const auto add_group = [&](const Term& t, TermGroup::Kind kind) {
    const std::string sig = std::to_string(kind) + "|" + std::to_string(t.term.weight) + "|" + t.signature;
    auto it = groups_.find(sig);
    TermGroup* g;
    if (it == groups_.end()) {
      if (delta < 0) return;
      group_list_.push_back(std::make_unique<TermGroup>());
      g = group_list_.back().get();
      g->kind = kind;
      g->term = t;
      g->owner_ns = pod->pod.meta.namespace_;
      groups_[sig] = g;
    } else {
      g = it->second;
    }
    g->members += delta;
    const int v = node->TopoValue(t.key);
    if (v >= 0) {
      if (g->carriers.by_value.size() <= static_cast<size_t>(v)) g->carriers.by_value.resize(v + 1, 0);
      g->carriers.by_value[v] += delta;
      g->carriers.total += delta;
    }
    if (g->members == 0) {
      groups_.erase(sig);
      group_list_.erase(std::find_if(group_list_.begin(), group_list_.end(),
                                     [&](const auto& p) { return p.get() == g; }));
    }
  };
  for (const auto& t : pod->req_affinity) add_group(t, TermGroup::kRequiredAffinity);
  for (const auto& t : pod->req_anti_affinity) add_group(t, TermGroup::kRequiredAnti);
  for (const auto& t : pod->pref_affinity) add_group(t, TermGroup::kPreferredAffinity);
  for (const auto& t : pod->pref_anti_affinity) add_group(t, TermGroup::kPreferredAnti);
  if (!pod->req_affinity.empty() || !pod->req_anti_affinity.empty() ||
      !pod->pref_affinity.empty() || !pod->pref_anti_affinity.empty()) {
    pods_with_terms_ += delta;
  }
}

void ClusterState::Bind(PodState* pod, const std::string& node_name, Time start) {
  pod->node_name = node_name;
  pod->start = start;
  NodeState* n = FindNode(node_name);
  if (!n) {
    waiting_for_node_[node_name].push_back(pod);
    return;
  }
  pod->node = n;
  n->pods.push_back(pod);
  if (n->requested.size() < pod->request.size()) n->requested.resize(pod->request.size(), 0);
  for (size_t i = 0; i < pod->request.size(); ++i) n->requested[i] += pod->request[i];
  n->nz_cpu += pod->nz_cpu;
  n->nz_mem += pod->nz_mem;
  for (const auto& port : pod->host_ports) ++n->used_ports[port];
  Count(pod, n, +1);
}

void ClusterState::Unbind(PodState* pod) {
  NodeState* n = pod->node;
  if (!n) {
    auto waiting = waiting_for_node_.find(pod->node_name);
    if (waiting != waiting_for_node_.end()) {
      auto& v = waiting->second;
      v.erase(std::remove(v.begin(), v.end(), pod), v.end());
      if (v.empty()) waiting_for_node_.erase(waiting);
    }
    pod->node_name.clear();
    return;
  }
  Count(pod, n, -1);
  n->pods.erase(std::find(n->pods.begin(), n->pods.end(), pod));
  for (size_t i = 0; i < pod->request.size(); ++i) n->requested[i] -= pod->request[i];
  n->nz_cpu -= pod->nz_cpu;
  n->nz_mem -= pod->nz_mem;
  for (const auto& port : pod->host_ports) {
    if (--n->used_ports[port] == 0) n->used_ports.erase(port);
  }
  pod->node = nullptr;
  pod->node_name.clear();
}

}  // namespace edgebed::sched
