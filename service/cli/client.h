// The CLI's gRPC client of the coordinator: connection flags shared by the sweep commands
// and one method per call. grpcpp stays in client.cc.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "squeeze/v1/coordinator.pb.h"

namespace CLI {
class App;
}

namespace squeeze::cli {

struct ClientOptions {
  std::string coordinator = "127.0.0.1:50051";
  std::string token;
  bool tls = false;
  std::string tls_ca;
  double timeout_s = 30;
};

// Adds --coordinator (or $SQUEEZE_COORDINATOR), --token (or $SQUEEZE_TOKEN), --tls,
// --tls-ca and --timeout to a subcommand.
void AddClientOptions(CLI::App* command, ClientOptions* options);

class CoordinatorClient {
 public:
  static absl::StatusOr<std::unique_ptr<CoordinatorClient>> Create(const ClientOptions& options);
  ~CoordinatorClient();

  absl::StatusOr<v1::CreateSweepResponse> CreateSweep(const v1::SweepSpec& spec);
  absl::StatusOr<v1::Sweep> GetSweep(int64_t id);
  absl::StatusOr<v1::ListSweepsResponse> ListSweeps(int limit);
  absl::StatusOr<v1::CancelSweepResponse> CancelSweep(int64_t id);
  absl::StatusOr<v1::ListJobsResponse> ListJobs(int64_t id);
  absl::StatusOr<v1::ListResultsResponse> ListResults(int64_t id, bool include_report);
  absl::StatusOr<v1::GetParetoResponse> GetPareto(int64_t id,
                                                  const std::vector<v1::Objective>& objectives);
  // Streams progress events to on_event until the sweep ends (OK) or the stream breaks.
  absl::Status Watch(int64_t id, const std::function<void(const v1::SweepEvent&)>& on_event);

 private:
  struct Impl;
  CoordinatorClient() = default;
  std::unique_ptr<Impl> impl_;
};

}  // namespace squeeze::cli
