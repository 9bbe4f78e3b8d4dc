// ResultsDb: where a run's metrics and events go — a SQLite file that
// reports/ turns into something a person reads.
//
// A results database holds one or more runs. Each run records what produced
// it (scenario, seed, git revision, parameters) and, as a MetricsSink, every
// metric sample and event the Envs of the run emit. The schema is documented
// in reports/README.md; it is versioned (PRAGMA user_version) and marked as
// edgebed's (PRAGMA application_id), and Open() refuses other files.
//
// Determinism: nothing of the wall clock goes into the tables a run fills,
// except `run_wallclock`, written only through RecordWallClock(). The same
// calls in the same order give a byte-identical file when RecordWallClock is
// not called, so two runs of one scenario and seed can be compared with cmp.
//
// Writes are buffered in one open transaction and committed every
// kCommitEvery rows, on Flush(), EndRun() and Close(). Record() and Event()
// cannot return an error (MetricsSink's contract): the first failure is kept
// and returned by the next Flush(), EndRun() or Close().
//
// Thread-safety: none. A ResultsDb is used from one thread at a time, as an
// Env's sink is on the test loop and in ns-3.
//
//   auto db = ResultsDb::Open("results/demo.db");
//   auto run = (*db)->BeginRun({"heartbeat-demo", 1, "abc123", {{"nodes", "120"}}});
//   ... run the simulation with **db as its MetricsSink ...
//   (*db)->EndRun(end_time);
//   (*db)->Close();
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "core/env/env.h"

struct sqlite3;
struct sqlite3_stmt;

namespace edgebed::results {

inline constexpr int kSchemaVersion = 1;
inline constexpr int32_t kApplicationId = 0x45444245;  // "EDBE"

struct RunInfo {
  std::string scenario;
  uint64_t seed = 0;
  std::string revision;
  std::vector<std::pair<std::string, std::string>> parameters;
};

struct RunRow {
  int64_t run_id = 0;
  RunInfo info;
  std::optional<int64_t> sim_end_ns;  // empty until EndRun
  std::vector<std::pair<std::string, double>> wallclock;
};

struct SamplePoint {
  int64_t t_ns = 0;
  NodeId node = kNoNode;
  std::string labels;
  double value = 0;
};

struct EventRow {
  int64_t t_ns = 0;
  NodeId node = kNoNode;
  std::string kind;
  std::string detail;
};

// Nearest-rank percentiles, as most monitoring systems report them.
struct Summary {
  uint64_t count = 0;
  double min = 0, max = 0, mean = 0, p50 = 0, p90 = 0, p99 = 0;
};

class ResultsDb final : public MetricsSink {
 public:
  static constexpr size_t kCommitEvery = 50000;

  // Opens `path`, creating it with the schema if it does not exist.
  // Errors: the file is not SQLite, is another application's database, or
  // has a schema version this build does not read.
  static StatusOr<std::unique_ptr<ResultsDb>> Open(const std::string& path);
  ~ResultsDb() override;
  ResultsDb(const ResultsDb&) = delete;
  ResultsDb& operator=(const ResultsDb&) = delete;

  // Starts a run; samples and events from now on belong to it. Ids are 1, 2, ...
  StatusOr<int64_t> BeginRun(const RunInfo& info);
  // Marks the current run finished at simulated time `end` and commits.
  Status EndRun(Time end);
  // Wall-clock facts of the current run (wall seconds, simulator speed): the
  // one part of a database that differs between identical runs.
  Status RecordWallClock(const std::vector<std::pair<std::string, double>>& facts);

  // MetricsSink. Dropped (and counted as an error) when no run is open.
  void Record(const MetricSample& sample) override;
  void Event(const EventRecord& event) override;

  Status Flush();
  // Commits and closes; later calls fail. The destructor closes too, but only
  // Close() reports what went wrong.
  Status Close();

  // --- Reading back, for tests and reports ---
  StatusOr<std::vector<RunRow>> Runs();
  // Samples of metric `name` in run `run`, by time; only `node`'s if given.
  StatusOr<std::vector<SamplePoint>> Samples(int64_t run, std::string_view name,
                                             std::optional<NodeId> node = std::nullopt);
  // Events of run `run` by time; only those of `kind` unless it is empty.
  StatusOr<std::vector<EventRow>> Events(int64_t run, std::string_view kind = {});
  StatusOr<Summary> Summarize(int64_t run, std::string_view name);
  // The distinct metric names of a run, sorted.
  StatusOr<std::vector<std::string>> MetricNames(int64_t run);

 private:
  ResultsDb(sqlite3* db, std::string path);
  Status Exec(const char* sql);
  Status Prepare(const char* sql, sqlite3_stmt** stmt);
  Status SqlError(const std::string& doing);
  Status CommitIfDue(bool force);
  void Latch(Status s);
  StatusOr<int64_t> SeriesId(const MetricSample& sample);

  sqlite3* db_;
  std::string path_;
  int64_t run_ = 0;
  bool in_transaction_ = false;
  size_t pending_rows_ = 0;
  Status latched_;
  sqlite3_stmt* insert_series_ = nullptr;
  sqlite3_stmt* insert_sample_ = nullptr;
  sqlite3_stmt* insert_event_ = nullptr;
  std::map<std::tuple<std::string, NodeId, std::string>, int64_t> series_;
};

}  // namespace edgebed::results
