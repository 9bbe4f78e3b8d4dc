// Capacity forecast: when will a volume, or a node's storage pool, be full?
//
// From usage samples (time, used bytes) and a capacity, ForecastCapacity fits
// the usage by least squares (Eigen, column-pivoting QR on centred and scaled
// columns) with two models:
//   linear    used(t) = level + slope * (t - origin)
//   seasonal  the same plus sum over k = 1..H of
//             sin_k * sin(2 pi k t / period) + cos_k * cos(2 pi k t / period)
// and keeps the seasonal one only when the data supports it: enough samples,
// spanning at least `min_periods_for_season` periods, a full-rank fit, and a
// BIC lower than the linear model's by `min_bic_improvement`. It then reports
// the first time at or after `now` where the fitted curve (trend and season
// together, so not just the linear root) reaches the capacity, or "never" when
// the trend is flat, falling or not significantly above zero and the season
// does not reach it either; and a conservative time, where the curve plus
// `sigma_k` residual standard deviations reaches it.
//
// Promises: pure and deterministic (no I/O, no clock, no randomness); unsorted
// samples are sorted; every refusal is a Status naming the sample or field:
// fewer than 2 samples, two samples at one time, NaN or infinite values,
// negative usage, a non-positive capacity (kInvalidArgument), and a last
// sample already at or over capacity (kFailedPrecondition: it is full now).
//
// Times are seconds as double, on any epoch the caller keeps consistent; in
// the core that is the Env's epoch, EpochSeconds(env.now()).
//
//   std::vector<UsageSample> samples = {{0, 10e9}, {3600, 11e9}, {7200, 12e9}};
//   StatusOr<CapacityForecast> f = ForecastCapacity(samples, 20e9);
//   if (!f.ok()) return f.status();
//   if (f->time_to_full_s) Warn(*f->time_to_full_s);  // 28800 s from the last sample
//
// For a node pool, AggregateByPool sums its volumes' series onto common times
// and the pool's series goes through ForecastCapacity with the pool capacity.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/env/env.h"

namespace edgebed::storage {

// Seconds since the Env's epoch: the time base of UsageSample.
inline double EpochSeconds(Time t) { return ToSeconds(t.time_since_epoch()); }

struct UsageSample {
  double time_s = 0;      // seconds on the caller's epoch
  double used_bytes = 0;  // >= 0
};

enum class ForecastModel { kLinear, kSeasonal };
const char* ForecastModelName(ForecastModel model);  // "linear", "seasonal"

// Which models ForecastCapacity may choose from.
enum class ModelChoice {
  kAuto,          // seasonal when the data supports it, else linear
  kLinearOnly,    // never seasonal
  kSeasonalOnly,  // seasonal, or an error when it cannot be fitted
};

struct ForecastOptions {
  ModelChoice choice = ModelChoice::kAuto;
  double season_period_s = 86400;  // one day
  int harmonics = 1;               // 1..8 sin/cos pairs at period, period/2, ...
  // The seasonal model needs samples spanning this many periods ...
  double min_periods_for_season = 2.0;
  // ... and must lower the BIC by at least this much (10: "very strong").
  double min_bic_improvement = 10.0;
  // A slope counts as growth only when it exceeds this many standard errors;
  // below that the trend is taken as flat (noise around a level never fills).
  double trend_significance_sigmas = 3.0;
  // The conservative time-to-full uses the curve plus this many residual sigmas.
  double sigma_k = 2.0;
  // Where "now" is; the last sample's time when unset. REQUIRES: >= it.
  std::optional<double> now_s;
};

// A fitted curve, in the caller's units (bytes, seconds).
struct UsageCurve {
  ForecastModel model = ForecastModel::kLinear;
  double origin_s = 0;      // the time `level` refers to (the samples' mean time)
  double level_bytes = 0;   // trend value at origin_s
  double slope_bytes_per_s = 0;
  double period_s = 0;      // 0 for the linear model
  std::vector<double> sin_bytes, cos_bytes;  // per harmonic k = 1..H

  // The curve's value at `t`; with `with_trend` false the slope is ignored.
  double At(double t, bool with_trend = true) const;
  // The seasonal part alone (0 for the linear model).
  double Season(double t) const;
};

struct CapacityForecast {
  UsageCurve curve;  // the chosen model
  size_t samples = 0;
  double capacity_bytes = 0;
  double now_s = 0;
  double residual_sigma_bytes = 0;  // sqrt(RSS / (n - parameters)); 0 if n == parameters
  double slope_stderr_bytes_per_s = 0;
  bool trend_significant = false;  // slope > trend_significance_sigmas * stderr
  double bic_linear = 0;
  std::optional<double> bic_seasonal;  // set when a seasonal fit was made
  std::string model_reason;            // why this model was chosen, for a person

  // First time >= now_s the curve reaches capacity_bytes; nullopt: never.
  std::optional<double> full_at_s;
  std::optional<double> time_to_full_s;  // full_at_s - now_s
  // The same for curve + sigma_k * residual_sigma_bytes (never later).
  std::optional<double> conservative_full_at_s;
  std::optional<double> conservative_time_to_full_s;
};

// Fits, chooses a model and forecasts the time to full. See the file comment.
StatusOr<CapacityForecast> ForecastCapacity(std::vector<UsageSample> samples,
                                            double capacity_bytes,
                                            const ForecastOptions& options = {});

// The first time in [now, ...) at which `curve` (+ `offset_bytes`) reaches
// `capacity_bytes`, ignoring the slope unless `with_trend`; nullopt: never.
// Exact for the linear model; for the seasonal one, found on a grid of
// period / (512 H) and refined by bisection, so a crossing narrower than a
// grid step may be found one period late.
std::optional<double> FirstCrossing(const UsageCurve& curve, double capacity_bytes, double now_s,
                                    bool with_trend = true, double offset_bytes = 0);

// One volume's usage series, tagged with the pool (node pool) it lives in.
struct VolumeSeries {
  std::string volume;
  std::string pool;
  std::vector<UsageSample> samples;
};

// Sums each pool's volumes onto common times: every sample time of any of its
// volumes inside the window all of them cover, each volume linearly
// interpolated there. Pools come out in name order. Errors: a volume with no
// samples or bad ones (as ForecastCapacity), a volume listed twice, or a pool
// whose volumes share no time (kFailedPrecondition, naming both).
StatusOr<std::map<std::string, std::vector<UsageSample>>> AggregateByPool(
    const std::vector<VolumeSeries>& volumes);

}  // namespace edgebed::storage
