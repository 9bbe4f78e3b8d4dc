#include "core/results/results_db.h"

#include <sqlite3.h>

#include <algorithm>
#include <cmath>

namespace edgebed::results {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE runs (
  run_id      INTEGER PRIMARY KEY,
  scenario    TEXT NOT NULL,
  seed        INTEGER NOT NULL,
  revision    TEXT NOT NULL,
  sim_end_ns  INTEGER
);
CREATE TABLE run_parameters (
  run_id  INTEGER NOT NULL REFERENCES runs(run_id),
  key     TEXT NOT NULL,
  value   TEXT NOT NULL,
  PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE TABLE series (
  series_id  INTEGER PRIMARY KEY,
  run_id     INTEGER NOT NULL REFERENCES runs(run_id),
  name       TEXT NOT NULL,
  node       INTEGER,
  labels     TEXT NOT NULL,
  UNIQUE (run_id, name, node, labels)
);
CREATE TABLE samples (
  series_id  INTEGER NOT NULL REFERENCES series(series_id),
  t_ns       INTEGER NOT NULL,
  value      REAL NOT NULL
);
CREATE INDEX samples_by_series ON samples(series_id, t_ns);
CREATE TABLE events (
  run_id  INTEGER NOT NULL REFERENCES runs(run_id),
  t_ns    INTEGER NOT NULL,
  node    INTEGER,
  kind    TEXT NOT NULL,
  detail  TEXT NOT NULL
);
CREATE INDEX events_by_kind ON events(run_id, kind, t_ns);
CREATE TABLE run_wallclock (
  run_id  INTEGER NOT NULL REFERENCES runs(run_id),
  key     TEXT NOT NULL,
  value   REAL NOT NULL,
  PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE VIEW metrics AS
  SELECT series.run_id, samples.t_ns, series.node, series.name, series.labels, samples.value
  FROM samples JOIN series USING (series_id);
)sql";

// RAII for a statement prepared for one query.
class Statement {
 public:
  Statement() = default;
  ~Statement() { sqlite3_finalize(stmt_); }
  sqlite3_stmt** out() { return &stmt_; }
  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

std::string Text(sqlite3_stmt* s, int column) {
  const unsigned char* t = sqlite3_column_text(s, column);
  return t ? reinterpret_cast<const char*>(t) : "";
}

NodeId NodeColumn(sqlite3_stmt* s, int column) {
  return sqlite3_column_type(s, column) == SQLITE_NULL
             ? kNoNode
             : static_cast<NodeId>(sqlite3_column_int64(s, column));
}

void BindNode(sqlite3_stmt* s, int index, NodeId node) {
  if (node == kNoNode) {
    sqlite3_bind_null(s, index);
  } else {
    sqlite3_bind_int64(s, index, node);
  }
}

void BindText(sqlite3_stmt* s, int index, std::string_view text) {
  // A null pointer would bind SQL NULL; an empty view is still the text ''.
  sqlite3_bind_text(s, index, text.data() ? text.data() : "", static_cast<int>(text.size()),
                    SQLITE_TRANSIENT);
}

}  // namespace

StatusOr<std::unique_ptr<ResultsDb>> ResultsDb::Open(const std::string& path) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                                 nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return IoError("cannot open the results database: " + message +
                       "; check that the directory exists and is writable",
                   path);
  }
  std::unique_ptr<ResultsDb> results(new ResultsDb(db, path));
  // Identify the file before touching it: reading the header is what fails
  // on a file that is not SQLite at all.
  Statement probe;
  if (sqlite3_prepare_v2(db, "PRAGMA application_id", -1, probe.out(), nullptr) != SQLITE_OK ||
      sqlite3_step(probe.get()) != SQLITE_ROW) {
    return Corruption("not a results database (" + std::string(sqlite3_errmsg(db)) +
                          "); give a new file name, or remove this file",
                      path);
  }
  const int32_t app = sqlite3_column_int(probe.get(), 0);
  Statement count;
  int tables = 0;
  if (sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_schema", -1, count.out(), nullptr) ==
          SQLITE_OK &&
      sqlite3_step(count.get()) == SQLITE_ROW) {
    tables = sqlite3_column_int(count.get(), 0);
  }
  if (app == 0 && tables == 0) {
    // A new file. Speed over durability: a results file torn by a power loss
    // is re-run, not repaired, and the transaction still keeps it consistent
    // against a crash of the process.
    EDGEBED_RETURN_IF_ERROR(results->Exec("PRAGMA synchronous = OFF"));
    EDGEBED_RETURN_IF_ERROR(results->Exec("BEGIN"));
    EDGEBED_RETURN_IF_ERROR(results->Exec(kSchema));
    EDGEBED_RETURN_IF_ERROR(results->Exec(
        ("PRAGMA application_id = " + std::to_string(kApplicationId)).c_str()));
    EDGEBED_RETURN_IF_ERROR(
        results->Exec(("PRAGMA user_version = " + std::to_string(kSchemaVersion)).c_str()));
    EDGEBED_RETURN_IF_ERROR(results->Exec("COMMIT"));
  } else {
    if (app != kApplicationId) {
      return InvalidArgument(
          "this SQLite database is not an edgebed results database (application_id " +
              std::to_string(app) + "); give a new file name",
          path);
    }
    Statement version;
    int v = 0;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, version.out(), nullptr) == SQLITE_OK &&
        sqlite3_step(version.get()) == SQLITE_ROW) {
      v = sqlite3_column_int(version.get(), 0);
    }
    if (v != kSchemaVersion) {
      return InvalidArgument("results schema version " + std::to_string(v) +
                                 " cannot be read by this build (it reads version " +
                                 std::to_string(kSchemaVersion) + "); use the matching edgebed",
                             path);
    }
    EDGEBED_RETURN_IF_ERROR(results->Exec("PRAGMA synchronous = OFF"));
  }
  EDGEBED_RETURN_IF_ERROR(results->Prepare(
      "INSERT INTO series (run_id, name, node, labels) VALUES (?, ?, ?, ?)",
      &results->insert_series_));
  EDGEBED_RETURN_IF_ERROR(results->Prepare(
      "INSERT INTO samples (series_id, t_ns, value) VALUES (?, ?, ?)", &results->insert_sample_));
  EDGEBED_RETURN_IF_ERROR(results->Prepare(
      "INSERT INTO events (run_id, t_ns, node, kind, detail) VALUES (?, ?, ?, ?, ?)",
      &results->insert_event_));
  return results;
}

