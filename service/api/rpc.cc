// Status mapping for the gRPC handlers (see rpc.h).
#include "service/api/rpc.h"

namespace squeeze::api {

grpc::Status ToGrpcStatus(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  // absl and gRPC share the canonical code numbers.
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

absl::Status CheckToken(const ApiEnv& env, const grpc::ServerContext& ctx) {
  if (env.token.empty()) return absl::OkStatus();
  const std::string want = "Bearer " + env.token;
  const auto& md = ctx.client_metadata();
  auto it = md.find("authorization");
  bool same = it != md.end() && it->second.size() == want.size();
  if (same) {
    unsigned char diff = 0;
    for (size_t i = 0; i < want.size(); ++i)
      diff |= static_cast<unsigned char>(it->second.data()[i] ^ want[i]);
    same = diff == 0;
  }
  if (same) return absl::OkStatus();
  return absl::UnauthenticatedError(it == md.end() ? "this coordinator requires a token"
                                                   : "wrong token");
}

const char* GrpcCodeName(grpc::StatusCode code) {
  static const char* const kNames[] = {"OK",
                                       "CANCELLED",
                                       "UNKNOWN",
                                       "INVALID_ARGUMENT",
                                       "DEADLINE_EXCEEDED",
                                       "NOT_FOUND",
                                       "ALREADY_EXISTS",
                                       "PERMISSION_DENIED",
                                       "RESOURCE_EXHAUSTED",
                                       "FAILED_PRECONDITION",
                                       "ABORTED",
                                       "OUT_OF_RANGE",
                                       "UNIMPLEMENTED",
                                       "INTERNAL",
                                       "UNAVAILABLE",
                                       "DATA_LOSS",
                                       "UNAUTHENTICATED"};
  const int i = int(code);
  return i >= 0 && i < int(std::size(kNames)) ? kNames[i] : "UNKNOWN";
}

}  // namespace squeeze::api
