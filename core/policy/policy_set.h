// Kubernetes and Calico network policies in one normalized form, ordered as
// Calico evaluates them: tiers by order, policies within a tier by order,
// rules in the order written.
//
// A networking.k8s.io/v1 NetworkPolicy becomes what Calico makes of it: a
// policy in the default tier at order 1000 whose rules are Allow rules, one
// per peer and port, so that "allows are a union, anything else is denied"
// falls out of the tier's end-of-tier deny.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/base/ip.h"
#include "core/base/status.h"
#include "core/model/objects.h"
#include "core/policy/inventory.h"
#include "core/policy/selector.h"

namespace edgebed::policy {

enum class Action : uint8_t { kAllow, kDeny, kPass, kLog };
const char* ActionName(Action action);  // "Allow", ...

enum class Direction : uint8_t { kIngress, kEgress };
const char* DirectionName(Direction direction);  // "ingress", "egress"

struct PortSpec {
  uint16_t first = 0, last = 0;
  std::string name;  // a named port, resolved on the endpoint of that side
};

// One side (source or destination) of a rule. Everything given must hold.
struct EntityMatch {
  std::vector<IpPrefix> nets, not_nets;
  std::optional<Selector> selector, not_selector, namespace_selector;
  std::vector<PortSpec> ports, not_ports;
  std::vector<std::string> service_account_names;
  std::optional<Selector> service_account_selector;
  // Where selected endpoints must live: a namespaced policy's own namespace
  // unless namespace_selector says otherwise; empty for any namespace.
  std::string namespace_;
  // Kubernetes peers select pods only, never network sets.
  bool pods_only = false;
  // True when the side names endpoints (a selector, a namespace selector,
  // service accounts; in a namespaced policy also a notSelector): then an
  // address no endpoint holds cannot match.
  bool SelectsEntities() const;
};

struct IcmpMatch {
  std::optional<uint8_t> type, code;
};

struct Rule {
  Action action = Action::kAllow;
  std::optional<uint8_t> protocol, not_protocol;
  std::optional<IcmpMatch> icmp, not_icmp;
  std::optional<int> ip_version;
  EntityMatch source, destination;
  std::string where;  // the field path it came from: "spec.ingress[0].from[1]"
};

struct Policy {
  enum class Kind : uint8_t { kKubernetes, kCalico, kGlobal };
  Kind kind = Kind::kCalico;
  std::string namespace_, name;  // namespace_ empty for a GlobalNetworkPolicy
  std::string tier = "default";
  std::optional<double> order;  // absent: after every ordered policy
  Selector selector;            // the endpoints it applies to (in namespace_ if set)
  std::optional<Selector> namespace_selector;        // GlobalNetworkPolicy
  std::optional<Selector> service_account_selector;
  bool ingress = false, egress = false;  // its types
  std::vector<Rule> ingress_rules, egress_rules;
  model::SourcePos pos;

  const std::vector<Rule>& rules(Direction d) const {
    return d == Direction::kIngress ? ingress_rules : egress_rules;
  }
  bool Covers(Direction d) const { return d == Direction::kIngress ? ingress : egress; }
  // "NetworkPolicy floor-1/deny-all", "Calico NetworkPolicy floor-1/x",
  // "GlobalNetworkPolicy isolate-floors".
  std::string DisplayName() const;
  std::string Key() const;  // unique: kind, namespace and name
};

struct TierSpec {
  std::string name;
  std::optional<double> order;
  Action default_action = Action::kDeny;  // or kPass
};

// Calico's default tier sits at this order unless a Tier object says otherwise.
inline constexpr double kDefaultTierOrder = 1'000'000;
// Where Kubernetes policies sit in the default tier.
inline constexpr double kKubernetesPolicyOrder = 1000;

class PolicySet {
 public:
  PolicySet();  // just the default tier

  // Adds or replaces (by kind, namespace and name) one policy or tier. A bad
  // Calico selector is an error naming the manifest position and field.
  Status Upsert(const model::NetworkPolicy& policy);
  Status Upsert(const model::CalicoPolicy& policy);
  Status Upsert(const model::Tier& tier);
  void Upsert(Policy policy);
  bool Remove(const std::string& policy_key);

  // Every policy, tier by tier in evaluation order. A policy that names a
  // tier no Tier object defines is an error.
  struct OrderedTier {
    TierSpec spec;
    std::vector<const Policy*> policies;  // in evaluation order
  };
  StatusOr<std::vector<OrderedTier>> Ordered() const;

  const std::map<std::string, Policy>& policies() const { return policies_; }

 private:
  std::map<std::string, Policy> policies_;  // by Key()
  std::map<std::string, TierSpec> tiers_;
};

// Every policy and tier among `objects`; all errors, one per line.
StatusOr<PolicySet> PolicySetFromObjects(const std::vector<model::Object>& objects);

// The manifests' policies, in evaluation order, and the endpoints they
// govern: what an evaluator is built on. The tiers point into `policies`, so
// a world is moved, never copied (a moved map keeps its nodes).
struct PolicyWorld {
  Inventory inventory;
  PolicySet policies;
  std::vector<PolicySet::OrderedTier> tiers;

  PolicyWorld() = default;
  PolicyWorld(PolicyWorld&&) = default;
  PolicyWorld& operator=(PolicyWorld&&) = default;
  PolicyWorld(const PolicyWorld&) = delete;
  PolicyWorld& operator=(const PolicyWorld&) = delete;
};
// InventoryFromObjects and PolicySetFromObjects together, with their errors.
StatusOr<PolicyWorld> PolicyWorldFromObjects(const std::vector<model::Object>& objects);

}  // namespace edgebed::policy
