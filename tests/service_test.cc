// Black-box tests of the service: squeeze-coordinator and squeeze-worker as real processes
// on loopback, driven by the squeeze CLI, checked against the coordinator's SQLite file, its
// HTTP port and a real Prometheus server.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "tests/cluster.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <future>

namespace squeeze::testing {
namespace {

using std::chrono::seconds;

// Measuring settings that keep each job well under a second on the tiny model.
constexpr char kQuick[] = R"(
eval: {text: text.txt, context: 64, max_tokens: 300}
latency: {prompt: 8, generate: 4, repeats: 1, warmup: 0, threads: 1}
)";

// grpc.health.v1.Health/Check for the whole server, without a token, through a generic stub
// (the request is an empty message). Returns the gRPC code and the response's status field.
std::pair<grpc::StatusCode, int> HealthCheck(const std::string& address) {
  grpc::GenericStub stub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::ByteBuffer request, response;
  grpc::Slice empty("");
  request = grpc::ByteBuffer(&empty, 1);
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) { done.set_value(s); });
  const grpc::Status s = done.get_future().get();
  std::vector<grpc::Slice> slices;
  int serving = -1;
  if (s.ok() && response.Dump(&slices).ok() && !slices.empty() && slices[0].size() == 2) {
    serving = slices[0].begin()[1];  // field 1 (varint): 1 = SERVING
  }
  return {s.error_code(), serving};
}

int64_t SweepIdOf(const CmdResult& r) {
  return std::atoll(r.out.c_str());  // submit prints the id alone on stdout
}

