// PolicyViews against the whole cluster. Over many random worlds, with the
// pods spread over a few nodes: a classifier compiled from one node's view
// must decide every packet to or from a pod of that node (egress at a local
// source, ingress at a local destination) exactly as the reference evaluator
// over the whole cluster does — allowed or denied, by the same tier, policy
// and rule, with the same trace — including packets from and to pods the
// view leaves out, addresses outside every pod, and named ports. And a view
// must hold no more than that needs; and Compute() must name exactly the
// nodes whose view a change altered.
//
// And the incremental views against the plain full recompute
// (policy_view_reference.h): over hundreds of random sequences of changes
// (pods added, relabelled, moved, readdressed, removed; policies, tiers,
// namespaces, service accounts and network sets written and removed),
// Compute() at random points must name the same nodes and every node's view
// must equal the reference's, key for key and byte for byte.
// Randomized tests print their seed on failure; EDGEBED_SEED=N replays one.
#include "core/cluster/policy_view.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/base/ip.h"
#include "core/env/random.h"
#include "core/model/emit.h"
#include "core/model/loader.h"
#include "core/policy/reference.h"
#include "tests/cluster/policy_view_reference.h"
#include "tests/policy/random_world.h"

namespace edgebed::cluster {
namespace {

namespace rw = policy::random_world;
using policy::Decision;
using policy::Direction;
using policy::Endpoint;
using policy::Entity;
using policy::EntityMatch;
using policy::Inventory;
using policy::Packet;
using policy::ReferenceEvaluator;

bool IsPolicyObject(const model::Object& o) {
  return std::holds_alternative<model::NetworkPolicy>(o) || std::holds_alternative<model::CalicoPolicy>(o) ||
         std::holds_alternative<model::Tier>(o);
}

// The key the server stores an object under (Calico's namespaced policy told
// apart from Kubernetes' by its group).
std::string KeyOf(const model::Object& o) {
  const model::ObjectMeta& m = model::MetaOf(o);
  const auto* calico = std::get_if<model::CalicoPolicy>(&o);
  const std::string kind = calico && !calico->global ? "CalicoNetworkPolicy" : model::KindOf(o);
  return "o/" + kind + "/" + (m.namespace_.empty() ? "" : m.namespace_ + "/") + m.name;
}

Status AddTo(policy::PolicySet& set, const model::Object& o) {
  if (auto* p = std::get_if<model::NetworkPolicy>(&o)) return set.Upsert(*p);
  if (auto* p = std::get_if<model::CalicoPolicy>(&o)) return set.Upsert(*p);
  return set.Upsert(std::get<model::Tier>(o));
}

// The whole cluster's policies, by their keys, in evaluation order; and
// which key each compiled policy (Policy::Key()) and tier came from.
struct Cluster {
  policy::PolicySet set;
  std::vector<policy::PolicySet::OrderedTier> tiers;  // point into `set`
  std::map<std::string, std::string> key_of;           // Policy::Key() or "tier:NAME" -> object key
};

std::unique_ptr<Cluster> WholeCluster(const std::map<std::string, model::Object>& policies) {
  auto c = std::make_unique<Cluster>();
  for (const auto& [key, o] : policies) {
    if (Status s = AddTo(c->set, o); !s.ok()) {
      ADD_FAILURE() << key << ": " << s.ToString();
      return nullptr;
    }
    if (auto* t = std::get_if<model::Tier>(&o)) {
      c->key_of["tier:" + t->meta.name] = key;
    } else {
      policy::PolicySet alone;
      (void)AddTo(alone, o);
      c->key_of[alone.policies().begin()->first] = key;
    }
  }
  auto tiers = c->set.Ordered();
  if (!tiers.ok()) {
    ADD_FAILURE() << tiers.status().ToString();
    return nullptr;
  }
  c->tiers = *std::move(tiers);
  return c;
}

// Everything a decision says, for comparing two.
std::string Describe(const Decision& d) {
  std::ostringstream out;
  out << (d.allowed ? "allowed" : "denied") << " by#" << static_cast<int>(d.by) << " tier=" << d.tier
      << " policy=" << (d.policy ? d.policy->Key() : "-") << " rule=" << d.rule;
  if (d.by == Decision::By::kRule) out << " " << policy::DirectionName(d.rule_direction);
  for (const std::string& t : d.trace) out << " | " << t;
  out << " (" << d.ToString() << ")";
  return out.str();
}

bool NamesPort(const EntityMatch& m) {
  for (const auto* ports : {&m.ports, &m.not_ports})
    for (const policy::PortSpec& p : *ports)
      if (!p.name.empty()) return true;
  return false;
}

// Whether the deciding rule names a port.
bool ByNamedPortRule(const Decision& d) {
  if (d.by != Decision::By::kRule) return false;
  const policy::Rule& rule = d.policy->rules(d.rule_direction)[static_cast<size_t>(d.rule)];
  return NamesPort(rule.source) || NamesPort(rule.destination);
}

// Whether a rule side can tell an address held by `e` from one nobody
// holds: it selects `e` (by selector, namespace or service account), its
// notSelector excludes `e`, or it names a port `e` has.
bool SinglesOut(const ReferenceEvaluator& whole, const EntityMatch& m, const Entity& e) {
  if (m.SelectsEntities() && whole.SelectedBy(m, e)) return true;
  if (m.not_selector && m.not_selector->Matches(whole.Labels(e))) return true;
  if (e.endpoint)
    for (const auto* ports : {&m.ports, &m.not_ports})
      for (const policy::PortSpec& p : *ports)
        for (const policy::NamedPort& named : e.endpoint->ports)
          if (!p.name.empty() && named.name == p.name) return true;
  return false;
}

std::set<std::string> KeysWithPrefix(const PolicyViews::View& view, const std::string& prefix) {
  std::set<std::string> keys;
  for (const auto& [key, value] : view)
    if (key.rfind(prefix, 0) == 0) keys.insert(key.substr(prefix.size()));
  return keys;
}

std::string Join(const std::set<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

struct Counts {
  size_t packets = 0, allowed = 0, by_rule = 0, by_named_port_rule = 0;
  size_t beyond_view = 0, beyond_view_by_rule = 0;  // the other end a pod the view leaves out
  size_t nodes = 0, nodes_without_policy = 0, endpoints_left_out = 0;
};

// The view must hold the policies that apply to a local endpoint (and their
// tiers' objects), the local endpoints and every endpoint or network set
// such a policy's rules can single out — and nothing else.
void CheckContents(const PolicyViews::View& view, const std::vector<const Endpoint*>& local,
                   const Cluster& cluster, const Inventory& inventory, const std::string& context,
                   Counts* counts) {
  const ReferenceEvaluator whole(cluster.tiers, inventory);
  std::set<std::string> policies, endpoints, networks, namespaces;
  std::vector<const EntityMatch*> sides;
  for (const Endpoint* e : local) endpoints.insert(e->Key());
  for (const auto& tier : cluster.tiers) {
    bool used = false;
    for (const policy::Policy* p : tier.policies) {
      if (std::none_of(local.begin(), local.end(), [&](const Endpoint* e) { return whole.Applies(*p, *e); }))
        continue;
      used = true;
      policies.insert(cluster.key_of.at(p->Key()));
      for (const auto* rules : {&p->ingress_rules, &p->egress_rules})
        for (const policy::Rule& rule : *rules) sides.insert(sides.end(), {&rule.source, &rule.destination});
    }
    auto tier_object = cluster.key_of.find("tier:" + tier.spec.name);
    if (used && tier_object != cluster.key_of.end()) policies.insert(tier_object->second);
  }
  const auto singled_out = [&](const Entity& e) {
    return std::any_of(sides.begin(), sides.end(), [&](const EntityMatch* m) { return SinglesOut(whole, *m, e); });
  };
  for (const Endpoint& e : inventory.endpoints())
    if (singled_out(Entity{&e, nullptr})) endpoints.insert(e.Key());
  for (const policy::NetworkSet& n : inventory.networks())
    if (singled_out(Entity{nullptr, &n})) {
      networks.insert(n.namespace_ + "/" + n.name);
      if (!n.namespace_.empty()) namespaces.insert(n.namespace_);
    }
  for (const std::string& key : endpoints) namespaces.insert(key.substr(0, key.find('/')));

  EXPECT_EQ(Join(KeysWithPrefix(view, "policy/")), Join(policies)) << context;
  EXPECT_EQ(Join(KeysWithPrefix(view, "ep/")), Join(endpoints)) << context;
  EXPECT_EQ(Join(KeysWithPrefix(view, "netset/")), Join(networks)) << context;
  // Namespaces: those of what it holds (a namespace's labels decide what a
  // namespaceSelector picks among its pods and network sets).
  EXPECT_EQ(Join(KeysWithPrefix(view, "ns/")), Join(namespaces)) << context;
  ++counts->nodes;
  counts->nodes_without_policy += policies.empty();
  counts->endpoints_left_out += inventory.endpoints().size() - endpoints.size();
}

// `packets` random packets to or from the node's endpoints, each decided by
// the node's compiled view and by the reference over the whole cluster.
void CompareDecisions(Random& r, const PolicyViews::View& view, const std::vector<const Endpoint*>& local,
                      const Cluster& cluster, const Inventory& inventory, int packets,
                      const std::string& context, Counts* counts) {
  StatusOr<std::unique_ptr<CompiledView>> compiled = CompileView(view);
  ASSERT_TRUE(compiled.ok()) << context << ": " << compiled.status().ToString();
  const CompiledView& mine = **compiled;
  const ReferenceEvaluator whole(cluster.tiers, inventory);
  std::vector<uint32_t> everywhere, beyond;  // addresses of every pod; of those the view leaves out
  for (const Endpoint& e : inventory.endpoints()) {
    everywhere.push_back(e.ips[0]);
    if (!mine.inventory.FindEndpoint(e.Key())) beyond.push_back(e.ips[0]);
  }
  for (int i = 0; i < packets; ++i) {
    const Endpoint& e = *local[r.Uniform(local.size())];
    const Endpoint* in_view = mine.inventory.FindEndpoint(e.Key());
    ASSERT_NE(in_view, nullptr) << context << ": " << e.Key() << " is local";
    Packet p = rw::RandomPacket(r);
    const double which = r.UnitReal();
    uint32_t other = which < 0.3 ? rw::RandomAddress(r)  // a pod, a network set, the Internet
                     : which < 0.55 ? everywhere[r.Uniform(everywhere.size())]
                     : which < 0.9 && !beyond.empty() ? beyond[r.Uniform(beyond.size())]
                     : local[r.Uniform(local.size())]->ips[0];
    const Direction d = r.Chance(0.5) ? Direction::kEgress : Direction::kIngress;
    p.src = d == Direction::kEgress ? e.ips[0] : other;
    p.dst = d == Direction::kEgress ? other : e.ips[0];
    // Often a port the destination names, so named-port rules decide.
    if (const Endpoint* dst = inventory.Lookup(p.dst).endpoint; dst && !dst->ports.empty() && r.Chance(0.4)) {
      const policy::NamedPort& port = dst->ports[r.Uniform(dst->ports.size())];
      p.protocol = port.protocol;
      p.dst_port = port.port;
    }
    const Decision want = whole.Evaluate(e, d, p);
    const Decision got = mine.classifier->Evaluate(*in_view, d, p);
    if (Describe(got) != Describe(want)) {
      const ReferenceEvaluator over_view(mine.tiers, mine.inventory);
      std::set<std::string> keys;
      for (const auto& [key, value] : view) keys.insert(key);
      FAIL() << context << ", " << e.Key() << " " << policy::DirectionName(d) << ", " << p.ToString()
             << "\n  whole cluster: " << Describe(want) << "\n  node's view:   " << Describe(got)
             << "\n  reference over the view: " << Describe(over_view.Evaluate(*in_view, d, p))
             << "\n  view: " << Join(keys);
    }
    const Endpoint* peer = inventory.Lookup(other).endpoint;
    const bool is_beyond = peer && !mine.inventory.FindEndpoint(peer->Key());
    ++counts->packets;
    counts->allowed += want.allowed;
    counts->by_rule += want.by == Decision::By::kRule;
    counts->by_named_port_rule += ByNamedPortRule(want);
    counts->beyond_view += is_beyond;
    counts->beyond_view_by_rule += is_beyond && want.by == Decision::By::kRule;
  }
}

// One change to the cluster: a policy edited, removed, added or written
// again unchanged, or a pod relabelled. Returns what it did.
std::string Change(Random& r, Inventory& inventory, std::map<std::string, model::Object>& policies,
                   const std::map<std::string, std::string>& node_of, PolicyViews& views) {
  std::vector<std::string> editable;  // policies, not tiers
  for (const auto& [key, o] : policies)
    if (!std::holds_alternative<model::Tier>(o)) editable.push_back(key);
  const std::string key = editable[r.Uniform(editable.size())];
  const auto upsert = [&](const std::string& k, const model::Object& o) {
    const Status s = views.UpsertPolicy(k, o, model::ToYaml(o));
    EXPECT_TRUE(s.ok()) << k << ": " << s.ToString();
    policies[k] = o;
  };
  switch (r.Uniform(10)) {
    case 0: case 1: case 2: case 3: {
      model::Object o = policies.at(key);
      if (auto* cp = std::get_if<model::CalicoPolicy>(&o)) {
        switch (r.Uniform(3)) {
          case 0: cp->selector.expression = rw::RandomSelector(r); break;
          case 1: cp->order = static_cast<double>(r.Uniform(4) * 100); break;
          default:
            if (!cp->ingress.empty()) cp->ingress.pop_back();
            else if (!cp->egress.empty()) cp->egress.pop_back();
        }
      } else {
        auto& np = std::get<model::NetworkPolicy>(o);
        if (r.Chance(0.5)) {
          np.pod_selector = rw::RandomLabelSelector(r);
        } else if (!np.ingress.empty()) {
          np.ingress.pop_back();
        } else if (!np.egress.empty()) {
          np.egress.pop_back();
        }
      }
      upsert(key, o);
      return "edited " + key;
    }
    case 4: case 5:
      EXPECT_TRUE(views.CheckRemove(key).ok()) << key;
      views.RemovePolicy(key);
      policies.erase(key);
      return "removed " + key;
    case 6: case 7: {
      model::CalicoPolicy cp;
      cp.global = r.Chance(0.5);
      cp.meta.name = "added";
      cp.meta.namespace_ = cp.global ? "" : "ns" + std::to_string(r.Uniform(3));
      cp.order = static_cast<double>(r.Uniform(4) * 100);
      cp.selector.expression = rw::RandomSelector(r);
      cp.ingress.push_back(rw::RandomCalicoRule(r));
      cp.types.push_back("Ingress");
      if (r.Chance(0.5)) {
        cp.egress.push_back(rw::RandomCalicoRule(r));
        cp.types.push_back("Egress");
      }
      upsert(KeyOf(cp), cp);
      return "added " + KeyOf(cp);
    }
    case 8:
      upsert(key, policies.at(key));
      return "rewrote " + key + " unchanged";
    default: {
      Endpoint e = inventory.endpoints()[r.Uniform(inventory.endpoints().size())];
      e.labels = rw::RandomLabels(r);
      EXPECT_TRUE(inventory.UpsertEndpoint(e).ok());
      views.UpsertEndpoint(e, node_of.at(e.Key()));
      return "relabelled " + e.Key();
    }
  }
}

TEST(PolicyView, DecidesAsTheWholeClusterOnRandomWorlds) {
  Counts counts;
  size_t changes = 0, changes_reaching_some = 0, changes_reaching_none = 0;
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    Random r(seed * 7 + 40000);
    rw::World w;
    rw::BuildWorld(r, &w);
    if (HasFatalFailure()) return;
    // Now and then a namespace without pods, whose network sets a view may
    // then hold without any pod of theirs.
    const std::string podless = r.Chance(0.3) ? "ns" + std::to_string(r.Uniform(3)) : "";

    // The cluster as the server is told it, and as the reference sees it.
    PolicyViews views;
    Inventory whole;
    std::map<std::string, model::Object> policies;  // by key
    for (const model::Object& o : w.objects) {
      if (auto* ns = std::get_if<model::Namespace>(&o)) {
        views.UpsertNamespace(ns->meta.name, ns->meta.labels);
        whole.AddNamespace(ns->meta.name, ns->meta.labels);
      }
      if (auto* sa = std::get_if<model::ServiceAccount>(&o)) {
        views.UpsertServiceAccount(sa->meta.namespace_, sa->meta.name, sa->meta.labels);
        whole.SetServiceAccountLabels(sa->meta.namespace_, sa->meta.name, sa->meta.labels);
      }
      if (IsPolicyObject(o)) {
        const Status s = views.UpsertPolicy(KeyOf(o), o, model::ToYaml(o));
        ASSERT_TRUE(s.ok()) << "seed " << seed << ", " << KeyOf(o) << ": " << s.ToString();
        policies[KeyOf(o)] = o;
      }
    }
    for (const policy::NetworkSet& n : w.networks) {
      views.UpsertNetworkSet(n);
      ASSERT_TRUE(whole.AddNetworkSet(n).ok());
    }
    std::vector<std::string> nodes;
    for (int n = 0, count = static_cast<int>(3 + r.Uniform(3)); n < count; ++n)
      nodes.push_back("node-" + std::to_string(n));
    std::map<std::string, std::string> node_of;  // endpoint key -> node
    for (const Endpoint& e : w.inventory.endpoints()) {
      if (e.namespace_ == podless) continue;
      ASSERT_TRUE(whole.AddEndpoint(e).ok());
      node_of[e.Key()] = nodes[r.Uniform(nodes.size())];
      views.UpsertEndpoint(e, node_of[e.Key()]);
    }
    const auto local_of = [&](const std::string& node) {
      std::vector<const Endpoint*> local;
      for (const Endpoint& e : whole.endpoints())
        if (node_of.at(e.Key()) == node) local.push_back(&e);
      return local;
    };

    // The first views: every node with a pod gets one.
    std::vector<std::string> with_pods;
    for (const std::string& node : nodes)
      if (!local_of(node).empty()) with_pods.push_back(node);
    ASSERT_EQ(views.Compute(), with_pods) << "seed " << seed;
    ASSERT_TRUE(views.Compute().empty()) << "seed " << seed << ": nothing changed";

    const auto check_all = [&](int packets, const std::string& when) {
      std::unique_ptr<Cluster> cluster = WholeCluster(policies);
      ASSERT_TRUE(cluster);
      for (const std::string& node : nodes) {
        const std::string context = "seed " + std::to_string(seed) + ", " + node + when;
        const std::vector<const Endpoint*> local = local_of(node);
        if (local.empty()) {
          EXPECT_TRUE(views.ViewOf(node).empty()) << context;
          continue;
        }
        CheckContents(views.ViewOf(node), local, *cluster, whole, context, &counts);
        CompareDecisions(r, views.ViewOf(node), local, *cluster, whole, packets, context, &counts);
        if (HasFatalFailure()) return;
      }
    };
    check_all(300, "");
    if (HasFatalFailure()) return;

    // One change: Compute() names exactly the nodes whose view it altered,
    // and the views still decide as the whole cluster does.
    std::map<std::string, PolicyViews::View> before;
    for (const std::string& node : nodes) before[node] = views.ViewOf(node);
    const std::string change = Change(r, whole, policies, node_of, views);
    std::vector<std::string> altered;
    for (const std::string& node : nodes)
      if (views.ViewOf(node) != before[node]) altered.push_back(node);
    ASSERT_TRUE(altered.empty()) << "views change only on Compute()";
    const std::vector<std::string> changed = views.Compute();
    for (const std::string& node : nodes)
      if (views.ViewOf(node) != before[node]) altered.push_back(node);
    EXPECT_EQ(Join({changed.begin(), changed.end()}), Join({altered.begin(), altered.end()}))
        << "seed " << seed << ", " << change;
    EXPECT_TRUE(std::is_sorted(changed.begin(), changed.end()));
    EXPECT_TRUE(views.Compute().empty()) << "seed " << seed << ": nothing changed since";
    ++changes;
    changes_reaching_some += !altered.empty() && altered.size() < with_pods.size();
    changes_reaching_none += altered.empty();
    check_all(100, ", after it " + change);
    if (HasFatalFailure()) return;
  }
  // The worlds must exercise what the property is about, or it says little:
  // both outcomes, rules (named ports among them) deciding, packets to and
  // from pods a view leaves out, views that leave pods out, nodes no policy
  // applies to, and changes that reach some nodes but not all.
  EXPECT_GT(counts.allowed, counts.packets / 10);
  EXPECT_LT(counts.allowed, counts.packets * 9 / 10);
  EXPECT_GT(counts.by_rule, counts.packets / 20);
  EXPECT_GT(counts.by_named_port_rule, counts.packets / 1000);
  EXPECT_GT(counts.beyond_view, counts.packets / 10);
  EXPECT_GT(counts.beyond_view_by_rule, counts.beyond_view / 50);
  EXPECT_GT(counts.endpoints_left_out, counts.nodes);
  EXPECT_GT(counts.nodes_without_policy, counts.nodes / 50);
  EXPECT_GT(changes_reaching_some, changes / 10);
  EXPECT_GT(changes_reaching_none, changes / 20);
  std::cout << counts.packets << " packets over " << counts.nodes << " node views: " << counts.allowed
            << " allowed, " << counts.by_rule << " decided by a rule (" << counts.by_named_port_rule
            << " naming a port); " << counts.beyond_view << " to or from a pod the view leaves out ("
            << counts.beyond_view_by_rule << " decided by a rule); " << counts.endpoints_left_out
            << " pods left out of views; " << counts.nodes_without_policy << " views with no policy; "
            << changes << " changes, " << changes_reaching_some << " reaching some nodes but not all, "
            << changes_reaching_none << " none\n";
}

// A small site by hand: a gateway on node-a whose policy admits probes (a
// network set in a namespace without pods, picked by that namespace's
// labels), reaches the database by label and anything on the port named
// mqtt; the database and the broker on node-b, an idle pod on node-c.
const char* const kSite = R"(
apiVersion: v1
kind: Namespace
metadata: {name: floor-1, labels: {site: hq}}
---
apiVersion: v1
kind: Namespace
metadata: {name: lab, labels: {zone: sensors}}
---
apiVersion: projectcalico.org/v3
kind: NetworkSet
metadata: {name: probes, namespace: lab, labels: {role: probe}}
spec: {nets: [192.168.5.0/24]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: {name: cloud, labels: {role: cloud}}
spec: {nets: [203.0.113.0/24]}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: gateway, namespace: floor-1}
spec:
  selector: app == 'gateway'
  types: [Ingress, Egress]
  ingress:
  - action: Allow
    source: {selector: role == 'probe', namespaceSelector: zone == 'sensors'}
  egress:
  - action: Allow
    destination: {selector: role == 'db'}
  - action: Allow
    protocol: TCP
    destination: {ports: [mqtt]}
)";

struct Site {
  PolicyViews views;
  std::map<std::string, model::Object> policies;
  Inventory whole;
};

// Feeds the site's manifests and pods to `site`, as the server would.
void Build(Site* site) {
  const model::LoadResult loaded = model::LoadManifests(kSite, "site.yaml");
  ASSERT_TRUE(loaded.ok()) << loaded.errors.front().ToString();
  for (const model::Object& o : loaded.objects) {
    if (auto* ns = std::get_if<model::Namespace>(&o)) {
      site->views.UpsertNamespace(ns->meta.name, ns->meta.labels);
      site->whole.AddNamespace(ns->meta.name, ns->meta.labels);
    } else if (auto* set = std::get_if<model::NetworkSet>(&o)) {
      policy::NetworkSet n;
      n.namespace_ = set->meta.namespace_;
      n.name = set->meta.name;
      n.labels = set->meta.labels;
      for (const std::string& text : set->nets) {
        IpPrefix net;
        std::string why;
        ASSERT_TRUE(ParseCidr(text, &net, &why)) << why;
        n.nets.push_back(net);
      }
      site->views.UpsertNetworkSet(n);
      ASSERT_TRUE(site->whole.AddNetworkSet(n).ok());
    } else {
      ASSERT_TRUE(IsPolicyObject(o));
      ASSERT_TRUE(site->views.UpsertPolicy(KeyOf(o), o, model::ToYaml(o)).ok()) << KeyOf(o);
      site->policies[KeyOf(o)] = o;
    }
  }
  const auto pod = [&](const char* name, model::Labels labels, const char* ip, const char* node,
                       std::vector<policy::NamedPort> ports = {}) {
    Endpoint e;
    e.namespace_ = "floor-1";
    e.name = name;
    e.labels = std::move(labels);
    e.ips = {*ParseIpv4(ip)};
    e.ports = std::move(ports);
    ASSERT_TRUE(site->whole.AddEndpoint(e).ok());
    site->views.UpsertEndpoint(e, node);
  };
  pod("gw", {{"app", "gateway"}}, "10.42.1.1", "node-a");
  pod("db", {{"role", "db"}}, "10.42.1.2", "node-b");
  pod("broker", {{"app", "broker"}}, "10.42.1.3", "node-b", {{"mqtt", policy::kTcp, 1883}});
  pod("idle", {{"app", "idle"}}, "10.42.1.4", "node-c");
}

std::set<std::string> Keys(const PolicyViews::View& view) {
  std::set<std::string> keys;
  for (const auto& [key, value] : view) keys.insert(key);
  return keys;
}

TEST(PolicyView, HoldsWhatTheLocalPoliciesCanSingleOutAndNothingElse) {
  Site site;
  Build(&site);
  if (HasFatalFailure()) return;
  EXPECT_EQ(site.views.Compute(), (std::vector<std::string>{"node-a", "node-b", "node-c"}));
  // node-a: its gateway's policy and tier-less default; the database (by
  // label), the broker (it has the named port), the probes and their
  // namespace's labels; not the idle pod, nor the cloud: no rule names them.
  EXPECT_EQ(Join(Keys(site.views.ViewOf("node-a"))),
            "ep/floor-1/broker, ep/floor-1/db, ep/floor-1/gw, netset/lab/probes, ns/floor-1, ns/lab, "
            "policy/o/CalicoNetworkPolicy/floor-1/gateway");
  // No policy applies to the pods of node-b and node-c: their own pods only.
  EXPECT_EQ(Join(Keys(site.views.ViewOf("node-b"))), "ep/floor-1/broker, ep/floor-1/db, ns/floor-1");
  EXPECT_EQ(Join(Keys(site.views.ViewOf("node-c"))), "ep/floor-1/idle, ns/floor-1");
  EXPECT_TRUE(site.views.ViewOf("node-d").empty());

  std::unique_ptr<Cluster> cluster = WholeCluster(site.policies);
  ASSERT_TRUE(cluster);
  const ReferenceEvaluator whole(cluster->tiers, site.whole);
  StatusOr<std::unique_ptr<CompiledView>> compiled = CompileView(site.views.ViewOf("node-a"));
  ASSERT_TRUE(compiled.ok()) << compiled.status().ToString();
  const CompiledView& a = **compiled;
  const Endpoint& gw = *a.inventory.FindEndpoint("floor-1/gw");
  // The decision of node-a's view for the gateway, after checking it is the
  // whole cluster's.
  const auto decide = [&](Direction d, const char* src, const char* dst, uint16_t port) {
    Packet p;
    p.src = *ParseIpv4(src);
    p.dst = *ParseIpv4(dst);
    p.dst_port = port;
    const Decision got = a.classifier->Evaluate(gw, d, p);
    EXPECT_EQ(Describe(got), Describe(whole.Evaluate(*site.whole.FindEndpoint("floor-1/gw"), d, p)))
        << p.ToString();
    return got;
  };
  const Decision from_probe = decide(Direction::kIngress, "192.168.5.7", "10.42.1.1", 443);
  EXPECT_EQ(from_probe.by, Decision::By::kRule);
  EXPECT_TRUE(from_probe.allowed);
  EXPECT_FALSE(decide(Direction::kIngress, "192.168.6.7", "10.42.1.1", 443).allowed);
  EXPECT_TRUE(decide(Direction::kEgress, "10.42.1.1", "10.42.1.2", 5432).allowed);  // the database
  const Decision to_broker = decide(Direction::kEgress, "10.42.1.1", "10.42.1.3", 1883);
  EXPECT_TRUE(to_broker.allowed);
  EXPECT_EQ(to_broker.rule, 1);  // by the named port
  EXPECT_FALSE(decide(Direction::kEgress, "10.42.1.1", "10.42.1.3", 80).allowed);
  EXPECT_FALSE(decide(Direction::kEgress, "10.42.1.1", "10.42.1.4", 1883).allowed);  // idle: no mqtt
  EXPECT_FALSE(decide(Direction::kEgress, "10.42.1.1", "203.0.113.9", 443).allowed);
}

TEST(PolicyView, ComputeNamesExactlyTheNodesAChangeReaches) {
  Site site;
  Build(&site);
  if (HasFatalFailure()) return;
  site.views.Compute();
  const std::string key = "o/CalicoNetworkPolicy/floor-1/gateway";
  model::CalicoPolicy policy = std::get<model::CalicoPolicy>(site.policies.at(key));
  const auto upsert = [&] { ASSERT_TRUE(site.views.UpsertPolicy(key, policy, model::ToYaml(policy)).ok()); };
  const auto views = [&] {
    std::map<std::string, PolicyViews::View> all;
    for (const char* node : {"node-a", "node-b", "node-c"}) all[node] = site.views.ViewOf(node);
    return all;
  };
  const auto changed_since = [&](const std::map<std::string, PolicyViews::View>& before) {
    std::vector<std::string> changed;
    for (const auto& [node, view] : views())
      if (view != before.at(node)) changed.push_back(node);
    return changed;
  };
  using Nodes = std::vector<std::string>;

  // The gateway now reaches the idle pod instead of the database: only its
  // own node's view changes (the idle pod in, the database out).
  auto before = views();
  policy.egress[0].destination.selector.expression = "app == 'idle'";
  upsert();
  EXPECT_EQ(site.views.Compute(), (Nodes{"node-a"}));
  EXPECT_EQ(changed_since(before), (Nodes{"node-a"}));
  EXPECT_TRUE(site.views.ViewOf("node-a").count("ep/floor-1/idle"));
  EXPECT_FALSE(site.views.ViewOf("node-a").count("ep/floor-1/db"));

  // It applies to the idle pod too: node-c gains the policy; node-b nothing.
  before = views();
  policy.selector.expression = "app in {'gateway', 'idle'}";
  upsert();
  EXPECT_EQ(site.views.Compute(), (Nodes{"node-a", "node-c"}));
  EXPECT_EQ(changed_since(before), (Nodes{"node-a", "node-c"}));

  // The same policy again changes nothing anywhere.
  upsert();
  EXPECT_EQ(site.views.Compute(), Nodes{});

  // A new label on the database, which no rule selects any more: only its
  // own node's view holds it.
  before = views();
  Endpoint db = *site.whole.FindEndpoint("floor-1/db");
  db.labels["rack"] = "7";
  site.views.UpsertEndpoint(db, "node-b");
  EXPECT_EQ(site.views.Compute(), (Nodes{"node-b"}));
  EXPECT_EQ(changed_since(before), (Nodes{"node-b"}));
  // The broker is held wherever the mqtt rule applies.
  before = views();
  Endpoint broker = *site.whole.FindEndpoint("floor-1/broker");
  broker.labels["rack"] = "7";
  site.views.UpsertEndpoint(broker, "node-b");
  EXPECT_EQ(site.views.Compute(), (Nodes{"node-a", "node-b", "node-c"}));
  EXPECT_EQ(changed_since(before), (Nodes{"node-a", "node-b", "node-c"}));

  // Removing the probes' network set reaches the nodes whose policy picked it.
  before = views();
  site.views.RemoveNetworkSet("lab", "probes");
  EXPECT_EQ(site.views.Compute(), (Nodes{"node-a", "node-c"}));
  EXPECT_EQ(changed_since(before), (Nodes{"node-a", "node-c"}));
  EXPECT_FALSE(site.views.ViewOf("node-a").count("ns/lab"));
}


// ---- The incremental views against the full recompute ----------------------------

// The seeds a randomized test runs: 1..count, or only $EDGEBED_SEED.
std::vector<uint64_t> Seeds(uint64_t count) {
  if (const char* one = std::getenv("EDGEBED_SEED")) return {std::strtoull(one, nullptr, 10)};
  std::vector<uint64_t> seeds;
  for (uint64_t s = 1; s <= count; ++s) seeds.push_back(s);
  return seeds;
}

constexpr int kChangeNamespaces = 4;
constexpr int kChangeNodes = 5;

std::string RandomNamespaceName(Random& r) { return "ns" + std::to_string(r.Uniform(kChangeNamespaces)); }
std::string RandomNodeName(Random& r) { return "node-" + std::to_string(r.Uniform(kChangeNodes)); }

// A pod of a small pool of names: its own address mostly, now and then one
// another pod may hold too (the lesser key keeps it), or two addresses.
Endpoint RandomChangeEndpoint(Random& r) {
  static const char* const kAccounts[] = {"default", "sensor", "robot"};
  const int n = static_cast<int>(r.Uniform(kChangeNamespaces)), i = static_cast<int>(1 + r.Uniform(6));
  const auto any_address = [&] {
    return rw::Address(10, 42, static_cast<int>(r.Uniform(kChangeNamespaces)), static_cast<int>(1 + r.Uniform(6)));
  };
  Endpoint e;
  e.namespace_ = "ns" + std::to_string(n);
  e.name = "pod" + std::to_string(i);
  e.labels = rw::RandomLabels(r);
  e.service_account = kAccounts[r.Uniform(3)];
  e.ips = {r.Chance(0.85) ? rw::Address(10, 42, n, i) : any_address()};
  if (r.Chance(0.1)) e.ips.push_back(any_address());
  for (const char* name : rw::kPortNames)
    if (r.Chance(0.4))
      e.ports.push_back({name, r.Chance(0.8) ? policy::kTcp : policy::kUdp, static_cast<uint16_t>(78 + r.Uniform(6))});
  return e;
}

policy::NetworkSet RandomChangeNetworkSet(Random& r) {
  policy::NetworkSet n;
  n.namespace_ = r.Chance(0.4) ? "" : RandomNamespaceName(r);
  n.name = "net" + std::to_string(r.Uniform(4));
  n.labels = rw::RandomLabels(r);
  IpPrefix net;
  std::string why;
  EXPECT_TRUE(ParseCidr(rw::RandomNet(r), &net, &why)) << why;
  n.nets.push_back(net);
  return n;
}

model::Labels RandomAccountLabels(Random& r) {
  switch (r.Uniform(4)) {
    case 0: return {};
    case 1: return {{"tier", "core"}};
    default: return {{"tier", "edge"}};
  }
}

// A tier of few names ("default" too), so that tiers come and go under
// policies that name them.
model::Tier RandomTier(Random& r) {
  model::Tier tier;
  tier.meta.name = r.Chance(0.15) ? "default" : "tier" + std::to_string(r.Uniform(2));
  if (r.Chance(0.8)) tier.order = static_cast<double>(r.Uniform(3) * 500);
  tier.default_action = r.Chance(0.5) ? "Deny" : "Pass";
  return tier;
}

// A Kubernetes NetworkPolicy, a Calico NetworkPolicy or a
// GlobalNetworkPolicy of few names, over random_world's vocabulary: pod,
// namespace and service-account selectors, notSelectors, global(), named
// ports, ipBlocks. Now and then one that must be refused: a bad selector, a
// tier nothing defines.
model::Object RandomChangePolicy(Random& r) {
  const std::string name = "p" + std::to_string(r.Uniform(4));
  if (r.Chance(0.35)) {
    model::NetworkPolicy np;
    np.meta.name = name;
    np.meta.namespace_ = RandomNamespaceName(r);
    np.pod_selector = rw::RandomLabelSelector(r);
    for (const char* type : {"Ingress", "Egress"})
      if (r.Chance(0.6)) np.policy_types.push_back(type);
    if (np.policy_types.empty()) np.policy_types.push_back("Ingress");
    for (auto* rules : {&np.ingress, &np.egress}) {
      for (int k = 0, n = static_cast<int>(r.Uniform(3)); k < n; ++k) {
        model::NetworkPolicyRule rule;
        for (int j = 0, peers = static_cast<int>(r.Uniform(3)); j < peers; ++j) {
          model::NetworkPolicyPeer peer;
          if (r.Chance(0.2)) {
            peer.ip_block = model::IpBlock{"10.42.0.0/16", {}};
          } else {
            if (r.Chance(0.7)) peer.pod_selector = rw::RandomLabelSelector(r);
            if (r.Chance(0.5) || !peer.pod_selector) peer.namespace_selector = rw::RandomLabelSelector(r);
          }
          rule.peers.push_back(peer);
        }
        for (int j = 0, ports = static_cast<int>(r.Uniform(3)); j < ports; ++j) {
          model::NetworkPolicyPort port;
          port.protocol = r.Chance(0.8) ? "TCP" : "UDP";
          if (r.Chance(0.4))
            port.port = model::IntOrString{false, 0, rw::Pick(r, rw::kPortNames, 3)};
          else if (r.Chance(0.8))
            port.port = model::IntOrString{true, static_cast<int64_t>(78 + r.Uniform(6)), ""};
          rule.ports.push_back(port);
        }
        rules->push_back(rule);
      }
    }
    return np;
  }
  model::CalicoPolicy cp;
  cp.global = r.Chance(0.5);
  cp.meta.name = name;
  cp.meta.namespace_ = cp.global ? "" : RandomNamespaceName(r);
  cp.tier = r.Chance(0.6) ? "default" : r.Chance(0.93) ? "tier" + std::to_string(r.Uniform(2)) : "tier9";
  if (r.Chance(0.8)) cp.order = static_cast<double>(r.Uniform(4) * 100);
  if (r.Chance(0.7)) cp.selector.expression = r.Chance(0.03) ? "app ==" : rw::RandomSelector(r);
  if (cp.global && r.Chance(0.3)) cp.namespace_selector.expression = r.Chance(0.5) ? "has(app)" : rw::RandomSelector(r);
  if (r.Chance(0.15)) cp.service_account_selector.expression = "tier == 'edge'";
  for (auto* rules : {&cp.ingress, &cp.egress})
    for (int k = 0, n = static_cast<int>(r.Uniform(4)); k < n; ++k) rules->push_back(rw::RandomCalicoRule(r));
  if (!cp.ingress.empty() || cp.egress.empty() || r.Chance(0.3)) cp.types.push_back("Ingress");
  if (!cp.egress.empty() || r.Chance(0.3)) cp.types.push_back("Egress");
  return cp;
}

// How two views differ, key by key.
std::string ViewDiff(const PolicyViews::View& got, const PolicyViews::View& want) {
  std::string out;
  for (const auto& [key, value] : got) {
    auto it = want.find(key);
    if (it == want.end()) out += "\n    extra   " + key;
    else if (it->second != value) out += "\n    differs " + key;
  }
  for (const auto& [key, value] : want)
    if (!got.count(key)) out += "\n    missing " + key;
  return out;
}

// The incremental PolicyViews and the full recompute, fed the same changes.
class Differential {
 public:
  Differential(uint64_t seed, Random& r) : seed_(seed), r_(r) {}

