// Autopilot rules, as a specification: a rule acts only when every condition
// holds on a selected volume, grows it in capped steps, then says it is at
// its max size, and leaves it alone for the cooldown after each result.
#include "core/storage/autopilot.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace edgebed::storage {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

Time At(Duration d) { return Time(d); }

// A volume of `size_gi` GiB, `used_percent` full, growing `gi_per_hour` GiB
// an hour over the last ten hours (sampled every 10 minutes, up to `now`).
VolumeStatus Volume(std::string name, model::Labels labels, double size_gi, double used_percent,
                    double gi_per_hour = 0, Time now = At(hours(10))) {
  VolumeStatus v;
  v.name = std::move(name);
  v.labels = std::move(labels);
  v.size_bytes = static_cast<uint64_t>(size_gi * kGiB);
  v.used_bytes = static_cast<uint64_t>(used_percent / 100 * static_cast<double>(v.size_bytes));
  const double end = EpochSeconds(now);
  for (int i = 60; i >= 0; --i) {
    const double t = end - i * 600.0;
    v.samples.push_back({t, static_cast<double>(v.used_bytes) - gi_per_hour * kGiB * i / 6.0});
  }
  return v;
}

AutopilotRule GrowDb(std::vector<Condition> conditions, Action action = Action::Expand(50, 20 * kGiB),
                     Duration cooldown = Duration::zero()) {
  AutopilotRule r;
  r.name = "grow-db";
  r.selector.match_labels = {{"app", "db"}};
  r.conditions = std::move(conditions);
  r.action = action;
  r.cooldown = cooldown;
  return r;
}

AutopilotEngine MakeEngine(std::vector<AutopilotRule> rules) {
  StatusOr<AutopilotEngine> e = AutopilotEngine::Create(std::move(rules));
  EXPECT_TRUE(e.ok()) << e.status().ToString();
  return std::move(e).value();
}

std::vector<AutopilotResult> RunRules(AutopilotEngine& e, const std::vector<VolumeStatus>& v,
                                 Time now = At(hours(10))) {
  StatusOr<std::vector<AutopilotResult>> r = e.Evaluate(v, now);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : std::vector<AutopilotResult>{};
}

TEST(ExpandedSize, ScalesRoundsUpToWholeGiBAndCaps) {
  const Action half = Action::Expand(50, 20 * kGiB);
  EXPECT_EQ(ExpandedSize(half, 10 * kGiB), 15 * kGiB);
  EXPECT_EQ(ExpandedSize(half, 15 * kGiB), 20 * kGiB);  // 22.5 GiB capped
  EXPECT_EQ(ExpandedSize(half, 20 * kGiB), 20 * kGiB);  // at max: unchanged
  EXPECT_EQ(ExpandedSize(half, 25 * kGiB), 25 * kGiB);  // past max: never shrinks
  EXPECT_EQ(ExpandedSize(Action::Expand(33, 100 * kGiB), 10 * kGiB), 14 * kGiB);  // 13.3 -> 14
  EXPECT_EQ(ExpandedSize(Action::Expand(100, 100 * kGiB), kGiB / 2), kGiB);  // 1 GiB
  Action exact = Action::Expand(10, 100 * kGiB);
  exact.round_up_bytes = 0;
  EXPECT_EQ(ExpandedSize(exact, 1000), 1100u);
}

TEST(Autopilot, FiresOnlyWhenEveryConditionHolds) {
  // Usage >= 80% AND full within 24 hours, on app=db volumes.
  AutopilotEngine e =
      MakeEngine({GrowDb({Condition::UsageAtLeast(80), Condition::TimeToFullAtMost(hours(24))})});
  const std::vector<VolumeStatus> volumes = {
      Volume("both", {{"app", "db"}}, 10, 85, 0.5),        // 1.5 GiB left at 0.5/h: 3 h
      Volume("full-but-flat", {{"app", "db"}}, 10, 85, 0),  // never fills
      Volume("growing-but-empty", {{"app", "db"}}, 10, 50, 1),  // 5 h to full, usage 50%
      Volume("slow", {{"app", "db"}}, 10, 85, 0.05),       // 30 h to full
      Volume("not-selected", {{"app", "web"}}, 10, 95, 1),
  };
  const std::vector<AutopilotResult> r = RunRules(e, volumes);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].rule, "grow-db");
  EXPECT_EQ(r[0].volume, "both");
  EXPECT_EQ(r[0].state, ActionState::kActiveActionsTaken);
  EXPECT_EQ(r[0].from_bytes, 10 * kGiB);
  EXPECT_EQ(r[0].to_bytes, 15 * kGiB);
  EXPECT_EQ(r[0].message, "expanded from 10Gi to 15Gi");
  EXPECT_NEAR(r[0].usage_percent, 85, 1e-6);
  ASSERT_TRUE(r[0].time_to_full_s.has_value());
  EXPECT_NEAR(*r[0].time_to_full_s, 3 * 3600, 1);
  EXPECT_EQ(r[0].reason, "usage 85% >= 80%; time to full 3h <= 24h");
}

