// squeeze-coordinator: serves sweeps over gRPC, hands jobs to workers, stores results in
// SQLite, and exposes /metrics and a JSON API over HTTP. SIGTERM or SIGINT stops it
// gracefully (exit 0).
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "service/coordinator/coordinator.h"
#include "util/mapped_file.h"

int main(int argc, char** argv) {
  squeeze::CoordinatorOptions o;
  std::string ports_file;
  double lease_s = 30;
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
  app.add_option("--ports-file", ports_file,
                 "write {\"grpc\": PORT, \"http\": PORT} here once listening");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  o.lease_ms = int64_t(lease_s * 1000);

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
  int sig = 0;
  sigwait(&signals, &sig);
  std::fprintf(stderr, "squeeze-coordinator: %s: stopping\n",
               sig == SIGTERM ? "SIGTERM" : "SIGINT");
  (*c)->Shutdown();
  std::fprintf(stderr, "squeeze-coordinator: stopped\n");
  return 0;
}
