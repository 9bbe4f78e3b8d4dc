#include "core/base/hash.h"

// Debian's libxxhash-dev; inlined, so nothing to link.
#define XXH_INLINE_ALL
#include <xxhash.h>

namespace edgebed {

uint64_t Hash64(const void* data, size_t size, uint64_t seed) { return XXH3_64bits_withSeed(data, size, seed); }

std::string Hex(uint64_t v, int digits) {
  static const char* kDigits = "0123456789abcdef";
  std::string out(static_cast<size_t>(digits), '0');
  for (int i = digits - 1; i >= 0; --i, v >>= 4) out[static_cast<size_t>(i)] = kDigits[v & 15];
  return out;
}

}  // namespace edgebed