TEST(Autopilot, ExpandsInCappedStepsThenReportsMaxSize) {
  AutopilotEngine e = MakeEngine({GrowDb({Condition::UsageAtLeast(80)})});
  VolumeStatus v = Volume("db-0", {{"app", "db"}}, 10, 90);
  std::vector<std::string> messages;
  for (int step = 0; step < 4; ++step) {
    const std::vector<AutopilotResult> r = RunRules(e, {v}, At(hours(10) + minutes(step)));
    ASSERT_EQ(r.size(), 1u);
    messages.push_back(r[0].message);
    // The caller applies the expansion; the data fill it up again.
    v.size_bytes = r[0].to_bytes;
    v.used_bytes = v.size_bytes * 9 / 10;
    if (step >= 2) {
      EXPECT_EQ(r[0].state, ActionState::kActionsDeclined);
      EXPECT_EQ(r[0].EventKind(), "storage.autopilot.declined");
    }
  }
  EXPECT_EQ(messages, (std::vector<std::string>{"expanded from 10Gi to 15Gi",
                                                 "expanded from 15Gi to 20Gi",
                                                 "at max size 20Gi: not expanded",
                                                 "at max size 20Gi: not expanded"}));
}

TEST(Autopilot, RespectsTheCooldownAfterEachResult) {
  AutopilotEngine e =
      MakeEngine({GrowDb({Condition::UsageAtLeast(80)}, Action::Expand(50, 100 * kGiB), minutes(10))});
  const VolumeStatus v = Volume("db-0", {{"app", "db"}}, 10, 90);  // stays 90% full
  const Time t0 = At(hours(10));
  ASSERT_EQ(RunRules(e, {v}, t0).size(), 1u);
  EXPECT_EQ(e.LastAction("grow-db", "db-0"), t0);
  EXPECT_TRUE(RunRules(e, {v}, t0 + minutes(5)).empty());
  EXPECT_TRUE(RunRules(e, {v}, t0 + minutes(10) - seconds(1)).empty());
  EXPECT_EQ(RunRules(e, {v}, t0 + minutes(10)).size(), 1u);
  EXPECT_EQ(e.LastAction("grow-db", "db-0"), t0 + minutes(10));
  // The cooldown is per volume: another volume is not held back.
  EXPECT_EQ(RunRules(e, {v, Volume("db-1", {{"app", "db"}}, 10, 90)}, t0 + minutes(11)).size(), 1u);
  EXPECT_FALSE(e.LastAction("grow-db", "nope").has_value());
}

TEST(Autopilot, DefaultCooldownIsFiveMinutes) {
  AutopilotRule r;
  EXPECT_EQ(r.cooldown, minutes(5));
}

TEST(Autopilot, WarnReportsTriggered) {
  AutopilotRule warn;
  warn.name = "warn-full-soon";
  warn.conditions = {Condition::TimeToFullAtMost(hours(6), /*conservative=*/true)};
  warn.action = Action::Warn();
  AutopilotEngine e = MakeEngine({warn});
  const std::vector<AutopilotResult> r = RunRules(e, {Volume("v", {}, 20, 85, 1)});  // 3 GiB left at 1 GiB/h: 3 h
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].state, ActionState::kTriggered);
  EXPECT_EQ(r[0].action, Action::Kind::kWarn);
  EXPECT_EQ(r[0].to_bytes, r[0].from_bytes);
  EXPECT_EQ(r[0].message, "warning: conservative time to full 3h <= 6h");
  EXPECT_EQ(r[0].EventKind(), "storage.autopilot.warning");
  EXPECT_EQ(r[0].EventDetail(),
            "rule=warn-full-soon volume=v state=Triggered from=21474836480 to=21474836480 "
            "message=\"warning: conservative time to full 3h <= 6h\" "
            "reason=\"conservative time to full 3h <= 6h\"");
}

