#include "core/host/prometheus.h"

#include <charconv>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace edgebed::host {
namespace {

std::string Number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);  // the shortest text that reads back as v
  return std::string(buf, r.ptr);
}

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string LabelName(const std::string& s) {
  std::string out;
  for (char c : s) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0]))) out = "_" + out;
  return out;
}

std::string Braced(const std::string& labels) { return labels.empty() ? "" : "{" + labels + "}"; }

}  // namespace

std::string PrometheusName(const std::string& dotted) {
  std::string out = "edgebed_";
  for (char c : dotted) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return out;
}

std::string PrometheusLabels(const std::string& labels) {
  std::string out;
  std::istringstream in(labels);
  std::string pair;
  while (std::getline(in, pair, ',')) {
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    const std::string key = eq == std::string::npos ? pair : pair.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : pair.substr(eq + 1);
    out += (out.empty() ? "" : ",") + LabelName(key) + "=\"" + Escape(value) + "\"";
  }
  return out;
}

void PrometheusSink::Record(const MetricSample& sample) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    Series& s = series_[{sample.name, sample.labels}];
    s.last = sample.value;
    s.sum += sample.value;
    ++s.count;
  }
  if (next_ && log_samples_) next_->Record(sample);
}

void PrometheusSink::Event(const EventRecord& event) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++events_[event.kind];
  }
  if (next_) next_->Event(event);
}

std::string PrometheusSink::Render() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  std::string current;
  for (const auto& entry : series_) {
    const std::string name = PrometheusName(entry.first.first);
    const std::string labels = Braced(PrometheusLabels(entry.first.second));
    if (name != current) {
      current = name;
      out += "# HELP " + name + " the last sample of " + entry.first.first + "\n";
      out += "# TYPE " + name + " gauge\n";
    }
    out += name + labels + " " + Number(entry.second.last) + "\n";
  }
  // Counts and sums after the gauges: each family is contiguous, as the format asks.
  current.clear();
  for (const auto& entry : series_) {
    const std::string name = PrometheusName(entry.first.first) + "_samples_total";
    if (name != current) {
      current = name;
      out += "# TYPE " + name + " counter\n";
    }
    out += name + Braced(PrometheusLabels(entry.first.second)) + " " + std::to_string(entry.second.count) + "\n";
  }
  current.clear();
  for (const auto& entry : series_) {
    const std::string name = PrometheusName(entry.first.first) + "_sum";
    if (name != current) {
      current = name;
      out += "# TYPE " + name + " counter\n";
    }
    out += name + Braced(PrometheusLabels(entry.first.second)) + " " + Number(entry.second.sum) + "\n";
  }
  if (!events_.empty()) {
    out += "# HELP edgebed_events_total events recorded, by kind\n# TYPE edgebed_events_total counter\n";
    for (const auto& e : events_)
      out += "edgebed_events_total{kind=\"" + Escape(e.first) + "\"} " + std::to_string(e.second) + "\n";
  }
  return out;
}

}  // namespace edgebed::host
