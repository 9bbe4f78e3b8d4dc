// Snapshot schedules with retention, in the manner of Stork's SchedulePolicy
// (stork.libopenstorage.org/v1alpha1) and VolumeSnapshotSchedule.
//
//   SchedulePolicy p;
//   p.interval = IntervalRule{std::chrono::minutes(15), /*retain=*/10};
//   p.daily = CalendarRule{/*minute_of_day=*/22 * 60 + 14, 0, 0, /*retain=*/7};   // 10:14PM
//   SnapshotScheduler s(env, controller);
//   s.Add("floor-1/db", "fifteen-minutes", p);
//
// Each rule of a policy takes a snapshot when it falls due and keeps its
// last `retain` snapshots, deleting older ones of the same rule (never those
// of other rules or taken by hand). Snapshot names say where they come from
// and when: "<policy>-<rule>-<YYYYMMDD-HHMMSS>-<n>". Calendar rules read the
// wall clock as `wall_epoch` plus the Env's time, so a simulated run still
// has days, weeks and months (UTC); defaults as Stork's: retain 10 for an
// interval, 30 daily, 7 weekly, 12 monthly. A monthly date a month lacks
// rolls over into the next month as Stork's (Go's) dates do: the 31st of
// February is the 3rd of March (the 2nd in a leap year).
//
// Runs where the VolumeController runs (it calls it directly); `on_ready`
// hears of each of its snapshots once it is ready, which is where a
// cloudsnap, or a DR round, hooks in. A schedule added again after a
// restart takes back the snapshots its rules took before (by name), so
// retention goes on counting them.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/base/civil_time.h"
#include "core/base/status.h"
#include "core/env/env.h"
#include "core/storage/replication.h"

namespace edgebed::storage {

struct IntervalRule {
  Duration every = std::chrono::hours(1);
  int retain = 10;
};

// Daily: at minute_of_day; weekly: also on weekday (0 Sunday - 6 Saturday);
// monthly: also on day_of_month (1-31; past a month's end it rolls over).
struct CalendarRule {
  int minute_of_day = 0;  // 0-1439
  int weekday = 0;
  int day_of_month = 1;
  int retain = 0;         // 0: the kind's default
};

struct SchedulePolicy {
  std::optional<IntervalRule> interval;
  std::optional<CalendarRule> daily, weekly, monthly;
};

// Checks a policy; errors name the field, e.g. "policy.daily.minute_of_day".
Status ValidateSchedulePolicy(const SchedulePolicy& policy);

// The wall clock's calendar (core/base/civil_time.h), as this engine's callers name it.
using edgebed::CivilTime;
using edgebed::DaysFromCivil;
using edgebed::ToCivil;
using edgebed::UnixSeconds;

class SnapshotScheduler {
 public:
  struct Options {
    int64_t wall_epoch = UnixSeconds(2026, 1, 1);  // the wall clock at the Env's time zero
    Duration tick = std::chrono::seconds(1);
    std::function<void(const std::string& volume, const std::string& policy_name, const SnapshotRecord& snapshot)>
        on_ready;
  };

  SnapshotScheduler(Env& env, VolumeController& controller, Options options);
  ~SnapshotScheduler();
  SnapshotScheduler(const SnapshotScheduler&) = delete;
  SnapshotScheduler& operator=(const SnapshotScheduler&) = delete;

  // Starts a schedule; a second one for the same volume and policy name
  // replaces the first. Snapshots of the volume named as this schedule's
  // rules name theirs count towards each rule's retention, oldest first.
  // Errors: a bad policy, kNotFound (no such volume).
  Status Add(const std::string& volume, const std::string& policy_name, const SchedulePolicy& policy);
  void Remove(const std::string& volume, const std::string& policy_name);

  struct Stats {
    uint64_t taken = 0, deleted = 0, failed = 0;
  };
  const Stats& stats() const { return stats_; }

 private:
  struct Rule {
    std::string name;  // "interval", "daily", ...
    IntervalRule interval;
    CalendarRule calendar;
    int retain = 0;
    int64_t next_due_ns = 0;            // Env time
    std::vector<std::string> taken;     // oldest first
  };
  struct Schedule {
    std::string volume, policy;
    std::vector<Rule> rules;
  };

  void Tick();
  int64_t NextDue(const Rule& rule, int64_t after_ns) const;
  void Fire(Schedule& s, Rule& rule);
  void Trim(Schedule& s, Rule& rule);  // deletes the oldest beyond retain

  Env& env_;
  VolumeController& controller_;
  Options options_;
  std::map<std::pair<std::string, std::string>, Schedule> schedules_;
  std::map<std::pair<std::string, std::string>, bool> announced_;  // (volume, snapshot): told on_ready
  uint64_t count_ = 0;
  TimerId timer_ = kNoTimer;
  Stats stats_;
};

}  // namespace edgebed::storage