ResultsDb::ResultsDb(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

ResultsDb::~ResultsDb() { (void)Close(); }

Status ResultsDb::SqlError(const std::string& doing) {
  return IoError(doing + ": " + (db_ ? sqlite3_errmsg(db_) : "database is closed"), path_);
}

Status ResultsDb::Exec(const char* sql) {
  if (!db_) return FailedPrecondition("the results database is closed", path_);
  char* error = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    return IoError(message, path_);
  }
  return Status::Ok();
}

Status ResultsDb::Prepare(const char* sql, sqlite3_stmt** stmt) {
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, stmt, nullptr) != SQLITE_OK) {
    return SqlError("preparing a statement");
  }
  return Status::Ok();
}

void ResultsDb::Latch(Status s) {
  if (latched_.ok() && !s.ok()) latched_ = std::move(s);
}

Status ResultsDb::CommitIfDue(bool force) {
  if (in_transaction_ && (force || pending_rows_ >= kCommitEvery)) {
    EDGEBED_RETURN_IF_ERROR(Exec("COMMIT"));
    in_transaction_ = false;
    pending_rows_ = 0;
  }
  if (!force && !in_transaction_) {
    EDGEBED_RETURN_IF_ERROR(Exec("BEGIN"));
    in_transaction_ = true;
  }
  return Status::Ok();
}

