// The SQLite Store. The table is kine's: one row per revision, so a key's
// current value is its newest row, a delete is a row too (a tombstone), and
// "what changed after R" is a range scan of the primary key. Each row keeps
// the value it replaced (old_value), so a change above the compacted
// revision can always be reported with its previous value, even after the
// row it replaced was compacted away.
//
// The counters live in their own one-row table rather than as a magic row in
// kine (kine's "compact_rev_key"): revision() must survive a compaction that
// removes the newest row (a tombstone), and a reader of the checkpoint file
// sees only real keys in kine.
#include "core/cluster/store.h"

#include "core/base/sqlite.h"

#include <sqlite3.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <utility>

namespace edgebed::cluster {
namespace {

// Marks the database file as ours, so Restore refuses some other SQLite
// database instead of misreading it. "ebKV".
constexpr int32_t kApplicationId = 0x65624b56;
constexpr int kSchemaVersion = 1;

// kine's layout (its SQLite driver: same columns and indexes, less the lease
// column, which leases here do not need). In SQLite every index ends in the
// rowid, so kine_name_index already orders by (name, id); it is kept for
// kine's layout, which tools that read kine databases expect.
constexpr const char* kSchema[] = {
    "CREATE TABLE kine (\n"
    "  id              INTEGER PRIMARY KEY,  -- the revision of this change\n"
    "  name            TEXT NOT NULL,        -- the key\n"
    "  created         INTEGER NOT NULL,     -- 1 if this put created the key\n"
    "  deleted         INTEGER NOT NULL,     -- 1 if this row deletes the key\n"
    "  create_revision INTEGER NOT NULL,\n"
    "  prev_revision   INTEGER NOT NULL,     -- the key's mod_revision before; 0: absent\n"
    "  value           BLOB NOT NULL,\n"
    "  old_value       BLOB NOT NULL\n"
    ")",
    "CREATE INDEX kine_name_index ON kine (name)",
    "CREATE INDEX kine_name_id_index ON kine (name, id)",
    "CREATE TABLE kine_meta (\n"
    "  id        INTEGER PRIMARY KEY CHECK (id = 1),\n"
    "  revision  INTEGER NOT NULL,  -- Store::revision()\n"
    "  compacted INTEGER NOT NULL   -- Store::compacted()\n"
    ")",
    "INSERT INTO kine_meta (id, revision, compacted) VALUES (1, 0, 0)",
};

// SQLite's result code as a Status code, with `message`.
Status SqlStatus(int rc, std::string message) {
  switch (rc & 0xff) {
    case SQLITE_NOMEM:
    case SQLITE_FULL:
    case SQLITE_TOOBIG:
      return ResourceExhausted(std::move(message));
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Corruption(std::move(message));
    default:
      return Internal(std::move(message));
  }
}
Status SqlError(sqlite3* db, int rc, const std::string& what) {
  return SqlStatus(rc, "sqlite: " + what + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
}

using sqlite::Statement;
using sqlite::TextColumn;

// Prepares a statement kept for the store's life.
Status Prepare(Statement& s, sqlite3* db, const char* sql) {
  const int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, s.out(), nullptr);
  return rc == SQLITE_OK ? Status::Ok() : SqlError(db, rc, std::string("prepare ") + sql);
}

// One use of a statement: resets it and drops its bindings when the use
// ends, so no statement keeps a read open (or points at a caller's bytes)
// between calls.
class Use {
 public:
  explicit Use(const Statement& s) : s_(s.get()) {}
  ~Use() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;
  sqlite3_stmt* operator*() const { return s_; }