TEST(Autopilot, OrderIsByVolumeThenRuleAndExpansionsCompose) {
  AutopilotRule first = GrowDb({Condition::UsageAtLeast(50)}, Action::Expand(100, 100 * kGiB));
  first.name = "z-first";
  AutopilotRule second = GrowDb({Condition::UsageAtLeast(10)}, Action::Expand(50, 100 * kGiB));
  second.name = "a-second";
  AutopilotRule warn;
  warn.name = "warn";
  warn.conditions = {Condition::UsageAtLeast(60)};
  AutopilotEngine e = MakeEngine({first, second, warn});
  const std::vector<AutopilotResult> r =
      RunRules(e, {Volume("c", {{"app", "db"}}, 10, 80), Volume("a", {{"app", "db"}}, 10, 80),
              Volume("b", {}, 10, 40)});
  std::vector<std::string> got;
  for (const AutopilotResult& x : r) got.push_back(x.volume + " " + x.rule + " " + x.message);
  // Rule order decides within a volume; each rule sees the size the one before
  // chose, so "warn" sees volume a at 8 of 30 GiB (27%) and stays quiet.
  EXPECT_EQ(got, (std::vector<std::string>{"a z-first expanded from 10Gi to 20Gi",
                                            "a a-second expanded from 20Gi to 30Gi",
                                            "c z-first expanded from 10Gi to 20Gi",
                                            "c a-second expanded from 20Gi to 30Gi"}));
}

TEST(Autopilot, ForecastConditionsOnVolumesWithoutAForecast) {
  AutopilotRule r = GrowDb({Condition::TimeToFullAtMost(hours(1))});
  r.selector = {};
  AutopilotEngine e = MakeEngine({r});
  VolumeStatus no_samples = Volume("no-samples", {}, 10, 99, 1);
  no_samples.samples.clear();
  VolumeStatus full = Volume("full", {}, 10, 100);
  full.samples.clear();
  const std::vector<AutopilotResult> got = RunRules(e, {no_samples, full});
  // No samples: no forecast, the condition does not hold. Full: it holds now.
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].volume, "full");
  EXPECT_EQ(got[0].time_to_full_s, 0.0);
}

TEST(Autopilot, BadRulesAreRefusedWithTheField) {
  auto where = [](std::vector<AutopilotRule> rules) {
    return AutopilotEngine::Create(std::move(rules)).status().where();
  };
  AutopilotRule ok = GrowDb({Condition::UsageAtLeast(80)});
  AutopilotRule r = ok;
  r.name = "";
  EXPECT_EQ(where({r}), "rules[0].name");
  EXPECT_EQ(AutopilotEngine::Create({ok, ok}).status().code(), StatusCode::kAlreadyExists);
  r = ok;
  r.conditions.clear();
  EXPECT_EQ(where({r}), "rules[0].conditions");
  r = ok;
  r.conditions = {Condition::UsageAtLeast(80), Condition::UsageAtLeast(120)};
  EXPECT_EQ(where({r}), "rules[0].conditions[1].usage_percent");
  r = ok;
  r.conditions = {Condition::TimeToFullAtMost(Duration::zero())};
  EXPECT_EQ(where({r}), "rules[0].conditions[0].time_to_full");
  r = ok;
  r.action = Action::Expand(0, 20 * kGiB);
  EXPECT_EQ(where({r}), "rules[0].action.scale_percentage");
  r = ok;
  r.action = Action::Expand(50, 0);
  EXPECT_EQ(where({r}), "rules[0].action.max_size_bytes");
  r = ok;
  r.selector.match_expressions = {{"app", "Equals", {"db"}}};
  EXPECT_EQ(where({r}), "rules[0].selector.match_expressions[0].op");
  r = ok;
  r.cooldown = -seconds(1);
  EXPECT_EQ(where({r}), "rules[0].cooldown");
  ForecastOptions bad;
  bad.harmonics = 99;
  EXPECT_EQ(AutopilotEngine::Create({ok}, bad).status().where(), "forecast.options.harmonics");
}

TEST(Autopilot, BadVolumesAreRefusedAndNothingIsRemembered) {
  AutopilotEngine e = MakeEngine({GrowDb({Condition::UsageAtLeast(80)})});
  const VolumeStatus v = Volume("db-0", {{"app", "db"}}, 10, 90);
  VolumeStatus zero = v;
  zero.name = "zero";
  zero.size_bytes = 0;
  zero.used_bytes = 0;
  EXPECT_EQ(e.Evaluate({v, zero}, At(hours(10))).status().where(), "volumes[1].size_bytes");
  VolumeStatus over = v;
  over.name = "over";
  over.used_bytes = over.size_bytes + 1;
  EXPECT_EQ(e.Evaluate({over}, At(hours(10))).status().where(), "volumes[0].used_bytes");
  EXPECT_EQ(e.Evaluate({v, v}, At(hours(10))).status().where(), "volumes[1].name");
  EXPECT_FALSE(e.LastAction("grow-db", "db-0").has_value());
}

}  // namespace
}  // namespace edgebed::storage