StatusOr<int64_t> ResultsDb::BeginRun(const RunInfo& info) {
  if (!db_) return FailedPrecondition("the results database is closed", path_);
  if (run_ != 0) return FailedPrecondition("a run is already open; call EndRun first", path_);
  EDGEBED_RETURN_IF_ERROR(CommitIfDue(false));
  Statement insert;
  EDGEBED_RETURN_IF_ERROR(Prepare("INSERT INTO runs (scenario, seed, revision) VALUES (?, ?, ?)",
                                  insert.out()));
  BindText(insert.get(), 1, info.scenario);
  sqlite3_bind_int64(insert.get(), 2, static_cast<int64_t>(info.seed));
  BindText(insert.get(), 3, info.revision);
  if (sqlite3_step(insert.get()) != SQLITE_DONE) return SqlError("recording the run");
  const int64_t run = sqlite3_last_insert_rowid(db_);
  Statement param;
  EDGEBED_RETURN_IF_ERROR(
      Prepare("INSERT OR REPLACE INTO run_parameters (run_id, key, value) VALUES (?, ?, ?)",
              param.out()));
  for (const auto& [key, value] : info.parameters) {
    sqlite3_reset(param.get());
    sqlite3_bind_int64(param.get(), 1, run);
    BindText(param.get(), 2, key);
    BindText(param.get(), 3, value);
    if (sqlite3_step(param.get()) != SQLITE_DONE) return SqlError("recording parameter " + key);
  }
  run_ = run;
  series_.clear();
  return run;
}

Status ResultsDb::EndRun(Time end) {
  if (run_ == 0) return FailedPrecondition("no run is open", path_);
  Statement update;
  EDGEBED_RETURN_IF_ERROR(Prepare("UPDATE runs SET sim_end_ns = ? WHERE run_id = ?", update.out()));
  sqlite3_bind_int64(update.get(), 1, ToNanos(end));
  sqlite3_bind_int64(update.get(), 2, run_);
  if (sqlite3_step(update.get()) != SQLITE_DONE) return SqlError("ending the run");
  run_ = 0;
  return Flush();
}

Status ResultsDb::RecordWallClock(const std::vector<std::pair<std::string, double>>& facts) {
  if (!db_) return FailedPrecondition("the results database is closed", path_);
  // The run may have ended already: wall-clock facts are known only then.
  Statement last;
  EDGEBED_RETURN_IF_ERROR(Prepare("SELECT max(run_id) FROM runs", last.out()));
  if (sqlite3_step(last.get()) != SQLITE_ROW || sqlite3_column_type(last.get(), 0) == SQLITE_NULL) {
    return FailedPrecondition("no run to attach wall-clock facts to", path_);
  }
  const int64_t run = run_ != 0 ? run_ : sqlite3_column_int64(last.get(), 0);
  Statement insert;
  EDGEBED_RETURN_IF_ERROR(Prepare(
      "INSERT OR REPLACE INTO run_wallclock (run_id, key, value) VALUES (?, ?, ?)", insert.out()));
  for (const auto& [key, value] : facts) {
    sqlite3_reset(insert.get());
    sqlite3_bind_int64(insert.get(), 1, run);
    BindText(insert.get(), 2, key);
    sqlite3_bind_double(insert.get(), 3, value);
    if (sqlite3_step(insert.get()) != SQLITE_DONE) return SqlError("recording " + key);
  }
  return Status::Ok();
}

StatusOr<int64_t> ResultsDb::SeriesId(const MetricSample& sample) {
  auto key = std::make_tuple(sample.name, sample.node, sample.labels);
  auto it = series_.find(key);
  if (it != series_.end()) return it->second;
  sqlite3_reset(insert_series_);
  sqlite3_bind_int64(insert_series_, 1, run_);
  BindText(insert_series_, 2, sample.name);
  BindNode(insert_series_, 3, sample.node);
  BindText(insert_series_, 4, sample.labels);
  if (sqlite3_step(insert_series_) != SQLITE_DONE) return SqlError("recording a series");
  const int64_t id = sqlite3_last_insert_rowid(db_);
  series_.emplace(std::move(key), id);
  return id;
}