  // One random change, to both.
  void Step() { log_.push_back(RandomChange()); }

  // Both compute: they must name the same nodes.
  void Compute() {
    const std::vector<std::string> got = views_.Compute(), want = reference_.Compute();
    ASSERT_EQ(Join({got.begin(), got.end()}), Join({want.begin(), want.end()})) << Context("Compute()");
    ASSERT_TRUE(std::is_sorted(got.begin(), got.end()));
    ++computes;
    computes_changing_some += !want.empty() && want.size() < kChangeNodes;
    computes_changing_none += want.empty();
  }

  // Every node's view must be the reference's, at every step (views change
  // only on Compute()).
  void CheckViews() {
    for (int n = 0; n < kChangeNodes; ++n) {
      const std::string node = "node-" + std::to_string(n);
      const PolicyViews::View &got = views_.ViewOf(node), &want = reference_.ViewOf(node);
      ASSERT_TRUE(got == want) << Context("the view of " + node) << ViewDiff(got, want);
      views_with_policy += !KeysWithPrefix(want, "policy/").empty();
    }
  }

  size_t computes = 0, computes_changing_some = 0, computes_changing_none = 0, views_with_policy = 0;
  size_t refused_upserts = 0, refused_removals = 0;

 private:
  // Returns what it did.
  std::string RandomChange() {
    const double what = r_.UnitReal();
    if (what < 0.20) {
      const Endpoint e = RandomChangeEndpoint(r_);
      return PutEndpoint(e, RandomNodeName(r_), "endpoint");
    }
    if (what < 0.36 && !endpoints_.empty()) {
      auto [e, node] = endpoints_.at(AnyKeyOf(endpoints_));
      switch (r_.Uniform(4)) {
        case 0: e.labels = rw::RandomLabels(r_); return PutEndpoint(e, node, "relabelled");
        case 1: return PutEndpoint(e, RandomNodeName(r_), "moved");
        case 2: return PutEndpoint(e, node, "again");
        default: e.service_account = r_.Chance(0.5) ? "default" : "sensor"; return PutEndpoint(e, node, "new account");
      }
    }
    if (what < 0.42 && !endpoints_.empty()) {
      const std::string key = AnyKeyOf(endpoints_);
      views_.RemoveEndpoint(key);
      reference_.RemoveEndpoint(key);
      endpoints_.erase(key);
      return "removed endpoint " + key;
    }
    if (what < 0.58) {
      const model::Object o = RandomChangePolicy(r_);
      // Now and then under another key than its own: two keys holding one
      // policy, or one key passing from a policy to another.
      return PutPolicy(r_.Chance(0.05) ? "o/alias/" + std::to_string(r_.Uniform(3)) : KeyOf(o), o);
    }
    if (what < 0.62 && !policies_.empty()) {
      const std::string key = AnyKeyOf(policies_);
      return PutPolicy(key, policies_.at(key));
    }
    if (what < 0.66) {
      const model::Object o = RandomTier(r_);
      return PutPolicy(r_.Chance(0.05) ? "o/alias/" + std::to_string(r_.Uniform(3)) : KeyOf(o), o);
    }
    if (what < 0.73 && !policies_.empty()) {
      const std::string key = AnyKeyOf(policies_);
      const Status got = views_.CheckRemove(key), want = reference_.CheckRemove(key);
      EXPECT_EQ(got.ToString(), want.ToString()) << Context("check remove " + key);
      if (!want.ok()) {
        ++refused_removals;
        return "refused to remove " + key;
      }
      views_.RemovePolicy(key);
      reference_.RemovePolicy(key);
      policies_.erase(key);
      return "removed " + key;
    }
    if (what < 0.81) {
      const std::string ns = RandomNamespaceName(r_);
      const model::Labels labels = rw::RandomLabels(r_);
      views_.UpsertNamespace(ns, labels);
      reference_.UpsertNamespace(ns, labels);
      return "namespace " + ns + " relabelled";
    }
    if (what < 0.87) {
      const std::string ns = RandomNamespaceName(r_), name = r_.Chance(0.5) ? "default" : "sensor";
      const model::Labels labels = RandomAccountLabels(r_);
      views_.UpsertServiceAccount(ns, name, labels);
      reference_.UpsertServiceAccount(ns, name, labels);
      return "service account " + ns + "/" + name + " relabelled";
    }
    if (what < 0.95) {
      const policy::NetworkSet n = RandomChangeNetworkSet(r_);
      views_.UpsertNetworkSet(n);
      reference_.UpsertNetworkSet(n);
      return "network set " + n.namespace_ + "/" + n.name;
    }
    const policy::NetworkSet n = RandomChangeNetworkSet(r_);
    views_.RemoveNetworkSet(n.namespace_, n.name);
    reference_.RemoveNetworkSet(n.namespace_, n.name);
    return "removed network set " + n.namespace_ + "/" + n.name;
  }

