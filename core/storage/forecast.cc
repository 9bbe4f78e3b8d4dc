#include "core/storage/forecast.h"

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <set>
#include <sstream>

namespace edgebed::storage {
namespace {

constexpr double kTwoPi = 6.283185307179586476925286766559;
constexpr int kMaxHarmonics = 8;
constexpr int kGridPerHarmonic = 512;

std::string Num(double v) {
  std::ostringstream out;
  out.precision(10);
  out << v;
  return out.str();
}

// Checks every sample and sorts them by time. `where` prefixes field paths.
Status CheckAndSort(std::vector<UsageSample>& samples, const std::string& where) {
  for (size_t i = 0; i < samples.size(); ++i) {
    const std::string at = where + "samples[" + std::to_string(i) + "]";
    if (!std::isfinite(samples[i].time_s)) {
      return InvalidArgument("time is " + Num(samples[i].time_s) + "; give a finite time in seconds",
                             at + ".time_s");
    }
    if (!std::isfinite(samples[i].used_bytes)) {
      return InvalidArgument("used bytes is " + Num(samples[i].used_bytes) +
                                 "; drop the sample or give a finite value",
                             at + ".used_bytes");
    }
    if (samples[i].used_bytes < 0) {
      return InvalidArgument("used bytes is negative (" + Num(samples[i].used_bytes) + ")",
                             at + ".used_bytes");
    }
  }
  std::vector<size_t> order(samples.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return samples[a].time_s < samples[b].time_s; });
  for (size_t i = 1; i < order.size(); ++i) {
    if (samples[order[i]].time_s == samples[order[i - 1]].time_s) {
      return InvalidArgument("samples[" + std::to_string(order[i - 1]) + "] and samples[" +
                                 std::to_string(order[i]) + "] share the time " +
                                 Num(samples[order[i]].time_s) +
                                 " s; keep one sample per time (e.g. the latest)",
                             where + "samples");
    }
  }
  std::vector<UsageSample> sorted;
  sorted.reserve(samples.size());
  for (size_t i : order) sorted.push_back(samples[i]);
  samples = std::move(sorted);
  return Status::Ok();
}

struct Fit {
  bool full_rank = false;
  int params = 0;
  UsageCurve curve;
  double rss = 0;
  // Var(slope) = sigma^2 * slope_var_per_sigma2.
  double slope_var_per_sigma2 = 0;
};

// Least squares on centred, scaled columns: time as (t - mean) / half-span
// and usage as (y - mean) / spread, so the normal equations never form and
// columns of bytes and seconds (1e12 and 1e9 apart) do not swamp each other.
Fit FitModel(const std::vector<UsageSample>& s, int harmonics, double period_s) {
  const Eigen::Index n = static_cast<Eigen::Index>(s.size());
  const int p = 2 + 2 * harmonics;
  double t_mean = 0, y_mean = 0;
  for (const UsageSample& x : s) {
    t_mean += x.time_s;
    y_mean += x.used_bytes;
  }
  t_mean /= static_cast<double>(n);
  y_mean /= static_cast<double>(n);
  double t_scale = 0, y_scale = 0;
  for (const UsageSample& x : s) {
    t_scale = std::max(t_scale, std::abs(x.time_s - t_mean));
    y_scale = std::max(y_scale, std::abs(x.used_bytes - y_mean));
  }
  if (t_scale == 0) t_scale = 1;
  if (y_scale == 0) y_scale = 1;

  UsageCurve curve;
  curve.model = harmonics > 0 ? ForecastModel::kSeasonal : ForecastModel::kLinear;
  curve.origin_s = t_mean;
  curve.period_s = harmonics > 0 ? period_s : 0;
  curve.sin_bytes.assign(static_cast<size_t>(harmonics), 0.0);
  curve.cos_bytes.assign(static_cast<size_t>(harmonics), 0.0);

  Eigen::MatrixXd a(n, p);
  Eigen::VectorXd b(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    const UsageSample& x = s[static_cast<size_t>(i)];
    a(i, 0) = 1.0;
    a(i, 1) = (x.time_s - t_mean) / t_scale;
    if (harmonics > 0) {
      const double phase = kTwoPi * std::fmod(x.time_s, period_s) / period_s;
      for (int k = 1; k <= harmonics; ++k) {
        a(i, 2 * k) = std::sin(k * phase);
        a(i, 2 * k + 1) = std::cos(k * phase);
      }
    }
    b(i) = (x.used_bytes - y_mean) / y_scale;
  }

  Fit fit;
  fit.params = p;
  Eigen::ColPivHouseholderQR<Eigen::MatrixXd> qr(a);
  if (qr.rank() < p) return fit;
  fit.full_rank = true;
  const Eigen::VectorXd beta = qr.solve(b);
  curve.level_bytes = y_mean + y_scale * beta(0);
  curve.slope_bytes_per_s = y_scale * beta(1) / t_scale;
  for (int k = 1; k <= harmonics; ++k) {
    curve.sin_bytes[static_cast<size_t>(k - 1)] = y_scale * beta(2 * k);
    curve.cos_bytes[static_cast<size_t>(k - 1)] = y_scale * beta(2 * k + 1);
  }
  fit.curve = curve;
  for (const UsageSample& x : s) {
    const double r = x.used_bytes - curve.At(x.time_s);
    fit.rss += r * r;
  }
  // (A^T A)^-1 = P R^-1 R^-T P^T; only the slope's diagonal entry is needed.
  const Eigen::MatrixXd r = qr.matrixR().topLeftCorner(p, p).triangularView<Eigen::Upper>();
  const Eigen::MatrixXd r_inv =
      r.triangularView<Eigen::Upper>().solve(Eigen::MatrixXd::Identity(p, p));
  const Eigen::MatrixXd cov_permuted = r_inv * r_inv.transpose();
  const Eigen::MatrixXd cov =
      qr.colsPermutation() * cov_permuted * qr.colsPermutation().transpose();
  fit.slope_var_per_sigma2 = cov(1, 1) / (t_scale * t_scale);
  return fit;
}

double Bic(const Fit& fit, size_t n, double rss_floor) {
  const double dn = static_cast<double>(n);
  return dn * std::log(std::max(fit.rss, rss_floor) / dn) + fit.params * std::log(dn);
}

Status CheckOptions(const ForecastOptions& o) {
  if (!(o.season_period_s > 0) || !std::isfinite(o.season_period_s)) {
    return InvalidArgument("season period must be a positive number of seconds, got " +
                               Num(o.season_period_s),
                           "options.season_period_s");
  }
  if (o.harmonics < 1 || o.harmonics > kMaxHarmonics) {
    return InvalidArgument("harmonics must be 1.." + std::to_string(kMaxHarmonics) + ", got " +
                               std::to_string(o.harmonics),
                           "options.harmonics");
  }
  if (!(o.min_periods_for_season >= 0) || !std::isfinite(o.min_periods_for_season)) {
    return InvalidArgument("must be a finite number >= 0", "options.min_periods_for_season");
  }
  if (!std::isfinite(o.min_bic_improvement)) {
    return InvalidArgument("must be finite", "options.min_bic_improvement");
  }
  if (!(o.trend_significance_sigmas >= 0) || !std::isfinite(o.trend_significance_sigmas)) {
    return InvalidArgument("must be a finite number >= 0", "options.trend_significance_sigmas");
  }
  if (!(o.sigma_k >= 0) || !std::isfinite(o.sigma_k)) {
    return InvalidArgument("must be a finite number >= 0", "options.sigma_k");
  }
  if (o.now_s && !std::isfinite(*o.now_s)) {
    return InvalidArgument("now must be a finite time", "options.now_s");
  }
  return Status::Ok();
}

}  // namespace

