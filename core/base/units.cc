#include "core/base/units.h"

#include <cmath>
#include <cctype>
#include <cstdlib>
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

}  // namespace

StatusOr<std::chrono::nanoseconds> ParseDuration(std::string_view text) {
  const std::string shown = "\"" + std::string(text) + "\"";
  double number = 0;
  std::string_view unit;
  if (!SplitNumber(text, &number, &unit)) {
    return InvalidArgument(shown + " is not a duration; write e.g. \"250ms\", \"1.5s\", \"2m\"");
  }
  double scale = 0;
  if (unit == "ns") scale = 1;
  else if (unit == "us") scale = 1e3;
  else if (unit == "ms") scale = 1e6;
  else if (unit == "s") scale = 1e9;
  else if (unit == "m") scale = 60e9;
  else if (unit == "h") scale = 3600e9;
  if (scale == 0) {
    return InvalidArgument(shown + (unit.empty() ? " has no unit" : " has an unknown unit") +
                           "; use ns, us, ms, s, m or h, e.g. \"250ms\"");
  }
  const double ns = number * scale;
  if (ns > 9.2e18) return InvalidArgument(shown + " is too long; the limit is about 292 years");
  return std::chrono::nanoseconds(static_cast<int64_t>(std::llround(ns)));
}

StatusOr<double> ParseDataRate(std::string_view text) {
  const std::string shown = "\"" + std::string(text) + "\"";
  double number = 0;
  std::string_view unit;
  if (!SplitNumber(text, &number, &unit)) {
    return InvalidArgument(shown + " is not a data rate; write e.g. \"100Mbps\" or \"1Gbps\"");
  }
  double scale = 0;
  if (unit == "bps") scale = 1;
  else if (unit == "kbps" || unit == "Kbps") scale = 1e3;
  else if (unit == "Mbps") scale = 1e6;
  else if (unit == "Gbps") scale = 1e9;
  else if (unit == "Tbps") scale = 1e12;
  else if (unit == "Bps") scale = 8;
  else if (unit == "KBps" || unit == "kBps") scale = 8e3;
  else if (unit == "MBps") scale = 8e6;
  else if (unit == "GBps") scale = 8e9;
  if (scale == 0) {
    return InvalidArgument(shown + (unit.empty() ? " has no unit" : " has an unknown unit") +
                           "; use bps, kbps, Mbps, Gbps, Tbps (bits) or Bps, KBps, MBps, GBps "
                           "(bytes)");
  }
  const double bps = number * scale;
  if (bps < 1) return InvalidArgument(shown + " is below 1 bit per second");
  return bps;
}

}  // namespace edgebed
