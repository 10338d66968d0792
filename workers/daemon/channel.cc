// gRPC client helpers (see channel.h).
#include "daemon/channel.h"

#include "absl/strings/str_cat.h"
#include "util/mapped_file.h"

namespace squeeze::rpc {

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const ChannelOptions& o) {
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
  if (o.tls || !o.tls_ca.empty()) {
    grpc::SslCredentialsOptions ssl;
    if (!o.tls_ca.empty()) {
      absl::StatusOr<std::string> ca = ReadFileToString(o.tls_ca);
      if (!ca.ok()) return ca.status();
      ssl.pem_root_certs = *ca;
    }
    creds = grpc::SslCredentials(ssl);
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(256 << 20);
  // Reconnect quickly after a coordinator restart.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  return grpc::CreateCustomChannel(o.address, creds, args);
}

void Prepare(grpc::ClientContext* ctx, const ChannelOptions& o, std::chrono::milliseconds timeout) {
  if (!o.token.empty()) ctx->AddMetadata("authorization", "Bearer " + o.token);
  ctx->set_deadline(std::chrono::system_clock::now() + timeout);
}

absl::Status FromGrpc(const grpc::Status& s, const std::string& address) {
  if (s.ok()) return absl::OkStatus();
  const auto code = static_cast<absl::StatusCode>(s.error_code());
  switch (s.error_code()) {
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::UNAUTHENTICATED:
      return absl::Status(code, absl::StrCat(address, ": access denied (", s.error_message(),
                                             "): check the token (--token or SQUEEZE_TOKEN)"));
    case grpc::StatusCode::UNAVAILABLE:
      return absl::Status(
          code, absl::StrCat(address, ": coordinator unavailable (", s.error_message(), ")"));
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return absl::Status(code, absl::StrCat(address, ": no answer in time"));
    default:
      return absl::Status(code, s.error_message());
  }
}

}  // namespace squeeze::rpc
