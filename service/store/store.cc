// SQLite queries of the coordinator (see store.h).
#include "service/store/store.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "service/store/migrations.h"
#include "util/status_macros.h"

namespace squeeze::store {
namespace {

constexpr char kJobColumns[] =
    "id, sweep_id, idx, target, pipeline, technique, state, attempt, worker_id, "
    "lease_expires_ms, error, started_ms";

JobRecord ReadJob(const Stmt& st) {
  JobRecord j;
  j.id = st.Int(0);
  j.sweep_id = st.Int(1);
  j.index = int(st.Int(2));
  j.target = st.Text(3);
  j.pipeline = st.Text(4);
  j.technique = st.Text(5);
  j.state = v1::JobState(st.Int(6));
  j.attempt = int(st.Int(7));
  j.worker_id = st.Text(8);
  j.lease_expires_ms = st.Int(9);
  j.error = st.Text(10);
  j.started_ms = st.Int(11);
  return j;
}

absl::StatusOr<std::vector<JobRecord>> ReadJobs(Stmt* st) {
  std::vector<JobRecord> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    out.push_back(ReadJob(*st));
  }
  return out;
}

template <typename T>
void BindOptional(Stmt* st, int i, bool has, T value) {
  if (has) {
    st->Bind(i, value);
  } else {
    st->BindNull(i);
  }
}

// Binds the seven metrics to parameters first .. first + 6 (NULL where unset).
void BindMetrics(Stmt* st, int first, const v1::Metrics& m) {
  BindOptional(st, first, m.has_bits_per_weight(), m.bits_per_weight());
  BindOptional(st, first + 1, m.has_size_bytes(), int64_t(m.size_bytes()));
  BindOptional(st, first + 2, m.has_perplexity(), m.perplexity());
  BindOptional(st, first + 3, m.has_kld_mean(), m.kld_mean());
  BindOptional(st, first + 4, m.has_top1_agreement(), m.top1_agreement());
  BindOptional(st, first + 5, m.has_decode_ms_per_token(), m.decode_ms_per_token());
  BindOptional(st, first + 6, m.has_prefill_tokens_per_s(), m.prefill_tokens_per_s());
}

// Reads the seven metrics from columns first .. first + 6 (unset where NULL).
void ReadMetrics(Stmt* st, int first, v1::Metrics* m) {
  if (!st->IsNull(first)) m->set_bits_per_weight(st->Double(first));
  if (!st->IsNull(first + 1)) m->set_size_bytes(st->Int(first + 1));
  if (!st->IsNull(first + 2)) m->set_perplexity(st->Double(first + 2));
  if (!st->IsNull(first + 3)) m->set_kld_mean(st->Double(first + 3));
  if (!st->IsNull(first + 4)) m->set_top1_agreement(st->Double(first + 4));
  if (!st->IsNull(first + 5)) m->set_decode_ms_per_token(st->Double(first + 5));
  if (!st->IsNull(first + 6)) m->set_prefill_tokens_per_s(st->Double(first + 6));
}

}  // namespace

std::string PipelineDisplay(const std::string& pipeline) {
  return pipeline.empty() ? "baseline" : absl::StrReplaceAll(pipeline, {{"\n", " + "}});
}

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const Options& o) {
  ASSIGN_OR_RETURN(std::unique_ptr<Db> db, Db::Open({.path = o.path, .read_only = o.read_only}));
  if (!o.read_only) RETURN_IF_ERROR(Migrate(*db, o.migrate_to));
  return std::unique_ptr<Store>(new Store(std::move(db)));
}

absl::StatusOr<int64_t> Store::InsertSweep(const SweepRecord& s) {
  ASSIGN_OR_RETURN(Stmt * st,
                   db_->Prepare("INSERT INTO sweeps (name, state, spec, settings, max_attempts, "
                                "created_ms) VALUES (?, ?, ?, ?, ?, ?)"));
  st->Bind(1, s.name).Bind(2, int(s.state)).BindBlob(3, s.spec).BindBlob(4, s.settings);
  st->Bind(5, s.max_attempts).Bind(6, s.created_ms);
  RETURN_IF_ERROR(st->Run());
  return db_->LastInsertId();
}

