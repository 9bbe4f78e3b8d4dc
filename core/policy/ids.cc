#include "core/policy/ids.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace edgebed::policy {

namespace {

// The regularized lower incomplete gamma function P(a, x): its power series
// below a + 1, else one minus the continued fraction of Q (modified Lentz).
double RegularizedGammaP(double a, double x) {
  if (x <= 0) return 0;
  const double log_prefix = -x + a * std::log(x) - std::lgamma(a);
  if (x < a + 1) {
    double term = 1 / a, sum = term;
    for (int n = 1; n < 1000 && std::abs(term) > std::abs(sum) * 1e-15; ++n) {
      term *= x / (a + n);
      sum += term;
    }
    return sum * std::exp(log_prefix);
  }
  const double tiny = 1e-300;
  double b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d;
  for (int i = 1; i < 1000; ++i) {
    const double an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (std::abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (std::abs(c) < tiny) c = tiny;
    d = 1 / d;
    const double delta = d * c;
    h *= delta;
    if (std::abs(delta - 1) < 1e-15) break;
  }
  return 1 - std::exp(log_prefix) * h;
}

std::string Fixed(double v, int digits = 2) {
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(digits);
  s << v;
  return s.str();
}

// The first `n` keys of a map, formatted and joined by commas: evidence a
// person can read without the whole list.
template <typename Map, typename Format>
std::string FirstKeys(const Map& map, int n, const Format& format) {
  std::string out;
  for (const auto& entry : map) {
    if (n-- == 0) break;
    out += (out.empty() ? "" : ",") + format(entry.first);
  }
  return out;
}

// Variance no feature's profile goes below: a count that never moved in
// training may still move by one without being an intrusion.
constexpr double kVarianceFloor = 0.25;

}  // namespace

double ChiSquareQuantile(int degrees, double p) {
  // The CDF is P(k/2, x/2); it rises monotonically, so bisection finds x.
  const double k = degrees;
  double lo = 0, hi = k + 100 * std::sqrt(2 * k) + 100;
  for (int i = 0; i < 200; ++i) {
    const double mid = (lo + hi) / 2;
    (RegularizedGammaP(k / 2, mid / 2) < p ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

const std::vector<std::string>& IntrusionDetector::FeatureNames() {
  static const std::vector<std::string> names = {"connections", "peers", "ports",
                                                 "log_bytes", "denied", "external"};
  return names;
}

IntrusionDetector::IntrusionDetector(IdsOptions options, MetricsSink* sink)
    : options_(options), sink_(sink), threshold_(ChiSquareQuantile(kFeatures, options.confidence)) {}

void IntrusionDetector::Raise(Time time, std::string kind, std::string subject,
                              std::string evidence) {
  IdsAlert alert{time, std::move(kind), std::move(subject), std::move(evidence)};
  if (sink_) {
    sink_->Event(EventRecord{time, kNoNode, "policy.ids_alert",
                             "kind=" + alert.kind + " subject=" + alert.subject + " " + alert.evidence});
  }
  alerts_.push_back(std::move(alert));
}

void IntrusionDetector::Observe(const FlowRecord& flow) {
  // Scans: per source, the contacts of the last window.
  if (sources_.size() >= options_.max_tracked_sources && !sources_.count(flow.src)) {
    // Forget the eighth of the sources that were quiet longest.
    std::vector<std::pair<Time, uint32_t>> quiet;
    for (const auto& [address, s] : sources_) {
      quiet.push_back({s.contacts.empty() ? Time{} : s.contacts.back().time, address});
    }
    std::sort(quiet.begin(), quiet.end());
    for (size_t i = 0; i < std::max<size_t>(1, quiet.size() / 8); ++i) sources_.erase(quiet[i].second);
  }
  Source& source = sources_[flow.src];
  source.contacts.push_back({flow.time, flow.dst, flow.dst_port});
  ++source.ports_of[flow.dst][flow.dst_port];
  ++source.hosts_on[flow.dst_port][flow.dst];
  CheckScans(flow.src, source, flow.time);

  // Profiles: per workload, the current window's traffic.
  if (flow.workload.empty()) return;
  Profile& profile = profiles_[flow.workload];
  if (!profile.started) {
    profile.started = true;
    profile.window_start = flow.time;
  }
  Advance(flow.workload, profile, flow.time);
  Window& w = profile.current;
  ++w.connections;
  w.bytes += flow.bytes;
  w.denied += !flow.allowed;
  w.external += flow.external;
  w.peers.insert(flow.dst);
  w.ports.insert(uint32_t{flow.protocol} << 16 | flow.dst_port);
}

void IntrusionDetector::CheckScans(uint32_t address, Source& s, Time now) {
  const Time horizon = now - options_.scan_window;
  while (!s.contacts.empty() && s.contacts.front().time < horizon) {
    const Contact& old = s.contacts.front();
    auto ports = s.ports_of.find(old.dst);
    if (--ports->second[old.port] == 0) ports->second.erase(old.port);
    if (ports->second.empty()) s.ports_of.erase(ports);
    auto hosts = s.hosts_on.find(old.port);
    if (--hosts->second[old.dst] == 0) hosts->second.erase(old.dst);
    if (hosts->second.empty()) s.hosts_on.erase(hosts);
    s.contacts.pop_front();
  }
  const Contact& latest = s.contacts.back();
  const auto& ports = s.ports_of[latest.dst];
  if (ports.size() >= options_.port_scan_ports && !s.port_scanning) {
    s.port_scanning = true;
    Raise(now, "port_scan", FormatIpv4(address),
          "target=" + FormatIpv4(latest.dst) + " ports=" + std::to_string(ports.size()) +
              " window_s=" + Fixed(ToSeconds(options_.scan_window), 0) + " first_ports=" +
              FirstKeys(ports, 8, [](uint16_t port) { return std::to_string(port); }));
  }
  const auto& hosts = s.hosts_on[latest.port];
  if (hosts.size() >= options_.sweep_hosts && !s.sweeping) {
    s.sweeping = true;
    Raise(now, "ip_sweep", FormatIpv4(address),
          "port=" + std::to_string(latest.port) + " hosts=" + std::to_string(hosts.size()) +
              " window_s=" + Fixed(ToSeconds(options_.scan_window), 0) + " first_hosts=" +
              FirstKeys(hosts, 5, FormatIpv4));
  }
  // An episode ends when the source falls back below half the threshold.
  size_t most_ports = 0, most_hosts = 0;
  for (const auto& [dst, p] : s.ports_of) most_ports = std::max(most_ports, p.size());
  for (const auto& [port, h] : s.hosts_on) most_hosts = std::max(most_hosts, h.size());
  if (most_ports < options_.port_scan_ports / 2) s.port_scanning = false;
  if (most_hosts < options_.sweep_hosts / 2) s.sweeping = false;
}

void IntrusionDetector::Tick(Time now) {
  for (auto& [workload, profile] : profiles_) Advance(workload, profile, now);
}

void IntrusionDetector::Advance(const std::string& workload, Profile& profile, Time now) {
  // Windows that ended; quiet ones count too (as all zeros), up to a
  // training period's worth, so a long silence does not loop for ever.
  size_t closed = 0;
  while (now >= profile.window_start + options_.profile_window &&
         closed++ <= options_.training_windows) {
    CloseWindow(workload, profile);
    profile.window_start += options_.profile_window;
  }
  if (now >= profile.window_start + options_.profile_window) {
    profile.window_start = now;  // skipped the rest of a long silence
  }
}

void IntrusionDetector::CloseWindow(const std::string& workload, Profile& p) {
  const Window& w = p.current;
  Features f;
  f << double(w.connections), double(w.peers.size()), double(w.ports.size()),
      std::log1p(double(w.bytes)), double(w.denied), double(w.external);
  const Time end = p.window_start + options_.profile_window;
  p.current = Window{};
  if (!p.trained) {
    p.training.push_back(f);
    if (p.training.size() < options_.training_windows) return;
    const double n = static_cast<double>(p.training.size());
    Features mean = Features::Zero();
    for (const Features& x : p.training) mean += x;
    mean /= n;
    Eigen::Matrix<double, kFeatures, kFeatures> cov = Eigen::Matrix<double, kFeatures, kFeatures>::Zero();
    for (const Features& x : p.training) cov += (x - mean) * (x - mean).transpose();
    cov /= std::max(1.0, n - 1);
    cov.diagonal().array() += kVarianceFloor;
    p.mean = mean;
    p.inverse = cov.ldlt().solve(Eigen::Matrix<double, kFeatures, kFeatures>::Identity());
    p.scale = cov.diagonal().array().sqrt();
    p.trained = true;
    p.training.clear();
    p.training.shrink_to_fit();
    return;
  }
  const Features d = f - p.mean;
  const double distance2 = d.dot(p.inverse * d);
  const bool anomalous = distance2 > threshold_;
  if (anomalous && !p.anomalous) {
    Eigen::Index worst = 0;
    (d.array() / p.scale.array()).abs().maxCoeff(&worst);
    const std::string& name = FeatureNames()[static_cast<size_t>(worst)];
    Raise(end, "profile_anomaly", workload,
          "distance2=" + Fixed(distance2) + " threshold=" + Fixed(threshold_) + " feature=" + name +
              " value=" + Fixed(f[worst]) + " expected=" + Fixed(p.mean[worst]) + "+-" +
              Fixed(p.scale[worst]));
  }
  p.anomalous = anomalous;
}

}  // namespace edgebed::policy
