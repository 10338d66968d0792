// squeeze-worker's loop: registers its capabilities with the coordinator, pulls one job at a
// time (long poll), renews the lease with heartbeats while the job runs, and reports the
// result or the error. A failing job never stops the worker; an unreachable coordinator is
// retried until it is back (the worker registers again when the coordinator forgot it).
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace squeeze {

struct WorkerOptions {
  std::string coordinator = "127.0.0.1:50051";
  std::string token;
  bool tls = false;
  std::string tls_ca;
  std::string name;       // default: the host name
  std::string data_root;  // the coordinator's data root as seen from this machine
  std::string backend = "cpu";
  int64_t acquire_wait_ms = 10000;
  int max_jobs = 0;  // stop after this many jobs (0: never)
  bool quiet = false;
};

class Worker {
 public:
  static absl::StatusOr<std::unique_ptr<Worker>> Create(const WorkerOptions& options);
  ~Worker();

  // Runs until `stop` becomes true (checked at least every acquire_wait_ms) or max_jobs
  // jobs were handled. Returns an error only for what retrying cannot fix: a rejected token
  // or a backend the coordinator refuses.
  absl::Status Run(const std::atomic<bool>& stop);

 private:
  struct Impl;
  Worker() = default;
  std::unique_ptr<Impl> impl_;
};

}  // namespace squeeze
