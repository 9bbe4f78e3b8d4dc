// ClusterState: the scheduler's cache of nodes, pods and namespaces, and the
// indexes that let filters and scores answer without rescanning the cluster
// (upstream's scheduler cache and snapshot, made incremental).
//
// - Resources are kept per node as sums (requested, and the non-zero cpu and
//   memory used for scoring), changed by Bind/Unbind.
// - Node labels that rules use as topology keys are interned: a key gets an
//   id, each of its values an id, and a node holds a value id per key, so a
//   domain's count is a vector lookup.
// - DomainCounts(term) gives, per value of the term's topology key, how many
//   bound pods the term covers (its selector and namespaces) on nodes in that
//   domain. Built by one scan the first time a term is asked about, then kept
//   up to date by Bind/Unbind; dropped when node labels or namespace labels
//   change (rare, and the next question rebuilds it).
// - Term groups: the affinity terms bound pods carry (required anti-affinity,
//   required and preferred affinity, preferred anti-affinity), grouped by
//   identical term, each with the count of its carriers per domain; an
//   incoming pod checks each distinct term once instead of each pod.
// Internal to core/sched.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/env/env.h"
#include "core/model/objects.h"
#include "core/sched/config.h"
#include "core/sched/predicates.h"

namespace edgebed::sched {

using ResourceVec = std::vector<int64_t>;  // by resource slot; missing slots are 0
inline int64_t At(const ResourceVec& v, size_t slot) { return slot < v.size() ? v[slot] : 0; }

enum ResourceSlot : int { kCpuSlot = 0, kMemorySlot = 1, kEphemeralSlot = 2 };

// A term with its interned topology key and a canonical text that identifies it.
struct Term {
  AffinityTerm term;
  int key = -1;            // topology key id
  std::string signature;   // equal for terms that cover the same pods by the same key
};

struct NodeState;

struct PodState {
  model::Pod pod;
  std::string key;  // namespace/name
  int32_t priority = 0;
  bool preempt_never = false;
  const Profile* profile = nullptr;  // pending pods
  ResourceVec request;               // by slot
  // Requests beyond cpu, memory and ephemeral-storage (> 0 only), by slot,
  // in resource name order.
  std::vector<int> extended_slots;
  int64_t nz_cpu = 0, nz_mem = 0;
  bool requests_nothing = true;
  std::vector<std::pair<std::string, int32_t>> host_ports;  // protocol, port
  std::vector<Term> req_affinity, req_anti_affinity, pref_affinity, pref_anti_affinity;
  // Spread constraints in force: the pod's own, or the profile's defaults
  // (with the owner's selector); each as a term over the pod's namespace.
  std::vector<model::TopologySpreadConstraint> constraints;
  std::vector<Term> constraint_terms;
  bool system_default_spread = false;  // constraints are the system defaults
  bool has_claim = false;
  // Identifies spec.nodeSelector and the required node affinity; empty when
  // the pod has neither.
  std::string node_affinity_signature;
  // Bound pods.
  std::string node_name;
  NodeState* node = nullptr;  // null when pending, or bound to an unknown node
  Time start{};
  // Pending pods nominated by preemption.
  std::string nominated;
};

struct NodeState {
  model::Node node;
  int slot = -1;
  ResourceVec allocatable;
  int64_t allowed_pods = kDefaultMaxPods;
  ResourceVec requested;
  int64_t nz_cpu = 0, nz_mem = 0;
  std::vector<PodState*> pods;  // in bind order
  std::map<std::pair<std::string, int32_t>, int> used_ports;
  std::vector<int> topo;  // value id per topology key id; -1 when the label is absent
  bool hard_taints = false;  // any NoSchedule/NoExecute taint
  std::string zone;          // ZoneKey of its labels
  std::vector<std::string> taint_reasons;  // "node(s) had untolerated taint {k: v}" per taint
  int TopoValue(int key) const { return key >= 0 && static_cast<size_t>(key) < topo.size() ? topo[key] : -1; }
};

// Per value id of one topology key: how many covered pods sit there.
struct DomainCounts {
  std::vector<int32_t> by_value;
  int64_t total = 0;  // on nodes that have the key
  int32_t At(int value) const {
    return value >= 0 && static_cast<size_t>(value) < by_value.size() ? by_value[value] : 0;
  }
};

// Identical terms carried by bound pods, with their carriers per domain.
struct TermGroup {
  enum Kind { kRequiredAffinity, kRequiredAnti, kPreferredAffinity, kPreferredAnti };
  Kind kind;
  Term term;
  std::string owner_ns;
  DomainCounts carriers;
  int64_t members = 0;
};

class ClusterState {
 public:
  ClusterState();

  // Resources.
  int ResourceSlotOf(const std::string& name);  // interns
  // "Insufficient NAME" for a slot.
  std::string_view InsufficientReason(int slot) const { return insufficient_[slot]; }
  // A stable copy of `text`, for reasons built at run time.
  std::string_view Intern(const std::string& text) { return *interned_.insert(text).first; }
  const std::vector<std::string>& resource_names() const { return resource_names_; }

