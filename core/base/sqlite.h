// What every SQLite user in edgebed shares: a prepared statement finalized
// with its owner, and text bound and read back so that an empty string stays
// the text '' (never SQL NULL). Header-only; its users link SQLite themselves.
#pragma once

#include <sqlite3.h>

#include <climits>
#include <string>
#include <string_view>

namespace edgebed::sqlite {

class Statement {
 public:
  Statement() = default;
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  sqlite3_stmt** out() { return &stmt_; }  // for sqlite3_prepare_*
  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

// `lifetime` is SQLITE_STATIC where the text outlives the step that reads it
// (no copy), SQLITE_TRANSIENT elsewhere.
inline int BindText(sqlite3_stmt* s, int index, std::string_view text,
                    sqlite3_destructor_type lifetime = SQLITE_TRANSIENT) {
  if (text.size() > static_cast<size_t>(INT_MAX)) return SQLITE_TOOBIG;
  // A null pointer would bind SQL NULL; an empty view is still the text ''.
  return sqlite3_bind_text(s, index, text.data() ? text.data() : "", static_cast<int>(text.size()), lifetime);
}

inline std::string TextColumn(sqlite3_stmt* s, int column) {
  const unsigned char* text = sqlite3_column_text(s, column);
  return text ? std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(sqlite3_column_bytes(s, column)))
              : std::string();
}

}  // namespace edgebed::sqlite
