#include "core/cluster/policy_view.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "core/cluster/records.h"
#include "core/model/loader.h"
#include "core/policy/policy_set.h"
#include "core/policy/reference.h"

namespace edgebed::cluster {
namespace {

using policy::Endpoint;
using policy::Entity;
using policy::EntityMatch;
using policy::NetworkSet;
using policy::Selector;

constexpr char kTierPrefix[] = "tier:";

// PolicySet's key for a policy object; empty for a Tier.
std::string PolicyKeyOf(const model::Object& object) {
  if (auto* p = std::get_if<model::NetworkPolicy>(&object))
    return "knp:" + p->meta.namespace_ + "/" + p->meta.name;
  if (auto* p = std::get_if<model::CalicoPolicy>(&object))
    return (p->global ? "gnp:/" : "cnp:" + p->meta.namespace_ + "/") + p->meta.name;
  return {};
}

// What an object is in force as: its PolicySet key, or "tier:NAME".
std::string IdentityOf(const model::Object& object) {
  if (auto* t = std::get_if<model::Tier>(&object)) return kTierPrefix + t->meta.name;
  return PolicyKeyOf(object);
}

bool IsTierIdentity(const std::string& identity) { return identity.rfind(kTierPrefix, 0) == 0; }

Status AddTo(policy::PolicySet& set, const model::Object& object) {
  if (auto* p = std::get_if<model::NetworkPolicy>(&object)) return set.Upsert(*p);
  if (auto* p = std::get_if<model::CalicoPolicy>(&object)) return set.Upsert(*p);
  if (auto* t = std::get_if<model::Tier>(&object)) return set.Upsert(*t);
  return InvalidArgument("not a policy or tier: " + model::KindOf(object));
}

// Whether a rule side can single out anything at all: by what it selects, or
// by what its notSelector excludes (a view must hold both).
bool CanPick(const EntityMatch& m) { return m.SelectsEntities() || m.not_selector.has_value(); }

// The one namespace whose entities a rule side can pick ("" for the
// non-namespaced ones global() picks), or nullopt when it can pick anywhere:
// a notSelector excludes by labels alone, in any namespace, and a
// namespaceSelector picks by namespace labels, which change.
std::optional<std::string> OnlyNamespaceOf(const EntityMatch& m) {
  if (m.not_selector) return std::nullopt;
  if (m.namespace_selector) return m.namespace_selector->HasGlobal() ? std::optional<std::string>("") : std::nullopt;
  if (!m.namespace_.empty()) return m.namespace_;
  return std::nullopt;
}

// A policy or a Tier, under the key it was given.
struct Entry {
  std::string key;
  model::Object object;
  Bytes manifest;
  std::string identity;  // IdentityOf(object)
};

// Sets of graph nodes ordered by when they were made, so that what iterates
// them does so in the same order in every run.
template <typename T>
struct BySerial {
  bool operator()(const T* a, const T* b) const { return a->serial < b->serial; }
};
template <typename T>
using SetOf = std::set<T*, BySerial<T>>;

constexpr size_t kNoSlot = static_cast<size_t>(-1);

struct EndpointState {
  uint64_t serial = 0;
  std::string key;  // "ns/name"
  Endpoint endpoint;
  std::string node;
  Bytes encoded;  // as views carry it
  // Its copy in the evaluator's inventory, which selectors are matched
  // against: the same namespace, labels and service account.
  size_t slot = kNoSlot;
  // No endpoint of a lesser key holds one of its addresses (else it is left
  // out, as an inventory refuses an address taken twice).
  bool accepted = false;
};

struct NetworkState {
  uint64_t serial = 0;
  NetworkSet network;
  Bytes encoded;
};

struct PolicyState;

// One rule side (source or destination) that can pick something: the
// endpoints and network sets it picks — the members of Felix's IP set.
struct SideState {
  uint64_t serial = 0;
  PolicyState* policy = nullptr;
  const EntityMatch* match = nullptr;
  std::optional<std::string> only_namespace;  // OnlyNamespaceOf(*match)
  SetOf<EndpointState> endpoints;
  SetOf<NetworkState> networks;
};

// A policy in force.
struct PolicyState {
  uint64_t serial = 0;
  const Entry* entry = nullptr;             // whose manifest views carry
  const policy::Policy* policy = nullptr;   // compiled, in the graph's PolicySet
  std::vector<std::unique_ptr<SideState>> sides;  // those that can pick something
  std::set<std::string> port_names;         // named by any side
  SetOf<EndpointState> applies_to;
  std::map<std::string, int> nodes;         // node -> its endpoints it applies to, when any
};

struct NamespaceState {
  bool defined = false;  // by UpsertNamespace
  model::Labels labels;
  Bytes encoded;  // its labels as views carry them
  SetOf<EndpointState> endpoints;  // accepted
  SetOf<NetworkState> networks;
  SetOf<PolicyState> policies;  // the namespaced policies of it
  SetOf<SideState> sides;       // those that can pick only in it
};

struct NodeState {
  SetOf<EndpointState> local;     // accepted; never empty
  SetOf<PolicyState> policies;    // those applying to one of them at least
};

// One port name: who has it, who names it.
struct PortState {
  SetOf<EndpointState> endpoints;  // accepted
  SetOf<PolicyState> policies;
};

struct AccountState {
  model::Labels labels;
  Bytes encoded;
};

}  // namespace

// The calculation graph. What it keeps true between calls:
// - a policy's applies_to, a side's picks, a namespace's and a port name's
//   endpoints hold only accepted endpoints, and every accepted endpoint is in
//   each of them that its labels (and its namespace's and service account's)
//   call for;
// - nodes_ holds exactly the nodes with an accepted endpoint, each with the
//   policies that apply to one of them (PolicyState::nodes counts how many);
// - whatever changed a view since the last Compute either put its node in
//   dirty_nodes_ or put a policy that applies there in touched_: a change to
//   an entity dirties its node and touches the policies whose sides pick it
//   or name a port it has, before and after; a change to a policy dirties
//   the nodes it applied to and touches it.
class PolicyViews::Graph {
 public:
  Graph() : evaluator_(no_tiers_, inventory_) {}
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  Status Check(const std::string& key, const Entry* replacement) const;
  void SetPolicy(const std::string& key, std::optional<Entry> entry);

