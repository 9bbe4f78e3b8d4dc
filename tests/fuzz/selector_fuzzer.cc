// libFuzzer target for the Calico selector parser: any bytes in, a selector
// or an error out, never a crash, a hang or a leak. Whatever parses prints a
// canonical text that parses back to the same selector (same text, keys and
// global()), which selects the same labels. Build and run with ./build.sh fuzz.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/policy/selector.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using edgebed::policy::Selector;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const edgebed::StatusOr<Selector> s = Selector::Parse(text);
  if (!s.ok()) {
    (void)s.status().ToString();
    return 0;
  }
  const edgebed::StatusOr<Selector> again = Selector::Parse(s->ToString());
  if (!again.ok() || again->ToString() != s->ToString() || again->keys() != s->keys() ||
      again->HasGlobal() != s->HasGlobal() || again->IsAll() != s->IsAll()) {
    std::abort();
  }
  // Label sets over the keys the selector reads, with values cut from the
  // input itself, so the string tests and sets can hit as well as miss.
  for (size_t round = 0; round < 4; ++round) {
    edgebed::model::Labels labels;
    for (size_t i = 0; i < s->keys().size(); ++i) {
      const size_t pick = i + round;
      if (pick % 3 == 2) continue;  // some keys absent
      const size_t from = (pick * 7) % (size + 1);
      labels[s->keys()[i]] = std::string(text.substr(from, pick % 5));
    }
    const bool matched = s->Matches(labels);
    if (matched != again->Matches(labels)) std::abort();
    if (s->IsAll() && !matched) std::abort();
  }
  return 0;
}
