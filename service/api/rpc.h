// Shared by the gRPC handlers: absl::Status -> grpc::Status, and the wrapper every handler
// runs its body in (maps the status, counts the call in squeeze_grpc_requests_total).
// Included only by the handlers' .cc files: it pulls in grpcpp.
#pragma once

#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/status/status.h"
#include "service/metrics/metrics.h"

namespace squeeze::api {

grpc::Status ToGrpcStatus(const absl::Status& s);

// "OK", "INVALID_ARGUMENT", ...
const char* GrpcCodeName(grpc::StatusCode code);

// What every handler shares: the token calls must carry (empty: none) and the metrics.
struct ApiEnv {
  std::string token;
  ServiceMetrics* metrics = nullptr;  // not owned
};

// Unauthenticated unless the call carries "authorization: Bearer TOKEN" (always OK without
// a configured token). Compares in constant time.
absl::Status CheckToken(const ApiEnv& env, const grpc::ServerContext& ctx);

// Checks the token, runs body() (returning absl::Status), maps its status and counts the
// call in squeeze_grpc_requests_total{method,code}.
template <typename F>
grpc::Status Handle(const ApiEnv& env, const grpc::ServerContext* ctx, const char* method,
                    F&& body) {
  absl::Status checked = CheckToken(env, *ctx);
  const grpc::Status s = ToGrpcStatus(checked.ok() ? body() : checked);
  if (env.metrics) env.metrics->CountGrpcRequest(method, GrpcCodeName(s.error_code()));
  return s;
}

}  // namespace squeeze::api
