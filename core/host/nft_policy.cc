#include "core/host/nft_policy.h"

#include <nftables/libnftables.h>

#include <algorithm>
#include <memory>
#include <set>
#include <sstream>

#include "core/base/ip.h"
#include "core/host/nft_services.h"

namespace edgebed::host {
namespace {

using policy::Action;
using policy::CompiledRule;
using policy::CompiledSide;
using policy::Direction;
using policy::RangeSet;

// The protocols whose packets have ports, as the classifier reads them.
constexpr const char* kPortProtocols = "{ 6, 17, 132, 136 }";
constexpr const char* kIcmpProtocols = "{ 1, 58 }";

bool HasPorts(int protocol) {
  return protocol == policy::kTcp || protocol == policy::kUdp || protocol == policy::kSctp ||
         protocol == policy::kUdpLite;
}

// The fixed rules: `judge` and two in each of the three base chains.
constexpr size_t kFixedRules = 5 + 3 * 2;
constexpr const char* kHooks[] = {"forward", "input", "output"};

std::vector<std::string> Elements(const RangeSet& set, bool addresses) {
  std::vector<std::string> out;
  const auto format = [&](uint32_t v) { return addresses ? FormatIpv4(v) : std::to_string(v); };
  for (const auto& range : set.ranges()) {
    out.push_back(range.first == range.second ? format(range.first)
                                              : format(range.first) + "-" + format(range.second));
  }
  return out;
}

// The classifier's named-port keys (address << 24 | protocol << 16 | port)
// as (address . protocol . port) elements; only protocols with ports can match.
std::vector<std::string> NamedElements(const std::unordered_set<uint64_t>& keys) {
  std::vector<uint64_t> sorted(keys.begin(), keys.end());
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::string> out;
  for (uint64_t k : sorted) {
    const int protocol = static_cast<int>((k >> 16) & 0xff);
    if (!HasPorts(protocol)) continue;
    out.push_back(FormatIpv4(static_cast<uint32_t>(k >> 24)) + " . " + std::to_string(protocol) + " . " +
                  std::to_string(k & 0xffff));
  }
  return out;
}

// A comment nft takes: no quotes or backslashes, at most 128 bytes.
std::string Comment(std::string text) {
  text.erase(std::remove_if(text.begin(), text.end(), [](char c) { return c == '"' || c == '\\' || c == '\n'; }),
             text.end());
  if (text.size() > 120) text.resize(120);
  return "comment \"" + text + "\"";
}

// One way a condition can hold: a conjunction, and what it asks of the
// packet's protocol (0: nothing; +1: one with ports; -1: one without).
struct Alternative {
  std::string text;
  int ports = 0;
};

// What decides the addresses a rule side matches, written out: equal texts
// select equal addresses in any inventory.
std::string AddressIdentity(const policy::EntityMatch& m) {
  std::ostringstream s;
  for (const IpPrefix& n : m.nets) s << "net " << n.ToString() << "\n";
  for (const IpPrefix& n : m.not_nets) s << "notNet " << n.ToString() << "\n";
  if (m.selector) s << "selector " << m.selector->ToString() << "\n";
  if (m.not_selector) s << "notSelector " << m.not_selector->ToString() << "\n";
  if (m.namespace_selector) s << "namespaceSelector " << m.namespace_selector->ToString() << "\n";
  for (const std::string& a : m.service_account_names) s << "serviceAccount " << a << "\n";
  if (m.service_account_selector) s << "serviceAccountSelector " << m.service_account_selector->ToString() << "\n";
  if (m.SelectsEntities() || m.not_selector) s << "namespace " << m.namespace_ << "\n";
  if (m.pods_only) s << "podsOnly\n";
  return s.str();
}

class Renderer {
 public:
  Renderer(NftNames* names, NftPolicyRules* out) : names_(names), out_(out) {}

  // The program's first tier chain, or "" when it holds no tier (nothing
  // applies: the endpoint is allowed).
  std::string Program(const policy::Program& program) {
    if (program.tiers.empty()) return "";
    const Direction d = program.direction;
    std::string identity = policy::DirectionName(d);
    for (const policy::Policy* p : program.policies) identity += "\n" + p->Key();
    const std::string base = names_->Name(d == Direction::kIngress ? "ing-" : "egr-", identity);
    const auto chain_of = [&](size_t tier) { return base + "-t" + std::to_string(tier); };
    if (out_->chains.count(chain_of(0))) return chain_of(0);
    for (size_t t = 0; t < program.tiers.size(); ++t) {
      const policy::Program::TierRun& tier = program.tiers[t];
      // Where Pass, and a tier that ends in Pass, lead: the next tier, or
      // back out when this was the last (the profile allows).
      const std::string pass = t + 1 < program.tiers.size() ? "goto " + chain_of(t + 1) : "return";
      std::vector<std::string>& rules = out_->chains[chain_of(t)];
      for (size_t i = tier.begin; i < tier.end; ++i) Rule(program.rules[i], d, pass, &rules);
      rules.push_back((tier.default_action == Action::kPass ? pass : std::string("drop")) + " " +
                      Comment("end of tier " + tier.name + ": " + policy::ActionName(tier.default_action)));
    }
    return chain_of(0);
  }

