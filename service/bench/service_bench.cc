// Speed of the coordinator's scheduling path, without any measurement work:
//  - CreateSweep of a sweep that expands to 10,000 configurations, over gRPC on loopback
//    (validation, expansion, 10,001 job rows in SQLite);
//  - job throughput (AcquireJob + CompleteJob with an empty result) through the scheduler
//    core alone and over gRPC on loopback with two worker threads.
// These measure scheduling overhead only: a real job spends seconds to hours measuring.
#include <benchmark/benchmark.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_format.h"
#include "service/coordinator/coordinator.h"
#include "service/scheduler/scheduler.h"
#include "squeeze/v1/coordinator.grpc.pb.h"
#include "squeeze/v1/worker.grpc.pb.h"

namespace squeeze {
namespace {

namespace fs = std::filesystem;

std::string TempDir(const std::string& name) {
  const fs::path p =
      fs::temp_directory_path() / absl::StrFormat("squeeze-bench-%d-%s", getpid(), name);
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

// An in-process coordinator on a free loopback port (no HTTP), its database in `dir`.
std::unique_ptr<Coordinator> Start(const std::string& dir, benchmark::State& state) {
  CoordinatorOptions o;
  o.grpc_listen = "127.0.0.1:0";
  o.http_listen = "";
  o.db_path = dir + "/db.sqlite";
  o.data_root = dir;
  absl::StatusOr<std::unique_ptr<Coordinator>> c = Coordinator::Create(o);
  if (!c.ok()) {
    state.SkipWithError(std::string(c.status().message()).c_str());
    return nullptr;
  }
  return *std::move(c);
}

std::shared_ptr<grpc::Channel> ChannelTo(const Coordinator& c) {
  return grpc::CreateChannel("127.0.0.1:" + std::to_string(c.grpc_port()),
                             grpc::InsecureChannelCredentials());
}

// gptq with 1,250 damping values x 4 bit widths x 2 (symmetric or not) = 10,000.
v1::SweepSpec TenThousand() {
  v1::SweepSpec s;
  s.set_name("ten-thousand");
  s.set_model("m.bin");
  s.set_tokenizer("tok.bin");
  s.mutable_eval()->set_text("text.txt");
  s.mutable_calibration()->set_text("text.txt");
  v1::TechniqueStep* step = s.add_configs()->add_steps();
  step->set_technique("gptq");
  auto& params = *step->mutable_params();
  for (int k = 1; k <= 1250; ++k) params["damping"].add_values(absl::StrFormat("%.6f", k * 1e-4));
  for (const char* b : {"2", "3", "4", "8"}) params["bits"].add_values(b);
  for (const char* v : {"true", "false"}) params["symmetric"].add_values(v);
  return s;
}

void BM_CreateSweep10k(benchmark::State& state) {
  const std::string dir = TempDir("create");
  for (const char* f : {"m.bin", "tok.bin", "text.txt"}) std::ofstream(dir + "/" + f) << "x";
  std::unique_ptr<Coordinator> c = Start(dir, state);
  if (!c) return;
  auto stub = v1::Coordinator::NewStub(ChannelTo(*c));
  v1::CreateSweepRequest req;
  *req.mutable_spec() = TenThousand();
  int jobs = 0;
  for (auto _ : state) {
    grpc::ClientContext ctx;
    v1::CreateSweepResponse resp;
    const grpc::Status s = stub->CreateSweep(&ctx, req, &resp);
    if (!s.ok()) return state.SkipWithError(s.error_message().c_str());
    jobs = resp.jobs();
  }
  state.counters["jobs"] = jobs;
  fs::remove_all(dir);
}
BENCHMARK(BM_CreateSweep10k)->Unit(benchmark::kMillisecond)->Iterations(5);

sweep::ExpandedSweep ManyJobs(int n) {
  sweep::ExpandedSweep e;
  e.name = "throughput";
  e.settings.set_model("m.bin");
  e.targets = {"cpu"};
  e.configs.resize(n);
  for (int i = 1; i < n; ++i) e.configs[i] = {absl::StrFormat("rtn:bits=%d", i)};
  return e;
}

// Acquire + Complete through the scheduler core (SQLite included, no gRPC), one worker.
void BM_SchedulerAcquireComplete(benchmark::State& state) {
  const std::string dir = TempDir("core");
  SchedulerOptions o;
  o.db_path = dir + "/db.sqlite";
  auto s = Scheduler::Create(o);
  if (!s.ok()) return state.SkipWithError(std::string(s.status().message()).c_str());
  v1::WorkerInfo info;
  info.set_backend("cpu");
  const std::string w = (*s)->RegisterWorker(info)->worker_id();
  v1::JobResult result;
  result.mutable_metrics()->set_perplexity(1);
  int64_t done = 0;
  for (auto _ : state) {
    state.PauseTiming();
    (void)(*s)->CreateSweep({}, ManyJobs(5000));
    state.ResumeTiming();
    for (;;) {
      std::optional<v1::Job> job = *(*s)->Acquire(w, 0);
      if (!job) break;
      (void)(*s)->Complete(w, job->id(), job->attempt(), result);
      ++done;
    }
  }
  state.counters["jobs_per_s"] = benchmark::Counter(double(done), benchmark::Counter::kIsRate);
  fs::remove_all(dir);
}
BENCHMARK(BM_SchedulerAcquireComplete)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();

// AcquireJob + CompleteJob over gRPC on loopback, `workers` client threads.
void BM_GrpcAcquireComplete(benchmark::State& state) {
  const int workers = int(state.range(0));
  const std::string dir = TempDir("grpc");
  std::ofstream(dir + "/m.bin") << "x";
  std::ofstream(dir + "/tok.bin") << "x";
  std::unique_ptr<Coordinator> c = Start(dir, state);
  if (!c) return;
  auto channel = ChannelTo(*c);
  auto coord = v1::Coordinator::NewStub(channel);
  std::atomic<int64_t> done{0};
  for (auto _ : state) {
    state.PauseTiming();
    {  // 5,000 jobs: a sweep of one technique with 4,999 distinct values + the baseline
      v1::CreateSweepRequest req;
      req.mutable_spec()->set_model("m.bin");
      req.mutable_spec()->set_tokenizer("tok.bin");
      req.mutable_spec()->mutable_calibration()->set_text("m.bin");
      req.mutable_spec()->mutable_latency()->set_repeats(1);
      v1::TechniqueStep* step = req.mutable_spec()->add_configs()->add_steps();
      step->set_technique("smoothquant");
      for (int k = 1; k < 5000; ++k)
        (*step->mutable_params())["alpha"].add_values(absl::StrFormat("%.6f", k / 5000.0));
      grpc::ClientContext ctx;
      v1::CreateSweepResponse resp;
      const grpc::Status created = coord->CreateSweep(&ctx, req, &resp);
      if (!created.ok()) return state.SkipWithError(created.error_message().c_str());
    }
    state.ResumeTiming();
    std::vector<std::thread> threads;
    for (int t = 0; t < workers; ++t) {
      threads.emplace_back([&] {
        auto stub = v1::WorkerGateway::NewStub(channel);
        v1::RegisterWorkerRequest reg;
        reg.mutable_info()->set_backend("cpu");
        v1::RegisterWorkerResponse who;
        grpc::ClientContext rctx;
        if (!stub->RegisterWorker(&rctx, reg, &who).ok()) return;
        for (;;) {
          v1::AcquireJobRequest req;
          req.set_worker_id(who.worker_id());
          v1::AcquireJobResponse job;
          grpc::ClientContext actx;
          if (!stub->AcquireJob(&actx, req, &job).ok() || !job.has_job()) return;
          v1::CompleteJobRequest done_req;
          done_req.set_worker_id(who.worker_id());
          done_req.set_job_id(job.job().id());
          done_req.set_attempt(job.job().attempt());
          done_req.mutable_result()->mutable_metrics()->set_perplexity(1);
          v1::CompleteJobResponse resp;
          grpc::ClientContext cctx;
          if (stub->CompleteJob(&cctx, done_req, &resp).ok()) ++done;
        }
      });
    }
    for (std::thread& t : threads) t.join();
  }
  state.counters["jobs_per_s"] = benchmark::Counter(double(done), benchmark::Counter::kIsRate);
  fs::remove_all(dir);
}
BENCHMARK(BM_GrpcAcquireComplete)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(2)
    ->UseRealTime();

}  // namespace
}  // namespace squeeze

BENCHMARK_MAIN();
