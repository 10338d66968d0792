// squeeze-coordinator assembled: the scheduler on its SQLite file, the gRPC services
// (Coordinator, WorkerGateway, health, reflection) and the HTTP port (/metrics, /api).
// main.cc parses flags into CoordinatorOptions; tests and benchmarks embed it directly.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace squeeze {

struct CoordinatorOptions {
  std::string grpc_listen = "127.0.0.1:50051";  // port 0: a free port (see grpc_port())
  std::string http_listen = "127.0.0.1:8080";   // empty: no HTTP port
  std::string db_path = "squeeze.db";
  std::string data_root = ".";  // sweep paths must resolve inside it
  // With a token, every call of the Coordinator and WorkerGateway services, and every HTTP
  // request but /metrics and /healthz, must carry it ("authorization: Bearer TOKEN"). The
  // gRPC health service stays open; reflection is then off unless reflection_with_token.
  std::string token;
  bool reflection_with_token = false;
  bool allow_remote = false;      // without a token, refuse non-loopback addresses unless set
  std::string tls_cert, tls_key;  // PEM files: gRPC over TLS when both are given
  std::string cors_origin;        // the one browser origin allowed to read /api
  std::string web_root;           // the built dashboard served at / (empty: none)
  int64_t lease_ms = 30000;
  int max_attempts = 3;
  int max_configurations = 100000;
  int64_t max_acquire_wait_ms = 30000;
};

class Coordinator {
 public:
  // Opens (and migrates) the database, recovers its sweeps, and starts serving. Errors:
  // unusable options (naming the flag), an unreadable database, a port in use.
  static absl::StatusOr<std::unique_ptr<Coordinator>> Create(const CoordinatorOptions& options);
  ~Coordinator();  // Shutdown()

  int grpc_port() const;
  int http_port() const;  // 0 without HTTP

  // Graceful stop: refuses new work, wakes long polls and watchers, lets calls in progress
  // finish (up to 5 s), stops HTTP and closes the database. Idempotent.
  void Shutdown();

 private:
  struct Impl;
  Coordinator() = default;
  std::unique_ptr<Impl> impl_;
};

// True for 127.0.0.1, ::1 and localhost addresses ("127.0.0.1:50051", "[::1]:0", ...).
bool IsLoopbackAddress(const std::string& host_port);

}  // namespace squeeze
