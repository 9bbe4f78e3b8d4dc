// ResultsDb: the results database — one SQLite file that holds what runs did,
// for tests, for reports/ and for anyone with the sqlite3 shell.
//
// What it holds. A file holds one or more runs, numbered 1, 2, ... in the
// order they began. A run records what produced it (scenario name and file,
// seed, git revision, parameters) and the span of simulated time it covered;
// and, because a ResultsDb is the run's MetricsSink, every metric sample and
// event its Envs emit while it is open. reports/README.md documents the schema.
//
// What it promises.
//  - Determinism. Only the caller's inputs and simulated time reach the file.
//    Wall-clock facts (wall seconds, simulator speed) live in the table
//    run_wallclock alone and get there only through RecordWallClock(). The
//    same calls in the same order, without RecordWallClock(), give a
//    byte-identical file (with the same SQLite library, which stamps its
//    version into the header), so two runs of one seed compare with cmp.
//  - Identity. The file is marked as edgebed's (PRAGMA application_id) and
//    carries its schema version (PRAGMA user_version). Open() refuses a file
//    that is not SQLite, belongs to another application, has another schema
//    version or a damaged schema, with a Status that names the path and the
//    fix. Nothing here throws, and a damaged file gives errors, not crashes.
//  - Speed. Record() and Event() reuse prepared statements inside one open
//    transaction, committed every WriteOptions::commit_every rows and by
//    Flush(), EndRun(), Close() and the destructor: 0.5 to 1.1 million samples
//    a second on one core, by the number of series (benchmarks/results_bench.cc).
//  - Errors. Record() and Event() cannot return one (MetricsSink's contract):
//    a record that cannot be written is dropped and counted, and the first
//    such error is returned, once, by the next Flush(), EndRun() or Close().
//  - Crashes. If the process dies, the file holds everything committed before
//    (SQLite's rollback journal); a power loss may damage it, since nothing is
//    fsynced (a results file is re-run, not repaired).
//
// Thread-safety: none. A ResultsDb is used from one thread at a time, as a
// sink is on the test loop and in ns-3. A driver whose nodes run on several
// threads hands their records to one thread that owns the ResultsDb (and one
// ResultsDb per file: two writers of one file wait on each other's locks).
//
//   auto db = results::ResultsDb::Open("results/demo.db");
//   if (!db.ok()) return db.status();
//   auto run = (*db)->BeginRun({"heartbeat-demo", "", 1, "abc123", {{"nodes", "120"}}});
//   ... run the simulation with **db as its MetricsSink ...
//   EDGEBED_RETURN_IF_ERROR((*db)->EndRun(end_time));
//   auto rtt = (*db)->Summarize(*run, "probe.rtt_ms");  // count, mean, p99, ...
//   EDGEBED_RETURN_IF_ERROR((*db)->Close());
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/env/env.h"

struct sqlite3;
struct sqlite3_stmt;

namespace edgebed::results {

// PRAGMA application_id of every results database: "EDBE".
inline constexpr int32_t kApplicationId = 0x45444245;
// PRAGMA user_version: bumped whenever a table changes. Version 2 added the
// scenario file, the start of a run and NaN samples (as NULL).
inline constexpr int kSchemaVersion = 2;

// What produced a run: with these, the run can be made again.
struct RunInfo {
  std::string scenario;       // the scenario's name; must not be empty
  std::string scenario_path;  // the file it was read from; empty if built in
  uint64_t seed = 0;
  std::string revision;       // `git describe` of the build that ran it
  // Every setting of the run. Keys are unique; read back sorted by key.
  std::vector<std::pair<std::string, std::string>> parameters;
  Time start{};               // simulated time at which the run starts
};

// A run as stored.
struct RunRow {
  int64_t run_id = 0;
  RunInfo info;
  std::optional<Time> end;  // set by EndRun(); empty if the run never ended
  // Facts of the machine that ran it, sorted by key. Not deterministic.
  std::vector<std::pair<std::string, double>> wallclock;
};

// Count, extremes, mean and nearest-rank percentiles of a metric's values.
// NaN samples are left out of all of them; with no value left, count is 0
// and the other fields are NaN.
struct Summary {
  uint64_t count = 0;
  double min = 0, max = 0, mean = 0;
  double p50 = 0, p90 = 0, p99 = 0, p999 = 0;
};

// The nearest-rank percentile (as most monitoring systems report it): the
// smallest value such that at least `percent`% of the values are <= it.
// REQUIRES: `sorted` is ascending and not empty; 0 <= percent <= 100
// (0 gives the minimum).
double NearestRank(const std::vector<double>& sorted, double percent);

struct WriteOptions {
  // Rows per transaction. Larger amortizes commits better; smaller bounds
  // what a crash of the process loses. Must be at least 1.
  size_t commit_every = 50'000;
};

class ResultsDb final : public MetricsSink {
 public:
  // Opens `path` for recording, creating it (and its schema) if it is missing
  // or empty. New runs are added after the ones already there.
  // Errors: kIoError if the file cannot be opened or created (the directory
  // is missing or not writable); kInvalidArgument if it is not an edgebed
  // results database (not SQLite, or another application's); kFailedPrecondition
  // if its schema version is not kSchemaVersion; kCorruption if it is
  // edgebed's but its schema is damaged.
  static StatusOr<std::unique_ptr<ResultsDb>> Open(const std::string& path,
                                                   WriteOptions options = {});
  // Opens an existing results database for the query methods only; the
  // recording methods then fail with kFailedPrecondition. Errors as Open(),
  // plus kNotFound if there is no file at `path`, and kFailedPrecondition if
  // a writer died with a batch half-written (Open() once rolls it back).
  static StatusOr<std::unique_ptr<ResultsDb>> OpenReadOnly(const std::string& path);

