#include "core/model/quantity.h"

#include <gtest/gtest.h>

#include "core/env/random.h"

namespace edgebed::model {
namespace {

int64_t Milli(const char* text) {
  auto q = Quantity::Parse(text);
  EXPECT_TRUE(q.ok()) << text << ": " << q.status().ToString();
  return q.ok() ? q->MilliValue() : -1;
}

TEST(Quantity, ParsesAsKubernetesWritesThem) {
  EXPECT_EQ(Milli("250m"), 250);
  EXPECT_EQ(Milli("1.5"), 1500);
  EXPECT_EQ(Milli("2"), 2000);
  EXPECT_EQ(Milli("2Gi"), 2LL * 1024 * 1024 * 1024 * 1000);
  EXPECT_EQ(Milli("500M"), 500'000'000'000LL);
  EXPECT_EQ(Milli("100Ki"), 102'400'000LL);
  EXPECT_EQ(Milli("1e3"), 1'000'000);
  EXPECT_EQ(Milli("1E-3"), 1);
  EXPECT_EQ(Milli("0.5Gi"), 512LL * 1024 * 1024 * 1000);
  EXPECT_EQ(Milli("1k"), 1'000'000);
  EXPECT_EQ(Milli("+3"), 3000);
  EXPECT_EQ(Milli(".5"), 500);
  EXPECT_EQ(Milli("0"), 0);
}

TEST(Quantity, RoundsUpBelowAMilliLikeUpstream) {
  EXPECT_EQ(Milli("100n"), 1);
  EXPECT_EQ(Milli("1u"), 1);
  EXPECT_EQ(Milli("1001u"), 2);
  EXPECT_EQ(Milli("0.0001"), 1);
  EXPECT_EQ(Quantity::Parse("1500m")->Value(), 2);
  EXPECT_EQ(Quantity::Parse("2")->Value(), 2);
}

TEST(Quantity, RefusesWithTheReason) {
  EXPECT_EQ(Quantity::Parse("12x").status().message(),
            "\"12x\" is not a quantity (unknown suffix \"x\"; use Ki Mi Gi Ti Pi Ei, n u m k M G T "
            "P E, or e<exponent>); write e.g. \"250m\", \"1.5\", \"2Gi\", \"500M\"");
  for (const char* bad : {"", "Gi", "1 Gi", "1GiB", "1e", "--1", "1.2.3", "99999999999999999999",
                          "9Ei", "1e400", "0x10"}) {
    EXPECT_FALSE(Quantity::Parse(bad).ok()) << bad;
  }
}

TEST(Quantity, CanonicalFormsForComputedValues) {
  EXPECT_EQ(Quantity::FromMilli(250).ToString(), "250m");
  EXPECT_EQ(Quantity::FromUnits(3).ToString(), "3");
  EXPECT_EQ(Quantity::FromUnits(2LL << 30).ToString(), "2Gi");
  EXPECT_EQ(Quantity::Parse("1.5Gi")->ToString(), "1.5Gi");  // the user's own text
}

// Property: every value written in any suffix parses back to itself.
TEST(Quantity, FormatThenParseRoundTripsOverManySeeds) {
  Random r(1);
  struct Suffix {
    const char* text;
    int64_t milli_per_unit;
  };
  const Suffix suffixes[] = {{"m", 1},          {"", 1000},          {"k", 1'000'000},
                             {"M", 1'000'000'000}, {"Ki", 1024'000}, {"Mi", 1024LL * 1024'000},
                             {"Gi", 1024LL * 1024 * 1024'000}};
  for (int i = 0; i < 20000; ++i) {
    const Suffix& s = suffixes[r.Uniform(std::size(suffixes))];
    const int64_t n = static_cast<int64_t>(r.Uniform(1'000'000));
    const std::string text = std::to_string(n) + s.text;
    auto q = Quantity::Parse(text);
    ASSERT_TRUE(q.ok()) << text;
    ASSERT_EQ(q->MilliValue(), n * s.milli_per_unit) << text;
    ASSERT_EQ(Quantity::Parse(Quantity::FromMilli(q->MilliValue()).ToString())->MilliValue(),
              q->MilliValue());
  }
}

}  // namespace
}  // namespace edgebed::model
