// Scheduler, the worker side: registration, leases, heartbeats, completion, failures and
// lease expiry (see scheduler.h).
#include <chrono>
#include <cstdio>
#include <random>

#include "absl/strings/str_cat.h"
#include "service/scheduler/scheduler.h"
#include "service/sweep/states.h"
#include "util/status_macros.h"

namespace squeeze {
namespace {

std::string NewWorkerId(size_t registered) {
  static std::mt19937_64 rng(std::random_device{}());
  char suffix[8];
  std::snprintf(suffix, sizeof suffix, "%06x", unsigned(rng() & 0xffffff));
  return absl::StrCat("w", registered + 1, "-", suffix);
}

}  // namespace

absl::StatusOr<v1::RegisterWorkerResponse> Scheduler::RegisterWorker(const v1::WorkerInfo& info) {
  if (info.backend() != "cpu" && info.backend() != "cuda") {
    return absl::InvalidArgumentError(
        absl::StrCat("backend \"", info.backend(), "\" is not one of cpu, cuda"));
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (shutdown_) return absl::UnavailableError("the coordinator is shutting down");
  std::string id;
  do id = NewWorkerId(workers_.size());
  while (workers_.count(id));
  const int64_t now = Now();
  RETURN_IF_ERROR(store_->UpsertWorker(id, info, now));
  workers_[id] = WorkerMem{.backend = info.backend(), .last_seen_ms = now, .jobs = {}};
  UpdateGauges();
  v1::RegisterWorkerResponse out;
  out.set_worker_id(id);
  out.set_lease_ms(o_.lease_ms);
  out.set_heartbeat_ms(o_.heartbeat_ms);
  return out;
}

absl::StatusOr<std::optional<v1::Job>> Scheduler::Acquire(const std::string& worker_id,
                                                          int64_t wait_ms) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max<int64_t>(wait_ms, 0));
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (shutdown_) return absl::UnavailableError("the coordinator is shutting down");
    auto w = workers_.find(worker_id);
    if (w == workers_.end()) {
      return absl::NotFoundError(
          absl::StrCat("worker ", worker_id, " is not registered: register again"));
    }
    w->second.last_seen_ms = Now();
    ASSIGN_OR_RETURN(std::optional<store::JobRecord> job, store_->NextQueuedJob(w->second.backend));
    if (job) {
      const int64_t now = Now();
      job->attempt += 1;
      job->worker_id = worker_id;
      job->lease_expires_ms = now + o_.lease_ms;
      job->started_ms = now;
      RETURN_IF_ERROR(Commit(
          {{job->sweep_id, job->id, worker_id, v1::JOB_STATE_QUEUED, v1::JOB_STATE_RUNNING}}, [&] {
            return store_->LeaseJob(job->id, job->attempt, worker_id, job->lease_expires_ms, now);
          }));
      return MakeJob(*job, sweeps_.at(job->sweep_id));
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    changed_.wait_until(lock, deadline);
  }
}

absl::StatusOr<v1::HeartbeatResponse> Scheduler::Heartbeat(const std::string& worker_id,
                                                           int64_t job_id, int attempt,
                                                           const std::string& stage) {
  std::lock_guard<std::mutex> lock(mu_);
  auto w = workers_.find(worker_id);
  if (w == workers_.end()) {
    return absl::NotFoundError(
        absl::StrCat("worker ", worker_id, " is not registered: register again"));
  }
  w->second.last_seen_ms = Now();
  v1::HeartbeatResponse out;
  ASSIGN_OR_RETURN(std::optional<store::JobRecord> job, store_->GetJob(job_id));
  if (!job || job->attempt != attempt) return out;  // keep_going = false
  const int64_t expires = Now() + o_.lease_ms;
  if (job->state == v1::JOB_STATE_RUNNING && job->worker_id == worker_id) {
    RETURN_IF_ERROR(store_->RenewLease(job_id, expires, stage));
  } else if (job->state == v1::JOB_STATE_QUEUED) {
    // The lease ran out (say the coordinator was down) and no one took the job since: this
    // worker keeps it, under the same attempt.
    RETURN_IF_ERROR(Commit(
        {{job->sweep_id, job_id, worker_id, v1::JOB_STATE_QUEUED, v1::JOB_STATE_RUNNING}}, [&] {
          RETURN_IF_ERROR(store_->LeaseJob(job_id, attempt, worker_id, expires, Now()));
          return store_->RenewLease(job_id, expires, stage);
        }));
  } else {
    return out;
  }
  out.set_keep_going(true);
  out.set_lease_expires_ms(expires);
  return out;
}

