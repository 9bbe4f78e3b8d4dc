#include "reports/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include "core/storage/forecast.h"

namespace edgebed::reports {
namespace {

// Series beyond this many in one plot are drawn as one cloud of points: a
// legend of hundreds of nodes helps nobody. Run-level series split by labels
// (a level and a statistic, a workload and a quantile) stay lines longer.
constexpr size_t kMaxNodeLinesPerPlot = 8;
constexpr size_t kMaxLinesPerPlot = 16;
// Points beyond this many in one plot are thinned (every k-th kept), so a
// page stays small enough to open and print.
constexpr size_t kMaxPointsPerPlot = 20'000;

// Metrics shown in their own sections rather than as time series.
bool HasOwnSection(const std::string& name) {
  return name == "sim.fault_recovery_s" || name == "cluster.pod_startup_s" || name == "storage.failover_s" ||
         name == "storage.replica_catchup_s" || name == "storage.cloudsnap_rpo_s" ||
         name == "storage.volume_used_bytes" || name == "storage.volume_size_bytes";
}

std::string Num(double v, int digits = 6) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

// For a person: 3106543 rather than 3.107e+06, 104.1 rather than 104.123456.
std::string Readable(double v) {
  if (std::isfinite(v) && std::fabs(v) >= 1e4 && std::fabs(v) < 1e15) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  return Num(v, 4);
}

// Full precision, for data handed to gnuplot and to CSV files.
std::string Exact(double v) { return Num(v, 17); }

std::string Html(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// A gnuplot single-quoted string: only '' is special inside.
std::string GpString(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "''";
    else if (c == '\n') out += ' ';
    else out += c;
  }
  return out + "'";
}

double Seconds(Time t) { return static_cast<double>(ToNanos(t)) / 1e9; }

std::string Family(const std::string& name) {
  const size_t dot = name.find('.');
  return dot == std::string::npos ? name : name.substr(0, dot);
}

std::string FamilyTitle(const std::string& family) {
  static const std::map<std::string, std::string> kTitles = {
      {"cluster", "Cluster: nodes, pods, scheduling"},
      {"storage", "Storage: replication, failover, backups"},
      {"policy", "Network policy: flows and intrusion alerts"},
      {"workload", "Workloads: messages and latency"},
      {"net", "Network links"},
      {"node", "Node resources"},
      {"probe", "Heartbeat probes"},
      {"datastore", "Server datastore"},
      {"sim", "Simulation"},
  };
  const auto it = kTitles.find(family);
  return it != kTitles.end() ? it->second : family;
}

std::string SeriesTitle(const SeriesData& s) {
  std::string t;
  if (s.node != kNoNode) t = "node " + std::to_string(s.node);
  if (!s.labels.empty()) t += (t.empty() ? "" : ", ") + s.labels;
  return t.empty() ? s.name : t;
}

// Detail "fault=3 node-crash n1 for 60s" -> (3, "node-crash n1 for 60s").
std::pair<int, std::string> ParseFaultDetail(const std::string& detail) {
  int number = 0;
  std::string rest = detail;
  if (detail.rfind("fault=", 0) == 0) {
    const size_t space = detail.find(' ');
    number = std::atoi(detail.substr(6, space == std::string::npos ? std::string::npos : space - 6).c_str());
    rest = space == std::string::npos ? "" : detail.substr(space + 1);
  }
  return {number, rest};
}

// The value of `key` in labels "a=1,b=2", or "".
std::string Label(const std::string& labels, const std::string& key) {
  size_t at = 0;
  while (at <= labels.size()) {
    size_t end = labels.find(',', at);
    if (end == std::string::npos) end = labels.size();
    const std::string pair = labels.substr(at, end - at);
    if (pair.rfind(key + "=", 0) == 0) return pair.substr(key.size() + 1);
    at = end + 1;
  }
  return "";
}

struct FaultRow {
  int number = 0;
  std::string what;
  std::optional<double> start_s, end_s;
  std::vector<double> recovery_at_s, recovery_s;  // when recovered, and how long it took
};

std::vector<FaultRow> Faults(const RunData& run) {
  std::map<int, FaultRow> rows;
  for (const EventRecord& e : run.events) {
    if (e.kind != "sim.fault_start" && e.kind != "sim.fault_end") continue;
    const auto parsed = ParseFaultDetail(e.detail);
    FaultRow& row = rows[parsed.first];
    row.number = parsed.first;
    if (row.what.empty()) row.what = parsed.second;
    (e.kind == "sim.fault_start" ? row.start_s : row.end_s) = Seconds(e.time);
  }
  for (const SeriesData& s : run.series) {
    if (s.name != "sim.fault_recovery_s") continue;
    const int number = std::atoi(Label(s.labels, "fault").c_str());
    FaultRow& row = rows[number];
    row.number = number;
    if (row.what.empty()) row.what = Label(s.labels, "kind") + " " + Label(s.labels, "target");
    for (const auto& p : s.points) {
      row.recovery_at_s.push_back(p.first);
      row.recovery_s.push_back(p.second);
    }
  }
  std::vector<FaultRow> out;
  for (auto& entry : rows) out.push_back(std::move(entry.second));
  return out;
}

std::string Definitions(const std::string& cls, const std::vector<std::pair<std::string, std::string>>& rows) {
  std::string out = "<table class=\"" + cls + "\">\n";
  for (const auto& r : rows) out += "<tr><th>" + Html(r.first) + "</th><td>" + Html(r.second) + "</td></tr>\n";
  return out + "</table>\n";
}

// gnuplot's SVG, made fit to sit inside a page beside other plots: no XML
// prologue, and ids made unique to the plot.
std::string InlineSvg(const std::string& svg, int plot) {
  size_t begin = svg.find("<svg");
  std::string body = begin == std::string::npos ? svg : svg.substr(begin);
  const std::string prefix = "p" + std::to_string(plot) + "_";
  std::string out;
  out.reserve(body.size() + 256);
  for (size_t i = 0; i < body.size();) {
    bool replaced = false;
    for (const char* pat : {"id='", "id=\"", "href='#", "href=\"#", "url(#"}) {
      const size_t len = std::strlen(pat);
      if (body.compare(i, len, pat) == 0) {
        out.append(pat, len);
        out += prefix;
        i += len;
        replaced = true;
        break;
      }
    }
    if (!replaced) out += body[i++];
  }
  return out;
}

// "+12.5%", "-3.1%", "+1340%": a relative change, for a person.
std::string Percent(double p) {
  char buf[64];
  std::snprintf(buf, sizeof buf, std::fabs(p) >= 100 ? "%.0f%%" : "%.3g%%", p);
  return buf;
}

// ---- facts drawn from a run's events and metrics ---------------------------------

// The value of `key` in an event detail "a=1 b=x y=2", or "".
std::string Field(const std::string& detail, const std::string& key) {
  const std::string want = key + "=";
  size_t at = 0;
  while (at < detail.size()) {
    size_t end = detail.find(' ', at);
    if (end == std::string::npos) end = detail.size();
    if (detail.compare(at, want.size(), want) == 0) return detail.substr(at + want.size(), end - at - want.size());
    at = end + 1;
  }
  return "";
}

// Node ids to names, from the server's cluster.node_joined events.
std::map<std::string, std::string> NodeNames(const RunData& run) {
  std::map<std::string, std::string> names;
  for (const EventRecord& e : run.events)
    if (e.kind == "cluster.node_joined" && !Field(e.detail, "id").empty())
      names[Field(e.detail, "id")] = Field(e.detail, "node");
  return names;
}

std::string NodeName(const std::map<std::string, std::string>& names, const std::string& id) {
  const auto it = names.find(id);
  return it != names.end() && !it->second.empty() ? it->second : (id.empty() ? "?" : "node " + id);
}

std::vector<const SeriesData*> SeriesNamed(const RunData& run, const std::string& name) {
  std::vector<const SeriesData*> out;
  for (const SeriesData& s : run.series)
    if (s.name == name) out.push_back(&s);
  return out;
}

std::vector<double> FiniteValues(const RunData& run, const std::string& name, const std::string& labels_with = "") {
  std::vector<double> out;
  for (const SeriesData* s : SeriesNamed(run, name)) {
    if (!labels_with.empty() && s->labels.find(labels_with) == std::string::npos) continue;
    for (const auto& p : s->points)
      if (std::isfinite(p.second)) out.push_back(p.second);
  }
  return out;
}

// "1,2,3,5,80,81" -> "1-3, 5, 80-81"
std::string PortRanges(const std::set<int>& ports) {
  std::string out;
  for (auto it = ports.begin(); it != ports.end();) {
    int first = *it, last = *it;
    for (++it; it != ports.end() && *it == last + 1; ++it) last = *it;
    out += (out.empty() ? "" : ", ") + std::to_string(first) + (last > first ? "-" + std::to_string(last) : "");
  }
  return out;
}

// A storage failover as the controller recorded it: the moves of the primary
// (storage.failover events) and, once a new primary served, how long the
// volume went without one (storage.failover_s, measured from the old
// primary's last renewal).
struct FailoverRow {
  std::string volume;
  double began_s = 0;
  std::optional<double> served_s, duration_s;
  std::vector<std::string> moves;  // "b1-f1-n4 -> b1-f4-n3"
};

std::vector<FailoverRow> Failovers(const RunData& run) {
  const auto names = NodeNames(run);
  std::vector<FailoverRow> rows;
  std::map<std::string, size_t> open;  // volume -> its row still waiting for a primary to serve
  // Events and completions in time order; a completion closes the volume's open row.
  struct Item {
    double t;
    int order;
    const EventRecord* event;
    const SeriesData* series;
    double value;
  };
  std::vector<Item> items;
  for (const EventRecord& e : run.events)
    if (e.kind == "storage.failover") items.push_back({Seconds(e.time), 0, &e, nullptr, 0});
  for (const SeriesData* s : SeriesNamed(run, "storage.failover_s"))
    for (const auto& p : s->points) items.push_back({p.first, 1, nullptr, s, p.second});
  std::stable_sort(items.begin(), items.end(),
                   [](const Item& a, const Item& b) { return std::tie(a.t, a.order) < std::tie(b.t, b.order); });
  for (const Item& item : items) {
    if (item.event) {
      const std::string volume = Field(item.event->detail, "volume");
      auto it = open.find(volume);
      if (it == open.end()) {
        FailoverRow row;
        row.volume = volume;
        const double silent = std::atof(Field(item.event->detail, "silent_s").c_str());
        row.began_s = item.t - (std::isfinite(silent) ? silent : 0);
        it = open.emplace(volume, rows.size()).first;
        rows.push_back(row);
      }
      rows[it->second].moves.push_back(NodeName(names, Field(item.event->detail, "from")) + " -> " +
                                       NodeName(names, Field(item.event->detail, "to")));
    } else {
      const std::string volume = Label(item.series->labels, "volume");
      auto it = open.find(volume);
      if (it == open.end()) {  // a completion whose start the run did not record
        FailoverRow row;
        row.volume = volume;
        row.began_s = item.t - item.value;
        it = open.emplace(volume, rows.size()).first;
        rows.push_back(row);
      }
      FailoverRow& row = rows[it->second];
      row.served_s = item.t;
      row.duration_s = item.value;
      row.began_s = item.t - item.value;
      open.erase(it);
    }
  }
  return rows;
}

// Denied flows, from the policy.denied events (each flow is logged at most
// once a minute), grouped by source, destination and direction.
struct DeniedRow {
  std::string from, to, at;
  std::set<int> ports;
  size_t logged = 0;
  double first_s = 0, last_s = 0;
};

std::vector<DeniedRow> DeniedFlows(const RunData& run) {
  std::map<std::tuple<std::string, std::string, std::string>, DeniedRow> rows;
  for (const EventRecord& e : run.events) {
    if (e.kind != "policy.denied") continue;
    DeniedRow& row = rows[{Field(e.detail, "from"), Field(e.detail, "to"), Field(e.detail, "at")}];
    if (row.logged == 0) {
      row.from = Field(e.detail, "from");
      row.to = Field(e.detail, "to");
      row.at = Field(e.detail, "at");
      row.first_s = Seconds(e.time);
    }
    row.last_s = Seconds(e.time);
    ++row.logged;
    const std::string port = Field(e.detail, "port");
    if (!port.empty()) row.ports.insert(std::atoi(port.c_str()));
  }
  std::vector<DeniedRow> out;
  for (auto& entry : rows) out.push_back(std::move(entry.second));
  std::stable_sort(out.begin(), out.end(), [](const DeniedRow& a, const DeniedRow& b) {
    return a.logged != b.logged ? a.logged > b.logged : a.first_s < b.first_s;
  });
  return out;
}

// Per volume backed up to the cloud: when each of its backups was ready.
std::map<std::string, std::vector<double>> CloudBackups(const RunData& run) {
  std::map<std::string, std::vector<double>> backups;
  for (const EventRecord& e : run.events)
    if (e.kind == "storage.cloudsnap") backups[Field(e.detail, "volume")].push_back(Seconds(e.time));
  return backups;
}

// The worst recovery point of one volume's storage.cloudsnap_rpo_s after its
// first backup was ready (before it there is no recovery point at all);
// nullopt when none was.
std::optional<double> WorstRecoveryPoint(const SeriesData& rpo, const std::vector<double>& ready) {
  std::optional<double> worst;
  if (ready.empty()) return worst;
  for (const auto& p : rpo.points)
    if (p.first >= ready.front() && std::isfinite(p.second)) worst = std::max(worst.value_or(p.second), p.second);
  return worst;
}

// One number a comparison puts side by side; nullopt: the run has no data for it.
struct Headline {
  std::string what;
  std::string unit;
  int better;  // -1: lower is better, +1: higher is better, 0: neither (a change, not a verdict)
  std::optional<double> (*of)(const RunData&);
};

std::optional<double> Max(const std::vector<double>& v) {
  if (v.empty()) return std::nullopt;
  return *std::max_element(v.begin(), v.end());
}

std::optional<double> Percentile(std::vector<double> v, double percent) {
  if (v.empty()) return std::nullopt;
  std::sort(v.begin(), v.end());
  return results::NearestRank(v, percent);
}

// The last finite value of each series of `name` (with `labels_with`), summed.
std::optional<double> LastSum(const RunData& run, const std::string& name, const std::string& labels_with = "") {
  std::optional<double> sum;
  for (const SeriesData* s : SeriesNamed(run, name)) {
    if (!labels_with.empty() && s->labels.find(labels_with) == std::string::npos) continue;
    for (auto p = s->points.rbegin(); p != s->points.rend(); ++p)
      if (std::isfinite(p->second)) {
        sum = sum.value_or(0) + p->second;
        break;
      }
  }
  return sum;
}

std::optional<double> Sum(const std::vector<double>& v) {
  if (v.empty()) return std::nullopt;
  double sum = 0;
  for (double x : v) sum += x;
  return sum;
}

std::optional<double> EventCount(const RunData& run, const std::string& kind) {
  size_t n = 0;
  for (const EventRecord& e : run.events) n += e.kind == kind;
  return static_cast<double>(n);
}

std::optional<double> WallClock(const RunData& run, const std::string& key) {
  for (const auto& w : run.run.wallclock)
    if (w.first == key) return w.second;
  return std::nullopt;
}

const std::vector<Headline>& Headlines() {
  static const std::vector<Headline> kHeadlines = {
      {"simulated span", "s", 0,
       [](const RunData& r) -> std::optional<double> {
         if (!r.run.end) return std::nullopt;
         return Seconds(*r.run.end) - Seconds(r.run.info.start);
       }},
      {"pods Running at the end", "pods", +1,
       [](const RunData& r) { return LastSum(r, "cluster.pods", "phase=Running"); }},
      {"nodes Ready at the end", "nodes", +1, [](const RunData& r) { return LastSum(r, "cluster.nodes_ready"); }},
      {"pod start-up, p50", "s", -1,
       [](const RunData& r) { return Percentile(FiniteValues(r, "cluster.pod_startup_s"), 50); }},
      {"pod start-up, p99", "s", -1,
       [](const RunData& r) { return Percentile(FiniteValues(r, "cluster.pod_startup_s"), 99); }},
      {"slowest fault recovery", "s", -1, [](const RunData& r) { return Max(FiniteValues(r, "sim.fault_recovery_s")); }},
      {"slowest storage failover", "s", -1, [](const RunData& r) { return Max(FiniteValues(r, "storage.failover_s")); }},
      {"worst cloud recovery point (RPO)", "s", -1,
       [](const RunData& r) -> std::optional<double> {
         const auto backups = CloudBackups(r);
         std::optional<double> worst;
         for (const SeriesData* s : SeriesNamed(r, "storage.cloudsnap_rpo_s")) {
           const auto ready = backups.find(Label(s->labels, "volume"));
           if (ready == backups.end()) continue;
           if (const std::optional<double> w = WorstRecoveryPoint(*s, ready->second))
             worst = std::max(worst.value_or(*w), *w);
         }
         return worst;
       }},
      {"messages sent", "messages", +1, [](const RunData& r) { return LastSum(r, "workload.messages_sent"); }},
      {"messages received", "messages", +1,
       [](const RunData& r) { return LastSum(r, "workload.messages_received"); }},
      {"end-to-end latency p99, worst window", "ms", -1,
       [](const RunData& r) { return Max(FiniteValues(r, "workload.e2e_latency_ms", "quantile=0.99")); }},
      {"publish latency p99, worst window", "ms", -1,
       [](const RunData& r) { return Max(FiniteValues(r, "workload.publish_latency_ms", "quantile=0.99")); }},
      {"volume write latency p99, worst window", "ms", -1,
       [](const RunData& r) { return Max(FiniteValues(r, "storage.write_latency_ms", "quantile=0.99")); }},
      {"flows allowed", "flows", 0, [](const RunData& r) { return Sum(FiniteValues(r, "policy.flows_allowed")); }},
      {"flows denied", "flows", 0, [](const RunData& r) { return Sum(FiniteValues(r, "policy.flows_denied")); }},
      {"IDS alerts", "alerts", 0,
       [](const RunData& r) -> std::optional<double> {
         if (SeriesNamed(r, "policy.ids_alerts").empty() && !EventCount(r, "policy.ids_alert").value_or(0))
           return std::nullopt;
         return EventCount(r, "policy.ids_alert");
       }},
      {"simulator speed (wall clock)", "simulated s per wall s", 0,
       [](const RunData& r) { return WallClock(r, "sim_seconds_per_wall_second"); }},
  };
  return kHeadlines;
}

constexpr double kMiB = 1024.0 * 1024.0;

// Simulated seconds shown in the unit that keeps a run's axis readable.
struct TimeScale {
  double seconds_per_unit = 1;
  std::string unit = "s";
  double operator()(double seconds) const { return seconds / seconds_per_unit; }
};

TimeScale ScaleFor(double span_s) {
  if (span_s > 36 * 3600.0) return {3600, "h"};
  if (span_s > 1800) return {60, "min"};
  return {};
}

// A fault as drawn: its start, its end if undone, and its tag.
struct FaultMark {
  std::string tag;
  double start_s = 0;
  std::optional<double> end_s;
  friend bool operator<(const FaultMark& a, const FaultMark& b) {
    return std::tie(a.start_s, a.tag, a.end_s) < std::tie(b.start_s, b.tag, b.end_s);
  }
  friend bool operator==(const FaultMark& a, const FaultMark& b) {
    return std::tie(a.start_s, a.tag, a.end_s) == std::tie(b.start_s, b.tag, b.end_s);
  }
};

// A metric's series across the runs of one plot: one group per run.
struct PlotGroup {
  std::string run_tag;  // "" on a single run's page
  std::vector<const SeriesData*> series;
};

class Page {
 public:
  explicit Page(const ReportOptions& options) : options_(options) {}

