// The specification of cluster::PolicyViews: every node's view recomputed
// from scratch on every Compute(), the plain way — the whole policy set
// rebuilt, every policy tried on every node's endpoints, every rule side on
// every endpoint and network set. PolicyViews keeps the same views up to date
// incrementally; tests/cluster/policy_view_test.cc holds it to this one over
// random sequences of changes, and benchmarks/cluster_bench.cc times both.
//
// The same interface and the same contracts as PolicyViews
// (core/cluster/policy_view.h).
#pragma once

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/base/bytes.h"
#include "core/base/status.h"
#include "core/cluster/policy_view.h"
#include "core/cluster/records.h"
#include "core/model/objects.h"
#include "core/policy/inventory.h"
#include "core/policy/policy_set.h"
#include "core/policy/reference.h"

namespace edgebed::cluster::testing {

class ReferencePolicyViews {
 public:
  using View = PolicyViews::View;

  Status UpsertPolicy(const std::string& key, const model::Object& object, const std::string& manifest) {
    auto trial = policies_;
    trial[key] = PolicyEntry{object, manifest};
    if (auto built = Build(trial); !built.ok()) return built.status();
    policies_ = std::move(trial);
    dirty_ = true;
    return Status::Ok();
  }

  Status CheckRemove(const std::string& key) const {
    auto trial = policies_;
    trial.erase(key);
    if (auto built = Build(trial); !built.ok()) return built.status();
    return Status::Ok();
  }

  void RemovePolicy(const std::string& key) { dirty_ |= policies_.erase(key) > 0; }

  void UpsertNamespace(const std::string& name, const model::Labels& labels) {
    auto [it, inserted] = namespaces_.try_emplace(name, labels);
    if (!inserted && it->second == labels) return;
    it->second = labels;
    dirty_ = true;
  }

  void UpsertServiceAccount(const std::string& ns, const std::string& name, const model::Labels& labels) {
    auto [it, inserted] = accounts_.try_emplace({ns, name}, labels);
    if (!inserted && it->second == labels) return;
    it->second = labels;
    dirty_ = true;
  }

  void UpsertNetworkSet(const policy::NetworkSet& network) {
    networks_[network.namespace_ + "/" + network.name] = network;
    dirty_ = true;
  }

  void RemoveNetworkSet(const std::string& ns, const std::string& name) {
    dirty_ |= networks_.erase(ns + "/" + name) > 0;
  }

  void UpsertEndpoint(const policy::Endpoint& endpoint, const std::string& node) {
    endpoints_[endpoint.Key()] = Placed{endpoint, node};
    dirty_ = true;
  }

  void RemoveEndpoint(const std::string& key) { dirty_ |= endpoints_.erase(key) > 0; }

  const View& ViewOf(const std::string& node) const {
    static const View kEmpty;
    auto it = views_.find(node);
    return it == views_.end() ? kEmpty : it->second;
  }

