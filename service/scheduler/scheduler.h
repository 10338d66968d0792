// The coordinator's core: sweeps expanded into jobs, a queue of jobs leased to workers one
// at a time, lease renewal (heartbeats) and expiry, retries up to a limit, cancellation,
// results written once per job, and progress for watchers. No gRPC here: the API handlers
// are thin callers of this class, and tests drive it directly with a fake clock.
//
// The database is the source of truth: every change is one SQLite transaction, committed
// before the call returns, so a killed coordinator restarts from the file with nothing lost.
// Leases are wall-clock deadlines stored with the job: a worker that outlives a coordinator
// restart keeps its job by renewing the lease; a lease that runs out puts the job back in the
// queue (or fails it after max_attempts leases). In-memory counts mirror the database for
// progress and metrics. Thread-safe: one mutex serializes every change.
#pragma once

#include <array>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "service/metrics/metrics.h"
#include "service/store/store.h"
#include "service/sweep/expand.h"
#include "squeeze/v1/coordinator.pb.h"
#include "squeeze/v1/worker.pb.h"

namespace squeeze {

struct SchedulerOptions {
  std::string db_path;                // SQLite file (created, migrated at start-up)
  int64_t lease_ms = 30000;           // a lease lasts this long after each heartbeat
  int64_t heartbeat_ms = 0;           // advised heartbeat period; 0: lease_ms / 3
  int64_t worker_lost_ms = 0;         // no contact for this long: worker counted lost; 0: 3 leases
  int64_t expiry_check_ms = 1000;     // background lease check period; 0: no thread (tests)
  std::function<int64_t()> now_ms;    // clock (Unix ms); default: the system clock
  ServiceMetrics* metrics = nullptr;  // optional; not owned
};

class Scheduler {
 public:
  // Opens the database, recovers sweeps, counts, workers and leases, and starts the lease
  // expiry thread. Errors name the database file.
  static absl::StatusOr<std::unique_ptr<Scheduler>> Create(const SchedulerOptions& options);
  ~Scheduler();

  // --- Sweeps (coordinator API) ---
  // Stores the sweep and queues its jobs (configurations x targets, the baseline first) in
  // one transaction.
  absl::StatusOr<v1::CreateSweepResponse> CreateSweep(const v1::SweepSpec& spec,
                                                      const sweep::ExpandedSweep& expanded);
  // NotFound for an unknown id. with_spec adds the spec as submitted.
  absl::StatusOr<v1::Sweep> GetSweep(int64_t sweep_id, bool with_spec = false);
  // Most recent first; limit <= 0: 100.
  std::vector<v1::Sweep> ListSweeps(int limit);
  // Cancels the queued and running jobs of a sweep; returns how many. Cancelling a finished
  // sweep cancels nothing and is not an error.
  absl::StatusOr<int> CancelSweep(int64_t sweep_id);
  // Waits until the sweep changes after `version` (0: returns at once), the timeout passes or
  // the scheduler shuts down; returns the sweep and its current version.
  absl::StatusOr<std::pair<v1::Sweep, uint64_t>> WaitForChange(int64_t sweep_id, uint64_t version,
                                                               int64_t timeout_ms);
  absl::StatusOr<std::vector<v1::JobInfo>> ListJobs(int64_t sweep_id);
  absl::StatusOr<std::vector<v1::ResultRow>> ListResults(int64_t sweep_id, bool include_report);
  // The non-dominated results for the objectives (checked and resolved; see result_metrics.h).
  absl::StatusOr<v1::GetParetoResponse> GetPareto(int64_t sweep_id,
                                                  const std::vector<v1::Objective>& objectives);

