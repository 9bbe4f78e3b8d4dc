#include "tools/report_command.h"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "reports/report.h"
#include "tools/flags.h"

namespace edgebed::tools {
namespace {

// results/x.db -> results/x.html
std::string DefaultHtmlPath(const std::string& db) {
  std::filesystem::path p(db);
  p.replace_extension(".html");
  return p.string();
}

}  // namespace

int RunReport(int argc, char** argv) {
  std::vector<std::string> dbs;
  std::string html_path, csv_dir, gnuplot = "gnuplot";
  int64_t timeout_s = 60;
  Flags flags("edgebed report",
              "Makes one self-contained HTML report (plots inlined, drawn by gnuplot) of every run in the\n"
              "results databases: what ran, a timeline of what the faults disturbed, recovery and failover\n"
              "times, the cloud recovery point, capacity forecasts, top denied flows, IDS alerts, every metric\n"
              "over simulated time, pod start-up latency. With several runs: their headline numbers side by\n"
              "side and their plots overlaid. --csv exports every series as CSV.");
  flags.String("output", "o", "the HTML file to write (default: the first database's name, .html for .db)",
               &html_path);
  flags.String("csv", "write one CSV file per series (t_s,value) and index.csv into this directory", &csv_dir);
  flags.String("gnuplot", "the gnuplot program to draw the plots with", &gnuplot);
  flags.Int("gnuplot-timeout", "seconds one plot may take before gnuplot is stopped", &timeout_s);
  flags.Positional("RESULTS.db", &dbs);
  if (int rc = flags.Parse(argc, argv); rc >= 0) return rc;
  if (dbs.empty()) {
    std::cerr << "edgebed report: name a results database, e.g. edgebed report results/smart-building.db\n";
    return 2;
  }
  if (timeout_s <= 0) {
    std::cerr << "--gnuplot-timeout: must be at least 1 second\n";
    return 2;
  }
  const bool write_html = !html_path.empty() || csv_dir.empty();
  if (html_path.empty()) html_path = DefaultHtmlPath(dbs.front());

  auto runs = reports::LoadResults(dbs);
  if (!runs.ok()) {
    std::cerr << "edgebed report: " << runs.status().ToString() << "\n";
    return 1;
  }
  if (!csv_dir.empty()) {
    auto written = reports::WriteCsv(*runs, csv_dir);
    if (!written.ok()) {
      std::cerr << "edgebed report: " << written.status().ToString() << "\n";
      return 1;
    }
    std::cout << "csv: " << csv_dir << " (" << *written << " series, listed in index.csv)\n";
  }
  if (!write_html) return 0;
  reports::ReportOptions options;
  options.gnuplot.program = gnuplot;
  options.gnuplot.timeout = std::chrono::seconds(timeout_s);
  auto html = reports::RenderHtml(*runs, options);
  if (!html.ok()) {
    std::cerr << "edgebed report: " << html.status().ToString() << "\n";
    return 1;
  }
  // Written beside the target and renamed, so a failed write leaves no half page.
  const std::string tmp = html_path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << *html;
    out.close();
    if (!out) {
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
      std::cerr << "edgebed report: " << html_path
                << ": cannot write the report; check that the directory exists and is writable\n";
      return 1;
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, html_path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    std::cerr << "edgebed report: " << html_path << ": cannot write the report (" << ec.message()
              << "); check that the directory is writable\n";
    return 1;
  }
  std::cout << "report: " << html_path << "\n";
  return 0;
}

}  // namespace edgebed::tools
