// libFuzzer target for the Calico selector parser: any text in, a selector
// or an error out, never a crash or a hang; and whatever parses prints to a
// text that parses back to the same selector, matching the same labels.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
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
  if (!again.ok() || again->ToString() != s->ToString()) std::abort();
  // The labels the selector names, with values taken from the input.
  edgebed::model::Labels labels;
  for (size_t i = 0; i < s->keys().size(); ++i) {
    if (i % 3 != 2) labels[s->keys()[i]] = std::string(text.substr(0, i % 4));
  }
  if (s->Matches(labels) != again->Matches(labels)) std::abort();
  return 0;
}
