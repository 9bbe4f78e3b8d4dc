// ResultsDb, specified by example: what goes in comes back out, one file holds
// many runs, the same recording gives the same bytes, files that are not
// results databases are refused with the documented errors, damaged files give
// errors and not crashes, and the aggregates match a plain reference.
//
// Randomized tests print their seed on failure; EDGEBED_SEED=N replays one.
#include "core/results/results_db.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

#include "core/env/random.h"

namespace edgebed {

// Field-by-field equality, so a round trip compares whole records.
bool operator==(const MetricSample& a, const MetricSample& b) {
  const bool same_value = a.value == b.value || (std::isnan(a.value) && std::isnan(b.value));
  return a.time == b.time && a.node == b.node && a.name == b.name && same_value &&
         a.labels == b.labels;
}
bool operator==(const EventRecord& a, const EventRecord& b) {
  return a.time == b.time && a.node == b.node && a.kind == b.kind && a.detail == b.detail;
}
std::ostream& operator<<(std::ostream& os, const MetricSample& s) {
  return os << "{" << ToNanos(s.time) << "ns node " << s.node << " " << s.name << "=" << s.value
            << " [" << s.labels << "]}";
}
std::ostream& operator<<(std::ostream& os, const EventRecord& e) {
  return os << "{" << ToNanos(e.time) << "ns node " << e.node << " " << e.kind << " " << e.detail
            << "}";
}

namespace results {
namespace {

namespace fs = std::filesystem;
using Params = std::vector<std::pair<std::string, std::string>>;

Time At(int64_t ns) { return Time(Duration(ns)); }

// The seeds a randomized test runs: 1..count, or only $EDGEBED_SEED.
std::vector<uint64_t> Seeds(uint64_t count) {
  if (const char* one = std::getenv("EDGEBED_SEED")) return {std::strtoull(one, nullptr, 10)};
  std::vector<uint64_t> seeds;
  for (uint64_t s = 1; s <= count; ++s) seeds.push_back(s);
  return seeds;
}
std::string Replay(uint64_t seed) {
  return "seed " + std::to_string(seed) + " (replay: EDGEBED_SEED=" + std::to_string(seed) + ")";
}

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// Runs SQL on a file through a plain SQLite connection, as a person would.
void RawSql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK)
      << (error ? error : "");
  sqlite3_free(error);
  sqlite3_close(db);
}

// The single integer a query on `path` answers.
int64_t RawCount(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  sqlite3_stmt* stmt = nullptr;
  int64_t n = -1;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK &&
      sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW) {
    n = sqlite3_column_int64(stmt, 0);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return n;
}

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
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  static std::unique_ptr<ResultsDb> OpenOrDie(const std::string& path, WriteOptions options = {}) {
    auto db = ResultsDb::Open(path, options);
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    return db.ok() ? std::move(*db) : nullptr;
  }

  fs::path dir_;
};

