// ResultsDb over the SQLite C API. The schema and the reasons for its shape
// are in reports/README.md; keep the two in step (and bump kSchemaVersion
// when a table changes).
#include "core/results/results_db.h"

#include "core/base/sqlite.h"

#include <sqlite3.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstring>
#include <limits>

namespace edgebed::results {
namespace {

// The schema, one object per statement, so that Open() can check each one
// against what sqlite_schema holds. Indexes are named; no AUTOINCREMENT (its
// sqlite_sequence table adds nothing: ids already come from max(id) + 1).
struct SchemaObject {
  const char* name;
  const char* sql;
};
constexpr SchemaObject kSchema[] = {
    {"runs",
     "CREATE TABLE runs (\n"
     "  run_id        INTEGER PRIMARY KEY,\n"
     "  scenario      TEXT NOT NULL,\n"
     "  scenario_path TEXT NOT NULL,\n"
     "  seed          INTEGER NOT NULL,\n"
     "  revision      TEXT NOT NULL,\n"
     "  sim_start_ns  INTEGER NOT NULL,\n"
     "  sim_end_ns    INTEGER\n"
     ")"},
    {"run_parameters",
     "CREATE TABLE run_parameters (\n"
     "  run_id INTEGER NOT NULL REFERENCES runs (run_id),\n"
     "  key    TEXT NOT NULL,\n"
     "  value  TEXT NOT NULL,\n"
     "  PRIMARY KEY (run_id, key)\n"
     ") WITHOUT ROWID"},
    {"series",
     "CREATE TABLE series (\n"
     "  series_id INTEGER PRIMARY KEY,\n"
     "  run_id    INTEGER NOT NULL REFERENCES runs (run_id),\n"
     "  name      TEXT NOT NULL,\n"
     "  node      INTEGER,\n"
     "  labels    TEXT NOT NULL\n"
     ")"},
    {"series_by_name", "CREATE INDEX series_by_name ON series (run_id, name, node)"},
    // Clustered by series: a series' samples sit together and are read with
    // one range scan, and no second index repeats every row (the rowid table
    // with an index on (series_id, t_ns) of schema version 1 was 1.4 to 1.6
    // times the size and 5 to 25% slower to fill). seq is the sample's place
    // in the run's recording order, which breaks ties between samples of the
    // same instant.
    {"samples",
     "CREATE TABLE samples (\n"
     "  series_id INTEGER NOT NULL REFERENCES series (series_id),\n"
     "  seq       INTEGER NOT NULL,\n"
     "  t_ns      INTEGER NOT NULL,\n"
     "  value     REAL,\n"
     "  PRIMARY KEY (series_id, seq)\n"
     ") WITHOUT ROWID"},
    {"events",
     "CREATE TABLE events (\n"
     "  run_id INTEGER NOT NULL REFERENCES runs (run_id),\n"
     "  t_ns   INTEGER NOT NULL,\n"
     "  node   INTEGER,\n"
     "  kind   TEXT NOT NULL,\n"
     "  detail TEXT NOT NULL\n"
     ")"},
    {"events_by_kind", "CREATE INDEX events_by_kind ON events (run_id, kind, t_ns)"},
    {"run_wallclock",
     "CREATE TABLE run_wallclock (\n"
     "  run_id INTEGER NOT NULL REFERENCES runs (run_id),\n"
     "  key    TEXT NOT NULL,\n"
     "  value  REAL NOT NULL,\n"
     "  PRIMARY KEY (run_id, key)\n"
     ") WITHOUT ROWID"},
    {"metrics",
     "CREATE VIEW metrics AS\n"
     "  SELECT series.run_id, samples.seq, samples.t_ns, series.node, series.name,\n"
     "         series.labels, samples.value\n"
     "  FROM samples JOIN series USING (series_id)"},
};

using sqlite::BindText;
using sqlite::Statement;
using sqlite::TextColumn;

NodeId NodeColumn(sqlite3_stmt* s, int column) {
  return sqlite3_column_type(s, column) == SQLITE_NULL
             ? kNoNode
             : static_cast<NodeId>(sqlite3_column_int64(s, column));
}

// SQLite stores a NaN as NULL; read it back as the NaN it was.
double ValueColumn(sqlite3_stmt* s, int column) {
  return sqlite3_column_type(s, column) == SQLITE_NULL ? std::numeric_limits<double>::quiet_NaN()
                                                       : sqlite3_column_double(s, column);
}

Time TimeColumn(sqlite3_stmt* s, int column) {
  return Time(Duration(sqlite3_column_int64(s, column)));
}

int BindNode(sqlite3_stmt* s, int index, NodeId node) {
  return node == kNoNode ? sqlite3_bind_null(s, index) : sqlite3_bind_int64(s, index, node);
}

// Binds an optional node filter as two parameters: whether to filter, and
// the node (NULL for kNoNode, matched with IS).
void BindNodeFilter(sqlite3_stmt* s, int index, std::optional<NodeId> node) {
  sqlite3_bind_int(s, index, node.has_value() ? 1 : 0);
  BindNode(s, index + 1, node.value_or(kNoNode));
}

// Sorts `values` and summarizes them.
Summary SummaryOf(std::vector<double>& values) {
  Summary s;
  s.count = values.size();
  if (values.empty()) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    s.min = s.max = s.mean = s.p50 = s.p90 = s.p99 = s.p999 = nan;
    return s;
  }
  std::sort(values.begin(), values.end());
  double sum = 0;  // in ascending order, so the mean does not depend on insertion order
  for (double v : values) sum += v;
  s.min = values.front();
  s.max = values.back();
  s.mean = sum / static_cast<double>(values.size());
  s.p50 = NearestRank(values, 50);
  s.p90 = NearestRank(values, 90);
  s.p99 = NearestRank(values, 99);
  s.p999 = NearestRank(values, 99.9);
  return s;
}

}  // namespace

