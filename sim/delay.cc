#include "sim/delay.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace edgebed::sim {
namespace {

int64_t Clamp(double ns) {
  if (!(ns > 0)) return 0;
  if (ns > 9.2e18) return INT64_MAX;
  return static_cast<int64_t>(std::llround(ns));
}

std::string Ms(Duration d) {
  char text[32];
  std::snprintf(text, sizeof text, "%gms", ToMillis(d));
  return text;
}

}  // namespace

DelayDistribution DelayDistribution::Constant(Duration value) {
  DelayDistribution d(Kind::kConstant);
  d.a_ = value;
  return d;
}

DelayDistribution DelayDistribution::Normal(Duration mean, Duration stddev) {
  DelayDistribution d(Kind::kNormal);
  d.a_ = mean;
  d.stddev_ = stddev;
  return d;
}

DelayDistribution DelayDistribution::LogNormal(Duration median, double sigma) {
  DelayDistribution d(Kind::kLogNormal);
  d.a_ = median;
  d.shape_ = sigma;
  return d;
}

DelayDistribution DelayDistribution::Pareto(Duration scale, double shape) {
  DelayDistribution d(Kind::kPareto);
  d.a_ = scale;
  d.shape_ = shape;
  return d;
}

DelayDistribution DelayDistribution::Empirical(std::vector<Duration> values) {
  DelayDistribution d(Kind::kEmpirical);
  std::vector<int64_t> table;
  for (Duration v : values) table.push_back(v.count());
  std::sort(table.begin(), table.end());
  if (!table.empty()) d.a_ = Duration(table[table.size() / 2]);
  d.table_ = std::make_shared<const std::vector<int64_t>>(std::move(table));
  return d;
}

Duration DelayDistribution::Sample(Random& random) const {
  switch (kind_) {
    case Kind::kConstant:
      return a_;
    case Kind::kNormal:
      return Duration(Clamp(static_cast<double>(a_.count()) + random.Normal() * static_cast<double>(stddev_.count())));
    case Kind::kLogNormal:
      return Duration(Clamp(static_cast<double>(a_.count()) * std::exp(shape_ * random.Normal())));
    case Kind::kPareto: {
      // Inverse CDF: x = scale / U^(1/alpha), U in (0, 1].
      const double u = 1.0 - random.UnitReal();
      return Duration(Clamp(static_cast<double>(a_.count()) / std::pow(u, 1.0 / shape_)));
    }
    case Kind::kEmpirical: {
      const std::vector<int64_t>& table = *table_;
      if (table.empty()) return Duration(0);
      if (table.size() == 1) return Duration(table[0]);
      const double position = random.UnitReal() * static_cast<double>(table.size() - 1);
      const auto i = static_cast<size_t>(position);
      const double frac = position - static_cast<double>(i);
      const double lo = static_cast<double>(table[i]);
      const double hi = static_cast<double>(table[std::min(i + 1, table.size() - 1)]);
      return Duration(Clamp(lo + (hi - lo) * frac));
    }
  }
  return a_;
}

Duration DelayDistribution::Mean() const {
  switch (kind_) {
    case Kind::kConstant:
    case Kind::kNormal:
      return a_;
    case Kind::kLogNormal:
      return Duration(Clamp(static_cast<double>(a_.count()) * std::exp(shape_ * shape_ / 2)));
    case Kind::kPareto:
      if (shape_ <= 1) return Duration::max();
      return Duration(Clamp(static_cast<double>(a_.count()) * shape_ / (shape_ - 1)));
    case Kind::kEmpirical: {
      const std::vector<int64_t>& table = *table_;
      if (table.empty()) return Duration(0);
      // The interpolated CDF's mean: trapezoids between neighbours.
      if (table.size() == 1) return Duration(table[0]);
      double sum = 0;
      for (size_t i = 0; i + 1 < table.size(); ++i)
        sum += (static_cast<double>(table[i]) + static_cast<double>(table[i + 1])) / 2;
      return Duration(Clamp(sum / static_cast<double>(table.size() - 1)));
    }
  }
  return a_;
}

