// Random: a seeded, portable pseudo-random source (xoshiro256**).
//
// The standard library's distributions differ between implementations, so a
// run would not replay byte for byte across compilers; every distribution the
// core needs is written here on top of one 64-bit generator whose output is
// fixed by its seed. Not for cryptography.
#pragma once

#include <chrono>
#include <cstdint>

namespace edgebed {

class Random {
 public:
  explicit Random(uint64_t seed);

  // The next 64 uniformly distributed bits.
  uint64_t Next();
  // Uniform in [0, n). REQUIRES: n > 0. Unbiased (rejection sampling).
  uint64_t Uniform(uint64_t n);
  // Uniform in [lo, hi]. REQUIRES: lo <= hi.
  int64_t UniformInt(int64_t lo, int64_t hi);
  // Uniform in [0, 1), 53 bits of precision.
  double UnitReal();
  // True with probability p (p <= 0: never; p >= 1: always).
  bool Chance(double p);
  // Exponentially distributed with the given mean.
  double Exponential(double mean);
  // Standard normal (mean 0, deviation 1), Box–Muller.
  double Normal();
  // Uniform duration in [lo, hi].
  std::chrono::nanoseconds UniformDuration(std::chrono::nanoseconds lo,
                                           std::chrono::nanoseconds hi);

  // A new independent stream derived from this one's state and `stream`:
  // used to give each node, or each fault injector, its own sequence.
  Random Fork(uint64_t stream);

 private:
  uint64_t s_[4];
};

// splitmix64: turns a seed and a stream number into well-mixed 64-bit values.
uint64_t MixSeed(uint64_t seed, uint64_t stream);

}  // namespace edgebed
