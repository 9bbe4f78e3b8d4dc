// Random policy worlds for property tests: a few namespaces, pods with
// labels, service accounts and named ports, network sets, and Kubernetes and
// Calico policies in several tiers, all over one small vocabulary so that
// selectors often match; and random packets among their addresses.
//
// A seed always gives the same world and packets: tests that compare
// evaluators over many seeds (tests/policy, tests/cluster) share this
// generator, and a change to the order of its draws changes every world.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/base/ip.h"
#include "core/env/random.h"
#include "core/model/objects.h"
#include "core/policy/inventory.h"
#include "core/policy/policy_set.h"

// Not `testing`: that would hide GoogleTest's namespace inside edgebed::policy.
namespace edgebed::policy::random_world {

inline const char* const kKeys[] = {"app", "role", "floor"};
inline const char* const kValues[] = {"a", "b", "c"};
inline const char* const kPortNames[] = {"http", "mqtt", "metrics"};

inline std::string Pick(Random& r, const char* const* items, size_t n) { return items[r.Uniform(n)]; }

inline model::Labels RandomLabels(Random& r) {
  model::Labels labels;
  for (const char* key : kKeys) {
    if (r.Chance(0.6)) labels[key] = Pick(r, kValues, 3);
  }
  return labels;
}

// A Calico selector over the same small vocabulary, so that it often matches.
inline std::string RandomSelector(Random& r, int depth = 0) {
  const std::string key = Pick(r, kKeys, 3), value = "'" + Pick(r, kValues, 3) + "'";
  switch (depth > 1 ? r.Uniform(6) : r.Uniform(9)) {
    case 0: return key + " == " + value;
    case 1: return key + " != " + value;
    case 2: return "has(" + key + ")";
    case 3: return "!has(" + key + ")";
    case 4: return key + " in {" + value + ", 'b'}";
    case 5: return r.Chance(0.5) ? "all()" : key + " not in {" + value + "}";
    case 6: return "(" + RandomSelector(r, depth + 1) + ") && (" + RandomSelector(r, depth + 1) + ")";
    case 7: return RandomSelector(r, depth + 1) + " || " + RandomSelector(r, depth + 1);
    default: return "!(" + RandomSelector(r, depth + 1) + ")";
  }
}

inline model::LabelSelector RandomLabelSelector(Random& r) {
  model::LabelSelector s;
  if (r.Chance(0.3)) return s;  // everything
  if (r.Chance(0.6)) s.match_labels[Pick(r, kKeys, 3)] = Pick(r, kValues, 3);
  if (r.Chance(0.4)) {
    static const char* const kOps[] = {"In", "NotIn", "Exists", "DoesNotExist"};
    model::LabelSelectorRequirement req{Pick(r, kKeys, 3), Pick(r, kOps, 4), {}};
    if (req.op == "In" || req.op == "NotIn") req.values = {Pick(r, kValues, 3)};
    s.match_expressions.push_back(req);
  }
  return s;
}

inline uint32_t Address(int a, int b, int c, int d) {
  return uint32_t(a) << 24 | uint32_t(b) << 16 | uint32_t(c) << 8 | uint32_t(d);
}

// Pods live in 10.42.N.0/24 for namespace N; network sets cover parts of
// 10.0.0.0/8 and 192.168.0.0/16, some overlapping pods.
inline std::string RandomNet(Random& r) {
  switch (r.Uniform(5)) {
    case 0: return "10.42." + std::to_string(r.Uniform(3)) + ".0/24";
    case 1: return "10.42.0.0/16";
    case 2: return "192.168." + std::to_string(r.Uniform(4)) + ".0/24";
    case 3: return "10.42." + std::to_string(r.Uniform(3)) + "." + std::to_string(1 + r.Uniform(6)) + "/32";
    default: return "0.0.0.0/0";
  }
}

inline model::CalicoPort RandomCalicoPort(Random& r) {
  model::CalicoPort p;
  if (r.Chance(0.3)) {
    p.name = Pick(r, kPortNames, 3);
  } else {
    p.first = static_cast<int32_t>(78 + r.Uniform(6));
    p.last = p.first + static_cast<int32_t>(r.Uniform(3));
  }
  return p;
}

inline model::CalicoEntityRule RandomEntity(Random& r) {
  model::CalicoEntityRule e;
  if (r.Chance(0.25)) e.nets.push_back(RandomNet(r));
  if (r.Chance(0.15)) e.not_nets.push_back(RandomNet(r));
  if (r.Chance(0.4)) e.selector.expression = RandomSelector(r);
  if (r.Chance(0.1)) e.not_selector.expression = RandomSelector(r);
  if (r.Chance(0.2)) {
    e.namespace_selector.expression =
        r.Chance(0.2) ? "global()" : "kubernetes.io/metadata.name == 'ns" + std::to_string(r.Uniform(3)) + "'";
  }
  if (r.Chance(0.1)) e.service_account_names.push_back(r.Chance(0.5) ? "default" : "sensor");
  if (r.Chance(0.1)) e.service_account_selector.expression = "tier == 'edge'";
  return e;
}

inline model::CalicoRule RandomCalicoRule(Random& r) {
  static const char* const kActions[] = {"Allow", "Deny", "Pass", "Log", "Allow", "Deny"};
  model::CalicoRule rule;
  rule.action = Pick(r, kActions, 6);
  const double kind = r.UnitReal();
  if (kind < 0.5) {
    rule.protocol = model::IntOrString{false, 0, r.Chance(0.7) ? "TCP" : "UDP"};
    if (r.Chance(0.6)) rule.destination.ports.push_back(RandomCalicoPort(r));
    if (r.Chance(0.1)) rule.destination.not_ports.push_back(RandomCalicoPort(r));
    if (r.Chance(0.1)) rule.source.ports.push_back(RandomCalicoPort(r));
  } else if (kind < 0.6) {
    rule.protocol = model::IntOrString{true, 1, ""};
    if (r.Chance(0.5)) rule.icmp = model::IcmpMatch{static_cast<int32_t>(r.Uniform(2) * 8), std::nullopt};
  } else if (kind < 0.7) {
    rule.not_protocol = model::IntOrString{false, 0, "UDP"};
  } else if (kind < 0.75) {
    rule.ip_version = r.Chance(0.5) ? 4 : 6;
  }
  rule.source = RandomEntity(r);
  rule.destination = RandomEntity(r);
  if (!rule.protocol || rule.protocol->is_int) {
    rule.source.ports.clear();  // Calico allows ports only with TCP, UDP or SCTP
    rule.destination.ports.clear();
    rule.destination.not_ports.clear();
  }
  return rule;
}

// A world both as the evaluators take it (inventory, policies, tiers) and as
// the manifests it stands for (objects), to feed to what reads manifests.
// The tiers point into `policies`: a World is neither copied nor moved.
struct World {
  // In the order built: the Namespaces (with their labels, before the
  // automatic ones), the ServiceAccounts that have labels, the NetworkSets
  // and GlobalNetworkSets, then the Tiers, NetworkPolicies and Calico
  // policies. The pods are inventory.endpoints().
  std::vector<model::Object> objects;
  std::vector<NetworkSet> networks;  // the network sets, as the inventory holds them
  Inventory inventory;
  PolicySet policies;
  std::vector<PolicySet::OrderedTier> tiers;
};

inline void BuildWorld(Random& r, World* w) {
  for (int n = 0; n < 3; ++n) {
    model::Labels labels = RandomLabels(r);
    w->inventory.AddNamespace("ns" + std::to_string(n), labels);
    model::Namespace ns;
    ns.meta.name = "ns" + std::to_string(n);
    ns.meta.labels = labels;
    w->objects.push_back(ns);
  }
  static const char* const kLabelledAccounts[][2] = {{"ns0", "sensor"}, {"ns1", "default"}};
  for (const auto& account : kLabelledAccounts) {
    model::ServiceAccount sa;
    sa.meta.namespace_ = account[0];
    sa.meta.name = account[1];
    sa.meta.labels = {{"tier", "edge"}};
    w->inventory.SetServiceAccountLabels(sa.meta.namespace_, sa.meta.name, sa.meta.labels);
    w->objects.push_back(sa);
  }
  for (int n = 0; n < 3; ++n) {
    for (int i = 1; i <= 4; ++i) {
      Endpoint e;
      e.namespace_ = "ns" + std::to_string(n);
      e.name = "pod" + std::to_string(i);
      e.labels = RandomLabels(r);
      e.service_account = r.Chance(0.3) ? "sensor" : "default";
      e.ips = {Address(10, 42, n, i)};
      for (const char* name : kPortNames) {
        if (r.Chance(0.5)) e.ports.push_back({name, r.Chance(0.8) ? kTcp : kUdp, static_cast<uint16_t>(78 + r.Uniform(6))});
      }
      ASSERT_TRUE(w->inventory.AddEndpoint(e).ok());
    }
  }
  for (int i = 0; i < 3; ++i) {
    NetworkSet set;
    set.namespace_ = r.Chance(0.5) ? "" : "ns" + std::to_string(r.Uniform(3));
    set.name = "net" + std::to_string(i);
    set.labels = RandomLabels(r);
    IpPrefix p;
    std::string why;
    const std::string net = RandomNet(r);
    ASSERT_TRUE(ParseCidr(net, &p, &why)) << why;
    set.nets.push_back(p);
    ASSERT_TRUE(w->inventory.AddNetworkSet(set).ok());
    w->networks.push_back(set);
    model::NetworkSet object;
    object.meta.namespace_ = set.namespace_;
    object.meta.name = set.name;
    object.meta.labels = set.labels;
    object.global = set.namespace_.empty();
    object.nets.push_back(net);
    w->objects.push_back(object);
  }
  // Tiers: the default one, plus up to two of random order and action.
  std::vector<std::string> tier_names = {"default"};
  for (int t = 0; t < static_cast<int>(r.Uniform(3)); ++t) {
    model::Tier tier;
    tier.meta.name = "tier" + std::to_string(t);
    if (r.Chance(0.8)) tier.order = static_cast<double>(r.Uniform(3) * 500);
    tier.default_action = r.Chance(0.5) ? "Deny" : "Pass";
    ASSERT_TRUE(w->policies.Upsert(tier).ok());
    w->objects.push_back(tier);
    tier_names.push_back(tier.meta.name);
  }
  const int count = static_cast<int>(1 + r.Uniform(6));
  for (int i = 0; i < count; ++i) {
    if (r.Chance(0.4)) {
      model::NetworkPolicy np;
      np.meta.name = "knp" + std::to_string(i);
      np.meta.namespace_ = "ns" + std::to_string(r.Uniform(3));
      np.pod_selector = RandomLabelSelector(r);
      for (const char* type : {"Ingress", "Egress"}) {
        if (r.Chance(0.6)) np.policy_types.push_back(type);
      }
      if (np.policy_types.empty()) np.policy_types.push_back("Ingress");
      for (auto* rules : {&np.ingress, &np.egress}) {
        const int n = static_cast<int>(r.Uniform(3));
        for (int k = 0; k < n; ++k) {
          model::NetworkPolicyRule rule;
          for (int j = 0; j < static_cast<int>(r.Uniform(3)); ++j) {
            model::NetworkPolicyPeer peer;
            if (r.Chance(0.25)) {
              peer.ip_block = model::IpBlock{"10.42.0.0/16", {}};
              if (r.Chance(0.5)) peer.ip_block->except.push_back("10.42." + std::to_string(r.Uniform(3)) + ".0/24");
            } else {
              if (r.Chance(0.7)) peer.pod_selector = RandomLabelSelector(r);
              if (r.Chance(0.5) || !peer.pod_selector) peer.namespace_selector = RandomLabelSelector(r);
            }
            rule.peers.push_back(peer);
          }
          for (int j = 0; j < static_cast<int>(r.Uniform(3)); ++j) {
            model::NetworkPolicyPort port;
            port.protocol = r.Chance(0.8) ? "TCP" : "UDP";
            if (r.Chance(0.3)) {
              port.port = model::IntOrString{false, 0, Pick(r, kPortNames, 3)};
            } else if (r.Chance(0.8)) {
              port.port = model::IntOrString{true, static_cast<int64_t>(78 + r.Uniform(6)), ""};
              if (r.Chance(0.3)) port.end_port = static_cast<int32_t>(port.port->int_value + 2);
            }
            rule.ports.push_back(port);
          }
          rules->push_back(rule);
        }
      }
      ASSERT_TRUE(w->policies.Upsert(np).ok());
      w->objects.push_back(np);
    } else {
      model::CalicoPolicy cp;
      cp.global = r.Chance(0.5);
      cp.meta.name = "cp" + std::to_string(i);
      cp.meta.namespace_ = cp.global ? "" : "ns" + std::to_string(r.Uniform(3));
      cp.tier = tier_names[r.Uniform(tier_names.size())];
      if (r.Chance(0.8)) cp.order = static_cast<double>(r.Uniform(4) * 100);
      if (r.Chance(0.7)) cp.selector.expression = RandomSelector(r);
      if (cp.global && r.Chance(0.2)) cp.namespace_selector.expression = "has(app)";
      if (r.Chance(0.1)) cp.service_account_selector.expression = "tier == 'edge'";
      for (auto* rules : {&cp.ingress, &cp.egress}) {
        const int n = static_cast<int>(r.Uniform(4));
        for (int k = 0; k < n; ++k) rules->push_back(RandomCalicoRule(r));
      }
      if (!cp.ingress.empty() || cp.egress.empty() || r.Chance(0.3)) cp.types.push_back("Ingress");
      if (!cp.egress.empty() || r.Chance(0.3)) cp.types.push_back("Egress");
      const Status s = w->policies.Upsert(cp);
      ASSERT_TRUE(s.ok()) << s.ToString();
      w->objects.push_back(cp);
    }
  }
  StatusOr<std::vector<PolicySet::OrderedTier>> tiers = w->policies.Ordered();
  ASSERT_TRUE(tiers.ok()) << tiers.status().ToString();
  w->tiers = *std::move(tiers);
}

inline uint32_t RandomAddress(Random& r) {
  switch (r.Uniform(5)) {
    case 0:
    case 1:
    case 2: return Address(10, 42, static_cast<int>(r.Uniform(3)), static_cast<int>(1 + r.Uniform(5)));
    case 3: return Address(192, 168, static_cast<int>(r.Uniform(4)), static_cast<int>(r.Uniform(256)));
    default: return static_cast<uint32_t>(r.Uniform(uint64_t{1} << 32));
  }
}

inline Packet RandomPacket(Random& r) {
  Packet p;
  p.src = RandomAddress(r);
  p.dst = RandomAddress(r);
  static const uint8_t kProtocols[] = {kTcp, kTcp, kUdp, kIcmp, kSctp};
  p.protocol = kProtocols[r.Uniform(5)];
  if (p.protocol == kIcmp) {
    p.icmp_type = static_cast<uint8_t>(r.Uniform(2) * 8);
  } else {
    p.src_port = static_cast<uint16_t>(r.Chance(0.2) ? 78 + r.Uniform(6) : 40000);
    p.dst_port = static_cast<uint16_t>(77 + r.Uniform(8));
  }
  return p;
}

}  // namespace edgebed::policy::random_world