  void UpsertNamespace(const std::string& name, const model::Labels& labels);
  void UpsertServiceAccount(const std::string& ns, const std::string& name, const model::Labels& labels);
  void UpsertNetworkSet(const NetworkSet& network);
  void RemoveNetworkSet(const std::string& key);
  void UpsertEndpoint(const Endpoint& endpoint, const std::string& node);
  void RemoveEndpoint(const std::string& key);

  std::vector<std::string> Compute();
  const View& ViewOf(const std::string& node) const;

 private:
  NamespaceState& NamespaceNamed(const std::string& name);
  const Endpoint& Labelled(const EndpointState& e) const { return inventory_.endpoints()[e.slot]; }
  void WriteSlot(EndpointState& e);
  void FreeSlot(EndpointState& e);
  bool Picks(const EntityMatch& m, const Entity& entity) const;

  // Calls f on the policies that can apply to an endpoint of `ns`, and on the
  // rule sides that can pick an entity of `ns`.
  template <typename F>
  void ForPoliciesOver(const std::string& ns, F f);
  template <typename F>
  void ForSidesOver(const std::string& ns, F f);
  // Calls f on the namespaces an entity must live in to be picked by a side
  // of `only` and `namespace_selector` (a superset: the side's own test decides).
  template <typename F>
  void ForNamespacesOf(const std::optional<std::string>& only, const Selector* namespace_selector, F f);

  // An entity joins (Attach) or leaves (Detach) what selects it, what it is
  // local to and what it applies to; the views it is or was in get rebuilt.
  void Attach(EndpointState& e);
  void Detach(EndpointState& e);
  void Attach(NetworkState& n);
  void Detach(NetworkState& n);
  // Both, for an entity whose namespace's or service account's labels changed.
  void Reattach(EndpointState& e);

  // Address ownership: claims, whether an endpoint is accepted, and the
  // endpoints of greater keys whose acceptance may follow from a change.
  void Claim(const EndpointState& e);
  void Unclaim(const EndpointState& e);
  bool Accepted(const EndpointState& e) const;
  void RecheckAfter(const std::string& key, const std::vector<uint32_t>& ips);

  // Makes what is in force under `identity` what its greatest key holds.
  void Reinstall(const std::string& identity);
  void Install(const std::string& identity, const Entry& entry);
  void Uninstall(const std::string& identity);
  const Entry* InForce(const std::string& identity) const;

  void Touch(PolicyState* p) { touched_.insert(p); }
  View Build(const NodeState& node) const;

  policy::PolicySet set_;  // the policies in force (tiers are kept in tiers_: a PolicySet cannot drop one)
  policy::Inventory inventory_;  // namespaces, service accounts and a labelled copy of each endpoint
  const std::vector<policy::PolicySet::OrderedTier> no_tiers_;
  // Only its predicates (Applies, SelectedBy, Labels) are used: they are the
  // selector semantics, in one place.
  policy::ReferenceEvaluator evaluator_;

  std::map<std::string, Entry> entries_;                 // by key
  std::map<std::string, std::set<std::string>> owners_;  // identity -> keys holding it
  std::map<std::string, PolicyState> policies_;          // in force, by identity
  std::map<std::string, const Entry*> tiers_;            // Tiers in force, by name
  std::map<std::string, SetOf<PolicyState>> tier_policies_;  // tier name -> policies in it
  SetOf<PolicyState> global_policies_;
  SetOf<SideState> global_sides_;  // those that can pick in any namespace