void ResultsDb::Record(const MetricSample& sample) {
  if (!db_ || run_ == 0) {
    Latch(FailedPrecondition("a sample arrived with no run open (" + sample.name + ")", path_));
    return;
  }
  if (Status s = CommitIfDue(false); !s.ok()) return Latch(s);
  StatusOr<int64_t> series = SeriesId(sample);
  if (!series.ok()) return Latch(series.status());
  sqlite3_reset(insert_sample_);
  sqlite3_bind_int64(insert_sample_, 1, *series);
  sqlite3_bind_int64(insert_sample_, 2, ToNanos(sample.time));
  sqlite3_bind_double(insert_sample_, 3, sample.value);
  if (sqlite3_step(insert_sample_) != SQLITE_DONE) return Latch(SqlError("recording a sample"));
  ++pending_rows_;
}

void ResultsDb::Event(const EventRecord& event) {
  if (!db_ || run_ == 0) {
    Latch(FailedPrecondition("an event arrived with no run open (" + event.kind + ")", path_));
    return;
  }
  if (Status s = CommitIfDue(false); !s.ok()) return Latch(s);
  sqlite3_reset(insert_event_);
  sqlite3_bind_int64(insert_event_, 1, run_);
  sqlite3_bind_int64(insert_event_, 2, ToNanos(event.time));
  BindNode(insert_event_, 3, event.node);
  BindText(insert_event_, 4, event.kind);
  BindText(insert_event_, 5, event.detail);
  if (sqlite3_step(insert_event_) != SQLITE_DONE) return Latch(SqlError("recording an event"));
  ++pending_rows_;
}

Status ResultsDb::Flush() {
  if (!db_) return FailedPrecondition("the results database is closed", path_);
  EDGEBED_RETURN_IF_ERROR(CommitIfDue(true));
  return latched_;
}

Status ResultsDb::Close() {
  if (!db_) return latched_;
  Status flushed = CommitIfDue(true);
  Latch(flushed);
  for (sqlite3_stmt* s : {insert_series_, insert_sample_, insert_event_}) sqlite3_finalize(s);
  insert_series_ = insert_sample_ = insert_event_ = nullptr;
  if (sqlite3_close(db_) != SQLITE_OK) Latch(SqlError("closing"));
  db_ = nullptr;
  run_ = 0;
  return latched_;
}

StatusOr<std::vector<RunRow>> ResultsDb::Runs() {
  if (!db_) return FailedPrecondition("the results database is closed", path_);
  std::vector<RunRow> runs;
  Statement q;
  EDGEBED_RETURN_IF_ERROR(Prepare(
      "SELECT run_id, scenario, seed, revision, sim_end_ns FROM runs ORDER BY run_id", q.out()));
  while (sqlite3_step(q.get()) == SQLITE_ROW) {
    RunRow row;
    row.run_id = sqlite3_column_int64(q.get(), 0);
    row.info.scenario = Text(q.get(), 1);
    row.info.seed = static_cast<uint64_t>(sqlite3_column_int64(q.get(), 2));
    row.info.revision = Text(q.get(), 3);
    if (sqlite3_column_type(q.get(), 4) != SQLITE_NULL) row.sim_end_ns = sqlite3_column_int64(q.get(), 4);
    runs.push_back(std::move(row));
  }
  Statement params, wall;
  EDGEBED_RETURN_IF_ERROR(
      Prepare("SELECT key, value FROM run_parameters WHERE run_id = ? ORDER BY key", params.out()));
  EDGEBED_RETURN_IF_ERROR(
      Prepare("SELECT key, value FROM run_wallclock WHERE run_id = ? ORDER BY key", wall.out()));
  for (RunRow& row : runs) {
    sqlite3_reset(params.get());
    sqlite3_bind_int64(params.get(), 1, row.run_id);
    while (sqlite3_step(params.get()) == SQLITE_ROW) {
      row.info.parameters.emplace_back(Text(params.get(), 0), Text(params.get(), 1));
    }
    sqlite3_reset(wall.get());
    sqlite3_bind_int64(wall.get(), 1, row.run_id);
    while (sqlite3_step(wall.get()) == SQLITE_ROW) {
      row.wallclock.emplace_back(Text(wall.get(), 0), sqlite3_column_double(wall.get(), 1));
    }
  }
  return runs;
}

