// CLI helpers: error mapping and verbose loading.
#include "service/cli/common.h"

#include <cstdio>

#include "absl/strings/str_format.h"
#include "model/loader.h"

namespace squeeze::cli {

int ReportError(const std::string& command, const absl::Status& status) {
  std::fprintf(stderr, "squeeze %s: error: %s\n", command.c_str(),
               std::string(status.message()).c_str());
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
      return kExitBadInput;
    default:
      return kExitError;
  }
}

absl::StatusOr<Model> LoadModelVerbose(const std::string& path, bool quiet) {
  absl::StatusOr<Model> m = LoadModel(path);
  if (m.ok() && !quiet)
    std::fprintf(stderr, "loaded %s (%s)\n", path.c_str(), ConfigSummary(m->config).c_str());
  return m;
}

}  // namespace squeeze::cli
