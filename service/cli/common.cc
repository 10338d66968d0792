// CLI helpers: error mapping and verbose loading.
#include "service/cli/common.h"

#include <cstdio>

#include "absl/strings/str_format.h"
#include "model/loader.h"
#include "util/errors.h"

namespace squeeze::cli {

int ReportError(const std::string& command, const absl::Status& status) {
  std::fprintf(stderr, "squeeze %s: error: %s\n", command.c_str(),
               std::string(status.message()).c_str());
  return IsInputError(status) ? kExitBadInput : kExitError;
}

absl::StatusOr<Model> LoadModelVerbose(const std::string& path, bool quiet) {
  absl::StatusOr<Model> m = LoadModel(path);
  if (m.ok() && !quiet)
    std::fprintf(stderr, "loaded %s (%s)\n", path.c_str(), ConfigSummary(m->config).c_str());
  return m;
}

}  // namespace squeeze::cli
