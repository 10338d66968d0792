// Schema migrations (see migrations.h). Job and sweep states are the numbers of JobState and
// SweepState in proto/squeeze/v1/sweep.proto.
#include "service/store/migrations.h"

#include <iterator>

#include "absl/strings/str_cat.h"

namespace squeeze::store {
namespace {

const char* const kMigrations[] = {
    // 1: sweeps, their jobs and the results.
    R"sql(
CREATE TABLE sweeps (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  state INTEGER NOT NULL,
  spec BLOB NOT NULL,       -- squeeze.v1.SweepSpec as submitted
  settings BLOB NOT NULL,   -- squeeze.v1.JobSpec: resolved paths and settings, no pipeline
  max_attempts INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  started_ms INTEGER NOT NULL DEFAULT 0,
  finished_ms INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  sweep_id INTEGER NOT NULL REFERENCES sweeps(id),
  idx INTEGER NOT NULL,
  target TEXT NOT NULL,
  pipeline TEXT NOT NULL,   -- canonical technique specs separated by newlines; '' = baseline
  technique TEXT NOT NULL,  -- metrics label: baseline, the technique, or pipeline
  state INTEGER NOT NULL,
  attempt INTEGER NOT NULL DEFAULT 0,
  worker_id TEXT NOT NULL DEFAULT '',
  lease_expires_ms INTEGER NOT NULL DEFAULT 0,
  error TEXT NOT NULL DEFAULT '',
  started_ms INTEGER NOT NULL DEFAULT 0,
  finished_ms INTEGER NOT NULL DEFAULT 0,
  UNIQUE (sweep_id, idx, target)
);
CREATE INDEX jobs_queue ON jobs(state, target, id);
CREATE TABLE results (
  job_id INTEGER PRIMARY KEY REFERENCES jobs(id),
  sweep_id INTEGER NOT NULL REFERENCES sweeps(id),
  attempt INTEGER NOT NULL,
  worker_id TEXT NOT NULL,
  bits_per_weight REAL,
  size_bytes INTEGER,
  perplexity REAL,
  kld_mean REAL,
  top1_agreement REAL,
  decode_ms_per_token REAL,
  prefill_tokens_per_s REAL,
  baseline_from_cache INTEGER NOT NULL,
  duration_s REAL NOT NULL,
  report_json TEXT NOT NULL,
  created_ms INTEGER NOT NULL
);
CREATE INDEX results_sweep ON results(sweep_id);
)sql",
    // 2: registered workers, and the stage a running job reported last.
    R"sql(
CREATE TABLE workers (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  backend TEXT NOT NULL,
  isa TEXT NOT NULL,
  cores INTEGER NOT NULL,
  memory_bytes INTEGER NOT NULL,
  device TEXT NOT NULL,
  registered_ms INTEGER NOT NULL
);
ALTER TABLE jobs ADD COLUMN stage TEXT NOT NULL DEFAULT '';
)sql",
    // 3: the training checkpoints a job measured (distill), one row per step.
    R"sql(
CREATE TABLE checkpoint_results (
  job_id INTEGER NOT NULL REFERENCES jobs(id),
  sweep_id INTEGER NOT NULL REFERENCES sweeps(id),
  step INTEGER NOT NULL,
  bits_per_weight REAL,
  size_bytes INTEGER,
  perplexity REAL,
  kld_mean REAL,
  top1_agreement REAL,
  decode_ms_per_token REAL,
  prefill_tokens_per_s REAL,
  report_json TEXT NOT NULL,
  PRIMARY KEY (job_id, step)
);
CREATE INDEX checkpoint_results_sweep ON checkpoint_results(sweep_id);
)sql",
};

}  // namespace

int LatestSchemaVersion() {
  return int(std::size(kMigrations));
}

absl::StatusOr<int> SchemaVersion(Db& db) {
  absl::StatusOr<Stmt*> st = db.Prepare("PRAGMA user_version;");
  if (!st.ok()) return st.status();
  absl::StatusOr<bool> row = (*st)->Step();
  if (!row.ok()) return row.status();
  const int v = *row ? int((*st)->Int(0)) : 0;
  (*st)->Reset();
  return v;
}

absl::Status Migrate(Db& db, int target) {
  const int latest = LatestSchemaVersion();
  if (target <= 0 || target > latest) target = latest;
  absl::StatusOr<int> current = SchemaVersion(db);
  if (!current.ok()) return current.status();
  if (*current > latest) {
    return absl::FailedPreconditionError(
        absl::StrCat(db.path(), ": database schema version ", *current,
                     " is newer than this coordinator's (", latest, "): upgrade squeeze"));
  }
  for (int v = *current + 1; v <= target; ++v) {
    const std::string set_version = absl::StrCat("PRAGMA user_version = ", v, ";");
    absl::Status s = InTransaction(db, [&]() -> absl::Status {
      if (absl::Status e = db.Exec(kMigrations[v - 1]); !e.ok()) return e;
      return db.Exec(set_version.c_str());
    });
    if (!s.ok()) {
      return absl::InternalError(
          absl::StrCat(db.path(), ": schema migration ", v, " failed: ", s.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace squeeze::store
