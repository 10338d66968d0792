// Scheduler: sweeps, queue, leases, retries, cancellation (see scheduler.h).
#include "service/scheduler/scheduler.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "service/sweep/result_metrics.h"
#include "util/status_macros.h"

namespace squeeze {
namespace {

using Clock = std::chrono::steady_clock;

void AddCount(v1::StateCounts& c, v1::JobState s, int64_t n) {
  switch (s) {
    case v1::JOB_STATE_QUEUED:
      c.set_queued(int32_t(c.queued() + n));
      break;
    case v1::JOB_STATE_RUNNING:
      c.set_running(int32_t(c.running() + n));
      break;
    case v1::JOB_STATE_DONE:
      c.set_done(int32_t(c.done() + n));
      break;
    case v1::JOB_STATE_FAILED:
      c.set_failed(int32_t(c.failed() + n));
      break;
    case v1::JOB_STATE_CANCELLED:
      c.set_cancelled(int32_t(c.cancelled() + n));
      break;
    default:
      break;
  }
}

int64_t SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Scheduler>> Scheduler::Create(const SchedulerOptions& options) {
  if (options.lease_ms <= 0) return absl::InvalidArgumentError("lease must be positive");
  std::unique_ptr<Scheduler> s(new Scheduler(options));
  if (!s->o_.now_ms) s->o_.now_ms = SystemNowMs;
  if (s->o_.heartbeat_ms <= 0) s->o_.heartbeat_ms = std::max<int64_t>(s->o_.lease_ms / 3, 1);
  if (s->o_.worker_lost_ms <= 0) s->o_.worker_lost_ms = 3 * s->o_.lease_ms;
  ASSIGN_OR_RETURN(s->store_, store::Store::Open({.path = options.db_path}));
  ASSIGN_OR_RETURN(s->reader_, store::Store::Open({.path = options.db_path}));
  RETURN_IF_ERROR(s->Recover());
  if (s->o_.expiry_check_ms > 0)
    s->expiry_thread_ = std::thread([p = s.get()] { p->ExpiryLoop(); });
  return s;
}

Scheduler::~Scheduler() {
  Shutdown();
  if (expiry_thread_.joinable()) expiry_thread_.join();
}

absl::Status Scheduler::Recover() {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(std::vector<store::SweepRecord> sweeps, store_->LoadSweeps());
  ASSIGN_OR_RETURN(auto counts, store_->CountJobs());
  for (store::SweepRecord& r : sweeps) {
    SweepMem& s = sweeps_[r.id];
    s.name = r.name;
    s.state = r.state;
    s.settings.ParseFromString(r.settings);
    s.model = s.settings.model();
    s.max_attempts = r.max_attempts;
    s.created_ms = r.created_ms;
    s.started_ms = r.started_ms;
    s.finished_ms = r.finished_ms;
    s.counts = counts[r.id];
    queued_total_ += s.counts.queued();
  }
  const int64_t now = Now();
  ASSIGN_OR_RETURN(auto workers, store_->LoadWorkers());
  for (const auto& [id, info] : workers) {
    workers_[id] = WorkerMem{.backend = info.backend(), .last_seen_ms = now, .jobs = {}};
  }
  ASSIGN_OR_RETURN(std::vector<store::JobRecord> running, store_->RunningJobs());
  for (const store::JobRecord& j : running) {
    WorkerMem& w = workers_[j.worker_id];
    if (w.backend.empty()) w = WorkerMem{.backend = j.target, .last_seen_ms = now, .jobs = {}};
    w.jobs.insert(j.id);
  }
  UpdateGauges();
  return absl::OkStatus();
}

absl::StatusOr<Scheduler::SweepMem*> Scheduler::FindSweep(int64_t id) {
  auto it = sweeps_.find(id);
  if (it == sweeps_.end())
    return absl::NotFoundError(absl::StrCat("sweep ", id, ": no such sweep"));
  return &it->second;
}

v1::Sweep Scheduler::ToProto(int64_t id, const SweepMem& s) const {
  v1::Sweep p;
  p.set_id(id);
  p.set_name(s.name);
  p.set_state(s.state);
  *p.mutable_counts() = s.counts;
  p.set_created_ms(s.created_ms);
  p.set_started_ms(s.started_ms);
  p.set_finished_ms(s.finished_ms);
  p.set_model(s.model);
  return p;
}

v1::Job Scheduler::MakeJob(const store::JobRecord& j, const SweepMem& s) const {
  v1::Job job;
  job.set_id(j.id);
  job.set_sweep_id(j.sweep_id);
  job.set_index(j.index);
  job.set_attempt(j.attempt);
  job.set_lease_expires_ms(j.lease_expires_ms);
  v1::JobSpec* spec = job.mutable_spec();
  *spec = s.settings;
  if (!j.pipeline.empty()) {
    for (absl::string_view step : absl::StrSplit(j.pipeline, '\n'))
      spec->add_pipeline(std::string(step));
  }
  spec->set_target(j.target);
  return job;
}

void Scheduler::Project(int64_t sweep_id, SweepMem& s, const std::vector<Move>& moves) const {
  for (const Move& m : moves) {
    if (m.sweep_id != sweep_id) continue;
    AddCount(s.counts, m.from, -m.n);
    AddCount(s.counts, m.to, m.n);
    if (m.to == v1::JOB_STATE_RUNNING && s.started_ms == 0) s.started_ms = Now();
  }
  if (s.state == v1::SWEEP_STATE_CANCELLED) return;
  if (s.counts.queued() + s.counts.running() == 0) {
    s.state = v1::SWEEP_STATE_COMPLETED;
    if (s.finished_ms == 0) s.finished_ms = Now();
  } else {
    s.state = s.started_ms > 0 ? v1::SWEEP_STATE_RUNNING : v1::SWEEP_STATE_QUEUED;
    s.finished_ms = 0;
  }
}

absl::Status Scheduler::Commit(const std::vector<Move>& moves,
                               const std::function<absl::Status()>& write,
                               const std::function<void(SweepMem&)>& adjust) {
  std::map<int64_t, SweepMem> next;
  for (const Move& m : moves) {
    if (next.count(m.sweep_id)) continue;
    SweepMem& s = next[m.sweep_id] = sweeps_.at(m.sweep_id);
    if (adjust) adjust(s);
    Project(m.sweep_id, s, moves);
  }
  RETURN_IF_ERROR(store::InTransaction(store_->db(), [&]() -> absl::Status {
    RETURN_IF_ERROR(write());
    for (const auto& [id, s] : next) {
      const SweepMem& cur = sweeps_.at(id);
      if (s.state != cur.state || s.started_ms != cur.started_ms ||
          s.finished_ms != cur.finished_ms) {
        RETURN_IF_ERROR(store_->SetSweepState(id, s.state, s.started_ms, s.finished_ms));
      }
    }
    return absl::OkStatus();
  }));
  for (auto& [id, s] : next) {
    SweepMem& cur = sweeps_.at(id);
    if (o_.metrics && s.state != cur.state) o_.metrics->SweepEntered(s.state);
    s.version = cur.version + 1;
    cur = std::move(s);
  }
  for (const Move& m : moves) {
    if (m.from == v1::JOB_STATE_QUEUED) queued_total_ -= m.n;
    if (m.to == v1::JOB_STATE_QUEUED) queued_total_ += m.n;
    if (m.job_id != 0 && !m.worker_id.empty()) {
      auto w = workers_.find(m.worker_id);
      if (w != workers_.end()) {
        if (m.from == v1::JOB_STATE_RUNNING) w->second.jobs.erase(m.job_id);
        if (m.to == v1::JOB_STATE_RUNNING) w->second.jobs.insert(m.job_id);
      }
    }
    if (o_.metrics) o_.metrics->JobsEntered(m.to, m.n);
  }
  UpdateGauges();
  changed_.notify_all();
  return absl::OkStatus();
}

absl::StatusOr<v1::CreateSweepResponse> Scheduler::CreateSweep(
    const v1::SweepSpec& spec, const sweep::ExpandedSweep& expanded) {
  std::vector<store::NewJob> jobs;
  jobs.reserve(expanded.configs.size() * expanded.targets.size());
  for (size_t i = 0; i < expanded.configs.size(); ++i) {
    const std::string pipeline = absl::StrJoin(expanded.configs[i], "\n");
    const std::string label = sweep::TechniqueLabel(expanded.configs[i]);
    for (const std::string& target : expanded.targets) {
      jobs.push_back({int(i), target, pipeline, label});
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (shutdown_) return absl::UnavailableError("the coordinator is shutting down");
  store::SweepRecord r;
  r.name = expanded.name;
  r.state = v1::SWEEP_STATE_QUEUED;
  spec.SerializeToString(&r.spec);
  expanded.settings.SerializeToString(&r.settings);
  r.max_attempts = expanded.max_attempts;
  r.created_ms = Now();
  int64_t id = 0;
  RETURN_IF_ERROR(store::InTransaction(store_->db(), [&]() -> absl::Status {
    ASSIGN_OR_RETURN(id, store_->InsertSweep(r));
    return store_->InsertJobs(id, jobs);
  }));
  SweepMem& s = sweeps_[id];
  s.name = r.name;
  s.model = expanded.settings.model();
  s.settings = expanded.settings;
  s.max_attempts = r.max_attempts;
  s.created_ms = r.created_ms;
  s.counts.set_queued(int32_t(jobs.size()));
  s.counts.set_total(int32_t(jobs.size()));
  queued_total_ += int64_t(jobs.size());
  if (o_.metrics) {
    o_.metrics->SweepEntered(v1::SWEEP_STATE_QUEUED);
    o_.metrics->JobsEntered(v1::JOB_STATE_QUEUED, int64_t(jobs.size()));
    o_.metrics->SetJobsQueued(queued_total_);
  }
  changed_.notify_all();
  v1::CreateSweepResponse out;
  out.set_sweep_id(id);
  out.set_jobs(int32_t(jobs.size()));
  out.set_duplicates(expanded.duplicates);
  return out;
}

absl::StatusOr<v1::Sweep> Scheduler::GetSweep(int64_t sweep_id, bool with_spec) {
  v1::Sweep out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ASSIGN_OR_RETURN(SweepMem * s, FindSweep(sweep_id));
    out = ToProto(sweep_id, *s);
  }
  std::lock_guard<std::mutex> lock(read_mu_);
  if (out.counts().failed() > 0) {
    ASSIGN_OR_RETURN(std::vector<std::string> errors, reader_->JobErrors(sweep_id, 5));
    for (std::string& e : errors) out.add_errors(std::move(e));
  }
  if (with_spec) {
    ASSIGN_OR_RETURN(store::Stmt * st,
                     reader_->db().Prepare("SELECT spec FROM sweeps WHERE id = ?"));
    st->Bind(1, sweep_id);
    ASSIGN_OR_RETURN(bool row, st->Step());
    if (row) out.mutable_spec()->ParseFromString(st->Text(0));
    st->Reset();
  }
  return out;
}

std::vector<v1::Sweep> Scheduler::ListSweeps(int limit) {
  if (limit <= 0) limit = 100;
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<v1::Sweep> out;
  for (auto it = sweeps_.rbegin(); it != sweeps_.rend() && int(out.size()) < limit; ++it) {
    out.push_back(ToProto(it->first, it->second));
  }
  return out;
}

absl::StatusOr<int> Scheduler::CancelSweep(int64_t sweep_id) {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(SweepMem * s, FindSweep(sweep_id));
  if (s->state == v1::SWEEP_STATE_COMPLETED || s->state == v1::SWEEP_STATE_CANCELLED) return 0;
  ASSIGN_OR_RETURN(std::vector<store::JobRecord> running, store_->RunningJobs());
  std::vector<Move> moves;
  for (const store::JobRecord& j : running) {
    if (j.sweep_id == sweep_id) {
      moves.push_back(
          {sweep_id, j.id, j.worker_id, v1::JOB_STATE_RUNNING, v1::JOB_STATE_CANCELLED, 1});
    }
  }
  moves.push_back(
      {sweep_id, 0, "", v1::JOB_STATE_QUEUED, v1::JOB_STATE_CANCELLED, s->counts.queued()});
  int cancelled = 0;
  const int64_t now = Now();
  RETURN_IF_ERROR(Commit(
      moves,
      [&]() -> absl::Status {
        ASSIGN_OR_RETURN(cancelled, store_->CancelJobs(sweep_id, now));
        return absl::OkStatus();
      },
      [&](SweepMem& next) {
        next.state = v1::SWEEP_STATE_CANCELLED;
        next.finished_ms = now;
      }));
  return cancelled;
}

absl::StatusOr<std::pair<v1::Sweep, uint64_t>> Scheduler::WaitForChange(int64_t sweep_id,
                                                                        uint64_t version,
                                                                        int64_t timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(SweepMem * s, FindSweep(sweep_id));
  const auto deadline = Clock::now() + std::chrono::milliseconds(std::max<int64_t>(timeout_ms, 0));
  changed_.wait_until(lock, deadline, [&] { return shutdown_ || s->version != version; });
  if (shutdown_) return absl::UnavailableError("the coordinator is shutting down");
  return std::make_pair(ToProto(sweep_id, *s), s->version);
}

absl::StatusOr<std::vector<v1::JobInfo>> Scheduler::ListJobs(int64_t sweep_id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    RETURN_IF_ERROR(FindSweep(sweep_id).status());
  }
  std::lock_guard<std::mutex> lock(read_mu_);
  return reader_->ListJobs(sweep_id);
}

absl::StatusOr<std::vector<v1::ResultRow>> Scheduler::ListResults(int64_t sweep_id,
                                                                  bool include_report) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    RETURN_IF_ERROR(FindSweep(sweep_id).status());
  }
  std::lock_guard<std::mutex> lock(read_mu_);
  return reader_->ListResults(sweep_id, include_report);
}

