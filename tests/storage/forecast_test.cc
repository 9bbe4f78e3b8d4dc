// The capacity forecast, as a specification: exact answers on exact data,
// the seasonal model only where a season is, "never" for noise, and a clear
// error for every kind of bad input.
#include "core/storage/forecast.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "core/env/random.h"

namespace edgebed::storage {
namespace {

constexpr double kDay = 86400;
constexpr double kHour = 3600;
constexpr double kGi = 1024.0 * 1024 * 1024;
constexpr double kTwoPi = 6.283185307179586;

std::vector<UsageSample> Linear(double t0, double step, int n, double level, double slope) {
  std::vector<UsageSample> s;
  for (int i = 0; i < n; ++i) {
    const double t = t0 + i * step;
    s.push_back({t, level + slope * (t - t0)});
  }
  return s;
}

// Brute-force first time >= from at which f reaches cap, to `resolution` s.
template <typename F>
double BruteForceCrossing(F f, double cap, double from, double to, double resolution) {
  for (double t = from; t <= to; t += resolution) {
    if (f(t) >= cap) return t;
  }
  return -1;
}

TEST(Forecast, NoiselessLinearGivesTheExactTimeToFull) {
  // 5 GB growing 20 kB/s, hourly for five days; 20 GB is reached 750000 s
  // after the first sample, i.e. 750000 - 119 h after the last one.
  const std::vector<UsageSample> s = Linear(1000, kHour, 120, 5e9, 2e4);
  StatusOr<CapacityForecast> f = ForecastCapacity(s, 20e9);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->curve.model, ForecastModel::kLinear);
  EXPECT_EQ(f->samples, 120u);
  EXPECT_NEAR(f->curve.slope_bytes_per_s, 2e4, 1e-9 * 2e4);
  EXPECT_NEAR(f->curve.At(1000), 5e9, 1e-3);
  EXPECT_LT(f->residual_sigma_bytes, 1e-3);
  EXPECT_TRUE(f->trend_significant);
  EXPECT_DOUBLE_EQ(f->now_s, 1000 + 119 * kHour);
  ASSERT_TRUE(f->full_at_s.has_value());
  EXPECT_NEAR(*f->full_at_s, 751000, 1e-6);
  ASSERT_TRUE(f->time_to_full_s.has_value());
  EXPECT_NEAR(*f->time_to_full_s, 750000 - 119 * kHour, 1e-6);
  // No spread: the conservative estimate is the same.
  ASSERT_TRUE(f->conservative_time_to_full_s.has_value());
  EXPECT_NEAR(*f->conservative_time_to_full_s, *f->time_to_full_s, 1e-3);
  // Five days of data allow a seasonal fit, but it buys nothing here.
  ASSERT_TRUE(f->bic_seasonal.has_value());
  EXPECT_GT(*f->bic_seasonal, f->bic_linear);
}

TEST(Forecast, NowLaterThanTheLastSampleCountsFromNow) {
  ForecastOptions o;
  o.now_s = 100;
  StatusOr<CapacityForecast> f = ForecastCapacity({{0, 0}, {10, 10}}, 1000, o);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_NEAR(*f->full_at_s, 1000, 1e-9);
  EXPECT_NEAR(*f->time_to_full_s, 900, 1e-9);
}

// Property: for any noiseless linear series, growing, in any order, at any
// scale, the time to full is the linear root. Times, levels and slopes are
// chosen so every sample is exact in a double: the only error left is the
// solver's.
TEST(Forecast, PropertyNoiselessLinearSeriesAreForecastExactly) {
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Random r(seed);
    const double t0 = static_cast<double>(r.Uniform(1000000000));
    const double step = static_cast<double>(1 + r.Uniform(3600));
    const int n = 2 + static_cast<int>(r.Uniform(400));
    const double level = static_cast<double>(r.Uniform(1000000000000));
    const double slope = static_cast<double>(1 + r.Uniform(1 << 20)) / 1024;  // 1 mB/s .. 1 kB/s
    std::vector<UsageSample> s = Linear(t0, step, n, level, slope);
    for (size_t i = s.size(); i > 1; --i) std::swap(s[i - 1], s[r.Uniform(i)]);  // shuffle
    const double last_used = level + slope * (n - 1) * step;
    const double capacity = last_used + (1 + r.UnitReal() * 1e6) * slope * step;
    const double truth = t0 + (capacity - level) / slope;

    StatusOr<CapacityForecast> f = ForecastCapacity(s, capacity);
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    EXPECT_EQ(f->curve.model, ForecastModel::kLinear);
    ASSERT_TRUE(f->full_at_s.has_value());
    const double ttf = truth - (t0 + (n - 1) * step);
    EXPECT_NEAR(*f->full_at_s, truth, 1e-9 * ttf + 1e-6);
    EXPECT_NEAR(*f->time_to_full_s, ttf, 1e-9 * ttf + 1e-6);

    // The same series falling never fills.
    for (UsageSample& x : s) x.used_bytes = 2 * level + 2 * last_used - x.used_bytes;
    StatusOr<CapacityForecast> down = ForecastCapacity(s, 4 * level + 4 * last_used + 1);
    ASSERT_TRUE(down.ok()) << down.status().ToString();
    EXPECT_FALSE(down->full_at_s.has_value());
    EXPECT_FALSE(down->conservative_full_at_s.has_value());
  }
}

