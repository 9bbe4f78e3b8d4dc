// The compiled classifier against the reference evaluator: over many random
// worlds (namespaces, pods, network sets, Kubernetes and Calico policies in
// several tiers) and random packets, both must reach the same verdict by the
// same tier, policy and rule.
#include "core/policy/classifier.h"

#include <gtest/gtest.h>

#include <iostream>

#include "core/env/random.h"
#include "core/model/loader.h"
#include "tests/policy/random_world.h"

namespace edgebed::policy {
namespace {

using namespace random_world;

std::string Show(const Decision& d) {
  return d.ToString() + (d.trace.empty() ? "" : " [" + std::to_string(d.trace.size()) + " noted]");
}

TEST(Classifier, AgreesWithTheReferenceOnRandomWorlds) {
  size_t packets = 0, allowed = 0, by_rule = 0;
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    Random r(seed);
    World w;
    BuildWorld(r, &w);
    if (HasFatalFailure()) return;
    const ReferenceEvaluator reference(w.tiers, w.inventory);
    // Every program indexed, and none: both paths must agree with the reference.
    const Classifier indexed(w.tiers, w.inventory, 0);
    const Classifier scanned(w.tiers, w.inventory, SIZE_MAX);
    for (int i = 0; i < 400; ++i) {
      const Packet p = RandomPacket(r);
      const Verdict want = reference.Evaluate(p);
      ++packets;
      allowed += want.allowed;
      by_rule += want.ingress.by == Decision::By::kRule || want.egress.by == Decision::By::kRule;
      for (const Classifier* classifier : {&indexed, &scanned}) {
        const Verdict got = classifier->Evaluate(p);
        const char* which = classifier == &indexed ? "indexed" : "scanned";
        ASSERT_EQ(got.allowed, want.allowed) << which << ", seed " << seed << ", " << p.ToString();
        for (auto [g, e] : {std::pair{&got.egress, &want.egress}, std::pair{&got.ingress, &want.ingress}}) {
          ASSERT_EQ(Show(*g), Show(*e)) << which << ", seed " << seed << ", " << p.ToString();
          ASSERT_EQ(g->trace, e->trace) << which << ", seed " << seed << ", " << p.ToString();
        }
      }
    }
  }
  // The worlds must exercise both outcomes and rules deciding, or the
  // agreement above says little.
  EXPECT_GT(allowed, packets / 10);
  EXPECT_LT(allowed, packets * 9 / 10);
  EXPECT_GT(by_rule, packets / 10);
  std::cout << packets << " packets, " << allowed << " allowed, " << by_rule
            << " decided by a rule\n";
}

// Pods relabelled, given new ports, and added: Update() must leave the
// classifier deciding exactly as the reference does on the changed world.
TEST(Classifier, UpdatesAgreeWithTheReferenceAfterEveryChange) {
  size_t recompiled = 0, rebuilt = 0;
  for (uint64_t seed = 1; seed <= 100; ++seed) {
    Random r(seed + 5000);
    World w;
    BuildWorld(r, &w);
    if (HasFatalFailure()) return;
    Classifier classifier(w.tiers, w.inventory, seed % 2 ? 0 : SIZE_MAX);
    for (int change = 0; change < 5; ++change) {
      std::vector<std::string> changed;
      for (int k = 0; k < static_cast<int>(1 + r.Uniform(2)); ++k) {
        Endpoint e;
        if (r.Chance(0.25)) {
          e.namespace_ = "ns" + std::to_string(r.Uniform(3));
          e.name = "new" + std::to_string(change) + "-" + std::to_string(k);
          e.ips = {Address(10, 42, 3 + change, 1 + k)};
        } else {
          e = w.inventory.endpoints()[r.Uniform(w.inventory.endpoints().size())];
        }
        e.labels = RandomLabels(r);
        e.ports.clear();
        for (const char* name : kPortNames) {
          if (r.Chance(0.5)) e.ports.push_back({name, kTcp, static_cast<uint16_t>(78 + r.Uniform(6))});
        }
        ASSERT_TRUE(w.inventory.UpsertEndpoint(e).ok());
        changed.push_back(e.Key());
      }
      recompiled += classifier.Update(changed);
      const Classifier fresh(w.tiers, w.inventory);
      rebuilt += fresh.program_count();
      EXPECT_EQ(classifier.program_count(), fresh.program_count()) << "seed " << seed;
      const ReferenceEvaluator reference(w.tiers, w.inventory);
      for (int i = 0; i < 200; ++i) {
        Packet p = RandomPacket(r);
        if (r.Chance(0.2)) p.src = Address(10, 42, 3 + change, 1);
        const Verdict want = reference.Evaluate(p), got = classifier.Evaluate(p);
        ASSERT_EQ(got.allowed, want.allowed) << "seed " << seed << ", change " << change << ", " << p.ToString();
        ASSERT_EQ(Show(got.ingress), Show(want.ingress)) << "seed " << seed << ", " << p.ToString();
        ASSERT_EQ(Show(got.egress), Show(want.egress)) << "seed " << seed << ", " << p.ToString();
      }
    }
  }
  // Updating compiles less than rebuilding would.
  EXPECT_LT(recompiled, rebuilt);
  std::cout << recompiled << " programs recompiled by updates, " << rebuilt
            << " compiled by rebuilding\n";
}

// Large programs, where the index matters: hundreds of address, port and
// protocol rules with every action, in two tiers, judged on packets aimed at
// the rules' own prefixes.
TEST(Classifier, AgreesWithTheReferenceOnLargeRuleSets) {
  static const uint8_t kProtocols[] = {kTcp, kUdp, kIcmp, kSctp};
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    Random r(seed * 7919);
    // Odd seeds: big sets where nearly every rule names a narrow destination,
    // so one field's list is short enough to walk (with the few rules that
    // do not constrain it merged in).
    const bool narrow = seed % 2 == 1;
    const auto prefix = [&] {
      const int length = static_cast<int>(r.UniformInt(narrow ? 24 : 12, 32));
      const uint32_t host = 0x0a000000u | static_cast<uint32_t>(r.Uniform(1u << 16));
      return Ipv4Prefix(host & ~uint32_t{0} << (32 - length), length);
    };
    const auto ports = [&] {
      const uint16_t first = static_cast<uint16_t>(r.Uniform(200));
      return PortSpec{first, static_cast<uint16_t>(first + r.Uniform(r.Chance(0.5) ? 1 : 50)), ""};
    };
    PolicySet set;
    model::Tier tier;
    tier.meta.name = "security";
    tier.order = 10;
    tier.default_action = r.Chance(0.5) ? "Pass" : "Deny";
    ASSERT_TRUE(set.Upsert(tier).ok());
    for (const char* tier_name : {"security", "default"}) {
      Policy p;
      p.kind = Policy::Kind::kGlobal;
      p.name = std::string("large-") + tier_name;
      p.tier = tier_name;
      p.order = 1;
      p.ingress = p.egress = true;
      const size_t rules = narrow ? 2000 + r.Uniform(2000) : 100 + r.Uniform(700);
      for (size_t i = 0; i < rules; ++i) {
        Rule rule;
        static const Action kActions[] = {Action::kAllow, Action::kDeny, Action::kAllow,
                                          Action::kPass, Action::kLog};
        rule.action = kActions[r.Uniform(5)];
        rule.where = "rule " + std::to_string(i);
        if (r.Chance(0.8)) rule.protocol = kProtocols[r.Uniform(4)];
        if (r.Chance(0.05)) rule.not_protocol = kProtocols[r.Uniform(4)];
        if (r.Chance(0.7)) rule.source.nets.push_back(prefix());
        if (r.Chance(0.1)) rule.source.not_nets.push_back(prefix());
        if (r.Chance(narrow ? 0.995 : 0.8)) rule.destination.nets.push_back(prefix());
        if (r.Chance(0.1)) rule.destination.not_nets.push_back(prefix());
        if (r.Chance(0.6)) rule.destination.ports.push_back(ports());
        if (r.Chance(0.1)) rule.destination.not_ports.push_back(ports());
        if (r.Chance(0.1)) rule.source.ports.push_back(ports());
        if (narrow && rule.destination.nets.empty()) {
          // The rare rule without a destination is a broad one, which must
          // not be lost among the narrow.
          rule.source.nets.clear();
          rule.destination.ports.clear();
          rule.protocol.reset();
        }
        (r.Chance(0.5) ? p.ingress_rules : p.egress_rules).push_back(rule);
      }
      set.Upsert(std::move(p));
    }
    const std::vector<PolicySet::OrderedTier> tiers = *set.Ordered();
    Inventory inventory;
    inventory.AddNamespace("site", {});
    for (int i = 0; i < 4; ++i) {
      Endpoint e;
      e.namespace_ = "site";
      e.name = "server-" + std::to_string(i);
      e.ips = {0x0a000000u | static_cast<uint32_t>(r.Uniform(1u << 16))};
      ASSERT_TRUE(inventory.AddEndpoint(e).ok());
    }
    const ReferenceEvaluator reference(tiers, inventory);
    const Classifier classifier(tiers, inventory);
    for (int i = 0; i < 3000; ++i) {
      Packet p;
      const Endpoint& e = inventory.endpoints()[r.Uniform(4)];
      p.protocol = kProtocols[r.Uniform(4)];
      const uint32_t other = 0x0a000000u | static_cast<uint32_t>(r.Uniform(1u << 16));
      const bool inbound = r.Chance(0.5);
      p.src = inbound ? other : e.ips[0];
      p.dst = inbound ? e.ips[0] : other;
      p.src_port = static_cast<uint16_t>(r.Uniform(260));
      p.dst_port = static_cast<uint16_t>(r.Uniform(260));
      p.icmp_type = static_cast<uint8_t>(r.Uniform(3));
      const Direction d = inbound ? Direction::kIngress : Direction::kEgress;
      const Decision want = reference.Evaluate(e, d, p), got = classifier.Evaluate(e, d, p);
      ASSERT_EQ(Show(got), Show(want)) << "seed " << seed << ", " << p.ToString();
      ASSERT_EQ(got.trace, want.trace) << "seed " << seed << ", " << p.ToString();
    }
    EXPECT_GT(classifier.index_bytes(), 0u);  // the programs were indexed
  }
}

