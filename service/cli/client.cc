// gRPC client of the coordinator (see client.h).
#include "service/cli/client.h"

#include <CLI/CLI.hpp>

#include "daemon/channel.h"
#include "squeeze/v1/coordinator.grpc.pb.h"

namespace squeeze::cli {

void AddClientOptions(CLI::App* c, ClientOptions* o) {
  c->add_option("--coordinator", o->coordinator, "coordinator gRPC address")
      ->envname("SQUEEZE_COORDINATOR")
      ->capture_default_str();
  c->add_option("--token", o->token, "the coordinator's token (default: $SQUEEZE_TOKEN)")
      ->envname("SQUEEZE_TOKEN");
  c->add_flag("--tls", o->tls, "connect with TLS (system roots, or --tls-ca)");
  c->add_option("--tls-ca", o->tls_ca, "PEM file of the CA of the coordinator's certificate");
  c->add_option("--timeout", o->timeout_s, "seconds to wait for each answer")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
}

struct CoordinatorClient::Impl {
  rpc::ChannelOptions channel;
  std::chrono::milliseconds timeout;
  std::unique_ptr<v1::Coordinator::Stub> stub;

  template <typename Req, typename Resp>
  absl::StatusOr<Resp> Unary(const Req& req,
                             grpc::Status (v1::Coordinator::Stub::*method)(grpc::ClientContext*,
                                                                           const Req&, Resp*)) {
    Resp resp;
    absl::Status s = rpc::Call(*stub, method, req, &resp, channel, timeout);
    if (!s.ok()) return s;
    return resp;
  }
};

absl::StatusOr<std::unique_ptr<CoordinatorClient>> CoordinatorClient::Create(
    const ClientOptions& o) {
  std::unique_ptr<CoordinatorClient> c(new CoordinatorClient());
  c->impl_ = std::make_unique<Impl>();
  c->impl_->channel = {o.coordinator, o.token, o.tls, o.tls_ca};
  c->impl_->timeout = std::chrono::milliseconds(int64_t(o.timeout_s * 1000));
  absl::StatusOr<std::shared_ptr<grpc::Channel>> ch = rpc::MakeChannel(c->impl_->channel);
  if (!ch.ok()) return ch.status();
  c->impl_->stub = v1::Coordinator::NewStub(*ch);
  return c;
}

CoordinatorClient::~CoordinatorClient() = default;

absl::StatusOr<v1::CreateSweepResponse> CoordinatorClient::CreateSweep(const v1::SweepSpec& spec) {
  v1::CreateSweepRequest req;
  *req.mutable_spec() = spec;
  return impl_->Unary(req, &v1::Coordinator::Stub::CreateSweep);
}

absl::StatusOr<v1::Sweep> CoordinatorClient::GetSweep(int64_t id) {
  v1::GetSweepRequest req;
  req.set_sweep_id(id);
  return impl_->Unary(req, &v1::Coordinator::Stub::GetSweep);
}

absl::StatusOr<v1::ListSweepsResponse> CoordinatorClient::ListSweeps(int limit) {
  v1::ListSweepsRequest req;
  req.set_limit(limit);
  return impl_->Unary(req, &v1::Coordinator::Stub::ListSweeps);
}

absl::StatusOr<v1::CancelSweepResponse> CoordinatorClient::CancelSweep(int64_t id) {
  v1::CancelSweepRequest req;
  req.set_sweep_id(id);
  return impl_->Unary(req, &v1::Coordinator::Stub::CancelSweep);
}

absl::StatusOr<v1::ListJobsResponse> CoordinatorClient::ListJobs(int64_t id) {
  v1::ListJobsRequest req;
  req.set_sweep_id(id);
  return impl_->Unary(req, &v1::Coordinator::Stub::ListJobs);
}

absl::StatusOr<v1::ListResultsResponse> CoordinatorClient::ListResults(int64_t id,
                                                                       bool include_report) {
  v1::ListResultsRequest req;
  req.set_sweep_id(id);
  req.set_include_report(include_report);
  return impl_->Unary(req, &v1::Coordinator::Stub::ListResults);
}

absl::StatusOr<v1::GetParetoResponse> CoordinatorClient::GetPareto(
    int64_t id, const std::vector<v1::Objective>& objectives) {
  v1::GetParetoRequest req;
  req.set_sweep_id(id);
  for (const v1::Objective& o : objectives) *req.add_objectives() = o;
  return impl_->Unary(req, &v1::Coordinator::Stub::GetPareto);
}

absl::Status CoordinatorClient::Watch(int64_t id,
                                      const std::function<void(const v1::SweepEvent&)>& on_event) {
  grpc::ClientContext ctx;  // no deadline: a sweep may run for hours
  if (!impl_->channel.token.empty())
    ctx.AddMetadata("authorization", "Bearer " + impl_->channel.token);
  v1::WatchSweepRequest req;
  req.set_sweep_id(id);
  std::unique_ptr<grpc::ClientReader<v1::SweepEvent>> reader = impl_->stub->WatchSweep(&ctx, req);
  v1::SweepEvent event;
  while (reader->Read(&event)) on_event(event);
  return rpc::FromGrpc(reader->Finish(), impl_->channel.address);
}

}  // namespace squeeze::cli
