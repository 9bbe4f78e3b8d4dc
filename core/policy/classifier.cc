#include "core/policy/classifier.h"

#include <algorithm>
#include <optional>
#include <set>

namespace edgebed::policy {

namespace {

constexpr uint32_t kMaxAddress = 0xffffffffu;
constexpr uint32_t kMaxPort = 0xffffu;

uint64_t NamedKey(uint32_t address, uint8_t protocol, uint16_t port) {
  return uint64_t{address} << 24 | uint64_t{protocol} << 16 | port;
}

std::pair<uint32_t, uint32_t> Bounds(const IpPrefix& p) {
  const uint32_t host_bits = p.prefix == 0 ? kMaxAddress : (1u << (32 - p.prefix)) - 1;
  const uint32_t first = p.v4() & ~host_bits;
  return {first, first | host_bits};
}

RangeSet Prefixes(const std::vector<IpPrefix>& nets) {
  RangeSet s;
  for (const IpPrefix& n : nets) {
    if (n.family != 4) continue;  // the dataplane is IPv4
    const auto [first, last] = Bounds(n);
    s.Add(first, last);
  }
  s.Normalize();
  return s;
}

bool HasPorts(uint8_t protocol) {
  return protocol == kTcp || protocol == kUdp || protocol == kSctp || protocol == kUdpLite;
}

// Numeric port specs into `numeric`; named ones resolved against every pod
// into `named`.
void CompilePorts(const std::vector<PortSpec>& specs, const Inventory& inventory,
                  RangeSet* numeric, std::unordered_set<uint64_t>* named,
                  std::vector<size_t>* selected) {
  for (const PortSpec& s : specs) {
    if (s.name.empty()) {
      numeric->Add(s.first, s.last);
      continue;
    }
    const std::vector<Endpoint>& endpoints = inventory.endpoints();
    for (size_t i = 0; i < endpoints.size(); ++i) {
      for (const NamedPort& p : endpoints[i].ports) {
        if (p.name != s.name) continue;
        for (uint32_t ip : endpoints[i].ips) named->insert(NamedKey(ip, p.protocol, p.port));
        selected->push_back(i);
      }
    }
  }
  numeric->Normalize();
}

bool PortMatches(const RangeSet& numeric, const std::unordered_set<uint64_t>& named,
                 uint32_t address, uint16_t port, uint8_t protocol) {
  if (!HasPorts(protocol)) return false;
  return numeric.Contains(port) ||
         (!named.empty() && named.count(NamedKey(address, protocol, port)));
}

bool SideMatches(const CompiledSide& s, uint32_t address, uint16_t port, uint8_t protocol) {
  if (!s.any_address && !s.addresses.Contains(address)) return false;
  if (!s.any_port && !PortMatches(s.ports, s.named_ports, address, port, protocol)) return false;
  if (s.has_not_ports && PortMatches(s.not_ports, s.not_named_ports, address, port, protocol)) {
    return false;
  }
  return true;
}

bool RuleMatches(const CompiledRule& r, const Packet& p) {
  if (r.never) return false;
  if (r.protocol >= 0 && r.protocol != p.protocol) return false;
  if (r.not_protocol >= 0 && r.not_protocol == p.protocol) return false;
  const bool icmp = p.protocol == kIcmp || p.protocol == kIcmpv6;
  if (r.has_icmp && !(icmp && (r.icmp_type < 0 || r.icmp_type == p.icmp_type) &&
                      (r.icmp_code < 0 || r.icmp_code == p.icmp_code))) {
    return false;
  }
  if (r.has_not_icmp && icmp && (r.not_icmp_type < 0 || r.not_icmp_type == p.icmp_type) &&
      (r.not_icmp_code < 0 || r.not_icmp_code == p.icmp_code)) {
    return false;
  }
  return SideMatches(r.source, p.src, p.src_port, p.protocol) &&
         SideMatches(r.destination, p.dst, p.dst_port, p.protocol);
}

}  // namespace

RangeSet RangeSet::All(uint32_t max) {
  RangeSet s;
  s.ranges_.push_back({0, max});
  return s;
}

void RangeSet::Add(uint32_t first, uint32_t last) { ranges_.push_back({first, last}); }

void RangeSet::Normalize() {
  std::sort(ranges_.begin(), ranges_.end());
  std::vector<std::pair<uint32_t, uint32_t>> merged;
  for (const auto& r : ranges_) {
    if (!merged.empty() && (merged.back().second == UINT32_MAX || r.first <= merged.back().second + 1)) {
      merged.back().second = std::max(merged.back().second, r.second);
    } else {
      merged.push_back(r);
    }
  }
  ranges_ = std::move(merged);
}

RangeSet RangeSet::Intersect(const RangeSet& other) const {
  RangeSet out;
  size_t i = 0, j = 0;
  while (i < ranges_.size() && j < other.ranges_.size()) {
    const uint32_t lo = std::max(ranges_[i].first, other.ranges_[j].first);
    const uint32_t hi = std::min(ranges_[i].second, other.ranges_[j].second);
    if (lo <= hi) out.ranges_.push_back({lo, hi});
    if (ranges_[i].second < other.ranges_[j].second) ++i; else ++j;
  }
  return out;
}

RangeSet RangeSet::Complement(uint32_t max) const {
  RangeSet out;
  uint64_t next = 0;
  for (const auto& [first, last] : ranges_) {
    if (first > next) out.ranges_.push_back({static_cast<uint32_t>(next), first - 1});
    next = uint64_t{last} + 1;
  }
  if (next <= max) out.ranges_.push_back({static_cast<uint32_t>(next), max});
  return out;
}

bool RangeSet::Contains(uint32_t value) const {
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), value,
                             [](uint32_t v, const std::pair<uint32_t, uint32_t>& r) { return v < r.first; });
  return it != ranges_.begin() && std::prev(it)->second >= value;
}

