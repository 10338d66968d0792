// squeeze-coordinator: serves sweeps over gRPC, hands jobs to workers, stores results in
// SQLite, and exposes /metrics and a JSON API over HTTP. SIGTERM or SIGINT stops it
// gracefully (exit 0).
#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "daemon/worker.h"
#include "service/coordinator/coordinator.h"
#include "util/mapped_file.h"

int main(int argc, char** argv) {
  squeeze::CoordinatorOptions o;
  std::string ports_file;
  double lease_s = 30;
  int local_workers = 0;
  CLI::App app{"squeeze-coordinator: sweeps over gRPC, jobs for workers, results in SQLite"};
  app.add_option("--listen", o.grpc_listen, "gRPC address (port 0: a free port)")
      ->capture_default_str();
  app.add_option("--http", o.http_listen,
                 "HTTP address for /metrics, /healthz and /api (empty: none)")
      ->capture_default_str();
  app.add_option("--db", o.db_path, "SQLite database file (created if missing)")
      ->capture_default_str();
  app.add_option("--data-root", o.data_root,
                 "folder that every path of a sweep must lie in (models, texts)")
      ->capture_default_str();
  app.add_option("--token", o.token,
                 "required from every client and worker (default: $SQUEEZE_TOKEN)")
      ->envname("SQUEEZE_TOKEN");
  app.add_flag("--reflection", o.reflection_with_token,
               "serve gRPC reflection even with a token (it cannot check the token; it shows "
               "the API schema only)");
  app.add_flag("--allow-remote", o.allow_remote,
               "listen on non-loopback addresses even without a token");
  app.add_option("--tls-cert", o.tls_cert, "PEM certificate chain: gRPC over TLS");
  app.add_option("--tls-key", o.tls_key, "PEM private key of --tls-cert");
  app.add_option("--cors-origin", o.cors_origin,
                 "the one browser origin allowed to read /api (default: none)");
  o.web_root = SQUEEZE_DEFAULT_WEB_ROOT;
  app.add_option("--web-root", o.web_root,
                 "the built dashboard (npm run build in web/), served at / (empty: none)")
      ->capture_default_str();
  app.add_option("--lease-seconds", lease_s, "job lease without a heartbeat")
      ->capture_default_str()
      ->check(CLI::Range(0.05, 86400.0));
  app.add_option("--max-attempts", o.max_attempts, "leases per job before it fails")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  app.add_option("--local-workers", local_workers,
                 "CPU workers run inside this process (threads that use the gRPC API on "
                 "loopback like any squeeze-worker; for a one-machine setup)")
      ->capture_default_str()
      ->check(CLI::Range(0, 64));
  app.add_option("--ports-file", ports_file,
                 "write {\"grpc\": PORT, \"http\": PORT} here once listening");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  o.lease_ms = int64_t(lease_s * 1000);
  if (local_workers > 0 && !o.tls_cert.empty()) {
    std::fprintf(stderr,
                 "squeeze-coordinator: error: --local-workers: not with --tls-cert (in-process "
                 "workers use plaintext gRPC on loopback; run squeeze-worker instead)\n");
    return 2;
  }

  // Signals are taken by sigwait below; every thread started from here on blocks them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  absl::StatusOr<std::unique_ptr<squeeze::Coordinator>> c = squeeze::Coordinator::Create(o);
  if (!c.ok()) {
    std::fprintf(stderr, "squeeze-coordinator: error: %s\n",
                 std::string(c.status().message()).c_str());
    return c.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  std::fprintf(stderr,
               "squeeze-coordinator: gRPC on port %d, HTTP on port %d, database %s, data root "
               "%s%s\n",
               (*c)->grpc_port(), (*c)->http_port(), o.db_path.c_str(), o.data_root.c_str(),
               o.token.empty() ? "" : ", token required");
  if ((*c)->http_port() != 0 && !o.web_root.empty()) {
    std::error_code ec;
    if (std::filesystem::exists(o.web_root + "/index.html", ec)) {
      std::fprintf(stderr, "squeeze-coordinator: dashboard at http://%s:%d/\n",
                   squeeze::IsLoopbackAddress(o.http_listen) ? "127.0.0.1" : "HOST",
                   (*c)->http_port());
    } else {
      std::fprintf(stderr,
                   "squeeze-coordinator: no dashboard: %s/index.html is missing (build it with "
                   "scripts/build-web.sh)\n",
                   o.web_root.c_str());
    }
  }
  if (!ports_file.empty()) {
    const std::string ports =
        absl::StrCat("{\"grpc\": ", (*c)->grpc_port(), ", \"http\": ", (*c)->http_port(), "}\n");
    if (absl::Status s = squeeze::WriteFileAtomic(ports_file, ports.data(), ports.size());
        !s.ok()) {
      std::fprintf(stderr, "squeeze-coordinator: error: %s\n", std::string(s.message()).c_str());
      return 1;
    }
  }
  // In-process workers: the same loop as squeeze-worker, on threads.
  std::atomic<bool> stop_workers{false};
  std::atomic<int> workers_done{0};
  std::vector<std::thread> workers;
  for (int i = 0; i < local_workers; ++i) {
    squeeze::WorkerOptions w;
    w.coordinator = absl::StrCat("127.0.0.1:", (*c)->grpc_port());
    w.token = o.token;
    w.data_root = o.data_root;
    w.name = absl::StrCat("local-", i);
    w.acquire_wait_ms = 1000;
    w.quiet = true;
    workers.emplace_back([w, &stop_workers, &workers_done] {
      absl::StatusOr<std::unique_ptr<squeeze::Worker>> worker = squeeze::Worker::Create(w);
      absl::Status s = worker.ok() ? (*worker)->Run(stop_workers) : worker.status();
      if (!s.ok()) {
        std::fprintf(stderr, "squeeze-coordinator: %s: %s\n", w.name.c_str(),
                     std::string(s.message()).c_str());
      }
      ++workers_done;
    });
  }
  if (local_workers > 0) {
    std::fprintf(stderr, "squeeze-coordinator: %d CPU worker%s in this process\n", local_workers,
                 local_workers == 1 ? "" : "s");
  }
  int sig = 0;
  sigwait(&signals, &sig);
  std::fprintf(stderr, "squeeze-coordinator: %s: stopping\n",
               sig == SIGTERM ? "SIGTERM" : "SIGINT");
  stop_workers = true;
  (*c)->Shutdown();  // the database is closed; nothing stored is lost
  // Workers stop between jobs; one in the middle of a job is abandoned (its lease runs out and
  // the job is queued again when the coordinator restarts).
  for (int i = 0; i < 50 && workers_done < local_workers; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (workers_done < local_workers) {
    std::fprintf(stderr, "squeeze-coordinator: stopped (a job in progress was abandoned)\n");
    std::_Exit(0);
  }
  for (std::thread& t : workers) t.join();
  std::fprintf(stderr, "squeeze-coordinator: stopped\n");
  return 0;
}
