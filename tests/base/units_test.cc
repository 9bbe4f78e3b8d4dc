#include "core/base/units.h"

#include <gtest/gtest.h>

namespace edgebed {
namespace {

using std::chrono::nanoseconds;

TEST(ParseDuration, AcceptsEveryUnit) {
  EXPECT_EQ(*ParseDuration("250ms"), nanoseconds(250'000'000));
  EXPECT_EQ(*ParseDuration("1.5s"), nanoseconds(1'500'000'000));
  EXPECT_EQ(*ParseDuration("2m"), nanoseconds(120'000'000'000));
  EXPECT_EQ(*ParseDuration("1h"), nanoseconds(3'600'000'000'000));
  EXPECT_EQ(*ParseDuration("10us"), nanoseconds(10'000));
  EXPECT_EQ(*ParseDuration("7ns"), nanoseconds(7));
  EXPECT_EQ(*ParseDuration("0s"), nanoseconds(0));
}

TEST(ParseDuration, RefusesWithTheFix) {
  EXPECT_EQ(ParseDuration("10").status().ToString(),
            "\"10\" has no unit; use ns, us, ms, s, m or h, e.g. \"250ms\"");
  EXPECT_EQ(ParseDuration("10 sec").status().ToString(),
            "\"10 sec\" has an unknown unit; use ns, us, ms, s, m or h, e.g. \"250ms\"");
  EXPECT_EQ(ParseDuration("-1s").status().ToString(),
            "\"-1s\" is not a duration; write e.g. \"250ms\", \"1.5s\", \"2m\"");
  EXPECT_FALSE(ParseDuration("").ok());
  EXPECT_FALSE(ParseDuration("1e300h").ok());
}

TEST(ParseDataRate, BitsAndBytes) {
  EXPECT_DOUBLE_EQ(*ParseDataRate("100Mbps"), 100e6);
  EXPECT_DOUBLE_EQ(*ParseDataRate("1Gbps"), 1e9);
  EXPECT_DOUBLE_EQ(*ParseDataRate("64kbps"), 64e3);
  EXPECT_DOUBLE_EQ(*ParseDataRate("12.5MBps"), 100e6);
  EXPECT_FALSE(ParseDataRate("fast").ok());
  EXPECT_FALSE(ParseDataRate("0bps").ok());
  EXPECT_EQ(ParseDataRate("1Gb").status().ToString(),
            "\"1Gb\" has an unknown unit; use bps, kbps, Mbps, Gbps, Tbps (bits) or Bps, KBps, "
            "MBps, GBps (bytes)");
}

}  // namespace
}  // namespace edgebed
