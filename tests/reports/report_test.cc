// The report: what a results database holds is what the page shows, and
// nothing else; the same database gives the same page; bad input gives a
// clear error and the documented exit code.
#include "reports/report.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
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
  explicit TempDir(const std::string& name = ::testing::UnitTest::GetInstance()->current_test_info()->name()) {
    path = fs::temp_directory_path() / ("edgebed-report-" + std::to_string(::getpid()) + "-" + name);
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
  // One bad database among good ones spoils the report, and is named.
  RecordSmallRun(dir.Path("good.db"));
  auto mixed = LoadResults({dir.Path("good.db"), dir.Path("notes.txt")});
  EXPECT_EQ(mixed.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(mixed.status().ToString().find(dir.Path("notes.txt")), std::string::npos) << mixed.status().ToString();
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

// A run with storage, disaster recovery and policy data, as the simulation
// records them: node names from the server's join events, a failover whose
// new primary failed over again, a replica's catch-up, two cloud backups, a
// volume filling at a steady 1 MiB per 100 s, one already full and one never
// written, flows denied (one repeated, one a scan over ports), an IDS alert.
void RecordStorageAndPolicyRun(const std::string& path) {
  auto db = results::ResultsDb::Open(path);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  ASSERT_TRUE((*db)->BeginRun({"rich", "", 3, "abc123", {{"nodes", "12"}}}).ok());
  results::ResultsDb& sink = **db;
  constexpr NodeId kServer = 16;
  for (int id : {3, 7, 11})
    sink.Event({At(1), kServer, "cluster.node_joined", "node=n" + std::to_string(id) + " id=" + std::to_string(id) +
                                                           " pod_cidr=10.0." + std::to_string(id) + ".0/24"});
  sink.Event({At(300), kNoNode, "sim.fault_start", "fault=1 node-crash n3 for 60s"});
  sink.Event({At(360), kNoNode, "sim.fault_end", "fault=1 node-crash n3 for 60s"});
  sink.Event({At(302), kServer, "storage.failover", "volume=ns/data from=3 to=11 silent_s=2.000000"});
  sink.Event({At(305), kServer, "storage.failover", "volume=ns/data from=11 to=7 silent_s=3.000000"});
  sink.Record({At(306.5), kServer, "storage.failover_s", 6.5, "volume=ns/data"});
  sink.Record({At(420), kServer, "storage.replica_catchup_s", 120, "volume=ns/data"});
  sink.Event({At(308), kServer, "storage.cloudsnap", "volume=ns/data snapshot=s1 seq=1 full blocks=10"});
  sink.Event({At(608), kServer, "storage.cloudsnap", "volume=ns/data snapshot=s2 seq=2 incremental blocks=4"});
  const double mib = 1024.0 * 1024.0;
  for (int t = 10; t <= 900; t += 10) {
    const double since = t < 308 ? 0 : (t < 608 ? 308 : 608);
    sink.Record({At(t), kNoNode, "storage.cloudsnap_rpo_s", t - since, "volume=ns/data"});
    sink.Record({At(t), kNoNode, "storage.volume_size_bytes", 64 * mib, "volume=ns/data"});
    sink.Record({At(t), kNoNode, "storage.volume_used_bytes", t / 100.0 * mib, "volume=ns/data"});
    sink.Record({At(t), kNoNode, "storage.volume_size_bytes", 4 * mib, "volume=ns/full"});
    sink.Record({At(t), kNoNode, "storage.volume_used_bytes", std::min(4.0, t / 100.0) * mib, "volume=ns/full"});
    sink.Record({At(t), kNoNode, "storage.volume_size_bytes", 4 * mib, "volume=ns/model"});
    sink.Record({At(t), kNoNode, "storage.volume_used_bytes", 0, "volume=ns/model"});
    sink.Record({At(t), kNoNode, "storage.replicas_out_of_sync", (t > 300 && t < 420) ? 1.0 : 0.0, ""});
    sink.Record({At(t), kNoNode, "policy.flows_denied", t > 700 ? 40.0 : 1.0, ""});
  }
  for (int minute = 0; minute < 3; ++minute)
    sink.Event({At(30 + 60 * minute), 2, "policy.denied", "from=a/device to=b/gateway port=1883 at=egress"});
  for (int port : {1, 2, 3, 7, 22})
    sink.Event({At(700 + port), 5, "policy.denied", "from=c/camera to=d/broker port=" + std::to_string(port) +
                                                    " at=ingress"});
  sink.Event({At(702.5), kNoNode, "policy.ids_alert",
              "kind=port_scan subject=10.0.2.2 target=10.0.12.3 ports=20 window_s=60 first_ports=1,2,3"});
  ASSERT_TRUE(sink.EndRun(At(900)).ok());
  ASSERT_TRUE(sink.Close().ok());
}

// The rows of a section's table, each row's cells joined by '|', tags gone.
std::vector<std::string> Rows(const std::string& section) {
  std::vector<std::string> rows;
  size_t at = 0;
  while ((at = section.find("<tr>", at)) != std::string::npos) {
    const size_t end = section.find("</tr>", at);
    std::string row, cell;
    bool tag = false;
    for (size_t i = at + 4; i < end; ++i) {
      const char c = section[i];
      if (c == '<') {
        tag = true;
        if (section.compare(i, 4, "</td") == 0 || section.compare(i, 4, "</th") == 0) row += cell + "|", cell.clear();
      } else if (c == '>') {
        tag = false;
      } else if (!tag) {
        cell += c;
      }
    }
    rows.push_back(row);
    at = end;
  }
  return rows;
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(RenderHtml, ShowsFailoversRecoveryPointsForecastsDeniedFlowsAndAlerts) {
  if (!HaveGnuplot()) GTEST_SKIP() << "gnuplot is not installed (apt-get install -y gnuplot-nox)";
  TempDir dir;
  RecordStorageAndPolicyRun(dir.Path("r.db"));
  auto runs = LoadResults({dir.Path("r.db")});
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  auto html = RenderHtml(*runs);
  ASSERT_TRUE(html.ok()) << html.status().ToString();

  // Both moves of the primary, by node name, and the time without one.
  const std::vector<std::string> failover = Rows(Section(*html, "data-section=\"failover\""));
  ASSERT_GE(failover.size(), 4u);
  EXPECT_EQ(failover[1], "ns/data|300|n3 -&gt; n11, then n11 -&gt; n7|306.5|6.5 s|");
  EXPECT_EQ(failover[3], "ns/data|420|120 s|");

  const std::string rpo = Section(*html, "data-section=\"recovery-point\"");
  EXPECT_TRUE(HasDrawnPlot(rpo));
  EXPECT_EQ(Rows(rpo)[1], "ns/data|2|308|292 s|292 s|");

  // The forecast is ForecastCapacity's: 1 MiB per 100 s from 9 MiB at 900 s
  // reaches 64 MiB at 6400 s, 5500 s on.
  const std::string capacity = Section(*html, "data-section=\"capacity\"");
  const std::vector<std::string> forecasts = Rows(capacity);
  ASSERT_EQ(forecasts.size(), 4u) << capacity;
  EXPECT_EQ(forecasts[1], "ns/data|9 MiB (14.1%)|64 MiB|linear|36 MiB/h|91.7 min|91.7 min|");
  EXPECT_EQ(forecasts[2], "ns/full|4 MiB (100%)|4 MiB|-|-|full since 400 s|-|");
  EXPECT_EQ(forecasts[3], "ns/model|0 MiB (0%)|4 MiB|linear|0 MiB/h, not significant|never, at this trend|never|");
  EXPECT_EQ(Count(capacity, "<svg"), 2u) << "a plot for each volume that holds data, none for the empty one";
  EXPECT_TRUE(HasDrawnPlot(capacity));
  EXPECT_NE(capacity.find("band: fit +/- 2 residual sigma"), std::string::npos);

  // Grouped by source and destination, most logged first, ports as ranges.
  const std::vector<std::string> denied = Rows(Section(*html, "data-section=\"denied-flows\""));
  ASSERT_EQ(denied.size(), 3u);
  EXPECT_EQ(denied[1], "c/camera|d/broker|1-3, 7, 22 (5 ports)|ingress|5|701|722|");
  EXPECT_EQ(denied[2], "a/device|b/gateway|1883|egress|3|30|150|");

  const std::vector<std::string> ids = Rows(Section(*html, "data-section=\"ids-alerts\""));
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids[1], "702.5|port_scan|10.0.2.2|target=10.0.12.3 ports=20 window_s=60 first_ports=1,2,3|");

  // The timeline draws what the run has (replicas out of sync, denied flows)
  // with the fault over it; the storage metrics with their own sections are
  // not drawn again as plain time series.
  const std::string timeline = Section(*html, "data-section=\"timeline\"");
  EXPECT_TRUE(HasDrawnPlot(timeline));
  EXPECT_NE(timeline.find("replicas out of sync"), std::string::npos);
  EXPECT_NE(timeline.find(">F1<"), std::string::npos);
  EXPECT_EQ(html->find("data-metric=\"storage.failover_s\""), std::string::npos);
  EXPECT_EQ(html->find("data-metric=\"storage.volume_size_bytes\""), std::string::npos);
  EXPECT_TRUE(HasDrawnPlot(Section(*html, "data-family=\"storage\"")));
  // And the same bytes every time: no set, map or float order leaks in.
  auto again = RenderHtml(*LoadResults({dir.Path("r.db")}));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(*again == *html);
}

TEST(RenderHtml, LongRunsCountTimeInMinutesOrHours) {
  if (!HaveGnuplot()) GTEST_SKIP() << "gnuplot is not installed (apt-get install -y gnuplot-nox)";
  TempDir dir;
  for (const auto& span : std::vector<std::pair<double, std::string>>{
           {600, "simulated time (s)"}, {4 * 3600, "simulated time (min)"}, {3 * 86400, "simulated time (h)"}}) {
    const std::string path = dir.Path("long" + std::to_string(static_cast<int>(span.first)) + ".db");
    {
      auto db = results::ResultsDb::Open(path);
      ASSERT_TRUE(db.ok());
      ASSERT_TRUE((*db)->BeginRun({"long", "", 1, "abc123", {}}).ok());
      for (int i = 0; i <= 100; ++i)
        (*db)->Record({At(span.first * i / 100), kNoNode, "cluster.nodes_ready", static_cast<double>(i % 7), ""});
      ASSERT_TRUE((*db)->EndRun(At(span.first)).ok());
      ASSERT_TRUE((*db)->Close().ok());
    }
    auto runs = LoadResults({path});
    ASSERT_TRUE(runs.ok());
    auto html = RenderHtml(*runs);
    ASSERT_TRUE(html.ok()) << html.status().ToString();
    EXPECT_NE(Section(*html, "data-family=\"cluster\"").find(span.second), std::string::npos) << span.second;
    EXPECT_NE(Section(*html, "data-section=\"timeline\"").find(span.second), std::string::npos) << span.second;
  }
}

// Several databases: one comparison with the headline numbers side by side,
// every metric's runs overlaid, then each run's own tables.
TEST(RenderHtml, ComparesRunsSideBySideAndOverlaysTheirPlots) {
  if (!HaveGnuplot()) GTEST_SKIP() << "gnuplot is not installed (apt-get install -y gnuplot-nox)";
  TempDir dir;
  RecordSmallRun(dir.Path("a.db"));
  RecordSmallRun(dir.Path("b.db"), /*with_faults_and_startup=*/false);
  {  // b.db gets a second run, slower to start its pods and with another setting.
    auto db = results::ResultsDb::Open(dir.Path("b.db"));
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->BeginRun({"tiny", "scenarios/tiny.yaml", 8, "abc123", {{"nodes", "5"}, {"duration_s", "120"}}}).ok());
    for (int t = 0; t <= 120; t += 10) (*db)->Record({At(t), kNoNode, "cluster.pods", 5, "phase=Running"});
    for (int i = 0; i < 12; ++i) (*db)->Record({At(5 + i), 1, "cluster.pod_startup_s", 3.0 + i * 0.25, "node=n1"});
    ASSERT_TRUE((*db)->EndRun(At(120)).ok());
    ASSERT_TRUE((*db)->Close().ok());
  }
  auto runs = LoadResults({dir.Path("a.db"), dir.Path("b.db")});
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  ASSERT_EQ(runs->size(), 3u);
  auto html = RenderHtml(*runs);
  ASSERT_TRUE(html.ok()) << html.status().ToString();

  // What differs between the runs: the seed, and the parameter "nodes".
  const std::vector<std::string> compared = Rows(Section(*html, "data-section=\"runs\" id=\"compare-runs\""));
  ASSERT_EQ(compared.size(), 4u);
  EXPECT_EQ(compared[0], "run|scenario|seed|revision|results database|nodes|");
  EXPECT_EQ(compared[3], "r3|tiny|8|abc123|" + dir.Path("b.db") + ", run 2|5|");

  const std::string headlines = Section(*html, "data-section=\"headlines\"");
  const std::vector<std::string> rows = Rows(headlines);
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows[0], "metric|unit|r1|r2|r2 &minus; r1|r3|r3 &minus; r1|");
  auto row = [&rows](const std::string& what) {
    for (const std::string& r : rows)
      if (r.rfind(what + "|", 0) == 0) return r;
    return std::string("(no row " + what + ")");
  };
  EXPECT_EQ(row("pods Running at the end"), "pods Running at the end|pods|6|6|same|5|-1 (-16.7%)|");
  EXPECT_EQ(row("pod start-up, p50"), "pod start-up, p50|s|2.25|-|-|4.25|+2 (+88.9%)|");
  EXPECT_EQ(row("slowest fault recovery"), "slowest fault recovery|s|15|-|-|-|-|");
  EXPECT_EQ(headlines.find("failover"), std::string::npos) << "no run has failovers: no row";
  EXPECT_NE(headlines.find("class=\"n worse\">+2 (+88.9%)"), std::string::npos) << "slower start-up is worse";
  EXPECT_NE(headlines.find("class=\"n worse\">-1 (-16.7%)"), std::string::npos) << "fewer pods Running is worse";

  // The timeline, overlaid.
  const std::string timeline = Section(*html, "id=\"compare-timeline\"");
  EXPECT_TRUE(HasDrawnPlot(timeline));
  for (const char* tag : {">r1: pods Running<", ">r2: pods Running<", ">r3: pods Running<"})
    EXPECT_NE(timeline.find(tag), std::string::npos) << tag;
  // Overlaid: each run's line tagged with its run, with the faults of the one run that had any.
  const std::string cluster = Section(*html, "id=\"compare-cluster\"");
  EXPECT_TRUE(HasDrawnPlot(cluster));
  for (const char* tag : {">r1: phase=Running<", ">r2: phase=Running<", ">r3: phase=Running<", ">r1 F1<"})
    EXPECT_NE(cluster.find(tag), std::string::npos) << tag;
  const std::string cdf = Section(*html, "id=\"compare-pod-startup-cdf\"");
  EXPECT_EQ(Rows(cdf).size(), 3u) << "r1 and r3 started pods; r2 none";
  EXPECT_TRUE(HasDrawnPlot(cdf));
  // Each run keeps its own tables, and draws its series only once, overlaid.
  EXPECT_EQ(Count(*html, "data-section=\"run\""), 3u);
  EXPECT_EQ(Count(*html, "data-section=\"faults\""), 1u);
  EXPECT_EQ(Count(*html, "data-family=\"cluster\""), 1u);
}