double NearestRank(const std::vector<double>& sorted, double percent) {
  assert(!sorted.empty());
  // p * n first, then / 100: exact for whole percents, so p99 of 100 values
  // is the 99th and not, through rounding, the 100th.
  const size_t n = sorted.size();
  const double rank = std::ceil(percent * static_cast<double>(n) / 100.0);
  // Compared before the cast, which a NaN or huge rank would make undefined.
  const size_t k = !(rank >= 1) ? 1 : rank >= static_cast<double>(n) ? n : static_cast<size_t>(rank);
  return sorted[k - 1];
}

// --- Opening ---

StatusOr<std::unique_ptr<ResultsDb>> ResultsDb::Open(const std::string& path,
                                                     WriteOptions options) {
  if (options.commit_every == 0) {
    return InvalidArgument("commit_every is 0; give at least 1 row per transaction",
                           "WriteOptions.commit_every");
  }
  return OpenWith(path, /*read_only=*/false, options);
}

StatusOr<std::unique_ptr<ResultsDb>> ResultsDb::OpenReadOnly(const std::string& path) {
  return OpenWith(path, /*read_only=*/true, WriteOptions{});
}

StatusOr<std::unique_ptr<ResultsDb>> ResultsDb::OpenWith(const std::string& path, bool read_only,
                                                         WriteOptions options) {
  sqlite3* db = nullptr;
  const int flags = read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    const std::string message = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    const int system_errno = db ? sqlite3_system_errno(db) : 0;
    sqlite3_close(db);
    if (read_only && system_errno == ENOENT) {
      return NotFound("no results database here; check the path, or record a run into it first",
                      path);
    }
    return IoError("cannot open the results database (" + message +
                       (system_errno ? ", " + std::string(std::strerror(system_errno)) : "") +
                       "); check that the directory exists and is writable",
                   path);
  }
  std::unique_ptr<ResultsDb> results(new ResultsDb(db, path, read_only, options));
  // A file handed to us may be damaged or hostile: refuse to run triggers or
  // unsafe functions it carries, refuse writes to the schema, and check cell
  // sizes as pages are read so corruption is reported instead of followed.
  sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
  sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, nullptr);
  sqlite3_extended_result_codes(db, 1);
  // A reader (sqlite3, a report) may hold the file for a moment while we
  // commit; wait for it rather than drop a batch.
  sqlite3_busy_timeout(db, 5000);
  EDGEBED_RETURN_IF_ERROR(results->Exec("PRAGMA cell_size_check = ON"));
  EDGEBED_RETURN_IF_ERROR(results->CreateOrCheckSchema());
  if (!read_only) {
    // Durability is traded for speed: the rollback journal still keeps the
    // file consistent if the process dies, and a results file torn by a power
    // loss is re-run, not repaired. A larger page cache keeps the pages a
    // batch touches (one or more per series) in memory until its commit.
    EDGEBED_RETURN_IF_ERROR(results->Exec("PRAGMA synchronous = OFF"));
    EDGEBED_RETURN_IF_ERROR(results->Exec("PRAGMA cache_size = -65536"));  // KiB
    EDGEBED_RETURN_IF_ERROR(results->PrepareInserts());
  }
  return results;
}

ResultsDb::ResultsDb(sqlite3* db, std::string path, bool read_only, WriteOptions options)
    : db_(db), path_(std::move(path)), read_only_(read_only), options_(options) {}

ResultsDb::~ResultsDb() { (void)Close(); }