  std::vector<std::string> Compute() {
    using policy::Endpoint;
    using policy::Entity;
    using policy::EntityMatch;
    if (!dirty_) return {};
    dirty_ = false;
    auto built = Build(policies_);
    if (!built.ok()) return {};  // UpsertPolicy and CheckRemove keep this from happening
    policy::PolicySet set = std::move(*built);
    std::vector<policy::PolicySet::OrderedTier> tiers = *set.Ordered();

    policy::Inventory inventory;
    for (const auto& [name, labels] : namespaces_) inventory.AddNamespace(name, labels);
    // A namespace nothing defined still has its automatic labels, as an agent
    // that receives it (with no labels of its own) will give it.
    for (const auto& [key, placed] : endpoints_)
      if (!namespaces_.count(placed.endpoint.namespace_)) inventory.AddNamespace(placed.endpoint.namespace_, {});
    for (const auto& [key, network] : networks_)
      if (!network.namespace_.empty() && !namespaces_.count(network.namespace_))
        inventory.AddNamespace(network.namespace_, {});
    for (const auto& [key, labels] : accounts_) inventory.SetServiceAccountLabels(key.first, key.second, labels);
    for (const auto& [key, network] : networks_) (void)inventory.AddNetworkSet(network);
    std::map<std::string, std::vector<size_t>> local;  // node -> endpoint indexes
    for (const auto& [key, placed] : endpoints_) {
      if (!inventory.UpsertEndpoint(placed.endpoint).ok()) continue;  // an address taken twice
      local[placed.node].push_back(inventory.endpoints().size() - 1);
    }
    policy::ReferenceEvaluator evaluator(tiers, inventory);
    const auto& all = inventory.endpoints();
    const auto& networks = inventory.networks();

    // What each rule side can single out, once per side.
    struct Selected {
      std::vector<size_t> endpoints, networks;
    };
    std::map<const EntityMatch*, Selected> selected;
    auto picks = [&](const EntityMatch& m, const Entity& entity) {
      if (evaluator.SelectedBy(m, entity) && (m.SelectsEntities() || m.selector)) return true;
      return m.not_selector && m.not_selector->Matches(evaluator.Labels(entity));
    };
    auto selection = [&](const EntityMatch* m) -> const Selected& {
      auto [it, inserted] = selected.try_emplace(m);
      if (inserted) {
        for (size_t i = 0; i < all.size(); ++i)
          if (picks(*m, Entity{&all[i], nullptr})) it->second.endpoints.push_back(i);
        for (size_t i = 0; i < networks.size(); ++i)
          if (picks(*m, Entity{nullptr, &networks[i]})) it->second.networks.push_back(i);
      }
      return it->second;
    };
    // The manifest key of each policy and tier.
    std::map<std::string, const std::string*> manifest_key;  // PolicySet key or tier name -> entry key
    for (const auto& [key, entry] : policies_) {
      if (auto* t = std::get_if<model::Tier>(&entry.object))
        manifest_key["tier:" + t->meta.name] = &key;
      else
        manifest_key[PolicyKeyOf(entry.object)] = &key;
    }

    std::map<std::string, View> views;
    for (const auto& [node, indexes] : local) {
      std::set<size_t> endpoints(indexes.begin(), indexes.end());
      std::set<size_t> nets;
      std::set<std::string> port_names;
      View view;
      for (const auto& tier : tiers) {
        bool tier_used = false;
        for (const policy::Policy* p : tier.policies) {
          bool applies = std::any_of(indexes.begin(), indexes.end(),
                                     [&](size_t i) { return evaluator.Applies(*p, all[i]); });
          if (!applies) continue;
          tier_used = true;
          const std::string& key = *manifest_key.at(p->Key());
          view["policy/" + key] = ByteView(policies_.at(key).manifest).ToBytes();
          std::vector<const EntityMatch*> sides;
          Sides(*p, &sides);
          for (const EntityMatch* m : sides) {
            const Selected& s = selection(m);
            endpoints.insert(s.endpoints.begin(), s.endpoints.end());
            nets.insert(s.networks.begin(), s.networks.end());
            for (const auto* ports : {&m->ports, &m->not_ports})
              for (const policy::PortSpec& port : *ports)
                if (!port.name.empty()) port_names.insert(port.name);
          }
        }
        if (tier_used) {
          auto it = manifest_key.find("tier:" + tier.spec.name);
          if (it != manifest_key.end())
            view["policy/" + *it->second] = ByteView(policies_.at(*it->second).manifest).ToBytes();
        }
      }
      if (!port_names.empty())
        for (size_t i = 0; i < all.size(); ++i)
          for (const policy::NamedPort& port : all[i].ports)
            if (port_names.count(port.name)) endpoints.insert(i);
      auto add_namespace = [&](const std::string& name) {
        auto ns = namespaces_.find(name);
        view["ns/" + name] = EncodeLabels(ns == namespaces_.end() ? model::Labels{} : ns->second);
      };
      for (size_t i : endpoints) {
        const Endpoint& e = all[i];
        view["ep/" + e.Key()] = Encode(e);
        add_namespace(e.namespace_);
        auto sa = accounts_.find({e.namespace_, e.service_account});
        if (sa != accounts_.end()) view["sa/" + e.namespace_ + "/" + e.service_account] = EncodeLabels(sa->second);
      }
      for (size_t i : nets) {
        view["netset/" + networks[i].namespace_ + "/" + networks[i].name] = Encode(networks[i]);
        // A rule's namespaceSelector picks a namespaced network set by its
        // namespace's labels, which no pod of the view may have brought.
        if (!networks[i].namespace_.empty()) add_namespace(networks[i].namespace_);
      }
      views[node] = std::move(view);
    }

    std::vector<std::string> changed;
    for (const auto& [node, view] : views) {
      auto old = views_.find(node);
      if (old == views_.end() || old->second != view) changed.push_back(node);
    }
    for (const auto& [node, view] : views_)
      if (!views.count(node) && !view.empty()) changed.push_back(node);
    std::sort(changed.begin(), changed.end());
    views_ = std::move(views);
    return changed;
  }

 private:
  struct PolicyEntry {
    model::Object object;
    std::string manifest;
  };
  struct Placed {
    policy::Endpoint endpoint;
    std::string node;
  };

  // PolicySet's key for a policy object; empty for a Tier.
  static std::string PolicyKeyOf(const model::Object& object) {
    if (auto* p = std::get_if<model::NetworkPolicy>(&object)) return "knp:" + p->meta.namespace_ + "/" + p->meta.name;
    if (auto* p = std::get_if<model::CalicoPolicy>(&object))
      return (p->global ? "gnp:/" : "cnp:" + p->meta.namespace_ + "/") + p->meta.name;
    return {};
  }

  static Status AddTo(policy::PolicySet& set, const model::Object& object) {
    if (auto* p = std::get_if<model::NetworkPolicy>(&object)) return set.Upsert(*p);
    if (auto* p = std::get_if<model::CalicoPolicy>(&object)) return set.Upsert(*p);
    if (auto* t = std::get_if<model::Tier>(&object)) return set.Upsert(*t);
    return InvalidArgument("not a policy or tier: " + model::KindOf(object));
  }

  // Every policy and tier of `entries`; fails as Ordered() would.
  static StatusOr<policy::PolicySet> Build(const std::map<std::string, PolicyEntry>& entries) {
    policy::PolicySet set;
    for (const auto& [key, entry] : entries)
      if (Status s = AddTo(set, entry.object); !s.ok()) return s;
    if (auto ordered = set.Ordered(); !ordered.ok()) return ordered.status();
    return set;
  }

  static void Sides(const policy::Policy& p, std::vector<const policy::EntityMatch*>* out) {
    for (const auto* rules : {&p.ingress_rules, &p.egress_rules})
      for (const policy::Rule& r : *rules) {
        out->push_back(&r.source);
        out->push_back(&r.destination);
      }
  }

  std::map<std::string, PolicyEntry> policies_;  // by key
  std::map<std::string, model::Labels> namespaces_;
  std::map<std::pair<std::string, std::string>, model::Labels> accounts_;
  std::map<std::string, policy::NetworkSet> networks_;  // by "ns/name"
  std::map<std::string, Placed> endpoints_;             // by "ns/name"
  std::map<std::string, View> views_;
  bool dirty_ = true;
};

}  // namespace edgebed::cluster::testing
