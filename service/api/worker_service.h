// The WorkerGateway gRPC service: thin handlers over the scheduler's worker side.
#pragma once

#include "service/api/rpc.h"
#include "service/metrics/metrics.h"
#include "service/scheduler/scheduler.h"
#include "squeeze/v1/worker.grpc.pb.h"

namespace squeeze::api {

class WorkerGatewayService final : public v1::WorkerGateway::Service {
 public:
  // The scheduler is not owned and must outlive the service. max_wait_ms caps AcquireJob's long
  // poll.
  WorkerGatewayService(Scheduler* scheduler, ApiEnv env, int64_t max_wait_ms = 30000)
      : scheduler_(scheduler), env_(std::move(env)), max_wait_ms_(max_wait_ms) {}

  grpc::Status RegisterWorker(grpc::ServerContext* ctx, const v1::RegisterWorkerRequest* req,
                              v1::RegisterWorkerResponse* resp) override;
  grpc::Status AcquireJob(grpc::ServerContext* ctx, const v1::AcquireJobRequest* req,
                          v1::AcquireJobResponse* resp) override;
  grpc::Status Heartbeat(grpc::ServerContext* ctx, const v1::HeartbeatRequest* req,
                         v1::HeartbeatResponse* resp) override;
  grpc::Status CompleteJob(grpc::ServerContext* ctx, const v1::CompleteJobRequest* req,
                           v1::CompleteJobResponse* resp) override;
  grpc::Status FailJob(grpc::ServerContext* ctx, const v1::FailJobRequest* req,
                       v1::FailJobResponse* resp) override;

 private:
  Scheduler* scheduler_;
  const ApiEnv env_;
  const int64_t max_wait_ms_;
};

}  // namespace squeeze::api