Status ResultsDb::CreateOrCheckSchema() {
  // Reading the header is the first thing that fails on a file that is not
  // SQLite at all.
  int32_t application_id = 0;
  int version = 0;
  int objects = 0;
  {
    Statement identity;
    int rc = sqlite3_prepare_v2(db_,
                                "SELECT (SELECT application_id FROM pragma_application_id),"
                                " (SELECT user_version FROM pragma_user_version),"
                                " (SELECT count(*) FROM sqlite_schema)",
                                -1, identity.out(), nullptr);
    if (rc == SQLITE_OK) rc = sqlite3_step(identity.get());
    if (rc != SQLITE_ROW) {
      if ((rc & 0xff) == SQLITE_NOTADB) {
        return InvalidArgument(
            "not an edgebed results database: not a SQLite database at all; check the path, "
            "or give a new file name",
            path_);
      }
      return SqlError(rc, "reading the database header");
    }
    application_id = sqlite3_column_int(identity.get(), 0);
    version = sqlite3_column_int(identity.get(), 1);
    objects = sqlite3_column_int(identity.get(), 2);
  }

  if (application_id == 0 && version == 0 && objects == 0) {
    // A new (or empty) file.
    if (read_only_) {
      return InvalidArgument("an empty database, not a results database; record a run into it "
                             "first, or check the path",
                             path_);
    }
    EDGEBED_RETURN_IF_ERROR(Exec("BEGIN"));
    for (const SchemaObject& object : kSchema) {
      if (Status s = Exec(object.sql); !s.ok()) {
        (void)Exec("ROLLBACK");
        return s;
      }
    }
    const std::string identity = "PRAGMA application_id = " + std::to_string(kApplicationId) +
                                 "; PRAGMA user_version = " + std::to_string(kSchemaVersion);
    EDGEBED_RETURN_IF_ERROR(Exec(identity.c_str()));
    return Exec("COMMIT");
  }

  if (application_id != kApplicationId) {
    return InvalidArgument("not an edgebed results database: a SQLite database of another "
                           "application (application_id " +
                               std::to_string(application_id) +
                               "); check the path, or give a new file name",
                           path_);
  }
  if (version != kSchemaVersion) {
    return Status(StatusCode::kFailedPrecondition,
                  "results schema version " + std::to_string(version) +
                      " cannot be read by this build, which reads version " +
                      std::to_string(kSchemaVersion) +
                      "; use the edgebed revision that wrote it, or record the run again",
                  path_);
  }
  // Each object must be there as this build created it; objects a person
  // added (an index for their own queries) are left alone.
  Statement lookup;
  int rc = sqlite3_prepare_v2(db_, "SELECT sql FROM sqlite_schema WHERE name = ?", -1,
                              lookup.out(), nullptr);
  if (rc != SQLITE_OK) return SqlError(rc, "reading the schema");
  for (const SchemaObject& object : kSchema) {
    sqlite3_reset(lookup.get());
    BindText(lookup.get(), 1, object.name);
    rc = sqlite3_step(lookup.get());
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return SqlError(rc, "reading the schema");
    if (rc == SQLITE_DONE || TextColumn(lookup.get(), 0) != object.sql) {
      return Corruption(std::string("damaged results database: ") +
                            (rc == SQLITE_DONE ? "missing" : "altered") + " schema object '" +
                            object.name + "'; record the run again into a new file",
                        path_);
    }
  }
  return Status::Ok();
}

Status ResultsDb::PrepareInserts() {
  const std::pair<const char*, sqlite3_stmt**> inserts[] = {
      {"INSERT INTO series (run_id, name, node, labels) VALUES (?, ?, ?, ?)", &insert_series_},
      {"INSERT INTO samples (series_id, seq, t_ns, value) VALUES (?, ?, ?, ?)", &insert_sample_},
      {"INSERT INTO events (run_id, t_ns, node, kind, detail) VALUES (?, ?, ?, ?, ?)",
       &insert_event_},
  };
  for (const auto& [sql, stmt] : inserts) {
    const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, stmt, nullptr);
    if (rc != SQLITE_OK) return SqlError(rc, "preparing the inserts");
  }
  return Status::Ok();
}

// --- Errors ---