absl::StatusOr<v1::GetParetoResponse> Scheduler::GetPareto(
    int64_t sweep_id, const std::vector<v1::Objective>& objectives) {
  ASSIGN_OR_RETURN(std::vector<v1::Objective> resolved, sweep::ResolveObjectives(objectives));
  ASSIGN_OR_RETURN(std::vector<v1::ResultRow> rows, ListResults(sweep_id, false));
  v1::GetParetoResponse out;
  for (int i : sweep::ParetoFront(rows, resolved)) *out.add_results() = rows[i];
  for (v1::Objective& o : resolved) *out.add_objectives() = std::move(o);
  return out;
}

void Scheduler::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutdown_ = true;
  }
  changed_.notify_all();
  stop_.notify_all();
}

void Scheduler::ExpiryLoop() {
  auto next_checkpoint = Clock::now();
  std::unique_lock<std::mutex> lock(mu_);
  while (!shutdown_) {
    stop_.wait_for(lock, std::chrono::milliseconds(o_.expiry_check_ms));
    if (shutdown_) break;
    (void)ExpireLocked();  // a failed check is retried on the next tick
    UpdateGauges();        // workers not seen for worker_lost_ms become lost
    if (Clock::now() >= next_checkpoint) {
      // The reader's connection syncs the log into the file while writers go on.
      lock.unlock();
      {
        std::lock_guard<std::mutex> read_lock(read_mu_);
        (void)reader_->db().Checkpoint();
      }
      lock.lock();
      next_checkpoint = Clock::now() + std::chrono::seconds(1);
    }
  }
}

void Scheduler::UpdateGauges() {
  if (!o_.metrics) return;
  o_.metrics->SetJobsQueued(queued_total_);
  const int64_t now = Now();
  std::map<std::string, std::array<int64_t, 3>> by_backend;  // idle, busy, lost
  for (auto it = workers_.begin(); it != workers_.end();) {
    const WorkerMem& w = it->second;
    const bool lost = now - w.last_seen_ms > o_.worker_lost_ms;
    // A worker lost for an hour with no job is forgotten (the database keeps its record).
    if (lost && w.jobs.empty() && now - w.last_seen_ms > 3600 * 1000) {
      it = workers_.erase(it);
      continue;
    }
    by_backend[w.backend][lost ? 2 : w.jobs.empty() ? 0 : 1] += 1;
    ++it;
  }
  for (const char* backend : {"cpu", "cuda"}) by_backend[backend];
  for (const auto& [backend, n] : by_backend) {
    o_.metrics->SetWorkers(backend, "idle", n[0]);
    o_.metrics->SetWorkers(backend, "busy", n[1]);
    o_.metrics->SetWorkers(backend, "lost", n[2]);
  }
}

}  // namespace squeeze