absl::Status Store::InsertJobs(int64_t sweep_id, const std::vector<NewJob>& jobs) {
  ASSIGN_OR_RETURN(Stmt * st, db_->Prepare("INSERT INTO jobs (sweep_id, idx, target, pipeline, "
                                           "technique, state) VALUES (?, ?, ?, ?, ?, ?)"));
  for (const NewJob& j : jobs) {
    st->Reset();
    st->BindAll(sweep_id, j.index, j.target, j.pipeline, j.technique, int(v1::JOB_STATE_QUEUED));
    RETURN_IF_ERROR(st->Run());
  }
  return absl::OkStatus();
}

absl::Status Store::SetSweepState(int64_t sweep_id, v1::SweepState state, int64_t started_ms,
                                  int64_t finished_ms) {
  ASSIGN_OR_RETURN(Stmt * st, db_->Prepare("UPDATE sweeps SET state = ?, started_ms = ?, "
                                           "finished_ms = ? WHERE id = ?"));
  return st->BindAll(int(state), started_ms, finished_ms, sweep_id).Run();
}

absl::Status Store::LeaseJob(int64_t job_id, int attempt, const std::string& worker_id,
                             int64_t lease_expires_ms, int64_t now_ms) {
  ASSIGN_OR_RETURN(Stmt * st,
                   db_->Prepare("UPDATE jobs SET state = ?, attempt = ?, worker_id = ?, "
                                "lease_expires_ms = ?, started_ms = ?, stage = '' WHERE id = ?"));
  return st
      ->BindAll(int(v1::JOB_STATE_RUNNING), attempt, worker_id, lease_expires_ms, now_ms, job_id)
      .Run();
}

absl::Status Store::RenewLease(int64_t job_id, int64_t lease_expires_ms, const std::string& stage) {
  ASSIGN_OR_RETURN(Stmt * st,
                   db_->Prepare("UPDATE jobs SET lease_expires_ms = ?, stage = ? WHERE id = ?"));
  return st->BindAll(lease_expires_ms, stage, job_id).Run();
}

absl::Status Store::RequeueJob(int64_t job_id, const std::string& error) {
  ASSIGN_OR_RETURN(Stmt * st,
                   db_->Prepare("UPDATE jobs SET state = ?, lease_expires_ms = 0, error = ?, "
                                "stage = '' WHERE id = ?"));
  return st->BindAll(int(v1::JOB_STATE_QUEUED), error, job_id).Run();
}

absl::Status Store::FinishJob(int64_t job_id, v1::JobState state, const std::string& error,
                              int64_t now_ms) {
  ASSIGN_OR_RETURN(Stmt * st, db_->Prepare("UPDATE jobs SET state = ?, error = ?, finished_ms = ?, "
                                           "lease_expires_ms = 0 WHERE id = ?"));
  return st->BindAll(int(state), error, now_ms, job_id).Run();
}

