// WorkerGateway handlers (see worker_service.h).
#include "service/api/worker_service.h"

#include <algorithm>

#include "service/api/rpc.h"
#include "util/status_macros.h"

namespace squeeze::api {

grpc::Status WorkerGatewayService::RegisterWorker(grpc::ServerContext* ctx,
                                                  const v1::RegisterWorkerRequest* req,
                                                  v1::RegisterWorkerResponse* resp) {
  return Handle(env_, ctx, "RegisterWorker", [&]() -> absl::Status {
    ASSIGN_OR_RETURN(*resp, scheduler_->RegisterWorker(req->info()));
    return absl::OkStatus();
  });
}

grpc::Status WorkerGatewayService::AcquireJob(grpc::ServerContext* ctx,
                                              const v1::AcquireJobRequest* req,
                                              v1::AcquireJobResponse* resp) {
  return Handle(env_, ctx, "AcquireJob", [&]() -> absl::Status {
    int64_t wait = std::clamp<int64_t>(req->wait_ms(), 0, max_wait_ms_);
    // Answer before the client's deadline, so that a job is never leased into a dead call.
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          ctx->deadline() - std::chrono::system_clock::now())
                          .count();
    wait = std::min<int64_t>(wait, std::max<int64_t>(left - 1000, 0));
    ASSIGN_OR_RETURN(std::optional<v1::Job> job, scheduler_->Acquire(req->worker_id(), wait));
    if (job) *resp->mutable_job() = *std::move(job);
    return absl::OkStatus();
  });
}

grpc::Status WorkerGatewayService::Heartbeat(grpc::ServerContext* ctx,
                                             const v1::HeartbeatRequest* req,
                                             v1::HeartbeatResponse* resp) {
  return Handle(env_, ctx, "Heartbeat", [&]() -> absl::Status {
    ASSIGN_OR_RETURN(*resp, scheduler_->Heartbeat(req->worker_id(), req->job_id(), req->attempt(),
                                                  req->stage()));
    return absl::OkStatus();
  });
}

grpc::Status WorkerGatewayService::CompleteJob(grpc::ServerContext* ctx,
                                               const v1::CompleteJobRequest* req,
                                               v1::CompleteJobResponse* resp) {
  return Handle(env_, ctx, "CompleteJob", [&]() -> absl::Status {
    ASSIGN_OR_RETURN(*resp, scheduler_->Complete(req->worker_id(), req->job_id(), req->attempt(),
                                                 req->result()));
    return absl::OkStatus();
  });
}

grpc::Status WorkerGatewayService::FailJob(grpc::ServerContext* ctx, const v1::FailJobRequest* req,
                                           v1::FailJobResponse* resp) {
  return Handle(env_, ctx, "FailJob", [&]() -> absl::Status {
    ASSIGN_OR_RETURN(*resp, scheduler_->Fail(req->worker_id(), req->job_id(), req->attempt(),
                                             req->error(), req->permanent()));
    return absl::OkStatus();
  });
}

}  // namespace squeeze::api
