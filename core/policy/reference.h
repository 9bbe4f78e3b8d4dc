// The reference evaluator: Calico's semantics read straight off the policy
// set, one rule at a time. It is the specification the compiled classifier
// is tested against, and what `explain` reports from.
//
// A new connection from src to dst is allowed when the source pod's egress
// allows it and the destination pod's ingress allows it; an address that is
// not a pod (a network set, the Internet) has no policy of its own.
// A pod's traffic to its own address is loopback and always allowed (as
// upstream's network-policy tests expect). A rule's selector matches an address when it matches the pod holding it or
// any network set containing it, as Calico's IP sets do.
// For one endpoint and direction: tiers in order; a tier with no policy
// that applies to the endpoint is skipped; in a tier, the policies in order,
// their rules in order: the first Allow or Deny decides, Pass goes on to the
// next tier, Log is noted and evaluation goes on; a tier that applied but
// where nothing decided ends in its defaultAction (Deny, or Pass). When no
// tier decides, the endpoint's profile allows (Kubernetes' default allow).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/policy/inventory.h"
#include "core/policy/policy_set.h"

namespace edgebed::policy {

// How one side (egress at the source, or ingress at the destination) decided.
struct Decision {
  enum class By : uint8_t {
    kRule,         // a rule's Allow or Deny
    kEndOfTier,    // a tier applied and nothing matched: its defaultAction Deny
    kNoPolicy,     // no tier applied, or every one passed: the profile allows
    kNotAPod,      // not a pod: no policy of its own
    kLoopback,     // a pod's traffic to itself never leaves it: no policy sees it
    kRemote,       // a pod on another node: that node's dataplane judges it
  };
  By by = By::kNotAPod;
  bool allowed = true;
  std::string tier;
  const Policy* policy = nullptr;  // kRule; also kEndOfTier: the last policy that applied
  int rule = -1;                   // kRule: index in the policy's rules of this direction
  Direction rule_direction = Direction::kIngress;
  std::vector<std::string> trace;  // what was passed, logged, skipped on the way
  std::string ToString() const;
};

// Calico's walk through the tiers, shared by every evaluator: it is fed the
// rules that match, in evaluation order, and keeps what Allow, Deny, Pass,
// Log and a tier's end do to the decision.
class TierWalk {
 public:
  explicit TierWalk(Direction direction) : direction_(direction) {}
  // Rule `index` of `policy` (in `tier`), whose action is `action`, matched.
  // True when the tier is over: the rule decided (Allow, Deny) or passed.
  bool Matched(const std::string& tier, const Policy& policy, int index, Action action);
  // The end of a tier; `last_applied` is null when none of its policies
  // applied (the tier is then skipped).
  void EndTier(const std::string& tier, Action default_action, const Policy* last_applied);
  bool decided() const { return decided_; }
  // The decision; when no tier decided, the profile's allow. Ends the walk.
  Decision Result() &&;

 private:
  Direction direction_;
  Decision decision_;
  bool decided_ = false, passed_ = false;
};

struct Verdict {
  bool allowed = false;
  Decision egress, ingress;  // at the source, at the destination
};

// A connection's verdict from `judge` at each end that is a pod: egress at
// the source, ingress at the destination; loopback is always allowed.
Verdict JudgeBothEnds(const Inventory& inventory, const Packet& packet,
                      const std::function<Decision(const Endpoint&, Direction)>& judge);

class ReferenceEvaluator {
 public:
  // `tiers` from PolicySet::Ordered(); both must outlive the evaluator.
  ReferenceEvaluator(const std::vector<PolicySet::OrderedTier>& tiers, const Inventory& inventory)
      : tiers_(tiers), inventory_(inventory) {}

  Verdict Evaluate(const Packet& packet) const;
  Decision Evaluate(const Endpoint& endpoint, Direction direction, const Packet& packet) const;

  // Whether `policy` applies to `endpoint` (its selectors, its namespace).
  bool Applies(const Policy& policy, const Endpoint& endpoint) const;
  // Whether `rule` matches `packet`.
  bool Matches(const Rule& rule, const Packet& packet) const;

  // Whether one holder of an address satisfies the entity part of `m` (its
  // selector, namespace scope and service accounts).
  bool SelectedBy(const EntityMatch& m, const Entity& entity) const;
  // The labels selectors see on a pod or a network set.
  const model::Labels& Labels(const Entity& entity) const;

 private:
  bool MatchesSide(const EntityMatch& match, uint32_t address, uint16_t port,
                   const Packet& packet) const;

  const std::vector<PolicySet::OrderedTier>& tiers_;
  const Inventory& inventory_;
};

}  // namespace edgebed::policy