const char* ForecastModelName(ForecastModel model) {
  return model == ForecastModel::kSeasonal ? "seasonal" : "linear";
}

double UsageCurve::Season(double t) const {
  if (sin_bytes.empty() || period_s <= 0) return 0;
  const double phase = kTwoPi * std::fmod(t, period_s) / period_s;
  double sum = 0;
  for (size_t k = 1; k <= sin_bytes.size(); ++k) {
    const double kd = static_cast<double>(k);
    sum += sin_bytes[k - 1] * std::sin(kd * phase) + cos_bytes[k - 1] * std::cos(kd * phase);
  }
  return sum;
}

double UsageCurve::At(double t, bool with_trend) const {
  return level_bytes + (with_trend ? slope_bytes_per_s * (t - origin_s) : 0.0) + Season(t);
}

std::optional<double> FirstCrossing(const UsageCurve& curve, double capacity_bytes, double now_s,
                                    bool with_trend, double offset_bytes) {
  auto value = [&](double t) { return curve.At(t, with_trend) + offset_bytes; };
  if (value(now_s) >= capacity_bytes) return now_s;
  const double slope = with_trend ? curve.slope_bytes_per_s : 0.0;
  if (curve.sin_bytes.empty() || curve.period_s <= 0) {
    if (slope <= 0) return std::nullopt;
    const double t = curve.origin_s + (capacity_bytes - offset_bytes - curve.level_bytes) / slope;
    return std::max(t, now_s);
  }

  // The grid sits on absolute multiples of `step`, the same phases over which
  // the season's maximum is taken, so the window below surely holds a crossing.
  const double period = curve.period_s;
  const int grid = kGridPerHarmonic * static_cast<int>(curve.sin_bytes.size());
  const double step = period / grid;
  double start = now_s;
  if (slope > 0) {
    double season_max = -std::numeric_limits<double>::infinity();
    for (int j = 0; j < grid; ++j) season_max = std::max(season_max, curve.Season(j * step));
    // Before t_max even the season's peak stays under capacity; by
    // t_max + period the curve has passed a peak above it.
    const double t_max =
        curve.origin_s + (capacity_bytes - offset_bytes - curve.level_bytes - season_max) / slope;
    start = std::max(now_s, t_max - period);
    while (start > now_s && value(start) >= capacity_bytes) start = std::max(now_s, start - period);
  }
  // Flat or falling: the highest point ahead lies within one period.
  const int steps = (slope > 0 ? 4 : 1) * grid + 1;
  double lo = start;
  const double first = std::floor(start / step);
  for (int i = 1; i <= steps; ++i) {
    const double t = (first + i) * step;
    if (t <= lo) continue;
    if (value(t) < capacity_bytes) {
      lo = t;
      continue;
    }
    double hi = t;
    for (int iter = 0; iter < 200; ++iter) {  // to the last bit of a double
      const double mid = lo + (hi - lo) / 2;
      if (mid <= lo || mid >= hi) break;
      (value(mid) >= capacity_bytes ? hi : lo) = mid;
    }
    return hi;
  }
  return std::nullopt;
}