  // A run's own sections. Among several (a comparison page) its
  // metrics over time and its start-up CDF are left to the overlaid plots.
  Status AddRun(const RunData& run, const std::string& tag, bool many) {
    const RunRow& r = run.run;
    const std::string id = "r" + std::to_string(++articles_);
    const std::string heading = (many ? tag + ": " : "") + r.info.scenario + ", seed " + std::to_string(r.info.seed) +
                                (many ? " (run " + std::to_string(r.run_id) + " of " + run.db_path + ")" : "");
    toc_ += "<li><a href=\"#" + id + "\">" + Html(heading) + "</a></li>\n";
    body_ += "<article class=\"run\" id=\"" + id + "\">\n<h2>" + Html(heading) + "</h2>\n";
    scale_ = ScaleFor(Span({&run}));
    AddRunSection(run, id);
    const std::vector<FaultRow> faults = Faults(run);
    EDGEBED_RETURN_IF_ERROR(AddTimeline({{"", &run}}, RunMarks(run), id));
    AddFaultSection(faults, id);
    AddFailoverSection(run, id);
    EDGEBED_RETURN_IF_ERROR(AddRecoveryPointSection(run, id));
    EDGEBED_RETURN_IF_ERROR(AddCapacitySection(run, id));
    AddDeniedFlowsSection(run, id);
    AddIdsSection(run, id);
    if (!many) {
      EDGEBED_RETURN_IF_ERROR(AddTimeSeries({{"", &run}}, RunMarks(run), id));
      EDGEBED_RETURN_IF_ERROR(AddPodStartupCdf({{"", &run}}, id));
    }
    body_ += "</article>\n";
    return Status::Ok();
  }

