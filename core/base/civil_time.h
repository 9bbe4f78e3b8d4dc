// Civil (calendar) time in UTC: a date and time of day from seconds since
// 1970-01-01 and back, for the proleptic Gregorian calendar. Shared by
// everything that reads a wall clock in simulated time: snapshot schedules
// (core/storage/schedule.h) and cron schedules (core/model/cron.h).
#pragma once

#include <cstdint>

namespace edgebed {

// Days since 1970-01-01 of a date (month 1-12, day 1-31; days past a
// month's end roll over into the next month).
int64_t DaysFromCivil(int64_t year, int month, int day);

// Seconds since 1970-01-01 UTC of a civil date and time; and back.
int64_t UnixSeconds(int year, int month, int day, int hour = 0, int minute = 0, int second = 0);
struct CivilTime {
  int year, month, day, hour, minute, second, weekday;  // weekday 0 = Sunday
};
CivilTime ToCivil(int64_t unix_seconds);

}  // namespace edgebed
