// squeeze-worker: pulls jobs from a squeeze-coordinator, one at a time, and measures each
// configuration exactly as `squeeze eval --apply ...` does. SIGTERM or SIGINT stops it after
// the job in progress.
#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <cstdio>

#include "daemon/worker.h"

namespace {
std::atomic<bool> g_stop{false};
void OnSignal(int) {
  g_stop = true;
}
}  // namespace

int main(int argc, char** argv) {
  squeeze::WorkerOptions o;
  double wait_s = 10;
  CLI::App app{"squeeze-worker: measures sweep configurations for a squeeze-coordinator"};
  app.add_option("--coordinator", o.coordinator, "coordinator gRPC address")
      ->envname("SQUEEZE_COORDINATOR")
      ->capture_default_str();
  app.add_option("--token", o.token, "the coordinator's token (default: $SQUEEZE_TOKEN)")
      ->envname("SQUEEZE_TOKEN");
  app.add_flag("--tls", o.tls, "connect with TLS (system roots, or --tls-ca)");
  app.add_option("--tls-ca", o.tls_ca, "PEM file of the CA of the coordinator's certificate");
  app.add_option("--data-root", o.data_root,
                 "the coordinator's data root as mounted here (sweep paths are relative to it)")
      ->required();
  app.add_option("--name", o.name, "name shown by the coordinator (default: host name)");
  app.add_option("--backend", o.backend,
                 "cpu, or cuda (refuses to start, naming why, without a usable GPU)")
      ->capture_default_str();
  app.add_option("--poll-seconds", wait_s, "long-poll wait for a job")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 300.0));
  app.add_option("--max-jobs", o.max_jobs, "exit after this many jobs (0: never)")
      ->capture_default_str();
  app.add_flag("-q,--quiet", o.quiet, "no progress messages");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  o.acquire_wait_ms = int64_t(wait_s * 1000);
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  absl::StatusOr<std::unique_ptr<squeeze::Worker>> w = squeeze::Worker::Create(o);
  absl::Status s = w.ok() ? (*w)->Run(g_stop) : w.status();
  if (!s.ok()) {
    std::fprintf(stderr, "squeeze-worker: error: %s\n", std::string(s.message()).c_str());
    return s.code() == absl::StatusCode::kInvalidArgument || s.code() == absl::StatusCode::kNotFound
               ? 2
               : 1;
  }
  return 0;
}