  // The comparison of several runs: what differs between them, the headline
  // numbers side by side, and every metric's plot with the runs overlaid.
  Status AddComparison(const std::vector<std::pair<std::string, const RunData*>>& runs) {
    const std::string id = "compare";
    toc_ += "<li><a href=\"#" + id + "\">Comparison of " + std::to_string(runs.size()) + " runs</a></li>\n";
    body_ += "<article class=\"comparison\" id=\"" + id + "\">\n<h2>Comparison of " + std::to_string(runs.size()) +
             " runs</h2>\n";
    std::vector<const RunData*> all;
    for (const auto& r : runs) all.push_back(r.second);
    scale_ = ScaleFor(Span(all));
    AddRunsTable(runs, id);
    AddHeadlineTable(runs, id);
    // Faults drawn once when every run had the same ones, else tagged by run.
    std::vector<std::set<FaultMark>> per_run;
    for (const auto& r : runs) {
      per_run.push_back(RunMarks(*r.second));
    }
    const bool same = std::all_of(per_run.begin(), per_run.end(),
                                  [&per_run](const std::set<FaultMark>& m) { return m == per_run[0]; });
    std::set<FaultMark> marks;
    for (size_t i = 0; i < runs.size(); ++i)
      for (FaultMark m : per_run[i]) {
        if (!same) m.tag = runs[i].first + " " + m.tag;
        marks.insert(m);
      }
    EDGEBED_RETURN_IF_ERROR(AddTimeline(runs, marks, id));
    EDGEBED_RETURN_IF_ERROR(AddTimeSeries(runs, marks, id));
    EDGEBED_RETURN_IF_ERROR(AddPodStartupCdf(runs, id));
    body_ += "</article>\n";
    return Status::Ok();
  }

  std::string Finish(const std::string& title) const {
    std::string out =
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>" +
        Html(title) + "</title>\n<style>\n" + kStyle + "</style>\n</head>\n<body>\n<header><h1>" + Html(title) +
        "</h1>\n<p>Made from the results database by <code>edgebed report</code>. Times are simulated "
        "time since the start of the run; the schema is documented in reports/README.md.</p>\n" +
        (articles_ > 1 ? "<nav><ol>\n" + toc_ + "</ol></nav>\n" : "") + "</header>\n<main>\n" + body_ + "</main>\n</body>\n</html>\n";
    return out;
  }

 private:
  using RunRow = results::RunRow;
  static constexpr const char* kStyle =
      "body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#222;margin:0 auto;"
      "max-width:1240px;padding:0 20px 40px}\n"
      "h1{font-size:1.6em;margin:.8em 0 .3em}h2{font-size:1.35em;border-bottom:2px solid #345;margin-top:1.6em}\n"
      "h3{font-size:1.1em;margin:1.4em 0 .4em}\n"
      "table{border-collapse:collapse;margin:.4em 0 1em}th,td{border:1px solid #ccc;padding:3px 8px;"
      "text-align:left;vertical-align:top}th{background:#f2f4f7;font-weight:600}\n"
      "td.n{text-align:right;font-variant-numeric:tabular-nums}\ntd.better{color:#1e7b34}td.worse{color:#b03a2e}\n"
      "figure{margin:.6em 0 1.4em;break-inside:avoid;page-break-inside:avoid}figure svg{width:100%;height:auto;"
      "display:block}\n"
      "figcaption{font-size:.9em;color:#444}\ncode{font-size:.95em}\n.note{color:#666;font-size:.9em}\n"
      ".facts{display:flex;flex-wrap:wrap;gap:0 28px;align-items:flex-start}.facts h4{margin:.1em 0 .3em}"
      ".facts .note{margin:0 0 .3em}\n"
      "@media print{body{max-width:none;padding:0;font-size:11pt}nav{display:none}"
      "article+article{break-before:page}h2,h3{break-after:avoid}}\n";

  static double Span(const std::vector<const RunData*>& runs) {
    double span = 0;
    for (const RunData* r : runs) {
      double end = r->run.end ? Seconds(*r->run.end) : Seconds(r->run.info.start);
      for (const SeriesData& s : r->series)
        if (!s.points.empty()) end = std::max(end, s.points.back().first);
      span = std::max(span, end - Seconds(r->run.info.start));
    }
    return span;
  }

  std::string TimeLabel() const { return "simulated time (" + scale_.unit + ")"; }

  void OpenSection(const std::string& kind, const std::string& id, const std::string& title,
                   const std::string& extra = "") {
    body_ += "<section data-section=\"" + kind + "\"" + extra + " id=\"" + id + "-" + kind + "\">\n<h3>" +
             Html(title) + "</h3>\n";
  }

  void AddRunSection(const RunData& run, const std::string& id) {
    const RunRow& r = run.run;
    const double start = Seconds(r.info.start);
    std::vector<std::pair<std::string, std::string>> rows = {
        {"scenario", r.info.scenario},
        {"scenario file", r.info.scenario_path.empty() ? "(built in)" : r.info.scenario_path},
        {"seed", std::to_string(r.info.seed)},
        {"revision", r.info.revision},
        {"results database", run.db_path + ", run " + std::to_string(r.run_id)},
        {"simulated time", r.end ? Num(start) + " s to " + Num(Seconds(*r.end)) + " s (" +
                                       Num(Seconds(*r.end) - start) + " s)"
                                 : "from " + Num(start) + " s; the run never ended (it crashed or was stopped)"},
    };
    OpenSection("run", id, "The run");
    body_ += "<div class=\"facts\">\n<div>" + Definitions("run", rows) + "</div>\n";
    if (!r.info.parameters.empty()) {
      body_ += "<div><h4>Parameters</h4>\n" + Definitions("parameters", r.info.parameters) + "</div>\n";
    }
    if (!r.wallclock.empty()) {
      std::vector<std::pair<std::string, std::string>> speed;
      for (const auto& w : r.wallclock) speed.emplace_back(w.first, Readable(w.second));
      body_ += "<div><h4>Simulator speed</h4>\n<p class=\"note\">Measured on the machine that ran it; "
               "differs from run to run.</p>\n" + Definitions("wallclock", speed) + "</div>\n";
    }
    body_ += "</div>\n</section>\n";
  }

