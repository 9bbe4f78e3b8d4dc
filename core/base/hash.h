// Hash64: a fast, portable, seeded 64-bit hash of bytes (XXH3).
//
// For checksums of stored blocks and digests of simulated runs: the same
// bytes and seed give the same value on every machine and build. Not for
// anything an adversary chooses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace edgebed {

uint64_t Hash64(const void* data, size_t size, uint64_t seed = 0);

// The low `digits` hex digits of `v`, zero-padded ("00ab12..."): how a hash
// becomes part of a name.
std::string Hex(uint64_t v, int digits);

}  // namespace edgebed
