#include "reports/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <tuple>

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
  return name == "sim.fault_recovery_s" || name == "cluster.pod_startup_s";
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

class Page {
 public:
  explicit Page(const ReportOptions& options) : options_(options) {}

  Status AddRun(const RunData& run, size_t index, bool many) {
    const RunRow& r = run.run;
    const std::string id = "r" + std::to_string(index + 1);
    const std::string heading = r.info.scenario + ", seed " + std::to_string(r.info.seed) +
                                (many ? " (run " + std::to_string(r.run_id) + " of " + run.db_path + ")" : "");
    toc_ += "<li><a href=\"#" + id + "\">" + Html(heading) + "</a></li>\n";
    body_ += "<article class=\"run\" id=\"" + id + "\">\n<h2>" + Html(heading) + "</h2>\n";
    AddRunSection(run, id);
    const std::vector<FaultRow> faults = Faults(run);
    AddFaultSection(faults, id);
    EDGEBED_RETURN_IF_ERROR(AddTimeSeries(run, faults, id));
    EDGEBED_RETURN_IF_ERROR(AddPodStartupCdf(run, id));
    body_ += "</article>\n";
    return Status::Ok();
  }

  std::string Finish(const std::string& title) const {
    std::string out =
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>" +
        Html(title) + "</title>\n<style>\n" + kStyle + "</style>\n</head>\n<body>\n<header><h1>" + Html(title) +
        "</h1>\n<p>Made from the results database by <code>edgebed report</code>. Times are simulated "
        "seconds since the start of the run; the schema is documented in reports/README.md.</p>\n"
        "<nav><ol>\n" + toc_ + "</ol></nav>\n</header>\n<main>\n" + body_ + "</main>\n</body>\n</html>\n";
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
      "td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
      "figure{margin:.6em 0 1.4em;break-inside:avoid;page-break-inside:avoid}figure svg{width:100%;height:auto;"
      "display:block}\n"
      "figcaption{font-size:.9em;color:#444}\ncode{font-size:.95em}\n.note{color:#666;font-size:.9em}\n"
      "@media print{body{max-width:none;padding:0;font-size:11pt}nav{display:none}"
      "article.run{break-before:page}h2,h3{break-after:avoid}}\n";

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
    body_ += "<section data-section=\"run\" id=\"" + id + "-run\">\n<h3>The run</h3>\n" + Definitions("run", rows);
    if (!r.info.parameters.empty()) {
      body_ += "<h4>Parameters</h4>\n" + Definitions("parameters", r.info.parameters);
    }
    if (!r.wallclock.empty()) {
      std::vector<std::pair<std::string, std::string>> speed;
      for (const auto& w : r.wallclock) speed.emplace_back(w.first, Readable(w.second));
      body_ += "<h4>Simulator speed</h4>\n<p class=\"note\">Measured on the machine that ran it; "
               "differs from run to run.</p>\n" + Definitions("wallclock", speed);
    }
    body_ += "</section>\n";
  }