  // The run at a glance: the metrics faults disturb, stacked on one time
  // axis with the faults drawn across all of them, so recovery shows. With
  // several runs, theirs overlaid, each with its own dashes.
  Status AddTimeline(const std::vector<std::pair<std::string, const RunData*>>& runs,
                     const std::set<FaultMark>& marks, const std::string& id) {
    struct Line {
      std::string title;
      std::vector<std::pair<double, double>> points;
      size_t run = 0;
    };
    const bool many = runs.size() > 1;
    struct Panel {
      std::string ylabel;
      std::vector<Line> lines;
    };
    auto series = [&](const std::string& name, const std::string& labels_with, const std::string& title) {
      std::vector<Line> lines;
      for (size_t r = 0; r < runs.size(); ++r)
        for (const SeriesData* s : SeriesNamed(*runs[r].second, name)) {
          if (!labels_with.empty() && s->labels.find(labels_with) == std::string::npos) continue;
          std::string t = (many ? runs[r].first + ": " : "") + title;
          const std::string workload = Label(s->labels, "workload");
          if (!workload.empty()) t += " " + workload;
          lines.push_back({t, s->points, r});
        }
      return lines;
    };
    // Over every series of `name`, the largest value at each time.
    auto max_of = [&](const std::string& name, const std::string& title) {
      std::vector<Line> lines;
      for (size_t r = 0; r < runs.size(); ++r) {
        std::map<double, double> top;
        for (const SeriesData* s : SeriesNamed(*runs[r].second, name))
          for (const auto& p : s->points)
            if (std::isfinite(p.second)) {
              auto it = top.emplace(p.first, p.second).first;
              it->second = std::max(it->second, p.second);
            }
        if (!top.empty()) lines.push_back({(many ? runs[r].first + ": " : "") + title, {top.begin(), top.end()}, r});
      }
      return lines;
    };
    // About four tics in a short panel: 1, 2 or 5 times a power of ten.
    auto NiceStep = [](const std::vector<Line>& lines) {
      double top = 0;
      for (const Line& l : lines)
        for (const auto& pt : l.points)
          if (std::isfinite(pt.second)) top = std::max(top, pt.second);
      if (top <= 0) return 1.0;
      const double raw = top / 4, decade = std::pow(10.0, std::floor(std::log10(raw)));
      for (double m : {1.0, 2.0, 5.0})
        if (m * decade >= raw) return m * decade;
      return 10 * decade;
    };
    std::vector<Panel> panels;
    auto add = [&panels](const std::string& ylabel, std::vector<Line> a, std::vector<Line> b = {}) {
      for (Line& l : b) a.push_back(std::move(l));
      if (!a.empty()) panels.push_back({ylabel, std::move(a)});
    };
    add("pods, nodes", series("cluster.pods", "phase=Running", "pods Running"),
        series("cluster.nodes_ready", "", "nodes Ready"));
    add("latency p99 (ms)", series("workload.e2e_latency_ms", "quantile=0.99", "end to end"),
        series("storage.write_latency_ms", "quantile=0.99", "volume writes"));
    add("replicas", series("storage.replicas_out_of_sync", "", "replicas out of sync"));
    add("flows per sample", series("policy.flows_denied", "", "flows denied"));
    add("utilisation (0-1)", max_of("net.link_utilisation", "busiest link"));
    if (panels.empty()) return Status::Ok();
    std::vector<const RunData*> all;
    for (const auto& r : runs) all.push_back(r.second);
    constexpr int kPanelPx = 150;
    const int height = static_cast<int>(panels.size()) * kPanelPx + 70;
    std::string script = "set terminal svg size 1200," + std::to_string(height) +
                         " dynamic noenhanced font 'sans,13' background rgb 'white'\nset encoding utf8\n"
                         "set border lw 1.2\nset grid lc rgb '#dddddd' lw 1\nset tics nomirror\n"
                         "set key outside right top vertical Left reverse samplen 2\n" + TimeRange(all) +
                         FaultOverlay(marks) + "set lmargin 12\nset rmargin " + (many ? "36" : "32") + "\n";
    int block = 0;
    std::string data, plots;
    for (size_t i = 0; i < panels.size(); ++i) {
      const Panel& p = panels[i];
      const double top = 1.0 - (static_cast<double>(i) * kPanelPx + 10.0) / height;
      const double bottom = top - (kPanelPx - 8.0) / height;
      const bool last = i + 1 == panels.size();
      plots += "set tmargin at screen " + Exact(top) + "\nset bmargin at screen " + Exact(bottom) +
               "\nset ylabel " + GpString(p.ylabel) + "\nset yrange [0:*]\nset offsets 0, 0, graph 0.15, 0\n" +
               (i > 0 ? "unset label\n" : "") +  // the faults' tags once, on the top panel
               "set ytics " + Exact(NiceStep(p.lines)) + "\n" +
               (last ? "set format x '%g'\nset xlabel " + GpString(TimeLabel()) + "\n"
                     : "set format x ''\nunset xlabel\n");
      std::string plot;
      for (const Line& l : p.lines) {
        ++block;
        data += "$t" + std::to_string(block) + " << EOD\n";
        for (const auto& pt : l.points)
          if (std::isfinite(pt.second)) data += Exact(scale_(pt.first)) + " " + Exact(pt.second) + "\n";
        data += "EOD\n";
        plot += std::string(plot.empty() ? "plot " : ", ") + "$t" + std::to_string(block) +
                " using 1:2 with lines lw 2" + (many ? " dt " + std::to_string(l.run % 5 + 1) : std::string()) +
                " title " + GpString(l.title);
      }
      plots += plot + "\n";
    }
    script = data + script + "set multiplot\n" + plots + "unset multiplot\n";
    OpenSection("timeline", id, "Timeline: what the faults disturbed");
    EDGEBED_RETURN_IF_ERROR(Plot(script,
                                 std::string(many ? "The runs at a glance, overlaid" : "The run at a glance") +
                                     ", on one time axis: pods and nodes, the 99th percentile "
                                 "latencies, replicas out of sync, denied flows and the busiest link." +
                                     FaultNote(marks) + " Each metric has its own plot further down.",
                                 "timeline"));
    body_ += "</section>\n";
    return Status::Ok();
  }

  void AddFaultSection(const std::vector<FaultRow>& faults, const std::string& id) {
    if (faults.empty()) return;
    OpenSection("faults", id, "Faults and recovery");
    body_ += "<p class=\"note\">Recovery: from the fault's start (or its end, when it was undone) until every up "
             "node is Ready and every pod Running.</p>\n<table class=\"faults\">\n<tr><th>fault</th><th>what</th>"
             "<th>start (s)</th><th>end (s)</th><th>recovery</th></tr>\n";
    for (const FaultRow& f : faults) {
      std::string recovery;
      for (size_t i = 0; i < f.recovery_s.size(); ++i) {
        const bool after_end = f.end_s && f.recovery_at_s[i] >= *f.end_s;
        recovery += (recovery.empty() ? "" : "; ") + Num(f.recovery_s[i], 4) + " s after it " +
                    (after_end ? "ended" : "began");
      }
      if (recovery.empty()) recovery = f.start_s ? "not within the run" : "-";
      body_ += "<tr><td class=\"n\">F" + std::to_string(f.number) + "</td><td>" + Html(f.what) +
               "</td><td class=\"n\">" + (f.start_s ? Num(*f.start_s) : "-") + "</td><td class=\"n\">" +
               (f.end_s ? Num(*f.end_s) : "-") + "</td><td>" + Html(recovery) + "</td></tr>\n";
    }
    body_ += "</table>\n</section>\n";
  }

  void AddFailoverSection(const RunData& run, const std::string& id) {
    const std::vector<FailoverRow> rows = Failovers(run);
    std::vector<const SeriesData*> catchup = SeriesNamed(run, "storage.replica_catchup_s");
    if (rows.empty() && catchup.empty()) return;
    OpenSection("failover", id, "Storage failover");
    if (!rows.empty()) {
      body_ += "<p class=\"note\">Failover time: from the primary's last lease renewal the controller heard until "
               "the new primary served (<code>storage.failover_s</code>); writes to the volume wait that long.</p>\n"
               "<table class=\"failover\">\n<tr><th>volume</th><th>primary silent from (s)</th><th>primary moved"
               "</th><th>serving again at (s)</th><th>failover time</th></tr>\n";
      for (const FailoverRow& f : rows) {
        std::string moves;
        for (const std::string& m : f.moves) moves += (moves.empty() ? "" : ", then ") + m;
        body_ += "<tr><td>" + Html(f.volume) + "</td><td class=\"n\">" + Num(f.began_s) + "</td><td>" +
                 Html(moves.empty() ? "-" : moves) + "</td><td class=\"n\">" +
                 (f.served_s ? Num(*f.served_s) : "-") + "</td><td class=\"n\">" +
                 (f.duration_s ? Num(*f.duration_s, 4) + " s" : "not within the run") + "</td></tr>\n";
      }
      body_ += "</table>\n";
    }
    if (!catchup.empty()) {
      body_ += "<p class=\"note\">Replica catch-up: from a replica's leaving the in-sync set until it was back in "
               "it, resynced (<code>storage.replica_catchup_s</code>).</p>\n<table class=\"catchup\">\n"
               "<tr><th>volume</th><th>back in sync at (s)</th><th>out of sync for</th></tr>\n";
      for (const SeriesData* s : catchup)
        for (const auto& p : s->points)
          body_ += "<tr><td>" + Html(Label(s->labels, "volume")) + "</td><td class=\"n\">" + Num(p.first) +
                   "</td><td class=\"n\">" + Num(p.second, 4) + " s</td></tr>\n";
      body_ += "</table>\n";
    }
    body_ += "</section>\n";
  }