// --- RuleIndex ---

struct RuleIndex::Field {
  std::vector<uint32_t> starts;   // elementary intervals, by first value
  std::vector<uint32_t> offsets;  // per interval, its slice of `rules`
  std::vector<uint32_t> rules;    // rules constraining the field that hold there
  std::vector<uint64_t> unconstrained;
  std::vector<uint32_t> unconstrained_rules;  // the same, as a list

  Field(const std::vector<const RangeSet*>& conditions, uint32_t max);
  Cursor::Slice Lookup(uint32_t value) const {
    const size_t i = static_cast<size_t>(std::upper_bound(starts.begin(), starts.end(), value) -
                                         starts.begin()) - 1;
    return {rules.data() + offsets[i], rules.data() + offsets[i + 1], unconstrained.data(),
            unconstrained_rules.data(), unconstrained_rules.data() + unconstrained_rules.size()};
  }
};

RuleIndex::Field::Field(const std::vector<const RangeSet*>& conditions, uint32_t max) {
  const size_t words = (conditions.size() + 63) / 64;
  unconstrained.assign(words, 0);
  std::vector<uint32_t> bounds = {0};
  for (const RangeSet* c : conditions) {
    if (!c) continue;
    for (const auto& [first, last] : c->ranges()) {
      bounds.push_back(first);
      if (last < max) bounds.push_back(last + 1);
    }
  }
  std::sort(bounds.begin(), bounds.end());
  bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
  starts = std::move(bounds);
  const size_t intervals = starts.size();
  const auto span = [&](uint32_t first, uint32_t last) {
    const auto lo = std::lower_bound(starts.begin(), starts.end(), first) - starts.begin();
    const auto hi = std::upper_bound(starts.begin(), starts.end(), last) - starts.begin();
    return std::make_pair(static_cast<size_t>(lo), static_cast<size_t>(hi));
  };
  // Rules are visited in order, so every interval's list comes out sorted.
  std::vector<std::vector<uint32_t>> lists(intervals);
  for (size_t r = 0; r < conditions.size(); ++r) {
    const RangeSet* c = conditions[r];
    size_t covered = 0;
    if (c) {
      for (const auto& [first, last] : c->ranges()) {
        const auto [lo, hi] = span(first, last);
        covered += hi - lo;
      }
    }
    // Unconstrained, or so broad that listing it everywhere costs more than
    // checking it: one bit in the shared set.
    if (!c || covered > intervals / 2 + 8) {
      unconstrained[r / 64] |= uint64_t{1} << (r % 64);
      unconstrained_rules.push_back(static_cast<uint32_t>(r));
      continue;
    }
    for (const auto& [first, last] : c->ranges()) {
      const auto [lo, hi] = span(first, last);
      for (size_t i = lo; i < hi; ++i) lists[i].push_back(static_cast<uint32_t>(r));
    }
  }
  offsets.assign(intervals + 1, 0);
  for (size_t i = 0; i < intervals; ++i) {
    offsets[i + 1] = offsets[i] + static_cast<uint32_t>(lists[i].size());
  }
  rules.reserve(offsets.back());
  for (const auto& list : lists) rules.insert(rules.end(), list.begin(), list.end());
}

