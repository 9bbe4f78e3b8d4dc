// Cron schedules: the parser against a plain reference that matches each
// minute by brute force, over a year of minutes, for many expressions from
// a seeded generator; and the syntax a user writes, with what it says when
// the syntax is wrong.
#include "core/model/cron.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/base/civil_time.h"
#include "core/env/random.h"

namespace edgebed::model {
namespace {

// The reference: each field as the set of values it names, read the
// simplest way, and a minute matches when every field holds its value
// (the day fields ORed when both are restricted).
struct Reference {
  std::vector<bool> fields[5];
  bool star[5] = {};
};

const int kMin[5] = {0, 0, 1, 1, 0}, kMax[5] = {59, 23, 31, 12, 6};

// Writes a random field, and notes what it names in `ref`.
std::string RandomField(Random& r, int f, Reference* ref) {
  static const char* const kMonths[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                        "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
  static const char* const kDays[] = {"sun", "Mon", "TUE", "wed", "Thu", "FRI", "sat"};
  std::vector<bool>& set = ref->fields[f];
  set.assign(static_cast<size_t>(kMax[f]) + 1, false);
  const auto value = [&](int v) -> std::string {
    if (f == 3 && r.Chance(0.3)) return kMonths[v - 1];
    if (f == 4 && r.Chance(0.3)) return kDays[v];
    return std::to_string(v);
  };
  std::string text;
  const int parts = r.Chance(0.7) ? 1 : static_cast<int>(r.UniformInt(2, 3));
  for (int p = 0; p < parts; ++p) {
    if (!text.empty()) text += ",";
    const int kind = static_cast<int>(r.Uniform(5));
    int lo = kMin[f], hi = kMax[f], step = 1;
    if (kind == 0) {
      text += "*";
      ref->star[f] = true;
    } else if (kind == 1) {
      step = static_cast<int>(r.UniformInt(1, 20));
      text += "*/" + std::to_string(step);
      if (step == 1) ref->star[f] = true;
    } else if (kind == 2) {
      lo = hi = static_cast<int>(r.UniformInt(kMin[f], kMax[f]));
      text += value(lo);
    } else {
      lo = static_cast<int>(r.UniformInt(kMin[f], kMax[f]));
      hi = static_cast<int>(r.UniformInt(lo, kMax[f]));
      if (kind == 4) step = static_cast<int>(r.UniformInt(1, 10));
      text += value(lo) + "-" + value(hi) + (kind == 4 ? "/" + std::to_string(step) : "");
    }
    for (int v = lo; v <= hi; v += step) set[static_cast<size_t>(v)] = true;
  }
  return text;
}

bool ReferenceMatches(const Reference& ref, int64_t t) {
  const CivilTime c = ToCivil(t);
  const bool day = ref.fields[2][static_cast<size_t>(c.day)], weekday = ref.fields[4][static_cast<size_t>(c.weekday)];
  const bool day_ok = ref.star[2] || ref.star[4] ? day && weekday : day || weekday;
  return ref.fields[0][static_cast<size_t>(c.minute)] && ref.fields[1][static_cast<size_t>(c.hour)] &&
         ref.fields[3][static_cast<size_t>(c.month)] && day_ok;
}

TEST(Cron, NextAgreesWithAMinuteByMinuteReferenceOverAYear) {
  const uint64_t seed = 20260101;
  Random r(seed);
  const int64_t start = UnixSeconds(2026, 1, 1), end = UnixSeconds(2027, 1, 1);
  for (int i = 0; i < 60; ++i) {
    Reference ref;
    std::string text;
    for (int f = 0; f < 5; ++f) text += (f ? " " : "") + RandomField(r, f, &ref);
    SCOPED_TRACE("seed " + std::to_string(seed) + " expression " + std::to_string(i) + ": \"" + text + "\"");
    CronSchedule s;
    std::string why;
    ASSERT_TRUE(ParseCron(text, &s, &why)) << why;
    // Walk the year: each match the reference finds must be exactly the next Next() gives.
    int64_t expected_next = -2;  // unknown
    int64_t from = start - 1;
    int64_t next = s.Next(from);
    int mismatches = 0;
    for (int64_t t = start; t < end && mismatches < 3; t += 60) {
      const bool match = ReferenceMatches(ref, t);
      EXPECT_EQ(s.Matches(t + 17), match) << "at " << t;
      if (match) {
        if (next != t) {
          ADD_FAILURE() << "Next(" << from << ") = " << next << ", the reference says " << t;
          ++mismatches;
        }
        from = t + static_cast<int64_t>(r.Uniform(60));  // any second within the minute
        next = s.Next(from);
      }
    }
    (void)expected_next;
    if (next >= 0 && next < end) ADD_FAILURE() << "Next gave " << next << " which the reference does not match";
  }
}

int64_t NextOf(const std::string& text, int64_t after) {
  CronSchedule s;
  std::string why;
  EXPECT_TRUE(ParseCron(text, &s, &why)) << text << ": " << why;
  return s.Next(after);
}

TEST(Cron, MacrosNamesAndTheDayRule) {
  const int64_t t = UnixSeconds(2026, 3, 4, 10, 7, 30);  // a Wednesday
  EXPECT_EQ(NextOf("@hourly", t), UnixSeconds(2026, 3, 4, 11, 0));
  EXPECT_EQ(NextOf("@daily", t), UnixSeconds(2026, 3, 5));
  EXPECT_EQ(NextOf("@midnight", t), UnixSeconds(2026, 3, 5));
  EXPECT_EQ(NextOf("@weekly", t), UnixSeconds(2026, 3, 8));  // Sunday
  EXPECT_EQ(NextOf("@monthly", t), UnixSeconds(2026, 4, 1));
  EXPECT_EQ(NextOf("@yearly", t), UnixSeconds(2027, 1, 1));
  EXPECT_EQ(NextOf("@annually", t), UnixSeconds(2027, 1, 1));
  EXPECT_EQ(NextOf("*/15 9-17 * * MON-FRI", t), UnixSeconds(2026, 3, 4, 10, 15));
  EXPECT_EQ(NextOf("0 0 * JUL,dec *", t), UnixSeconds(2026, 7, 1));
  EXPECT_EQ(NextOf("5/20 * * * *", t), UnixSeconds(2026, 3, 4, 10, 25));  // 5-59/20
  // Both day fields restricted: either; one of them "*": both.
  EXPECT_EQ(NextOf("0 0 13 * FRI", t), UnixSeconds(2026, 3, 6));   // Friday the 6th comes before the 13th
  EXPECT_EQ(NextOf("0 0 13 * *", t), UnixSeconds(2026, 3, 13));
  EXPECT_EQ(NextOf("0 0 * * FRI", t), UnixSeconds(2026, 3, 6));
  EXPECT_EQ(NextOf("0 0 29 2 *", t), UnixSeconds(2028, 2, 29));    // the next leap day
  EXPECT_EQ(NextOf("0 0 30 2 *", t), -1);                          // never
  EXPECT_EQ(NextOf("* * * * *", t), UnixSeconds(2026, 3, 4, 10, 8));
  EXPECT_EQ(NextOf("  0   12  *  *  ?  ", t), UnixSeconds(2026, 3, 4, 12, 0));
}

std::string WhyNot(const std::string& text) {
  CronSchedule s;
  std::string why;
  EXPECT_FALSE(ParseCron(text, &s, &why)) << text;
  return why;
}

TEST(Cron, MalformedSchedulesSayWhichFieldAndHowToWriteIt) {
  EXPECT_EQ(WhyNot(""), "the schedule is empty; write five fields (minute hour day-of-month month day-of-week), e.g. \"0 3 * * *\"");
  EXPECT_EQ(WhyNot("0 3 * *"), "expected exactly 5 fields (minute hour day-of-month month day-of-week), found 4 in \"0 3 * *\"");
  EXPECT_EQ(WhyNot("0 24 * * *"), "hour field \"24\": \"24\" is outside 0-23");
  EXPECT_EQ(WhyNot("0 0 0 * *"), "day of month field \"0\": \"0\" is outside 1-31");
  EXPECT_EQ(WhyNot("0 0 * * 7"), "day of week field \"7\": \"7\" is outside 0-6 (write 0 for Sunday)");
  EXPECT_EQ(WhyNot("0 0 * FOO *"), "month field \"FOO\": \"FOO\" is not a number or a name (JAN-DEC)");
  EXPECT_EQ(WhyNot("0 0 * * MON-"), "day of week field \"MON-\": \"\" is not a number or a name (SUN-SAT)");
  EXPECT_EQ(WhyNot("*/0 * * * *"), "minute field \"*/0\": a step of 0 never advances; write a step of 1 or more");
  EXPECT_EQ(WhyNot("30-10 * * * *"), "minute field \"30-10\": \"30-10\" begins after it ends; write the range low-high");
  EXPECT_EQ(WhyNot("1,,2 * * * *"), "minute field \"1,,2\": an empty list item; write a value, a range like 1-5, or *");
  EXPECT_EQ(WhyNot("MON * * * *"), "minute field \"MON\": \"MON\" is not a number");
  EXPECT_EQ(WhyNot("@every 5m"), "@every is not modelled; write the interval as five fields, e.g. \"*/5 * * * *\" for every 5 minutes");
  EXPECT_EQ(WhyNot("@often"), "\"@often\" is not a known macro; use @yearly, @monthly, @weekly, @daily or @hourly");
  EXPECT_EQ(WhyNot("TZ=Europe/Berlin 0 8 * * *"), "cannot use TZ or CRON_TZ in schedule, use the timeZone field instead");
}

}  // namespace
}  // namespace edgebed::model