 private:
  sqlite3_stmt* s_;
};

// Binds without copying: the bytes outlive the step that reads them.
int BindText(sqlite3_stmt* s, int index, const std::string& text) {
  return sqlite::BindText(s, index, text, SQLITE_STATIC);
}
int BindBlob(sqlite3_stmt* s, int index, ByteView bytes) {
  // A null pointer would bind SQL NULL; an empty value is still a blob.
  if (bytes.empty()) return sqlite3_bind_zeroblob(s, index, 0);
  return sqlite3_bind_blob64(s, index, bytes.data(), bytes.size(), SQLITE_STATIC);
}
Bytes BlobColumn(sqlite3_stmt* s, int column) {
  const auto* data = static_cast<const uint8_t*>(sqlite3_column_blob(s, column));
  const int n = sqlite3_column_bytes(s, column);
  return data ? Bytes(data, data + n) : Bytes();
}

// The smallest string above every string that starts with `prefix`, or
// nullopt if there is none (the prefix is empty or all 0xff).
std::optional<std::string> PrefixEnd(std::string prefix) {
  while (!prefix.empty() && static_cast<uint8_t>(prefix.back()) == 0xff) prefix.pop_back();
  if (prefix.empty()) return std::nullopt;
  prefix.back() = static_cast<char>(static_cast<uint8_t>(prefix.back()) + 1);
  return prefix;
}

// A connection to one in-memory database and the statements the store runs
// on it, prepared once.
struct Connection {
  // Declared first, so destroyed last: a connection with live statements
  // does not close.
  struct Handle {
    sqlite3* db = nullptr;
    ~Handle() { sqlite3_close(db); }
  } handle;
  Statement begin, commit, rollback;
  Statement latest;      // the newest row of a key
  Statement insert;      // one change
  Statement set_revision, set_compacted, read_meta;
  Statement list_from;   // every key from a prefix on
  Statement list_range;  // the keys in [prefix, end of prefix)
  Statement changes;     // rows above a revision
  Statement compact;     // rows history no longer needs

  sqlite3* db() const { return handle.db; }

  Status Exec(const char* sql) {
    char* error = nullptr;
    const int rc = sqlite3_exec(db(), sql, nullptr, nullptr, &error);
    if (rc == SQLITE_OK) return Status::Ok();
    std::string detail = error ? error : sqlite3_errstr(rc);
    sqlite3_free(error);
    return SqlStatus(rc, "sqlite: " + std::string(sql) + ": " + detail);
  }

  // Runs a statement that returns no rows.
  Status Run(const Statement& s, const char* what) {
    Use use(s);
    const int rc = sqlite3_step(*use);
    return rc == SQLITE_DONE ? Status::Ok() : SqlError(db(), rc, what);
  }

  // The single integer a query returns.
  StatusOr<int64_t> QueryInt(const char* sql) {
    Statement s;
    EDGEBED_RETURN_IF_ERROR(Prepare(s, db(), sql));
    const int rc = sqlite3_step(s.get());
    if (rc != SQLITE_ROW) {
      return rc == SQLITE_DONE ? Corruption(std::string(sql) + " returned no row")
                               : SqlError(db(), rc, sql);
    }
    return static_cast<int64_t>(sqlite3_column_int64(s.get(), 0));
  }