TEST(ServiceTest, TwoWorkersRunASweepAndTheResultsAgreeEverywhere) {
  Cluster c("svc-e2e");
  std::string why;
  ASSERT_TRUE(c.StartCoordinator({"--lease-seconds", "10"}, false, &why)) << why;
  c.StartWorker("a");
  c.StartWorker("b");
  const std::string sweep = c.WriteSweep("e2e", std::string(kQuick) + R"(
configs:
  - precision: {format: [f16, bf16]}
  - rtn: {bits: [8, 4], group: 32}
  - nf4
  - kv_cache: {format: int8}
)");
  const CmdResult submitted = c.Squeeze("submit " + sweep + " --watch", /*separate_stderr=*/true);
  ASSERT_EQ(submitted.code, 0) << submitted.out << submitted.err;
  const int64_t id = SweepIdOf(submitted);
  ASSERT_GT(id, 0) << submitted.out;
  EXPECT_NE(submitted.err.find("7/7 done"), std::string::npos) << submitted.err;
  EXPECT_NE(submitted.err.find("(completed)"), std::string::npos) << submitted.err;

  // squeeze results (JSON) against the rows in SQLite: same jobs, same numbers.
  const CmdResult json = c.Squeeze("results " + std::to_string(id) + " --format json", true);
  ASSERT_EQ(json.code, 0) << json.err;
  const nlohmann::json results = nlohmann::json::parse(json.out);
  const auto rows = c.Query(
      "SELECT job_id, bits_per_weight, size_bytes, perplexity, kld_mean, top1_agreement, "
      "decode_ms_per_token, prefill_tokens_per_s, worker_id, baseline_from_cache FROM results "
      "WHERE sweep_id = " +
      std::to_string(id) + " ORDER BY job_id");
  ASSERT_EQ(rows.size(), 7u);
  ASSERT_EQ(results.size(), 7u);
  const char* names[] = {
      "bits_per_weight", "size_bytes",          "perplexity",          "kld_mean",
      "top1_agreement",  "decode_ms_per_token", "prefill_tokens_per_s"};
  std::map<std::string, int> computed_baselines;  // per worker
  std::set<std::string> workers;
  for (const auto& row : rows) {
    const nlohmann::json* r = nullptr;
    for (const auto& x : results)
      if (std::to_string(x["job_id"].get<int64_t>()) == row[0]) r = &x;
    ASSERT_NE(r, nullptr) << "job " << row[0] << " missing from squeeze results";
    for (int k = 0; k < 7; ++k) {
      ASSERT_TRUE((*r)["metrics"].contains(names[k])) << names[k];
      EXPECT_DOUBLE_EQ((*r)["metrics"][names[k]].get<double>(), std::stod(row[1 + k]))
          << names[k] << " of job " << row[0];
    }
    workers.insert(row[8]);
    if (row[9] == "0") ++computed_baselines[row[8]];
  }
  // Each worker computed the baseline's log-probabilities once, then reused them.
  for (const std::string& w : workers) EXPECT_EQ(computed_baselines[w], 1) << w;
  // The baseline (index 0) against itself; the others against it.
  EXPECT_EQ(results[0]["config"], "baseline");
  EXPECT_EQ(results[0]["metrics"]["kld_mean"].get<double>(), 0.0);
  EXPECT_EQ(results[0]["metrics"]["top1_agreement"].get<double>(), 1.0);
  EXPECT_EQ(results[0]["metrics"]["bits_per_weight"].get<double>(), 32.0);
  EXPECT_GT(results[4]["metrics"]["kld_mean"].get<double>(), 0.0);  // rtn 4-bit

  // The stored report is the record of `squeeze eval --json`.
  const auto report = c.Query("SELECT report_json FROM results WHERE job_id = " +
                              std::to_string(results[1]["job_id"].get<int64_t>()));
  const nlohmann::json rep = nlohmann::json::parse(report[0][0]);
  EXPECT_EQ(rep["size"]["bits_per_weight"].get<double>(),
            results[1]["metrics"]["bits_per_weight"].get<double>());
  EXPECT_EQ(rep["techniques"][0].get<std::string>().rfind("precision:format=f16", 0), 0u);

  // Table, CSV and the Pareto front.
  const CmdResult csv = c.Squeeze("results " + std::to_string(id) + " --format csv", true);
  EXPECT_EQ(std::count(csv.out.begin(), csv.out.end(), '\n'), 8) << csv.out;
  const CmdResult pareto =
      c.Squeeze("results " + std::to_string(id) + " --pareto kld_mean,bits_per_weight", true);
  ASSERT_EQ(pareto.code, 0) << pareto.err;
  EXPECT_NE(pareto.out.find("baseline"), std::string::npos) << pareto.out;  // least KLD
  EXPECT_NE(pareto.err.find("Pareto front over kld_mean (min), bits_per_weight (min)"),
            std::string::npos)
      << pareto.err;

  // The HTTP port: JSON API and metrics agree.
  const HttpResponse api =
      HttpRequest(c.http_port(), "/api/sweeps/" + std::to_string(id) + "/results");
  ASSERT_EQ(api.status, 200) << api.body;
  EXPECT_EQ(nlohmann::json::parse(api.body)["results"].size(), 7u);
  const HttpResponse metrics = HttpRequest(c.http_port(), "/metrics");
  EXPECT_EQ(MetricSample(metrics.body, "squeeze_jobs_total{state=\"done\"}"), 7) << metrics.body;
  EXPECT_EQ(MetricSample(metrics.body, "squeeze_sweeps_total{state=\"completed\"}"), 1);
  EXPECT_EQ(MetricSample(metrics.body, "squeeze_jobs_queued"), 0);
  EXPECT_EQ(
      MetricSample(metrics.body, "squeeze_grpc_requests_total{code=\"OK\",method=\"CreateSweep\"}"),
      1);
  EXPECT_EQ(
      MetricSample(metrics.body, "squeeze_grpc_requests_total{code=\"OK\",method=\"CompleteJob\"}"),
      7);
  EXPECT_EQ(
      MetricSample(metrics.body, "squeeze_job_duration_seconds_count{technique=\"precision\"}"), 2);

  // SIGTERM: a clean exit; restarted on the same file, the sweep is still there.
  c.coordinator().Signal(SIGTERM);
  EXPECT_EQ(c.coordinator().Wait(seconds(20)), std::optional<int>(0)) << c.coordinator().Log();
  ASSERT_TRUE(c.StartCoordinator({}, /*same_ports=*/false, &why)) << why;
  const CmdResult status = c.Squeeze("status " + std::to_string(id));
  EXPECT_EQ(status.code, 0) << status.out;
  EXPECT_NE(status.out.find("(completed)"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("7 done"), std::string::npos) << status.out;
  const CmdResult again = c.Squeeze("results " + std::to_string(id) + " --format json", true);
  EXPECT_EQ(nlohmann::json::parse(again.out), results);
}

// A distill configuration reports one measured row per checkpoint: the job's own row (the
// final student, step 30) and one row for each earlier checkpoint, in results, CSV and the
// stored report alike.
TEST(ServiceTest, DistillCheckpointsAreRowsOfTheSweep) {
  Cluster c("svc-distill");
  std::string why;
  ASSERT_TRUE(c.StartCoordinator({}, false, &why)) << why;
  c.StartWorker("a");
  const std::string sweep = c.WriteSweep("distill", std::string(kQuick) + R"(
configs:
  - distill: {layers: 1, steps: 30, checkpoints: 10/20, batch: 2, seq: 32, samples: 8}
)");
  const CmdResult submitted = c.Squeeze("submit " + sweep + " --watch", true);
  ASSERT_EQ(submitted.code, 0) << submitted.out << submitted.err;
  const int64_t id = SweepIdOf(submitted);
  const CmdResult json = c.Squeeze("results " + std::to_string(id) + " --format json", true);
  ASSERT_EQ(json.code, 0) << json.err;
  const nlohmann::json results = nlohmann::json::parse(json.out);
  ASSERT_EQ(results.size(), 4u) << results.dump(1);
  EXPECT_EQ(results[0]["config"], "baseline");
  const std::string config = results[1]["config"];
  EXPECT_EQ(config.rfind("distill:", 0), 0u) << config;
  EXPECT_FALSE(results[1].contains("checkpoint_step"));
  for (int k : {2, 3}) {
    const int step = k == 2 ? 10 : 20;
    EXPECT_EQ(results[k]["checkpoint_step"].get<int64_t>(), step);
    EXPECT_EQ(results[k]["config"], config + " @ step " + std::to_string(step));
    EXPECT_EQ(results[k]["job_id"], results[1]["job_id"]);
    // Measured: half the layers of the teacher, its accuracy against the same baseline.
    EXPECT_LT(results[k]["metrics"]["size_bytes"].get<double>(),
              results[0]["metrics"]["size_bytes"].get<double>());
    EXPECT_GT(results[k]["metrics"]["kld_mean"].get<double>(), 0.0);
    EXPECT_GT(results[k]["metrics"]["decode_ms_per_token"].get<double>(), 0.0);
  }
  const auto stored =
      c.Query("SELECT step FROM checkpoint_results WHERE sweep_id = " + std::to_string(id) +
              " ORDER BY step");
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored[1][0], "20");
  const CmdResult csv = c.Squeeze("results " + std::to_string(id) + " --format csv", true);
  EXPECT_EQ(std::count(csv.out.begin(), csv.out.end(), '\n'), 5) << csv.out;
}