  Status AddRecoveryPointSection(const RunData& run, const std::string& id) {
    const std::vector<const SeriesData*> rpo = SeriesNamed(run, "storage.cloudsnap_rpo_s");
    if (rpo.empty()) return Status::Ok();
    std::map<std::string, std::vector<double>> backups = CloudBackups(run);
    OpenSection("recovery-point", id, "Disaster recovery: the recovery point in the cloud");
    body_ += "<p class=\"note\">Recovery point objective (RPO): how much of a volume's history a restore from its "
             "newest cloud backup would lose, were the site lost at that moment "
             "(<code>storage.cloudsnap_rpo_s</code>). It grows until a backup is ready, then drops.</p>\n"
             "<table class=\"rpo\">\n<tr><th>volume</th><th>backups ready</th><th>first at (s)</th>"
             "<th>RPO at the end</th><th>worst RPO after the first backup</th></tr>\n";
    std::string script = Preamble(TimeLabel(), "recovery point (s)") + TimeRange({&run}) + FaultOverlay(RunMarks(run));
    std::string plot;
    int block = 0;
    for (const SeriesData* s : rpo) {
      const std::string volume = Label(s->labels, "volume");
      const std::vector<double>& ready = backups[volume];
      std::optional<double> last;
      for (const auto& p : s->points)
        if (std::isfinite(p.second)) last = p.second;
      const std::optional<double> worst = WorstRecoveryPoint(*s, ready);
      body_ += "<tr><td>" + Html(volume) + "</td><td class=\"n\">" + std::to_string(ready.size()) +
               "</td><td class=\"n\">" + (ready.empty() ? "-" : Num(ready.front())) + "</td><td class=\"n\">" +
               (last ? Num(*last, 4) + " s" : "-") + "</td><td class=\"n\">" +
               (worst ? Num(*worst, 4) + " s" : "no backup was ready") + "</td></tr>\n";
      ++block;
      script += "$d" + std::to_string(block) + " << EOD\n";
      for (const auto& p : s->points)
        if (std::isfinite(p.second)) script += Exact(scale_(p.first)) + " " + Exact(p.second) + "\n";
      script += "EOD\n";
      plot += std::string(plot.empty() ? "plot " : ", ") + "$d" + std::to_string(block) +
              " using 1:2 with lines lw 2 title " + GpString(volume);
      if (!ready.empty()) {
        ++block;
        script += "$d" + std::to_string(block) + " << EOD\n";
        for (double t : ready) script += Exact(scale_(t)) + " 0\n";
        script += "EOD\n";
        plot += ", $d" + std::to_string(block) + " using 1:2 with points pt 9 ps 1.4 lc rgb '#1e7b34' title " +
                GpString("backup ready: " + volume);
      }
    }
    body_ += "</table>\n";
    script += "set yrange [0:*]\n" + plot + "\n";
    EDGEBED_RETURN_IF_ERROR(Plot(script,
                                 "<code>storage.cloudsnap_rpo_s</code> in s, per volume backed up to the cloud; "
                                 "triangles: a backup ready in the object store." + FaultNote(RunMarks(run)),
                                 "storage.cloudsnap_rpo_s"));
    body_ += "</section>\n";
    return Status::Ok();
  }

  Status AddCapacitySection(const RunData& run, const std::string& id) {
    const std::vector<const SeriesData*> used = SeriesNamed(run, "storage.volume_used_bytes");
    if (used.empty()) return Status::Ok();
    std::map<std::string, double> size;
    for (const SeriesData* s : SeriesNamed(run, "storage.volume_size_bytes"))
      for (auto p = s->points.rbegin(); p != s->points.rend(); ++p)
        if (std::isfinite(p->second) && p->second > 0) {
          size[Label(s->labels, "volume")] = p->second;
          break;
        }
    const double end_s = run.run.end ? Seconds(*run.run.end) : Span({&run}) + Seconds(run.run.info.start);
    storage::ForecastOptions options;
    options.now_s = end_s;
    bool opened = false;
    std::vector<CapacityPlot> plots;
    for (const SeriesData* s : used) {
      const std::string volume = Label(s->labels, "volume");
      const auto capacity = size.find(volume);
      std::vector<storage::UsageSample> samples;
      for (const auto& p : s->points)
        if (std::isfinite(p.second) && p.second >= 0) samples.push_back({p.first, p.second});
      if (capacity == size.end() || samples.size() < 2) continue;
      if (samples.back().time_s > end_s) options.now_s = samples.back().time_s;
      if (!opened) {
        OpenSection("capacity", id, "Capacity forecasts");
        body_ += "<p class=\"note\">Each volume's used space (<code>storage.volume_used_bytes</code>: the blocks its "
                 "primary's replica holds other than zeros) against its size, forecast as Portworx Autopilot's rules would see it at "
                 "the end of the run: a least-squares trend (with a daily season when the data supports one), "
                 "and the band of two residual standard deviations around it. The conservative time is when the "
                 "band's upper edge reaches the size.</p>\n<table class=\"capacity\">\n<tr><th>volume</th>"
                 "<th>used at the end</th><th>size</th><th>model</th><th>growth</th><th>full in</th>"
                 "<th>full in, conservatively</th></tr>\n";
        opened = true;
      }
      const double cap = capacity->second;
      const double last = samples.back().used_bytes;
      StatusOr<storage::CapacityForecast> f = storage::ForecastCapacity(samples, cap, options);
      std::string model, reason, growth, full, conservative;
      if (f.ok()) {
        model = storage::ForecastModelName(f->curve.model);
        reason = f->model_reason;
        growth = Num(f->curve.slope_bytes_per_s * 3600 / kMiB, 4) + " MiB/h" +
                 (f->trend_significant ? "" : ", not significant");
        full = f->time_to_full_s ? Duration(*f->time_to_full_s) : "never, at this trend";
        conservative = f->conservative_time_to_full_s ? Duration(*f->conservative_time_to_full_s) : "never";
      } else if (f.status().code() == StatusCode::kFailedPrecondition) {
        double since = samples.back().time_s;
        for (auto p = samples.rbegin(); p != samples.rend() && p->used_bytes >= cap; ++p) since = p->time_s;
        model = "-";
        growth = "-";
        full = "full since " + Num(since) + " s";
        conservative = "-";
      } else {
        model = f.status().message();
      }
      body_ += "<tr><td>" + Html(volume) + "</td><td class=\"n\">" + Num(last / kMiB, 4) + " MiB (" +
               Num(100 * last / cap, 3) + "%)</td><td class=\"n\">" + Num(cap / kMiB, 4) + " MiB</td><td title=\"" +
               Html(reason) + "\">" + Html(model) + "</td><td class=\"n\">" + Html(growth) + "</td><td>" + Html(full) + "</td><td>" +
               Html(conservative) + "</td></tr>\n";
      // A volume that never held data has nothing to draw; the table says so.
      const bool empty = std::all_of(samples.begin(), samples.end(),
                                     [](const storage::UsageSample& u) { return u.used_bytes == 0; });
      if (!empty) {
        plots.push_back({volume, samples, cap, f.ok() ? std::optional<storage::CapacityForecast>(*f) : std::nullopt});
      }
    }
    if (!opened) return Status::Ok();
    body_ += "</table>\n";
    for (const CapacityPlot& c : plots) EDGEBED_RETURN_IF_ERROR(PlotCapacity(run, c));
    body_ += "</section>\n";
    return Status::Ok();
  }

  struct CapacityPlot {
    std::string volume;
    std::vector<storage::UsageSample> samples;
    double capacity = 0;
    std::optional<storage::CapacityForecast> forecast;
  };