  template <typename Map>
  std::string AnyKeyOf(const Map& m) {
    auto it = m.begin();
    std::advance(it, static_cast<long>(r_.Uniform(m.size())));
    return it->first;
  }

  std::string PutEndpoint(const Endpoint& e, const std::string& node, const std::string& what) {
    views_.UpsertEndpoint(e, node);
    reference_.UpsertEndpoint(e, node);
    endpoints_[e.Key()] = {e, node};
    return what + " " + e.Key() + " on " + node;
  }

  std::string PutPolicy(const std::string& key, const model::Object& o) {
    const std::string manifest = model::ToYaml(o);
    const Status got = views_.UpsertPolicy(key, o, manifest), want = reference_.UpsertPolicy(key, o, manifest);
    EXPECT_EQ(got.ToString(), want.ToString()) << Context("upsert " + key);
    if (!want.ok()) {
      ++refused_upserts;
      return "refused " + key;
    }
    policies_[key] = o;
    return "upserted " + key;
  }

  // The seed and the last changes, for a failure message.
  std::string Context(const std::string& at) const {
    std::string out = "seed " + std::to_string(seed_) + " (replay: EDGEBED_SEED=" + std::to_string(seed_) +
                      "), at " + at + "; the last changes:";
    for (size_t i = log_.size() > 8 ? log_.size() - 8 : 0; i < log_.size(); ++i) out += "\n    " + log_[i];
    return out;
  }

