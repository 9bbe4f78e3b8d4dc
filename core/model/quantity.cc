#include "core/model/quantity.h"

#include <cctype>
#include <limits>

namespace edgebed::model {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
// Milli-units in 64 bits hold 9.2e15 units: 8 PiB, or 9.2 million million cores.
constexpr const char* kTooLarge = "too large: edgebed holds quantities up to 8Pi";

Status NotAQuantity(std::string_view text, const std::string& why) {
  return InvalidArgument("\"" + std::string(text) + "\" is not a quantity (" + why +
                         "); write e.g. \"250m\", \"1.5\", \"2Gi\", \"500M\"");
}

// False on overflow.
bool MulCheck(int64_t a, int64_t b, int64_t* out) { return !__builtin_mul_overflow(a, b, out); }
bool AddCheck(int64_t a, int64_t b, int64_t* out) { return !__builtin_add_overflow(a, b, out); }

}  // namespace

Quantity Quantity::FromMilli(int64_t milli) {
  Quantity q;
  q.milli_ = milli;
  return q;
}

Quantity Quantity::FromUnits(int64_t units) {
  Quantity q;
  q.milli_ = units * 1000;
  return q;
}

int64_t Quantity::Value() const {
  // Away from zero, as upstream's Value() rounds: "1500m" is 2, "-1500m" is -2.
  return milli_ / 1000 + (milli_ % 1000 > 0) - (milli_ % 1000 < 0);
}

std::string Quantity::ToString() const {
  if (!text_.empty()) return text_;
  if (milli_ % 1000 != 0) return std::to_string(milli_) + "m";
  int64_t units = milli_ / 1000;
  static const char* kBinary[] = {"Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
  int suffix = -1;
  while (units != 0 && units % 1024 == 0 && suffix < 5) {
    units /= 1024;
    ++suffix;
  }
  return std::to_string(units) + (suffix >= 0 ? kBinary[suffix] : "");
}

StatusOr<Quantity> Quantity::Parse(std::string_view text) {
  if (text.empty()) return NotAQuantity(text, "it is empty");
  size_t i = 0;
  bool negative = false;
  if (text[i] == '+' || text[i] == '-') negative = text[i++] == '-';
  // Digits before and after the point, kept exact as an integer and a scale.
  int64_t digits = 0;
  int decimals = 0;
  bool any_digit = false, point = false, truncated = false;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '.' && !point) {
      point = true;
      continue;
    }
    if (!std::isdigit(static_cast<unsigned char>(c))) break;
    any_digit = true;
    if (digits > (kMax - 9) / 10) {
      if (!point) return NotAQuantity(text, kTooLarge);
      truncated |= c != '0';  // more precision than 18 digits: round up later
      continue;
    }
    digits = digits * 10 + (c - '0');
    if (point) ++decimals;
  }
  if (!any_digit) return NotAQuantity(text, "no digits");
  const std::string_view suffix = text.substr(i);

  // The suffix as a power of 10 (decimal) or a multiplier of 1024 (binary).
  int exponent10 = 0;
  int64_t binary = 1;
  if (suffix.empty()) {
  } else if (suffix == "Ki") binary = int64_t{1} << 10;
  else if (suffix == "Mi") binary = int64_t{1} << 20;
  else if (suffix == "Gi") binary = int64_t{1} << 30;
  else if (suffix == "Ti") binary = int64_t{1} << 40;
  else if (suffix == "Pi") binary = int64_t{1} << 50;
  else if (suffix == "Ei") binary = int64_t{1} << 60;
  else if (suffix == "n") exponent10 = -9;
  else if (suffix == "u") exponent10 = -6;
  else if (suffix == "m") exponent10 = -3;
  else if (suffix == "k") exponent10 = 3;
  else if (suffix == "M") exponent10 = 6;
  else if (suffix == "G") exponent10 = 9;
  else if (suffix == "T") exponent10 = 12;
  else if (suffix == "P") exponent10 = 15;
  else if (suffix == "E") exponent10 = 18;
  else if (suffix[0] == 'e' || suffix[0] == 'E') {
    size_t k = 1;
    bool neg_exp = false;
    if (k < suffix.size() && (suffix[k] == '+' || suffix[k] == '-')) neg_exp = suffix[k++] == '-';
    if (k == suffix.size()) return NotAQuantity(text, "an exponent needs digits");
    int e = 0;
    for (; k < suffix.size(); ++k) {
      if (!std::isdigit(static_cast<unsigned char>(suffix[k]))) {
        return NotAQuantity(text, "unknown suffix \"" + std::string(suffix) + "\"");
      }
      e = e * 10 + (suffix[k] - '0');
      if (e > 100) return NotAQuantity(text, "exponent out of range");
    }
    exponent10 = neg_exp ? -e : e;
  } else {
    return NotAQuantity(text, "unknown suffix \"" + std::string(suffix) +
                                  "\"; use Ki Mi Gi Ti Pi Ei, n u m k M G T P E, or e<exponent>");
  }

  // milli = digits * 10^(exponent10 + 3 - decimals) * binary, rounded up.
  int64_t milli = digits;
  if (!MulCheck(milli, binary, &milli)) return NotAQuantity(text, kTooLarge);
  int shift = exponent10 + 3 - decimals;
  bool inexact = truncated;
  for (; shift > 0; --shift) {
    if (!MulCheck(milli, 10, &milli)) return NotAQuantity(text, kTooLarge);
  }
  for (; shift < 0; ++shift) {
    inexact |= milli % 10 != 0;
    milli /= 10;
    if (milli == 0) {
      inexact |= digits != 0;
      break;
    }
  }
  if (inexact && !AddCheck(milli, 1, &milli)) return NotAQuantity(text, kTooLarge);
  Quantity q;
  q.milli_ = negative ? -milli : milli;
  q.text_ = std::string(text);
  return q;
}

}  // namespace edgebed::model