  // The used space, the fitted curve carried past the end of the run with its
  // band, and the size as a line: up to when the band reaches it, or as far
  // again as the run when it never does.
  Status PlotCapacity(const RunData& run, const CapacityPlot& c) {
    const double t0 = c.samples.front().time_s;
    const double now = c.forecast ? c.forecast->now_s : c.samples.back().time_s;
    double horizon = now + std::max(now - t0, 1.0);
    if (c.forecast && c.forecast->conservative_full_at_s)
      horizon = std::max(horizon, std::min(*c.forecast->conservative_full_at_s * 1.1 - 0.1 * t0, t0 + 50 * (now - t0)));
    if (c.forecast && c.forecast->full_at_s)
      horizon = std::max(horizon, std::min(*c.forecast->full_at_s * 1.05, t0 + 50 * (now - t0)));
    TimeScale scale = ScaleFor(horizon - Seconds(run.run.info.start));
    std::swap(scale, scale_);
    std::string script = Preamble(TimeLabel(), "used space (MiB)");
    script += "set title " + GpString(c.volume) + "\n";
    const double mib = kMiB;
    script += "set xrange [" + Exact(scale_(Seconds(run.run.info.start))) + ":" + Exact(scale_(horizon)) +
              "]\nset yrange [0:" + Exact(c.capacity / mib * 1.12) + "]\n";
    script += "set arrow from graph 0, first " + Exact(c.capacity / mib) + " to graph 1, first " +
              Exact(c.capacity / mib) + " nohead lc rgb '#b03a2e' lw 2 front\n";
    script += "set label " + GpString("size " + Readable(c.capacity / mib) + " MiB") + " at graph 0.01, first " +
              Exact(c.capacity / mib) + " offset 0,0.7 tc rgb '#b03a2e' front\n";
    script += "set arrow from " + Exact(scale_(now)) + ", graph 0 to " + Exact(scale_(now)) +
              ", graph 1 nohead lc rgb '#555555' dt 3 front\n";
    script += "set label 'end of run' at " + Exact(scale_(now)) + ", graph 1 offset 0.4,-0.9 tc rgb '#555555' front\n";
    script += "$used << EOD\n";
    for (const auto& p : c.samples) script += Exact(scale_(p.time_s)) + " " + Exact(p.used_bytes / mib) + "\n";
    script += "EOD\n";
    std::string plot;
    if (c.forecast) {
      const storage::CapacityForecast& f = *c.forecast;
      const double band = options_sigma_k_ * f.residual_sigma_bytes;
      script += "$fit << EOD\n";
      const int steps = 400;
      for (int i = 0; i <= steps; ++i) {
        const double t = t0 + (horizon - t0) * i / steps;
        const double y = f.curve.At(t);
        script += Exact(scale_(t)) + " " + Exact(y / mib) + " " + Exact(std::max(0.0, y - band) / mib) + " " +
                  Exact((y + band) / mib) + "\n";
      }
      script += "EOD\n";
      plot = "plot $fit using 1:3:4 with filledcurves fc rgb '#9ecae1' fs transparent solid 0.45 noborder title " +
             GpString("band: fit +/- " + Num(options_sigma_k_, 2) + " residual sigma") +
             ", $fit using 1:2 with lines lw 2 dt 2 lc rgb '#08519c' title " +
             GpString(std::string(storage::ForecastModelName(f.curve.model)) + " fit, carried forward") + ", ";
    } else {
      plot = "plot ";
    }
    plot += "$used using 1:2 with linespoints pt 7 ps 0.5 lw 2 lc rgb '#222222' title " +
            GpString("used (storage.volume_used_bytes)");
    script += plot + "\n";
    std::swap(scale, scale_);
    return Plot(script,
                "<code>" + Html(c.volume) + "</code>: used space in MiB, with the forecast made at the end of the "
                "run" + std::string(c.forecast ? "" : " (none: the volume is full)") + ".",
                "storage.volume_used_bytes");
  }

  void AddDeniedFlowsSection(const RunData& run, const std::string& id) {
    const std::vector<DeniedRow> rows = DeniedFlows(run);
    if (rows.empty()) return;
    constexpr size_t kTop = 12;
    OpenSection("denied-flows", id, "Top denied flows");
    size_t logged = 0;
    for (const DeniedRow& r : rows) logged += r.logged;
    body_ += "<p class=\"note\">From the <code>policy.denied</code> events: a node logs a flow its policy drops at "
             "most once a minute for each source, destination and port, so <i>logged</i> counts the minutes each "
             "port was denied, summed over its ports. " +
             std::to_string(rows.size()) + " source and destination pairs, " + std::to_string(logged) +
             " events" + (rows.size() > kTop ? "; the " + std::to_string(kTop) + " most frequent are shown" : "") +
             ".</p>\n<table class=\"denied\">\n<tr><th>from</th><th>to</th><th>ports</th><th>dropped at</th>"
             "<th>logged</th><th>first (s)</th><th>last (s)</th></tr>\n";
    for (size_t i = 0; i < rows.size() && i < kTop; ++i) {
      const DeniedRow& r = rows[i];
      std::string ports = PortRanges(r.ports);
      if (r.ports.size() > 3) ports += " (" + std::to_string(r.ports.size()) + " ports)";
      body_ += "<tr><td>" + Html(r.from) + "</td><td>" + Html(r.to) + "</td><td>" + Html(ports) + "</td><td>" +
               Html(r.at) + "</td><td class=\"n\">" + std::to_string(r.logged) + "</td><td class=\"n\">" +
               Num(r.first_s) + "</td><td class=\"n\">" + Num(r.last_s) + "</td></tr>\n";
    }
    body_ += "</table>\n</section>\n";
  }

  void AddIdsSection(const RunData& run, const std::string& id) {
    std::vector<const EventRecord*> alerts;
    for (const EventRecord& e : run.events)
      if (e.kind == "policy.ids_alert") alerts.push_back(&e);
    if (alerts.empty()) return;
    OpenSection("ids-alerts", id, "Intrusion detection alerts");
    body_ += "<p class=\"note\">Each alert with the evidence the detector gave for it "
             "(<code>policy.ids_alert</code> events).</p>\n<table class=\"ids\">\n<tr><th>at (s)</th><th>kind</th>"
             "<th>subject</th><th>evidence</th></tr>\n";
    for (const EventRecord* e : alerts) {
      std::string evidence;
      size_t at = 0;
      while (at < e->detail.size()) {
        size_t end = e->detail.find(' ', at);
        if (end == std::string::npos) end = e->detail.size();
        const std::string pair = e->detail.substr(at, end - at);
        if (pair.rfind("kind=", 0) != 0 && pair.rfind("subject=", 0) != 0 && !pair.empty())
          evidence += (evidence.empty() ? "" : " ") + pair;
        at = end + 1;
      }
      body_ += "<tr><td class=\"n\">" + Num(Seconds(e->time)) + "</td><td>" + Html(Field(e->detail, "kind")) +
               "</td><td>" + Html(Field(e->detail, "subject")) + "</td><td><code>" + Html(evidence) +
               "</code></td></tr>\n";
    }
    body_ += "</table>\n</section>\n";
  }

  void AddRunsTable(const std::vector<std::pair<std::string, const RunData*>>& runs, const std::string& id) {
    // Parameters that differ between the runs: what the comparison is about.
    std::map<std::string, std::vector<std::string>> values;
    for (size_t i = 0; i < runs.size(); ++i)
      for (const auto& p : runs[i].second->run.info.parameters) {
        auto& v = values[p.first];
        v.resize(runs.size(), "-");
        v[i] = p.second;
      }
    std::vector<std::string> differing;
    for (auto& entry : values) {
      entry.second.resize(runs.size(), "-");
      if (std::any_of(entry.second.begin(), entry.second.end(),
                      [&](const std::string& v) { return v != entry.second[0]; }) &&
          entry.first.rfind("sim_", 0) != 0 && entry.first != "wall_seconds")
        differing.push_back(entry.first);
    }
    OpenSection("runs", id, "The runs");
    body_ += "<table class=\"runs\">\n<tr><th>run</th><th>scenario</th><th>seed</th><th>revision</th>"
             "<th>results database</th>";
    for (const std::string& k : differing) body_ += "<th>" + Html(k) + "</th>";
    body_ += "</tr>\n";
    for (size_t i = 0; i < runs.size(); ++i) {
      const RunData& r = *runs[i].second;
      body_ += "<tr><td>" + Html(runs[i].first) + "</td><td>" + Html(r.run.info.scenario) + "</td><td class=\"n\">" +
               std::to_string(r.run.info.seed) + "</td><td>" + Html(r.run.info.revision) + "</td><td>" +
               Html(r.db_path + ", run " + std::to_string(r.run.run_id)) + "</td>";
      for (const std::string& k : differing) body_ += "<td>" + Html(values[k][i]) + "</td>";
      body_ += "</tr>\n";
    }
    body_ += "</table>\n";
    if (!differing.empty())
      body_ += "<p class=\"note\">Parameters shown are those that differ between the runs.</p>\n";
    body_ += "</section>\n";
  }

  void AddHeadlineTable(const std::vector<std::pair<std::string, const RunData*>>& runs, const std::string& id) {
    OpenSection("headlines", id, "Headline numbers side by side");
    body_ += "<p class=\"note\">Differences are against " + Html(runs[0].first) +
             "; green where the change is for the better, red where for the worse, plain where it is "
             "neither. The simulator's speed is the only wall-clock figure, and differs between machines.</p>\n<table class=\"headlines\">\n"
             "<tr><th>metric</th><th>unit</th>";
    for (size_t i = 0; i < runs.size(); ++i)
      body_ += "<th>" + Html(runs[i].first) + "</th>" + (i > 0 ? "<th>" + Html(runs[i].first) + " &minus; " +
                                                                     Html(runs[0].first) + "</th>"
                                                               : "");
    body_ += "</tr>\n";
    for (const Headline& h : Headlines()) {
      std::vector<std::optional<double>> v;
      for (const auto& r : runs) v.push_back(h.of(*r.second));
      if (std::none_of(v.begin(), v.end(), [](const std::optional<double>& x) { return x.has_value(); })) continue;
      body_ += "<tr><td>" + Html(h.what) + "</td><td>" + Html(h.unit) + "</td>";
      for (size_t i = 0; i < v.size(); ++i) {
        body_ += "<td class=\"n\">" + (v[i] ? Readable(*v[i]) : std::string("-")) + "</td>";
        if (i == 0) continue;
        if (!v[i] || !v[0]) {
          body_ += "<td class=\"n\">-</td>";
          continue;
        }
        double d = *v[i] - *v[0];
        // Differences in the last bits of a float are no difference.
        if (std::fabs(d) <= 1e-6 * std::max(std::fabs(*v[0]), std::fabs(*v[i]))) d = 0;
        std::string cls = "n";
        if (d != 0 && h.better != 0) cls += (d > 0) == (h.better > 0) ? " better" : " worse";
        std::string text = (d > 0 ? "+" : "") + Readable(d);
        if (*v[0] != 0 && d != 0) text += " (" + std::string(d > 0 ? "+" : "") + Percent(100 * d / std::fabs(*v[0])) + ")";
        body_ += "<td class=\"" + cls + "\">" + (d == 0 ? std::string("same") : text) + "</td>";
      }
      body_ += "</tr>\n";
    }
    body_ += "</table>\n</section>\n";
  }