// Says what SQLite's error means for the person holding the file.
Status ResultsDb::SqlError(int rc, const std::string& doing) const {
  const std::string what = doing + ": " + (db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Corruption(what + "; the file is damaged: record the run again into a new file",
                        path_);
    case SQLITE_FULL:
      return ResourceExhausted(what + "; free space on the disk that holds the file", path_);
    case SQLITE_NOMEM:
    case SQLITE_TOOBIG:
      return ResourceExhausted(what + "; record fewer or smaller values", path_);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Unavailable(what + "; another process holds the file: let it finish, or record "
                                "into another file",
                         path_);
    case SQLITE_READONLY:
      if (rc == SQLITE_READONLY_ROLLBACK) {
        return FailedPrecondition(what + "; the process that wrote it died with a batch "
                                         "half-written: open it once with Open() (which "
                                         "rolls the batch back), then read it",
                                  path_);
      }
      return FailedPrecondition(what + "; the file is read-only: make it writable", path_);
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
      return IoError(what + "; check the disk and the file's permissions", path_);
    default:
      return Internal(what + " (SQLite code " + std::to_string(rc) + ")", path_);
  }
}

Status ResultsDb::Exec(const char* sql) const {
  if (!db_) return FailedPrecondition("the results database is closed", path_);
  char* error = nullptr;
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &error);
  sqlite3_free(error);  // the same text as sqlite3_errmsg, which SqlError reads
  if (rc != SQLITE_OK) return SqlError(rc, std::string("running \"") + sql + "\"");
  return Status::Ok();
}

Status ResultsDb::CheckOpen() const {
  if (!db_) return FailedPrecondition("the results database is closed; open it again", path_);
  return Status::Ok();
}

Status ResultsDb::CheckWritable() const {
  EDGEBED_RETURN_IF_ERROR(CheckOpen());
  if (read_only_) {
    return FailedPrecondition("the results database was opened read-only; open it with Open() "
                              "to record",
                              path_);
  }
  return Status::Ok();
}

void ResultsDb::Drop(Status why) {
  if (first_dropped_.ok()) first_dropped_ = std::move(why);
  ++dropped_;
}

Status ResultsDb::TakeDropped() {
  if (first_dropped_.ok()) return Status::Ok();
  Status first = std::move(first_dropped_);
  first_dropped_ = Status::Ok();
  const uint64_t dropped = dropped_;
  dropped_ = 0;
  return Status(first.code(),
                first.message() + " (" + std::to_string(dropped) +
                    (dropped == 1 ? " record" : " records") + " dropped)",
                first.where());
}

// --- Transactions ---

bool ResultsDb::EnsureTransaction() {
  if (sqlite3_get_autocommit(db_) == 0) return true;
  if (Status s = Exec("BEGIN"); !s.ok()) {
    Drop(s);
    return false;
  }
  return true;
}

Status ResultsDb::Commit() {
  if (sqlite3_get_autocommit(db_) != 0) return Status::Ok();
  Status s = Exec("COMMIT");
  if (!s.ok()) {
    // SQLite may keep the transaction open after a failed COMMIT; roll back
    // so the next batch starts clean, and count what was lost.
    if (sqlite3_get_autocommit(db_) == 0) (void)Exec("ROLLBACK");
    if (first_dropped_.ok()) first_dropped_ = s;
    dropped_ += pending_rows_;
  }
  pending_rows_ = 0;
  return s;
}

void ResultsDb::RowWritten() {
  if (++pending_rows_ >= options_.commit_every) (void)Commit();  // a failure is kept by Commit
}

// --- Recording ---

StatusOr<int64_t> ResultsDb::BeginRun(const RunInfo& info) {
  EDGEBED_RETURN_IF_ERROR(CheckWritable());
  if (run_ != 0) {
    return FailedPrecondition("run " + std::to_string(run_) + " is still open; call EndRun first",
                              path_);
  }
  if (info.scenario.empty()) {
    return InvalidArgument("the scenario is empty; name the scenario of the run", "scenario");
  }
  for (size_t i = 0; i < info.parameters.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (info.parameters[j].first == info.parameters[i].first) {
        return InvalidArgument("parameter '" + info.parameters[i].first +
                                   "' is given twice; give each key once",
                               "parameters[" + std::to_string(i) + "]");
      }
    }
  }
  // All of the run's rows or none: a failure halfway leaves no run behind.
  EDGEBED_RETURN_IF_ERROR(Exec("SAVEPOINT begin_run"));
  StatusOr<int64_t> run = InsertRun(info);
  if (!run.ok()) {
    (void)Exec("ROLLBACK TO begin_run");
    (void)Exec("RELEASE begin_run");
    return run.status();
  }
  EDGEBED_RETURN_IF_ERROR(Exec("RELEASE begin_run"));
  run_ = *run;
  series_ids_.clear();
  next_seq_ = 1;
  return run;
}

