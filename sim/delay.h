// DelayDistribution: how long a packet takes on a link, or a request in a
// service, drawn afresh each time from one of the shapes measured networks
// and services show.
//
//   constant   always the same
//   normal     mean and stddev, truncated at zero (a delay is never negative)
//   lognormal  median and sigma (of the log): p99 = median * exp(2.326 sigma)
//   pareto     scale (the minimum) and shape alpha: heavy-tailed; the mean is
//              scale * alpha / (alpha - 1) when alpha > 1, infinite otherwise
//   empirical  a table of measured values, sampled by inverse CDF with linear
//              interpolation between neighbours
//
// Sampling draws only from the edgebed Random it is given, so a run replays
// from its seed on any compiler.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/env/env.h"
#include "core/env/random.h"

namespace edgebed::sim {

class DelayDistribution {
 public:
  enum class Kind { kConstant, kNormal, kLogNormal, kPareto, kEmpirical };

  static DelayDistribution Constant(Duration value);
  static DelayDistribution Normal(Duration mean, Duration stddev);
  static DelayDistribution LogNormal(Duration median, double sigma);
  static DelayDistribution Pareto(Duration scale, double shape);
  // `values` in any order; REQUIRES: not empty.
  static DelayDistribution Empirical(std::vector<Duration> values);

  DelayDistribution() = default;  // constant zero

  Duration Sample(Random& random) const;
  // The distribution's mean (of the truncated normal, the untruncated mean);
  // infinite (Duration::max()) for a Pareto with shape <= 1.
  Duration Mean() const;
  Kind kind() const { return kind_; }
  const char* KindName() const;
  // OK, or what is wrong, naming the field ("stddev: must not be negative").
  Status Validate() const;
  std::string ToString() const;  // "lognormal(median 2ms, sigma 0.5)"

 private:
  explicit DelayDistribution(Kind kind) : kind_(kind) {}

  Kind kind_ = Kind::kConstant;
  Duration a_{0};        // constant value, mean, median or scale
  Duration stddev_{0};   // normal
  double shape_ = 0;     // lognormal sigma, pareto alpha
  // Empirical: sorted nanoseconds, shared by every copy (each link of a
  // class holds its profile).
  std::shared_ptr<const std::vector<int64_t>> table_ = std::make_shared<const std::vector<int64_t>>();
};

// Reads a CSV of measured round-trip times and returns the one-way delays
// (half of each). One value per line, or the first column; '#' starts a
// comment; an optional header line names the unit: "rtt_ms" (the default
// when there is none), "rtt_us" or "rtt_s". Errors: "path:line: what".
StatusOr<std::vector<Duration>> LoadRttCsv(const std::string& path);
// The same from text, `source` naming it in errors.
StatusOr<std::vector<Duration>> ParseRttCsv(const std::string& text, const std::string& source);

}  // namespace edgebed::sim