// One process for a one-machine setup (the demo): the coordinator's own CPU workers take the
// jobs through the same gRPC API, and SIGTERM still stops it cleanly.
TEST(ServiceTest, LocalWorkersRunJobsInsideTheCoordinator) {
  Cluster c("svc-local");
  std::string why;
  ASSERT_TRUE(c.StartCoordinator({"--local-workers", "1"}, false, &why)) << why;
  const std::string sweep = c.WriteSweep("local", std::string(kQuick) + "configs: [nf4]\n");
  const CmdResult submitted = c.Squeeze("submit " + sweep + " --watch", true);
  ASSERT_EQ(submitted.code, 0) << submitted.out << submitted.err << c.coordinator().Log();
  EXPECT_NE(submitted.err.find("2/2 done"), std::string::npos) << submitted.err;
  const auto workers = c.Query("SELECT name, backend FROM workers");
  ASSERT_EQ(workers.size(), 1u);
  EXPECT_EQ(workers[0][0], "local-0");
  EXPECT_EQ(workers[0][1], "cpu");
  c.coordinator().Signal(SIGTERM);
  EXPECT_EQ(c.coordinator().Wait(seconds(20)), std::optional<int>(0)) << c.coordinator().Log();
}

TEST(ServiceTest, PrometheusScrapesTheCoordinator) {
  const std::string prometheus = "/usr/bin/prometheus";
  if (!std::filesystem::exists(prometheus)) {
    GTEST_SKIP() << prometheus << " not found (Debian package prometheus)";
  }
  Cluster c("svc-prometheus");
  std::string why;
  ASSERT_TRUE(c.StartCoordinator({}, false, &why)) << why;
  const std::string sweep = c.WriteSweep("p", std::string(kQuick) + "configs: [nf4]\n");
  const CmdResult submitted = c.Squeeze("submit " + sweep, true);  // 2 jobs, no worker
  ASSERT_EQ(submitted.code, 0) << submitted.err;
  const int port = FreePort();
  std::ofstream(c.dir() + "/prometheus.yml")
      << "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
      << "scrape_configs:\n  - job_name: squeeze\n    static_configs:\n"
      << "      - targets: ['127.0.0.1:" << c.http_port() << "']\n";
  Child server({prometheus, "--config.file=" + c.dir() + "/prometheus.yml",
                "--web.listen-address=127.0.0.1:" + std::to_string(port),
                "--storage.tsdb.path=" + c.dir() + "/tsdb"},
               c.dir() + "/prometheus.log");
  nlohmann::json answer;
  const bool got = WaitFor(
      [&] {
        const HttpResponse r =
            HttpRequest(port, "/api/v1/query?query=squeeze_jobs_total%7Bstate%3D%22queued%22%7D");
        if (r.status != 200) return false;
        answer = nlohmann::json::parse(r.body, nullptr, false);
        return answer.is_object() && !answer["data"]["result"].empty();
      },
      seconds(60));
  ASSERT_TRUE(got) << server.Log();
  const auto& sample = answer["data"]["result"][0];
  EXPECT_EQ(sample["metric"]["__name__"], "squeeze_jobs_total");
  EXPECT_EQ(sample["metric"]["state"], "queued");
  EXPECT_EQ(sample["value"][1], "2");  // the baseline and nf4, queued
}

