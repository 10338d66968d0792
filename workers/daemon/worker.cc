// The worker loop (see worker.h).
#include "daemon/worker.h"

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "daemon/backend.h"
#include "daemon/channel.h"
#include "daemon/job_runner.h"
#include "measure/environment.h"
#include "squeeze/kernels/matmul.h"
#include "squeeze/v1/worker.grpc.pb.h"
#include "util/errors.h"

namespace squeeze {
namespace {

using std::chrono::milliseconds;

bool AuthError(const absl::Status& s) {
  return s.code() == absl::StatusCode::kPermissionDenied ||
         s.code() == absl::StatusCode::kUnauthenticated;
}

}  // namespace

struct Worker::Impl {
  WorkerOptions o;
  rpc::ChannelOptions channel_options;
  std::unique_ptr<v1::WorkerGateway::Stub> stub;
  EvalMemoryCache cache;
  std::string worker_id;
  int64_t heartbeat_ms = 10000;
  bool unreachable_logged = false;

  void Log(const std::string& msg) const {
    if (!o.quiet) std::fprintf(stderr, "squeeze-worker: %s\n", msg.c_str());
  }

  v1::WorkerInfo Info() const {
    v1::WorkerInfo w;
    char host[256] = {0};
    gethostname(host, sizeof host - 1);
    w.set_name(o.name.empty() ? host : o.name);
    w.set_backend(o.backend);
    w.set_isa(IsaName(ActiveIsa()));
    w.set_cores(int(std::thread::hardware_concurrency()));
    w.set_memory_bytes(int64_t(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE));
    w.set_device(CaptureEnvironment("", 0).cpu);
    return w;
  }

  absl::Status Register() {
    v1::RegisterWorkerRequest req;
    *req.mutable_info() = Info();
    v1::RegisterWorkerResponse resp;
    absl::Status s = rpc::Call(*stub, &v1::WorkerGateway::Stub::RegisterWorker, req, &resp,
                               channel_options, milliseconds(10000));
    if (!s.ok()) return s;
    worker_id = resp.worker_id();
    heartbeat_ms = std::max<int64_t>(resp.heartbeat_ms(), 10);
    Log(absl::StrCat("registered as ", worker_id, " (", req.info().backend(), ", ",
                     req.info().isa(), ", ", req.info().cores(), " cores) with ", o.coordinator));
    return absl::OkStatus();
  }

  // Retries `call` while the coordinator is unreachable (it may be restarting), up to
  // `patience`. Returns the last status.
  template <typename F>
  absl::Status Retry(F&& call, milliseconds patience, const std::atomic<bool>* stop) {
    const auto give_up = std::chrono::steady_clock::now() + patience;
    milliseconds backoff(200);
    for (;;) {
      absl::Status s = call();
      if (s.code() != absl::StatusCode::kUnavailable &&
          s.code() != absl::StatusCode::kDeadlineExceeded)
        return s;
      if (std::chrono::steady_clock::now() >= give_up || (stop && stop->load())) return s;
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, milliseconds(2000));
    }
  }

  // Runs one job in a thread while this one renews the lease; then reports.
  void RunJob(const v1::Job& job, const std::atomic<bool>& stop) {
    Log(absl::StrCat("job ", job.id(), " (sweep ", job.sweep_id(), ", #", job.index(), ", attempt ",
                     job.attempt(), "): ",
                     job.spec().pipeline().empty() ? std::string("baseline")
                                                   : absl::StrJoin(job.spec().pipeline(), " + ")));
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    std::string stage = "start";
    std::atomic<bool> cancel{false};
    absl::StatusOr<v1::JobResult> result = absl::UnknownError("not run");
    std::thread runner([&] {
      absl::StatusOr<v1::JobResult> r = absl::UnknownError("not run");
      try {
        r = squeeze::RunJob(
            job.spec(), o.data_root, &cache,
            [&](const std::string& s) {
              std::lock_guard<std::mutex> lock(mu);
              stage = s;
            },
            &cancel);
      } catch (const std::exception& e) {
        r = absl::InternalError(absl::StrCat("job stopped by an exception: ", e.what()));
      }
      std::lock_guard<std::mutex> lock(mu);
      result = std::move(r);
      done = true;
      cv.notify_all();
    });
    {
      std::unique_lock<std::mutex> lock(mu);
      while (!cv.wait_for(lock, milliseconds(heartbeat_ms), [&] { return done; })) {
        const std::string current = stage;
        lock.unlock();
        if (!Heartbeat(job, current)) cancel = true;
        lock.lock();
      }
    }
    runner.join();
    if (cancel) {
      Log(absl::StrCat("job ", job.id(), ": cancelled or lease lost; result dropped"));
      return;
    }
    Report(job, result, stop);
  }