  void AddFaultSection(const std::vector<FaultRow>& faults, const std::string& id) {
    if (faults.empty()) return;
    body_ += "<section data-section=\"faults\" id=\"" + id +
             "-faults\">\n<h3>Faults and recovery</h3>\n<p class=\"note\">Recovery: from the fault's start (or "
             "its end, when it was undone) until every up node is Ready and every pod Running.</p>\n"
             "<table class=\"faults\">\n<tr><th>fault</th><th>what</th><th>start (s)</th><th>end (s)</th>"
             "<th>recovery</th></tr>\n";
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

  // Fault starts as dashed lines labelled F<n>, their spans shaded.
  static std::string FaultOverlay(const std::vector<FaultRow>& faults) {
    std::string s;
    int object = 1;
    for (const FaultRow& f : faults) {
      if (!f.start_s) continue;
      if (f.end_s && *f.end_s > *f.start_s) {
        s += "set object " + std::to_string(object++) + " rect from " + Exact(*f.start_s) + ", graph 0 to " +
             Exact(*f.end_s) + ", graph 1 fc rgb '#f4c7c3' fs solid 0.35 noborder behind\n";
      }
      s += "set arrow from " + Exact(*f.start_s) + ", graph 0 to " + Exact(*f.start_s) +
           ", graph 1 nohead lc rgb '#b03a2e' lw 1.5 dt 2 front\n";
      s += "set label " + GpString("F" + std::to_string(f.number)) + " at " + Exact(*f.start_s) +
           ", graph 1 offset 0.4,-0.9 tc rgb '#b03a2e' front\n";
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

  Status AddTimeSeries(const RunData& run, const std::vector<FaultRow>& faults, const std::string& id) {
    // name -> its series, in the run's order; grouped by family, in name order.
    std::map<std::string, std::vector<const SeriesData*>> by_name;
    for (const SeriesData& s : run.series) {
      if (HasOwnSection(s.name)) continue;
      const bool drawable = std::any_of(s.points.begin(), s.points.end(),
                                        [](const std::pair<double, double>& p) { return std::isfinite(p.second); });
      if (drawable) by_name[s.name].push_back(&s);
    }
    const RunRow& r = run.run;
    const double x0 = Seconds(r.info.start);
    double x1 = r.end ? Seconds(*r.end) : x0;
    for (const auto& entry : by_name)
      for (const SeriesData* s : entry.second) x1 = std::max(x1, s->points.back().first);
    if (x1 <= x0) x1 = x0 + 1;
    const std::string overlay = FaultOverlay(faults);
    const std::string fault_note =
        overlay.empty() ? "" : " Dashed red lines: fault starts (F<i>n</i>, see the faults table); shaded: while "
                               "a fault lasted.";
    std::string family;
    for (const auto& entry : by_name) {
      const std::string& name = entry.first;
      const std::vector<const SeriesData*>& series = entry.second;
      if (Family(name) != family) {
        if (!family.empty()) body_ += "</section>\n";
        family = Family(name);
        body_ += "<section data-section=\"timeseries\" data-family=\"" + Html(family) + "\" id=\"" + id + "-" +
                 Html(family) + "\">\n<h3>" + Html(FamilyTitle(family)) + "</h3>\n";
      }
      size_t total = 0;
      for (const SeriesData* s : series) total += s->points.size();
      const size_t stride = total > kMaxPointsPerPlot ? (total + kMaxPointsPerPlot - 1) / kMaxPointsPerPlot : 1;
      const std::string unit = MetricUnit(name);
      std::string script = Preamble("simulated time (s)", name + " (" + unit + ")");
      // Headroom, so a line at its maximum does not hide under the border.
      script += "set xrange [" + Exact(x0) + ":" + Exact(x1) + "]\nset offsets 0, 0, graph 0.08, 0\n" + overlay;
      const bool per_node = std::any_of(series.begin(), series.end(),
                                        [](const SeriesData* s) { return s->node != kNoNode; });
      const bool cloud = series.size() > (per_node ? kMaxNodeLinesPerPlot : kMaxLinesPerPlot);
      std::string plot;
      size_t block = 0;
      size_t kept = 0;
      for (size_t i = 0; i < series.size(); ++i) {
        const SeriesData& s = *series[i];
        if (!cloud || i == 0) {
          ++block;
          script += "$d" + std::to_string(block) + " << EOD\n";
        }
        for (size_t k = 0; k < s.points.size(); ++k) {
          const auto& p = s.points[k];
          if (!std::isfinite(p.second) || (k % stride) != 0) continue;
          script += Exact(p.first) + " " + Exact(p.second) + "\n";
          ++kept;
        }
        if (!cloud || i + 1 == series.size()) script += "EOD\n";
        if (!cloud) {
          const bool few = s.points.size() < 40;
          plot += std::string(plot.empty() ? "plot " : ", ") + "$d" + std::to_string(block) +
                  " using 1:2 with " + (few ? "linespoints pt 7 ps 0.6" : "lines") + " lw 2 title " +
                  GpString(SeriesTitle(s));
        }
      }
      if (cloud) {
        plot = "plot $d1 using 1:2 with points pt 7 ps 0.35 lc rgb '#1f77b4' title " +
               GpString(std::to_string(series.size()) + " series (nodes or labels), one point per sample");
      }
      script += plot + "\n";
      std::string caption = "<code>" + Html(name) + "</code> in " + Html(unit) + ", " +
                            std::to_string(series.size()) + " series, " + std::to_string(kept) + " samples" +
                            (stride > 1 ? " (every " + std::to_string(stride) + "th of " + std::to_string(total) +
                                              " shown)"
                                        : "") +
                            "." + fault_note;
      EDGEBED_RETURN_IF_ERROR(Plot(script, caption, name));
    }
    if (!family.empty()) body_ += "</section>\n";
    return Status::Ok();
  }

  Status AddPodStartupCdf(const RunData& run, const std::string& id) {
    std::vector<double> values;
    for (const SeriesData& s : run.series) {
      if (s.name != "cluster.pod_startup_s") continue;
      for (const auto& p : s.points)
        if (std::isfinite(p.second)) values.push_back(p.second);
    }
    if (values.empty()) return Status::Ok();
    std::sort(values.begin(), values.end());
    const size_t n = values.size();
    std::string script = Preamble("pod start-up latency: creation to Running (s)", "fraction of pods started (0-1)");
    script += "set yrange [0:1.02]\nset ytics 0.1\n$cdf << EOD\n" + Exact(values.front()) + " 0\n";
    const size_t stride = n > kMaxPointsPerPlot ? (n + kMaxPointsPerPlot - 1) / kMaxPointsPerPlot : 1;
    for (size_t i = 0; i < n; ++i)
      if (i % stride == 0 || i + 1 == n) script += Exact(values[i]) + " " + Exact(static_cast<double>(i + 1) / n) + "\n";
    script += "EOD\nplot $cdf using 1:2 with steps lw 2 lc rgb '#1f77b4' title " +
              GpString("cluster.pod_startup_s, " + std::to_string(n) + " pods") + "\n";
    body_ += "<section data-section=\"pod-startup-cdf\" id=\"" + id +
             "-pod-startup\">\n<h3>Pod start-up latency</h3>\n" +
             Definitions("summary", {{"pods started", std::to_string(n)},
                                     {"p50", Num(results::NearestRank(values, 50), 4) + " s"},
                                     {"p90", Num(results::NearestRank(values, 90), 4) + " s"},
                                     {"p99", Num(results::NearestRank(values, 99), 4) + " s"},
                                     {"max", Num(values.back(), 4) + " s"}});
    EDGEBED_RETURN_IF_ERROR(Plot(script,
                                 "Cumulative distribution of <code>cluster.pod_startup_s</code> over every pod "
                                 "of the run: the share of pods Running within x seconds of their creation.",
                                 "cluster.pod_startup_s"));
    body_ += "</section>\n";
    return Status::Ok();
  }

  const ReportOptions& options_;
  std::string toc_, body_;
  int plots_ = 0;
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
  for (size_t i = 0; i < runs.size(); ++i) {
    scenarios.insert(runs[i].run.info.scenario);
    EDGEBED_RETURN_IF_ERROR(page.AddRun(runs[i], i, runs.size() > 1));
  }
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