TEST(ServiceTest, AWorkerKilledMidJobLosesItsLeaseAndAnotherFinishesTheJob) {
  Cluster c("svc-kill-worker", /*dim=*/256, /*hidden=*/512, /*layers=*/4);
  std::string why;
  ASSERT_TRUE(c.StartCoordinator({"--lease-seconds", "1.5"}, false, &why)) << why;
  // Long enough jobs (a few seconds of latency runs) to be caught in the middle.
  const std::string sweep = c.WriteSweep("kill", R"(
eval: {text: text.txt, context: 64, max_tokens: 200}
latency: {prompt: 16, generate: 64, repeats: 60, warmup: 0, threads: 1}
configs: [{precision: {format: f16}}]
)");
  const size_t a = c.StartWorker("a");
  const CmdResult submitted = c.Squeeze("submit " + sweep, true);
  ASSERT_EQ(submitted.code, 0) << submitted.err;
  const int64_t id = SweepIdOf(submitted);
  std::string job, victim;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto rows = c.Query("SELECT id, worker_id FROM jobs WHERE state = 2 AND sweep_id = " +
                            std::to_string(id));
        if (rows.empty()) return false;
        job = rows[0][0];
        victim = rows[0][1];
        return true;
      },
      seconds(30)));
  c.workers()[a]->Signal(SIGKILL);
  c.workers()[a]->Wait(seconds(10));
  c.StartWorker("b");
  ASSERT_TRUE(c.WaitForSweepEnd(id, seconds(120))) << c.workers().back()->Log();
  const auto jobs = c.Query("SELECT state, attempt FROM jobs WHERE id = " + job);
  EXPECT_EQ(jobs[0][0], "3");  // done
  EXPECT_EQ(jobs[0][1], "2");  // on the second lease
  const auto result = c.Query("SELECT worker_id, attempt FROM results WHERE job_id = " + job);
  ASSERT_EQ(result.size(), 1u);
  EXPECT_NE(result[0][0], victim);
  EXPECT_EQ(result[0][1], "2");
  EXPECT_EQ(c.Query("SELECT count(*) FROM results WHERE sweep_id = " + std::to_string(id))[0][0],
            "2");
}