const char* DelayDistribution::KindName() const {
  switch (kind_) {
    case Kind::kConstant: return "constant";
    case Kind::kNormal: return "normal";
    case Kind::kLogNormal: return "lognormal";
    case Kind::kPareto: return "pareto";
    case Kind::kEmpirical: return "empirical";
  }
  return "?";
}

Status DelayDistribution::Validate() const {
  switch (kind_) {
    case Kind::kConstant:
      if (a_ < Duration(0)) return InvalidArgument("must not be negative", "value");
      break;
    case Kind::kNormal:
      if (a_ < Duration(0)) return InvalidArgument("must not be negative", "mean");
      if (stddev_ < Duration(0)) return InvalidArgument("must not be negative", "stddev");
      break;
    case Kind::kLogNormal:
      if (a_ <= Duration(0)) return InvalidArgument("must be above zero (the log of zero is undefined)", "median");
      if (!(shape_ >= 0) || shape_ > 10) return InvalidArgument("must be 0..10", "sigma");
      break;
    case Kind::kPareto:
      if (a_ <= Duration(0)) return InvalidArgument("must be above zero: it is the smallest delay", "scale");
      if (!(shape_ > 0) || shape_ > 100) return InvalidArgument("must be above 0 (and at most 100)", "shape");
      break;
    case Kind::kEmpirical:
      if (table_->empty()) return InvalidArgument("the table has no values", "file");
      break;
  }
  return Status::Ok();
}

std::string DelayDistribution::ToString() const {
  char text[96];
  switch (kind_) {
    case Kind::kConstant:
      return "constant(" + Ms(a_) + ")";
    case Kind::kNormal:
      return "normal(mean " + Ms(a_) + ", stddev " + Ms(stddev_) + ")";
    case Kind::kLogNormal:
      std::snprintf(text, sizeof text, "lognormal(median %s, sigma %g)", Ms(a_).c_str(), shape_);
      return text;
    case Kind::kPareto:
      std::snprintf(text, sizeof text, "pareto(scale %s, shape %g)", Ms(a_).c_str(), shape_);
      return text;
    case Kind::kEmpirical:
      return "empirical(" + std::to_string(table_->size()) + " values, median " + Ms(a_) + ")";
  }
  return "?";
}

StatusOr<std::vector<Duration>> ParseRttCsv(const std::string& text, const std::string& source) {
  std::istringstream in(text);
  std::string line;
  int line_no = 0;
  double unit_ns = 1e6;  // milliseconds
  bool seen_content = false;
  std::vector<Duration> out;
  auto error = [&](const std::string& what) {
    return InvalidArgument(source + ":" + std::to_string(line_no) + ": " + what);
  };
  while (std::getline(in, line)) {
    ++line_no;
    if (size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::string field = line.substr(0, line.find(','));
    field.erase(0, field.find_first_not_of(" \t\r"));
    field.erase(field.find_last_not_of(" \t\r") + 1);
    if (field.empty()) continue;
    if (!seen_content) {
      seen_content = true;
      if (!field.empty() && (std::isalpha(static_cast<unsigned char>(field[0])) || field[0] == '_')) {
        if (field == "rtt_ms" || field == "rtt") unit_ns = 1e6;
        else if (field == "rtt_us") unit_ns = 1e3;
        else if (field == "rtt_s") unit_ns = 1e9;
        else return error("header '" + field + "' names no unit edgebed knows: write rtt_ms, rtt_us or rtt_s");
        continue;
      }
    }
    char* end = nullptr;
    const double value = std::strtod(field.c_str(), &end);
    if (end == field.c_str() || *end != '\0' || !std::isfinite(value))
      return error("'" + field + "' is not a number");
    if (value < 0) return error("a round-trip time cannot be negative");
    out.push_back(Duration(Clamp(value * unit_ns / 2)));
  }
  if (out.empty()) return InvalidArgument(source + ": holds no round-trip time (one value per line, in ms)");
  return out;
}

StatusOr<std::vector<Duration>> LoadRttCsv(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(StatusCode::kNotFound, path + ": cannot be read (is the path right? it is relative to the scenario file)");
  std::ostringstream text;
  text << in.rdbuf();
  return ParseRttCsv(text.str(), path);
}

}  // namespace edgebed::sim