StatusOr<int64_t> ResultsDb::InsertRun(const RunInfo& info) {
  Statement insert;
  int rc = sqlite3_prepare_v2(db_,
                              "INSERT INTO runs (scenario, scenario_path, seed, revision, "
                              "sim_start_ns) VALUES (?, ?, ?, ?, ?)",
                              -1, insert.out(), nullptr);
  if (rc != SQLITE_OK) return SqlError(rc, "recording the run");
  BindText(insert.get(), 1, info.scenario);
  BindText(insert.get(), 2, info.scenario_path);
  // Stored as the signed 64-bit integer with the same bits: seeds >= 2^63
  // look negative in sqlite3 but come back exactly.
  sqlite3_bind_int64(insert.get(), 3, static_cast<int64_t>(info.seed));
  BindText(insert.get(), 4, info.revision);
  sqlite3_bind_int64(insert.get(), 5, ToNanos(info.start));
  if ((rc = sqlite3_step(insert.get())) != SQLITE_DONE) return SqlError(rc, "recording the run");
  const int64_t run = sqlite3_last_insert_rowid(db_);

  Statement param;
  rc = sqlite3_prepare_v2(db_, "INSERT INTO run_parameters (run_id, key, value) VALUES (?, ?, ?)",
                          -1, param.out(), nullptr);
  if (rc != SQLITE_OK) return SqlError(rc, "recording the parameters");
  for (const auto& [key, value] : info.parameters) {
    sqlite3_reset(param.get());
    sqlite3_bind_int64(param.get(), 1, run);
    BindText(param.get(), 2, key);
    BindText(param.get(), 3, value);
    if ((rc = sqlite3_step(param.get())) != SQLITE_DONE) {
      return SqlError(rc, "recording parameter '" + key + "'");
    }
  }
  return run;
}

Status ResultsDb::EndRun(Time end) {
  EDGEBED_RETURN_IF_ERROR(CheckWritable());
  if (run_ == 0) return FailedPrecondition("no run is open; call BeginRun first", path_);
  Statement update;
  int rc = sqlite3_prepare_v2(
      db_, "UPDATE runs SET sim_end_ns = ?1 WHERE run_id = ?2 AND sim_start_ns <= ?1", -1,
      update.out(), nullptr);
  if (rc != SQLITE_OK) return SqlError(rc, "ending the run");
  sqlite3_bind_int64(update.get(), 1, ToNanos(end));
  sqlite3_bind_int64(update.get(), 2, run_);
  if (!EnsureTransaction()) return TakeDropped();
  if ((rc = sqlite3_step(update.get())) != SQLITE_DONE) return SqlError(rc, "ending the run");
  if (sqlite3_changes(db_) != 1) {
    return InvalidArgument("the end (" + std::to_string(ToNanos(end)) +
                               " ns) is before the run's start; pass the simulated time the "
                               "run ended at",
                           "end");
  }
  run_ = 0;
  series_ids_.clear();
  return Flush();
}

Status ResultsDb::RecordWallClock(const std::vector<std::pair<std::string, double>>& facts) {
  EDGEBED_RETURN_IF_ERROR(CheckWritable());
  int64_t run = run_;
  if (run == 0) {
    Statement last;
    int rc = sqlite3_prepare_v2(db_, "SELECT max(run_id) FROM runs", -1, last.out(), nullptr);
    if (rc != SQLITE_OK || (rc = sqlite3_step(last.get())) != SQLITE_ROW) {
      return SqlError(rc, "finding the last run");
    }
    if (sqlite3_column_type(last.get(), 0) == SQLITE_NULL) {
      return FailedPrecondition("no run to attach wall-clock facts to; call BeginRun first",
                                path_);
    }
    run = sqlite3_column_int64(last.get(), 0);
  }
  Statement insert;
  int rc = sqlite3_prepare_v2(
      db_, "INSERT OR REPLACE INTO run_wallclock (run_id, key, value) VALUES (?, ?, ?)", -1,
      insert.out(), nullptr);
  if (rc != SQLITE_OK) return SqlError(rc, "recording wall-clock facts");
  for (const auto& [key, value] : facts) {
    if (std::isnan(value)) {
      return InvalidArgument("wall-clock fact '" + key + "' is NaN; give a number", key);
    }
  }
  if (!EnsureTransaction()) return TakeDropped();
  for (const auto& [key, value] : facts) {
    sqlite3_reset(insert.get());
    sqlite3_bind_int64(insert.get(), 1, run);
    BindText(insert.get(), 2, key);
    sqlite3_bind_double(insert.get(), 3, value);
    if ((rc = sqlite3_step(insert.get())) != SQLITE_DONE) {
      return SqlError(rc, "recording wall-clock fact '" + key + "'");
    }
  }
  // Not kept pending: these come once, after the run, often just before exit.
  return Commit();
}

