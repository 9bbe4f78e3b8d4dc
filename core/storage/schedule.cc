#include "core/storage/schedule.h"

#include <algorithm>
#include <cstdio>

namespace edgebed::storage {

namespace {

constexpr int64_t kDay = 86400;
constexpr int64_t kNanos = 1'000'000'000;

bool ValidName(const std::string& name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
  });
}

Status CheckCalendar(const CalendarRule& r, const std::string& where) {
  if (r.minute_of_day < 0 || r.minute_of_day >= 24 * 60) {
    return InvalidArgument("must be 0-1439 (minutes after midnight)", where + ".minute_of_day");
  }
  if (r.weekday < 0 || r.weekday > 6) return InvalidArgument("must be 0 (Sunday) to 6 (Saturday)", where + ".weekday");
  if (r.day_of_month < 1 || r.day_of_month > 31) return InvalidArgument("must be 1-31", where + ".day_of_month");
  if (r.retain < 0) return InvalidArgument("must not be negative", where + ".retain");
  return Status::Ok();
}

}  // namespace

Status ValidateSchedulePolicy(const SchedulePolicy& p) {
  if (!p.interval && !p.daily && !p.weekly && !p.monthly) {
    return InvalidArgument("needs at least one of interval, daily, weekly, monthly", "policy");
  }
  if (p.interval) {
    if (p.interval->every < std::chrono::seconds(1)) {
      return InvalidArgument("must be at least a second", "policy.interval.every");
    }
    if (p.interval->retain < 0) return InvalidArgument("must not be negative", "policy.interval.retain");
  }
  if (p.daily) {
    if (Status s = CheckCalendar(*p.daily, "policy.daily"); !s.ok()) return s;
  }
  if (p.weekly) {
    if (Status s = CheckCalendar(*p.weekly, "policy.weekly"); !s.ok()) return s;
  }
  if (p.monthly) {
    if (Status s = CheckCalendar(*p.monthly, "policy.monthly"); !s.ok()) return s;
  }
  return Status::Ok();
}

SnapshotScheduler::SnapshotScheduler(Env& env, VolumeController& controller, Options options)
    : env_(env), controller_(controller), options_(std::move(options)) {
  timer_ = env_.Schedule(options_.tick, [this] { Tick(); });
}

SnapshotScheduler::~SnapshotScheduler() { env_.Cancel(timer_); }

Status SnapshotScheduler::Add(const std::string& volume, const std::string& policy_name, const SchedulePolicy& policy) {
  if (!ValidName(policy_name)) {
    return InvalidArgument("needs 1-64 of A-Z, a-z, 0-9, '.', '_', '-' (it prefixes snapshot names)", "policy name");
  }
  if (Status s = ValidateSchedulePolicy(policy); !s.ok()) return s;
  if (!controller_.Find(volume)) return NotFound("no volume " + volume);
  Schedule s{volume, policy_name, {}};
  const int64_t now = ToNanos(env_.now());
  const auto add = [&](const char* name, int retain, const IntervalRule* interval, const CalendarRule* calendar,
                       int default_retain) {
    Rule r;
    r.name = name;
    if (interval) r.interval = *interval;
    if (calendar) r.calendar = *calendar;
    r.retain = retain > 0 ? retain : default_retain;
    r.next_due_ns = NextDue(r, now);
    s.rules.push_back(std::move(r));
  };
  if (policy.interval) add("interval", policy.interval->retain, &*policy.interval, nullptr, 10);
  if (policy.daily) add("daily", policy.daily->retain, nullptr, &*policy.daily, 30);
  if (policy.weekly) add("weekly", policy.weekly->retain, nullptr, &*policy.weekly, 7);
  if (policy.monthly) add("monthly", policy.monthly->retain, nullptr, &*policy.monthly, 12);
  // What the rules took before (a restart, a changed policy): theirs to keep
  // or delete, already announced.
  std::vector<const SnapshotRecord*> earlier;
  for (const SnapshotRecord& snap : controller_.Find(volume)->snapshots) earlier.push_back(&snap);
  std::stable_sort(earlier.begin(), earlier.end(), [](const SnapshotRecord* a, const SnapshotRecord* b) {
    return a->requested_ns < b->requested_ns;
  });
  for (Rule& rule : s.rules) {
    const std::string prefix = policy_name + "-" + rule.name + "-";
    for (const SnapshotRecord* snap : earlier) {
      if (snap->name.compare(0, prefix.size(), prefix) != 0) continue;
      rule.taken.push_back(snap->name);
      announced_[{volume, snap->name}] = true;
    }
  }
  auto& slot = schedules_[{volume, policy_name}];
  slot = std::move(s);
  for (Rule& rule : slot.rules) Trim(slot, rule);
  return Status::Ok();
}

