// Report: turns results databases into one self-contained HTML page, and
// their series into CSV files.
//
// LoadResults() reads every run of every database given, read-only, through
// ResultsDb. RenderHtml() writes the page: per run, what ran (scenario, seed,
// revision, parameters, simulated span, simulator speed), a stacked timeline
// of the metrics faults disturb, the faults with their recovery times,
// storage failovers, the cloud recovery point, capacity forecasts (by
// storage::ForecastCapacity, with their band), the top denied flows, IDS
// alerts with their evidence, one plot per metric over simulated time with
// the faults drawn over it (grouped by the metric's family: cluster.,
// storage., policy., ...), and the CDF of pod start-up latency. With several
// runs a comparison comes first: the parameters that differ, headline
// numbers side by side with their differences, and every metric's plot with
// the runs overlaid. Plots are gnuplot's SVG, inlined: the page needs
// nothing but itself, on screen and on paper. reports/README.md lists which
// metrics and events make each section.
//
// What it promises.
//  - A section appears only if the run has its data; there are no empty plots.
//  - Determinism: the same databases give the same bytes (nothing about the
//    time or machine of the report's making is in it). Wall-clock facts the
//    run stored (simulator speed) are shown as stored.
//  - Errors name the file and the fix: a missing, foreign, damaged or empty
//    database, gnuplot missing or failing, a directory that cannot be written.
//
//   auto runs = reports::LoadResults({"results/smart-building.db"});
//   if (!runs.ok()) return runs.status();
//   auto html = reports::RenderHtml(*runs);
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/base/status.h"
#include "core/env/env.h"
#include "core/results/results_db.h"
#include "reports/gnuplot.h"

namespace edgebed::reports {

// One series of a run: a metric name on one node with one label set.
struct SeriesData {
  std::string name;
  NodeId node = kNoNode;  // kNoNode for run-level metrics
  std::string labels;
  // (simulated seconds, value) in time order; NaN values are kept.
  std::vector<std::pair<double, double>> points;
};

// Everything the report shows of one run.
struct RunData {
  std::string db_path;
  results::RunRow run;
  std::vector<SeriesData> series;   // sorted by name, then node, then labels
  std::vector<EventRecord> events;  // in time order
};

// Reads every run of every database in `db_paths`, in the order given.
// Errors: those of ResultsDb::OpenReadOnly (prefixed with the path), and
// kInvalidArgument for a database that holds no run.
StatusOr<std::vector<RunData>> LoadResults(const std::vector<std::string>& db_paths);

struct ReportOptions {
  GnuplotOptions gnuplot;
};

// The HTML page for `runs`. Errors: gnuplot's (see RunGnuplot).
StatusOr<std::string> RenderHtml(const std::vector<RunData>& runs, const ReportOptions& options = {});

// Writes one CSV file per series into `dir` (created if missing), each with
// the header `t_s,value`, named `[dbN_]runR__METRIC__NODE__LABELS.csv`, and
// `index.csv` listing file, database, run, metric, node and labels of each.
// Returns the number of series files written. Errors: kIoError naming the path.
StatusOr<size_t> WriteCsv(const std::vector<RunData>& runs, const std::string& dir);

// The unit a metric's values are in, from its name's suffix (e.g. "ms" for
// probe.rtt_ms, "pods" for cluster.pods); "value" if the name does not say.
std::string MetricUnit(const std::string& name);

}  // namespace edgebed::reports