  std::set<FaultMark> RunMarks(const RunData& run) const {
    std::set<FaultMark> marks;
    for (const FaultRow& f : Faults(run))
      if (f.start_s) marks.insert({"F" + std::to_string(f.number), *f.start_s, f.end_s});
    return marks;
  }

  std::string TimeRange(const std::vector<const RunData*>& runs) const {
    double x0 = std::numeric_limits<double>::infinity();
    for (const RunData* r : runs) x0 = std::min(x0, Seconds(r->run.info.start));
    double x1 = x0 + Span(runs);
    if (x1 <= x0) x1 = x0 + 1;
    return "set xrange [" + Exact(scale_(x0)) + ":" + Exact(scale_(x1)) + "]\n";
  }

  static std::string FaultNote(const std::set<FaultMark>& marks) {
    return marks.empty() ? "" : " Dashed red lines: fault starts (F<i>n</i>, see the faults table); shaded: while "
                                "a fault lasted.";
  }

  // Fault starts as dashed lines labelled with their tags, their spans shaded.
  std::string FaultOverlay(const std::set<FaultMark>& marks) const {
    std::string s;
    int object = 1;
    for (const FaultMark& f : marks) {
      const std::string start = Exact(scale_(f.start_s));
      if (f.end_s && *f.end_s > f.start_s) {
        s += "set object " + std::to_string(object++) + " rect from " + start + ", graph 0 to " +
             Exact(scale_(*f.end_s)) + ", graph 1 fc rgb '#f4c7c3' fs solid 0.35 noborder behind\n";
      }
      s += "set arrow from " + start + ", graph 0 to " + start + ", graph 1 nohead lc rgb '#b03a2e' lw 1.5 dt 2 front\n";
      s += "set label " + GpString(f.tag) + " at " + start + ", graph 1 offset 0.4,-0.9 tc rgb '#b03a2e' front\n";
    }
    return s;
  }

  static std::string Preamble(const std::string& xlabel, const std::string& ylabel) {
    return "set terminal svg size 1200,440 dynamic noenhanced font 'sans,14' background rgb 'white'\n"
           "set encoding utf8\nset border lw 1.2\nset grid lc rgb '#dddddd' lw 1\nset key below\n"
           "set tics nomirror\nset xlabel " + GpString(xlabel) + "\nset ylabel " + GpString(ylabel) + "\n";
  }

  Status Plot(const std::string& script, const std::string& caption, const std::string& name) {
    auto svg = RunGnuplot(script, options_.gnuplot);
    if (!svg.ok()) {
      return Status(svg.status().code(), "plot of " + name + ": " + svg.status().message(), svg.status().where());
    }
    ++plots_;
    body_ += "<figure data-metric=\"" + Html(name) + "\">\n" + InlineSvg(*svg, plots_) + "<figcaption>" +
             caption + "</figcaption>\n</figure>\n";
    return Status::Ok();
  }

  // One plot per metric, grouped by family. On a single run's page each
  // series is a line (a cloud of points when there are too many); with
  // several runs each run's series are drawn over the others', tagged.
  Status AddTimeSeries(const std::vector<std::pair<std::string, const RunData*>>& runs,
                       const std::set<FaultMark>& marks, const std::string& id) {
    std::map<std::string, std::vector<PlotGroup>> by_name;  // name -> one group per run having it
    double x0 = std::numeric_limits<double>::infinity(), span = 0;
    std::vector<const RunData*> all;
    for (const auto& r : runs) {
      all.push_back(r.second);
      x0 = std::min(x0, Seconds(r.second->run.info.start));
      for (const SeriesData& s : r.second->series) {
        if (HasOwnSection(s.name)) continue;
        const bool drawable = std::any_of(s.points.begin(), s.points.end(),
                                          [](const std::pair<double, double>& p) { return std::isfinite(p.second); });
        if (!drawable) continue;
        std::vector<PlotGroup>& groups = by_name[s.name];
        if (groups.empty() || groups.back().run_tag != r.first) groups.push_back({r.first, {}});
        groups.back().series.push_back(&s);
      }
    }
    span = Span(all);
    const double x1 = x0 + std::max(span, 1.0);
    const std::string overlay = FaultOverlay(marks);
    const bool many = runs.size() > 1;
    std::string family;
    for (const auto& entry : by_name) {
      const std::string& name = entry.first;
      const std::vector<PlotGroup>& groups = entry.second;
      if (Family(name) != family) {
        if (!family.empty()) body_ += "</section>\n";
        family = Family(name);
        body_ += "<section data-section=\"timeseries\" data-family=\"" + Html(family) + "\" id=\"" + id + "-" +
                 Html(family) + "\">\n<h3>" + Html(FamilyTitle(family)) + "</h3>\n";
      }
      size_t total = 0, lines = 0;
      bool per_node = false;
      for (const PlotGroup& g : groups) {
        lines += g.series.size();
        for (const SeriesData* s : g.series) {
          total += s->points.size();
          per_node |= s->node != kNoNode;
        }
      }
      const size_t stride = total > kMaxPointsPerPlot ? (total + kMaxPointsPerPlot - 1) / kMaxPointsPerPlot : 1;
      const std::string unit = MetricUnit(name);
      std::string script = Preamble(TimeLabel(), name + " (" + unit + ")");
      // Headroom, so a line at its maximum does not hide under the border.
      script += "set xrange [" + Exact(scale_(x0)) + ":" + Exact(scale_(x1)) + "]\nset offsets 0, 0, graph 0.08, 0\n" +
                overlay;
      // Too many lines: each run's series become one cloud of points.
      const bool cloud = lines > (per_node ? kMaxNodeLinesPerPlot : kMaxLinesPerPlot);
      static const char* kRunColours[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
                                          "#e377c2", "#17becf"};
      std::string plot;
      size_t block = 0, kept = 0;
      for (size_t gi = 0; gi < groups.size(); ++gi) {
        const PlotGroup& g = groups[gi];
        for (size_t i = 0; i < g.series.size(); ++i) {
          const SeriesData& s = *g.series[i];
          if (!cloud || i == 0) {
            ++block;
            script += "$d" + std::to_string(block) + " << EOD\n";
          }
          for (size_t k = 0; k < s.points.size(); ++k) {
            const auto& p = s.points[k];
            if (!std::isfinite(p.second) || (k % stride) != 0) continue;
            script += Exact(scale_(p.first)) + " " + Exact(p.second) + "\n";
            ++kept;
          }
          if (!cloud || i + 1 == g.series.size()) script += "EOD\n";
          if (!cloud) {
            const bool few = s.points.size() < 40;
            std::string title = SeriesTitle(s);
            if (many) title = g.run_tag + (g.series.size() > 1 || title != s.name ? ": " + title : "");
            plot += std::string(plot.empty() ? "plot " : ", ") + "$d" + std::to_string(block) + " using 1:2 with " +
                    (few ? "linespoints pt 7 ps 0.6" : "lines") + " lw 2" +
                    (many && g.series.size() == 1 ? " lc rgb '" + std::string(kRunColours[gi % 8]) + "'" : "") +
                    // Each run its own dashes, so a run drawn over another identical one still shows.
                    (many ? " dt " + std::to_string(gi % 5 + 1) : "") +
                    " title " + GpString(title);
          } else if (i + 1 == g.series.size()) {
            const std::string what = std::to_string(g.series.size()) + " series (nodes or labels), one point per sample";
            plot += std::string(plot.empty() ? "plot " : ", ") + "$d" + std::to_string(block) +
                    " using 1:2 with points pt 7 ps 0.35 lc rgb '" + kRunColours[gi % 8] + "' title " +
                    GpString(many ? g.run_tag + ": " + what : what);
          }
        }
      }
      script += plot + "\n";
      std::string caption = "<code>" + Html(name) + "</code> in " + Html(unit) + ", " + std::to_string(lines) +
                            " series" + (many ? " over " + std::to_string(groups.size()) + " runs" : "") + ", " +
                            std::to_string(kept) + " samples" +
                            (stride > 1 ? " (every " + std::to_string(stride) + "th of " + std::to_string(total) +
                                              " shown)"
                                        : "") +
                            "." + FaultNote(marks);
      EDGEBED_RETURN_IF_ERROR(Plot(script, caption, name));
    }
    if (!family.empty()) body_ += "</section>\n";
    return Status::Ok();
  }