int64_t ResultsDb::SeriesId(const MetricSample& sample) {
  // node, name length, name, labels: unambiguous whatever bytes they hold.
  series_key_.clear();
  const uint32_t node = sample.node;
  const uint64_t name_size = sample.name.size();
  series_key_.append(reinterpret_cast<const char*>(&node), sizeof node);
  series_key_.append(reinterpret_cast<const char*>(&name_size), sizeof name_size);
  series_key_.append(sample.name);
  series_key_.append(sample.labels);
  if (auto it = series_ids_.find(series_key_); it != series_ids_.end()) return it->second;

  sqlite3_reset(insert_series_);
  sqlite3_bind_int64(insert_series_, 1, run_);
  int rc = BindText(insert_series_, 2, sample.name, SQLITE_STATIC);
  if (rc == SQLITE_OK) rc = BindNode(insert_series_, 3, sample.node);
  if (rc == SQLITE_OK) rc = BindText(insert_series_, 4, sample.labels, SQLITE_STATIC);
  if (rc == SQLITE_OK) rc = sqlite3_step(insert_series_);
  if (rc != SQLITE_DONE) {
    Drop(SqlError(rc, "recording series '" + sample.name + "'"));
    return 0;
  }
  const int64_t id = sqlite3_last_insert_rowid(db_);
  series_ids_.emplace(series_key_, id);
  return id;
}

void ResultsDb::Record(const MetricSample& sample) {
  if (!db_ || read_only_ || run_ == 0) {
    Drop(FailedPrecondition("sample '" + sample.name + "' arrived with no run open; call " +
                                (db_ && !read_only_ ? "BeginRun first" : "Open() to record"),
                            path_));
    return;
  }
  if (!EnsureTransaction()) return;
  const int64_t series = SeriesId(sample);
  if (series == 0) return;
  sqlite3_reset(insert_sample_);
  sqlite3_bind_int64(insert_sample_, 1, series);
  sqlite3_bind_int64(insert_sample_, 2, next_seq_);
  sqlite3_bind_int64(insert_sample_, 3, ToNanos(sample.time));
  sqlite3_bind_double(insert_sample_, 4, sample.value);  // NaN becomes NULL
  if (const int rc = sqlite3_step(insert_sample_); rc != SQLITE_DONE) {
    Drop(SqlError(rc, "recording a sample of '" + sample.name + "'"));
    return;
  }
  ++next_seq_;
  RowWritten();
}

void ResultsDb::Event(const EventRecord& event) {
  if (!db_ || read_only_ || run_ == 0) {
    Drop(FailedPrecondition("event '" + event.kind + "' arrived with no run open; call " +
                                (db_ && !read_only_ ? "BeginRun first" : "Open() to record"),
                            path_));
    return;
  }
  if (!EnsureTransaction()) return;
  sqlite3_reset(insert_event_);
  sqlite3_bind_int64(insert_event_, 1, run_);
  sqlite3_bind_int64(insert_event_, 2, ToNanos(event.time));
  int rc = BindNode(insert_event_, 3, event.node);
  if (rc == SQLITE_OK) rc = BindText(insert_event_, 4, event.kind, SQLITE_STATIC);
  if (rc == SQLITE_OK) rc = BindText(insert_event_, 5, event.detail, SQLITE_STATIC);
  if (rc == SQLITE_OK) rc = sqlite3_step(insert_event_);
  if (rc != SQLITE_DONE) {
    Drop(SqlError(rc, "recording event '" + event.kind + "'"));
    return;
  }
  RowWritten();
}

Status ResultsDb::Flush() {
  EDGEBED_RETURN_IF_ERROR(CheckOpen());
  (void)Commit();  // a failure is kept, with the rows it lost, and reported just below
  return TakeDropped();
}

Status ResultsDb::Close() {
  if (!db_) return TakeDropped();
  if (!read_only_) (void)Commit();
  for (sqlite3_stmt* s : {insert_series_, insert_sample_, insert_event_}) sqlite3_finalize(s);
  insert_series_ = insert_sample_ = insert_event_ = nullptr;
  if (const int rc = sqlite3_close(db_); rc != SQLITE_OK) Drop(SqlError(rc, "closing"));
  db_ = nullptr;
  run_ = 0;
  series_ids_.clear();
  return TakeDropped();
}

// --- Reading back ---

namespace {

// Steps `stmt` to the end, calling `row` on each row; SQLite's error if it
// stops early (a damaged page, an I/O error), so no answer is silently short.
template <typename RowFn>
int StepAll(sqlite3_stmt* stmt, RowFn&& row) {
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) row(stmt);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

}  // namespace

