// gRPC client plumbing shared by squeeze-worker and the squeeze CLI: a channel to the
// coordinator (plain or TLS), call contexts that carry the token, status conversion.
// Includes grpcpp: include it from .cc files only.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace squeeze::rpc {

struct ChannelOptions {
  std::string address = "127.0.0.1:50051";
  std::string token;   // sent as "authorization: Bearer TOKEN" when not empty
  bool tls = false;    // TLS with the system's roots, or tls_ca
  std::string tls_ca;  // PEM file of the CA that signed the coordinator's certificate
};

// Creates the channel (connects lazily). Errors: an unreadable --tls-ca file.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const ChannelOptions& options);

// Sets the token and a deadline `timeout` from now on a fresh context.
void Prepare(grpc::ClientContext* ctx, const ChannelOptions& options,
             std::chrono::milliseconds timeout);

// grpc::Status -> absl::Status (same code, same message). Authentication failures get a
// message that says what to check.
absl::Status FromGrpc(const grpc::Status& s, const std::string& address);

// One unary call: a fresh context with the token and a deadline `timeout` from now, the
// status converted by FromGrpc. `method` is a stub's method, e.g.
// &v1::WorkerGateway::Stub::Heartbeat.
template <typename Stub, typename Req, typename Resp>
absl::Status Call(Stub& stub, grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
                  const Req& req, Resp* resp, const ChannelOptions& options,
                  std::chrono::milliseconds timeout) {
  grpc::ClientContext ctx;
  Prepare(&ctx, options, timeout);
  return FromGrpc((stub.*method)(&ctx, req, resp), options.address);
}

}  // namespace squeeze::rpc
