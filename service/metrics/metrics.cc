// The coordinator's metric families (see metrics.h).
#include "service/metrics/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "service/sweep/states.h"

namespace squeeze {
namespace {

constexpr char kState[] = "state";
constexpr char kTechnique[] = "technique";
constexpr char kBackend[] = "backend";
constexpr char kMethod[] = "method";
constexpr char kCode[] = "code";

}  // namespace

struct ServiceMetrics::Impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  prometheus::Family<prometheus::Counter>& sweeps =
      prometheus::BuildCounter()
          .Name("squeeze_sweeps_total")
          .Help("Sweeps that entered each state (queued: created)")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& jobs =
      prometheus::BuildCounter()
          .Name("squeeze_jobs_total")
          .Help("Job transitions into each state (queued: created or put back in the queue)")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& queued = prometheus::BuildGauge()
                                                      .Name("squeeze_jobs_queued")
                                                      .Help("Jobs waiting for a worker")
                                                      .Register(*registry);
  prometheus::Family<prometheus::Histogram>& duration =
      prometheus::BuildHistogram()
          .Name("squeeze_job_duration_seconds")
          .Help(
              "Seconds from lease to completion of done jobs, by technique (baseline, a "
              "technique name, or pipeline)")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& workers =
      prometheus::BuildGauge()
          .Name("squeeze_workers")
          .Help("Registered workers by backend and state (idle, busy, lost)")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& requests =
      prometheus::BuildCounter()
          .Name("squeeze_grpc_requests_total")
          .Help("gRPC calls handled, by method and status code")
          .Register(*registry);
  prometheus::Gauge& queued_gauge = queued.Add({});
};

ServiceMetrics::ServiceMetrics() : impl_(std::make_unique<Impl>()) {
  // Every state exists from the start (at 0), so queries see the series before any event.
  for (v1::SweepState s : {v1::SWEEP_STATE_QUEUED, v1::SWEEP_STATE_RUNNING,
                           v1::SWEEP_STATE_COMPLETED, v1::SWEEP_STATE_CANCELLED}) {
    impl_->sweeps.Add({{kState, sweep::SweepStateName(s)}});
  }
  for (v1::JobState s : {v1::JOB_STATE_QUEUED, v1::JOB_STATE_RUNNING, v1::JOB_STATE_DONE,
                         v1::JOB_STATE_FAILED, v1::JOB_STATE_CANCELLED}) {
    impl_->jobs.Add({{kState, sweep::JobStateName(s)}});
  }
}

ServiceMetrics::~ServiceMetrics() = default;

void ServiceMetrics::SweepEntered(v1::SweepState state) {
  impl_->sweeps.Add({{kState, sweep::SweepStateName(state)}}).Increment();
}

void ServiceMetrics::JobsEntered(v1::JobState state, int64_t n) {
  if (n > 0) impl_->jobs.Add({{kState, sweep::JobStateName(state)}}).Increment(double(n));
}

void ServiceMetrics::SetJobsQueued(int64_t n) {
  impl_->queued_gauge.Set(double(n));
}

void ServiceMetrics::ObserveJobDuration(const std::string& technique, double seconds) {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600};
  impl_->duration.Add({{kTechnique, technique}}, kBuckets).Observe(seconds);
}

void ServiceMetrics::SetWorkers(const std::string& backend, const std::string& state, int64_t n) {
  impl_->workers.Add({{kBackend, backend}, {kState, state}}).Set(double(n));
}

void ServiceMetrics::CountGrpcRequest(const std::string& method, const std::string& code) {
  impl_->requests.Add({{kMethod, method}, {kCode, code}}).Increment();
}

std::string ServiceMetrics::Serialize() const {
  return prometheus::TextSerializer().Serialize(impl_->registry->Collect());
}

}  // namespace squeeze