Status ResultsDb::CheckRunExists(int64_t run) const {
  EDGEBED_RETURN_IF_ERROR(CheckOpen());
  Statement q;
  int rc = sqlite3_prepare_v2(db_, "SELECT 1 FROM runs WHERE run_id = ?", -1, q.out(), nullptr);
  if (rc != SQLITE_OK) return SqlError(rc, "looking up run " + std::to_string(run));
  sqlite3_bind_int64(q.get(), 1, run);
  rc = sqlite3_step(q.get());
  if (rc == SQLITE_ROW) return Status::Ok();
  if (rc != SQLITE_DONE) return SqlError(rc, "looking up run " + std::to_string(run));
  return NotFound("no run " + std::to_string(run) + " in this results database; Runs() lists "
                  "those it has",
                  path_);
}

StatusOr<std::vector<RunRow>> ResultsDb::Runs() const {
  EDGEBED_RETURN_IF_ERROR(CheckOpen());
  std::vector<RunRow> runs;
  Statement q;
  int rc = sqlite3_prepare_v2(db_,
                              "SELECT run_id, scenario, scenario_path, seed, revision, "
                              "sim_start_ns, sim_end_ns FROM runs ORDER BY run_id",
                              -1, q.out(), nullptr);
  if (rc == SQLITE_OK) {
    rc = StepAll(q.get(), [&runs](sqlite3_stmt* s) {
      RunRow row;
      row.run_id = sqlite3_column_int64(s, 0);
      row.info.scenario = TextColumn(s, 1);
      row.info.scenario_path = TextColumn(s, 2);
      row.info.seed = static_cast<uint64_t>(sqlite3_column_int64(s, 3));
      row.info.revision = TextColumn(s, 4);
      row.info.start = TimeColumn(s, 5);
      if (sqlite3_column_type(s, 6) != SQLITE_NULL) row.end = TimeColumn(s, 6);
      runs.push_back(std::move(row));
    });
  }
  if (rc != SQLITE_OK) return SqlError(rc, "reading the runs");

  Statement params, wall;
  rc = sqlite3_prepare_v2(db_, "SELECT key, value FROM run_parameters WHERE run_id = ? "
                               "ORDER BY key", -1, params.out(), nullptr);
  if (rc == SQLITE_OK) {
    rc = sqlite3_prepare_v2(db_, "SELECT key, value FROM run_wallclock WHERE run_id = ? "
                                 "ORDER BY key", -1, wall.out(), nullptr);
  }
  for (RunRow& row : runs) {
    if (rc != SQLITE_OK) break;
    sqlite3_reset(params.get());
    sqlite3_bind_int64(params.get(), 1, row.run_id);
    rc = StepAll(params.get(), [&row](sqlite3_stmt* s) {
      row.info.parameters.emplace_back(TextColumn(s, 0), TextColumn(s, 1));
    });
    if (rc != SQLITE_OK) break;
    sqlite3_reset(wall.get());
    sqlite3_bind_int64(wall.get(), 1, row.run_id);
    rc = StepAll(wall.get(), [&row](sqlite3_stmt* s) {
      row.wallclock.emplace_back(TextColumn(s, 0), sqlite3_column_double(s, 1));
    });
  }
  if (rc != SQLITE_OK) return SqlError(rc, "reading the runs' parameters");
  return runs;
}

StatusOr<RunRow> ResultsDb::Run(int64_t run) const {
  // Runs are few; reading them all keeps one way of decoding a row.
  StatusOr<std::vector<RunRow>> runs = Runs();
  if (!runs.ok()) return runs.status();
  for (RunRow& row : *runs) {
    if (row.run_id == run) return std::move(row);
  }
  Status missing = CheckRunExists(run);  // kNotFound, with the same message as elsewhere
  if (missing.ok()) missing = Internal("run " + std::to_string(run) + " vanished while read", path_);
  return missing;
}

StatusOr<std::vector<std::string>> ResultsDb::MetricNames(int64_t run) const {
  EDGEBED_RETURN_IF_ERROR(CheckRunExists(run));
  Statement q;
  int rc = sqlite3_prepare_v2(db_, "SELECT DISTINCT name FROM series WHERE run_id = ? "
                                   "ORDER BY name", -1, q.out(), nullptr);
  std::vector<std::string> names;
  if (rc == SQLITE_OK) {
    sqlite3_bind_int64(q.get(), 1, run);
    rc = StepAll(q.get(), [&names](sqlite3_stmt* s) { names.push_back(TextColumn(s, 0)); });
  }
  if (rc != SQLITE_OK) return SqlError(rc, "reading the metric names");
  return names;
}

