// Every Prometheus metric of the coordinator, declared in one place (metrics.cc) on one
// registry. State labels are the names of service/sweep/states.h. Prefix squeeze_, base units in
// names, low-cardinality labels only: states, backends, technique names and RPC methods; never
// sweep ids or configuration strings. Thread-safe. prometheus-cpp stays out of this header.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "squeeze/v1/sweep.pb.h"

namespace squeeze {

class ServiceMetrics {
 public:
  ServiceMetrics();
  ~ServiceMetrics();
  ServiceMetrics(const ServiceMetrics&) = delete;
  ServiceMetrics& operator=(const ServiceMetrics&) = delete;

  // squeeze_sweeps_total{state}: sweeps that entered each state (queued = created).
  void SweepEntered(v1::SweepState state);
  // squeeze_jobs_total{state}: job transitions into each state (queued counts creations and
  // requeues after an expired lease or a retried failure).
  void JobsEntered(v1::JobState state, int64_t n = 1);
  // squeeze_jobs_queued: jobs waiting for a worker now.
  void SetJobsQueued(int64_t n);
  // squeeze_job_duration_seconds{technique}: lease to completion of done jobs.
  void ObserveJobDuration(const std::string& technique, double seconds);
  // squeeze_workers{backend,state}: workers by backend and state (idle, busy, lost).
  void SetWorkers(const std::string& backend, const std::string& state, int64_t n);
  // squeeze_grpc_requests_total{method,code}: handled gRPC calls by method and status code.
  void CountGrpcRequest(const std::string& method, const std::string& code);

  // The text exposition format (what /metrics serves).
  std::string Serialize() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace squeeze
