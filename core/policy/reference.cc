#include "core/policy/reference.h"

#include <algorithm>

namespace edgebed::policy {

namespace {

bool InAny(const std::vector<IpPrefix>& nets, uint32_t address) {
  const IpPrefix host = Ipv4Prefix(address, 32);
  return std::any_of(nets.begin(), nets.end(), [&](const IpPrefix& n) { return n.Contains(host); });
}

bool HasPorts(uint8_t protocol) {
  return protocol == kTcp || protocol == kUdp || protocol == kSctp || protocol == kUdpLite;
}

// Whether `port` of `packet` on a side whose entity is `entity` matches one of `specs`.
bool PortIn(const std::vector<PortSpec>& specs, uint16_t port, const Packet& packet,
            const Entity& entity) {
  if (!HasPorts(packet.protocol)) return false;
  for (const PortSpec& s : specs) {
    if (s.name.empty()) {
      if (port >= s.first && port <= s.last) return true;
    } else if (entity.endpoint) {
      for (const NamedPort& named : entity.endpoint->ports) {
        if (named.name == s.name && named.protocol == packet.protocol && named.port == port) {
          return true;
        }
      }
    }
  }
  return false;
}

bool IcmpMatches(const IcmpMatch& m, const Packet& packet) {
  if (packet.protocol != kIcmp && packet.protocol != kIcmpv6) return false;
  if (m.type && *m.type != packet.icmp_type) return false;
  if (m.code && *m.code != packet.icmp_code) return false;
  return true;
}

}  // namespace

std::string Decision::ToString() const {
  switch (by) {
    case By::kNotAPod: return "not a pod: no policy of its own";
    case By::kLoopback: return "allowed: a pod's traffic to itself never leaves it";
    case By::kRemote: return "a pod on another node: judged there";
    case By::kNoPolicy: return "allowed: no tier decided, so the profile allows (no policy denies it)";
    case By::kEndOfTier:
      return "denied at the end of tier " + tier + ": " +
             (policy ? policy->DisplayName() + " applies" : std::string("a policy applies")) +
             " and no rule matched";
    case By::kRule: {
      const Rule& r = policy->rules(rule_direction)[static_cast<size_t>(rule)];
      return std::string(allowed ? "allowed" : "denied") + " by tier " + tier + ", " +
             policy->DisplayName() + ", " + r.where + " (" + ActionName(r.action) + ")";
    }
  }
  return "";
}

Verdict JudgeBothEnds(const Inventory& inventory, const Packet& packet,
                      const std::function<Decision(const Endpoint&, Direction)>& judge) {
  Verdict v;
  const Entity src = inventory.Lookup(packet.src), dst = inventory.Lookup(packet.dst);
  if (src.endpoint && packet.src == packet.dst) {
    v.egress.by = v.ingress.by = Decision::By::kLoopback;
    v.allowed = true;
    return v;
  }
  if (src.endpoint) v.egress = judge(*src.endpoint, Direction::kEgress);
  if (dst.endpoint) v.ingress = judge(*dst.endpoint, Direction::kIngress);
  v.allowed = v.egress.allowed && v.ingress.allowed;
  return v;
}

bool ReferenceEvaluator::Applies(const Policy& policy, const Endpoint& endpoint) const {
  if (!policy.namespace_.empty() && policy.namespace_ != endpoint.namespace_) return false;
  if (!policy.selector.Matches(inventory_.SelectorLabels(endpoint))) return false;
  if (policy.namespace_selector &&
      !policy.namespace_selector->Matches(inventory_.NamespaceLabels(endpoint.namespace_))) {
    return false;
  }
  if (policy.service_account_selector &&
      !policy.service_account_selector->Matches(
          inventory_.ServiceAccountLabels(endpoint.namespace_, endpoint.service_account))) {
    return false;
  }
  return true;
}

bool ReferenceEvaluator::SelectedBy(const EntityMatch& m, const Entity& entity) const {
  if (m.pods_only && !entity.endpoint) return false;
  const bool by_account = !m.service_account_names.empty() || m.service_account_selector;
  if (by_account && !entity.endpoint) return false;
  const std::string& ns = entity.endpoint ? entity.endpoint->namespace_ : entity.network->namespace_;
  if (m.namespace_selector) {
    if (m.namespace_selector->HasGlobal()) {
      if (!ns.empty()) return false;  // global(): the non-namespaced entities
    } else if (ns.empty() || !m.namespace_selector->Matches(inventory_.NamespaceLabels(ns))) {
      return false;
    }
  } else if (!m.namespace_.empty() && ns != m.namespace_) {
    return false;
  }
  if (m.selector && !m.selector->Matches(Labels(entity))) return false;
  if (by_account) {
    const Endpoint& e = *entity.endpoint;
    if (!m.service_account_names.empty() &&
        std::find(m.service_account_names.begin(), m.service_account_names.end(),
                  e.service_account) == m.service_account_names.end()) {
      return false;
    }
    if (m.service_account_selector &&
        !m.service_account_selector->Matches(
            inventory_.ServiceAccountLabels(e.namespace_, e.service_account))) {
      return false;
    }
  }
  return true;
}

const model::Labels& ReferenceEvaluator::Labels(const Entity& entity) const {
  return entity.endpoint ? inventory_.SelectorLabels(*entity.endpoint) : entity.network->labels;
}

bool ReferenceEvaluator::MatchesSide(const EntityMatch& m, uint32_t address, uint16_t port,
                                     const Packet& packet) const {
  if (!m.nets.empty() && !InAny(m.nets, address)) return false;
  if (!m.not_nets.empty() && InAny(m.not_nets, address)) return false;
  const std::vector<Entity> holders = inventory_.Holders(address);
  if (m.SelectsEntities() &&
      std::none_of(holders.begin(), holders.end(), [&](const Entity& e) { return SelectedBy(m, e); })) {
    return false;
  }
  if (m.not_selector && std::any_of(holders.begin(), holders.end(), [&](const Entity& e) {
        return m.not_selector->Matches(Labels(e));
      })) {
    return false;
  }
  // A named port is a port of the pod at this address.
  const Entity pod = holders.empty() || !holders.front().endpoint ? Entity{} : holders.front();
  if (!m.ports.empty() && !PortIn(m.ports, port, packet, pod)) return false;
  if (!m.not_ports.empty() && PortIn(m.not_ports, port, packet, pod)) return false;
  return true;
}

bool ReferenceEvaluator::Matches(const Rule& rule, const Packet& packet) const {
  if (rule.ip_version && *rule.ip_version != 4) return false;  // the dataplane is IPv4
  if (rule.protocol && *rule.protocol != packet.protocol) return false;
  if (rule.not_protocol && *rule.not_protocol == packet.protocol) return false;
  if (rule.icmp && !IcmpMatches(*rule.icmp, packet)) return false;
  if (rule.not_icmp && IcmpMatches(*rule.not_icmp, packet)) return false;
  return MatchesSide(rule.source, packet.src, packet.src_port, packet) &&
         MatchesSide(rule.destination, packet.dst, packet.dst_port, packet);
}

bool TierWalk::Matched(const std::string& tier, const Policy& policy, int index, Action action) {
  // The rule itself is read only to name it in a trace: a decision needs
  // just its action, which compiled rules keep at hand.
  const auto where = [&] { return policy.rules(direction_)[static_cast<size_t>(index)].where; };
  switch (action) {
    case Action::kAllow:
    case Action::kDeny:
      decision_.by = Decision::By::kRule;
      decision_.allowed = action == Action::kAllow;
      decision_.tier = tier;
      decision_.policy = &policy;
      decision_.rule = index;
      decision_.rule_direction = direction_;
      decided_ = true;
      return true;
    case Action::kPass:
      decision_.trace.push_back("passed to the next tier by " + policy.DisplayName() + ", " +
                                where());
      passed_ = true;
      return true;
    case Action::kLog:
      decision_.trace.push_back("logged by " + policy.DisplayName() + ", " + where());
      return false;
  }
  return false;
}

void TierWalk::EndTier(const std::string& tier, Action default_action,
                       const Policy* last_applied) {
  const bool passed = passed_;
  passed_ = false;
  if (decided_ || passed || !last_applied) return;
  if (default_action == Action::kPass) {
    decision_.trace.push_back("tier " + tier + " applied, nothing matched: its defaultAction Pass");
    return;
  }
  decision_.by = Decision::By::kEndOfTier;
  decision_.allowed = false;
  decision_.tier = tier;
  decision_.policy = last_applied;
  decided_ = true;
}

Decision TierWalk::Result() && {
  if (!decided_) {
    decision_.by = Decision::By::kNoPolicy;
    decision_.allowed = true;
  }
  return std::move(decision_);
}

Decision ReferenceEvaluator::Evaluate(const Endpoint& endpoint, Direction direction,
                                      const Packet& packet) const {
  TierWalk walk(direction);
  for (const PolicySet::OrderedTier& tier : tiers_) {
    const Policy* last_applied = nullptr;
    bool over = false;
    for (size_t p = 0; p < tier.policies.size() && !over; ++p) {
      const Policy& policy = *tier.policies[p];
      if (!policy.Covers(direction) || !Applies(policy, endpoint)) continue;
      last_applied = &policy;
      const std::vector<Rule>& rules = policy.rules(direction);
      for (size_t i = 0; i < rules.size() && !over; ++i) {
        over = Matches(rules[i], packet) &&
               walk.Matched(tier.spec.name, policy, static_cast<int>(i), rules[i].action);
      }
    }
    walk.EndTier(tier.spec.name, tier.spec.default_action, last_applied);
    if (walk.decided()) break;
  }
  return std::move(walk).Result();
}

Verdict ReferenceEvaluator::Evaluate(const Packet& packet) const {
  return JudgeBothEnds(inventory_, packet, [&](const Endpoint& e, Direction d) {
    return Evaluate(e, d, packet);
  });
}

}  // namespace edgebed::policy