RuleIndex::RuleIndex(const std::vector<CompiledRule>& rules) : words_((rules.size() + 63) / 64) {
  std::vector<const RangeSet*> src, dst, port;
  for (const CompiledRule& r : rules) {
    src.push_back(r.source.any_address ? nullptr : &r.source.addresses);
    dst.push_back(r.destination.any_address ? nullptr : &r.destination.addresses);
    // Named ports and notPorts are left to the full check.
    const bool numeric_only = !r.destination.any_port && r.destination.named_ports.empty();
    port.push_back(numeric_only ? &r.destination.ports : nullptr);
  }
  src_ = std::make_unique<Field>(src, kMaxAddress);
  dst_ = std::make_unique<Field>(dst, kMaxAddress);
  dst_port_ = std::make_unique<Field>(port, kMaxPort);
  by_protocol_.assign(256, std::vector<uint64_t>(words_, 0));
  for (size_t r = 0; r < rules.size(); ++r) {
    const CompiledRule& c = rules[r];
    for (int proto = 0; proto < 256; ++proto) {
      if (c.never || (c.protocol >= 0 && c.protocol != proto) || c.not_protocol == proto) continue;
      by_protocol_[proto][r / 64] |= uint64_t{1} << (r % 64);
    }
  }
}

RuleIndex::~RuleIndex() = default;

RuleIndex::Cursor RuleIndex::Begin(const Packet& packet) const {
  Cursor c;
  c.protocol_ = by_protocol_[packet.protocol].data();
  c.slices_[c.fields_++] = src_->Lookup(packet.src);
  c.slices_[c.fields_++] = dst_->Lookup(packet.dst);
  if (HasPorts(packet.protocol)) c.slices_[c.fields_++] = dst_port_->Lookup(packet.dst_port);
  size_t fewest = words_;
  for (int f = 0; f < c.fields_; ++f) {
    if (c.slices_[f].size() < fewest) {
      fewest = c.slices_[f].size();
      c.driver_ = f;
    }
  }
  return c;
}

uint64_t RuleIndex::Cursor::Word(size_t w) {
  uint64_t m = protocol_[w];
  const uint32_t first = static_cast<uint32_t>(w * 64), past = first + 64;
  for (int f = 0; f < fields_ && m; ++f) {
    Slice& s = slices_[f];
    uint64_t bits = s.unconstrained[w];
    // Lists ascend and words are asked for in order: skip what is behind.
    while (s.next < s.end && *s.next < past) {
      if (*s.next >= first) bits |= uint64_t{1} << (*s.next - first);
      ++s.next;
    }
    m &= bits;
  }
  return m;
}

size_t RuleIndex::Cursor::Next(size_t from, size_t end) {
  if (driver_ >= 0) {
    // Merge the field's two ascending lists; the caller checks each rule.
    Slice& s = slices_[driver_];
    while (s.next < s.end && *s.next < from) ++s.next;
    while (s.free_next < s.free_end && *s.free_next < from) ++s.free_next;
    size_t best = end;
    if (s.next < s.end) best = std::min<size_t>(best, *s.next);
    if (s.free_next < s.free_end) best = std::min<size_t>(best, *s.free_next);
    return best;
  }
  while (from < end) {
    const size_t w = from / 64;
    if (w != word_) {
      mask_ = Word(w);
      word_ = w;
    }
    const uint64_t ahead = mask_ & (~uint64_t{0} << (from % 64));
    if (ahead) return std::min(end, w * 64 + static_cast<size_t>(__builtin_ctzll(ahead)));
    from = (w + 1) * 64;
  }
  return end;
}

size_t RuleIndex::bytes() const {
  size_t n = by_protocol_.size() * words_ * 8;
  for (const Field* f : {src_.get(), dst_.get(), dst_port_.get()}) {
    n += (f->starts.size() + f->offsets.size() + f->rules.size()) * 4 + f->unconstrained.size() * 8;
  }
  return n;
}

// --- Classifier ---