  // Commits what is pending and closes, dropping any error: call Close() to see it.
  ~ResultsDb() override;
  ResultsDb(const ResultsDb&) = delete;
  ResultsDb& operator=(const ResultsDb&) = delete;

  // --- Recording ---

  // Starts a run and returns its id; samples and events belong to it until
  // EndRun(). kInvalidArgument (naming the field) for an empty scenario or a
  // parameter key given twice; kFailedPrecondition if a run is already open.
  StatusOr<int64_t> BeginRun(const RunInfo& info);
  // Ends the open run at simulated time `end` (not before its start) and
  // commits. Returns, too, the first error Record() or Event() met, if any.
  Status EndRun(Time end);
  // Stores wall-clock facts (e.g. "wall_seconds") for the open run, or for the
  // last run if none is open: they are known only once a run is over. A key
  // stored twice keeps the last value. The one non-deterministic table.
  Status RecordWallClock(const std::vector<std::pair<std::string, double>>& facts);

  // MetricsSink. A sample or event that arrives with no run open, or that
  // SQLite refuses, is dropped and reported by the next Flush/EndRun/Close.
  // A NaN value is kept (stored as NULL).
  void Record(const MetricSample& sample) override;
  void Event(const EventRecord& event) override;

  // Commits what is pending. Returns the first error since the last report
  // (with how many records were dropped), and forgets it.
  Status Flush();
  // Flushes and closes. A run still open stays without an end. Every later
  // call fails with kFailedPrecondition; closing twice is OK.
  Status Close();

  // The open run's id, or 0 when none is open.
  int64_t current_run() const { return run_; }
  const std::string& path() const { return path_; }

  // --- Reading back, for tests and reports ---
  //
  // Queries see every record so far, committed or not. A run id that is not
  // in the file gives kNotFound; an unknown metric name or event kind gives
  // an empty answer. A node of kNoNode selects the run-level rows.

  // All runs, by id.
  StatusOr<std::vector<RunRow>> Runs() const;
  StatusOr<RunRow> Run(int64_t run) const;
  // The distinct metric names of a run, sorted.
  StatusOr<std::vector<std::string>> MetricNames(int64_t run) const;
  // The samples of metric `name` (only those of `node`, if given), ordered by
  // time and then by the order they were recorded in.
  StatusOr<std::vector<MetricSample>> Samples(int64_t run, std::string_view name,
                                              std::optional<NodeId> node = std::nullopt) const;
  // The events of a run (only those of `kind`, unless it is empty), ordered
  // by time and then by the order they were recorded in.
  StatusOr<std::vector<EventRecord>> Events(int64_t run, std::string_view kind = {}) const;
  // Aggregates of metric `name` over the run (only `node`'s, if given).
  StatusOr<Summary> Summarize(int64_t run, std::string_view name,
                              std::optional<NodeId> node = std::nullopt) const;
  // The same, one Summary per node that has a (non-NaN) sample of `name`.
  StatusOr<std::map<NodeId, Summary>> SummarizeByNode(int64_t run, std::string_view name) const;

 private:
  ResultsDb(sqlite3* db, std::string path, bool read_only, WriteOptions options);
  static StatusOr<std::unique_ptr<ResultsDb>> OpenWith(const std::string& path, bool read_only,
                                                       WriteOptions options);
  Status CreateOrCheckSchema();
  StatusOr<int64_t> InsertRun(const RunInfo& info);
  Status PrepareInserts();
  Status Exec(const char* sql) const;
  Status SqlError(int rc, const std::string& doing) const;
  Status CheckOpen() const;
  Status CheckWritable() const;
  Status CheckRunExists(int64_t run) const;
  Status Commit();
  bool EnsureTransaction();
  void RowWritten();
  void Drop(Status why);
  Status TakeDropped();
  int64_t SeriesId(const MetricSample& sample);

  sqlite3* db_;
  std::string path_;
  bool read_only_;
  WriteOptions options_;
  int64_t run_ = 0;          // the open run, 0 if none
  size_t pending_rows_ = 0;  // written since the last commit
  Status first_dropped_;     // why the first dropped record since the last report was dropped
  uint64_t dropped_ = 0;     // records dropped since the last report
  sqlite3_stmt* insert_series_ = nullptr;
  sqlite3_stmt* insert_sample_ = nullptr;
  sqlite3_stmt* insert_event_ = nullptr;
  // (node, name, labels) -> series_id for the open run, keyed by an encoding
  // built in series_key_ so that a lookup allocates nothing.
  std::unordered_map<std::string, int64_t> series_ids_;
  std::string series_key_;
  int64_t next_seq_ = 1;  // samples.seq of the open run's next sample
};

}  // namespace edgebed::results
