#include "core/base/units.h"

#include <cmath>
#include <cctype>
#include <cstdlib>
#include <initializer_list>
#include <string>

namespace edgebed {
namespace {

// Splits "12.5ms" into 12.5 and "ms". False if there is no number first.
bool SplitNumber(std::string_view text, double* number, std::string_view* unit) {
  const std::string s(text);
  if (s.empty() || !(std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '.')) return false;
  char* end = nullptr;
  *number = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || !std::isfinite(*number)) return false;
  *unit = text.substr(static_cast<size_t>(end - s.c_str()));
  return true;
}

struct Unit {
  std::string_view name;
  double scale;
};

// A number, then one of `units`: the number times its scale. The errors end
// with `not_a_number` ("is not a duration; write e.g. ...") or `which_units`
// ("use ns, us, ...").
StatusOr<double> ParseScaled(std::string_view text, std::initializer_list<Unit> units,
                             const char* not_a_number, const char* which_units) {
  const std::string shown = "\"" + std::string(text) + "\"";
  double number = 0;
  std::string_view unit;
  if (!SplitNumber(text, &number, &unit)) return InvalidArgument(shown + " " + not_a_number);
  for (const Unit& u : units) {
    if (u.name == unit) return number * u.scale;
  }
  return InvalidArgument(shown + (unit.empty() ? " has no unit; " : " has an unknown unit; ") +
                         which_units);
}

}  // namespace

StatusOr<std::chrono::nanoseconds> ParseDuration(std::string_view text) {
  StatusOr<double> ns = ParseScaled(
      text, {{"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}},
      "is not a duration; write e.g. \"250ms\", \"1.5s\", \"2m\"",
      "use ns, us, ms, s, m or h, e.g. \"250ms\"");
  if (!ns.ok()) return ns.status();
  if (*ns > 9.2e18) {
    return InvalidArgument("\"" + std::string(text) + "\" is too long; the limit is about 292 years");
  }
  return std::chrono::nanoseconds(static_cast<int64_t>(std::llround(*ns)));
}

StatusOr<double> ParseDataRate(std::string_view text) {
  StatusOr<double> bps = ParseScaled(
      text,
      {{"bps", 1}, {"kbps", 1e3}, {"Kbps", 1e3}, {"Mbps", 1e6}, {"Gbps", 1e9}, {"Tbps", 1e12},
       {"Bps", 8}, {"KBps", 8e3}, {"kBps", 8e3}, {"MBps", 8e6}, {"GBps", 8e9}},
      "is not a data rate; write e.g. \"100Mbps\" or \"1Gbps\"",
      "use bps, kbps, Mbps, Gbps, Tbps (bits) or Bps, KBps, MBps, GBps (bytes)");
  if (!bps.ok()) return bps.status();
  if (*bps < 1) return InvalidArgument("\"" + std::string(text) + "\" is below 1 bit per second");
  return *bps;
}

}  // namespace edgebed