// What a user runs: a small scenario, then its report. Every kind of data
// the run recorded has its section, and each plotting section a drawn plot.
class ReportOfASimulatedRun : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("simulated-run");
    // Six minutes of the smart building: the node holding the broker
    // volume's primary crashes, the camera starts its scan early, and one
    // cloud backup is ready.
    const tools::Outcome o = tools::Shell(
        std::string(EDGEBED_BINARY_DIR) + "/tools/edgebed-sim run " + EDGEBED_SOURCE_DIR +
        "/scenarios/smart-building.yaml --set duration=6m --set 'faults=[{at: 90s, kind: node-crash, target: "
        "b1-f1-n4, for: 60s}]' --set workloads[2].start_after=200s --db " + dir_->Path("run.db"));
    ASSERT_EQ(o.exit_code, 0) << o.out;
    ASSERT_NE(o.out.find("report: edgebed report " + dir_->Path("run.db")), std::string::npos) << o.out;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static TempDir* dir_;
};
TempDir* ReportOfASimulatedRun::dir_ = nullptr;

TEST_F(ReportOfASimulatedRun, HasASectionWithAPlotForEachKindOfDataItRecorded) {
  if (!HaveGnuplot()) GTEST_SKIP() << "gnuplot is not installed (apt-get install -y gnuplot-nox)";
  const tools::Outcome o = tools::Shell(kEdgebed + " report " + dir_->Path("run.db") + " -o " + dir_->Path("run.html"));
  ASSERT_EQ(o.exit_code, 0) << o.out;
  const std::string html = tools::ReadFile(dir_->path / "run.html");
  auto db = results::ResultsDb::OpenReadOnly(dir_->Path("run.db"));
  ASSERT_TRUE(db.ok());
  auto names = (*db)->MetricNames(1);
  ASSERT_TRUE(names.ok());
  auto events = (*db)->Events(1);
  ASSERT_TRUE(events.ok());
  std::set<std::string> kinds;
  for (const EventRecord& e : *events) kinds.insert(e.kind);
  // This run has every kind the report knows; the others prove their absence elsewhere.
  for (const char* kind : {"sim.fault_start", "storage.failover", "storage.cloudsnap", "policy.denied", "policy.ids_alert"})
    EXPECT_TRUE(kinds.count(kind)) << kind << " is not in the run: the scenario changed, and this test must follow";
  const std::set<std::string> metrics(names->begin(), names->end());
  for (const char* metric : {"storage.failover_s", "storage.cloudsnap_rpo_s", "storage.volume_used_bytes",
                             "cluster.pod_startup_s", "sim.fault_recovery_s"})
    EXPECT_TRUE(metrics.count(metric)) << metric;

  for (const char* section : {"run", "timeline", "faults", "failover", "recovery-point", "capacity", "denied-flows",
                              "ids-alerts", "pod-startup-cdf"})
    EXPECT_FALSE(Section(html, "data-section=\"" + std::string(section) + "\"").empty()) << section;
  for (const char* plotted : {"timeline", "recovery-point", "capacity", "pod-startup-cdf"})
    EXPECT_TRUE(HasDrawnPlot(Section(html, "data-section=\"" + std::string(plotted) + "\""))) << plotted;
  // Every metric without a section of its own has its plot, in its family's section.
  for (const std::string& name : metrics) {
    if (name == "sim.fault_recovery_s" || name == "cluster.pod_startup_s" || name.rfind("storage.failover", 0) == 0 ||
        name == "storage.replica_catchup_s" || name == "storage.cloudsnap_rpo_s" ||
        name.rfind("storage.volume_", 0) == 0)
      continue;
    const std::string family = name.substr(0, name.find('.'));
    const std::string section = Section(html, "data-family=\"" + family + "\"");
    EXPECT_NE(section.find("data-metric=\"" + name + "\""), std::string::npos) << name;
  }
  // The failover is listed, away from the crashed node, with the time it took.
  const std::vector<std::string> failover = Rows(Section(html, "data-section=\"failover\""));
  ASSERT_GE(failover.size(), 2u);
  EXPECT_NE(failover[1].find("|b1-f1-n4 -&gt; "), std::string::npos) << failover[1];
  EXPECT_EQ(failover[1].substr(failover[1].size() - 3), " s|") << failover[1];
}

