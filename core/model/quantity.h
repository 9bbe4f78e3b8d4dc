// Quantity: a Kubernetes resource quantity ("250m", "1.5", "2Gi", "500M", "1e3").
//
// Stored as an exact count of milli-units in 64 bits, which holds every cpu
// request and every memory or storage size up to 8 EiB / 1000 (9 PB) that an
// edge node will see. As upstream's MilliValue(), a quantity finer than a
// milli-unit rounds up ("100n" cpu is 1m); Value() rounds up to whole units
// ("1500m" is 2). Rounding is away from zero for negative quantities, as
// upstream's. The text the user wrote is kept for printing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/base/status.h"

namespace edgebed::model {

class Quantity {
 public:
  Quantity() = default;
  static Quantity FromMilli(int64_t milli);
  // REQUIRES: |units| * 1000 fits in int64 (9.2e15 units).
  static Quantity FromUnits(int64_t units);

  // Accepts upstream's grammar: a signed decimal number, then an optional
  // suffix — binary (Ki Mi Gi Ti Pi Ei), decimal (n u m k M G T P E) or a
  // decimal exponent (e3, E-2).
  static StatusOr<Quantity> Parse(std::string_view text);

  int64_t MilliValue() const { return milli_; }
  int64_t Value() const;  // rounded up (away from zero) to a whole unit
  bool IsZero() const { return milli_ == 0; }
  // The text it was parsed from, or a canonical form ("250m", "2Gi", "3").
  std::string ToString() const;

  friend bool operator==(const Quantity& a, const Quantity& b) { return a.milli_ == b.milli_; }
  friend bool operator!=(const Quantity& a, const Quantity& b) { return a.milli_ != b.milli_; }
  friend bool operator<(const Quantity& a, const Quantity& b) { return a.milli_ < b.milli_; }

 private:
  int64_t milli_ = 0;
  std::string text_;
};

}  // namespace edgebed::model