  // --- Workers (worker gateway API) ---
  absl::StatusOr<v1::RegisterWorkerResponse> RegisterWorker(const v1::WorkerInfo& info);
  // The oldest queued job of the worker's backend, leased to it; waits up to wait_ms for one.
  // nullopt when none came. NotFound for an unregistered worker (it should register again).
  absl::StatusOr<std::optional<v1::Job>> Acquire(const std::string& worker_id, int64_t wait_ms);
  // Renews the lease of the worker's running job. keep_going is false when the job was
  // cancelled, finished, or leased to someone else. A job whose lease expired but that no
  // one took since is leased again to the same attempt.
  absl::StatusOr<v1::HeartbeatResponse> Heartbeat(const std::string& worker_id, int64_t job_id,
                                                  int attempt, const std::string& stage);
  // Stores the result and marks the job done. The same job and attempt again: nothing is
  // written and the answer is duplicate = true. FailedPrecondition when the job was cancelled
  // or another attempt holds it.
  absl::StatusOr<v1::CompleteJobResponse> Complete(const std::string& worker_id, int64_t job_id,
                                                   int attempt, const v1::JobResult& result);
  // Records the error; the job is queued again unless permanent or out of attempts.
  absl::StatusOr<v1::FailJobResponse> Fail(const std::string& worker_id, int64_t job_id,
                                           int attempt, const std::string& error, bool permanent);

  // Expires overdue leases now and updates the worker gauges (the background thread does
  // both every expiry_check_ms); returns how many leases expired.
  absl::StatusOr<int> ExpireLeases();
  // Wakes every waiter; later waits return Unavailable. Idempotent.
  void Shutdown();

  int64_t lease_ms() const { return o_.lease_ms; }

 private:
  struct SweepMem {
    std::string name, model;
    v1::SweepState state = v1::SWEEP_STATE_QUEUED;
    v1::StateCounts counts;
    v1::JobSpec settings;
    int max_attempts = 3;
    int64_t created_ms = 0, started_ms = 0, finished_ms = 0;
    uint64_t version = 1;
  };
  struct WorkerMem {
    std::string backend;
    int64_t last_seen_ms = 0;
    std::set<int64_t> jobs;  // running jobs leased to it
  };
  // A change of one job's state, applied to the in-memory mirror after its transaction.
  struct Move {
    int64_t sweep_id, job_id;  // job_id 0: a bulk move of n jobs (no worker involved)
    std::string worker_id;
    v1::JobState from, to;
    int64_t n = 1;
  };

  explicit Scheduler(const SchedulerOptions& o) : o_(o) {}
  absl::Status Recover();
  int64_t Now() const { return o_.now_ms(); }
  absl::StatusOr<SweepMem*> FindSweep(int64_t id);  // requires mu_
  v1::Sweep ToProto(int64_t id, const SweepMem& s) const;
  v1::Job MakeJob(const store::JobRecord& j, const SweepMem& s) const;
  // Runs `write` and the state changes of the sweeps that `moves` touch in one transaction,
  // then mirrors the moves in memory, updates metrics and wakes waiters. `adjust` (optional)
  // edits a touched sweep before its state is recomputed and written. Requires mu_.
  absl::Status Commit(const std::vector<Move>& moves, const std::function<absl::Status()>& write,
                      const std::function<void(SweepMem&)>& adjust = nullptr);
  // Applies the moves to a copy of a sweep: counts, started/finished times and state.
  void Project(int64_t sweep_id, SweepMem& s, const std::vector<Move>& moves) const;
  absl::StatusOr<int> ExpireLocked();
  void UpdateGauges();  // requires mu_
  void ExpiryLoop();

  SchedulerOptions o_;
  std::unique_ptr<store::Store> store_;   // writer; guarded by mu_
  std::unique_ptr<store::Store> reader_;  // reads of results and jobs; guarded by read_mu_
  mutable std::mutex mu_;
  std::mutex read_mu_;
  std::condition_variable changed_;           // any job or sweep change, and shutdown
  std::condition_variable stop_;              // shutdown, for the background thread
  std::map<int64_t, SweepMem> sweeps_;        // guarded by mu_
  std::map<std::string, WorkerMem> workers_;  // guarded by mu_
  int64_t queued_total_ = 0;                  // guarded by mu_
  bool shutdown_ = false;                     // guarded by mu_
  std::thread expiry_thread_;
};

}  // namespace squeeze
