// The coordinator's database: sweeps, jobs, results and workers in SQLite (WAL mode, schema
// by migrations). Typed queries only; every value is bound, never spliced into SQL. A Store
// is one connection: not thread-safe (the scheduler serializes writers; readers open their
// own read-only Store on the same file).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "service/store/db.h"
#include "squeeze/v1/sweep.pb.h"
#include "squeeze/v1/worker.pb.h"

namespace squeeze::store {

struct SweepRecord {
  int64_t id = 0;
  std::string name;
  v1::SweepState state = v1::SWEEP_STATE_QUEUED;
  std::string spec;      // serialized v1::SweepSpec as submitted
  std::string settings;  // serialized v1::JobSpec (no pipeline, no target)
  int max_attempts = 3;
  int64_t created_ms = 0, started_ms = 0, finished_ms = 0;
};

struct JobRecord {
  int64_t id = 0;
  int64_t sweep_id = 0;
  int index = 0;
  std::string target;
  std::string pipeline;   // canonical specs separated by '\n'; empty: the baseline
  std::string technique;  // metrics label
  v1::JobState state = v1::JOB_STATE_QUEUED;
  int attempt = 0;
  std::string worker_id;
  int64_t lease_expires_ms = 0;
  std::string error;
  int64_t started_ms = 0;  // when the current attempt was leased
};

struct NewJob {
  int index = 0;
  std::string target, pipeline, technique;
};

// "rtn:bits=4,... + gptq:..." for a stored pipeline; "baseline" when empty.
std::string PipelineDisplay(const std::string& pipeline);

class Store {
 public:
  struct Options {
    std::string path;
    bool read_only = false;  // readers: no migrations, no writes
    int migrate_to = 0;      // tests: stop at this schema version (0: latest)
  };
  // Opens the database file and (unless read_only) applies pending migrations. Errors name
  // the path.
  static absl::StatusOr<std::unique_ptr<Store>> Open(const Options& options);

  Db& db() { return *db_; }

  // Writes (callers wrap related writes in InTransaction(db(), ...)).
  absl::StatusOr<int64_t> InsertSweep(const SweepRecord& s);
  absl::Status InsertJobs(int64_t sweep_id, const std::vector<NewJob>& jobs);
  absl::Status SetSweepState(int64_t sweep_id, v1::SweepState state, int64_t started_ms,
                             int64_t finished_ms);
  absl::Status LeaseJob(int64_t job_id, int attempt, const std::string& worker_id,
                        int64_t lease_expires_ms, int64_t now_ms);
  absl::Status RenewLease(int64_t job_id, int64_t lease_expires_ms, const std::string& stage);
  // Puts a leased job back in the queue (its attempt count stays), recording why.
  absl::Status RequeueJob(int64_t job_id, const std::string& error);
  absl::Status FinishJob(int64_t job_id, v1::JobState state, const std::string& error,
                         int64_t now_ms);
  absl::Status InsertResult(const JobRecord& job, const v1::JobResult& result, double duration_s,
                            int64_t now_ms);
  // Cancels the sweep's queued and running jobs; returns how many.
  absl::StatusOr<int> CancelJobs(int64_t sweep_id, int64_t now_ms);
  absl::Status UpsertWorker(const std::string& id, const v1::WorkerInfo& info, int64_t now_ms);

  // Reads.
  absl::StatusOr<std::vector<SweepRecord>> LoadSweeps();
  // Job counts per sweep and state.
  absl::StatusOr<std::map<int64_t, v1::StateCounts>> CountJobs();
  // The oldest queued job for `target`, if any.
  absl::StatusOr<std::optional<JobRecord>> NextQueuedJob(const std::string& target);
  absl::StatusOr<std::optional<JobRecord>> GetJob(int64_t job_id);
  // Running jobs whose lease expired before now_ms.
  absl::StatusOr<std::vector<JobRecord>> ExpiredLeases(int64_t now_ms);
  absl::StatusOr<std::vector<JobRecord>> RunningJobs();
  absl::StatusOr<std::vector<v1::JobInfo>> ListJobs(int64_t sweep_id);
  absl::StatusOr<std::vector<v1::ResultRow>> ListResults(int64_t sweep_id, bool include_report);
  // Up to `limit` distinct errors of the sweep's failed jobs.
  absl::StatusOr<std::vector<std::string>> JobErrors(int64_t sweep_id, int limit);
  // Registered workers: id and what they registered with.
  absl::StatusOr<std::vector<std::pair<std::string, v1::WorkerInfo>>> LoadWorkers();

 private:
  explicit Store(std::unique_ptr<Db> db) : db_(std::move(db)) {}
  std::unique_ptr<Db> db_;
};

}  // namespace squeeze::store