// The verdict for a TCP connection from `src` to `dst`, by the reference;
// the classifier must reach the same.
bool Judge(const PolicyWorld& world, const char* src, const char* dst, uint16_t port) {
  const ReferenceEvaluator reference(world.tiers, world.inventory);
  const Classifier classifier(world.tiers, world.inventory);
  Packet p;
  p.src = *ParseIpv4(src);
  p.dst = *ParseIpv4(dst);
  p.dst_port = port;
  const bool want = reference.Evaluate(p).allowed;
  EXPECT_EQ(classifier.Evaluate(p).allowed, want) << src << " -> " << dst;
  return want;
}

// Non-pod networks named by label: egress to the cloud's network set is
// allowed, anywhere else denied; a pod inside a set's CIDR is selected
// through the set too, as Calico's IP sets hold both.
TEST(Classifier, NetworkSetsAreSelectedByTheirLabels) {
  const model::LoadResult loaded = model::LoadManifests(R"(
apiVersion: v1
kind: Pod
metadata: {name: gw, namespace: floor-1, labels: {app: gateway}}
spec: {containers: [{name: c, image: i}]}
status: {podIP: 10.42.1.5}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: {name: cloud, labels: {role: cloud}}
spec: {nets: [203.0.113.0/24]}
---
apiVersion: projectcalico.org/v3
kind: NetworkSet
metadata: {name: lan, namespace: floor-1, labels: {role: lan}}
spec: {nets: [10.42.1.0/24]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: to-cloud}
spec:
  selector: app == 'gateway'
  types: [Egress]
  egress:
  - action: Allow
    destination: {selector: role == 'cloud'}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: from-lan, namespace: floor-1}
spec:
  selector: all()
  ingress:
  - action: Allow
    source: {selector: role == 'lan'}
)", "sets.yaml");
  ASSERT_TRUE(loaded.ok()) << loaded.errors[0].ToString();
  const PolicyWorld world = *PolicyWorldFromObjects(loaded.objects);
  const auto judge = [&](const char* src, const char* dst) {
    return Judge(world, src, dst, 443);
  };
  EXPECT_TRUE(judge("10.42.1.5", "203.0.113.9"));    // to the cloud
  EXPECT_FALSE(judge("10.42.1.5", "198.51.100.1"));  // elsewhere
  EXPECT_TRUE(judge("10.42.1.77", "10.42.1.5"));     // from the floor's LAN
  EXPECT_FALSE(judge("10.42.2.77", "10.42.1.5"));    // from another floor's
  EXPECT_EQ(world.inventory.Lookup(*ParseIpv4("203.0.113.9")).network->name, "cloud");
}

