// Parsing of the units people write in scenarios and flags: durations
// ("250ms", "1.5s", "2m", "1h") and data rates ("100Mbps", "1Gbps", "12.5MBps").
// Errors say what was wrong and show the accepted forms.
#pragma once

#include <chrono>
#include <string_view>

#include "core/base/status.h"

namespace edgebed {

// Units: ns, us, ms, s, m, h; a bare number is refused (say the unit).
StatusOr<std::chrono::nanoseconds> ParseDuration(std::string_view text);
// Bits per second. Units: bps, kbps (or Kbps), Mbps, Gbps, Tbps; bytes per
// second with B: Bps, KBps, MBps, GBps. Decimal prefixes, as ns-3 uses them.
StatusOr<double> ParseDataRate(std::string_view text);

}  // namespace edgebed
