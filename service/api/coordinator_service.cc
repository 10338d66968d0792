// Coordinator handlers (see coordinator_service.h).
#include "service/api/coordinator_service.h"

#include <chrono>
#include <thread>

#include "service/api/rpc.h"
#include "util/status_macros.h"

namespace squeeze::api {
namespace {

bool Finished(v1::SweepState s) {
  return s == v1::SWEEP_STATE_COMPLETED || s == v1::SWEEP_STATE_CANCELLED;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

grpc::Status CoordinatorService::CreateSweep(grpc::ServerContext* ctx,
                                             const v1::CreateSweepRequest* req,
                                             v1::CreateSweepResponse* resp) {
  return Handle(env_, ctx, "CreateSweep", [&]() -> absl::Status {
    ASSIGN_OR_RETURN(sweep::ExpandedSweep expanded, sweep::ExpandSweep(req->spec(), expand_));
    ASSIGN_OR_RETURN(*resp, scheduler_->CreateSweep(req->spec(), expanded));
    return absl::OkStatus();
  });
}

grpc::Status CoordinatorService::GetSweep(grpc::ServerContext* ctx, const v1::GetSweepRequest* req,
                                          v1::Sweep* resp) {
  return Handle(env_, ctx, "GetSweep", [&]() -> absl::Status {
    ASSIGN_OR_RETURN(*resp, scheduler_->GetSweep(req->sweep_id(), /*with_spec=*/true));
    return absl::OkStatus();
  });
}

grpc::Status CoordinatorService::ListSweeps(grpc::ServerContext* ctx,
                                            const v1::ListSweepsRequest* req,
                                            v1::ListSweepsResponse* resp) {
  return Handle(env_, ctx, "ListSweeps", [&]() -> absl::Status {
    for (v1::Sweep& s : scheduler_->ListSweeps(req->limit())) *resp->add_sweeps() = std::move(s);
    return absl::OkStatus();
  });
}

grpc::Status CoordinatorService::WatchSweep(grpc::ServerContext* ctx,
                                            const v1::WatchSweepRequest* req,
                                            grpc::ServerWriter<v1::SweepEvent>* writer) {
  return Handle(env_, ctx, "WatchSweep", [&]() -> absl::Status {
    uint64_t version = 0;
    for (;;) {
      // Every change is sent, at most five times a second; the last event is the final state.
      ASSIGN_OR_RETURN(auto changed, scheduler_->WaitForChange(req->sweep_id(), version, 1000));
      if (ctx->IsCancelled()) return absl::CancelledError("the client went away");
      if (changed.second == version) continue;
      version = changed.second;
      v1::SweepEvent event;
      *event.mutable_sweep() = std::move(changed.first);
      event.set_server_time_ms(NowMs());
      const bool last = Finished(event.sweep().state());
      if (last) {  // with the errors of failed jobs
        ASSIGN_OR_RETURN(*event.mutable_sweep(), scheduler_->GetSweep(req->sweep_id()));
      }
      if (!writer->Write(event)) return absl::CancelledError("the client went away");
      if (last) return absl::OkStatus();
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });
}

grpc::Status CoordinatorService::CancelSweep(grpc::ServerContext* ctx,
                                             const v1::CancelSweepRequest* req,
                                             v1::CancelSweepResponse* resp) {
  return Handle(env_, ctx, "CancelSweep", [&]() -> absl::Status {
    ASSIGN_OR_RETURN(const int n, scheduler_->CancelSweep(req->sweep_id()));
    resp->set_cancelled_jobs(n);
    return absl::OkStatus();
  });
}

grpc::Status CoordinatorService::ListJobs(grpc::ServerContext* ctx, const v1::ListJobsRequest* req,
                                          v1::ListJobsResponse* resp) {
  return Handle(env_, ctx, "ListJobs", [&]() -> absl::Status {
    ASSIGN_OR_RETURN(std::vector<v1::JobInfo> jobs, scheduler_->ListJobs(req->sweep_id()));
    for (v1::JobInfo& j : jobs) *resp->add_jobs() = std::move(j);
    return absl::OkStatus();
  });
}

grpc::Status CoordinatorService::ListResults(grpc::ServerContext* ctx,
                                             const v1::ListResultsRequest* req,
                                             v1::ListResultsResponse* resp) {
  return Handle(env_, ctx, "ListResults", [&]() -> absl::Status {
    ASSIGN_OR_RETURN(std::vector<v1::ResultRow> rows,
                     scheduler_->ListResults(req->sweep_id(), req->include_report()));
    for (v1::ResultRow& r : rows) *resp->add_results() = std::move(r);
    return absl::OkStatus();
  });
}

grpc::Status CoordinatorService::GetPareto(grpc::ServerContext* ctx,
                                           const v1::GetParetoRequest* req,
                                           v1::GetParetoResponse* resp) {
  return Handle(env_, ctx, "GetPareto", [&]() -> absl::Status {
    const std::vector<v1::Objective> objectives(req->objectives().begin(), req->objectives().end());
    ASSIGN_OR_RETURN(*resp, scheduler_->GetPareto(req->sweep_id(), objectives));
    return absl::OkStatus();
  });
}

}  // namespace squeeze::api
