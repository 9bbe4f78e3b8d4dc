// The report: what a results database holds is what the page shows, and
// nothing else; the same database gives the same page; bad input gives a
// clear error and the documented exit code.
#include "reports/report.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/results/results_db.h"
#include "reports/gnuplot.h"
#include "tests/tools/process_util.h"

namespace edgebed::reports {
namespace {

namespace fs = std::filesystem;

const std::string kEdgebed = std::string(EDGEBED_BINARY_DIR) + "/tools/edgebed";

Time At(double seconds) { return Time(std::chrono::nanoseconds(static_cast<int64_t>(seconds * 1e9))); }

struct TempDir {
  TempDir() {
    path = fs::temp_directory_path() / ("edgebed-report-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string Path(const std::string& name) const { return (path / name).string(); }
  fs::path path;
};

// A small run as edgebed-sim records one: pods Running over time, an
// end-to-end latency with two quantiles, a fault that starts, ends and is
// recovered from, and the start-up latency of pods on three nodes. No
// storage and no policy metrics.
void RecordSmallRun(const std::string& path, bool with_faults_and_startup = true) {
  auto db = results::ResultsDb::Open(path);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto run = (*db)->BeginRun({"tiny", "scenarios/tiny.yaml", 7, "abc123", {{"nodes", "3"}, {"duration_s", "120"}}});
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  results::ResultsDb& sink = **db;
  for (int t = 0; t <= 120; t += 10) {
    const double running = (t >= 40 && t < 70) ? 4 : 6;
    sink.Record({At(t), kNoNode, "cluster.pods", running, "phase=Running"});
    sink.Record({At(t), kNoNode, "workload.e2e_latency_ms", 20.0 + t % 30, "quantile=0.5,workload=inference"});
    sink.Record({At(t), kNoNode, "workload.e2e_latency_ms", 45.0 + t % 40, "quantile=0.99,workload=inference"});
  }
  if (with_faults_and_startup) {
    sink.Event({At(40), kNoNode, "sim.fault_start", "fault=1 node-crash n1 for 30s"});
    sink.Event({At(70), kNoNode, "sim.fault_end", "fault=1 node-crash n1 for 30s"});
    sink.Record({At(55), kNoNode, "sim.fault_recovery_s", 15, "fault=1,kind=node-crash,target=n1"});
    sink.Record({At(78), kNoNode, "sim.fault_recovery_s", 8, "fault=1,kind=node-crash,target=n1"});
    for (NodeId node = 0; node < 3; ++node)
      for (int i = 0; i < 4; ++i)
        sink.Record({At(5 + i), node, "cluster.pod_startup_s", 1.5 + node * 0.5 + i * 0.25, "node=n" + std::to_string(node)});
  }
  ASSERT_TRUE(sink.EndRun(At(120)).ok());
  ASSERT_TRUE(sink.RecordWallClock({{"wall_seconds", 2.5}, {"sim_seconds_per_wall_second", 48}}).ok());
  ASSERT_TRUE(sink.Close().ok());
}

bool HaveGnuplot() { return RunGnuplot("set terminal svg\nplot x\n").ok(); }

// The text of the <section> whose opening tag contains `marker`, or "".
std::string Section(const std::string& html, const std::string& marker) {
  const size_t at = html.find(marker);
  if (at == std::string::npos) return "";
  const size_t begin = html.rfind("<section", at);
  const size_t end = html.find("</section>", at);
  if (begin == std::string::npos || end == std::string::npos) return "";
  return html.substr(begin, end - begin);
}

// A plot that draws something: an inline <svg> with a line in it.
bool HasDrawnPlot(const std::string& section) {
  const size_t svg = section.find("<svg");
  if (svg == std::string::npos) return false;
  return section.find("<path", svg) != std::string::npos || section.find("<polyline", svg) != std::string::npos;
}

TEST(LoadResults, GroupsSamplesIntoSeriesAndKeepsEvents) {
  TempDir dir;
  RecordSmallRun(dir.Path("r.db"));
  auto runs = LoadResults({dir.Path("r.db")});
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  ASSERT_EQ(runs->size(), 1u);
  const RunData& run = runs->front();
  EXPECT_EQ(run.run.info.scenario, "tiny");
  EXPECT_EQ(run.run.info.seed, 7u);
  // cluster.pods, pod_startup_s x3 nodes, fault_recovery_s, e2e x2 quantiles.
  ASSERT_EQ(run.series.size(), 7u);
  EXPECT_EQ(run.series[0].name, "cluster.pod_startup_s");
  EXPECT_EQ(run.series[0].node, 0u);
  EXPECT_EQ(run.series[0].points.size(), 4u);
  EXPECT_EQ(run.series[3].name, "cluster.pods");
  EXPECT_EQ(run.series[3].points.size(), 13u);
  EXPECT_DOUBLE_EQ(run.series[3].points[5].first, 50.0);
  EXPECT_DOUBLE_EQ(run.series[3].points[5].second, 4.0);
  EXPECT_EQ(run.events.size(), 2u);
}

TEST(MetricUnit, ComesFromTheNamesSuffix) {
  EXPECT_EQ(MetricUnit("probe.rtt_ms"), "ms");
  EXPECT_EQ(MetricUnit("sim.fault_recovery_s"), "s");
  EXPECT_EQ(MetricUnit("storage.replicated_writes_per_s"), "1/s");
  EXPECT_EQ(MetricUnit("datastore.log_bytes"), "bytes");
  EXPECT_EQ(MetricUnit("cluster.pods"), "pods");
  EXPECT_EQ(MetricUnit("net.link_utilisation"), "fraction 0-1");
  EXPECT_EQ(MetricUnit("something.else"), "value");
}

TEST(RenderHtml, ShowsEverySectionTheDataHasWithAPlotAndNoOther) {
  if (!HaveGnuplot()) GTEST_SKIP() << "gnuplot is not installed (apt-get install -y gnuplot-nox)";
  TempDir dir;
  RecordSmallRun(dir.Path("r.db"));
  auto runs = LoadResults({dir.Path("r.db")});
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  auto html = RenderHtml(*runs);
  ASSERT_TRUE(html.ok()) << html.status().ToString();

  const std::string run = Section(*html, "data-section=\"run\"");
  ASSERT_FALSE(run.empty());
  for (const char* fact : {"tiny", "scenarios/tiny.yaml", "abc123", "duration_s", "120 s", "wall_seconds"})
    EXPECT_NE(run.find(fact), std::string::npos) << fact;

  const std::string faults = Section(*html, "data-section=\"faults\"");
  ASSERT_FALSE(faults.empty());
  EXPECT_NE(faults.find("node-crash n1 for 30s"), std::string::npos);
  EXPECT_NE(faults.find("15 s after it began"), std::string::npos) << faults;
  EXPECT_NE(faults.find("8 s after it ended"), std::string::npos) << faults;

  for (const char* family : {"data-family=\"cluster\"", "data-family=\"workload\""}) {
    const std::string section = Section(*html, family);
    ASSERT_FALSE(section.empty()) << family;
    EXPECT_TRUE(HasDrawnPlot(section)) << family;
    EXPECT_NE(section.find("simulated time (s)"), std::string::npos) << family;  // the x axis, with its unit
  }
  // The fault is drawn over the time series.
  EXPECT_NE(Section(*html, "data-family=\"cluster\"").find(">F1<"), std::string::npos);
  const std::string cdf = Section(*html, "data-section=\"pod-startup-cdf\"");
  ASSERT_FALSE(cdf.empty());
  EXPECT_TRUE(HasDrawnPlot(cdf));
  EXPECT_NE(cdf.find("12"), std::string::npos);  // pods started

  // No data, no section.
  EXPECT_EQ(html->find("data-family=\"storage\""), std::string::npos);
  EXPECT_EQ(html->find("data-family=\"policy\""), std::string::npos);
  EXPECT_EQ(html->find("data-family=\"sim\""), std::string::npos);  // recovery is in the faults table
  // Self-contained: nothing is fetched.
  EXPECT_EQ(html->find("<script src"), std::string::npos);
  EXPECT_EQ(html->find("<link"), std::string::npos);
  EXPECT_EQ(html->find("<img"), std::string::npos);
  EXPECT_EQ(html->find("<?xml"), std::string::npos);
}

TEST(RenderHtml, LeavesOutFaultsAndStartupWhenTheRunHasNone) {
  if (!HaveGnuplot()) GTEST_SKIP() << "gnuplot is not installed (apt-get install -y gnuplot-nox)";
  TempDir dir;
  RecordSmallRun(dir.Path("r.db"), /*with_faults_and_startup=*/false);
  auto runs = LoadResults({dir.Path("r.db")});
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  auto html = RenderHtml(*runs);
  ASSERT_TRUE(html.ok()) << html.status().ToString();
  EXPECT_NE(html->find("data-section=\"run\""), std::string::npos);
  EXPECT_TRUE(HasDrawnPlot(Section(*html, "data-family=\"cluster\"")));
  EXPECT_EQ(html->find("data-section=\"faults\""), std::string::npos);
  EXPECT_EQ(html->find("data-section=\"pod-startup-cdf\""), std::string::npos);
  EXPECT_EQ(html->find("F1"), std::string::npos);
}

TEST(RenderHtml, TheSameDatabaseGivesTheSameBytes) {
  if (!HaveGnuplot()) GTEST_SKIP() << "gnuplot is not installed (apt-get install -y gnuplot-nox)";
  TempDir dir;
  RecordSmallRun(dir.Path("r.db"));
  auto runs = LoadResults({dir.Path("r.db")});
  ASSERT_TRUE(runs.ok());
  auto a = RenderHtml(*runs);
  auto b = RenderHtml(*runs);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(*a == *b);
}

TEST(RenderHtml, NamesTheFixWhenGnuplotIsMissing) {
  TempDir dir;
  RecordSmallRun(dir.Path("r.db"));
  auto runs = LoadResults({dir.Path("r.db")});
  ASSERT_TRUE(runs.ok());
  ReportOptions options;
  options.gnuplot.program = "edgebed-no-such-gnuplot";
  auto html = RenderHtml(*runs, options);
  ASSERT_FALSE(html.ok());
  EXPECT_EQ(html.status().code(), StatusCode::kNotFound);
  EXPECT_NE(html.status().message().find("apt-get install -y gnuplot-nox"), std::string::npos)
      << html.status().ToString();
}

TEST(RunGnuplot, StopsAScriptThatOutlivesItsTimeout) {
  if (!HaveGnuplot()) GTEST_SKIP() << "gnuplot is not installed (apt-get install -y gnuplot-nox)";
  GnuplotOptions options;
  options.timeout = std::chrono::milliseconds(200);
  auto out = RunGnuplot("pause 30\n", options);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kDeadlineExceeded);
}

TEST(RunGnuplot, ReportsWhatGnuplotSaidAboutABadScript) {
  if (!HaveGnuplot()) GTEST_SKIP() << "gnuplot is not installed (apt-get install -y gnuplot-nox)";
  auto out = RunGnuplot("plot no_such_function(\n");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(out.status().message().find("invalid expression"), std::string::npos) << out.status().ToString();
}

TEST(LoadResults, RefusesMissingForeignAndEmptyFiles) {
  TempDir dir;
  auto missing = LoadResults({dir.Path("missing.db")});
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  std::ofstream(dir.Path("notes.txt")) << "not a database at all, just some words to read\n";
  auto foreign = LoadResults({dir.Path("notes.txt")});
  EXPECT_EQ(foreign.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(foreign.status().ToString().find("not an edgebed results database"), std::string::npos);
  {
    auto db = results::ResultsDb::Open(dir.Path("empty.db"));
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Close().ok());
  }
  auto empty = LoadResults({dir.Path("empty.db")});
  EXPECT_EQ(empty.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(empty.status().ToString().find("no run"), std::string::npos) << empty.status().ToString();
}

TEST(WriteCsv, WritesOneFilePerSeriesAndAnIndex) {
  TempDir dir;
  RecordSmallRun(dir.Path("r.db"));
  auto runs = LoadResults({dir.Path("r.db")});
  ASSERT_TRUE(runs.ok());
  auto written = WriteCsv(*runs, dir.Path("csv"));
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  EXPECT_EQ(*written, 7u);
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir.path / "csv")) files += e.path().extension() == ".csv";
  EXPECT_EQ(files, 8u);  // and index.csv
  const std::string pods =
      tools::ReadFile(dir.path / "csv" / "run1__cluster.pods__run__phase=Running.csv");
  EXPECT_EQ(pods.rfind("t_s,value\n0,6\n10,6\n", 0), 0u) << pods;
  const std::string index = tools::ReadFile(dir.path / "csv" / "index.csv");
  EXPECT_NE(index.find("run1__cluster.pod_startup_s__node2__node=n2.csv," + dir.Path("r.db") +
                       ",1,cluster.pod_startup_s,2,node=n2\n"),
            std::string::npos)
      << index;
  EXPECT_NE(index.find("\"quantile=0.99,workload=inference\""), std::string::npos) << index;
}

// The command, as a user runs it.
TEST(ReportCommand, WritesThePageAndTheCsvFiles) {
  if (!HaveGnuplot()) GTEST_SKIP() << "gnuplot is not installed (apt-get install -y gnuplot-nox)";
  TempDir dir;
  RecordSmallRun(dir.Path("r.db"));
  tools::Outcome o = tools::Shell(kEdgebed + " report " + dir.Path("r.db") + " -o " + dir.Path("page.html") +
                                  " --csv " + dir.Path("csv"));
  EXPECT_EQ(o.exit_code, 0) << o.out;
  EXPECT_NE(o.out.find("report: " + dir.Path("page.html")), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("7 series"), std::string::npos) << o.out;
  EXPECT_TRUE(HasDrawnPlot(Section(tools::ReadFile(dir.path / "page.html"), "data-family=\"cluster\"")));
  // Without -o, the page goes beside the database.
  o = tools::Shell(kEdgebed + " report " + dir.Path("r.db"));
  EXPECT_EQ(o.exit_code, 0) << o.out;
  EXPECT_TRUE(fs::exists(dir.path / "r.html"));
  EXPECT_EQ(tools::ReadFile(dir.path / "r.html"), tools::ReadFile(dir.path / "page.html"));
}

TEST(ReportCommand, ExitsOneOnABadDatabaseAndTwoOnBadUsage) {
  TempDir dir;
  std::ofstream(dir.Path("notes.txt")) << "not a database at all, just some words to read\n";
  tools::Outcome o = tools::Shell(kEdgebed + " report " + dir.Path("notes.txt") + " -o " + dir.Path("x.html"));
  EXPECT_EQ(o.exit_code, 1) << o.out;
  EXPECT_NE(o.out.find(dir.Path("notes.txt") + ": not an edgebed results database"), std::string::npos) << o.out;
  EXPECT_FALSE(fs::exists(dir.path / "x.html"));
  o = tools::Shell(kEdgebed + " report " + dir.Path("missing.db"));
  EXPECT_EQ(o.exit_code, 1) << o.out;
  o = tools::Shell(kEdgebed + " report");
  EXPECT_EQ(o.exit_code, 2) << o.out;
  o = tools::Shell(kEdgebed + " report --no-such-flag " + dir.Path("notes.txt"));
  EXPECT_EQ(o.exit_code, 2) << o.out;
  RecordSmallRun(dir.Path("r.db"));
  o = tools::Shell(kEdgebed + " report " + dir.Path("r.db") + " --gnuplot edgebed-no-such-gnuplot");
  EXPECT_EQ(o.exit_code, 1) << o.out;
  EXPECT_NE(o.out.find("apt-get install -y gnuplot-nox"), std::string::npos) << o.out;
  EXPECT_FALSE(fs::exists(dir.path / "r.html"));
}

}  // namespace
}  // namespace edgebed::reports