// 14 days every 10 minutes of 50 GiB growing 1 GiB a day with a daily swing
// of +-2 GiB and 20 MiB of noise. The capacity is met on a daily peak about
// two days before the trend alone would meet it.
struct SeasonalCase {
  double level = 50 * kGi, slope = kGi / kDay, amplitude = 2 * kGi, phase = 1.0;
  double Truth(double t) const {
    return level + slope * t + amplitude * std::sin(kTwoPi * t / kDay + phase);
  }
  std::vector<UsageSample> Samples(uint64_t seed, double noise) const {
    Random r(seed);
    std::vector<UsageSample> s;
    for (double t = 0; t < 14 * kDay; t += 600) s.push_back({t, Truth(t) + noise * r.Normal()});
    return s;
  }
};

TEST(Forecast, SeasonalDataChoosesTheSeasonalModelAndFindsThePeakCrossing) {
  const SeasonalCase c;
  const double capacity = 75 * kGi;
  const std::vector<UsageSample> s = c.Samples(7, 20.0 * 1024 * 1024);
  const double now = s.back().time_s;
  const double truth = BruteForceCrossing([&](double t) { return c.Truth(t); }, capacity, now,
                                          now + 30 * kDay, 1.0);
  ASSERT_GT(truth, 0);

  StatusOr<CapacityForecast> f = ForecastCapacity(s, capacity);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->curve.model, ForecastModel::kSeasonal) << f->model_reason;
  ASSERT_TRUE(f->bic_seasonal.has_value());
  EXPECT_LT(*f->bic_seasonal, f->bic_linear - 1000);
  EXPECT_NEAR(f->curve.slope_bytes_per_s, c.slope, 0.01 * c.slope);
  EXPECT_NEAR(std::hypot(f->curve.sin_bytes[0], f->curve.cos_bytes[0]), c.amplitude,
              0.01 * c.amplitude);
  EXPECT_NEAR(f->residual_sigma_bytes, 20.0 * 1024 * 1024, 2.0 * 1024 * 1024);
  ASSERT_TRUE(f->full_at_s.has_value());
  EXPECT_NEAR(*f->full_at_s, truth, 5 * 60) << "truth at day " << truth / kDay;
  // The conservative estimate comes earlier, but not by more than a day.
  ASSERT_TRUE(f->conservative_full_at_s.has_value());
  EXPECT_LT(*f->conservative_full_at_s, *f->full_at_s);
  EXPECT_GT(*f->conservative_full_at_s, *f->full_at_s - kDay);

  // The straight line through the same data is almost two days late.
  ForecastOptions linear_only;
  linear_only.choice = ModelChoice::kLinearOnly;
  StatusOr<CapacityForecast> lin = ForecastCapacity(s, capacity, linear_only);
  ASSERT_TRUE(lin.ok()) << lin.status().ToString();
  EXPECT_EQ(lin->curve.model, ForecastModel::kLinear);
  ASSERT_TRUE(lin->full_at_s.has_value());
  EXPECT_GT(*lin->full_at_s - truth, 1.5 * kDay);
}