TEST(ServiceTest, ACoordinatorKilledMidSweepRestartsAndLosesNothing) {
  Cluster c("svc-kill-coordinator", /*dim=*/128, /*hidden=*/256, /*layers=*/2);
  std::string why;
  ASSERT_TRUE(c.StartCoordinator({"--lease-seconds", "5"}, false, &why)) << why;
  c.StartWorker("a");
  c.StartWorker("b");
  const std::string sweep = c.WriteSweep("restart", R"(
eval: {text: text.txt, context: 64, max_tokens: 300}
latency: {prompt: 16, generate: 32, repeats: 60, warmup: 0, threads: 1}
configs:
  - precision: {format: [f16, bf16, fp8_e4m3, fp8_e5m2]}
  - rtn: {bits: [8, 4], group: 32}
  - nf4
)");
  const CmdResult submitted = c.Squeeze("submit " + sweep, true);
  ASSERT_EQ(submitted.code, 0) << submitted.err;
  const int64_t id = SweepIdOf(submitted);
  const std::string where = " WHERE sweep_id = " + std::to_string(id);
  ASSERT_TRUE(WaitFor([&] { return c.Query("SELECT job_id FROM results" + where).size() >= 2; },
                      seconds(60)));
  c.coordinator().Signal(SIGKILL);
  c.coordinator().Wait(seconds(10));
  const auto before = c.Query("SELECT job_id, attempt, report_json FROM results" + where);
  ASSERT_LT(before.size(), 8u) << "the sweep ended before the coordinator was killed";
  // Restart on the same file and ports; the workers reconnect by themselves.
  bool up = false;
  for (int i = 0; i < 20 && !up; ++i) {
    up = c.StartCoordinator({"--lease-seconds", "5"}, /*same_ports=*/true, &why);
    if (!up) usleep(250000);
  }
  ASSERT_TRUE(up) << why;
  ASSERT_TRUE(c.WaitForSweepEnd(id, seconds(120)));
  const auto after = c.Query("SELECT job_id, attempt, report_json FROM results" + where);
  EXPECT_EQ(after.size(), 8u);
  for (const auto& row : before) {  // nothing stored before the kill changed
    EXPECT_NE(std::find(after.begin(), after.end(), row), after.end()) << "job " << row[0];
  }
  EXPECT_EQ(c.Query("SELECT count(*) FROM jobs WHERE state = 3 AND" + where.substr(6))[0][0], "8");
  EXPECT_EQ(c.Query("SELECT count(DISTINCT job_id) FROM results" + where)[0][0], "8");
  const CmdResult results = c.Squeeze("results " + std::to_string(id) + " --format json", true);
  EXPECT_EQ(nlohmann::json::parse(results.out).size(), 8u);
}

