// Shared pieces of the CLI's commands: error reporting with exit codes, model/tokenizer
// loading with progress messages.
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "job/inputs.h"  // LoadTokenizerFor, ConfigSummary
#include "model/model.h"
#include "model/tokenizer.h"

namespace squeeze::cli {

// Exit codes: 0 success, 1 runtime or server error, 2 bad input or usage.
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitBadInput = 2;

// Prints "squeeze <command>: error: <message>" to stderr and returns the exit code for it:
// bad input (2) for input errors (IsInputError in util/errors.h: a bad file, parameter or
// request, a rejected token), else 1.
int ReportError(const std::string& command, const absl::Status& status);

// Loads a model, printing what was loaded to stderr unless quiet.
absl::StatusOr<Model> LoadModelVerbose(const std::string& path, bool quiet);

}  // namespace squeeze::cli