  std::map<std::string, NamespaceState> namespaces_;
  std::map<std::pair<std::string, std::string>, AccountState> accounts_;
  std::map<std::string, EndpointState> endpoints_;     // by key
  std::map<uint32_t, std::set<std::string>> claims_;   // address -> keys of the endpoints holding it
  std::map<std::string, std::vector<size_t>> free_slots_;  // namespace -> inventory slots no endpoint uses
  std::map<std::string, NetworkState> networks_;       // by "ns/name"
  std::map<std::string, NodeState> nodes_;             // those with an accepted endpoint
  std::map<std::string, PortState> ports_;             // by port name

  SetOf<PolicyState> touched_;         // their views are to be rebuilt wherever they apply
  std::set<std::string> dirty_nodes_;  // views to rebuild
  uint64_t next_serial_ = 1;

  std::map<std::string, View> views_;
};

// ---- Policies -------------------------------------------------------------------

const Entry* PolicyViews::Graph::InForce(const std::string& identity) const {
  auto it = owners_.find(identity);
  return it == owners_.end() ? nullptr : &entries_.at(*it->second.rbegin());
}

// What a full rebuild (every entry compiled in key order, then ordered by
// tier) would say once `key` holds `replacement` (nullptr: nothing). What is
// held already compiles and its policies find their tiers, so only what the
// change puts in force or takes away can fail: the replacement's compilation,
// a policy put in force that names a tier no Tier defines, a Tier taken away
// that policies in force still name.
Status PolicyViews::Graph::Check(const std::string& key, const Entry* replacement) const {
  if (replacement) {
    policy::PolicySet alone;
    if (Status s = AddTo(alone, replacement->object); !s.ok()) return s;
  }
  // The identities the change reaches, and what will be in force under each.
  std::map<std::string, const Entry*> after;
  const auto in_force_after = [&](const std::string& identity) -> const Entry* {
    std::set<std::string> keys;
    if (auto it = owners_.find(identity); it != owners_.end()) keys = it->second;
    keys.erase(key);
    if (replacement && replacement->identity == identity) keys.insert(key);
    if (keys.empty()) return nullptr;
    return *keys.rbegin() == key ? replacement : &entries_.at(*keys.rbegin());
  };
  if (auto it = entries_.find(key); it != entries_.end()) after[it->second.identity] = in_force_after(it->second.identity);
  if (replacement) after[replacement->identity] = in_force_after(replacement->identity);

  const auto tier_defined = [&](const std::string& name) {
    if (name == "default") return true;  // PolicySet always has it
    auto it = after.find(kTierPrefix + name);
    return it != after.end() ? it->second != nullptr : tiers_.count(name) > 0;
  };
  // The policies that would name a missing tier; Ordered() over them alone
  // words the error as over everything.
  policy::PolicySet missing;
  bool any = false;
  for (const auto& [identity, entry] : after) {
    if (!entry || IsTierIdentity(identity)) continue;
    policy::PolicySet alone;
    (void)AddTo(alone, entry->object);
    for (const auto& [policy_key, p] : alone.policies())
      if (!tier_defined(p.tier)) {
        missing.Upsert(p);
        any = true;
      }
  }
  for (const auto& [identity, entry] : after) {
    if (entry || !IsTierIdentity(identity)) continue;
    const std::string name = identity.substr(sizeof(kTierPrefix) - 1);
    auto it = tier_policies_.find(name);
    if (name == "default" || it == tier_policies_.end()) continue;
    for (const PolicyState* p : it->second)
      if (!after.count(p->policy->Key())) {
        missing.Upsert(*p->policy);
        any = true;
      }
  }
  if (!any) return Status::Ok();
  return missing.Ordered().status();
}

// Puts `entry` under `key` (nullopt: removes it). REQUIRES: Check said ok.
void PolicyViews::Graph::SetPolicy(const std::string& key, std::optional<Entry> entry) {
  std::string before;  // the identity `key` held
  if (auto it = entries_.find(key); it != entries_.end()) {
    before = it->second.identity;
    auto owners = owners_.find(before);
    owners->second.erase(key);
    if (owners->second.empty()) owners_.erase(owners);
  }
  if (entry) {
    const std::string identity = entry->identity;
    entries_[key] = std::move(*entry);
    owners_[identity].insert(key);
    if (!before.empty() && before != identity) Reinstall(before);
    Reinstall(identity);
  } else if (!before.empty()) {
    Reinstall(before);
    entries_.erase(key);
  }
}

void PolicyViews::Graph::Reinstall(const std::string& identity) {
  const Entry* want = InForce(identity);
  if (IsTierIdentity(identity)) {
    // Views carry a tier's manifest wherever a policy of it applies.
    const std::string name = identity.substr(sizeof(kTierPrefix) - 1);
    if (want)
      tiers_[name] = want;
    else
      tiers_.erase(name);
    if (auto it = tier_policies_.find(name); it != tier_policies_.end())
      for (PolicyState* p : it->second) Touch(p);
    return;
  }
  if (policies_.count(identity)) Uninstall(identity);
  if (want)
    Install(identity, *want);
  else
    set_.Remove(identity);
}

void PolicyViews::Graph::Install(const std::string& identity, const Entry& entry) {
  (void)AddTo(set_, entry.object);  // it compiled when Check passed it
  PolicyState& p = policies_[identity];
  p.serial = next_serial_++;
  p.entry = &entry;
  p.policy = &set_.policies().at(identity);
  const policy::Policy& policy = *p.policy;
  if (policy.namespace_.empty())
    global_policies_.insert(&p);
  else
    NamespaceNamed(policy.namespace_).policies.insert(&p);
  tier_policies_[policy.tier].insert(&p);

  for (const auto* rules : {&policy.ingress_rules, &policy.egress_rules})
    for (const policy::Rule& rule : *rules)
      for (const EntityMatch* m : {&rule.source, &rule.destination}) {
        for (const auto* ports : {&m->ports, &m->not_ports})
          for (const policy::PortSpec& port : *ports)
            if (!port.name.empty()) p.port_names.insert(port.name);
        if (!CanPick(*m)) continue;
        auto side = std::make_unique<SideState>();
        side->serial = next_serial_++;
        side->policy = &p;
        side->match = m;
        side->only_namespace = OnlyNamespaceOf(*m);
        if (side->only_namespace)
          NamespaceNamed(*side->only_namespace).sides.insert(side.get());
        else
          global_sides_.insert(side.get());
        SideState& s = *side;
        const Selector* by_labels = m->namespace_selector && !m->not_selector ? &*m->namespace_selector : nullptr;
        ForNamespacesOf(s.only_namespace, by_labels, [&](NamespaceState& ns) {
          for (EndpointState* e : ns.endpoints)
            if (Picks(*m, Entity{&Labelled(*e), nullptr})) s.endpoints.insert(e);
          for (NetworkState* n : ns.networks)
            if (Picks(*m, Entity{nullptr, &n->network})) s.networks.insert(n);
        });
        p.sides.push_back(std::move(side));
      }
  for (const std::string& name : p.port_names) ports_[name].policies.insert(&p);

  const std::optional<std::string> only =
      policy.namespace_.empty() ? std::nullopt : std::optional<std::string>(policy.namespace_);
  ForNamespacesOf(only, policy.namespace_selector ? &*policy.namespace_selector : nullptr, [&](NamespaceState& ns) {
    for (EndpointState* e : ns.endpoints) {
      if (!evaluator_.Applies(policy, Labelled(*e))) continue;
      p.applies_to.insert(e);
      if (++p.nodes[e->node] == 1) nodes_.at(e->node).policies.insert(&p);
    }
  });
  Touch(&p);
}

void PolicyViews::Graph::Uninstall(const std::string& identity) {
  PolicyState& p = policies_.at(identity);
  for (const auto& node_count : p.nodes) {
    dirty_nodes_.insert(node_count.first);
    nodes_.at(node_count.first).policies.erase(&p);
  }
  if (p.policy->namespace_.empty())
    global_policies_.erase(&p);
  else
    namespaces_.at(p.policy->namespace_).policies.erase(&p);
  auto tier = tier_policies_.find(p.policy->tier);
  tier->second.erase(&p);
  if (tier->second.empty()) tier_policies_.erase(tier);
  for (const auto& side : p.sides) {
    if (side->only_namespace)
      namespaces_.at(*side->only_namespace).sides.erase(side.get());
    else
      global_sides_.erase(side.get());
  }
  for (const std::string& name : p.port_names) {
    auto port = ports_.find(name);
    port->second.policies.erase(&p);
    if (port->second.policies.empty() && port->second.endpoints.empty()) ports_.erase(port);
  }
  touched_.erase(&p);
  policies_.erase(identity);
}

// ---- Entities -------------------------------------------------------------------

NamespaceState& PolicyViews::Graph::NamespaceNamed(const std::string& name) {
  auto [it, inserted] = namespaces_.try_emplace(name);
  if (inserted) {
    // Undefined, it still has its automatic labels, as an agent that
    // receives it with no labels of its own will give it.
    it->second.encoded = EncodeLabels({});
    inventory_.AddNamespace(name, {});
  }
  return it->second;
}

void PolicyViews::Graph::WriteSlot(EndpointState& e) {
  const std::string& ns = e.endpoint.namespace_;
  if (e.slot == kNoSlot) {
    auto& free = free_slots_[ns];
    if (free.empty()) {
      e.slot = inventory_.endpoints().size();
    } else {
      e.slot = free.back();
      free.pop_back();
    }
  }
  Endpoint labelled;
  labelled.namespace_ = ns;
  labelled.name = "#" + std::to_string(e.slot);  // unique, whoever held the slot before
  labelled.labels = e.endpoint.labels;
  labelled.service_account = e.endpoint.service_account;
  (void)inventory_.UpsertEndpoint(std::move(labelled));  // no addresses: never refused
}

void PolicyViews::Graph::FreeSlot(EndpointState& e) {
  Endpoint blank;
  blank.namespace_ = e.endpoint.namespace_;
  blank.name = "#" + std::to_string(e.slot);
  (void)inventory_.UpsertEndpoint(std::move(blank));
  free_slots_[blank.namespace_].push_back(e.slot);
  e.slot = kNoSlot;
}

bool PolicyViews::Graph::Picks(const EntityMatch& m, const Entity& entity) const {
  if (evaluator_.SelectedBy(m, entity) && (m.SelectsEntities() || m.selector)) return true;
  return m.not_selector && m.not_selector->Matches(evaluator_.Labels(entity));
}

template <typename F>
void PolicyViews::Graph::ForPoliciesOver(const std::string& ns, F f) {
  for (PolicyState* p : global_policies_) f(p);
  if (auto it = namespaces_.find(ns); it != namespaces_.end())
    for (PolicyState* p : it->second.policies) f(p);
}

template <typename F>
void PolicyViews::Graph::ForSidesOver(const std::string& ns, F f) {
  for (SideState* s : global_sides_) f(s);
  if (auto it = namespaces_.find(ns); it != namespaces_.end())
    for (SideState* s : it->second.sides) f(s);
}

template <typename F>
void PolicyViews::Graph::ForNamespacesOf(const std::optional<std::string>& only, const Selector* namespace_selector,
                                         F f) {
  if (only) {
    if (auto it = namespaces_.find(*only); it != namespaces_.end()) f(it->second);
    return;
  }
  for (auto& named : namespaces_)
    if (!namespace_selector || namespace_selector->Matches(inventory_.NamespaceLabels(named.first)))
      f(named.second);
}

void PolicyViews::Graph::Attach(EndpointState& e) {
  const std::string& ns = e.endpoint.namespace_;
  NamespaceNamed(ns).endpoints.insert(&e);
  NodeState& node = nodes_[e.node];
  node.local.insert(&e);
  dirty_nodes_.insert(e.node);
  const Endpoint& labelled = Labelled(e);
  ForPoliciesOver(ns, [&](PolicyState* p) {
    if (!evaluator_.Applies(*p->policy, labelled)) return;
    p->applies_to.insert(&e);
    if (++p->nodes[e.node] == 1) node.policies.insert(p);
  });
  ForSidesOver(ns, [&](SideState* s) {
    if (!Picks(*s->match, Entity{&labelled, nullptr})) return;
    s->endpoints.insert(&e);
    Touch(s->policy);
  });
  for (const policy::NamedPort& port : e.endpoint.ports) {
    PortState& named = ports_[port.name];
    if (named.endpoints.insert(&e).second)
      for (PolicyState* p : named.policies) Touch(p);
  }
}

void PolicyViews::Graph::Detach(EndpointState& e) {
  const std::string& ns = e.endpoint.namespace_;
  namespaces_.at(ns).endpoints.erase(&e);
  auto node = nodes_.find(e.node);
  dirty_nodes_.insert(e.node);
  ForPoliciesOver(ns, [&](PolicyState* p) {
    if (!p->applies_to.erase(&e)) return;
    auto count = p->nodes.find(e.node);
    if (--count->second > 0) return;
    p->nodes.erase(count);
    node->second.policies.erase(p);
  });
  ForSidesOver(ns, [&](SideState* s) {
    if (s->endpoints.erase(&e)) Touch(s->policy);
  });
  for (const policy::NamedPort& port : e.endpoint.ports) {
    auto named = ports_.find(port.name);
    if (named == ports_.end() || !named->second.endpoints.erase(&e)) continue;  // a name it has twice
    for (PolicyState* p : named->second.policies) Touch(p);
    if (named->second.endpoints.empty() && named->second.policies.empty()) ports_.erase(named);
  }
  node->second.local.erase(&e);
  // What applied there applied to its endpoints, all gone now.
  if (node->second.local.empty()) nodes_.erase(node);
}

void PolicyViews::Graph::Attach(NetworkState& n) {
  const std::string& ns = n.network.namespace_;
  NamespaceNamed(ns).networks.insert(&n);
  ForSidesOver(ns, [&](SideState* s) {
    if (!Picks(*s->match, Entity{nullptr, &n.network})) return;
    s->networks.insert(&n);
    Touch(s->policy);
  });
}

void PolicyViews::Graph::Detach(NetworkState& n) {
  const std::string& ns = n.network.namespace_;
  namespaces_.at(ns).networks.erase(&n);
  ForSidesOver(ns, [&](SideState* s) {
    if (s->networks.erase(&n)) Touch(s->policy);
  });
}

void PolicyViews::Graph::Reattach(EndpointState& e) {
  Detach(e);
  Attach(e);
}

void PolicyViews::Graph::UpsertNamespace(const std::string& name, const model::Labels& labels) {
  NamespaceState& ns = NamespaceNamed(name);
  if (ns.defined && ns.labels == labels) return;
  ns.defined = true;
  ns.labels = labels;
  ns.encoded = EncodeLabels(labels);
  inventory_.AddNamespace(name, labels);
  // Its labels decide which policies apply to its endpoints and which rule
  // sides pick its endpoints and network sets; and every view that holds
  // one of them carries the labels.
  const std::vector<EndpointState*> endpoints(ns.endpoints.begin(), ns.endpoints.end());
  for (EndpointState* e : endpoints) Reattach(*e);
  const std::vector<NetworkState*> networks(ns.networks.begin(), ns.networks.end());
  for (NetworkState* n : networks) {
    Detach(*n);
    Attach(*n);
  }
}

void PolicyViews::Graph::UpsertServiceAccount(const std::string& ns, const std::string& name,
                                              const model::Labels& labels) {
  auto [it, inserted] = accounts_.try_emplace({ns, name});
  if (!inserted && it->second.labels == labels) return;
  it->second.labels = labels;
  it->second.encoded = EncodeLabels(labels);
  inventory_.SetServiceAccountLabels(ns, name, labels);
  auto in = namespaces_.find(ns);
  if (in == namespaces_.end()) return;
  std::vector<EndpointState*> endpoints;
  for (EndpointState* e : in->second.endpoints)
    if (e->endpoint.service_account == name) endpoints.push_back(e);
  for (EndpointState* e : endpoints) Reattach(*e);
}

void PolicyViews::Graph::UpsertNetworkSet(const NetworkSet& network) {
  auto [it, inserted] = networks_.try_emplace(network.namespace_ + "/" + network.name);
  NetworkState& n = it->second;
  if (inserted)
    n.serial = next_serial_++;
  else
    Detach(n);
  n.network = network;
  n.encoded = Encode(network);
  Attach(n);
}

void PolicyViews::Graph::RemoveNetworkSet(const std::string& key) {
  auto it = networks_.find(key);
  if (it == networks_.end()) return;
  Detach(it->second);
  networks_.erase(it);
}

void PolicyViews::Graph::Claim(const EndpointState& e) {
  for (uint32_t ip : e.endpoint.ips) claims_[ip].insert(e.key);
}

void PolicyViews::Graph::Unclaim(const EndpointState& e) {
  for (uint32_t ip : e.endpoint.ips) {
    auto it = claims_.find(ip);
    if (it == claims_.end()) continue;  // an address it lists twice
    it->second.erase(e.key);
    if (it->second.empty()) claims_.erase(it);
  }
}

bool PolicyViews::Graph::Accepted(const EndpointState& e) const {
  for (uint32_t ip : e.endpoint.ips) {
    const std::set<std::string>& holders = claims_.at(ip);
    for (auto k = holders.begin(); k != holders.end() && *k < e.key; ++k)
      if (endpoints_.at(*k).accepted) return false;
  }
  return true;
}

// Whether an endpoint is accepted depends on the endpoints of lesser keys
// sharing an address; after a change to `key`'s addresses (`ips`, before and
// after), those of greater keys are judged again, in key order, each change
// passed on to its own greater neighbours.
void PolicyViews::Graph::RecheckAfter(const std::string& key, const std::vector<uint32_t>& ips) {
  std::set<std::string> pending;
  const auto follow = [&](const std::string& after, const std::vector<uint32_t>& addresses) {
    for (uint32_t ip : addresses)
      if (auto it = claims_.find(ip); it != claims_.end())
        pending.insert(it->second.upper_bound(after), it->second.end());
  };
  follow(key, ips);
  while (!pending.empty()) {
    const std::string next = *pending.begin();
    pending.erase(pending.begin());
    EndpointState& e = endpoints_.at(next);
    const bool accepted = Accepted(e);
    if (accepted == e.accepted) continue;
    if (e.accepted) Detach(e);
    e.accepted = accepted;
    if (accepted) Attach(e);
    follow(next, e.endpoint.ips);
  }
}

void PolicyViews::Graph::UpsertEndpoint(const Endpoint& endpoint, const std::string& node) {
  const std::string key = endpoint.Key();
  Bytes encoded = Encode(endpoint);
  auto [it, inserted] = endpoints_.try_emplace(key);
  EndpointState& e = it->second;
  if (!inserted && e.node == node && e.encoded == encoded) return;  // the same again (a status report)
  std::vector<uint32_t> ips;  // before and after
  if (inserted) {
    e.serial = next_serial_++;
    e.key = key;
  } else {
    ips = e.endpoint.ips;
    if (e.accepted) Detach(e);
    e.accepted = false;
    Unclaim(e);
    // Only a name with a '/' in it can bring another namespace under a key.
    if (e.endpoint.namespace_ != endpoint.namespace_) FreeSlot(e);
  }
  e.endpoint = endpoint;
  e.node = node;
  e.encoded = std::move(encoded);
  WriteSlot(e);
  Claim(e);
  e.accepted = Accepted(e);
  if (e.accepted) Attach(e);
  ips.insert(ips.end(), e.endpoint.ips.begin(), e.endpoint.ips.end());
  RecheckAfter(key, ips);
}

void PolicyViews::Graph::RemoveEndpoint(const std::string& key) {
  auto it = endpoints_.find(key);
  if (it == endpoints_.end()) return;
  EndpointState& e = it->second;
  if (e.accepted) Detach(e);
  Unclaim(e);
  FreeSlot(e);
  const std::vector<uint32_t> ips = std::move(e.endpoint.ips);
  endpoints_.erase(it);
  RecheckAfter(key, ips);
}

// ---- Views ----------------------------------------------------------------------

// A node's view from the graph: its endpoints, the policies that apply to
// them (and their Tiers), what their rule sides pick, the endpoints with the
// port names they name, and the labels of what it holds.
PolicyViews::View PolicyViews::Graph::Build(const NodeState& node) const {
  View view;
  const auto add_namespace = [&](const std::string& name) {
    view.try_emplace("ns/" + name, namespaces_.at(name).encoded);
  };
  const auto add_endpoint = [&](const EndpointState* e) {
    if (!view.try_emplace("ep/" + e->key, e->encoded).second) return;
    const Endpoint& endpoint = e->endpoint;
    add_namespace(endpoint.namespace_);
    auto sa = accounts_.find({endpoint.namespace_, endpoint.service_account});
    if (sa != accounts_.end())
      view.try_emplace("sa/" + endpoint.namespace_ + "/" + endpoint.service_account, sa->second.encoded);
  };
  const auto add_network = [&](const NetworkState* n) {
    view.try_emplace("netset/" + n->network.namespace_ + "/" + n->network.name, n->encoded);
    // A rule's namespaceSelector picks a namespaced network set by its
    // namespace's labels, which no pod of the view may have brought.
    if (!n->network.namespace_.empty()) add_namespace(n->network.namespace_);
  };
  for (const EndpointState* e : node.local) add_endpoint(e);
  std::set<std::string> tiers, port_names;
  for (const PolicyState* p : node.policies) {
    view.try_emplace("policy/" + p->entry->key, p->entry->manifest);
    tiers.insert(p->policy->tier);
    for (const auto& side : p->sides) {
      for (const EndpointState* e : side->endpoints) add_endpoint(e);
      for (const NetworkState* n : side->networks) add_network(n);
    }
    port_names.insert(p->port_names.begin(), p->port_names.end());
  }
  for (const std::string& name : tiers)
    if (auto tier = tiers_.find(name); tier != tiers_.end())
      view.try_emplace("policy/" + tier->second->key, tier->second->manifest);
  for (const std::string& name : port_names)
    if (auto port = ports_.find(name); port != ports_.end())
      for (const EndpointState* e : port->second.endpoints) add_endpoint(e);
  return view;
}

std::vector<std::string> PolicyViews::Graph::Compute() {
  for (const PolicyState* p : touched_)
    for (const auto& node_count : p->nodes) dirty_nodes_.insert(node_count.first);
  touched_.clear();
  std::vector<std::string> changed;
  for (const std::string& name : dirty_nodes_) {
    auto node = nodes_.find(name);
    if (node == nodes_.end()) {
      if (views_.erase(name)) changed.push_back(name);
      continue;
    }
    View view = Build(node->second);
    auto [old, inserted] = views_.try_emplace(name);
    if (!inserted && old->second == view) continue;
    old->second = std::move(view);
    changed.push_back(name);
  }
  dirty_nodes_.clear();
  return changed;  // sorted, as dirty_nodes_ is
}

const PolicyViews::View& PolicyViews::Graph::ViewOf(const std::string& node) const {
  static const View kEmpty;
  auto it = views_.find(node);
  return it == views_.end() ? kEmpty : it->second;
}

// ---- PolicyViews ----------------------------------------------------------------

PolicyViews::PolicyViews() : graph_(std::make_unique<Graph>()) {}
PolicyViews::~PolicyViews() = default;

Status PolicyViews::UpsertPolicy(const std::string& key, const model::Object& object,
                                 const std::string& manifest) {
  Entry entry{key, object, ByteView(manifest).ToBytes(), IdentityOf(object)};
  if (Status s = graph_->Check(key, &entry); !s.ok()) return s;
  graph_->SetPolicy(key, std::move(entry));
  return Status::Ok();
}

Status PolicyViews::CheckRemove(const std::string& key) const { return graph_->Check(key, nullptr); }

void PolicyViews::RemovePolicy(const std::string& key) { graph_->SetPolicy(key, std::nullopt); }

void PolicyViews::UpsertNamespace(const std::string& name, const model::Labels& labels) {
  graph_->UpsertNamespace(name, labels);
}

void PolicyViews::UpsertServiceAccount(const std::string& ns, const std::string& name,
                                       const model::Labels& labels) {
  graph_->UpsertServiceAccount(ns, name, labels);
}

void PolicyViews::UpsertNetworkSet(const policy::NetworkSet& network) { graph_->UpsertNetworkSet(network); }

void PolicyViews::RemoveNetworkSet(const std::string& ns, const std::string& name) {
  graph_->RemoveNetworkSet(ns + "/" + name);
}

void PolicyViews::UpsertEndpoint(const policy::Endpoint& endpoint, const std::string& node) {
  graph_->UpsertEndpoint(endpoint, node);
}

void PolicyViews::RemoveEndpoint(const std::string& key) { graph_->RemoveEndpoint(key); }

std::vector<std::string> PolicyViews::Compute() { return graph_->Compute(); }

const PolicyViews::View& PolicyViews::ViewOf(const std::string& node) const { return graph_->ViewOf(node); }

StatusOr<const std::vector<model::Object>*> ManifestCache::Parse(const std::string& key, const Bytes& value) {
  auto it = entries_.find(key);
  if (it != entries_.end() && it->second.first == value) return &it->second.second;
  model::LoadResult loaded = model::LoadManifests(std::string(value.begin(), value.end()), key);
  if (!loaded.ok()) return InvalidArgument(key + ": " + loaded.errors.front().ToString());
  auto& entry = entries_[key];
  entry = {value, std::move(loaded.objects)};
  return &entry.second;
}

void ManifestCache::Retain(const PolicyViews::View& view) {
  for (auto it = entries_.begin(); it != entries_.end();)
    it = view.count(it->first) ? std::next(it) : entries_.erase(it);
}

StatusOr<std::unique_ptr<CompiledView>> CompileView(const PolicyViews::View& view, ManifestCache* cache) {
  auto out = std::make_unique<CompiledView>();
  auto starts = [](const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; };
  ManifestCache local;
  if (!cache) cache = &local;
  cache->Retain(view);
  for (const auto& [key, value] : view) {
    if (starts(key, "policy/")) {
      StatusOr<const std::vector<model::Object>*> objects = cache->Parse(key, value);
      if (!objects.ok()) return objects.status();
      for (const model::Object& o : **objects)
        if (Status s = AddTo(out->set, o); !s.ok()) return s.WithContext(key);
    } else if (starts(key, "ns/")) {
      model::Labels labels;
      if (Status s = DecodeLabels(value, &labels); !s.ok()) return s.WithContext(key);
      out->inventory.AddNamespace(key.substr(3), labels);
    } else if (starts(key, "sa/")) {
      model::Labels labels;
      const std::string rest = key.substr(3);
      const size_t slash = rest.find('/');
      if (slash == std::string::npos) return InvalidArgument("a service account key needs namespace/name", key);
      if (Status s = DecodeLabels(value, &labels); !s.ok()) return s.WithContext(key);
      out->inventory.SetServiceAccountLabels(rest.substr(0, slash), rest.substr(slash + 1), labels);
    } else if (starts(key, "netset/")) {
      policy::NetworkSet n;
      if (Status s = Decode(value, &n); !s.ok()) return s.WithContext(key);
      if (Status s = out->inventory.AddNetworkSet(n); !s.ok()) return s.WithContext(key);
    }
  }
  // Endpoints after namespaces, whose labels they are judged with.
  for (const auto& [key, value] : view) {
    if (!starts(key, "ep/")) continue;
    policy::Endpoint e;
    if (Status s = Decode(value, &e); !s.ok()) return s.WithContext(key);
    if (Status s = out->inventory.UpsertEndpoint(e); !s.ok()) return s.WithContext(key);
  }
  auto ordered = out->set.Ordered();
  if (!ordered.ok()) return ordered.status();
  out->tiers = std::move(*ordered);
  out->classifier = std::make_unique<policy::Classifier>(out->tiers, out->inventory);
  return out;
}

}  // namespace edgebed::cluster
