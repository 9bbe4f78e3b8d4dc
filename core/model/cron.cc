#include "core/model/cron.h"

#include <algorithm>
#include <cctype>
#include <sstream>
#include <vector>

#include "core/base/civil_time.h"

namespace edgebed::model {
namespace {

constexpr int64_t kMinute = 60, kHour = 3600, kDay = 86400;

struct Field {
  const char* name;
  int min, max;
  const char* const* names;  // names[i] is value min + i; null when the field has none
  int name_count;
};

const char* const kMonthNames[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                   "jul", "aug", "sep", "oct", "nov", "dec"};
const char* const kWeekdayNames[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

const Field kFields[5] = {
    {"minute", 0, 59, nullptr, 0},
    {"hour", 0, 23, nullptr, 0},
    {"day of month", 1, 31, nullptr, 0},
    {"month", 1, 12, kMonthNames, 12},
    {"day of week", 0, 6, kWeekdayNames, 7},
};

std::vector<std::string> Split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::string part;
  std::istringstream in(text);
  while (std::getline(in, part, sep)) out.push_back(part);
  if (!text.empty() && text.back() == sep) out.emplace_back();
  return out;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool ParseNumber(const std::string& text, int* out) {
  if (text.empty() || text.size() > 6 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return false;
  *out = std::stoi(text);
  return true;
}

// A value of the field: a number or, where the field has them, a name.
bool ParseValue(const Field& f, const std::string& text, int* out, std::string* why) {
  if (f.names) {
    const std::string lower = Lower(text);
    for (int i = 0; i < f.name_count; ++i)
      if (lower == f.names[i]) {
        *out = f.min + i;
        return true;
      }
  }
  if (ParseNumber(text, out)) return true;
  *why = "\"" + text + "\" is not a number" +
         (f.names ? std::string(" or a name (") + (f.name_count == 12 ? "JAN-DEC" : "SUN-SAT") + ")" : std::string());
  return false;
}

// One comma-separated part of a field: "*", "?", "a", "a-b", each with an
// optional "/step". Sets the bits it covers; `star` when it is unrestricted.
bool ParsePart(const Field& f, const std::string& part, uint64_t* bits, bool* star, std::string* why) {
  if (part.empty()) {
    *why = "an empty list item; write a value, a range like 1-5, or *";
    return false;
  }
  const std::vector<std::string> range_and_step = Split(part, '/');
  if (range_and_step.size() > 2) {
    *why = "\"" + part + "\" has more than one '/'; write e.g. */15 or 10-40/10";
    return false;
  }
  const std::vector<std::string> low_high = Split(range_and_step[0], '-');
  int start = 0, end = 0, step = 1;
  bool unrestricted = false;
  if (low_high.size() == 1 && (low_high[0] == "*" || low_high[0] == "?")) {
    start = f.min;
    end = f.max;
    unrestricted = true;
  } else {
    if (low_high.size() > 2) {
      *why = "\"" + part + "\" has more than one '-'; a range is written first-last";
      return false;
    }
    if (!ParseValue(f, low_high[0], &start, why)) return false;
    end = start;
    if (low_high.size() == 2 && !ParseValue(f, low_high[1], &end, why)) return false;
  }
  if (range_and_step.size() == 2) {
    if (!ParseNumber(range_and_step[1], &step)) {
      *why = "step \"" + range_and_step[1] + "\" is not a number; write e.g. */15";
      return false;
    }
    // "5/20" is "5-max/20", as cron implementations read it.
    if (low_high.size() == 1 && !unrestricted) end = f.max;
    if (step > 1) unrestricted = false;
  }
  const std::string bounds = std::to_string(f.min) + "-" + std::to_string(f.max);
  if (start < f.min || end > f.max) {
    *why = "\"" + part + "\" is outside " + bounds +
           (f.min == 0 && f.max == 6 && (start == 7 || end == 7) ? " (write 0 for Sunday)" : "");
    return false;
  }
  if (start > end) {
    *why = "\"" + part + "\" begins after it ends; write the range low-high";
    return false;
  }
  if (step == 0) {
    *why = "a step of 0 never advances; write a step of 1 or more";
    return false;
  }
  for (int v = start; v <= end; v += step) *bits |= uint64_t{1} << v;
  *star = *star || unrestricted;
  return true;
}

bool ParseField(const Field& f, const std::string& text, uint64_t* bits, bool* star, std::string* why) {
  *bits = 0;
  *star = false;
  for (const std::string& part : Split(text, ',')) {
    std::string part_why;
    if (!ParsePart(f, part, bits, star, &part_why)) {
      *why = std::string(f.name) + " field \"" + text + "\": " + part_why;
      return false;
    }
  }
  return true;
}

}  // namespace

bool ParseCron(const std::string& text, CronSchedule* out, std::string* why) {
  std::istringstream in(text);
  std::vector<std::string> fields;
  for (std::string f; in >> f;) fields.push_back(f);
  if (fields.empty()) {
    *why = "the schedule is empty; write five fields (minute hour day-of-month month day-of-week), e.g. \"0 3 * * *\"";
    return false;
  }
  if (fields[0].rfind("TZ=", 0) == 0 || fields[0].rfind("CRON_TZ=", 0) == 0) {
    *why = "cannot use TZ or CRON_TZ in schedule, use the timeZone field instead";
    return false;
  }
  if (fields[0][0] == '@') {
    static const std::pair<const char*, const char*> kMacros[] = {
        {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
        {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
        {"@hourly", "0 * * * *"}};
    const std::string macro = Lower(fields[0]);
    if (macro == "@every") {
      *why = "@every is not modelled; write the interval as five fields, e.g. \"*/5 * * * *\" for every 5 minutes";
      return false;
    }
    for (const auto& m : kMacros)
      if (macro == m.first && fields.size() == 1) return ParseCron(m.second, out, why);
    *why = "\"" + text + "\" is not a known macro; use @yearly, @monthly, @weekly, @daily or @hourly";
    return false;
  }
  if (fields.size() != 5) {
    *why = "expected exactly 5 fields (minute hour day-of-month month day-of-week), found " +
           std::to_string(fields.size()) + " in \"" + text + "\"";
    return false;
  }
  CronSchedule s;
  uint64_t bits[5];
  bool stars[5];
  for (int i = 0; i < 5; ++i)
    if (!ParseField(kFields[i], fields[static_cast<size_t>(i)], &bits[i], &stars[i], why)) return false;
  s.minutes = bits[0];
  s.hours = static_cast<uint32_t>(bits[1]);
  s.days = static_cast<uint32_t>(bits[2]);
  s.months = static_cast<uint32_t>(bits[3]);
  s.weekdays = static_cast<uint32_t>(bits[4]);
  s.any_day = stars[2];
  s.any_weekday = stars[4];
  *out = s;
  return true;
}

namespace {

bool DayMatches(const CronSchedule& s, const CivilTime& c) {
  const bool day = (s.days >> c.day) & 1, weekday = (s.weekdays >> c.weekday) & 1;
  return s.any_day || s.any_weekday ? day && weekday : day || weekday;
}

}  // namespace

bool CronSchedule::Matches(int64_t unix_seconds) const {
  const CivilTime c = ToCivil(unix_seconds);
  return ((minutes >> c.minute) & 1) && ((hours >> c.hour) & 1) && ((months >> c.month) & 1) && DayMatches(*this, c);
}

int64_t CronSchedule::Next(int64_t unix_seconds) const {
  // The next whole minute, then skip whole months, days and hours that
  // cannot match before looking at minutes.
  int64_t t = (unix_seconds >= 0 ? unix_seconds / kMinute : (unix_seconds - kMinute + 1) / kMinute) * kMinute + kMinute;
  const int64_t limit = t + 5 * 366 * kDay;
  while (t <= limit) {
    const CivilTime c = ToCivil(t);
    if (!((months >> c.month) & 1)) {
      t = c.month == 12 ? UnixSeconds(c.year + 1, 1, 1) : UnixSeconds(c.year, c.month + 1, 1);
      continue;
    }
    if (!DayMatches(*this, c)) {
      t = (DaysFromCivil(c.year, c.month, c.day) + 1) * kDay;
      continue;
    }
    if (!((hours >> c.hour) & 1)) {
      t = t - c.minute * kMinute + kHour;
      continue;
    }
    if (!((minutes >> c.minute) & 1)) {
      t += kMinute;
      continue;
    }
    return t;
  }
  return -1;
}

}  // namespace edgebed::model