TEST_F(ReportOfASimulatedRun, ComparesTwoRunsOfIt) {
  if (!HaveGnuplot()) GTEST_SKIP() << "gnuplot is not installed (apt-get install -y gnuplot-nox)";
  const tools::Outcome o = tools::Shell(kEdgebed + " report " + dir_->Path("run.db") + " " + dir_->Path("run.db") +
                                        " -o " + dir_->Path("twice.html"));
  ASSERT_EQ(o.exit_code, 0) << o.out;
  const std::string html = tools::ReadFile(dir_->path / "twice.html");
  // The same run twice: every headline number is the same.
  const std::vector<std::string> rows = Rows(Section(html, "data-section=\"headlines\""));
  ASSERT_GT(rows.size(), 8u);
  for (size_t i = 1; i < rows.size(); ++i) {
    if (rows[i].rfind("simulator speed", 0) == 0) continue;
    EXPECT_NE(rows[i].find("|same|"), std::string::npos) << rows[i];
  }
}

// The report as a person sees it: headless Chromium draws its first screen
// at 1280x800. Where Chromium is missing the test says so and skips.
TEST_F(ReportOfASimulatedRun, ChromiumDrawsItsFirstScreen) {
  if (!HaveGnuplot()) GTEST_SKIP() << "gnuplot is not installed (apt-get install -y gnuplot-nox)";
  const std::string html = dir_->Path("screen.html");
  ASSERT_EQ(tools::Shell(kEdgebed + " report " + dir_->Path("run.db") + " -o " + html).exit_code, 0);
  const std::string png = dir_->Path("screen.png");
  const tools::Outcome o =
      tools::Shell(std::string(EDGEBED_SOURCE_DIR) + "/reports/screenshot.sh " + html + " " + png + " 1280x800");
  if (o.exit_code == 3) GTEST_SKIP() << "Chromium is not installed (apt-get install -y chromium): " << o.out;
  ASSERT_EQ(o.exit_code, 0) << o.out;
  const std::string image = tools::ReadFile(png);
  ASSERT_GE(image.size(), 24u);
  EXPECT_EQ(image.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  auto be32 = [&image](size_t at) {
    return (uint32_t{static_cast<uint8_t>(image[at])} << 24) | (uint32_t{static_cast<uint8_t>(image[at + 1])} << 16) |
           (uint32_t{static_cast<uint8_t>(image[at + 2])} << 8) | uint32_t{static_cast<uint8_t>(image[at + 3])};
  };
  EXPECT_EQ(be32(16), 1280u);  // IHDR width
  EXPECT_EQ(be32(20), 800u);   // and height
  // A blank page compresses to about 5 KB; tables, text and a plot to far more.
  EXPECT_GT(image.size(), 40'000u) << "the screenshot looks empty";
}

}  // namespace
}  // namespace edgebed::reports
