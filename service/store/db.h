// A thin RAII layer over one SQLite connection: prepared statements with typed binds, cached
// per SQL text, and transactions. Every value reaches SQLite through a bind; SQL text is
// always a constant of ours, never built from data. Not thread-safe: one owner at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct sqlite3;
struct sqlite3_stmt;

namespace squeeze::store {

class Stmt {
 public:
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  // Binds parameter i (1-based).
  Stmt& Bind(int i, int64_t v);
  Stmt& Bind(int i, int v) { return Bind(i, int64_t(v)); }
  Stmt& Bind(int i, double v);
  Stmt& Bind(int i, std::string_view text);
  Stmt& Bind(int i, const char* text) { return Bind(i, std::string_view(text)); }
  Stmt& Bind(int i, const std::string& text) { return Bind(i, std::string_view(text)); }
  Stmt& BindBlob(int i, std::string_view bytes);
  Stmt& BindNull(int i);
  // Binds every argument in order, from parameter 1.
  template <typename... Ts>
  Stmt& BindAll(const Ts&... vs) {
    int i = 0;
    (Bind(++i, vs), ...);
    return *this;
  }

  // Advances: true with a row to read, false when done. Errors carry SQLite's message.
  absl::StatusOr<bool> Step();
  // Steps to the end, ignoring rows (INSERT, UPDATE, DELETE).
  absl::Status Run();

  int64_t Int(int col) const;
  double Double(int col) const;
  std::string Text(int col) const;
  bool IsNull(int col) const;

  // Resets the statement (ends its read) and clears the bindings; Prepare does it too.
  void Reset();

 private:
  friend class Db;
  Stmt(sqlite3* db, sqlite3_stmt* s) : db_(db), s_(s) {}

  sqlite3* db_;
  sqlite3_stmt* s_;
};

class Db {
 public:
  struct Options {
    std::string path;
    bool read_only = false;
    int busy_timeout_ms = 5000;
  };
  // Opens (creating unless read_only) the database. Writable connections use WAL mode,
  // synchronous=NORMAL (a committed transaction survives a killed process) and foreign keys.
  // Errors name the path.
  static absl::StatusOr<std::unique_ptr<Db>> Open(const Options& options);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Runs constant SQL (schema changes, pragmas); may hold several statements.
  absl::Status Exec(const char* sql);
  // A prepared statement for `sql`, reset and with its bindings cleared; prepared once per
  // connection and reused. Valid until the Db is destroyed.
  absl::StatusOr<Stmt*> Prepare(const char* sql);

  // Copies committed pages from the write-ahead log into the database file without blocking
  // writers (PASSIVE), so that commits do not pay for it.
  absl::Status Checkpoint();

  absl::Status Begin();  // BEGIN IMMEDIATE: takes the write lock at once
  absl::Status Commit();
  void Rollback();

  int64_t LastInsertId() const;
  int Changes() const;  // rows changed by the last statement
  const std::string& path() const { return path_; }

 private:
  Db(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  absl::Status Error(const std::string& what) const;

  sqlite3* db_;
  std::string path_;
  std::unordered_map<std::string, std::unique_ptr<Stmt>> cache_;
};

// Runs a function inside a transaction: commits when it returns OK, else rolls back.
template <typename F>
absl::Status InTransaction(Db& db, F&& f) {
  if (absl::Status s = db.Begin(); !s.ok()) return s;
  absl::Status s = f();
  if (!s.ok()) {
    db.Rollback();
    return s;
  }
  return db.Commit();
}

}  // namespace squeeze::store
