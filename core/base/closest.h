// ClosestName: the "did you mean ...?" behind every unknown flag, field and
// enum value — the candidate nearest to a misspelt word by edit distance
// (case-insensitive), or "" when none is near enough to be a likely typo.
#pragma once

#include <string>
#include <vector>

namespace edgebed {

std::string ClosestName(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace edgebed
