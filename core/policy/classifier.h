// The compiled classifier: policies and endpoints turned, ahead of any
// packet, into programs whose rules test only integers — address ranges,
// port ranges, protocol numbers. Each endpoint runs one program per
// direction, shared with every endpoint to which the same policies apply.
// Selectors, namespaces and service accounts are resolved into address sets
// at compile time, as Calico's Felix renders them into IP sets, so a packet
// never touches a label.
//
// Pods that come or change are taken in incrementally (Update()); a change
// of policies or network sets means a new Classifier.
//
// It decides exactly as ReferenceEvaluator does (tests/policy hold it to
// that over many random worlds); the reference stays the specification.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/policy/inventory.h"
#include "core/policy/policy_set.h"
#include "core/policy/reference.h"

namespace edgebed::policy {

// Sorted, disjoint, closed intervals of a 32-bit space (addresses) or a
// 16-bit one (ports).
class RangeSet {
 public:
  static RangeSet All(uint32_t max);
  void Add(uint32_t first, uint32_t last);  // any order; Normalize() before use
  void Normalize();
  RangeSet Intersect(const RangeSet& other) const;
  RangeSet Complement(uint32_t max) const;
  bool Contains(uint32_t value) const;
  bool empty() const { return ranges_.empty(); }
  const std::vector<std::pair<uint32_t, uint32_t>>& ranges() const { return ranges_; }

 private:
  std::vector<std::pair<uint32_t, uint32_t>> ranges_;
};

struct CompiledSide {
  bool any_address = true;
  RangeSet addresses;      // when !any_address
  bool any_port = true;
  RangeSet ports;          // numeric ports; with named_ports, when !any_port
  std::unordered_set<uint64_t> named_ports;  // (address, protocol, port) keys
  bool has_not_ports = false;
  RangeSet not_ports;
  std::unordered_set<uint64_t> not_named_ports;
};

struct CompiledRule {
  Action action = Action::kAllow;
  bool never = false;  // e.g. ipVersion 6 on the IPv4 dataplane
  int16_t protocol = -1, not_protocol = -1;
  int16_t icmp_type = -1, icmp_code = -1;  // with has_icmp
  bool has_icmp = false;
  int16_t not_icmp_type = -1, not_icmp_code = -1;
  bool has_not_icmp = false;
  CompiledSide source, destination;
  const Policy* policy = nullptr;
  int index = 0;  // in the policy's rules of this direction
};

// Finds, for a packet, the rules of a program that can match it, without
// looking at every rule: per field (source and destination address,
// destination port, protocol), the rules whose condition on that field holds
// for the packet's value form a bit set; their AND is the candidates, in rule
// order. (The bit-vector scheme of Lakshman and Stiliadis, with two changes:
// the rules that do not constrain a field are one shared set, and the sets
// of the others are sorted lists per elementary interval, so memory grows
// with how much the rules overlap rather than with rules squared; and the AND
// is taken a word at a time, only as far as the first decisive rule.) When
// one field alone narrows the rules to fewer than there are words, its list
// is walked instead and each rule on it checked. A candidate is always
// checked in full, so the sets may over-approximate: a rule whose condition
// is too broad to be worth listing counts as unconstrained.
class RuleIndex {
 private:
  struct Field;

 public:
  explicit RuleIndex(const std::vector<CompiledRule>& rules);
  RuleIndex(const RuleIndex&) = delete;
  RuleIndex& operator=(const RuleIndex&) = delete;
  ~RuleIndex();

  // The candidates for one packet, visited in increasing rule order.
  class Cursor {
   public:
    // The first candidate in [from, end), or end. Calls must not go back:
    // `from` never decreases from one call to the next.
    size_t Next(size_t from, size_t end);

   private:
    friend class RuleIndex;
    struct Slice {
      const uint32_t* next;  // the field's listed rules for the packet's value, ascending
      const uint32_t* end;
      const uint64_t* unconstrained;
      const uint32_t* free_next;  // the same unconstrained rules, as an ascending list
      const uint32_t* free_end;
      size_t size() const { return static_cast<size_t>((end - next) + (free_end - free_next)); }
    };
    uint64_t Word(size_t w);
    const uint64_t* protocol_ = nullptr;
    Slice slices_[3];
    int fields_ = 0;
    int driver_ = -1;  // the field whose lists are walked, or -1: AND words
    size_t word_ = SIZE_MAX;  // the word `mask_` holds
    uint64_t mask_ = 0;
  };
  Cursor Begin(const Packet& packet) const;
  size_t bytes() const;