StatusOr<std::vector<MetricSample>> ResultsDb::Samples(int64_t run, std::string_view name,
                                                       std::optional<NodeId> node) const {
  EDGEBED_RETURN_IF_ERROR(CheckRunExists(run));
  Statement q;
  int rc = sqlite3_prepare_v2(
      db_,
      "SELECT samples.t_ns, series.node, samples.value, series.labels "
      "FROM series JOIN samples USING (series_id) "
      "WHERE series.run_id = ?1 AND series.name = ?2 AND (?3 = 0 OR series.node IS ?4) "
      "ORDER BY samples.t_ns, samples.seq",
      -1, q.out(), nullptr);
  std::vector<MetricSample> samples;
  if (rc == SQLITE_OK) {
    sqlite3_bind_int64(q.get(), 1, run);
    BindText(q.get(), 2, name);
    BindNodeFilter(q.get(), 3, node);
    const std::string name_copy(name);
    rc = StepAll(q.get(), [&](sqlite3_stmt* s) {
      samples.push_back(
          MetricSample{TimeColumn(s, 0), NodeColumn(s, 1), name_copy, ValueColumn(s, 2), TextColumn(s, 3)});
    });
  }
  if (rc != SQLITE_OK) return SqlError(rc, "reading samples of '" + std::string(name) + "'");
  return samples;
}

StatusOr<std::vector<EventRecord>> ResultsDb::Events(int64_t run, std::string_view kind) const {
  EDGEBED_RETURN_IF_ERROR(CheckRunExists(run));
  Statement q;
  // Two statements rather than "(?2 = '' OR kind = ?2)", which would keep
  // SQLite from reading events_by_kind in order.
  int rc = sqlite3_prepare_v2(db_,
                              kind.empty() ? "SELECT t_ns, node, kind, detail FROM events "
                                             "WHERE run_id = ?1 ORDER BY t_ns, rowid"
                                           : "SELECT t_ns, node, kind, detail FROM events "
                                             "WHERE run_id = ?1 AND kind = ?2 ORDER BY t_ns, rowid",
                              -1, q.out(), nullptr);
  std::vector<EventRecord> events;
  if (rc == SQLITE_OK) {
    sqlite3_bind_int64(q.get(), 1, run);
    if (!kind.empty()) BindText(q.get(), 2, kind);
    rc = StepAll(q.get(), [&events](sqlite3_stmt* s) {
      events.push_back(EventRecord{TimeColumn(s, 0), NodeColumn(s, 1), TextColumn(s, 2), TextColumn(s, 3)});
    });
  }
  if (rc != SQLITE_OK) return SqlError(rc, "reading events");
  return events;
}

StatusOr<Summary> ResultsDb::Summarize(int64_t run, std::string_view name,
                                       std::optional<NodeId> node) const {
  EDGEBED_RETURN_IF_ERROR(CheckRunExists(run));
  Statement q;
  int rc = sqlite3_prepare_v2(
      db_,
      "SELECT samples.value FROM series JOIN samples USING (series_id) "
      "WHERE series.run_id = ?1 AND series.name = ?2 AND (?3 = 0 OR series.node IS ?4) "
      "AND samples.value IS NOT NULL",
      -1, q.out(), nullptr);
  std::vector<double> values;
  if (rc == SQLITE_OK) {
    sqlite3_bind_int64(q.get(), 1, run);
    BindText(q.get(), 2, name);
    BindNodeFilter(q.get(), 3, node);
    rc = StepAll(q.get(), [&values](sqlite3_stmt* s) {
      values.push_back(sqlite3_column_double(s, 0));
    });
  }
  if (rc != SQLITE_OK) return SqlError(rc, "summarizing '" + std::string(name) + "'");
  return SummaryOf(values);
}

StatusOr<std::map<NodeId, Summary>> ResultsDb::SummarizeByNode(int64_t run,
                                                               std::string_view name) const {
  EDGEBED_RETURN_IF_ERROR(CheckRunExists(run));
  Statement q;
  int rc = sqlite3_prepare_v2(
      db_,
      "SELECT series.node, samples.value FROM series JOIN samples USING (series_id) "
      "WHERE series.run_id = ?1 AND series.name = ?2 AND samples.value IS NOT NULL",
      -1, q.out(), nullptr);
  std::map<NodeId, std::vector<double>> values;
  if (rc == SQLITE_OK) {
    sqlite3_bind_int64(q.get(), 1, run);
    BindText(q.get(), 2, name);
    rc = StepAll(q.get(), [&values](sqlite3_stmt* s) {
      values[NodeColumn(s, 0)].push_back(sqlite3_column_double(s, 1));
    });
  }
  if (rc != SQLITE_OK) return SqlError(rc, "summarizing '" + std::string(name) + "' by node");
  std::map<NodeId, Summary> summaries;
  for (auto& [node, node_values] : values) summaries.emplace(node, SummaryOf(node_values));
  return summaries;
}

}  // namespace edgebed::results
