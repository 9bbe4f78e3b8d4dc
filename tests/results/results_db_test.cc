#include "core/results/results_db.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/env/random.h"

namespace edgebed::results {
namespace {

namespace fs = std::filesystem;

class ResultsDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("edgebed-results-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) { return (dir_ / name).string(); }
  fs::path dir_;
};

Time At(int64_t ns) { return Time(Duration(ns)); }

std::unique_ptr<ResultsDb> OpenOrDie(const std::string& path) {
  auto db = ResultsDb::Open(path);
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  return db.ok() ? std::move(*db) : nullptr;
}

TEST_F(ResultsDbTest, RoundTripsRunsMetricsAndEvents) {
  auto db = OpenOrDie(Path("a.db"));
  RunInfo info{"smart-building", 42, "abc123", {{"nodes", "120"}, {"drop_rate", "0.01"}}};
  auto run = db->BeginRun(info);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(*run, 1);
  db->Record({At(1000), 3, "probe.rtt_ms", 1.5, "peer=4"});
  db->Record({At(2000), 3, "probe.rtt_ms", 2.5, "peer=4"});
  db->Record({At(1500), 5, "probe.rtt_ms", 9.0, "peer=1"});
  db->Record({At(1500), kNoNode, "fault.detect_all_ms", 3000, ""});
  db->Event({At(1200), 3, "probe.peer_state", "peer=4 state=alive missed=0"});
  db->Event({At(1100), kNoNode, "fault.injected", "partition building 1"});
  ASSERT_TRUE(db->EndRun(At(60'000'000'000)).ok());
  ASSERT_TRUE(db->RecordWallClock({{"wall_seconds", 1.25}}).ok());

  auto runs = db->Runs();
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 1u);
  const RunRow& r = runs->front();
  EXPECT_EQ(r.info.scenario, "smart-building");
  EXPECT_EQ(r.info.seed, 42u);
  EXPECT_EQ(r.info.revision, "abc123");
  EXPECT_EQ(r.info.parameters,
            (std::vector<std::pair<std::string, std::string>>{{"drop_rate", "0.01"}, {"nodes", "120"}}));
  EXPECT_EQ(r.sim_end_ns, 60'000'000'000);
  EXPECT_EQ(r.wallclock, (std::vector<std::pair<std::string, double>>{{"wall_seconds", 1.25}}));

  auto rtt = db->Samples(1, "probe.rtt_ms");
  ASSERT_TRUE(rtt.ok());
  ASSERT_EQ(rtt->size(), 3u);
  EXPECT_EQ((*rtt)[0].t_ns, 1000);
  EXPECT_EQ((*rtt)[1].node, 5u);
  EXPECT_EQ((*rtt)[1].labels, "peer=1");
  EXPECT_EQ((*rtt)[2].value, 2.5);
  EXPECT_EQ(db->Samples(1, "probe.rtt_ms", NodeId{3})->size(), 2u);
  auto fault = db->Samples(1, "fault.detect_all_ms");
  ASSERT_EQ(fault->size(), 1u);
  EXPECT_EQ(fault->front().node, kNoNode);

  auto events = db->Events(1);
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ(events->front().kind, "fault.injected");  // ordered by time
  EXPECT_EQ(events->front().node, kNoNode);
  EXPECT_EQ(db->Events(1, "probe.peer_state")->size(), 1u);
  EXPECT_EQ(*db->MetricNames(1), (std::vector<std::string>{"fault.detect_all_ms", "probe.rtt_ms"}));
  EXPECT_TRUE(db->Close().ok());
}

TEST_F(ResultsDbTest, HoldsSeveralRunsAndReopens) {
  {
    auto db = OpenOrDie(Path("many.db"));
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(db->BeginRun({"s", static_cast<uint64_t>(i), "r", {}}).ok());
      for (int k = 0; k <= i; ++k) db->Record({At(k), 0, "m", double(i), ""});
      ASSERT_TRUE(db->EndRun(At(10)).ok());
    }
    ASSERT_TRUE(db->Close().ok());
  }
  auto db = OpenOrDie(Path("many.db"));
  EXPECT_EQ(db->Runs()->size(), 3u);
  EXPECT_EQ(db->Samples(3, "m")->size(), 3u);
  EXPECT_EQ(db->Samples(2, "m")->front().value, 1.0);
  auto run = db->BeginRun({"s", 9, "r", {}});
  EXPECT_EQ(*run, 4);
}

TEST_F(ResultsDbTest, MisuseIsReportedNotIgnored) {
  auto db = OpenOrDie(Path("m.db"));
  db->Record({At(1), 0, "orphan", 1, ""});
  EXPECT_EQ(db->Flush().ToString(),
            Path("m.db") + ": a sample arrived with no run open (orphan)");
  ASSERT_TRUE(db->BeginRun({"s", 1, "r", {}}).ok());
  EXPECT_EQ(db->BeginRun({"s", 1, "r", {}}).status().code(), StatusCode::kFailedPrecondition);
  db->Close().ok();
  EXPECT_FALSE(db->Runs().ok());
}

// The same calls in the same order give the same bytes, so two runs of one
// scenario and seed can be compared with cmp.
TEST_F(ResultsDbTest, SameRecordingGivesAByteIdenticalFile) {
  auto record = [&](const std::string& path) {
    auto db = OpenOrDie(path);
    (void)db->BeginRun({"demo", 7, "rev", {{"a", "1"}}});
    Random r(7);
    for (int i = 0; i < 120000; ++i) {
      db->Record({At(i * 1000), NodeId(r.Uniform(50)), "m" + std::to_string(r.Uniform(4)),
                  r.UnitReal(), "peer=" + std::to_string(r.Uniform(3))});
      if (i % 97 == 0) db->Event({At(i * 1000), NodeId(r.Uniform(50)), "e", "detail"});
    }
    EXPECT_TRUE(db->EndRun(At(1)).ok());
    EXPECT_TRUE(db->Close().ok());
    std::ifstream in(path, std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    return bytes.str();
  };
  const std::string a = record(Path("one.db")), b = record(Path("two.db"));
  EXPECT_GT(a.size(), 1'000'000u);
  EXPECT_TRUE(a == b) << "the two files differ";
}

TEST_F(ResultsDbTest, RefusesFilesThatAreNotResultsDatabases) {
  {
    std::ofstream(Path("text.db")) << "this is not a database, just some text that is long enough "
                                      "to have a header's worth of bytes in it..................";
  }
  auto text = ResultsDb::Open(Path("text.db"));
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().code(), StatusCode::kCorruption);
  EXPECT_EQ(text.status().ToString(),
            Path("text.db") + ": not a results database (file is not a database); give a new "
                              "file name, or remove this file");

  sqlite3* foreign = nullptr;
  ASSERT_EQ(sqlite3_open(Path("other.db").c_str(), &foreign), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(foreign, "CREATE TABLE t(x)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(foreign);
  auto other = ResultsDb::Open(Path("other.db"));
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().ToString(),
            Path("other.db") + ": this SQLite database is not an edgebed results database "
                               "(application_id 0); give a new file name");

  auto db = OpenOrDie(Path("old.db"));
  db->Close().ok();
  ASSERT_EQ(sqlite3_open(Path("old.db").c_str(), &foreign), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(foreign, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(foreign);
  auto old = ResultsDb::Open(Path("old.db"));
  ASSERT_FALSE(old.ok());
  EXPECT_NE(old.status().message().find("schema version 99 cannot be read"), std::string::npos);

  auto missing_dir = ResultsDb::Open(Path("no/such/dir.db"));
  ASSERT_FALSE(missing_dir.ok());
  EXPECT_EQ(missing_dir.status().code(), StatusCode::kIoError);
}

// Differential: Summarize against a plain reference over seeded data.
TEST_F(ResultsDbTest, SummaryMatchesAReferenceOverManySeeds) {
  auto db = OpenOrDie(Path("sum.db"));
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    auto run = db->BeginRun({"s", seed, "r", {}});
    Random r(seed);
    std::vector<double> values(1 + r.Uniform(2000));
    for (size_t i = 0; i < values.size(); ++i) {
      values[i] = r.Exponential(10.0);
      db->Record({At(static_cast<int64_t>(i)), NodeId(r.Uniform(10)), "lat", values[i], ""});
    }
    ASSERT_TRUE(db->EndRun(At(0)).ok());
    auto s = db->Summarize(*run, "lat");
    ASSERT_TRUE(s.ok());
    std::sort(values.begin(), values.end());
    auto nearest_rank = [&](double p) {
      size_t k = 0;
      while (k + 1 < values.size() && double(k + 1) < p * double(values.size())) ++k;
      return values[k];
    };
    double sum = 0;
    for (double v : values) sum += v;
    EXPECT_EQ(s->count, values.size());
    EXPECT_EQ(s->min, values.front());
    EXPECT_EQ(s->max, values.back());
    EXPECT_NEAR(s->mean, sum / values.size(), 1e-9);
    EXPECT_EQ(s->p50, nearest_rank(0.50)) << "seed " << seed;
    EXPECT_EQ(s->p90, nearest_rank(0.90)) << "seed " << seed;
    EXPECT_EQ(s->p99, nearest_rank(0.99)) << "seed " << seed;
  }
}

TEST_F(ResultsDbTest, LargeBatchesArriveComplete) {
  auto db = OpenOrDie(Path("big.db"));
  ASSERT_TRUE(db->BeginRun({"s", 1, "r", {}}).ok());
  const int n = 200000;  // four commits' worth
  for (int i = 0; i < n; ++i) db->Record({At(i), NodeId(i % 100), "m", double(i), ""});
  ASSERT_TRUE(db->EndRun(At(n)).ok());
  auto all = db->Samples(1, "m");
  ASSERT_EQ(all->size(), size_t(n));
  for (int i = 0; i < n; ++i) ASSERT_EQ((*all)[i].value, double(i));
  EXPECT_EQ(db->Samples(1, "m", NodeId{7})->size(), size_t(n / 100));
}

}  // namespace
}  // namespace edgebed::results