absl::StatusOr<v1::CompleteJobResponse> Scheduler::Complete(const std::string& worker_id,
                                                            int64_t job_id, int attempt,
                                                            const v1::JobResult& result) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto w = workers_.find(worker_id); w != workers_.end()) w->second.last_seen_ms = Now();
  ASSIGN_OR_RETURN(std::optional<store::JobRecord> job, store_->GetJob(job_id));
  if (!job) return absl::NotFoundError(absl::StrCat("job ", job_id, ": no such job"));
  v1::CompleteJobResponse out;
  if (job->state == v1::JOB_STATE_DONE && job->attempt == attempt) {
    out.set_duplicate(true);  // already stored: written once
    return out;
  }
  if (job->state == v1::JOB_STATE_DONE || job->state == v1::JOB_STATE_FAILED ||
      job->state == v1::JOB_STATE_CANCELLED) {
    return absl::FailedPreconditionError(absl::StrCat(
        "job ", job_id, " is already ", sweep::JobStateName(job->state), ": result not stored"));
  }
  if (job->attempt != attempt) {
    return absl::FailedPreconditionError(absl::StrCat("job ", job_id, ": lease lost (attempt ",
                                                      job->attempt, " holds it now, not ", attempt,
                                                      "): result not stored"));
  }
  const int64_t now = Now();
  const v1::JobState from = job->state;
  job->worker_id = worker_id;
  const double seconds = double(now - job->started_ms) / 1000.0;
  RETURN_IF_ERROR(Commit({{job->sweep_id, job_id, worker_id, from, v1::JOB_STATE_DONE}}, [&] {
    RETURN_IF_ERROR(store_->InsertResult(*job, result, seconds, now));
    return store_->FinishJob(job_id, v1::JOB_STATE_DONE, "", now);
  }));
  if (o_.metrics) o_.metrics->ObserveJobDuration(job->technique, seconds);
  return out;
}

absl::StatusOr<v1::FailJobResponse> Scheduler::Fail(const std::string& worker_id, int64_t job_id,
                                                    int attempt, const std::string& error,
                                                    bool permanent) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto w = workers_.find(worker_id); w != workers_.end()) w->second.last_seen_ms = Now();
  ASSIGN_OR_RETURN(std::optional<store::JobRecord> job, store_->GetJob(job_id));
  if (!job) return absl::NotFoundError(absl::StrCat("job ", job_id, ": no such job"));
  v1::FailJobResponse out;
  if ((job->state != v1::JOB_STATE_RUNNING && job->state != v1::JOB_STATE_QUEUED) ||
      job->attempt != attempt) {
    return out;  // cancelled, finished, or another attempt holds it: nothing to record
  }
  const int max_attempts = sweeps_.at(job->sweep_id).max_attempts;
  const bool retry = !permanent && job->attempt < max_attempts;
  const std::string message =
      retry ? absl::StrCat("attempt ", attempt, " failed on ", worker_id, ": ", error)
            : absl::StrCat(error, permanent ? "" : absl::StrCat(" (after ", attempt, " attempts)"));
  const v1::JobState to = retry ? v1::JOB_STATE_QUEUED : v1::JOB_STATE_FAILED;
  RETURN_IF_ERROR(Commit({{job->sweep_id, job_id, job->worker_id, job->state, to}}, [&] {
    return retry ? store_->RequeueJob(job_id, message)
                 : store_->FinishJob(job_id, v1::JOB_STATE_FAILED, message, Now());
  }));
  out.set_will_retry(retry);
  return out;
}

absl::StatusOr<int> Scheduler::ExpireLeases() {
  std::lock_guard<std::mutex> lock(mu_);
  absl::StatusOr<int> n = ExpireLocked();
  UpdateGauges();
  return n;
}

absl::StatusOr<int> Scheduler::ExpireLocked() {
  const int64_t now = Now();
  ASSIGN_OR_RETURN(std::vector<store::JobRecord> expired, store_->ExpiredLeases(now));
  if (expired.empty()) return 0;
  std::vector<Move> moves;
  for (const store::JobRecord& j : expired) {
    const bool retry = j.attempt < sweeps_.at(j.sweep_id).max_attempts;
    moves.push_back({j.sweep_id, j.id, j.worker_id, v1::JOB_STATE_RUNNING,
                     retry ? v1::JOB_STATE_QUEUED : v1::JOB_STATE_FAILED});
  }
  RETURN_IF_ERROR(Commit(moves, [&]() -> absl::Status {
    for (const store::JobRecord& j : expired) {
      const std::string why =
          absl::StrCat("lease of worker ", j.worker_id, " expired (attempt ", j.attempt, ")");
      if (j.attempt < sweeps_.at(j.sweep_id).max_attempts) {
        RETURN_IF_ERROR(store_->RequeueJob(j.id, why));
      } else {
        RETURN_IF_ERROR(store_->FinishJob(j.id, v1::JOB_STATE_FAILED,
                                          absl::StrCat(why, ": no attempts left"), now));
      }
    }
    return absl::OkStatus();
  }));
  return int(expired.size());
}

}  // namespace squeeze
