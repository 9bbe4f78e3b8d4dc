// Autopilot: rules that grow a volume, or warn, before it fills up.
//
// Modelled on Portworx Autopilot's AutopilotRule. A rule has a name, a
// selector over volume labels (an empty selector selects every volume),
// conditions that must all hold (AND), one action, and a cooldown: once the
// rule has acted on a volume it leaves that volume alone for the cooldown
// (Portworx's actionsCoolDownPeriod, 5 minutes by default). Conditions:
//   usage percent   used / size * 100 >= threshold
//   time to full    the capacity forecast (core/storage/forecast.h) of the
//                   volume's samples says it fills within a duration
// Actions:
//   Expand  (openstorage.io.action.volume/expand) grows the volume by
//           scale_percentage of its current size, rounded up to whole GiB,
//           never past max_size; a volume already at max_size is not
//           expanded and the result says so (state ActionsDeclined).
//   Warn    only reports.
//
// AutopilotEngine::Evaluate takes the volumes as they are now and returns
// what to do, in a deterministic order (volume name, then rule order), each
// result carrying a Portworx-style state and a message a caller records as
// an event. The engine applies nothing: the caller expands the volume. When
// several rules expand one volume in one pass, each starts from the size the
// one before it chose. Pure: no I/O, no clock (time comes in as `now`).
//
//   AutopilotRule grow;
//   grow.name = "grow-db";
//   grow.selector.match_labels = {{"app", "db"}};
//   grow.conditions = {Condition::UsageAtLeast(80)};
//   grow.action = Action::Expand(50, 20 * kGiB);
//   StatusOr<AutopilotEngine> engine = AutopilotEngine::Create({grow});
//   for (const AutopilotResult& r : *engine->Evaluate(volumes, env.now()))
//     env.RecordEvent(r.EventKind(), r.EventDetail());  // "expanded from 10Gi to 15Gi"
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/base/status.h"
#include "core/env/env.h"
#include "core/model/objects.h"
#include "core/storage/forecast.h"

namespace edgebed::storage {

inline constexpr uint64_t kGiB = uint64_t{1} << 30;

struct Condition {
  enum class Kind { kUsagePercentAtLeast, kTimeToFullAtMost };
  Kind kind = Kind::kUsagePercentAtLeast;
  double usage_percent = 0;  // (0, 100]
  Duration time_to_full{};   // > 0
  bool conservative = false;  // use the forecast's conservative time to full

  static Condition UsageAtLeast(double percent) {
    Condition c;
    c.kind = Kind::kUsagePercentAtLeast;
    c.usage_percent = percent;
    return c;
  }
  static Condition TimeToFullAtMost(Duration d, bool conservative = false) {
    Condition c;
    c.kind = Kind::kTimeToFullAtMost;
    c.time_to_full = d;
    c.conservative = conservative;
    return c;
  }
};

struct Action {
  enum class Kind { kExpand, kWarn };
  Kind kind = Kind::kWarn;
  double scale_percentage = 0;  // Expand: > 0; 100 doubles the size
  uint64_t max_size_bytes = 0;  // Expand: > 0
  uint64_t round_up_bytes = kGiB;  // Expand: the new size is a multiple of this (0: exact)

  static Action Expand(double scale_percentage, uint64_t max_size_bytes) {
    Action a;
    a.kind = Kind::kExpand;
    a.scale_percentage = scale_percentage;
    a.max_size_bytes = max_size_bytes;
    return a;
  }
  static Action Warn() { return Action{}; }
};

struct AutopilotRule {
  std::string name;
  model::LabelSelector selector;
  std::vector<Condition> conditions;  // all must hold; at least one
  Action action;
  Duration cooldown = std::chrono::minutes(5);
};

// A volume as the engine sees it at one evaluation.
struct VolumeStatus {
  std::string name;
  model::Labels labels;
  uint64_t size_bytes = 0;  // > 0
  uint64_t used_bytes = 0;  // <= size_bytes
  std::vector<UsageSample> samples;  // for time-to-full conditions; may be empty
};

// Portworx Autopilot's names for where a rule stands on an object; the ones
// an evaluation can report.
enum class ActionState {
  kTriggered,           // conditions hold; a Warn reports in this state
  kActiveActionsTaken,  // the action was decided: expand now
  kActionsDeclined,     // the action cannot be taken: already at max size
};
const char* ActionStateName(ActionState state);  // "Triggered", ...

struct AutopilotResult {
  std::string rule;
  std::string volume;
  Action::Kind action = Action::Kind::kWarn;
  ActionState state = ActionState::kTriggered;
  uint64_t from_bytes = 0;  // the volume's size before
  uint64_t to_bytes = 0;    // after (== from_bytes unless expanded)
  double usage_percent = 0;
  std::optional<double> time_to_full_s;  // when a condition used the forecast
  // What happened: "expanded from 10Gi to 15Gi", "at max size 20Gi: not
  // expanded", "warning: usage 85% >= 80%".
  std::string message;
  // Why: the conditions that held, e.g. "usage 85% >= 80%; time to full 3.2h <= 24h".
  std::string reason;

  // "storage.autopilot.expanded", ".declined" or ".warning".
  std::string EventKind() const;
  // "rule=... volume=... state=... from=... to=... reason=\"...\"".
  std::string EventDetail() const;
};

class AutopilotEngine {
 public:
  // Checks the rules: unique non-empty names, at least one condition,
  // thresholds in range, an Expand with scale_percentage > 0 and a max size,
  // a cooldown >= 0. Errors name the field ("rules[1].action.max_size_bytes").
  static StatusOr<AutopilotEngine> Create(std::vector<AutopilotRule> rules,
                                          ForecastOptions forecast = {});

  // What to do now. Each (rule, volume) pair whose conditions all hold and
  // whose cooldown has passed yields one result, and its cooldown restarts
  // at `now` (a declined or warning result too, so a volume stuck at its max
  // size is reported once per cooldown, not once per poll). A time-to-full
  // condition on a volume whose forecast fails (too few samples, ...) does
  // not hold; one on a full volume holds with time to full 0. Errors
  // (nothing remembered): duplicate volume names, a zero size, used > size.
  StatusOr<std::vector<AutopilotResult>> Evaluate(const std::vector<VolumeStatus>& volumes,
                                                  Time now);

  const std::vector<AutopilotRule>& rules() const { return rules_; }
  // When the rule last acted on the volume, if it has.
  std::optional<Time> LastAction(const std::string& rule, const std::string& volume) const;

 private:
  AutopilotEngine(std::vector<AutopilotRule> rules, ForecastOptions forecast)
      : rules_(std::move(rules)), forecast_(std::move(forecast)) {}

  std::vector<AutopilotRule> rules_;
  ForecastOptions forecast_;
  std::map<std::pair<std::string, std::string>, Time> last_action_;  // (rule, volume)
};

// The size an Expand action chooses for a volume of `size_bytes`: grown by
// scale_percentage, rounded up to round_up_bytes, capped at max_size_bytes.
// Equal to size_bytes when it is already at or past the max.
uint64_t ExpandedSize(const Action& action, uint64_t size_bytes);

}  // namespace edgebed::storage
