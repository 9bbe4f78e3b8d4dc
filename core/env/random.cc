#include "core/env/random.h"

#include <cmath>

namespace edgebed {
namespace {

uint64_t SplitMix(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

uint64_t MixSeed(uint64_t seed, uint64_t stream) {
  uint64_t x = seed ^ (stream * 0xd1342543de82ef95ULL);
  SplitMix(x);
  return SplitMix(x);
}

Random::Random(uint64_t seed) {
  uint64_t x = seed;
  for (auto& s : s_) s = SplitMix(x);
}

uint64_t Random::Next() {
  const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = Rotl(s_[3], 45);
  return result;
}

uint64_t Random::Uniform(uint64_t n) {
  if (n <= 1) return 0;
  // Reject the low 2^64 mod n values so that every residue is equally likely.
  const uint64_t threshold = (0 - n) % n;
  uint64_t r;
  do {
    r = Next();
  } while (r < threshold);
  return r % n;
}

int64_t Random::UniformInt(int64_t lo, int64_t hi) {
  const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);
  if (span == UINT64_MAX) return static_cast<int64_t>(Next());
  return static_cast<int64_t>(static_cast<uint64_t>(lo) + Uniform(span + 1));
}

double Random::UnitReal() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

bool Random::Chance(double p) {
  if (p <= 0) return false;
  if (p >= 1) return true;
  return UnitReal() < p;
}

double Random::Exponential(double mean) { return -mean * std::log1p(-UnitReal()); }

double Random::Normal() {
  double u1 = UnitReal();
  while (u1 <= 0) u1 = UnitReal();
  const double u2 = UnitReal();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

std::chrono::nanoseconds Random::UniformDuration(std::chrono::nanoseconds lo,
                                                 std::chrono::nanoseconds hi) {
  return std::chrono::nanoseconds(UniformInt(lo.count(), hi.count()));
}

Random Random::Fork(uint64_t stream) { return Random(MixSeed(Next(), stream)); }

}  // namespace edgebed