TEST(ServiceTest, BadInputGetsClearErrorsAndTheServiceKeepsServing) {
  Cluster c("svc-bad-input");
  c.set_token("s3cret-token");
  std::string why;
  ASSERT_TRUE(c.StartCoordinator({"--token", "s3cret-token"}, false, &why)) << why;
  const size_t w = c.StartWorker("a");
  struct Case {
    std::string name, body, want;
  };
  std::ofstream(c.dir() + "/malformed.yaml") << "model: m\nconfigs: [rtn: {bits: 4}\n";
  const std::vector<Case> cases = {
      {"unknown", std::string(kQuick) + "configs: [frobnicate]\n",
       "configs[0]: unknown technique \"frobnicate\""},
      {"bits", std::string(kQuick) + "configs: [{rtn: {bits: [4, 5]}}]\n",
       "configs[0].rtn.bits: 5 is not one of 2, 3, 4, 8"},
  };
  const CmdResult malformed = c.Squeeze("submit " + c.dir() + "/malformed.yaml");
  EXPECT_EQ(malformed.code, 2) << malformed.out;
  EXPECT_NE(malformed.out.find(c.dir() + "/malformed.yaml:"), std::string::npos) << malformed.out;
  EXPECT_NE(malformed.out.find("malformed YAML"), std::string::npos) << malformed.out;
  for (const Case& k : cases) {
    const CmdResult r = c.Squeeze("submit " + c.WriteSweep(k.name, k.body));
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_NE(r.out.find(k.want), std::string::npos) << r.out;
  }
  for (const auto& [model, want] : std::vector<std::pair<std::string, std::string>>{
           {"nope.bin", "model: nope.bin: no such file or directory"},
           {"../../etc", "model: ../../etc is outside the data root"}}) {
    const std::string path = c.dir() + "/path.yaml";
    std::ofstream(path) << "model: " << model << "\nlatency: {repeats: 1}\n";
    const CmdResult r = c.Squeeze("submit " + path);
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_NE(r.out.find(want), std::string::npos) << r.out;
  }
  // Tokens: missing or wrong is refused (gRPC and HTTP); /metrics and /healthz stay open.
  const std::string good = c.WriteSweep("good", std::string(kQuick) + "configs: [nf4]\n");
  for (const std::string& token : {std::string("wrong"), std::string()}) {
    const std::string flag = token.empty() ? "" : " --token " + token;
    const CmdResult r = RunCommand(
        std::string(SQUEEZE_BIN) + " submit " + good + " --coordinator " + c.address() + flag,
        false);
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_NE(r.out.find("check the token"), std::string::npos) << r.out;
  }
  EXPECT_EQ(HttpRequest(c.http_port(), "/api/sweeps").status, 401);
  EXPECT_EQ(HttpRequest(c.http_port(), "/api/sweeps", {"Authorization: Bearer wrong"}).status, 401);
  EXPECT_EQ(
      HttpRequest(c.http_port(), "/api/sweeps", {"Authorization: Bearer s3cret-token"}).status,
      200);
  EXPECT_EQ(HttpRequest(c.http_port(), "/metrics").status, 200);
  EXPECT_EQ(HttpRequest(c.http_port(), "/healthz").status, 200);
  EXPECT_EQ(HealthCheck(c.address()), std::make_pair(grpc::StatusCode::OK, 1));
  const std::string m = HttpRequest(c.http_port(), "/metrics").body;
  EXPECT_EQ(MetricSample(
                m, "squeeze_grpc_requests_total{code=\"INVALID_ARGUMENT\",method=\"CreateSweep\"}"),
            4)
      << m;  // unknown technique, bits 5, missing model, outside the root
  EXPECT_EQ(MetricSample(
                m, "squeeze_grpc_requests_total{code=\"UNAUTHENTICATED\",method=\"CreateSweep\"}"),
            2)
      << m;  // wrong and missing token
  // CORS is closed: no preflight, no Access-Control-Allow-Origin.
  EXPECT_EQ(
      HttpRequest(c.http_port(), "/api/sweeps", {"Origin: http://evil.example"}, "OPTIONS").status,
      403);
  const HttpResponse cross =
      HttpRequest(c.http_port(), "/api/sweeps",
                  {"Origin: http://evil.example", "Authorization: Bearer s3cret-token"});
  EXPECT_EQ(cross.headers.find("Access-Control-Allow-Origin"), std::string::npos) << cross.headers;

  // A truncated model passes submission (the file exists) and fails its jobs with an error
  // that names the file; the worker survives and the next sweep completes.
  std::filesystem::create_directories(c.root() + "/trunc");
  std::filesystem::copy(c.root() + "/m/config.json", c.root() + "/trunc/config.json");
  const std::string st = c.root() + "/m/model.safetensors";
  std::filesystem::copy(st, c.root() + "/trunc/model.safetensors");
  std::filesystem::resize_file(c.root() + "/trunc/model.safetensors",
                               std::filesystem::file_size(st) / 2);
  const std::string trunc_path = c.dir() + "/trunc.yaml";
  std::ofstream(trunc_path) << "model: trunc\ntokenizer: tok.bin\n" << kQuick << "configs: [nf4]\n";
  const CmdResult failed = c.Squeeze("submit " + trunc_path + " --watch", true);
  EXPECT_EQ(failed.code, 1) << failed.out << failed.err;  // the sweep ended with failed jobs
  EXPECT_NE(failed.err.find("trunc/model.safetensors"), std::string::npos) << failed.err;
  const int64_t bad_id = std::atoll(failed.out.c_str());
  const CmdResult status = c.Squeeze("status " + std::to_string(bad_id));
  EXPECT_NE(status.out.find("2 failed"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("model.safetensors"), std::string::npos) << status.out;

  const CmdResult ok = c.Squeeze("submit " + good + " --watch", true);
  EXPECT_EQ(ok.code, 0) << ok.out << ok.err;
  EXPECT_TRUE(c.workers()[w]->Running());
  EXPECT_TRUE(c.coordinator().Running());
  EXPECT_EQ(c.Squeeze("status 424242").code, 2);  // unknown sweep: bad input
}

TEST(ServiceTest, WithoutATokenTheCoordinatorStaysOnLoopback) {
  Cluster c("svc-loopback");
  Child refused({SQUEEZE_COORDINATOR_BIN, "--db", c.db(), "--data-root", c.root(), "--listen",
                 "0.0.0.0:0", "--http", ""},
                c.dir() + "/refused.log");
  EXPECT_EQ(refused.Wait(seconds(20)), std::optional<int>(2));
  EXPECT_NE(refused.Log().find("refusing to listen on 0.0.0.0:0 without a token"),
            std::string::npos)
      << refused.Log();
  std::string why;
  EXPECT_TRUE(c.StartCoordinator({"--listen", "0.0.0.0:0", "--allow-remote"}, false, &why)) << why;
}

}  // namespace
}  // namespace squeeze::testing

