// CronSchedule: the standard five-field cron syntax a CronJob's schedule is
// written in, as upstream's controller parses it.
//
//   CronSchedule s;
//   std::string why;
//   if (!ParseCron("*/15 9-17 * * MON-FRI", &s, &why)) ...;   // why says which field and how to fix it
//   int64_t next = s.Next(UnixSeconds(2026, 3, 2, 9, 7));        // 09:15 that day
//
// Fields: minute (0-59), hour (0-23), day of month (1-31), month (1-12 or
// JAN-DEC), day of week (0-6, Sunday 0, or SUN-SAT); names in any case. Each
// field is a comma-separated list of "*" (or "?"), a value, a range "a-b",
// each optionally stepped ("*/15", "10-40/10", "5/20" meaning 5-max/20).
// Macros: @yearly (@annually), @monthly, @weekly, @daily (@midnight),
// @hourly. When both day fields are restricted a day matching either
// counts; when either is "*" (or "?", or "*/1") both must match — so
// "0 0 13 * FRI" runs on every 13th and every Friday, and "0 0 * * FRI" on
// Fridays only. Times are UTC.
//
// Not modelled: "@every <duration>" and a "TZ=" prefix (upstream refuses the
// latter in a CronJob; its timeZone field says the zone).
#pragma once

#include <cstdint>
#include <string>

namespace edgebed::model {

struct CronSchedule {
  uint64_t minutes = 0;   // bit i: minute i
  uint32_t hours = 0;     // bit i: hour i
  uint32_t days = 0;      // bit i: day of month i (1-31)
  uint32_t months = 0;    // bit i: month i (1-12)
  uint32_t weekdays = 0;  // bit i: weekday i (0 Sunday - 6 Saturday)
  // The day field was written unrestricted ("*", "?", "*/1"): then a day
  // must match both day fields, else either.
  bool any_day = false, any_weekday = false;

  // True if the minute that holds `unix_seconds` matches.
  bool Matches(int64_t unix_seconds) const;
  // The first whole minute after `unix_seconds` that matches; -1 if there is
  // none in the next five years (a date that never comes, like Feb 30).
  int64_t Next(int64_t unix_seconds) const;
};

// Parses `text`; on failure returns false and sets `why` to what is wrong
// and how to write it.
bool ParseCron(const std::string& text, CronSchedule* out, std::string* why);

}  // namespace edgebed::model
