// The coordinator's one HTTP port (civetweb): /metrics (Prometheus text format), /healthz,
// and a read-only JSON API for dashboards:
//   GET /api/sweeps                          recent sweeps
//   GET /api/sweeps/ID                       one sweep (with its spec and errors)
//   GET /api/sweeps/ID/jobs                  its jobs
//   GET /api/sweeps/ID/results               its results (?report=1 adds the full records)
//   GET /api/sweeps/ID/pareto?objectives=M[:min|max],...   the non-dominated results
//   GET /api/techniques                      every technique's name, family and summary
//   GET /api/auth                            {"token_required", "token_ok"}: never refused
// and, when web_root is set, the dashboard's static files at every other path (/ is
// web_root/index.html; see static_files.h).
// JSON is the protobuf JSON mapping of the gRPC responses (field names as in the .proto;
// 64-bit integers as strings). With a token, /api needs "Authorization: Bearer TOKEN";
// /metrics and /healthz never do. CORS is closed unless cors_origin names the one origin
// allowed to read the API from a browser.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "service/metrics/metrics.h"
#include "service/scheduler/scheduler.h"

namespace squeeze {

struct HttpOptions {
  std::string listen = "127.0.0.1:8080";  // host:port; port 0 picks a free one
  std::string token;                      // empty: no authentication
  std::string cors_origin;                // empty: no cross-origin access
  std::string web_root;                   // the built dashboard (web/dist); empty: none
  int threads = 4;
};

class HttpServer {
 public:
  // Starts serving. Errors name the address (e.g. a port already in use).
  static absl::StatusOr<std::unique_ptr<HttpServer>> Create(const HttpOptions& options,
                                                            Scheduler* scheduler,
                                                            ServiceMetrics* metrics);
  ~HttpServer();  // stops serving (waits for requests in progress)

  int port() const { return port_; }

 private:
  struct Impl;
  HttpServer() = default;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace squeeze
