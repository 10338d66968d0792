// SQLite connection and statements (see db.h).
#include "service/store/db.h"

#include <sqlite3.h>

#include "absl/strings/str_cat.h"

namespace squeeze::store {

Stmt::~Stmt() {
  sqlite3_finalize(s_);
}

void Stmt::Reset() {
  sqlite3_reset(s_);
  sqlite3_clear_bindings(s_);
}

Stmt& Stmt::Bind(int i, int64_t v) {
  sqlite3_bind_int64(s_, i, v);
  return *this;
}
Stmt& Stmt::Bind(int i, double v) {
  sqlite3_bind_double(s_, i, v);
  return *this;
}
Stmt& Stmt::Bind(int i, std::string_view text) {
  sqlite3_bind_text(s_, i, text.data(), int(text.size()), SQLITE_TRANSIENT);
  return *this;
}
Stmt& Stmt::BindBlob(int i, std::string_view bytes) {
  sqlite3_bind_blob(s_, i, bytes.data(), int(bytes.size()), SQLITE_TRANSIENT);
  return *this;
}
Stmt& Stmt::BindNull(int i) {
  sqlite3_bind_null(s_, i);
  return *this;
}

absl::StatusOr<bool> Stmt::Step() {
  const int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return absl::InternalError(
      absl::StrCat("sqlite: ", sqlite3_errmsg(db_), " in: ", sqlite3_sql(s_)));
}

absl::Status Stmt::Run() {
  for (;;) {
    absl::StatusOr<bool> row = Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::OkStatus();
  }
}

int64_t Stmt::Int(int col) const {
  return sqlite3_column_int64(s_, col);
}
double Stmt::Double(int col) const {
  return sqlite3_column_double(s_, col);
}
bool Stmt::IsNull(int col) const {
  return sqlite3_column_type(s_, col) == SQLITE_NULL;
}
std::string Stmt::Text(int col) const {
  const void* p = sqlite3_column_blob(s_, col);
  const int n = sqlite3_column_bytes(s_, col);
  return p ? std::string(static_cast<const char*>(p), n) : std::string();
}

absl::StatusOr<std::unique_ptr<Db>> Db::Open(const Options& o) {
  sqlite3* raw = nullptr;
  const int flags =
      (o.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
      SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(o.path.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    const std::string msg = raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    sqlite3_close(raw);
    return absl::InvalidArgumentError(absl::StrCat(o.path, ": cannot open database: ", msg));
  }
  std::unique_ptr<Db> db(new Db(raw, o.path));
  sqlite3_busy_timeout(raw, o.busy_timeout_ms);
  absl::Status s = db->Exec("PRAGMA foreign_keys = ON;");
  if (s.ok() && !o.read_only) {
    // Checkpoints (which sync the files) run in the background (Checkpoint()); this one is a
    // safety net that bounds the write-ahead log at about 40 MB.
    s = db->Exec(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; "
        "PRAGMA wal_autocheckpoint = 10000;");
  }
  if (!s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(o.path, ": ", s.message()));
  }
  return db;
}

Db::~Db() {
  cache_.clear();  // statements first: sqlite3_close fails while any is open
  sqlite3_close(db_);
}

absl::Status Db::Error(const std::string& what) const {
  return absl::InternalError(absl::StrCat("sqlite: ", sqlite3_errmsg(db_), " in: ", what));
}

absl::Status Db::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    const std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return absl::InternalError(absl::StrCat("sqlite: ", msg, " in: ", sql));
  }
  return absl::OkStatus();
}

absl::StatusOr<Stmt*> Db::Prepare(const char* sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) {
    it->second->Reset();
    return it->second.get();
  }
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db_, sql, -1, &s, nullptr) != SQLITE_OK) return Error(sql);
  auto stmt = std::unique_ptr<Stmt>(new Stmt(db_, s));
  Stmt* p = stmt.get();
  cache_.emplace(sql, std::move(stmt));
  return p;
}

absl::Status Db::Checkpoint() {
  if (sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr) !=
      SQLITE_OK) {
    return Error("wal checkpoint");
  }
  return absl::OkStatus();
}

absl::Status Db::Begin() {
  return Exec("BEGIN IMMEDIATE;");
}
absl::Status Db::Commit() {
  return Exec("COMMIT;");
}
void Db::Rollback() {
  (void)Exec("ROLLBACK;");
}

int64_t Db::LastInsertId() const {
  return sqlite3_last_insert_rowid(db_);
}
int Db::Changes() const {
  return sqlite3_changes(db_);
}

}  // namespace squeeze::store
