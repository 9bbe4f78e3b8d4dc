#include "core/storage/autopilot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <set>

#include "core/model/quantity.h"

namespace edgebed::storage {
namespace {

std::string Size(uint64_t bytes) {
  return model::Quantity::FromUnits(static_cast<int64_t>(bytes)).ToString();
}

std::string Short(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

std::string Seconds(double s) {
  if (s < 120) return Short(s) + "s";
  if (s < 2 * 3600) return Short(s / 60) + "m";
  if (s < 48 * 3600) return Short(s / 3600) + "h";
  return Short(s / 86400) + "d";
}

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

const char* ActionStateName(ActionState state) {
  switch (state) {
    case ActionState::kTriggered: return "Triggered";
    case ActionState::kActiveActionsTaken: return "ActiveActionsTaken";
    case ActionState::kActionsDeclined: return "ActionsDeclined";
  }
  return "?";
}

std::string AutopilotResult::EventKind() const {
  if (action == Action::Kind::kWarn) return "storage.autopilot.warning";
  return state == ActionState::kActiveActionsTaken ? "storage.autopilot.expanded"
                                                   : "storage.autopilot.declined";
}

std::string AutopilotResult::EventDetail() const {
  return "rule=" + rule + " volume=" + volume + " state=" + ActionStateName(state) +
         " from=" + std::to_string(from_bytes) + " to=" + std::to_string(to_bytes) +
         " message=" + Quote(message) + " reason=" + Quote(reason);
}

uint64_t ExpandedSize(const Action& action, uint64_t size_bytes) {
  if (size_bytes >= action.max_size_bytes) return size_bytes;
  const double grown = static_cast<double>(size_bytes) * (1.0 + action.scale_percentage / 100.0);
  if (!(grown < static_cast<double>(action.max_size_bytes))) return action.max_size_bytes;
  uint64_t next = static_cast<uint64_t>(std::ceil(grown));
  if (action.round_up_bytes > 0) {
    next = (next + action.round_up_bytes - 1) / action.round_up_bytes * action.round_up_bytes;
  }
  return std::max(size_bytes, std::min(next, action.max_size_bytes));
}

StatusOr<AutopilotEngine> AutopilotEngine::Create(std::vector<AutopilotRule> rules,
                                                  ForecastOptions forecast) {
  forecast.now_s.reset();  // the engine sets it per evaluation
  // The forecast's own checks, run once on a trivial series.
  StatusOr<CapacityForecast> probe = ForecastCapacity({{0, 0}, {1, 0}}, 1, forecast);
  if (!probe.ok()) return probe.status().WithContext("forecast");

  std::set<std::string> names;
  for (size_t i = 0; i < rules.size(); ++i) {
    const AutopilotRule& r = rules[i];
    const std::string at = "rules[" + std::to_string(i) + "]";
    if (r.name.empty()) return InvalidArgument("a rule needs a name", at + ".name");
    if (!names.insert(r.name).second) {
      return AlreadyExists("rule name \"" + r.name + "\" is used twice; names must be unique",
                           at + ".name");
    }
    for (size_t j = 0; j < r.selector.match_expressions.size(); ++j) {
      const std::string& op = r.selector.match_expressions[j].op;
      if (op != "In" && op != "NotIn" && op != "Exists" && op != "DoesNotExist") {
        return InvalidArgument("operator \"" + op + "\" is not one of In, NotIn, Exists, DoesNotExist",
                               at + ".selector.match_expressions[" + std::to_string(j) + "].op");
      }
    }
    if (r.conditions.empty()) {
      return InvalidArgument("a rule needs at least one condition", at + ".conditions");
    }
    for (size_t j = 0; j < r.conditions.size(); ++j) {
      const Condition& c = r.conditions[j];
      const std::string cat = at + ".conditions[" + std::to_string(j) + "]";
      if (c.kind == Condition::Kind::kUsagePercentAtLeast &&
          !(c.usage_percent > 0 && c.usage_percent <= 100)) {
        return InvalidArgument("usage percent must be in (0, 100], got " + Short(c.usage_percent),
                               cat + ".usage_percent");
      }
      if (c.kind == Condition::Kind::kTimeToFullAtMost && c.time_to_full <= Duration::zero()) {
        return InvalidArgument("time to full must be positive", cat + ".time_to_full");
      }
    }
    if (r.action.kind == Action::Kind::kExpand) {
      if (!(r.action.scale_percentage > 0) || !std::isfinite(r.action.scale_percentage)) {
        return InvalidArgument("scale percentage must be positive, got " +
                                   Short(r.action.scale_percentage),
                               at + ".action.scale_percentage");
      }
      if (r.action.max_size_bytes == 0) {
        return InvalidArgument("an expand action needs a max size", at + ".action.max_size_bytes");
      }
    }
    if (r.cooldown < Duration::zero()) {
      return InvalidArgument("cooldown must not be negative", at + ".cooldown");
    }
  }
  return AutopilotEngine(std::move(rules), std::move(forecast));
}

std::optional<Time> AutopilotEngine::LastAction(const std::string& rule,
                                                const std::string& volume) const {
  auto it = last_action_.find({rule, volume});
  if (it == last_action_.end()) return std::nullopt;
  return it->second;
}

StatusOr<std::vector<AutopilotResult>> AutopilotEngine::Evaluate(
    const std::vector<VolumeStatus>& volumes, Time now) {
  std::map<std::string, size_t> by_name;
  for (size_t i = 0; i < volumes.size(); ++i) {
    const VolumeStatus& v = volumes[i];
    const std::string at = "volumes[" + std::to_string(i) + "]";
    auto [it, inserted] = by_name.emplace(v.name, i);
    if (!inserted) {
      return InvalidArgument("volume \"" + v.name + "\" is listed twice (first at volumes[" +
                                 std::to_string(it->second) + "])",
                             at + ".name");
    }
    if (v.size_bytes == 0) return InvalidArgument("size is 0", at + ".size_bytes");
    if (v.used_bytes > v.size_bytes) {
      return InvalidArgument("used " + Size(v.used_bytes) + " exceeds size " + Size(v.size_bytes),
                             at + ".used_bytes");
    }
  }

  const double now_s = EpochSeconds(now);
  std::vector<AutopilotResult> results;
  for (const auto& [name, index] : by_name) {
    const VolumeStatus& v = volumes[index];
    uint64_t size = v.size_bytes;  // as chosen by the rules before this one
    // Forecasts by capacity: an earlier rule's expansion changes the capacity.
    std::map<uint64_t, StatusOr<CapacityForecast>> forecasts;
    auto forecast_for = [&](uint64_t capacity) -> const StatusOr<CapacityForecast>& {
      auto it = forecasts.find(capacity);
      if (it == forecasts.end()) {
        ForecastOptions options = forecast_;
        double last = now_s;
        for (const UsageSample& s : v.samples) {
          if (std::isfinite(s.time_s)) last = std::max(last, s.time_s);
        }
        options.now_s = last;
        it = forecasts
                 .emplace(capacity,
                          ForecastCapacity(v.samples, static_cast<double>(capacity), options))
                 .first;
      }
      return it->second;
    };

    for (const AutopilotRule& rule : rules_) {
      if (!model::Matches(rule.selector, v.labels)) continue;
      auto last = last_action_.find({rule.name, v.name});
      if (last != last_action_.end() && now < last->second + rule.cooldown) continue;

      const double usage = 100.0 * static_cast<double>(v.used_bytes) / static_cast<double>(size);
      bool holds = true;
      std::optional<double> time_to_full;
      std::string reason;
      for (const Condition& c : rule.conditions) {
        if (c.kind == Condition::Kind::kUsagePercentAtLeast) {
          holds = usage >= c.usage_percent;
          if (holds) reason += "; usage " + Short(usage) + "% >= " + Short(c.usage_percent) + "%";
        } else {
          std::optional<double> ttf;
          if (v.used_bytes >= size) {
            ttf = 0;
          } else {
            const StatusOr<CapacityForecast>& f = forecast_for(size);
            if (f.ok()) {
              ttf = c.conservative ? f->conservative_time_to_full_s : f->time_to_full_s;
            } else if (f.status().code() == StatusCode::kFailedPrecondition) {
              ttf = 0;  // a sample already at capacity
            }
          }
          const double limit = ToSeconds(c.time_to_full);
          holds = ttf.has_value() && *ttf <= limit;
          if (holds) {
            time_to_full = ttf;
            reason += std::string("; ") + (c.conservative ? "conservative " : "") +
                      "time to full " + Seconds(*ttf) + " <= " + Seconds(limit);
          }
        }
        if (!holds) break;
      }
      if (!holds) continue;

      AutopilotResult r;
      r.rule = rule.name;
      r.volume = v.name;
      r.action = rule.action.kind;
      r.from_bytes = size;
      r.to_bytes = size;
      r.usage_percent = usage;
      r.time_to_full_s = time_to_full;
      r.reason = reason.substr(2);
      if (rule.action.kind == Action::Kind::kWarn) {
        r.state = ActionState::kTriggered;
        r.message = "warning: " + r.reason;
      } else {
        const uint64_t next = ExpandedSize(rule.action, size);
        if (next > size) {
          r.state = ActionState::kActiveActionsTaken;
          r.to_bytes = next;
          r.message = "expanded from " + Size(size) + " to " + Size(next);
          size = next;
        } else {
          r.state = ActionState::kActionsDeclined;
          r.message = size >= rule.action.max_size_bytes
                          ? "at max size " + Size(rule.action.max_size_bytes) + ": not expanded"
                          : "growing " + Size(size) + " by " + Short(rule.action.scale_percentage) +
                                "% adds nothing: not expanded";
        }
      }
      last_action_[{rule.name, v.name}] = now;
      results.push_back(std::move(r));
    }
  }
  return results;
}

}  // namespace edgebed::storage