Classifier::Classifier(const std::vector<PolicySet::OrderedTier>& tiers, const Inventory& inventory,
                       size_t index_from)
    : inventory_(inventory), tiers_(tiers), index_from_(index_from), reference_(tiers, inventory) {
  size_t compiled = 0;
  for (const Endpoint& e : inventory.endpoints()) {
    ingress_.push_back(ProgramFor(e, Direction::kIngress, &compiled));
    egress_.push_back(ProgramFor(e, Direction::kEgress, &compiled));
  }
}

const Program* Classifier::ProgramFor(const Endpoint& endpoint, Direction direction,
                                      size_t* compiled) {
  auto key = std::make_pair(direction, Applicable(endpoint, direction));
  auto it = programs_.find(key);
  if (it == programs_.end()) {
    auto program = Compile(key.second, direction);
    ++*compiled;
    Use(program.get(), +1);
    it = programs_.emplace(std::move(key), std::move(program)).first;
  }
  ++it->second->users;
  return it->second.get();
}

bool Classifier::Involves(const EntityMatch& m, const Endpoint& e) const {
  const Entity entity{&e, nullptr};
  if (m.SelectsEntities() && reference_.SelectedBy(m, entity)) return true;
  if (m.not_selector && m.not_selector->Matches(reference_.Labels(entity))) return true;
  for (const auto* specs : {&m.ports, &m.not_ports}) {
    for (const PortSpec& s : *specs) {
      if (s.name.empty()) continue;
      for (const NamedPort& p : e.ports) {
        if (p.name == s.name) return true;
      }
    }
  }
  return false;
}

size_t Classifier::Update(const std::vector<std::string>& changed_keys) {
  std::vector<size_t> changed;
  for (const std::string& key : changed_keys) {
    if (const Endpoint* e = inventory_.FindEndpoint(key)) {
      changed.push_back(static_cast<size_t>(e - inventory_.endpoints().data()));
    }
  }
  // The compiled sides a change can touch: those that held a changed
  // endpoint, those bound to its namespace, those bound to none. Of these,
  // the ones that held it or would hold it now are stale.
  std::set<const EntityMatch*> stale_sides;
  for (size_t i : changed) {
    const Endpoint& e = inventory_.endpoints()[i];
    if (auto it = holding_.find(i); it != holding_.end()) {
      stale_sides.insert(it->second.begin(), it->second.end());
    }
    for (const std::set<const EntityMatch*>* candidates : {&bound_[e.namespace_], &unbound_}) {
      for (const EntityMatch* m : *candidates) {
        if (!stale_sides.count(m) && Involves(*m, e)) stale_sides.insert(m);
      }
    }
  }
  std::set<Program*> stale;
  for (const EntityMatch* m : stale_sides) {
    ForgetSide(m);
    if (auto it = users_.find(m); it != users_.end()) stale.insert(it->second.begin(), it->second.end());
  }
  size_t compiled = 0;
  for (Program* program : stale) {
    // Recompiled in place: endpoints that run it keep their pointer.
    Use(program, -1);
    const size_t users = program->users;
    *program = std::move(*Compile(program->policies, program->direction));
    program->users = users;
    Use(program, +1);
    ++compiled;
  }
  // The changed endpoints' own programs; a new endpoint gets its first.
  ingress_.resize(inventory_.endpoints().size(), nullptr);
  egress_.resize(inventory_.endpoints().size(), nullptr);
  for (size_t i : changed) {
    const Endpoint& e = inventory_.endpoints()[i];
    for (auto* slots : {&ingress_, &egress_}) {
      const Direction d = slots == &ingress_ ? Direction::kIngress : Direction::kEgress;
      const Program* old = (*slots)[i];
      (*slots)[i] = ProgramFor(e, d, &compiled);
      if (old && --const_cast<Program*>(old)->users == 0) {
        // No endpoint runs it any more.
        Use(old, -1);
        programs_.erase(std::make_pair(old->direction, old->policies));
      }
    }
  }
  return compiled;
}

std::vector<const Policy*> Classifier::Applicable(const Endpoint& endpoint, Direction direction) const {
  std::vector<const Policy*> out;
  for (const PolicySet::OrderedTier& tier : tiers_) {
    for (const Policy* policy : tier.policies) {
      if (policy->Covers(direction) && reference_.Applies(*policy, endpoint)) out.push_back(policy);
    }
  }
  return out;
}