  // Topology keys and values.
  int KeyId(const std::string& key);  // interns, filling every node's value
  int FindKey(const std::string& key) const;
  int value_count(int key) const { return static_cast<int>(values_[key].size()); }
  // How many nodes carry each value of `key` (so a value with 0 is no domain).
  const std::vector<int32_t>& nodes_per_value(int key) const { return nodes_per_value_[key]; }
  int nodes_with_key(int key) const { return nodes_with_key_[key]; }

  // Namespaces.
  void UpsertNamespace(const model::Namespace& ns);
  const model::Labels& NamespaceLabels(const std::string& ns);

  // Nodes. The kubelet's kubernetes.io/hostname label is added when missing.
  NodeState* UpsertNode(const model::Node& node);
  bool RemoveNode(const std::string& name);
  NodeState* FindNode(const std::string& name);
  // Nodes round-robin across zones (the decision procedure's list order), as
  // upstream's node tree: zones in the order they appeared (a zone that
  // empties leaves it), nodes in a zone in the order they joined it (a node
  // whose zone changes joins the end of its new zone). Rebuilt only when
  // nodes changed since the last call, so adding n nodes costs O(n).
  const std::vector<NodeState*>& node_list();
  // Changes whenever a node is added, removed or relabelled.
  uint64_t node_epoch() const { return node_epoch_; }
  size_t node_count() const { return by_name_.size(); }

  // Pods.
  PodState* FindPod(const std::string& key);
  const std::unordered_map<std::string, std::unique_ptr<PodState>>& pods() const { return pods_; }
  PodState* InsertPod(std::unique_ptr<PodState> pod);
  std::unique_ptr<PodState> ErasePod(const std::string& key);
  // Counts a pod on the node named pod->node_name (or holds it until the
  // node appears), and takes it off again. Bind REQUIRES the pod unbound.
  void Bind(PodState* pod, const std::string& node_name, Time start);
  void Unbind(PodState* pod);
  // Builds a pod's derived fields (requests, ports, terms, constraints).
  void Prepare(PodState* pod, const model::LabelSelector* owner_selector);

  bool Covers(const Term& t, const PodState& pod) const;
  // By node slot: 1 where the pod's nodeSelector and required node affinity
  // hold. Shared by pods with the same rules (a Deployment's replicas) until
  // nodes change. REQUIRES: pod.node_affinity_signature is not empty.
  const std::vector<uint8_t>& NodeAffinityMask(const PodState& pod);
  const DomainCounts& Counts(const Term& t);
  // Starts a scheduling cycle: drops the counts of terms no pod has asked
  // about lately, so pods with one-off terms do not make every Bind pay for
  // them. Invalidates references Counts() returned.
  void NewCycle();
  const std::vector<std::unique_ptr<TermGroup>>& groups() const { return group_list_; }
  // Bound pods with any affinity term (scoring can skip the groups when 0).
  int64_t pods_with_terms() const { return pods_with_terms_; }

 private:
  Term MakeTerm(const AffinityTerm& t);
  void JoinZone(NodeState* n);
  void LeaveZone(NodeState* n);
  void InvalidateCounts() { counts_.clear(); }
  void Count(PodState* pod, NodeState* node, int delta);
  void FillTopo(NodeState* n);

  std::vector<std::string> resource_names_;
  std::deque<std::string> insufficient_;  // by slot; a deque keeps views valid as it grows
  std::unordered_set<std::string> interned_;
  std::unordered_map<std::string, int> resource_slot_;
  std::vector<std::string> key_names_;
  std::unordered_map<std::string, int> key_id_;
  std::vector<std::unordered_map<std::string, int>> values_;
  std::vector<std::vector<int32_t>> nodes_per_value_;
  std::vector<int> nodes_with_key_;
  std::map<std::string, model::Labels> namespaces_;
  std::vector<std::unique_ptr<NodeState>> nodes_;  // slots; null when free
  std::vector<int> free_slots_;
  std::map<std::string, NodeState*> by_name_;
  std::vector<std::string> zones_;  // in order of appearance
  std::map<std::string, std::vector<NodeState*>> zone_nodes_;
  std::vector<NodeState*> order_;
  bool order_dirty_ = false;
  uint64_t node_epoch_ = 0;
  std::unordered_map<std::string, std::unique_ptr<PodState>> pods_;
  std::map<std::string, std::vector<PodState*>> waiting_for_node_;
  struct CountEntry {
    Term term;
    DomainCounts counts;
    uint64_t last_used = 0;  // cycle
  };
  uint64_t cycle_ = 0;
  struct Mask {
    uint64_t epoch = 0;
    std::vector<uint8_t> by_slot;
  };
  std::unordered_map<std::string, Mask> masks_;
  std::unordered_map<std::string, CountEntry> counts_;
  std::unordered_map<std::string, TermGroup*> groups_;
  std::vector<std::unique_ptr<TermGroup>> group_list_;
  int64_t pods_with_terms_ = 0;
};

}  // namespace edgebed::sched