  Status PrepareAll() {
    EDGEBED_RETURN_IF_ERROR(Prepare(begin, db(), "BEGIN"));
    EDGEBED_RETURN_IF_ERROR(Prepare(commit, db(), "COMMIT"));
    EDGEBED_RETURN_IF_ERROR(Prepare(rollback, db(), "ROLLBACK"));
    EDGEBED_RETURN_IF_ERROR(Prepare(latest, 
        db(), "SELECT id, create_revision, deleted, value FROM kine WHERE name = ?1 "
            "ORDER BY id DESC LIMIT 1"));
    EDGEBED_RETURN_IF_ERROR(Prepare(insert, 
        db(), "INSERT INTO kine (id, name, created, deleted, create_revision, prev_revision, value, "
            "old_value) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"));
    EDGEBED_RETURN_IF_ERROR(Prepare(set_revision, db(), "UPDATE kine_meta SET revision = ?1"));
    EDGEBED_RETURN_IF_ERROR(Prepare(set_compacted, db(), "UPDATE kine_meta SET compacted = ?1"));
    EDGEBED_RETURN_IF_ERROR(Prepare(read_meta, db(), "SELECT revision, compacted FROM kine_meta"));
    // The newest row of each key in the range, kept if it is not a tombstone.
    EDGEBED_RETURN_IF_ERROR(Prepare(list_from, 
        db(), "SELECT kine.name, kine.value, kine.create_revision, kine.id FROM kine "
            "JOIN (SELECT MAX(id) AS id FROM kine WHERE name >= ?1 GROUP BY name) AS newest "
            "USING (id) WHERE kine.deleted = 0 ORDER BY kine.name"));
    EDGEBED_RETURN_IF_ERROR(Prepare(list_range, 
        db(), "SELECT kine.name, kine.value, kine.create_revision, kine.id FROM kine "
            "JOIN (SELECT MAX(id) AS id FROM kine WHERE name >= ?1 AND name < ?2 GROUP BY name) "
            "AS newest USING (id) WHERE kine.deleted = 0 ORDER BY kine.name"));
    EDGEBED_RETURN_IF_ERROR(Prepare(changes, 
        db(), "SELECT id, name, deleted, value, old_value FROM kine WHERE id > ?1 "
            "ORDER BY id LIMIT ?2"));
    // At or below the compaction point a row is needed only while it is its
    // key's current value: a superseded row or a tombstone goes. Rows above
    // keep what they replaced in old_value, so nothing above is lost.
    EDGEBED_RETURN_IF_ERROR(Prepare(compact, 
        db(), "DELETE FROM kine WHERE id <= ?1 AND (deleted = 1 OR EXISTS ("
            "SELECT 1 FROM kine AS newer WHERE newer.name = kine.name AND newer.id > kine.id))"));
    return Status::Ok();
  }
};

// Opens an in-memory database: empty with the schema if `image` is null,
// otherwise loaded from the image and checked to be a store's.
StatusOr<std::unique_ptr<Connection>> OpenConnection(const ByteView* image) {
  auto c = std::make_unique<Connection>();
  const int rc = sqlite3_open_v2(
      ":memory:", &c->handle.db,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_MEMORY | SQLITE_OPEN_NOMUTEX,
      nullptr);
  if (rc != SQLITE_OK) return SqlError(c->db(), rc, "open :memory:");
  // The store does no I/O: sorts and temporary tables stay in memory too.
  // Defensive mode and cell checks because a restored image is input.
  sqlite3_db_config(c->db(), SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_db_config(c->db(), SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
  EDGEBED_RETURN_IF_ERROR(c->Exec("PRAGMA temp_store = MEMORY; PRAGMA cell_size_check = ON"));

  if (image == nullptr) {
    EDGEBED_RETURN_IF_ERROR(c->Exec("BEGIN"));
    for (const char* sql : kSchema) EDGEBED_RETURN_IF_ERROR(c->Exec(sql));
    EDGEBED_RETURN_IF_ERROR(c->Exec(("PRAGMA application_id = " + std::to_string(kApplicationId) +
                                     "; PRAGMA user_version = " + std::to_string(kSchemaVersion))
                                        .c_str()));
    EDGEBED_RETURN_IF_ERROR(c->Exec("COMMIT"));
    EDGEBED_RETURN_IF_ERROR(c->PrepareAll());
    return c;
  }

  if (image->empty()) return Corruption("an empty image is not a store checkpoint");
  auto* buffer = static_cast<unsigned char*>(sqlite3_malloc64(image->size()));
  if (buffer == nullptr) return ResourceExhausted("no memory for a store image");
  std::memcpy(buffer, image->data(), image->size());
  // SQLite owns the buffer from here, even if this fails.
  const int drc = sqlite3_deserialize(
      c->db(), "main", buffer, static_cast<sqlite3_int64>(image->size()),
      static_cast<sqlite3_int64>(image->size()),
      SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_RESIZEABLE);
  if (drc != SQLITE_OK) return SqlError(c->db(), drc, "load the image");

  auto not_ours = [](const std::string& why) {
    return Corruption("not an edgebed store checkpoint: " + why);
  };
  StatusOr<int64_t> app = c->QueryInt("PRAGMA application_id");
  if (!app.ok()) return not_ours(app.status().message());
  if (*app != kApplicationId) return not_ours("application_id is " + std::to_string(*app));
  StatusOr<int64_t> version = c->QueryInt("PRAGMA user_version");
  if (!version.ok()) return version.status();
  if (*version != kSchemaVersion) {
    return not_ours("schema version " + std::to_string(*version) + ", this build reads " +
                    std::to_string(kSchemaVersion));
  }
  {
    Statement check;
    EDGEBED_RETURN_IF_ERROR(Prepare(check, c->db(), "PRAGMA quick_check"));
    const int qrc = sqlite3_step(check.get());
    if (qrc != SQLITE_ROW) return SqlError(c->db(), qrc, "quick_check");
    const std::string verdict = TextColumn(check.get(), 0);
    if (verdict != "ok") return Corruption("the store image fails SQLite's quick_check: " + verdict);
  }
  // Only our tables and indexes: a trigger or view smuggled into an image
  // would run inside the store's own statements.
  StatusOr<int64_t> objects = c->QueryInt(
      "SELECT count(*) FROM sqlite_schema WHERE name NOT IN "
      "('kine', 'kine_name_index', 'kine_name_id_index', 'kine_meta')");
  if (!objects.ok()) return objects.status();
  if (*objects != 0) return not_ours("it holds tables, indexes or triggers a store does not have");
  if (Status s = c->PrepareAll(); !s.ok()) return not_ours(s.message());
  return c;
}

class SqliteStore final : public Store {
 public:
  SqliteStore() {
    StatusOr<std::unique_ptr<Connection>> c = OpenConnection(nullptr);
    if (c.ok()) {
      conn_ = std::move(*c);
    } else {
      broken_ = c.status();
    }
  }

  StatusOr<Revision> Commit(const std::vector<Mutation>& batch) override {
    if (!broken_.ok()) return broken_;
    for (size_t i = 0; i < batch.size(); ++i) {
      if (Status s = Validate(batch[i]); !s.ok()) {
        return s.WithContext("batch[" + std::to_string(i) + "]");
      }
    }
    if (batch.empty()) return revision_;
    EDGEBED_RETURN_IF_ERROR(conn_->Run(conn_->begin, "BEGIN"));
    Revision revision = revision_;
    Status s = Apply(batch, &revision);
    if (s.ok() && revision != revision_) s = SetMeta(conn_->set_revision, revision);
    if (s.ok()) s = conn_->Run(conn_->commit, "COMMIT");
    if (!s.ok()) {
      // A failed COMMIT may already have ended the transaction.
      if (!sqlite3_get_autocommit(conn_->db())) (void)conn_->Run(conn_->rollback, "ROLLBACK");
      return s;
    }
    revision_ = revision;
    return revision_;
  }

  std::optional<Record> Get(const std::string& key) const override {
    if (!broken_.ok()) return std::nullopt;
    Use use(conn_->latest);
    if (BindText(*use, 1, key) != SQLITE_OK || sqlite3_step(*use) != SQLITE_ROW) return std::nullopt;
    if (sqlite3_column_int64(*use, 2) != 0) return std::nullopt;  // a tombstone
    Record r;
    r.key = key;
    r.mod_revision = sqlite3_column_int64(*use, 0);
    r.create_revision = sqlite3_column_int64(*use, 1);
    r.value = BlobColumn(*use, 3);
    return r;
  }

  std::vector<Record> List(const std::string& prefix) const override {
    std::vector<Record> out;
    if (!broken_.ok()) return out;
    const std::optional<std::string> end = PrefixEnd(prefix);
    Use use(end ? conn_->list_range : conn_->list_from);
    if (BindText(*use, 1, prefix) != SQLITE_OK) return out;
    if (end && BindText(*use, 2, *end) != SQLITE_OK) return out;
    while (sqlite3_step(*use) == SQLITE_ROW) {
      Record r;
      r.key = TextColumn(*use, 0);
      r.value = BlobColumn(*use, 1);
      r.create_revision = sqlite3_column_int64(*use, 2);
      r.mod_revision = sqlite3_column_int64(*use, 3);
      out.push_back(std::move(r));
    }
    return out;
  }

  Revision revision() const override { return revision_; }
  Revision compacted() const override { return compacted_; }

  StatusOr<std::vector<Change>> ChangesSince(Revision since, size_t limit) const override {
    if (!broken_.ok()) return broken_;
    if (since < compacted_) {
      return OutOfRange("compacted at " + std::to_string(compacted_) + "; list again",
                        "changes since revision " + std::to_string(since));
    }
    std::vector<Change> out;
    if (limit == 0 || since >= revision_) return out;
    Use use(conn_->changes);
    sqlite3_bind_int64(*use, 1, since);
    sqlite3_bind_int64(*use, 2, static_cast<sqlite3_int64>(std::min<size_t>(limit, INT64_MAX)));
    int rc;
    while ((rc = sqlite3_step(*use)) == SQLITE_ROW) {
      Change c;
      c.revision = sqlite3_column_int64(*use, 0);
      c.key = TextColumn(*use, 1);
      c.deleted = sqlite3_column_int64(*use, 2) != 0;
      c.value = BlobColumn(*use, 3);
      c.prev_value = BlobColumn(*use, 4);
      out.push_back(std::move(c));
    }
    if (rc != SQLITE_DONE) return SqlError(conn_->db(), rc, "read changes");
    return out;
  }

  void Compact(Revision upto) override {
    if (!broken_.ok()) return;
    upto = std::min(upto, revision_);
    if (upto <= compacted_) return;
    // Nothing to report to: on failure the history simply stays longer.
    if (!conn_->Run(conn_->begin, "BEGIN").ok()) return;
    Status s;
    {
      Use use(conn_->compact);
      sqlite3_bind_int64(*use, 1, upto);
      const int rc = sqlite3_step(*use);
      if (rc != SQLITE_DONE) s = SqlError(conn_->db(), rc, "compact");
    }
    if (s.ok()) s = SetMeta(conn_->set_compacted, upto);
    if (s.ok()) s = conn_->Run(conn_->commit, "COMMIT");
    if (!s.ok()) {
      if (!sqlite3_get_autocommit(conn_->db())) (void)conn_->Run(conn_->rollback, "ROLLBACK");
      return;
    }
    compacted_ = upto;
  }

  StatusOr<Bytes> Checkpoint() const override {
    if (!broken_.ok()) return broken_;
    sqlite3_int64 size = 0;
    unsigned char* data = sqlite3_serialize(conn_->db(), "main", &size, 0);
    if (data == nullptr) return ResourceExhausted("sqlite: no memory to serialize the store");
    Bytes image(data, data + size);
    sqlite3_free(data);
    return image;
  }

  Status Restore(ByteView image) override {
    StatusOr<std::unique_ptr<Connection>> c = OpenConnection(&image);
    if (!c.ok()) return c.status();
    Revision revision = 0, compacted = 0;
    {
      Use use((*c)->read_meta);
      const int rc = sqlite3_step(*use);
      if (rc != SQLITE_ROW) {
        return rc == SQLITE_DONE ? Corruption("the store image has no revision counters")
                                 : SqlError((*c)->db(), rc, "read the revision counters");
      }
      revision = sqlite3_column_int64(*use, 0);
      compacted = sqlite3_column_int64(*use, 1);
    }
    StatusOr<int64_t> newest = (*c)->QueryInt("SELECT coalesce(max(id), 0) FROM kine");
    if (!newest.ok()) return newest.status();
    if (compacted < 0 || compacted > revision || *newest > revision) {
      return Corruption("the store image's counters disagree: revision " +
                        std::to_string(revision) + ", compacted " + std::to_string(compacted) +
                        ", newest row " + std::to_string(*newest));
    }
    conn_ = std::move(*c);
    revision_ = revision;
    compacted_ = compacted;
    broken_ = Status::Ok();
    return Status::Ok();
  }

 private:
  static Status Validate(const Mutation& m) {
    if (m.op != Mutation::kPut && m.op != Mutation::kDelete) {
      return InvalidArgument("unknown op " + std::to_string(static_cast<int>(m.op)));
    }
    if (m.key.empty()) return InvalidArgument("the key is empty");
    if (m.key.size() > kMaxKeySize) {
      return InvalidArgument("the key is " + std::to_string(m.key.size()) + " bytes, over the " +
                             std::to_string(kMaxKeySize) + " allowed");
    }
    if (m.value.size() > kMaxValueSize) {
      return InvalidArgument("the value is " + std::to_string(m.value.size()) +
                             " bytes, over the " + std::to_string(kMaxValueSize) + " allowed",
                             m.key);
    }
    if (m.expect < -1) {
      return InvalidArgument("expect is " + std::to_string(m.expect) +
                                 "; use -1 (unconditional), 0 (absent) or a mod_revision",
                             m.key);
    }
    return Status::Ok();
  }

  // Applies the batch inside the open transaction, numbering changes from
  // *revision + 1; on return *revision is the last one taken.
  Status Apply(const std::vector<Mutation>& batch, Revision* revision) {
    for (const Mutation& m : batch) {
      bool exists = false;
      Revision mod = 0, created = 0;
      Bytes old_value;
      {
        Use use(conn_->latest);
        BindText(*use, 1, m.key);
        const int rc = sqlite3_step(*use);
        if (rc == SQLITE_ROW) {
          exists = sqlite3_column_int64(*use, 2) == 0;
          if (exists) {
            mod = sqlite3_column_int64(*use, 0);
            created = sqlite3_column_int64(*use, 1);
            old_value = BlobColumn(*use, 3);
          }
        } else if (rc != SQLITE_DONE) {
          return SqlError(conn_->db(), rc, "read " + m.key);
        }
      }
      if (m.expect == 0 && exists) {
        return FailedPrecondition("expected the key to be absent (revision 0), but it is at "
                                  "mod_revision " + std::to_string(mod), m.key);
      }
      if (m.expect > 0 && m.expect != mod) {
        return FailedPrecondition(
            "expected mod_revision " + std::to_string(m.expect) + ", but it is " +
                (exists ? "at mod_revision " + std::to_string(mod) : "absent (revision 0)"),
            m.key);
      }
      if (m.op == Mutation::kDelete && !exists) continue;

      const Revision r = *revision + 1;
      Use use(conn_->insert);
      sqlite3_bind_int64(*use, 1, r);
      BindText(*use, 2, m.key);
      sqlite3_bind_int(*use, 3, exists ? 0 : 1);
      sqlite3_bind_int(*use, 4, m.op == Mutation::kDelete ? 1 : 0);
      sqlite3_bind_int64(*use, 5, exists ? created : r);
      sqlite3_bind_int64(*use, 6, mod);
      BindBlob(*use, 7, m.op == Mutation::kPut ? ByteView(m.value) : ByteView());
      BindBlob(*use, 8, old_value);
      const int rc = sqlite3_step(*use);
      if (rc != SQLITE_DONE) return SqlError(conn_->db(), rc, "write " + m.key);
      *revision = r;
    }
    return Status::Ok();
  }

  Status SetMeta(const Statement& s, int64_t value) {
    Use use(s);
    sqlite3_bind_int64(*use, 1, value);
    const int rc = sqlite3_step(*use);
    return rc == SQLITE_DONE ? Status::Ok() : SqlError(conn_->db(), rc, "update kine_meta");
  }

  std::unique_ptr<Connection> conn_;
  Status broken_;  // set if the database could not be opened; every call reports it
  Revision revision_ = 0;
  Revision compacted_ = 0;
};

}  // namespace

std::unique_ptr<Store> NewSqliteStore() { return std::make_unique<SqliteStore>(); }

}  // namespace edgebed::cluster