StatusOr<CapacityForecast> ForecastCapacity(std::vector<UsageSample> samples,
                                            double capacity_bytes,
                                            const ForecastOptions& options) {
  EDGEBED_RETURN_IF_ERROR(CheckOptions(options));
  if (!(capacity_bytes > 0) || !std::isfinite(capacity_bytes)) {
    return InvalidArgument("capacity must be a positive number of bytes, got " +
                               Num(capacity_bytes),
                           "capacity_bytes");
  }
  EDGEBED_RETURN_IF_ERROR(CheckAndSort(samples, ""));
  if (samples.size() < 2) {
    return InvalidArgument("a forecast needs at least 2 samples at distinct times, got " +
                               std::to_string(samples.size()),
                           "samples");
  }
  const UsageSample& last = samples.back();
  const double now = options.now_s.value_or(last.time_s);
  if (now < last.time_s) {
    return InvalidArgument("now (" + Num(now) + " s) is before the last sample (" +
                               Num(last.time_s) + " s); a forecast looks forward",
                           "options.now_s");
  }
  if (last.used_bytes >= capacity_bytes) {
    return FailedPrecondition("already full: the last sample uses " + Num(last.used_bytes) +
                                  " bytes of a capacity of " + Num(capacity_bytes),
                              "samples");
  }

  const size_t n = samples.size();
  double max_abs = 1;
  for (const UsageSample& x : samples) max_abs = std::max(max_abs, std::abs(x.used_bytes));
  // Below this RSS a fit is exact to rounding; flooring it keeps the BIC of
  // two exact fits finite and lets the parameter penalty decide.
  const double rss_floor = static_cast<double>(n) * (1e-9 * max_abs) * (1e-9 * max_abs);

  CapacityForecast out;
  out.samples = n;
  out.capacity_bytes = capacity_bytes;
  out.now_s = now;

  const Fit linear = FitModel(samples, 0, 0);
  if (!linear.full_rank) return Internal("linear fit is rank deficient despite distinct times");
  out.bic_linear = Bic(linear, n, rss_floor);
  const Fit* chosen = &linear;
  out.model_reason = "linear: seasonal model not considered";

  Fit seasonal;
  if (options.choice != ModelChoice::kLinearOnly) {
    const double span = last.time_s - samples.front().time_s;
    const double periods = span / options.season_period_s;
    const size_t needed = 2 * static_cast<size_t>(2 + 2 * options.harmonics);
    std::string why_not;
    if (n < needed) {
      why_not = std::to_string(n) + " samples, fewer than the " + std::to_string(needed) +
                " the seasonal model needs";
    } else if (periods < options.min_periods_for_season) {
      why_not = "samples span " + Num(periods) + " periods, fewer than " +
                Num(options.min_periods_for_season);
    } else {
      seasonal = FitModel(samples, options.harmonics, options.season_period_s);
      if (!seasonal.full_rank) {
        why_not = "sample times do not resolve the season (rank-deficient fit)";
      } else {
        out.bic_seasonal = Bic(seasonal, n, rss_floor);
        const double gain = out.bic_linear - *out.bic_seasonal;
        if (options.choice == ModelChoice::kSeasonalOnly ||
            gain >= options.min_bic_improvement) {
          chosen = &seasonal;
          out.model_reason = "seasonal: BIC " + Num(gain) + " lower than linear";
        } else {
          why_not = "BIC only " + Num(gain) + " lower, needs " + Num(options.min_bic_improvement);
        }
      }
    }
    if (!why_not.empty()) {
      if (options.choice == ModelChoice::kSeasonalOnly) {
        return FailedPrecondition("cannot fit the seasonal model: " + why_not, "samples");
      }
      out.model_reason = "linear: " + why_not;
    }
  }

  out.curve = chosen->curve;
  const double dof = static_cast<double>(n) - chosen->params;
  out.residual_sigma_bytes = dof > 0 ? std::sqrt(chosen->rss / dof) : 0.0;
  out.slope_stderr_bytes_per_s = out.residual_sigma_bytes * std::sqrt(chosen->slope_var_per_sigma2);
  out.trend_significant = out.curve.slope_bytes_per_s > 0 &&
                          out.curve.slope_bytes_per_s >
                              options.trend_significance_sigmas * out.slope_stderr_bytes_per_s;

  out.full_at_s = FirstCrossing(out.curve, capacity_bytes, now, out.trend_significant);
  if (out.full_at_s) out.time_to_full_s = *out.full_at_s - now;
  out.conservative_full_at_s = FirstCrossing(out.curve, capacity_bytes, now, out.trend_significant,
                                             options.sigma_k * out.residual_sigma_bytes);
  if (out.conservative_full_at_s) out.conservative_time_to_full_s = *out.conservative_full_at_s - now;
  return out;
}

