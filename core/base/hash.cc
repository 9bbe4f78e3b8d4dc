#include "core/base/hash.h"

// Debian's libxxhash-dev; inlined, so nothing to link.
#define XXH_INLINE_ALL
#include <xxhash.h>

namespace edgebed {

uint64_t Hash64(const void* data, size_t size, uint64_t seed) { return XXH3_64bits_withSeed(data, size, seed); }

}  // namespace edgebed
