#include "core/policy/classbench.h"

#include <cstdio>
#include <sstream>

namespace edgebed::policy {

namespace {

bool ParseRange(std::istringstream& in, uint16_t* first, uint16_t* last) {
  long lo = -1, hi = -1;
  std::string colon;
  if (!(in >> lo >> colon >> hi) || colon != ":" || lo < 0 || hi > 65535 || lo > hi) return false;
  *first = static_cast<uint16_t>(lo);
  *last = static_cast<uint16_t>(hi);
  return true;
}

bool ParseHex(const std::string& text, unsigned* value, unsigned* mask) {
  unsigned v = 0, m = 0;
  char tail = 0;
  if (std::sscanf(text.c_str(), "0x%x/0x%x%c", &v, &m, &tail) != 2 || v > 0xff || m > 0xff) {
    return false;
  }
  *value = v;
  *mask = m;
  return true;
}

}  // namespace

StatusOr<std::vector<Rule>> ParseClassBench(std::string_view text, const std::string& source) {
  std::vector<Rule> rules;
  std::istringstream lines{std::string(text)};
  std::string line;
  int number = 0;
  while (std::getline(lines, line)) {
    ++number;
    const size_t start = line.find_first_not_of(" \t\r");
    if (start == std::string::npos) continue;
    const std::string where = source + ":" + std::to_string(number);
    if (line[start] != '@') {
      return InvalidArgument("a filter starts with '@' (e.g. \"@10.0.0.0/8 0.0.0.0/0 0 : 65535 "
                             "80 : 80 0x06/0xFF\")",
                             where);
    }
    std::istringstream in(line.substr(start + 1));
    std::string src, dst, protocol;
    Rule rule;
    IpPrefix src_net, dst_net;
    std::string why;
    if (!(in >> src) || !ParseCidr(src, &src_net, &why) || src_net.family != 4) {
      return InvalidArgument("the source must be an IPv4 prefix like 10.0.0.0/8", where);
    }
    if (!(in >> dst) || !ParseCidr(dst, &dst_net, &why) || dst_net.family != 4) {
      return InvalidArgument("the destination must be an IPv4 prefix like 10.0.0.0/8", where);
    }
    PortSpec sport, dport;
    if (!ParseRange(in, &sport.first, &sport.last)) {
      return InvalidArgument("the source ports must be a range \"LOW : HIGH\" within 0..65535", where);
    }
    if (!ParseRange(in, &dport.first, &dport.last)) {
      return InvalidArgument("the destination ports must be a range \"LOW : HIGH\" within 0..65535",
                             where);
    }
    unsigned value = 0, mask = 0;
    if (!(in >> protocol) || !ParseHex(protocol, &value, &mask) || (mask != 0 && mask != 0xff)) {
      return InvalidArgument("the protocol must be VALUE/MASK in hex, mask 0xFF or 0x00 (e.g. 0x06/0xFF)",
                             where);
    }
    if (src_net.prefix > 0) rule.source.nets.push_back(src_net);
    if (dst_net.prefix > 0) rule.destination.nets.push_back(dst_net);
    if (sport.first != 0 || sport.last != 65535) rule.source.ports.push_back(sport);
    if (dport.first != 0 || dport.last != 65535) rule.destination.ports.push_back(dport);
    if (mask == 0xff) rule.protocol = static_cast<uint8_t>(value);
    // Knuth's multiplicative hash of the line: about one rule in three denies.
    rule.action = (static_cast<uint32_t>(number) * 2654435761u) % 3 == 0 ? Action::kDeny
                                                                          : Action::kAllow;
    rule.where = where;
    rules.push_back(std::move(rule));
  }
  return rules;
}

std::string FormatClassBench(const std::vector<Rule>& rules) {
  std::string out;
  const auto net = [](const EntityMatch& m) {
    return m.nets.empty() ? std::string("0.0.0.0/0") : m.nets.front().ToString();
  };
  const auto ports = [](const EntityMatch& m) {
    return m.ports.empty() ? std::string("0 : 65535")
                           : std::to_string(m.ports.front().first) + " : " +
                                 std::to_string(m.ports.front().last);
  };
  for (const Rule& r : rules) {
    char protocol[32];
    std::snprintf(protocol, sizeof protocol, "0x%02X/0x%s", r.protocol ? *r.protocol : 0,
                  r.protocol ? "FF" : "00");
    out += "@" + net(r.source) + "\t" + net(r.destination) + "\t" + ports(r.source) + "\t" +
           ports(r.destination) + "\t" + protocol + "\t0x0000/0x0000\n";
  }
  return out;
}

Policy ClassBenchPolicy(std::vector<Rule> rules, const std::string& name) {
  Policy p;
  p.kind = Policy::Kind::kGlobal;
  p.name = name;
  p.order = 0;
  p.ingress = true;
  p.ingress_rules = std::move(rules);
  return p;
}

}  // namespace edgebed::policy