void SnapshotScheduler::Remove(const std::string& volume, const std::string& policy_name) {
  schedules_.erase({volume, policy_name});
}

int64_t SnapshotScheduler::NextDue(const Rule& r, int64_t after_ns) const {
  if (r.name == "interval") return after_ns + r.interval.every.count();
  // The wall clock, in whole seconds; the next matching instant after it.
  const int64_t wall = options_.wall_epoch + after_ns / kNanos;
  const CivilTime c = ToCivil(wall);
  const int64_t at_minute = r.calendar.minute_of_day * 60;
  int64_t due = 0;
  if (r.name == "daily") {
    due = DaysFromCivil(c.year, c.month, c.day) * kDay + at_minute;
    if (due <= wall) due += kDay;
  } else if (r.name == "weekly") {
    due = (DaysFromCivil(c.year, c.month, c.day) + (r.calendar.weekday - c.weekday + 7) % 7) * kDay + at_minute;
    if (due <= wall) due += 7 * kDay;
  } else {
    // The date in each month from the one before this (whose 31st may have
    // rolled over into this one) on; the first still to come.
    int y = c.year, m = c.month - 1;
    if (m == 0) {
      m = 12;
      --y;
    }
    for (int i = 0; i < 4; ++i) {
      due = (DaysFromCivil(y, m, 1) + r.calendar.day_of_month - 1) * kDay + at_minute;
      if (due > wall) break;
      if (++m == 13) {
        m = 1;
        ++y;
      }
    }
  }
  return (due - options_.wall_epoch) * kNanos;
}

void SnapshotScheduler::Fire(Schedule& s, Rule& rule) {
  const CivilTime c = ToCivil(options_.wall_epoch + ToNanos(env_.now()) / kNanos);
  char when[32];
  std::snprintf(when, sizeof when, "%04d%02d%02d-%02d%02d%02d", c.year, c.month, c.day, c.hour, c.minute, c.second);
  const std::string name = s.policy + "-" + rule.name + "-" + when + "-" + std::to_string(++count_);
  if (Status st = controller_.CreateSnapshot(s.volume, name); !st.ok()) {
    ++stats_.failed;
    env_.RecordEvent("storage.schedule.failed", "volume=" + s.volume + " snapshot=" + name + " reason=\"" +
                                                    st.ToString() + "\"");
    return;
  }
  ++stats_.taken;
  rule.taken.push_back(name);
  Trim(s, rule);
}

void SnapshotScheduler::Trim(Schedule& s, Rule& rule) {
  while (static_cast<int>(rule.taken.size()) > rule.retain) {
    const Status st = controller_.DeleteSnapshot(s.volume, rule.taken.front());
    if (!st.ok() && st.code() != StatusCode::kNotFound) break;  // in use (a clone seeding): next time
    if (st.ok()) ++stats_.deleted;
    announced_.erase({s.volume, rule.taken.front()});
    rule.taken.erase(rule.taken.begin());
  }
}

void SnapshotScheduler::Tick() {
  const int64_t now = ToNanos(env_.now());
  for (auto& [key, s] : schedules_) {
    for (Rule& rule : s.rules) {
      if (now < rule.next_due_ns) continue;
      Fire(s, rule);
      rule.next_due_ns = NextDue(rule, now);
    }
    if (!options_.on_ready) continue;
    const VolumeRecord* rec = controller_.Find(s.volume);
    if (!rec) continue;
    for (const Rule& rule : s.rules) {
      for (const std::string& name : rule.taken) {
        const SnapshotRecord* snap = rec->FindSnapshot(name);
        if (!snap || !snap->ready || !announced_.emplace(std::make_pair(s.volume, name), true).second) continue;
        options_.on_ready(s.volume, s.policy, *snap);
      }
    }
  }
  timer_ = env_.Schedule(options_.tick, [this] { Tick(); });
}

}  // namespace edgebed::storage
