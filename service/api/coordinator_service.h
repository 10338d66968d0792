// The Coordinator gRPC service: thin handlers that validate requests, call the sweep
// expander and the scheduler, and map errors to gRPC codes.
#pragma once

#include "service/api/rpc.h"
#include "service/metrics/metrics.h"
#include "service/scheduler/scheduler.h"
#include "service/sweep/expand.h"
#include "squeeze/v1/coordinator.grpc.pb.h"

namespace squeeze::api {

class CoordinatorService final : public v1::Coordinator::Service {
 public:
  // The scheduler is not owned and must outlive the service.
  CoordinatorService(Scheduler* scheduler, sweep::ExpandOptions expand, ApiEnv env)
      : scheduler_(scheduler), expand_(std::move(expand)), env_(std::move(env)) {}

  grpc::Status CreateSweep(grpc::ServerContext* ctx, const v1::CreateSweepRequest* req,
                           v1::CreateSweepResponse* resp) override;
  grpc::Status GetSweep(grpc::ServerContext* ctx, const v1::GetSweepRequest* req,
                        v1::Sweep* resp) override;
  grpc::Status ListSweeps(grpc::ServerContext* ctx, const v1::ListSweepsRequest* req,
                          v1::ListSweepsResponse* resp) override;
  grpc::Status WatchSweep(grpc::ServerContext* ctx, const v1::WatchSweepRequest* req,
                          grpc::ServerWriter<v1::SweepEvent>* writer) override;
  grpc::Status CancelSweep(grpc::ServerContext* ctx, const v1::CancelSweepRequest* req,
                           v1::CancelSweepResponse* resp) override;
  grpc::Status ListJobs(grpc::ServerContext* ctx, const v1::ListJobsRequest* req,
                        v1::ListJobsResponse* resp) override;
  grpc::Status ListResults(grpc::ServerContext* ctx, const v1::ListResultsRequest* req,
                           v1::ListResultsResponse* resp) override;
  grpc::Status GetPareto(grpc::ServerContext* ctx, const v1::GetParetoRequest* req,
                         v1::GetParetoResponse* resp) override;

 private:
  Scheduler* scheduler_;
  const sweep::ExpandOptions expand_;
  const ApiEnv env_;
};

}  // namespace squeeze::api