  Status AddPodStartupCdf(const std::vector<std::pair<std::string, const RunData*>>& runs, const std::string& id) {
    std::vector<std::pair<std::string, std::vector<double>>> per_run;
    for (const auto& r : runs) {
      std::vector<double> values = FiniteValues(*r.second, "cluster.pod_startup_s");
      if (values.empty()) continue;
      std::sort(values.begin(), values.end());
      per_run.emplace_back(r.first, std::move(values));
    }
    if (per_run.empty()) return Status::Ok();
    const bool many = runs.size() > 1;
    std::string script = Preamble("pod start-up latency: creation to Running (s)", "fraction of pods started (0-1)");
    script += "set yrange [0:1.02]\nset ytics 0.1\n";
    std::string plot;
    std::string table = "<table class=\"summary\">\n<tr>" + std::string(many ? "<th>run</th>" : "") +
                        "<th>pods started</th><th>p50</th><th>p90</th><th>p99</th><th>max</th></tr>\n";
    for (size_t k = 0; k < per_run.size(); ++k) {
      const std::vector<double>& values = per_run[k].second;
      const size_t n = values.size();
      script += "$cdf" + std::to_string(k) + " << EOD\n" + Exact(values.front()) + " 0\n";
      const size_t stride = n > kMaxPointsPerPlot ? (n + kMaxPointsPerPlot - 1) / kMaxPointsPerPlot : 1;
      for (size_t i = 0; i < n; ++i)
        if (i % stride == 0 || i + 1 == n)
          script += Exact(values[i]) + " " + Exact(static_cast<double>(i + 1) / n) + "\n";
      script += "EOD\n";
      plot += std::string(plot.empty() ? "plot " : ", ") + "$cdf" + std::to_string(k) + " using 1:2 with steps lw 2" +
              (many ? " dt " + std::to_string(k % 5 + 1) : std::string()) + " title " + GpString((many ? per_run[k].first + ": " : std::string()) + "cluster.pod_startup_s, " +
                                   std::to_string(n) + " pods");
      table += "<tr>" + (many ? "<td>" + Html(per_run[k].first) + "</td>" : std::string()) + "<td class=\"n\">" +
               std::to_string(n) + "</td><td class=\"n\">" + Num(results::NearestRank(values, 50), 4) +
               " s</td><td class=\"n\">" + Num(results::NearestRank(values, 90), 4) + " s</td><td class=\"n\">" +
               Num(results::NearestRank(values, 99), 4) + " s</td><td class=\"n\">" + Num(values.back(), 4) +
               " s</td></tr>\n";
    }
    script += plot + "\n";
    OpenSection("pod-startup-cdf", id, "Pod start-up latency");
    body_ += table + "</table>\n";
    EDGEBED_RETURN_IF_ERROR(Plot(script,
                                 "Cumulative distribution of <code>cluster.pod_startup_s</code> over every pod "
                                 "of the run: the share of pods Running within x seconds of their creation.",
                                 "cluster.pod_startup_s"));
    body_ += "</section>\n";
    return Status::Ok();
  }

  // "3 h 20 min", "12 min", "45 s": a time to full, for a person.
  static std::string Duration(double s) {
    if (s >= 2 * 86400) return Num(s / 86400, 3) + " days";
    if (s >= 2 * 3600) return Num(s / 3600, 3) + " h";
    if (s >= 120) return Num(s / 60, 3) + " min";
    return Num(s, 3) + " s";
  }

  const ReportOptions& options_;
  const double options_sigma_k_ = storage::ForecastOptions().sigma_k;
  std::string toc_, body_;
  int plots_ = 0, articles_ = 0;
  TimeScale scale_;
};

std::string FileSafe(const std::string& s) {
  std::string out;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '-' || c == '=' || c == '_';
    out += ok ? c : '_';
  }
  return out.empty() ? "none" : out;
}

std::string Csv(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace

std::string MetricUnit(const std::string& name) {
  static const std::vector<std::pair<std::string, std::string>> kSuffixes = {
      {"_per_s", "1/s"}, {"_ms", "ms"}, {"_s", "s"}, {"_bytes", "bytes"}, {"utilisation", "fraction 0-1"},
  };
  for (const auto& s : kSuffixes)
    if (name.size() > s.first.size() && name.compare(name.size() - s.first.size(), s.first.size(), s.first) == 0)
      return s.second;
  static const std::vector<std::pair<std::string, std::string>> kCounted = {
      {"cluster.pods", "pods"},           {"cluster.nodes", "nodes"},         {"storage.volumes", "volumes"},
      {"storage.replicas", "replicas"},   {"policy.flows", "flows"},          {"policy.ids_alerts", "alerts"},
      {"workload.messages", "messages"},  {"workload.connect_failures", "failures"},
      {"workload.jobs_done", "jobs"},
  };
  for (const auto& c : kCounted)
    if (name.rfind(c.first, 0) == 0) return c.second;
  return "value";
}

StatusOr<std::vector<RunData>> LoadResults(const std::vector<std::string>& db_paths) {
  std::vector<RunData> out;
  for (const std::string& path : db_paths) {
    auto db = results::ResultsDb::OpenReadOnly(path);
    if (!db.ok()) return db.status();
    auto runs = (*db)->Runs();
    if (!runs.ok()) return Status(runs.status()).WithContext(path);
    if (runs->empty()) {
      return InvalidArgument("a results database with no run in it; record a run into it first "
                             "(edgebed-sim run SCENARIO --db " + path + ")",
                             path);
    }
    for (results::RunRow& row : *runs) {
      RunData run;
      run.db_path = path;
      const int64_t id = row.run_id;
      run.run = std::move(row);
      auto names = (*db)->MetricNames(id);
      if (!names.ok()) return Status(names.status()).WithContext(path);
      for (const std::string& name : *names) {
        auto samples = (*db)->Samples(id, name);
        if (!samples.ok()) return Status(samples.status()).WithContext(path);
        std::map<std::pair<NodeId, std::string>, SeriesData> grouped;
        for (const MetricSample& m : *samples) {
          SeriesData& s = grouped[{m.node, m.labels}];
          if (s.name.empty()) {
            s.name = name;
            s.node = m.node;
            s.labels = m.labels;
          }
          s.points.emplace_back(Seconds(m.time), m.value);
        }
        for (auto& g : grouped) run.series.push_back(std::move(g.second));
      }
      auto events = (*db)->Events(id);
      if (!events.ok()) return Status(events.status()).WithContext(path);
      run.events = std::move(*events);
      out.push_back(std::move(run));
    }
  }
  return out;
}

StatusOr<std::string> RenderHtml(const std::vector<RunData>& runs, const ReportOptions& options) {
  Page page(options);
  std::set<std::string> scenarios;
  const bool many = runs.size() > 1;
  std::vector<std::pair<std::string, const RunData*>> tagged;
  for (size_t i = 0; i < runs.size(); ++i) {
    scenarios.insert(runs[i].run.info.scenario);
    tagged.emplace_back("r" + std::to_string(i + 1), &runs[i]);
  }
  if (many) EDGEBED_RETURN_IF_ERROR(page.AddComparison(tagged));
  for (const auto& t : tagged) EDGEBED_RETURN_IF_ERROR(page.AddRun(*t.second, t.first, many));
  std::string title = "edgebed report:";
  for (const std::string& s : scenarios) title += " " + s;
  return page.Finish(title);
}

StatusOr<size_t> WriteCsv(const std::vector<RunData>& runs, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return IoError("cannot create the directory: " + ec.message() + "; check the path and its permissions", dir);
  std::set<std::string> dbs;
  for (const RunData& r : runs) dbs.insert(r.db_path);
  std::map<std::string, int> db_number;
  for (const RunData& r : runs) db_number.emplace(r.db_path, static_cast<int>(db_number.size()) + 1);
  const bool many_dbs = dbs.size() > 1;
  std::string index = "file,database,run,metric,node,labels\n";
  std::set<std::string> used;
  size_t written = 0;
  for (const RunData& run : runs) {
    for (const SeriesData& s : run.series) {
      std::string base = (many_dbs ? "db" + std::to_string(db_number[run.db_path]) + "_" : std::string()) + "run" +
                         std::to_string(run.run.run_id) + "__" + FileSafe(s.name) + "__" +
                         (s.node == kNoNode ? std::string("run") : "node" + std::to_string(s.node)) + "__" +
                         FileSafe(s.labels);
      std::string file = base + ".csv";
      for (int k = 2; used.count(file); ++k) file = base + "__" + std::to_string(k) + ".csv";
      used.insert(file);
      const std::string path = (std::filesystem::path(dir) / file).string();
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out << "t_s,value\n";
      for (const auto& p : s.points) out << Exact(p.first) << ',' << Exact(p.second) << '\n';
      out.close();
      if (!out) return IoError("cannot write the CSV file; check free space and permissions", path);
      index += Csv(file) + "," + Csv(run.db_path) + "," + std::to_string(run.run.run_id) + "," + Csv(s.name) + "," +
               (s.node == kNoNode ? std::string() : std::to_string(s.node)) + "," + Csv(s.labels) + "\n";
      ++written;
    }
  }
  const std::string index_path = (std::filesystem::path(dir) / "index.csv").string();
  std::ofstream out(index_path, std::ios::binary | std::ios::trunc);
  out << index;
  out.close();
  if (!out) return IoError("cannot write the CSV index; check free space and permissions", index_path);
  return written;
}

}  // namespace edgebed::reports