namespace squeeze::testing {
namespace {

TEST(ServiceTest, GrpcOverTlsWithCertificateAndKeyFlags) {
  if (RunCommand("command -v openssl").code != 0) GTEST_SKIP() << "openssl not found";
  Cluster c("svc-tls");
  const std::string cert = c.dir() + "/cert.pem", key = c.dir() + "/key.pem";
  const CmdResult made = RunCommand(
      "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost -addext "
      "subjectAltName=IP:127.0.0.1,DNS:localhost -keyout " +
      key + " -out " + cert);
  ASSERT_EQ(made.code, 0) << made.out;
  std::string why;
  ASSERT_TRUE(c.StartCoordinator({"--tls-cert", cert, "--tls-key", key}, false, &why)) << why;
  c.StartWorker("tls", {"--tls-ca", cert});
  const std::string sweep = c.WriteSweep("tls", std::string(kQuick) + "configs: [nf4]\n");
  const CmdResult ok = c.Squeeze("submit " + sweep + " --watch --tls-ca " + cert, true);
  EXPECT_EQ(ok.code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.err.find("2/2 done"), std::string::npos) << ok.err;
  const CmdResult plain = c.Squeeze("list --timeout 3");  // no TLS: no connection
  EXPECT_EQ(plain.code, 1) << plain.out;
  EXPECT_NE(plain.out.find("unavailable"), std::string::npos) << plain.out;
}

}  // namespace
}  // namespace squeeze::testing