TEST(Forecast, SeasonNeedsTwoPeriodsOfData) {
  const SeasonalCase c;
  std::vector<UsageSample> s = c.Samples(3, 0);
  s.resize(static_cast<size_t>(1.5 * kDay / 600));  // a day and a half
  StatusOr<CapacityForecast> f = ForecastCapacity(s, 200 * kGi);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->curve.model, ForecastModel::kLinear);
  EXPECT_NE(f->model_reason.find("periods"), std::string::npos) << f->model_reason;
  EXPECT_FALSE(f->bic_seasonal.has_value());

  ForecastOptions seasonal_only;
  seasonal_only.choice = ModelChoice::kSeasonalOnly;
  StatusOr<CapacityForecast> forced = ForecastCapacity(s, 200 * kGi, seasonal_only);
  EXPECT_EQ(forced.status().code(), StatusCode::kFailedPrecondition);
}

TEST(Forecast, SamplesOncePerPeriodCannotResolveTheSeason) {
  std::vector<UsageSample> s;
  for (int d = 0; d < 20; ++d) s.push_back({d * kDay, 1e9 + d * 1e8});
  StatusOr<CapacityForecast> f = ForecastCapacity(s, 1e10);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->curve.model, ForecastModel::kLinear);
  EXPECT_NE(f->model_reason.find("rank"), std::string::npos) << f->model_reason;
}

TEST(Forecast, FlatTrendWithASeasonThatReachesCapacityFillsWithinAPeriod) {
  // No growth, but every day's peak goes to 13 GB; capacity 12 GB.
  std::vector<UsageSample> s;
  for (double t = 0; t < 4 * kDay; t += 900) {
    s.push_back({t, 10e9 + 3e9 * std::sin(kTwoPi * t / kDay)});
  }
  const double now = s.back().time_s;
  StatusOr<CapacityForecast> f = ForecastCapacity(s, 12e9);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->curve.model, ForecastModel::kSeasonal);
  // sin = 2/3 first at 0.1161 of a day past midnight.
  const double truth = 4 * kDay + std::asin(2.0 / 3.0) / kTwoPi * kDay;
  ASSERT_TRUE(f->full_at_s.has_value());
  EXPECT_NEAR(*f->full_at_s, truth, 1e-3);
  EXPECT_LT(*f->time_to_full_s, kDay);
  EXPECT_GT(*f->full_at_s, now);

  // With capacity above the peak it never fills.
  StatusOr<CapacityForecast> roomy = ForecastCapacity(s, 13.5e9);
  ASSERT_TRUE(roomy.ok());
  EXPECT_FALSE(roomy->full_at_s.has_value());
}

TEST(Forecast, NoiseAroundAFlatLevelNeverFills) {
  int seasonal = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Random r(seed);
    std::vector<UsageSample> s;
    for (double t = 0; t < 7 * kDay; t += kHour) s.push_back({t, 30 * kGi + 0.1 * kGi * r.Normal()});
    StatusOr<CapacityForecast> f = ForecastCapacity(s, 50 * kGi);
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    EXPECT_FALSE(f->trend_significant);
    EXPECT_FALSE(f->full_at_s.has_value());
    EXPECT_FALSE(f->conservative_full_at_s.has_value());
    seasonal += f->curve.model == ForecastModel::kSeasonal;
  }
  EXPECT_LE(seasonal, 1);  // BIC's penalty keeps noise from looking seasonal
}

TEST(Forecast, ConservativeEstimateUsesTheResidualSpread) {
  // Alternating +-1 MB around a 1 kB/s line: sigma ~ 1 MB, so with k = 2 the
  // conservative curve sits ~2 MB higher and reaches capacity ~2000 s sooner.
  std::vector<UsageSample> s;
  for (int i = 0; i < 100; ++i) s.push_back({i * 60.0, 1e9 + 1e3 * i * 60.0 + (i % 2 ? 1e6 : -1e6)});
  StatusOr<CapacityForecast> f = ForecastCapacity(s, 2e9);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_NEAR(f->residual_sigma_bytes, 1e6, 0.02e6);
  ASSERT_TRUE(f->time_to_full_s && f->conservative_time_to_full_s);
  EXPECT_NEAR(*f->time_to_full_s - *f->conservative_time_to_full_s,
              2 * f->residual_sigma_bytes / f->curve.slope_bytes_per_s, 1e-3);
}

