// ClassBench filter sets: the field's standard 5-tuple rule-set format (Taylor
// and Turner, "ClassBench: a packet classification benchmark"), one filter a
// line:
//
//   @192.128.0.0/10  10.0.0.0/8  0 : 65535  1521 : 1521  0x06/0xFF  0x0000/0x0000
//
// source and destination prefixes, source and destination port ranges, the
// protocol as value/mask (mask 0x00: any), and optional flags, ignored here.
// Filters have no actions in ClassBench; the first matching filter wins.
// Loaded as the ingress rules of one policy, they let the classifier be
// measured on the same rule sets as the packet-classification literature.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/base/status.h"
#include "core/policy/policy_set.h"

namespace edgebed::policy {

// Parses every filter of `text`; `source` names it in errors
// ("acl1.txt:12: ..."). Actions alternate by a hash of the line number so
// that both Allow and Deny rules are exercised, deterministically.
StatusOr<std::vector<Rule>> ParseClassBench(std::string_view text, const std::string& source);

// Writes rules (nets, ports and protocol only) back in ClassBench's format.
std::string FormatClassBench(const std::vector<Rule>& rules);

// A GlobalNetworkPolicy-like policy selecting every endpoint, whose ingress
// rules are `rules`.
Policy ClassBenchPolicy(std::vector<Rule> rules, const std::string& name);

}  // namespace edgebed::policy
