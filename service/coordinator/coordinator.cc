// Coordinator assembly (see coordinator.h).
#include "service/coordinator/coordinator.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <chrono>
#include <filesystem>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "service/api/coordinator_service.h"
#include "service/api/worker_service.h"
#include "service/http/http_server.h"
#include "service/metrics/metrics.h"
#include "service/scheduler/scheduler.h"
#include "util/mapped_file.h"
#include "util/status_macros.h"

namespace squeeze {
namespace {

std::string HostOf(const std::string& host_port) {
  if (!host_port.empty() && host_port[0] == '[')
    return host_port.substr(1, host_port.find(']') - 1);
  const size_t colon = host_port.rfind(':');
  return colon == std::string::npos ? host_port : host_port.substr(0, colon);
}

absl::Status CheckToken(const std::string& token) {
  for (char c : token) {
    if (c < 0x21 || c > 0x7e || c == '"' || c == '\\') {
      return absl::InvalidArgumentError(
          "--token: only printable ASCII without spaces, quotes or backslashes");
    }
  }
  return absl::OkStatus();
}

}  // namespace

bool IsLoopbackAddress(const std::string& host_port) {
  const std::string host = HostOf(host_port);
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

struct Coordinator::Impl {
  ServiceMetrics metrics;
  std::unique_ptr<Scheduler> scheduler;
  std::unique_ptr<api::CoordinatorService> coordinator_service;
  std::unique_ptr<api::WorkerGatewayService> worker_service;
  std::unique_ptr<grpc::Server> grpc_server;
  std::unique_ptr<HttpServer> http;
  int grpc_port = 0;
  std::once_flag stopped;
};

absl::StatusOr<std::unique_ptr<Coordinator>> Coordinator::Create(const CoordinatorOptions& o) {
  RETURN_IF_ERROR(CheckToken(o.token));
  if (o.token.empty() && !o.allow_remote) {
    for (const std::string* addr : {&o.grpc_listen, &o.http_listen}) {
      if (!addr->empty() && !IsLoopbackAddress(*addr)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "refusing to listen on ", *addr,
            " without a token: set --token (or SQUEEZE_TOKEN), or pass --allow-remote"));
      }
    }
  }
  if (o.tls_cert.empty() != o.tls_key.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key go together");
  }
  std::error_code ec;
  if (!std::filesystem::is_directory(o.data_root, ec)) {
    return absl::InvalidArgumentError(absl::StrCat("--data-root ", o.data_root, ": not a folder"));
  }
  std::unique_ptr<Coordinator> c(new Coordinator());
  c->impl_ = std::make_unique<Impl>();
  Impl& m = *c->impl_;
  SchedulerOptions so;
  so.db_path = o.db_path;
  so.lease_ms = o.lease_ms;
  so.expiry_check_ms = std::clamp<int64_t>(o.lease_ms / 4, 10, 1000);
  so.metrics = &m.metrics;
  ASSIGN_OR_RETURN(m.scheduler, Scheduler::Create(so));

  sweep::ExpandOptions eo;
  eo.data_root = std::filesystem::canonical(o.data_root).string();
  eo.max_configurations = o.max_configurations;
  eo.default_max_attempts = o.max_attempts;
  const api::ApiEnv env{o.token, &m.metrics};
  m.coordinator_service = std::make_unique<api::CoordinatorService>(m.scheduler.get(), eo, env);
  m.worker_service =
      std::make_unique<api::WorkerGatewayService>(m.scheduler.get(), env, o.max_acquire_wait_ms);

  // The health service never needs the token (probes). Reflection cannot check it: with a
  // token it is served only when asked for (it reveals the API's schema, no data).
  grpc::EnableDefaultHealthCheckService(true);
  if (o.token.empty() || o.reflection_with_token) {
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  }
  grpc::ServerBuilder builder;
  std::shared_ptr<grpc::ServerCredentials> creds = grpc::InsecureServerCredentials();
  if (!o.tls_cert.empty()) {
    ASSIGN_OR_RETURN(std::string cert, ReadFileToString(o.tls_cert));
    ASSIGN_OR_RETURN(std::string key, ReadFileToString(o.tls_key));
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({key, cert});
    creds = grpc::SslServerCredentials(ssl);
  }
  builder.AddListeningPort(o.grpc_listen, creds, &m.grpc_port);
  builder.RegisterService(m.coordinator_service.get());
  builder.RegisterService(m.worker_service.get());
  builder.SetMaxReceiveMessageSize(64 << 20);
  m.grpc_server = builder.BuildAndStart();
  if (!m.grpc_server || m.grpc_port == 0) {
    return absl::UnavailableError(
        absl::StrCat("gRPC ", o.grpc_listen, ": cannot listen (port in use or bad address?)"));
  }
  if (!o.http_listen.empty()) {
    HttpOptions ho;
    ho.listen = o.http_listen;
    ho.token = o.token;
    ho.cors_origin = o.cors_origin;
    ho.web_root = o.web_root;
    absl::StatusOr<std::unique_ptr<HttpServer>> http =
        HttpServer::Create(ho, m.scheduler.get(), &m.metrics);
    if (!http.ok()) {
      c->Shutdown();
      return http.status();
    }
    m.http = *std::move(http);
  }
  return c;
}

Coordinator::~Coordinator() {
  Shutdown();
}

int Coordinator::grpc_port() const {
  return impl_->grpc_port;
}
int Coordinator::http_port() const {
  return impl_->http ? impl_->http->port() : 0;
}

void Coordinator::Shutdown() {
  if (!impl_) return;
  std::call_once(impl_->stopped, [this] {
    Impl& m = *impl_;
    m.scheduler->Shutdown();  // long polls and watchers return; new sweeps are refused
    // civetweb takes up to two seconds to stop its listener: in parallel with gRPC.
    std::thread http([&m] { m.http.reset(); });
    if (m.grpc_server) {
      m.grpc_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
      m.grpc_server->Wait();
    }
    http.join();
    m.scheduler.reset();  // closes the database after the last write
  });
}

}  // namespace squeeze