const Classifier::CachedSide& Classifier::CompileSide(const EntityMatch& m) const {
  if (auto it = sides_.find(&m); it != sides_.end()) return it->second;
  CachedSide& cached = sides_[&m];
  CompiledSide& side = cached.side;
  std::vector<size_t>* selected = &cached.selected;
  RangeSet addresses = RangeSet::All(kMaxAddress);
  bool restricted = false;
  if (!m.nets.empty()) {
    addresses = addresses.Intersect(Prefixes(m.nets));
    restricted = true;
  }
  if (!m.not_nets.empty()) {
    addresses = addresses.Intersect(Prefixes(m.not_nets).Complement(kMaxAddress));
    restricted = true;
  }
  // The addresses of every pod and network set the side selects: what
  // Felix would put in the rule's IP set.
  const auto holdings = [&](const auto& chosen, bool scoped) {
    RangeSet s;
    const std::vector<Endpoint>& endpoints = inventory_.endpoints();
    const auto visit = [&](size_t i) {
      if (!chosen(Entity{&endpoints[i], nullptr})) return;
      for (uint32_t ip : endpoints[i].ips) s.Add(ip, ip);
      selected->push_back(i);
    };
    if (scoped) {
      for (size_t i : inventory_.EndpointsIn(m.namespace_)) visit(i);
    } else {
      for (size_t i = 0; i < endpoints.size(); ++i) visit(i);
    }
    for (const NetworkSet& n : inventory_.networks()) {
      if (!chosen(Entity{nullptr, &n})) continue;
      for (const IpPrefix& net : n.nets) {
        if (net.family != 4) continue;
        const auto [first, last] = Bounds(net);
        s.Add(first, last);
      }
    }
    s.Normalize();
    return s;
  };
  if (m.SelectsEntities()) {
    // A side bound to its policy's namespace need look at no other.
    const bool scoped = !m.namespace_.empty() && !m.namespace_selector;
    addresses = addresses.Intersect(
        holdings([&](const Entity& e) { return reference_.SelectedBy(m, e); }, scoped));
    restricted = true;
  }
  if (m.not_selector) {
    addresses = addresses.Intersect(
        holdings([&](const Entity& e) { return m.not_selector->Matches(reference_.Labels(e)); },
                 false)
            .Complement(kMaxAddress));
    restricted = true;
  }
  side.any_address = !restricted;
  side.addresses = std::move(addresses);
  if (!m.ports.empty()) {
    side.any_port = false;
    CompilePorts(m.ports, inventory_, &side.ports, &side.named_ports, selected);
  }
  if (!m.not_ports.empty()) {
    side.has_not_ports = true;
    CompilePorts(m.not_ports, inventory_, &side.not_ports, &side.not_named_ports, selected);
  }
  std::sort(selected->begin(), selected->end());
  selected->erase(std::unique(selected->begin(), selected->end()), selected->end());
  for (size_t i : *selected) holding_[i].insert(&m);
  const bool named = std::any_of(m.ports.begin(), m.ports.end(), [](const PortSpec& p) { return !p.name.empty(); }) ||
                     std::any_of(m.not_ports.begin(), m.not_ports.end(), [](const PortSpec& p) { return !p.name.empty(); });
  if (!m.namespace_.empty() && !m.namespace_selector && !m.not_selector && !named) {
    bound_[m.namespace_].insert(&m);
  } else {
    unbound_.insert(&m);
  }
  return cached;
}

void Classifier::ForgetSide(const EntityMatch* match) {
  auto it = sides_.find(match);
  if (it == sides_.end()) return;
  for (size_t i : it->second.selected) holding_[i].erase(match);
  bound_[match->namespace_].erase(match);
  unbound_.erase(match);
  sides_.erase(it);
}

void Classifier::Use(const Program* program, int delta) {
  for (const EntityMatch* m : program->selections) {
    if (delta > 0) {
      users_[m].insert(const_cast<Program*>(program));
    } else if (auto it = users_.find(m); it != users_.end()) {
      it->second.erase(const_cast<Program*>(program));
      if (it->second.empty()) users_.erase(it);
    }
  }
}