StatusOr<std::map<std::string, std::vector<UsageSample>>> AggregateByPool(
    const std::vector<VolumeSeries>& volumes) {
  std::map<std::string, size_t> seen;
  std::vector<std::vector<UsageSample>> sorted(volumes.size());
  std::map<std::string, std::vector<size_t>> pools;
  for (size_t i = 0; i < volumes.size(); ++i) {
    const std::string at = "volumes[" + std::to_string(i) + "]";
    auto [it, inserted] = seen.emplace(volumes[i].volume, i);
    if (!inserted) {
      return InvalidArgument("volume \"" + volumes[i].volume + "\" is listed twice (first at volumes[" +
                                 std::to_string(it->second) + "])",
                             at + ".volume");
    }
    sorted[i] = volumes[i].samples;
    EDGEBED_RETURN_IF_ERROR(CheckAndSort(sorted[i], at + "."));
    if (sorted[i].empty()) {
      return InvalidArgument("volume \"" + volumes[i].volume + "\" has no samples", at + ".samples");
    }
    pools[volumes[i].pool].push_back(i);
  }

  std::map<std::string, std::vector<UsageSample>> out;
  for (const auto& [pool, members] : pools) {
    size_t latest_start = members.front(), earliest_end = members.front();
    for (size_t i : members) {
      if (sorted[i].front().time_s > sorted[latest_start].front().time_s) latest_start = i;
      if (sorted[i].back().time_s < sorted[earliest_end].back().time_s) earliest_end = i;
    }
    const double lo = sorted[latest_start].front().time_s;
    const double hi = sorted[earliest_end].back().time_s;
    if (lo > hi) {
      return FailedPrecondition("pool \"" + pool + "\": volume \"" +
                                    volumes[latest_start].volume + "\" starts at " + Num(lo) +
                                    " s, after volume \"" + volumes[earliest_end].volume +
                                    "\" ends at " + Num(hi) + " s; their samples share no time",
                                "volumes");
    }
    std::set<double> times;
    for (size_t i : members) {
      for (const UsageSample& x : sorted[i]) {
        if (x.time_s >= lo && x.time_s <= hi) times.insert(x.time_s);
      }
    }
    std::vector<UsageSample>& series = out[pool];
    for (double t : times) {
      double sum = 0;
      for (size_t i : members) {
        const std::vector<UsageSample>& s = sorted[i];
        auto after = std::lower_bound(s.begin(), s.end(), t, [](const UsageSample& x, double v) {
          return x.time_s < v;
        });
        if (after->time_s == t) {
          sum += after->used_bytes;
        } else {
          const UsageSample& before = *(after - 1);  // lo <= t <= hi keeps both in range
          const double w = (t - before.time_s) / (after->time_s - before.time_s);
          sum += before.used_bytes + w * (after->used_bytes - before.used_bytes);
        }
      }
      series.push_back({t, sum});
    }
  }
  return out;
}

}  // namespace edgebed::storage