  uint64_t seed_;
  Random& r_;
  PolicyViews views_;
  testing::ReferencePolicyViews reference_;
  std::map<std::string, std::pair<Endpoint, std::string>> endpoints_;  // by key: the endpoint and its node
  std::map<std::string, model::Object> policies_;                      // the keys both hold
  std::vector<std::string> log_;
};

TEST(PolicyView, IncrementalViewsEqualTheFullRecompute) {
  size_t computes = 0, changing_some = 0, changing_none = 0, views_with_policy = 0, refused_upserts = 0,
         refused_removals = 0;
  for (uint64_t seed : Seeds(400)) {
    Random r(seed * 7919 + 11);
    Differential d(seed, r);
    const int steps = static_cast<int>(60 + r.Uniform(120));
    for (int step = 0; step < steps; ++step) {
      d.Step();
      if (HasFailure()) return;
      if (r.Chance(0.2) || step == steps - 1) {
        d.Compute();
        if (HasFatalFailure()) return;
      }
      d.CheckViews();
      if (HasFatalFailure()) return;
    }
    computes += d.computes;
    changing_some += d.computes_changing_some;
    changing_none += d.computes_changing_none;
    views_with_policy += d.views_with_policy;
    refused_upserts += d.refused_upserts;
    refused_removals += d.refused_removals;
  }
  if (std::getenv("EDGEBED_SEED")) return;
  // What the sequences must exercise for the comparison to say much: changes
  // that reach some nodes but not all, Computes with nothing to report,
  // views that hold policies, and refusals of both kinds.
  EXPECT_GT(changing_some, computes / 4);
  EXPECT_GT(changing_none, computes / 50);
  EXPECT_GT(refused_upserts, 100u);
  EXPECT_GT(refused_removals, 20u);
  std::cout << computes << " Computes (" << changing_some << " changing some nodes' views but not all, "
            << changing_none << " none); " << views_with_policy << " views checked holding a policy; "
            << refused_upserts << " upserts and " << refused_removals << " removals refused alike\n";
}

}  // namespace
}  // namespace edgebed::cluster