 private:
  void Rule(const CompiledRule& r, Direction d, const std::string& pass, std::vector<std::string>* rules) {
    if (r.never) return;
    // What the protocol is known to be, from the rule alone.
    int known = 0;  // +1 with ports, -1 without, 0 unknown
    std::string head;
    if (r.protocol >= 0) {
      head += " meta l4proto " + std::to_string(r.protocol);
      known = HasPorts(r.protocol) ? 1 : -1;
    }
    if (r.not_protocol >= 0) head += " meta l4proto != " + std::to_string(r.not_protocol);
    if (r.has_icmp) {
      if (r.protocol >= 0 && r.protocol != policy::kIcmp && r.protocol != policy::kIcmpv6) return;
      if (r.protocol < 0) head += std::string(" meta l4proto ") + kIcmpProtocols;
      if (r.icmp_type >= 0) head += " @th,0,8 " + std::to_string(r.icmp_type);
      if (r.icmp_code >= 0) head += " @th,8,8 " + std::to_string(r.icmp_code);
      known = -1;
    }
    const policy::Rule& source = r.policy->rules(d)[static_cast<size_t>(r.index)];
    // Each condition as the ways it can hold; a rule is one nft rule per
    std::vector<std::vector<Alternative>> conditions;
    if (r.has_not_icmp) {
      std::vector<Alternative> alts = {{std::string(" meta l4proto != ") + kIcmpProtocols, 0}};
      if (r.not_icmp_type >= 0) {
        alts.push_back({std::string(" meta l4proto ") + kIcmpProtocols + " @th,0,8 != " +
                            std::to_string(r.not_icmp_type), -1});
      }
      if (r.not_icmp_code >= 0) {
        alts.push_back({std::string(" meta l4proto ") + kIcmpProtocols + " @th,8,8 != " +
                            std::to_string(r.not_icmp_code), -1});
      }
      conditions.push_back(std::move(alts));
    }
    Side(r.source, source.source, "saddr", "sport", known, &conditions);
    Side(r.destination, source.destination, "daddr", "dport", known, &conditions);

    std::string verdict;
    switch (r.action) {
      case Action::kAllow: verdict = "return"; break;
      case Action::kDeny: verdict = "drop"; break;
      case Action::kPass: verdict = pass; break;
      case Action::kLog: verdict = "counter"; break;
    }
    const std::string comment =
        Comment(std::string(policy::ActionName(r.action)) + " " + r.policy->DisplayName() + " " + source.where);
    // Every combination whose demands on the protocol agree.
    std::vector<size_t> pick(conditions.size(), 0);
    for (;;) {
      std::string text = head;
      int ports = known;
      bool possible = true;
      for (size_t c = 0; c < conditions.size(); ++c) {
        const Alternative& a = conditions[c][pick[c]];
        if (a.ports != 0 && ports != 0 && a.ports != ports) possible = false;
        if (a.ports != 0) ports = a.ports;
        text += a.text;
      }
      if (possible) {
        rules->push_back((text.empty() ? "" : text.substr(1) + " ") + verdict + " " + comment);
      }
      size_t c = 0;
      while (c < conditions.size() && ++pick[c] == conditions[c].size()) pick[c++] = 0;
      if (c == conditions.size()) break;
    }
  }

