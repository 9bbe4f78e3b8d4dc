#include "core/policy/policy_set.h"

#include <algorithm>
#include <limits>

namespace edgebed::policy {

namespace {

std::string Index(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }

// A Calico selector as written; empty stays absent (where Calico reads it as
// all(), the caller says so). Errors name the manifest position and field.
Status ParseCalicoSelector(const model::CalicoSelector& written, const std::string& field,
                           std::optional<Selector>* out) {
  if (written.empty()) return Status::Ok();
  StatusOr<Selector> s = Selector::Parse(written.expression);
  if (!s.ok()) {
    return InvalidArgument(field + ": " + s.status().message(), written.pos.ToString());
  }
  *out = *std::move(s);
  return Status::Ok();
}

std::vector<IpPrefix> ParseNets(const std::vector<std::string>& texts) {
  std::vector<IpPrefix> nets;
  for (const std::string& text : texts) {
    IpPrefix p;
    std::string why;
    // The loader has checked them; one that fails here is skipped rather
    // than matched wrongly.
    if (ParseCidr(text, &p, &why)) nets.push_back(p);
  }
  return nets;
}

std::vector<PortSpec> ConvertPorts(const std::vector<model::CalicoPort>& ports) {
  std::vector<PortSpec> out;
  for (const model::CalicoPort& p : ports) {
    out.push_back({static_cast<uint16_t>(p.first), static_cast<uint16_t>(p.last), p.name});
  }
  return out;
}

std::optional<uint8_t> ConvertProtocol(const std::optional<model::IntOrString>& p) {
  if (!p) return std::nullopt;
  if (p->is_int) return static_cast<uint8_t>(p->int_value);
  return ProtocolNumber(p->str_value);
}

std::optional<IcmpMatch> ConvertIcmp(const std::optional<model::IcmpMatch>& icmp) {
  if (!icmp) return std::nullopt;
  IcmpMatch m;
  if (icmp->type) m.type = static_cast<uint8_t>(*icmp->type);
  if (icmp->code) m.code = static_cast<uint8_t>(*icmp->code);
  return m;
}

Status ConvertEntity(const model::CalicoEntityRule& in, const std::string& namespace_,
                     const std::string& field, EntityMatch* out) {
  out->nets = ParseNets(in.nets);
  out->not_nets = ParseNets(in.not_nets);
  EDGEBED_RETURN_IF_ERROR(ParseCalicoSelector(in.selector, field + ".selector", &out->selector));
  EDGEBED_RETURN_IF_ERROR(
      ParseCalicoSelector(in.not_selector, field + ".notSelector", &out->not_selector));
  EDGEBED_RETURN_IF_ERROR(ParseCalicoSelector(in.namespace_selector, field + ".namespaceSelector",
                                              &out->namespace_selector));
  EDGEBED_RETURN_IF_ERROR(ParseCalicoSelector(in.service_account_selector,
                                              field + ".serviceAccounts.selector",
                                              &out->service_account_selector));
  out->ports = ConvertPorts(in.ports);
  out->not_ports = ConvertPorts(in.not_ports);
  out->service_account_names = in.service_account_names;
  out->namespace_ = namespace_;
  return Status::Ok();
}

double OrderOrLast(const std::optional<double>& order) {
  return order ? *order : std::numeric_limits<double>::infinity();
}

}  // namespace

const char* ActionName(Action action) {
  switch (action) {
    case Action::kAllow: return "Allow";
    case Action::kDeny: return "Deny";
    case Action::kPass: return "Pass";
    case Action::kLog: return "Log";
  }
  return "?";
}

const char* DirectionName(Direction direction) {
  return direction == Direction::kIngress ? "ingress" : "egress";
}

bool EntityMatch::SelectsEntities() const {
  // In a namespaced policy any selector field, notSelector included, binds
  // the side to endpoints of the policy's namespace (Calico's rule
  // conversion adds the namespace to the source or destination selector).
  return selector || namespace_selector || !service_account_names.empty() ||
         service_account_selector || pods_only || (not_selector && !namespace_.empty());
}

std::string Policy::DisplayName() const {
  switch (kind) {
    case Kind::kKubernetes: return "NetworkPolicy " + namespace_ + "/" + name;
    case Kind::kCalico: return "Calico NetworkPolicy " + namespace_ + "/" + name;
    case Kind::kGlobal: return "GlobalNetworkPolicy " + name;
  }
  return name;
}

std::string Policy::Key() const {
  static const char* kKinds[] = {"knp", "cnp", "gnp"};
  return std::string(kKinds[static_cast<int>(kind)]) + ":" + namespace_ + "/" + name;
}

PolicySet::PolicySet() {
  tiers_["default"] = TierSpec{"default", kDefaultTierOrder, Action::kDeny};
}

Status PolicySet::Upsert(const model::NetworkPolicy& np) {
  Policy p;
  p.kind = Policy::Kind::kKubernetes;
  p.namespace_ = np.meta.namespace_;
  p.name = np.meta.name;
  p.order = kKubernetesPolicyOrder;
  p.selector = Selector::FromLabelSelector(np.pod_selector);
  p.pos = np.meta.pos;
  for (const std::string& t : np.policy_types) {
    (t == "Ingress" ? p.ingress : p.egress) = true;
  }
  const auto convert = [&](const std::vector<model::NetworkPolicyRule>& rules, Direction d) {
    const bool in = d == Direction::kIngress;
    const std::string base = in ? "spec.ingress" : "spec.egress";
    std::vector<Rule>& out = in ? p.ingress_rules : p.egress_rules;
    for (size_t i = 0; i < rules.size(); ++i) {
      const model::NetworkPolicyRule& r = rules[i];
      // No peers: every peer. No ports: every port of every protocol.
      const size_t peers = std::max<size_t>(1, r.peers.size());
      const size_t ports = std::max<size_t>(1, r.ports.size());
      for (size_t j = 0; j < peers; ++j) {
        for (size_t k = 0; k < ports; ++k) {
          Rule rule;
          rule.action = Action::kAllow;
          rule.where = Index(base, i);
          EntityMatch& peer = in ? rule.source : rule.destination;
          if (!r.peers.empty()) {
            rule.where += "." + Index(in ? "from" : "to", j);
            const model::NetworkPolicyPeer& from = r.peers[j];
            if (from.ip_block) {
              IpPrefix cidr;
              std::string why;
              if (ParseCidr(from.ip_block->cidr, &cidr, &why)) peer.nets.push_back(cidr);
              peer.not_nets = ParseNets(from.ip_block->except);
            } else {
              // podSelector alone: pods of the policy's namespace;
              // namespaceSelector alone: every pod of those namespaces.
              peer.pods_only = true;
              if (from.pod_selector) peer.selector = Selector::FromLabelSelector(*from.pod_selector);
              if (from.namespace_selector) {
                peer.namespace_selector = Selector::FromLabelSelector(*from.namespace_selector);
              } else {
                peer.namespace_ = p.namespace_;
              }
            }
          }
          if (!r.ports.empty()) {
            rule.where += "." + Index("ports", k);
            const model::NetworkPolicyPort& port = r.ports[k];
            rule.protocol = ProtocolNumber(port.protocol).value_or(kTcp);
            if (port.port) {
              PortSpec spec;
              if (port.port->is_int) {
                spec.first = static_cast<uint16_t>(port.port->int_value);
                spec.last = static_cast<uint16_t>(port.end_port ? *port.end_port : port.port->int_value);
              } else {
                spec.name = port.port->str_value;
              }
              rule.destination.ports.push_back(spec);
            }
          }
          out.push_back(std::move(rule));
        }
      }
    }
  };
  convert(np.ingress, Direction::kIngress);
  convert(np.egress, Direction::kEgress);
  Upsert(std::move(p));
  return Status::Ok();
}

Status PolicySet::Upsert(const model::CalicoPolicy& cp) {
  Policy p;
  p.kind = cp.global ? Policy::Kind::kGlobal : Policy::Kind::kCalico;
  p.namespace_ = cp.global ? "" : cp.meta.namespace_;
  p.name = cp.meta.name;
  p.tier = cp.tier;
  p.order = cp.order;
  p.pos = cp.meta.pos;
  std::optional<Selector> selector;
  EDGEBED_RETURN_IF_ERROR(ParseCalicoSelector(cp.selector, "spec.selector", &selector));
  if (selector) p.selector = *selector;  // absent: all()
  EDGEBED_RETURN_IF_ERROR(
      ParseCalicoSelector(cp.namespace_selector, "spec.namespaceSelector", &p.namespace_selector));
  EDGEBED_RETURN_IF_ERROR(ParseCalicoSelector(cp.service_account_selector,
                                              "spec.serviceAccountSelector",
                                              &p.service_account_selector));
  for (const std::string& t : cp.types) (t == "Ingress" ? p.ingress : p.egress) = true;
  const auto convert = [&](const std::vector<model::CalicoRule>& rules, const std::string& base,
                           std::vector<Rule>* out) -> Status {
    for (size_t i = 0; i < rules.size(); ++i) {
      const model::CalicoRule& r = rules[i];
      Rule rule;
      rule.where = Index(base, i);
      rule.action = r.action == "Allow"  ? Action::kAllow
                    : r.action == "Deny" ? Action::kDeny
                    : r.action == "Pass" ? Action::kPass
                                         : Action::kLog;
      rule.protocol = ConvertProtocol(r.protocol);
      rule.not_protocol = ConvertProtocol(r.not_protocol);
      rule.icmp = ConvertIcmp(r.icmp);
      rule.not_icmp = ConvertIcmp(r.not_icmp);
      rule.ip_version = r.ip_version;
      EDGEBED_RETURN_IF_ERROR(
          ConvertEntity(r.source, p.namespace_, rule.where + ".source", &rule.source));
      EDGEBED_RETURN_IF_ERROR(ConvertEntity(r.destination, p.namespace_,
                                            rule.where + ".destination", &rule.destination));
      out->push_back(std::move(rule));
    }
    return Status::Ok();
  };
  EDGEBED_RETURN_IF_ERROR(convert(cp.ingress, "spec.ingress", &p.ingress_rules));
  EDGEBED_RETURN_IF_ERROR(convert(cp.egress, "spec.egress", &p.egress_rules));
  Upsert(std::move(p));
  return Status::Ok();
}

Status PolicySet::Upsert(const model::Tier& tier) {
  tiers_[tier.meta.name] = TierSpec{
      tier.meta.name,
      tier.order ? tier.order : (tier.meta.name == "default" ? std::optional<double>(kDefaultTierOrder)
                                                             : std::nullopt),
      tier.default_action == "Pass" ? Action::kPass : Action::kDeny};
  return Status::Ok();
}

void PolicySet::Upsert(Policy policy) {
  std::string key = policy.Key();
  policies_.insert_or_assign(std::move(key), std::move(policy));
}

bool PolicySet::Remove(const std::string& policy_key) { return policies_.erase(policy_key) > 0; }

StatusOr<std::vector<PolicySet::OrderedTier>> PolicySet::Ordered() const {
  std::map<std::string, OrderedTier> by_name;
  for (const auto& [name, spec] : tiers_) by_name[name].spec = spec;
  std::string missing;
  for (const auto& [key, p] : policies_) {
    auto it = by_name.find(p.tier);
    if (it == by_name.end()) {
      missing += (missing.empty() ? "" : "; ") + p.pos.ToString() + ": " + p.DisplayName() +
                 ": spec.tier: no Tier \"" + p.tier + "\" is defined; add a " +
                 "projectcalico.org/v3 Tier of that name, or drop spec.tier for the default tier";
      continue;
    }
    it->second.policies.push_back(&p);
  }
  if (!missing.empty()) return NotFound(missing);
  std::vector<OrderedTier> tiers;
  for (auto& [name, tier] : by_name) {
    // Calico's order: by order, unordered last, then by name.
    std::sort(tier.policies.begin(), tier.policies.end(), [](const Policy* a, const Policy* b) {
      const double oa = OrderOrLast(a->order), ob = OrderOrLast(b->order);
      if (oa != ob) return oa < ob;
      if (a->name != b->name) return a->name < b->name;
      return a->Key() < b->Key();
    });
    tiers.push_back(std::move(tier));
  }
  std::stable_sort(tiers.begin(), tiers.end(), [](const OrderedTier& a, const OrderedTier& b) {
    const double oa = OrderOrLast(a.spec.order), ob = OrderOrLast(b.spec.order);
    if (oa != ob) return oa < ob;
    return a.spec.name < b.spec.name;
  });
  return tiers;
}

StatusOr<PolicySet> PolicySetFromObjects(const std::vector<model::Object>& objects) {
  PolicySet set;
  std::string errors;
  for (const model::Object& o : objects) {
    Status s;
    if (const auto* np = std::get_if<model::NetworkPolicy>(&o)) s = set.Upsert(*np);
    else if (const auto* cp = std::get_if<model::CalicoPolicy>(&o)) s = set.Upsert(*cp);
    else if (const auto* tier = std::get_if<model::Tier>(&o)) s = set.Upsert(*tier);
    if (!s.ok()) errors += (errors.empty() ? "" : "\n") + s.ToString();
  }
  if (!errors.empty()) return InvalidArgument(errors);
  StatusOr<std::vector<PolicySet::OrderedTier>> ordered = set.Ordered();
  if (!ordered.ok()) return ordered.status();
  return set;
}

StatusOr<PolicyWorld> PolicyWorldFromObjects(const std::vector<model::Object>& objects) {
  StatusOr<Inventory> inventory = InventoryFromObjects(objects);
  if (!inventory.ok()) return inventory.status();
  StatusOr<PolicySet> policies = PolicySetFromObjects(objects);
  if (!policies.ok()) return policies.status();
  // Built where it stays: the tiers are taken once the set is in place.
  StatusOr<PolicyWorld> world = PolicyWorld{};
  world->inventory = *std::move(inventory);
  world->policies = *std::move(policies);
  StatusOr<std::vector<PolicySet::OrderedTier>> tiers = world->policies.Ordered();
  if (!tiers.ok()) return tiers.status();
  world->tiers = *std::move(tiers);
  return world;
}

}  // namespace edgebed::policy