// Service accounts from manifests: a policy that admits the sensors'
// account by its labels, and another by its name.
TEST(Classifier, ServiceAccountsAreSelectedByNameAndLabels) {
  const model::LoadResult loaded = model::LoadManifests(R"(
apiVersion: v1
kind: ServiceAccount
metadata: {name: sensor, namespace: floor-1, labels: {tier: edge}}
---
apiVersion: v1
kind: Pod
metadata: {name: s1, namespace: floor-1}
spec: {serviceAccountName: sensor, containers: [{name: c, image: i}]}
status: {podIP: 10.42.1.5}
---
apiVersion: v1
kind: Pod
metadata: {name: other, namespace: floor-1}
spec: {containers: [{name: c, image: i}]}
status: {podIP: 10.42.1.6}
---
apiVersion: v1
kind: Pod
metadata: {name: broker, namespace: floor-1, labels: {app: broker}}
spec: {containers: [{name: c, image: i}]}
status: {podIP: 10.42.1.7}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: edge-only, namespace: floor-1}
spec:
  selector: app == 'broker'
  ingress:
  - action: Allow
    source: {serviceAccounts: {selector: tier == 'edge'}}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: sensor-out}
spec:
  serviceAccountSelector: tier == 'edge'
  types: [Egress]
  egress:
  - action: Allow
    destination: {selector: app == 'broker'}
)", "accounts.yaml");
  ASSERT_TRUE(loaded.ok()) << loaded.errors[0].ToString();
  const PolicyWorld world = *PolicyWorldFromObjects(loaded.objects);
  const auto judge = [&](const char* src, const char* dst) {
    return Judge(world, src, dst, 1883);
  };
  EXPECT_TRUE(judge("10.42.1.5", "10.42.1.7"));   // the sensor's account is edge
  EXPECT_FALSE(judge("10.42.1.6", "10.42.1.7"));  // the default account is not
  EXPECT_FALSE(judge("10.42.1.5", "10.42.1.6"));  // the sensor may only reach the broker
  EXPECT_TRUE(judge("10.42.1.6", "10.42.1.5"));   // others are not isolated
}

TEST(RangeSet, ComplementAndIntersectCoverTheSpace) {
  RangeSet s;
  s.Add(10, 20);
  s.Add(15, 30);
  s.Add(0xfffffff0u, 0xffffffffu);
  s.Normalize();
  ASSERT_EQ(s.ranges().size(), 2u);
  EXPECT_TRUE(s.Contains(10) && s.Contains(30) && !s.Contains(31) && s.Contains(0xffffffffu));
  const RangeSet c = s.Complement(0xffffffffu);
  EXPECT_EQ(c.ranges(), (std::vector<std::pair<uint32_t, uint32_t>>{{0, 9}, {31, 0xffffffefu}}));
  EXPECT_TRUE(s.Intersect(c).empty());
  EXPECT_EQ(RangeSet::All(65535).Intersect(s).ranges().size(), 1u);
}

}  // namespace
}  // namespace edgebed::policy