  // The conditions of one side: its addresses, its ports, its notPorts. An
  // empty list of alternatives makes the rule match nothing.
  //
  // Sets are named by what they stand for, not by the rule: every rule with
  // the same peers shares one set (as Felix shares an IP set between the
  // rules of one selector), a pod that comes or goes changes the sets'
  // elements and no rule, and a rule added in front of others renames
  // nothing.
  void Side(const CompiledSide& s, const policy::EntityMatch& m, const char* addr, const char* port, int known,
            std::vector<std::vector<Alternative>>* conditions) {
    if (!s.any_address) {
      const std::string name = names_->Name("a", AddressIdentity(m));
      conditions->push_back({{std::string(" ip ") + addr + " @" +
                                  Set(name, "ipv4_addr", true, Elements(s.addresses, true)),
                              0}});
    }
    // Port guards are left out where the rule's protocol already says it has ports.
    const std::string guard = known == 1 ? "" : std::string(" meta l4proto ") + kPortProtocols;
    if (!s.any_port) {
      std::vector<Alternative> alts;
      if (!s.ports.empty()) {
        alts.push_back({guard + " th " + port + " @" + PortSet(s.ports), 1});
      }
      const std::vector<std::string> named = NamedElements(s.named_ports);
      if (!named.empty()) {
        alts.push_back({std::string(" ip ") + addr + " . meta l4proto . th " + port + " @" +
                            NamedSet(m.ports, named),
                        1});
      }
      conditions->push_back(std::move(alts));
    }
    if (s.has_not_ports) {
      std::vector<Alternative> alts = {{std::string(" meta l4proto != ") + kPortProtocols, -1}};
      std::string text = guard;
      if (!s.not_ports.empty()) {
        text += std::string(" th ") + port + " != @" + PortSet(s.not_ports);
      }
      const std::vector<std::string> named = NamedElements(s.not_named_ports);
      if (!named.empty()) {
        text += std::string(" ip ") + addr + " . meta l4proto . th " + port + " != @" +
                NamedSet(m.not_ports, named);
      }
      alts.push_back({text, 1});
      conditions->push_back(std::move(alts));
    }
  }

  std::string PortSet(const RangeSet& ports) {
    std::vector<std::string> elements = Elements(ports, false);
    std::string identity = "ports";
    for (const std::string& e : elements) identity += " " + e;
    return Set(names_->Name("p", identity), "inet_service", true, std::move(elements));
  }

  // The (address, protocol, port) of every pod's ports of these names.
  std::string NamedSet(const std::vector<policy::PortSpec>& specs, std::vector<std::string> elements) {
    std::set<std::string> port_names;
    for (const policy::PortSpec& p : specs) {
      if (!p.name.empty()) port_names.insert(p.name);
    }
    std::string identity = "named ports";
    for (const std::string& n : port_names) identity += " " + n;
    return Set(names_->Name("n", identity), "ipv4_addr . inet_proto . inet_service", false, std::move(elements));
  }

  std::string Set(const std::string& name, const char* type, bool interval, std::vector<std::string> elements) {
    NftPolicyRules::Set& set = out_->sets[name];
    set.type = type;
    set.interval = interval;
    set.elements = std::move(elements);
    return name;
  }