TEST(Forecast, UnsortedSamplesAreSorted) {
  std::vector<UsageSample> s = Linear(0, 60, 50, 1e6, 100);
  StatusOr<CapacityForecast> sorted = ForecastCapacity(s, 1e8);
  std::swap(s[0], s[49]);
  std::swap(s[10], s[20]);
  StatusOr<CapacityForecast> shuffled = ForecastCapacity(s, 1e8);
  ASSERT_TRUE(sorted.ok() && shuffled.ok());
  EXPECT_EQ(sorted->now_s, shuffled->now_s);
  EXPECT_NEAR(*sorted->full_at_s, *shuffled->full_at_s, 1e-6);
}

TEST(Forecast, BadInputIsRefusedWithAClearError) {
  auto code = [](const StatusOr<CapacityForecast>& f) { return f.status().code(); };
  EXPECT_EQ(code(ForecastCapacity({}, 100)), StatusCode::kInvalidArgument);
  StatusOr<CapacityForecast> one = ForecastCapacity({{0, 1}}, 100);
  EXPECT_EQ(code(one), StatusCode::kInvalidArgument);
  EXPECT_NE(one.status().message().find("at least 2 samples"), std::string::npos);

  StatusOr<CapacityForecast> same = ForecastCapacity({{0, 1}, {5, 2}, {5, 3}}, 100);
  EXPECT_EQ(code(same), StatusCode::kInvalidArgument);
  EXPECT_NE(same.status().message().find("samples[1] and samples[2] share the time 5"),
            std::string::npos)
      << same.status().ToString();

  StatusOr<CapacityForecast> nan = ForecastCapacity({{0, 1}, {1, std::nan("")}}, 100);
  EXPECT_EQ(code(nan), StatusCode::kInvalidArgument);
  EXPECT_EQ(nan.status().where(), "samples[1].used_bytes");
  StatusOr<CapacityForecast> inf = ForecastCapacity({{INFINITY, 1}, {1, 2}}, 100);
  EXPECT_EQ(inf.status().where(), "samples[0].time_s");
  EXPECT_EQ(code(ForecastCapacity({{0, -1}, {1, 2}}, 100)), StatusCode::kInvalidArgument);

  EXPECT_EQ(ForecastCapacity({{0, 1}, {1, 2}}, 0).status().where(), "capacity_bytes");
  EXPECT_EQ(ForecastCapacity({{0, 1}, {1, 2}}, NAN).status().where(), "capacity_bytes");

  StatusOr<CapacityForecast> full = ForecastCapacity({{0, 50}, {1, 100}}, 100);
  EXPECT_EQ(code(full), StatusCode::kFailedPrecondition);
  EXPECT_NE(full.status().message().find("already full"), std::string::npos);
  EXPECT_EQ(code(ForecastCapacity({{0, 50}, {1, 150}}, 100)), StatusCode::kFailedPrecondition);

  ForecastOptions past;
  past.now_s = 0.5;
  EXPECT_EQ(ForecastCapacity({{0, 1}, {1, 2}}, 100, past).status().where(), "options.now_s");
  ForecastOptions bad;
  bad.harmonics = 0;
  EXPECT_EQ(ForecastCapacity({{0, 1}, {1, 2}}, 100, bad).status().where(), "options.harmonics");
  bad = {};
  bad.season_period_s = -1;
  EXPECT_EQ(ForecastCapacity({{0, 1}, {1, 2}}, 100, bad).status().where(),
            "options.season_period_s");
}