  // False when the coordinator says to drop the job.
  bool Heartbeat(const v1::Job& job, const std::string& stage) {
    v1::HeartbeatRequest req;
    req.set_worker_id(worker_id);
    req.set_job_id(job.id());
    req.set_attempt(job.attempt());
    req.set_stage(stage);
    v1::HeartbeatResponse resp;
    const absl::Status s = rpc::Call(*stub, &v1::WorkerGateway::Stub::Heartbeat, req, &resp,
                                     channel_options, milliseconds(5000));
    if (!s.ok()) {
      // Unreachable (restarting?) or forgotten: keep working, the lease is renewed later or
      // the result is still accepted if no one else took the job.
      Log(absl::StrCat("heartbeat for job ", job.id(), " failed: ", s.message()));
      return true;
    }
    return resp.keep_going();
  }

  // Sends the result or the error, retrying while the coordinator is unreachable (up to
  // ten minutes: it may be restarting).
  void Report(const v1::Job& job, const absl::StatusOr<v1::JobResult>& result,
              const std::atomic<bool>& stop) {
    const bool permanent = !result.ok() && IsInputError(result.status());
    if (!result.ok()) {
      Log(absl::StrCat("job ", job.id(), " failed", permanent ? " (permanent)" : "", ": ",
                       result.status().message()));
    }
    v1::CompleteJobRequest done;
    v1::FailJobRequest failed;
    done.set_worker_id(worker_id);
    done.set_job_id(job.id());
    done.set_attempt(job.attempt());
    failed.set_worker_id(worker_id);
    failed.set_job_id(job.id());
    failed.set_attempt(job.attempt());
    if (result.ok()) {
      *done.mutable_result() = *result;
    } else {
      failed.set_error(std::string(result.status().message()));
      failed.set_permanent(permanent);
    }
    const absl::Status s = Retry(
        [&] {
          v1::CompleteJobResponse done_resp;
          v1::FailJobResponse failed_resp;
          return result.ok() ? rpc::Call(*stub, &v1::WorkerGateway::Stub::CompleteJob, done,
                                         &done_resp, channel_options, milliseconds(30000))
                             : rpc::Call(*stub, &v1::WorkerGateway::Stub::FailJob, failed,
                                         &failed_resp, channel_options, milliseconds(30000));
        },
        milliseconds(600000), &stop);
    if (!s.ok()) {
      Log(absl::StrCat("job ", job.id(), ": ", result.ok() ? "result" : "failure",
                       " not stored: ", s.message()));
    } else if (result.ok()) {
      Log(absl::StrCat("job ", job.id(), ": done"));
    }
  }
};

absl::StatusOr<std::unique_ptr<Worker>> Worker::Create(const WorkerOptions& o) {
  // A cuda worker refuses to start without a usable GPU (the reason names what is missing).
  absl::StatusOr<std::string> device = CheckBackend(o.backend);
  if (!device.ok()) return device.status();
  if (o.backend == "cuda") {
    // The GPU kernels exist (kernels/cuda) but jobs still run the CPU engine: registering as
    // a cuda worker would report CPU figures as GPU ones.
    return absl::UnimplementedError(absl::StrCat(
        "--backend cuda: a GPU is present (", *device,
        ") but this worker does not run jobs on the GPU engine yet; use --backend cpu"));
  }
  std::unique_ptr<Worker> w(new Worker());
  w->impl_ = std::make_unique<Impl>();
  Impl& m = *w->impl_;
  m.o = o;
  m.channel_options = {o.coordinator, o.token, o.tls, o.tls_ca};
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = rpc::MakeChannel(m.channel_options);
  if (!channel.ok()) return channel.status();
  m.stub = v1::WorkerGateway::NewStub(*channel);
  return w;
}

Worker::~Worker() = default;

absl::Status Worker::Run(const std::atomic<bool>& stop) {
  Impl& m = *impl_;
  int handled = 0;
  milliseconds backoff(200);
  while (!stop) {
    if (m.o.max_jobs > 0 && handled >= m.o.max_jobs) return absl::OkStatus();
    absl::Status s;
    if (m.worker_id.empty()) s = m.Register();
    v1::AcquireJobResponse resp;
    if (s.ok()) {
      v1::AcquireJobRequest req;
      req.set_worker_id(m.worker_id);
      req.set_wait_ms(int32_t(m.o.acquire_wait_ms));
      s = rpc::Call(*m.stub, &v1::WorkerGateway::Stub::AcquireJob, req, &resp, m.channel_options,
                    milliseconds(m.o.acquire_wait_ms + 5000));
    }
    if (AuthError(s)) return s;
    if (s.code() == absl::StatusCode::kInvalidArgument) return s;
    if (s.code() == absl::StatusCode::kNotFound) {  // the coordinator forgot us
      m.worker_id.clear();
      continue;
    }
    if (!s.ok()) {
      if (!m.unreachable_logged) m.Log(absl::StrCat(s.message(), "; retrying"));
      m.unreachable_logged = true;
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, milliseconds(2000));
      continue;
    }
    if (m.unreachable_logged) m.Log("coordinator reachable again");
    m.unreachable_logged = false;
    backoff = milliseconds(200);
    if (!resp.has_job()) continue;
    m.RunJob(resp.job(), stop);
    ++handled;
  }
  return absl::OkStatus();
}

}  // namespace squeeze