StatusOr<std::vector<SamplePoint>> ResultsDb::Samples(int64_t run, std::string_view name,
                                                      std::optional<NodeId> node) {
  if (!db_) return FailedPrecondition("the results database is closed", path_);
  EDGEBED_RETURN_IF_ERROR(Flush());
  Statement q;
  EDGEBED_RETURN_IF_ERROR(Prepare(
      "SELECT samples.t_ns, series.node, series.labels, samples.value "
      "FROM samples JOIN series USING (series_id) "
      "WHERE series.run_id = ?1 AND series.name = ?2 AND (?3 IS NULL OR series.node = ?3) "
      "ORDER BY samples.t_ns, samples.rowid",
      q.out()));
  sqlite3_bind_int64(q.get(), 1, run);
  BindText(q.get(), 2, name);
  if (node) sqlite3_bind_int64(q.get(), 3, *node);
  std::vector<SamplePoint> out;
  while (sqlite3_step(q.get()) == SQLITE_ROW) {
    out.push_back({sqlite3_column_int64(q.get(), 0), NodeColumn(q.get(), 1), Text(q.get(), 2),
                   sqlite3_column_double(q.get(), 3)});
  }
  return out;
}

StatusOr<std::vector<EventRow>> ResultsDb::Events(int64_t run, std::string_view kind) {
  if (!db_) return FailedPrecondition("the results database is closed", path_);
  EDGEBED_RETURN_IF_ERROR(Flush());
  Statement q;
  EDGEBED_RETURN_IF_ERROR(Prepare(
      "SELECT t_ns, node, kind, detail FROM events WHERE run_id = ?1 AND (?2 = '' OR kind = ?2) "
      "ORDER BY t_ns, rowid",
      q.out()));
  sqlite3_bind_int64(q.get(), 1, run);
  BindText(q.get(), 2, kind);
  std::vector<EventRow> out;
  while (sqlite3_step(q.get()) == SQLITE_ROW) {
    out.push_back({sqlite3_column_int64(q.get(), 0), NodeColumn(q.get(), 1), Text(q.get(), 2),
                   Text(q.get(), 3)});
  }
  return out;
}

StatusOr<Summary> ResultsDb::Summarize(int64_t run, std::string_view name) {
  StatusOr<std::vector<SamplePoint>> points = Samples(run, name);
  if (!points.ok()) return points.status();
  std::vector<double> values;
  values.reserve(points->size());
  for (const auto& p : *points) values.push_back(p.value);
  Summary s;
  s.count = values.size();
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  double sum = 0;
  for (double v : values) sum += v;
  auto rank = [&values](double p) {
    const auto k = static_cast<size_t>(std::ceil(p * static_cast<double>(values.size())));
    return values[std::max<size_t>(k, 1) - 1];
  };
  s.min = values.front();
  s.max = values.back();
  s.mean = sum / static_cast<double>(values.size());
  s.p50 = rank(0.50);
  s.p90 = rank(0.90);
  s.p99 = rank(0.99);
  return s;
}

StatusOr<std::vector<std::string>> ResultsDb::MetricNames(int64_t run) {
  if (!db_) return FailedPrecondition("the results database is closed", path_);
  EDGEBED_RETURN_IF_ERROR(Flush());
  Statement q;
  EDGEBED_RETURN_IF_ERROR(
      Prepare("SELECT DISTINCT name FROM series WHERE run_id = ? ORDER BY name", q.out()));
  sqlite3_bind_int64(q.get(), 1, run);
  std::vector<std::string> out;
  while (sqlite3_step(q.get()) == SQLITE_ROW) out.push_back(Text(q.get(), 0));
  return out;
}

}  // namespace edgebed::results