TEST_F(ResultsDbTest, RoundTripsRunInfoMetricsAndEvents) {
  auto db = OpenOrDie(Path("a.db"));
  RunInfo info;
  info.scenario = "smart-building";
  info.scenario_path = "scenarios/smart_building.yaml";
  info.seed = std::numeric_limits<uint64_t>::max();  // beyond int64: must come back exactly
  info.revision = "abc123-dirty";
  info.parameters = {{"nodes", "120"}, {"drop_rate", "0.01"}, {"empty", ""}};
  info.start = At(5'000);
  auto run = db->BeginRun(info);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ(*run, 1);
  EXPECT_EQ(db->current_run(), 1);

  const std::vector<MetricSample> recorded = {
      {At(1000), 3, "probe.rtt_ms", 1.5, "peer=4"},
      {At(2000), 3, "probe.rtt_ms", 2.5, "peer=4"},
      {At(1500), 5, "probe.rtt_ms", 9.0, "peer=1"},
      {At(1500), 5, "probe.rtt_ms", 9.5, "peer=2"},  // same time and node, another label set
      {At(1500), kNoNode, "fault.detect_all_ms", 3000, ""},
      {At(1600), 0, "odd.values", -std::numeric_limits<double>::infinity(), "a=\xce\xbb"},
      {At(1700), 0, "odd.values", std::numeric_limits<double>::quiet_NaN(), ""},
      {At(1800), 0, "odd.values", std::numeric_limits<double>::max(), ""},
  };
  for (const MetricSample& s : recorded) db->Record(s);
  const std::vector<EventRecord> events = {
      {At(1200), 3, "probe.peer_state", "peer=4 state=alive missed=0"},
      {At(1100), kNoNode, "fault.injected", "partition building 1"},
      {At(1200), 7, "probe.peer_state", ""},
  };
  for (const EventRecord& e : events) db->Event(e);
  ASSERT_TRUE(db->EndRun(At(60'000'000'000)).ok());
  EXPECT_EQ(db->current_run(), 0);
  ASSERT_TRUE(db->RecordWallClock({{"wall_seconds", 1.25}, {"sim_speed", 48.0}}).ok());
  ASSERT_TRUE(db->Close().ok());

  // Read back through a fresh, read-only handle: nothing lives only in memory.
  auto reader = ResultsDb::OpenReadOnly(Path("a.db"));
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  ResultsDb& r = **reader;
  auto row = r.Run(1);
  ASSERT_TRUE(row.ok()) << row.status().ToString();
  EXPECT_EQ(row->run_id, 1);
  EXPECT_EQ(row->info.scenario, info.scenario);
  EXPECT_EQ(row->info.scenario_path, info.scenario_path);
  EXPECT_EQ(row->info.seed, info.seed);
  EXPECT_EQ(row->info.revision, info.revision);
  EXPECT_EQ(row->info.start, info.start);
  EXPECT_EQ(row->info.parameters, (Params{{"drop_rate", "0.01"}, {"empty", ""}, {"nodes", "120"}}));
  ASSERT_TRUE(row->end.has_value());
  EXPECT_EQ(*row->end, At(60'000'000'000));
  EXPECT_EQ(row->wallclock,
            (std::vector<std::pair<std::string, double>>{{"sim_speed", 48.0}, {"wall_seconds", 1.25}}));

  EXPECT_EQ(*r.MetricNames(1),
            (std::vector<std::string>{"fault.detect_all_ms", "odd.values", "probe.rtt_ms"}));
  // By time, then in recording order.
  EXPECT_EQ(*r.Samples(1, "probe.rtt_ms"),
            (std::vector<MetricSample>{recorded[0], recorded[2], recorded[3], recorded[1]}));
  EXPECT_EQ(*r.Samples(1, "probe.rtt_ms", NodeId{3}),
            (std::vector<MetricSample>{recorded[0], recorded[1]}));
  EXPECT_EQ(*r.Samples(1, "fault.detect_all_ms", kNoNode), (std::vector<MetricSample>{recorded[4]}));
  EXPECT_EQ(*r.Samples(1, "odd.values"),
            (std::vector<MetricSample>{recorded[5], recorded[6], recorded[7]}));
  EXPECT_TRUE(r.Samples(1, "no.such_metric")->empty());
  EXPECT_TRUE(r.Samples(1, "probe.rtt_ms", NodeId{99})->empty());

  EXPECT_EQ(*r.Events(1), (std::vector<EventRecord>{events[1], events[0], events[2]}));
  EXPECT_EQ(*r.Events(1, "probe.peer_state"), (std::vector<EventRecord>{events[0], events[2]}));
  EXPECT_TRUE(r.Events(1, "no.such_kind")->empty());
}

TEST_F(ResultsDbTest, HoldsSeveralRunsAndAppendsAfterReopening) {
  {
    auto db = OpenOrDie(Path("many.db"));
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(db->BeginRun({"s", "", uint64_t(i), "r", {{"i", std::to_string(i)}}}).ok());
      // The same series names in every run: each run interns its own.
      for (int k = 0; k <= i; ++k) db->Record({At(k), 0, "m", double(i), ""});
      db->Event({At(0), 0, "e", "run " + std::to_string(i + 1)});
      ASSERT_TRUE(db->EndRun(At(10)).ok());
    }
    ASSERT_TRUE(db->Close().ok());
  }
  auto db = OpenOrDie(Path("many.db"));
  auto runs = db->Runs();
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ((*runs)[i].run_id, i + 1);
    EXPECT_EQ((*runs)[i].info.seed, uint64_t(i));
    EXPECT_EQ((*runs)[i].info.parameters, (Params{{"i", std::to_string(i)}}));
    EXPECT_EQ(db->Samples(i + 1, "m")->size(), size_t(i + 1));
    EXPECT_EQ(db->Samples(i + 1, "m")->front().value, double(i));
    EXPECT_EQ(db->Events(i + 1)->front().detail, "run " + std::to_string(i + 1));
  }
  auto run = db->BeginRun({"s", "", 9, "r", {}});
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(*run, 4);
  db->Record({At(1), 0, "m", 40, ""});
  EXPECT_EQ(db->Samples(4, "m")->size(), 1u);  // queries see rows not yet committed
  EXPECT_EQ(db->Samples(3, "m")->size(), 3u);
}

TEST_F(ResultsDbTest, UnknownRunIsNotFound) {
  auto db = OpenOrDie(Path("r.db"));
  ASSERT_TRUE(db->BeginRun({"s", "", 1, "r", {}}).ok());
  ASSERT_TRUE(db->EndRun(At(0)).ok());
  auto missing = db->Run(2);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().ToString(),
            Path("r.db") + ": no run 2 in this results database; Runs() lists those it has");
  EXPECT_EQ(db->Samples(2, "m").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(db->Events(0).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(db->Summarize(7, "m").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(db->SummarizeByNode(7, "m").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(db->MetricNames(7).status().code(), StatusCode::kNotFound);
}

TEST_F(ResultsDbTest, BadRunInfoIsRefusedAndLeavesNoRun) {
  auto db = OpenOrDie(Path("bad.db"));
  auto empty = db->BeginRun({"", "", 1, "r", {}});
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().ToString(), "scenario: the scenario is empty; name the scenario of the run");
  auto twice = db->BeginRun({"s", "", 1, "r", {{"a", "1"}, {"b", "2"}, {"a", "3"}}});
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.status().ToString(), "parameters[2]: parameter 'a' is given twice; give each key once");
  EXPECT_TRUE(db->Runs()->empty());

  ASSERT_TRUE(db->BeginRun({"s", "", 1, "r", {}, At(100)}).ok());
  Status early = db->EndRun(At(99));
  EXPECT_EQ(early.code(), StatusCode::kInvalidArgument) << early.ToString();
  EXPECT_EQ(db->current_run(), 1);  // still open: the caller may end it properly
  EXPECT_TRUE(db->EndRun(At(100)).ok());
}

TEST_F(ResultsDbTest, MisuseIsReportedOnceWithTheCountDropped) {
  auto db = OpenOrDie(Path("m.db"));
  db->Record({At(1), 0, "orphan", 1, ""});
  db->Record({At(2), 0, "orphan", 2, ""});
  db->Event({At(2), 0, "orphan.event", ""});
  EXPECT_EQ(db->Flush().ToString(),
            Path("m.db") + ": sample 'orphan' arrived with no run open; call BeginRun first "
                           "(3 records dropped)");
  EXPECT_TRUE(db->Flush().ok());  // reported once

  EXPECT_EQ(db->EndRun(At(1)).code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(db->BeginRun({"s", "", 1, "r", {}}).ok());
  EXPECT_EQ(db->BeginRun({"s", "", 1, "r", {}}).status().code(), StatusCode::kFailedPrecondition);
  db->Record({At(1), 0, "kept", 1, ""});
  ASSERT_TRUE(db->Close().ok());
  EXPECT_TRUE(db->Close().ok());  // closing twice is fine
  EXPECT_EQ(db->Runs().status().code(), StatusCode::kFailedPrecondition);
  db->Record({At(1), 0, "late", 1, ""});
  EXPECT_EQ(db->Close().code(), StatusCode::kFailedPrecondition);

  // Close() committed the open run's row, which stays without an end.
  auto reader = ResultsDb::OpenReadOnly(Path("m.db"));
  ASSERT_TRUE(reader.ok());
  EXPECT_FALSE((*reader)->Run(1)->end.has_value());
  EXPECT_EQ((*reader)->Samples(1, "kept")->size(), 1u);
  EXPECT_EQ((*reader)->BeginRun({"s", "", 1, "r", {}}).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ((*reader)->RecordWallClock({{"x", 1}}).code(), StatusCode::kFailedPrecondition);
  (*reader)->Record({At(1), 0, "m", 1, ""});
  EXPECT_EQ((*reader)->Flush().code(), StatusCode::kFailedPrecondition);
}

// The batching contract: a commit every commit_every rows, and the rest on
// Flush() or when the ResultsDb goes away.
TEST_F(ResultsDbTest, CommitsEveryNRowsAndOnDestruction) {
  const std::string path = Path("batch.db");
  const std::string count = "SELECT (SELECT count(*) FROM samples) + (SELECT count(*) FROM events)";
  {
    auto db = OpenOrDie(path, WriteOptions{100});
    ASSERT_TRUE(db->BeginRun({"s", "", 1, "r", {}}).ok());
    for (int i = 0; i < 250; ++i) {
      if (i % 5 == 0) {
        db->Event({At(i), 0, "e", ""});
      } else {
        db->Record({At(i), 0, "m", double(i), ""});
      }
    }
    EXPECT_EQ(RawCount(path, count), 200);  // what another process sees
    ASSERT_TRUE(db->Flush().ok());
    EXPECT_EQ(RawCount(path, count), 250);
    db->Record({At(300), 0, "m", 300, ""});
    EXPECT_EQ(RawCount(path, count), 250);
  }  // destroyed without Close()
  EXPECT_EQ(RawCount(path, count), 251);
  EXPECT_EQ(ResultsDb::Open(path, WriteOptions{0}).status().code(), StatusCode::kInvalidArgument);
}

// A writer that dies keeps what it committed; the half-written batch is
// rolled back by the next writer, and a reader before that is told so.
TEST_F(ResultsDbTest, AWriterThatDiesKeepsItsCommittedBatches) {
  const std::string path = Path("crash.db");
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto db = ResultsDb::Open(path, WriteOptions{1000});
    if (!db.ok() || !(*db)->BeginRun({"s", "", 1, "r", {}}).ok()) ::_exit(1);
    for (int i = 0; i < 2500; ++i) (*db)->Record({At(i), 0, "m", double(i), ""});
    ::_exit(0);  // dies: no Close, no destructor, 500 samples uncommitted
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  auto reader = ResultsDb::OpenReadOnly(path);  // a hot journal: only a writer may roll it back
  ASSERT_FALSE(reader.ok());
  EXPECT_EQ(reader.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(reader.status().message().find("died with a batch half-written: open it once with "
                                           "Open()"),
            std::string::npos)
      << reader.status().ToString();
  ASSERT_TRUE(ResultsDb::Open(path).ok());
  reader = ResultsDb::OpenReadOnly(path);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ((*reader)->Samples(1, "m")->size(), 2000u);
  EXPECT_FALSE((*reader)->Run(1)->end.has_value());
}

TEST_F(ResultsDbTest, LargeBatchArrivesComplete) {
  auto db = OpenOrDie(Path("big.db"));
  ASSERT_TRUE(db->BeginRun({"s", "", 1, "r", {}}).ok());
  const int n = 200'000;  // four commits' worth
  for (int i = 0; i < n; ++i) {
    db->Record({At(i), NodeId(i % 100), "m", double(i), "shard=" + std::to_string(i % 3)});
  }
  ASSERT_TRUE(db->EndRun(At(n)).ok());
  ASSERT_TRUE(db->Close().ok());

  auto reader = ResultsDb::OpenReadOnly(Path("big.db"));
  ASSERT_TRUE(reader.ok());
  auto all = (*reader)->Samples(1, "m");
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), size_t(n));
  for (int i = 0; i < n; ++i) {
    ASSERT_EQ((*all)[i], (MetricSample{At(i), NodeId(i % 100), "m", double(i),
                                       "shard=" + std::to_string(i % 3)}));
  }
  auto node7 = (*reader)->Samples(1, "m", NodeId{7});
  ASSERT_EQ(node7->size(), size_t(n / 100));
  for (size_t k = 0; k < node7->size(); ++k) ASSERT_EQ((*node7)[k].value, double(7 + 100 * k));
  EXPECT_EQ(RawCount(Path("big.db"), "SELECT count(*) FROM series"), 300);  // 100 nodes x 3 shards
}

// Everything a test run records, in one place, so the determinism tests
// record exactly the same thing twice.
void RecordDemo(ResultsDb& db, const std::vector<std::pair<std::string, double>>& wallclock,
                int samples_per_run = 120'000) {
  for (uint64_t seed : {7u, 8u}) {
    auto run = db.BeginRun({"demo", "scenarios/demo.yaml", seed, "rev", {{"a", "1"}, {"b", "x"}}});
    ASSERT_TRUE(run.ok());
    Random r(seed);
    for (int i = 0; i < samples_per_run; ++i) {
      const NodeId node = r.Chance(0.01) ? kNoNode : NodeId(r.Uniform(50));
      db.Record({At(i * 1000), node, "m" + std::to_string(r.Uniform(4)), r.UnitReal(),
                 "peer=" + std::to_string(r.Uniform(3))});
      if (i % 97 == 0) db.Event({At(i * 1000), NodeId(r.Uniform(50)), "e", "detail " + std::to_string(i)});
    }
    ASSERT_TRUE(db.EndRun(At(int64_t(samples_per_run) * 1000)).ok());
    if (!wallclock.empty()) {
      ASSERT_TRUE(db.RecordWallClock(wallclock).ok());
    }
  }
}

// The same calls in the same order give the same bytes, so two runs of one
// scenario and seed can be compared with cmp.
TEST_F(ResultsDbTest, SameRecordingGivesAByteIdenticalFile) {
  auto record = [&](const std::string& path) {
    auto db = OpenOrDie(path);
    RecordDemo(*db, {});
    EXPECT_TRUE(db->Close().ok());
    return ReadBytes(path);
  };
  const std::string a = record(Path("one.db"));
  const std::string b = record(Path("two.db"));
  EXPECT_GT(a.size(), 1'000'000u);
  ASSERT_EQ(a.size(), b.size());
  const auto diff = std::mismatch(a.begin(), a.end(), b.begin());
  EXPECT_TRUE(diff.first == a.end()) << "the files differ first at byte " << (diff.first - a.begin());
}

// Wall-clock facts change run_wallclock and nothing else.
TEST_F(ResultsDbTest, WallClockFactsStayInTheirTable) {
  auto record = [&](const std::string& path, double wall_seconds) {
    auto db = OpenOrDie(path);
    RecordDemo(*db, {{"wall_seconds", wall_seconds}});
    EXPECT_TRUE(db->Close().ok());
  };
  record(Path("fast.db"), 1.5);
  record(Path("slow.db"), 9.25);
  EXPECT_NE(ReadBytes(Path("fast.db")), ReadBytes(Path("slow.db")));
  // Compare the deterministic tables row by row, through a plain connection.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(Path("fast.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, ("ATTACH '" + Path("slow.db") + "' AS slow").c_str(), nullptr, nullptr,
                         nullptr),
            SQLITE_OK);
  for (const std::string table : {"runs", "run_parameters", "series", "samples", "events"}) {
    const std::string sql = "SELECT (SELECT count(*) FROM (SELECT * FROM main." + table +
                            " EXCEPT SELECT * FROM slow." + table + ")) + (SELECT count(*) FROM "
                            "(SELECT * FROM slow." + table + " EXCEPT SELECT * FROM main." + table +
                            ")) + abs((SELECT count(*) FROM main." + table +
                            ") - (SELECT count(*) FROM slow." + table + "))";
    sqlite3_stmt* stmt = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_int64(stmt, 0), 0) << "table " << table << " differs";
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  auto fast = ResultsDb::OpenReadOnly(Path("fast.db"));
  auto slow = ResultsDb::OpenReadOnly(Path("slow.db"));
  EXPECT_EQ((*fast)->Run(2)->wallclock.front().second, 1.5);
  EXPECT_EQ((*slow)->Run(2)->wallclock.front().second, 9.25);
}

TEST_F(ResultsDbTest, RefusesAFileThatIsNotSqlite) {
  WriteBytes(Path("text.db"), std::string(2000, 'x'));
  for (bool read_only : {false, true}) {
    auto text = read_only ? ResultsDb::OpenReadOnly(Path("text.db")) : ResultsDb::Open(Path("text.db"));
    ASSERT_FALSE(text.ok());
    EXPECT_EQ(text.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(text.status().ToString(),
              Path("text.db") + ": not an edgebed results database: not a SQLite database at all; "
                                "check the path, or give a new file name");
  }
  EXPECT_EQ(ReadBytes(Path("text.db")), std::string(2000, 'x'));  // left as it was
}

TEST_F(ResultsDbTest, RefusesAnotherApplicationsSqliteDatabase) {
  RawSql(Path("other.db"), "CREATE TABLE t (x)");
  auto other = ResultsDb::Open(Path("other.db"));
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(other.status().ToString(),
            Path("other.db") + ": not an edgebed results database: a SQLite database of another "
                               "application (application_id 0); check the path, or give a new "
                               "file name");
  RawSql(Path("app.db"), "PRAGMA application_id = 1234");
  EXPECT_NE(ResultsDb::Open(Path("app.db")).status().message().find("application_id 1234"),
            std::string::npos);
}

TEST_F(ResultsDbTest, RefusesAnotherSchemaVersion) {
  OpenOrDie(Path("old.db"))->Close().ok();
  RawSql(Path("old.db"), "PRAGMA user_version = 1");
  auto old = ResultsDb::OpenReadOnly(Path("old.db"));
  ASSERT_FALSE(old.ok());
  EXPECT_EQ(old.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(old.status().ToString(),
            Path("old.db") + ": results schema version 1 cannot be read by this build, which "
                             "reads version 2; use the edgebed revision that wrote it, or record "
                             "the run again");
}

TEST_F(ResultsDbTest, RefusesADamagedSchema) {
  OpenOrDie(Path("dropped.db"))->Close().ok();
  RawSql(Path("dropped.db"), "DROP TABLE events");
  auto dropped = ResultsDb::Open(Path("dropped.db"));
  ASSERT_FALSE(dropped.ok());
  EXPECT_EQ(dropped.status().code(), StatusCode::kCorruption);
  EXPECT_EQ(dropped.status().ToString(),
            Path("dropped.db") + ": damaged results database: missing schema object 'events'; "
                                 "record the run again into a new file");

  OpenOrDie(Path("altered.db"))->Close().ok();
  RawSql(Path("altered.db"), "ALTER TABLE samples ADD COLUMN extra");
  EXPECT_NE(ResultsDb::Open(Path("altered.db")).status().message().find("altered schema object 'samples'"),
            std::string::npos);

  // An index someone added for their own queries is fine.
  OpenOrDie(Path("indexed.db"))->Close().ok();
  RawSql(Path("indexed.db"), "CREATE INDEX mine ON events (kind)");
  EXPECT_TRUE(ResultsDb::Open(Path("indexed.db")).ok());
}

TEST_F(ResultsDbTest, MissingFilesAndDirectories) {
  auto no_dir = ResultsDb::Open(Path("no/such/dir.db"));
  ASSERT_FALSE(no_dir.ok());
  EXPECT_EQ(no_dir.status().code(), StatusCode::kIoError);
  EXPECT_NE(no_dir.status().message().find("check that the directory exists and is writable"),
            std::string::npos)
      << no_dir.status().ToString();

  auto missing = ResultsDb::OpenReadOnly(Path("missing.db"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().ToString(),
            Path("missing.db") + ": no results database here; check the path, or record a run "
                                 "into it first");
  EXPECT_FALSE(fs::exists(Path("missing.db")));

  WriteBytes(Path("empty.db"), "");
  EXPECT_EQ(ResultsDb::OpenReadOnly(Path("empty.db")).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(ResultsDb::Open(Path("empty.db")).ok());  // an empty file becomes a new database
}

// Property: whatever bytes of a results database are damaged, opening and
// querying it give answers or errors — never a crash, a hang or a throw (run
// this under ASan/UBSan to see the "never a crash" part).
TEST_F(ResultsDbTest, DamagedFilesGiveErrorsNotCrashes) {
  const std::string good_path = Path("good.db");
  {
    auto db = OpenOrDie(good_path);
    RecordDemo(*db, {{"wall_seconds", 1}}, 4000);  // a small file, so most damage hits data
    ASSERT_TRUE(db->Close().ok());
  }
  const std::string good = ReadBytes(good_path);
  int refused = 0, query_errors = 0;
  for (uint64_t seed : Seeds(100)) {
    Random r(seed);
    std::string bad = good;
    // Damage a few bytes: in the header sometimes, mostly in the pages.
    const int hits = 1 + static_cast<int>(r.Uniform(20));
    for (int i = 0; i < hits; ++i) {
      const size_t at = r.Chance(0.2) ? r.Uniform(100) : r.Uniform(bad.size());
      bad[at] = static_cast<char>(r.Next());
    }
    if (r.Chance(0.1)) bad.resize(r.Uniform(bad.size()));  // or cut the file short
    const std::string path = Path("bad-" + std::to_string(seed) + ".db");
    WriteBytes(path, bad);
    auto db = ResultsDb::OpenReadOnly(path);
    if (!db.ok()) {
      ++refused;
      EXPECT_FALSE(db.status().message().empty()) << Replay(seed);
      continue;
    }
    bool any_error = false;
    auto note = [&](const Status& s) { any_error |= !s.ok(); };
    note((*db)->Runs().status());
    for (int64_t run : {1, 2}) {
      note((*db)->MetricNames(run).status());
      note((*db)->Samples(run, "m1").status());
      note((*db)->Samples(run, "m2", NodeId{3}).status());
      note((*db)->Events(run).status());
      note((*db)->Summarize(run, "m0").status());
      note((*db)->SummarizeByNode(run, "m3").status());
    }
    query_errors += any_error;
    (void)(*db)->Close();
    // And recording into it: errors at some point, or it works.
    auto writer = ResultsDb::Open(path, WriteOptions{1000});
    if (writer.ok()) {
      auto run = (*writer)->BeginRun({"s", "", seed, "r", {}});
      if (run.ok()) {
        for (int i = 0; i < 5000; ++i) (*writer)->Record({At(i), NodeId(i % 7), "m", 1, ""});
        (void)(*writer)->EndRun(At(5000));
      }
      (void)(*writer)->Close();
    }
  }
  // The damage must have been noticed at least some of the time.
  if (!std::getenv("EDGEBED_SEED")) {
    EXPECT_GT(refused + query_errors, 20);
  }
  std::printf("damaged files: %d refused at open, %d with a query error, of %zu\n", refused,
              query_errors, Seeds(100).size());
}

// Differential: the aggregates against a plain reference over seeded data.
TEST_F(ResultsDbTest, SummariesMatchAReferenceOverManySeeds) {
  // Nearest rank, from its definition: the smallest value v with at least
  // percent% of the values <= v.
  auto reference_rank = [](const std::vector<double>& sorted, double percent) {
    for (double v : sorted) {
      const size_t at_most = size_t(std::upper_bound(sorted.begin(), sorted.end(), v) - sorted.begin());
      if (100.0 * double(at_most) >= percent * double(sorted.size()) - 1e-9) return v;
    }
    return sorted.back();
  };
  auto expect_summary = [&](const Summary& s, std::vector<double> values, const std::string& what) {
    std::sort(values.begin(), values.end());
    ASSERT_EQ(s.count, values.size()) << what;
    if (values.empty()) {
      EXPECT_TRUE(std::isnan(s.min) && std::isnan(s.p99) && std::isnan(s.mean)) << what;
      return;
    }
    double sum = 0;
    for (double v : values) sum += v;
    EXPECT_EQ(s.min, values.front()) << what;
    EXPECT_EQ(s.max, values.back()) << what;
    EXPECT_NEAR(s.mean, sum / double(values.size()), 1e-9 * std::abs(sum)) << what;
    EXPECT_EQ(s.p50, reference_rank(values, 50)) << what;
    EXPECT_EQ(s.p90, reference_rank(values, 90)) << what;
    EXPECT_EQ(s.p99, reference_rank(values, 99)) << what;
    EXPECT_EQ(s.p999, reference_rank(values, 99.9)) << what;
  };

  auto db = OpenOrDie(Path("sum.db"));
  for (uint64_t seed : Seeds(25)) {
    auto run = db->BeginRun({"s", "", seed, "r", {}});
    ASSERT_TRUE(run.ok());
    Random r(seed);
    std::vector<double> all;
    std::map<NodeId, std::vector<double>> by_node;
    const size_t n = 1 + r.Uniform(seed % 5 == 0 ? 3 : 3000);  // some tiny runs, for the edges
    for (size_t i = 0; i < n; ++i) {
      const NodeId node = r.Chance(0.05) ? kNoNode : NodeId(r.Uniform(8));
      // Exponential with many ties (rounded), and now and then a NaN to leave out.
      double v = std::round(r.Exponential(10.0) * 4) / 4;
      if (r.Chance(0.02)) v = std::numeric_limits<double>::quiet_NaN();
      db->Record({At(int64_t(i)), node, "lat_ms", v, ""});
      db->Record({At(int64_t(i)), node, "other", 1e9, ""});  // must not leak into lat_ms
      if (std::isnan(v)) continue;
      all.push_back(v);
      by_node[node].push_back(v);
    }
    ASSERT_TRUE(db->EndRun(At(int64_t(n))).ok());

    auto s = db->Summarize(*run, "lat_ms");
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    expect_summary(*s, all, Replay(seed));
    auto per_node = db->SummarizeByNode(*run, "lat_ms");
    ASSERT_TRUE(per_node.ok());
    ASSERT_EQ(per_node->size(), by_node.size()) << Replay(seed);
    for (const auto& [node, values] : by_node) {
      ASSERT_EQ(per_node->count(node), 1u) << Replay(seed);
      expect_summary(per_node->at(node), values, Replay(seed) + " node " + std::to_string(node));
      expect_summary(*db->Summarize(*run, "lat_ms", node), values,
                     Replay(seed) + " Summarize node " + std::to_string(node));
    }
  }
  // No values at all: a count of 0, not a made-up number.
  auto run = db->BeginRun({"s", "", 0, "r", {}});
  db->Record({At(0), 0, "nan_only", std::numeric_limits<double>::quiet_NaN(), ""});
  expect_summary(*db->Summarize(*run, "nan_only"), {}, "NaN only");
  expect_summary(*db->Summarize(*run, "never_recorded"), {}, "never recorded");
  EXPECT_TRUE(db->SummarizeByNode(*run, "nan_only")->empty());
}

TEST(NearestRank, FollowsTheDefinitionAtTheEdges) {
  const std::vector<double> hundred = [] {
    std::vector<double> v;
    for (int i = 1; i <= 100; ++i) v.push_back(i);
    return v;
  }();
  EXPECT_EQ(NearestRank(hundred, 0), 1);
  EXPECT_EQ(NearestRank(hundred, 1), 1);
  EXPECT_EQ(NearestRank(hundred, 50), 50);
  EXPECT_EQ(NearestRank(hundred, 99), 99);  // not 100 through p/100 rounding
  EXPECT_EQ(NearestRank(hundred, 99.9), 100);
  EXPECT_EQ(NearestRank(hundred, 100), 100);
  EXPECT_EQ(NearestRank({5}, 99), 5);
  EXPECT_EQ(NearestRank({1, 2}, 50), 1);
  EXPECT_EQ(NearestRank({1, 2}, 51), 2);
}

}  // namespace
}  // namespace results
}  // namespace edgebed