TEST(Forecast, ACurveAlreadyAtCapacityNowFillsNow) {
  // The last sample (89) is below capacity, but the fitted line (89.65) is not.
  std::vector<UsageSample> s;
  for (int t = 0; t < 10; ++t) s.push_back({double(t), 10.0 * t});
  s.back().used_bytes = 89;
  StatusOr<CapacityForecast> f = ForecastCapacity(s, 89.5);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ASSERT_TRUE(f->time_to_full_s.has_value());
  EXPECT_EQ(*f->time_to_full_s, 0);
}

TEST(FirstCrossing, MatchesABruteForceScanOnSeasonalCurves) {
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Random r(seed);
    UsageCurve c;
    c.model = ForecastModel::kSeasonal;
    c.origin_s = 0;
    c.level_bytes = 1000;
    c.slope_bytes_per_s = 0.01 + 0.1 * r.UnitReal();
    c.period_s = 1000;
    c.sin_bytes = {100 * r.UnitReal(), 30 * r.UnitReal()};
    c.cos_bytes = {100 * r.UnitReal(), 30 * r.UnitReal()};
    const double cap = 1300 + 500 * r.UnitReal();
    const std::optional<double> t = FirstCrossing(c, cap, 0);
    ASSERT_TRUE(t.has_value());
    auto at = [&](double x) { return c.At(x); };
    const double coarse = BruteForceCrossing(at, cap, 0, 1e6, 1.0);
    const double brute = BruteForceCrossing(at, cap, coarse - 1, coarse, 1e-3);
    EXPECT_NEAR(*t, brute, 1.1e-3);
    EXPECT_NEAR(c.At(*t), cap, 1e-6);
  }
}

TEST(AggregateByPool, SumsVolumesOnCommonTimes) {
  std::vector<VolumeSeries> v = {
      {"a", "pool-1", {{0, 100}, {10, 200}, {20, 300}}},
      {"b", "pool-1", {{5, 1000}, {15, 1000}, {30, 1000}}},
      {"c", "pool-2", {{0, 7}, {1, 8}}},
  };
  StatusOr<std::map<std::string, std::vector<UsageSample>>> pools = AggregateByPool(v);
  ASSERT_TRUE(pools.ok()) << pools.status().ToString();
  ASSERT_EQ(pools->size(), 2u);
  // pool-1 covers [5, 20]: a's and b's times inside it, a interpolated at 5 and 15.
  const std::vector<UsageSample>& p1 = pools->at("pool-1");
  ASSERT_EQ(p1.size(), 4u);
  EXPECT_EQ(p1[0].time_s, 5);
  EXPECT_EQ(p1[0].used_bytes, 1150);
  EXPECT_EQ(p1[1].time_s, 10);
  EXPECT_EQ(p1[1].used_bytes, 1200);
  EXPECT_EQ(p1[2].time_s, 15);
  EXPECT_EQ(p1[2].used_bytes, 1250);
  EXPECT_EQ(p1[3].time_s, 20);
  EXPECT_EQ(p1[3].used_bytes, 1300);
  EXPECT_EQ(pools->at("pool-2").size(), 2u);

  // A pool of linear volumes forecasts exactly: 1300 + 10/s reaches 2000 at 90.
  StatusOr<CapacityForecast> f = ForecastCapacity(p1, 2000);
  ASSERT_TRUE(f.ok());
  EXPECT_NEAR(*f->full_at_s, 90, 1e-9);
}

TEST(AggregateByPool, RefusesVolumesThatShareNoTime) {
  StatusOr<std::map<std::string, std::vector<UsageSample>>> disjoint = AggregateByPool(
      {{"a", "p", {{0, 1}, {1, 1}}}, {"b", "p", {{5, 1}, {6, 1}}}});
  EXPECT_EQ(disjoint.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(disjoint.status().message().find("share no time"), std::string::npos);

  EXPECT_EQ(AggregateByPool({{"a", "p", {{0, 1}}}, {"a", "q", {{0, 1}}}}).status().where(),
            "volumes[1].volume");
  EXPECT_EQ(AggregateByPool({{"a", "p", {}}}).status().where(), "volumes[0].samples");
  EXPECT_EQ(AggregateByPool({{"a", "p", {{0, NAN}}}}).status().where(),
            "volumes[0].samples[0].used_bytes");
}

}  // namespace
}  // namespace edgebed::storage