std::unique_ptr<Program> Classifier::Compile(const std::vector<const Policy*>& policies,
                                             Direction direction) const {
  // (Its sides are registered as used by the caller, once the program has
  // its final address.)
  auto program = std::make_unique<Program>();
  size_t next = 0;  // policies are in tier order, so one pass over the tiers finds them
  for (const PolicySet::OrderedTier& tier : tiers_) {
    Program::TierRun run;
    run.name = tier.spec.name;
    run.default_action = tier.spec.default_action;
    run.begin = program->rules.size();
    for (const Policy* policy : tier.policies) {
      if (next == policies.size() || policies[next] != policy) continue;
      ++next;
      run.last_policy = policy;
      const std::vector<Rule>& rules = policy->rules(direction);
      for (size_t i = 0; i < rules.size(); ++i) {
        const Rule& r = rules[i];
        CompiledRule c;
        c.action = r.action;
        c.never = r.ip_version && *r.ip_version != 4;
        if (r.protocol) c.protocol = *r.protocol;
        if (r.not_protocol) c.not_protocol = *r.not_protocol;
        if (r.icmp) {
          c.has_icmp = true;
          if (r.icmp->type) c.icmp_type = *r.icmp->type;
          if (r.icmp->code) c.icmp_code = *r.icmp->code;
        }
        if (r.not_icmp) {
          c.has_not_icmp = true;
          if (r.not_icmp->type) c.not_icmp_type = *r.not_icmp->type;
          if (r.not_icmp->code) c.not_icmp_code = *r.not_icmp->code;
        }
        for (const EntityMatch* side : {&r.source, &r.destination}) {
          const bool named = std::any_of(side->ports.begin(), side->ports.end(), [](const PortSpec& p) { return !p.name.empty(); }) ||
                             std::any_of(side->not_ports.begin(), side->not_ports.end(), [](const PortSpec& p) { return !p.name.empty(); });
          if (side->SelectsEntities() || side->not_selector || named) {
            program->selections.push_back(side);
          }
        }
        for (const auto& [target, match] : {std::pair{&c.source, &r.source},
                                            std::pair{&c.destination, &r.destination}}) {
          *target = CompileSide(*match).side;
        }
        // A side that can match no address makes the rule dead: drop it.
        if ((!c.source.any_address && c.source.addresses.empty()) ||
            (!c.destination.any_address && c.destination.addresses.empty())) {
          continue;
        }
        c.policy = policy;
        c.index = static_cast<int>(i);
        program->rules.push_back(std::move(c));
      }
    }
    run.end = program->rules.size();
    if (run.last_policy) program->tiers.push_back(std::move(run));
  }
  if (program->rules.size() >= index_from_) {
    program->index = std::make_unique<RuleIndex>(program->rules);
  }
  program->direction = direction;
  program->policies = policies;
  return program;
}

const Program& Classifier::program(const Endpoint& endpoint, Direction direction) const {
  const size_t i = static_cast<size_t>(&endpoint - inventory_.endpoints().data());
  return direction == Direction::kIngress ? *ingress_[i] : *egress_[i];
}

size_t Classifier::rule_count() const {
  size_t n = 0;
  for (const auto& [key, program] : programs_) n += program->rules.size();
  return n;
}

size_t Classifier::index_bytes() const {
  size_t n = 0;
  for (const auto& [key, program] : programs_) n += program->index ? program->index->bytes() : 0;
  return n;
}

Decision Classifier::Evaluate(const Endpoint& endpoint, Direction direction,
                              const Packet& packet) const {
  const Program& program = this->program(endpoint, direction);
  std::optional<RuleIndex::Cursor> cursor;
  if (program.index) cursor = program.index->Begin(packet);
  // The next rule at or after `i` that may match: every one without an
  // index, else the next candidate.
  const auto next = [&](size_t i, size_t end) { return cursor ? cursor->Next(i, end) : i; };
  TierWalk walk(direction);
  for (const Program::TierRun& tier : program.tiers) {
    bool over = false;
    for (size_t i = next(tier.begin, tier.end); i < tier.end && !over; i = next(i + 1, tier.end)) {
      const CompiledRule& r = program.rules[i];
      over = RuleMatches(r, packet) && walk.Matched(tier.name, *r.policy, r.index, r.action);
    }
    walk.EndTier(tier.name, tier.default_action, tier.last_policy);
    if (walk.decided()) break;
  }
  return std::move(walk).Result();
}

Verdict Classifier::Evaluate(const Packet& packet) const {
  return JudgeBothEnds(inventory_, packet, [&](const Endpoint& e, Direction d) {
    return Evaluate(e, d, packet);
  });
}

}  // namespace edgebed::policy