absl::Status Store::InsertResult(const JobRecord& job, const v1::JobResult& r, double duration_s,
                                 int64_t now_ms) {
  ASSIGN_OR_RETURN(
      Stmt * st,
      db_->Prepare("INSERT INTO results (job_id, sweep_id, attempt, worker_id, bits_per_weight, "
                   "size_bytes, perplexity, kld_mean, top1_agreement, decode_ms_per_token, "
                   "prefill_tokens_per_s, baseline_from_cache, duration_s, report_json, "
                   "created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  st->BindAll(job.id, job.sweep_id, job.attempt, job.worker_id);
  BindMetrics(st, 5, r.metrics());
  st->Bind(12, int(r.baseline_from_cache())).Bind(13, duration_s).Bind(14, r.report_json());
  st->Bind(15, now_ms);
  RETURN_IF_ERROR(st->Run());
  for (const v1::CheckpointResult& c : r.checkpoints()) {
    ASSIGN_OR_RETURN(
        Stmt * cs,
        db_->Prepare(
            "INSERT INTO checkpoint_results (job_id, sweep_id, step, bits_per_weight, "
            "size_bytes, perplexity, kld_mean, top1_agreement, decode_ms_per_token, "
            "prefill_tokens_per_s, report_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    cs->BindAll(job.id, job.sweep_id, c.step());
    BindMetrics(cs, 4, c.metrics());
    cs->Bind(11, c.report_json());
    RETURN_IF_ERROR(cs->Run());
  }
  return absl::OkStatus();
}

absl::StatusOr<int> Store::CancelJobs(int64_t sweep_id, int64_t now_ms) {
  ASSIGN_OR_RETURN(Stmt * st,
                   db_->Prepare("UPDATE jobs SET state = ?, finished_ms = ?, lease_expires_ms = 0 "
                                "WHERE sweep_id = ? AND state IN (?, ?)"));
  st->BindAll(int(v1::JOB_STATE_CANCELLED), now_ms, sweep_id, int(v1::JOB_STATE_QUEUED),
              int(v1::JOB_STATE_RUNNING));
  RETURN_IF_ERROR(st->Run());
  return db_->Changes();
}

absl::Status Store::UpsertWorker(const std::string& id, const v1::WorkerInfo& w, int64_t now_ms) {
  ASSIGN_OR_RETURN(Stmt * st,
                   db_->Prepare("INSERT OR REPLACE INTO workers (id, name, backend, isa, cores, "
                                "memory_bytes, device, registered_ms) "
                                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"));
  st->BindAll(id, w.name(), w.backend(), w.isa(), int(w.cores()), int64_t(w.memory_bytes()),
              w.device(), now_ms);
  return st->Run();
}

absl::StatusOr<std::vector<SweepRecord>> Store::LoadSweeps() {
  ASSIGN_OR_RETURN(Stmt * st,
                   db_->Prepare("SELECT id, name, state, spec, settings, max_attempts, "
                                "created_ms, started_ms, finished_ms FROM sweeps ORDER BY id"));
  std::vector<SweepRecord> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    SweepRecord s;
    s.id = st->Int(0);
    s.name = st->Text(1);
    s.state = v1::SweepState(st->Int(2));
    s.spec = st->Text(3);
    s.settings = st->Text(4);
    s.max_attempts = int(st->Int(5));
    s.created_ms = st->Int(6);
    s.started_ms = st->Int(7);
    s.finished_ms = st->Int(8);
    out.push_back(std::move(s));
  }
  return out;
}

absl::StatusOr<std::map<int64_t, v1::StateCounts>> Store::CountJobs() {
  ASSIGN_OR_RETURN(Stmt * st, db_->Prepare("SELECT sweep_id, state, COUNT(*) FROM jobs "
                                           "GROUP BY sweep_id, state"));
  std::map<int64_t, v1::StateCounts> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    v1::StateCounts& c = out[st->Int(0)];
    const int n = int(st->Int(2));
    switch (v1::JobState(st->Int(1))) {
      case v1::JOB_STATE_QUEUED:
        c.set_queued(n);
        break;
      case v1::JOB_STATE_RUNNING:
        c.set_running(n);
        break;
      case v1::JOB_STATE_DONE:
        c.set_done(n);
        break;
      case v1::JOB_STATE_FAILED:
        c.set_failed(n);
        break;
      case v1::JOB_STATE_CANCELLED:
        c.set_cancelled(n);
        break;
      default:
        break;
    }
    c.set_total(c.total() + n);
  }
  return out;
}

absl::StatusOr<std::optional<JobRecord>> Store::NextQueuedJob(const std::string& target) {
  static const std::string sql = std::string("SELECT ") + kJobColumns +
                                 " FROM jobs WHERE state = ? AND target = ? ORDER BY id LIMIT 1";
  ASSIGN_OR_RETURN(Stmt * st, db_->Prepare(sql.c_str()));
  st->BindAll(int(v1::JOB_STATE_QUEUED), target);
  ASSIGN_OR_RETURN(bool row, st->Step());
  std::optional<JobRecord> out;
  if (row) out = ReadJob(*st);
  st->Reset();
  return out;
}

absl::StatusOr<std::optional<JobRecord>> Store::GetJob(int64_t job_id) {
  static const std::string sql = std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id = ?";
  ASSIGN_OR_RETURN(Stmt * st, db_->Prepare(sql.c_str()));
  st->Bind(1, job_id);
  ASSIGN_OR_RETURN(bool row, st->Step());
  std::optional<JobRecord> out;
  if (row) out = ReadJob(*st);
  st->Reset();
  return out;
}

absl::StatusOr<std::vector<JobRecord>> Store::ExpiredLeases(int64_t now_ms) {
  static const std::string sql = std::string("SELECT ") + kJobColumns +
                                 " FROM jobs WHERE state = ? AND lease_expires_ms < ? ORDER BY id";
  ASSIGN_OR_RETURN(Stmt * st, db_->Prepare(sql.c_str()));
  st->BindAll(int(v1::JOB_STATE_RUNNING), now_ms);
  return ReadJobs(st);
}

absl::StatusOr<std::vector<JobRecord>> Store::RunningJobs() {
  static const std::string sql =
      std::string("SELECT ") + kJobColumns + " FROM jobs WHERE state = ? ORDER BY id";
  ASSIGN_OR_RETURN(Stmt * st, db_->Prepare(sql.c_str()));
  st->Bind(1, int(v1::JOB_STATE_RUNNING));
  return ReadJobs(st);
}

absl::StatusOr<std::vector<v1::JobInfo>> Store::ListJobs(int64_t sweep_id) {
  ASSIGN_OR_RETURN(Stmt * st,
                   db_->Prepare("SELECT id, idx, pipeline, target, state, attempt, worker_id, "
                                "stage, error, started_ms, finished_ms FROM jobs "
                                "WHERE sweep_id = ? ORDER BY idx, target"));
  st->Bind(1, sweep_id);
  std::vector<v1::JobInfo> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    v1::JobInfo& j = out.emplace_back();
    j.set_id(st->Int(0));
    j.set_sweep_id(sweep_id);
    j.set_index(int(st->Int(1)));
    j.set_config(PipelineDisplay(st->Text(2)));
    j.set_target(st->Text(3));
    j.set_state(v1::JobState(st->Int(4)));
    j.set_attempt(int(st->Int(5)));
    j.set_worker_id(st->Text(6));
    j.set_stage(st->Text(7));
    j.set_error(st->Text(8));
    j.set_started_ms(st->Int(9));
    j.set_finished_ms(st->Int(10));
  }
  return out;
}

absl::StatusOr<std::vector<v1::ResultRow>> Store::ListResults(int64_t sweep_id,
                                                              bool include_report) {
  ASSIGN_OR_RETURN(
      Stmt * st,
      db_->Prepare("SELECT r.job_id, j.idx, j.pipeline, j.target, r.worker_id, r.attempt, "
                   "r.duration_s, r.baseline_from_cache, r.bits_per_weight, r.size_bytes, "
                   "r.perplexity, r.kld_mean, r.top1_agreement, r.decode_ms_per_token, "
                   "r.prefill_tokens_per_s, CASE WHEN ? THEN r.report_json ELSE '' END "
                   "FROM results r JOIN jobs j ON j.id = r.job_id WHERE r.sweep_id = ? "
                   "ORDER BY j.idx, j.target"));
  st->BindAll(int(include_report), sweep_id);
  std::vector<v1::ResultRow> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    v1::ResultRow& r = out.emplace_back();
    r.set_job_id(st->Int(0));
    r.set_index(int(st->Int(1)));
    r.set_config(PipelineDisplay(st->Text(2)));
    r.set_target(st->Text(3));
    r.set_worker_id(st->Text(4));
    r.set_attempt(int(st->Int(5)));
    r.set_duration_seconds(st->Double(6));
    r.set_baseline_from_cache(st->Int(7) != 0);
    ReadMetrics(st, 8, r.mutable_metrics());
    r.set_report_json(st->Text(15));
  }
  // Checkpoint rows follow their job's row, in step order.
  ASSIGN_OR_RETURN(
      Stmt * cs,
      db_->Prepare("SELECT c.job_id, c.step, c.bits_per_weight, c.size_bytes, c.perplexity, "
                   "c.kld_mean, c.top1_agreement, c.decode_ms_per_token, "
                   "c.prefill_tokens_per_s, CASE WHEN ? THEN c.report_json ELSE '' END "
                   "FROM checkpoint_results c WHERE c.sweep_id = ? ORDER BY c.job_id, c.step"));
  cs->BindAll(int(include_report), sweep_id);
  std::map<int64_t, std::vector<v1::ResultRow>> checkpoints;  // by job
  for (;;) {
    ASSIGN_OR_RETURN(bool row, cs->Step());
    if (!row) break;
    v1::ResultRow c;
    c.set_job_id(cs->Int(0));
    c.set_checkpoint_step(cs->Int(1));
    ReadMetrics(cs, 2, c.mutable_metrics());
    c.set_report_json(cs->Text(9));
    checkpoints[c.job_id()].push_back(std::move(c));
  }
  if (checkpoints.empty()) return out;
  std::vector<v1::ResultRow> merged;
  for (v1::ResultRow& r : out) {
    auto it = checkpoints.find(r.job_id());
    merged.push_back(r);
    if (it == checkpoints.end()) continue;
    for (v1::ResultRow& c : it->second) {
      c.set_index(r.index());
      c.set_config(absl::StrCat(r.config(), " @ step ", c.checkpoint_step()));
      c.set_target(r.target());
      c.set_worker_id(r.worker_id());
      c.set_attempt(r.attempt());
      c.set_duration_seconds(0);
      c.set_baseline_from_cache(r.baseline_from_cache());
      merged.push_back(std::move(c));
    }
  }
  return merged;
}

absl::StatusOr<std::vector<std::string>> Store::JobErrors(int64_t sweep_id, int limit) {
  ASSIGN_OR_RETURN(Stmt * st, db_->Prepare("SELECT DISTINCT error FROM jobs WHERE sweep_id = ? "
                                           "AND state = ? AND error != '' LIMIT ?"));
  st->BindAll(sweep_id, int(v1::JOB_STATE_FAILED), limit);
  std::vector<std::string> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    out.push_back(st->Text(0));
  }
  return out;
}

absl::StatusOr<std::vector<std::pair<std::string, v1::WorkerInfo>>> Store::LoadWorkers() {
  ASSIGN_OR_RETURN(Stmt * st, db_->Prepare("SELECT id, name, backend, isa, cores, memory_bytes, "
                                           "device FROM workers ORDER BY registered_ms"));
  std::vector<std::pair<std::string, v1::WorkerInfo>> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    v1::WorkerInfo w;
    w.set_name(st->Text(1));
    w.set_backend(st->Text(2));
    w.set_isa(st->Text(3));
    w.set_cores(int(st->Int(4)));
    w.set_memory_bytes(st->Int(5));
    w.set_device(st->Text(6));
    out.emplace_back(st->Text(0), std::move(w));
  }
  return out;
}

}  // namespace squeeze::store