 private:
  size_t words_ = 0;
  std::unique_ptr<Field> src_, dst_, dst_port_;
  std::vector<std::vector<uint64_t>> by_protocol_;  // [protocol]: rules it may match
};

// One endpoint's program for one direction: the tiers that apply to it, in
// order, each a run of rules ending in the tier's default action. Endpoints
// to which the same policies apply share one program.
struct Program {
  struct TierRun {
    std::string name;
    size_t begin = 0, end = 0;  // rules[begin, end)
    Action default_action = Action::kDeny;
    const Policy* last_policy = nullptr;
  };
  std::vector<TierRun> tiers;
  std::vector<CompiledRule> rules;
  std::unique_ptr<RuleIndex> index;  // for programs of kIndexFrom rules or more
  static constexpr size_t kIndexFrom = 32;
  // The rule sides that select endpoints (by selector, service account or
  // named port): what a change to an endpoint may alter.
  std::vector<const EntityMatch*> selections;
  // What it was compiled from, to compile it again.
  Direction direction = Direction::kIngress;
  std::vector<const Policy*> policies;
  size_t users = 0;  // endpoint directions that run it
};

class Classifier {
 public:
  // Compiles every endpoint's programs, indexing those of `index_from` rules
  // or more. `tiers` (PolicySet::Ordered()) and `inventory` must outlive the
  // classifier.
  Classifier(const std::vector<PolicySet::OrderedTier>& tiers, const Inventory& inventory,
             size_t index_from = Program::kIndexFrom);

  Verdict Evaluate(const Packet& packet) const;
  Decision Evaluate(const Endpoint& endpoint, Direction direction, const Packet& packet) const;

  // After endpoints were added or changed in the inventory (a new pod, new
  // labels, new ports): recompiles what they affect and nothing else — their
  // own programs, and the programs whose rules select them before or after
  // the change. Returns how many programs were compiled.
  size_t Update(const std::vector<std::string>& changed_keys);

  size_t program_count() const { return programs_.size(); }  // distinct ones
  size_t rule_count() const;   // over the distinct programs
  size_t index_bytes() const;  // memory of their indexes
  const Program& program(const Endpoint& endpoint, Direction direction) const;

 private:
  // The policies that apply to the endpoint in that direction, tier by tier.
  std::vector<const Policy*> Applicable(const Endpoint& endpoint, Direction direction) const;
  std::unique_ptr<Program> Compile(const std::vector<const Policy*>& policies,
                                   Direction direction) const;
  // A rule side compiled against the inventory, kept for every program
  // that shares the rule, until an endpoint it involves changes.
  struct CachedSide {
    CompiledSide side;
    std::vector<size_t> selected;  // endpoints whose addresses it holds
  };
  const CachedSide& CompileSide(const EntityMatch& match) const;
  // The endpoint's program for the direction: found, or compiled and kept.
  const Program* ProgramFor(const Endpoint& endpoint, Direction direction, size_t* compiled);
  // Whether `match` could hold `endpoint`'s addresses.
  bool Involves(const EntityMatch& match, const Endpoint& endpoint) const;

  const Inventory& inventory_;
  const std::vector<PolicySet::OrderedTier>& tiers_;
  const size_t index_from_;
  ReferenceEvaluator reference_;  // for Applies() and selector resolution
  // Programs by direction and applicable policies.
  std::map<std::pair<Direction, std::vector<const Policy*>>, std::unique_ptr<Program>> programs_;
  std::vector<const Program*> ingress_, egress_;  // parallel to inventory_.endpoints()
  // Compiled sides, and the indexes that find those a changed endpoint can
  // affect without looking at the others: by the endpoints they hold, by the
  // namespace they are bound to, or neither (they look everywhere).
  mutable std::map<const EntityMatch*, CachedSide> sides_;
  mutable std::map<size_t, std::set<const EntityMatch*>> holding_;
  mutable std::map<std::string, std::set<const EntityMatch*>> bound_;
  mutable std::set<const EntityMatch*> unbound_;
  std::map<const EntityMatch*, std::set<Program*>> users_;  // the programs using a side
  void ForgetSide(const EntityMatch* match);
  void Use(const Program* program, int delta);  // registers or forgets its sides' users
};

}  // namespace edgebed::policy