  NftNames* names_;
  NftPolicyRules* out_;
};

std::string Table(const NftPolicyOptions& o) { return "ip " + o.table; }

// `add element` lines for `elements`, a bounded number a line.
void AddElements(std::ostringstream& s, const char* verb, const std::string& table, const std::string& name,
                 const std::vector<std::string>& elements) {
  constexpr size_t kPerLine = 256;
  for (size_t i = 0; i < elements.size(); i += kPerLine) {
    s << verb << " element " << table << " " << name << " {";
    for (size_t j = i; j < std::min(elements.size(), i + kPerLine); ++j) s << (j > i ? ", " : " ") << elements[j];
    s << " }\n";
  }
}

void DeclareSet(std::ostringstream& s, const std::string& table, const std::string& name,
                const NftPolicyRules::Set& set) {
  s << "add set " << table << " " << name << " { type " << set.type << ";" << (set.interval ? " flags interval;" : "")
    << " }\n";
  AddElements(s, "add", table, name, set.elements);
}

std::vector<std::string> MapElements(const std::map<std::string, std::string>& map) {
  std::vector<std::string> out;
  for (const auto& entry : map) out.push_back(entry.first + " : jump " + entry.second);
  return out;
}

void AddRules(std::ostringstream& s, const std::string& table, const std::string& chain,
              const std::vector<std::string>& rules) {
  for (const std::string& r : rules) s << "add rule " << table << " " << chain << " " << r << "\n";
}

}  // namespace

size_t NftPolicyRules::rule_count() const {
  size_t n = kFixedRules;
  for (const auto& chain : chains) n += chain.second.size();
  return n;
}

size_t NftPolicyRules::element_count() const {
  size_t n = egress.size() + ingress.size();
  for (const auto& set : sets) n += set.second.elements.size();
  return n;
}

std::string NftNames::Name(const std::string& prefix, const std::string& identity) {
  auto it = ids_.find(identity);
  if (it == ids_.end()) it = ids_.emplace(identity, Entry{next_++, true}).first;
  it->second.used = true;
  return prefix + std::to_string(it->second.id);
}

void NftNames::Sweep() {
  for (auto it = ids_.begin(); it != ids_.end();) {
    if (!it->second.used) {
      it = ids_.erase(it);
    } else {
      it->second.used = false;
      ++it;
    }
  }
}

NftPolicyRules RenderPolicyRules(const policy::Classifier& classifier, const policy::Inventory& inventory,
                                 const std::vector<std::string>& local_endpoints, NftNames* names) {
  NftPolicyRules out;
  NftPolicyRules::Set& local = out.sets["local"];
  local.type = "ipv4_addr";
  NftPolicyRules::Set& loopback = out.sets["loopback"];
  loopback.type = "ipv4_addr . ipv4_addr";
  Renderer renderer(names, &out);
  std::set<std::string> local_addresses;
  for (const std::string& key : local_endpoints) {
    const policy::Endpoint* e = inventory.FindEndpoint(key);
    if (!e) continue;
    const std::string egress = renderer.Program(classifier.program(*e, Direction::kEgress));
    const std::string ingress = renderer.Program(classifier.program(*e, Direction::kIngress));
    for (uint32_t ip : e->ips) {
      const std::string a = FormatIpv4(ip);
      local_addresses.insert(a);
      if (!egress.empty()) out.egress[a] = egress;
      if (!ingress.empty()) out.ingress[a] = ingress;
    }
  }
  // (`sets` may have grown since: take the references again.)
  out.sets["local"].elements.assign(local_addresses.begin(), local_addresses.end());
  for (const std::string& a : local_addresses) out.sets["loopback"].elements.push_back(a + " . " + a);
  return out;
}

std::string FullPolicyScript(const NftPolicyRules& rules, const NftPolicyOptions& o) {
  std::ostringstream s;
  const std::string t = Table(o);
  // Made (if missing) and deleted, then made anew: one batch, one swap.
  s << "add table " << t << "\ndelete table " << t << "\nadd table " << t << "\n";
  for (const auto& set : rules.sets) DeclareSet(s, t, set.first, set.second);
  s << "add map " << t << " egress { type ipv4_addr : verdict; }\n";
  s << "add map " << t << " ingress { type ipv4_addr : verdict; }\n";
  for (const auto& chain : rules.chains) s << "add chain " << t << " " << chain.first << "\n";
  for (const auto& chain : rules.chains) AddRules(s, t, chain.first, chain.second);
  s << "add chain " << t << " judge\n";
  AddRules(s, t, "judge",
           {"ct state established,related accept", "ct state invalid drop", "ip saddr . ip daddr @loopback accept",
            "ip saddr vmap @egress", "ip daddr vmap @ingress"});
  for (const char* hook : kHooks) {
    const std::string chain = std::string("filter-") + hook;
    s << "add chain " << t << " " << chain << " { type filter hook " << hook << " priority " << o.priority
      << "; policy accept; }\n";
    // goto: once judged, the hook's policy (accept) ends it.
    AddRules(s, t, chain, {"ip saddr @local goto judge", "ip daddr @local goto judge"});
  }
  AddElements(s, "add", t, "egress", MapElements(rules.egress));
  AddElements(s, "add", t, "ingress", MapElements(rules.ingress));
  return s.str();
}

std::string IncrementalPolicyScript(const NftPolicyRules& from, const NftPolicyRules& to, const NftPolicyOptions& o) {
  std::ostringstream s;
  const std::string t = Table(o);
  // Sets: new ones, then changed ones. Interval sets are flushed and refilled
  // (their ranges merge and split); others change element by element.
  for (const auto& entry : to.sets) {
    const std::string& name = entry.first;
    const NftPolicyRules::Set& set = entry.second;
    auto old = from.sets.find(name);
    if (old == from.sets.end() || old->second.type != set.type || old->second.interval != set.interval) {
      if (old != from.sets.end()) s << "delete set " << t << " " << name << "\n";  // (never: names say the type)
      DeclareSet(s, t, name, set);
      continue;
    }
    if (old->second.elements == set.elements) continue;
    if (set.interval) {
      s << "flush set " << t << " " << name << "\n";
      AddElements(s, "add", t, name, set.elements);
      continue;
    }
    const std::set<std::string> before(old->second.elements.begin(), old->second.elements.end());
    const std::set<std::string> after(set.elements.begin(), set.elements.end());
    std::vector<std::string> gone, come;
    std::set_difference(before.begin(), before.end(), after.begin(), after.end(), std::back_inserter(gone));
    std::set_difference(after.begin(), after.end(), before.begin(), before.end(), std::back_inserter(come));
    AddElements(s, "delete", t, name, gone);
    AddElements(s, "add", t, name, come);
  }
  // Chains: every new one exists before any rule jumps to it.
  for (const auto& chain : to.chains) {
    if (!from.chains.count(chain.first)) s << "add chain " << t << " " << chain.first << "\n";
  }
  for (const auto& chain : to.chains) {
    auto old = from.chains.find(chain.first);
    if (old != from.chains.end()) {
      if (old->second == chain.second) continue;
      s << "flush chain " << t << " " << chain.first << "\n";
    }
    AddRules(s, t, chain.first, chain.second);
  }
  // Map elements: an address whose program changed is deleted and added again.
  for (const auto* maps : {&from.egress, &from.ingress}) {
    const std::map<std::string, std::string>& before = *maps;
    const std::map<std::string, std::string>& after = maps == &from.egress ? to.egress : to.ingress;
    const char* name = maps == &from.egress ? "egress" : "ingress";
    std::vector<std::string> gone, come;
    for (const auto& e : before) {
      auto now = after.find(e.first);
      if (now == after.end() || now->second != e.second) gone.push_back(e.first);
    }
    for (const auto& e : after) {
      auto was = before.find(e.first);
      if (was == before.end() || was->second != e.second) come.push_back(e.first + " : jump " + e.second);
    }
    AddElements(s, "delete", t, name, gone);
    AddElements(s, "add", t, name, come);
  }
  // What is gone: chains emptied first (one may jump to another), then
  // deleted; then the sets only they used.
  std::vector<std::string> gone_chains;
  for (const auto& chain : from.chains) {
    if (!to.chains.count(chain.first)) gone_chains.push_back(chain.first);
  }
  for (const std::string& c : gone_chains) s << "flush chain " << t << " " << c << "\n";
  for (const std::string& c : gone_chains) s << "delete chain " << t << " " << c << "\n";
  for (const auto& set : from.sets) {
    if (!to.sets.count(set.first)) s << "delete set " << t << " " << set.first << "\n";
  }
  return s.str();
}

NftPolicy::NftPolicy(NftPolicyOptions options, std::function<Status(const std::string&)> apply)
    : options_(std::move(options)), apply_(apply ? std::move(apply) : ApplyNft) {}

Status NftPolicy::Update(const policy::Classifier& classifier, const policy::Inventory& inventory,
                         const std::vector<std::string>& local_endpoints) {
  NftPolicyRules next = RenderPolicyRules(classifier, inventory, local_endpoints, &names_);
  Status status;
  if (applied_valid_) {
    last_full_ = false;
    last_script_ = IncrementalPolicyScript(applied_, next, options_);
    status = last_script_.empty() ? Status::Ok() : apply_(last_script_);
  }
  if (!applied_valid_ || status.code() == StatusCode::kInvalidArgument) {
    // First, or the table is not what we left: all of it, in one swap.
    last_full_ = true;
    last_script_ = FullPolicyScript(next, options_);
    status = apply_(last_script_);
  }
  if (!status.ok()) {
    applied_valid_ = false;
    return status.WithContext("nftables table ip " + options_.table);
  }
  applied_ = std::move(next);
  applied_valid_ = true;
  names_.Sweep();
  return Status::Ok();
}

Status NftPolicy::Remove() {
  applied_valid_ = false;
  applied_ = NftPolicyRules();
  const std::string t = Table(options_);
  return apply_("add table " + t + "\ndelete table " + t + "\n");
}

StatusOr<std::string> ListPolicyTable(const NftPolicyOptions& options) {
  std::unique_ptr<nft_ctx, void (*)(nft_ctx*)> ctx(nft_ctx_new(NFT_CTX_DEFAULT), nft_ctx_free);
  if (!ctx) return Unavailable("libnftables: cannot make a context");
  nft_ctx_buffer_output(ctx.get());
  nft_ctx_buffer_error(ctx.get());
  const std::string command = "list table " + Table(options);
  if (nft_run_cmd_from_buffer(ctx.get(), command.c_str()) != 0) {
    const std::string why = nft_ctx_get_error_buffer(ctx.get());
    if (why.find("No such file or directory") != std::string::npos) {
      return NotFound("no nftables table ip " + options.table +
                      " here: the node's agent has not programmed its policy yet, or this is not its network "
                      "namespace");
    }
    if (why.find("Operation not permitted") != std::string::npos) {
      return Unavailable("nftables: " + why + " (listing the policy table needs root)");
    }
    return InvalidArgument("nftables could not list table ip " + options.table + ": " + why);
  }
  return std::string(nft_ctx_get_output_buffer(ctx.get()));
}

}  // namespace edgebed::host
