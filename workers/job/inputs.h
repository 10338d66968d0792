// Inputs of an evaluation besides the model: the tokenizer that goes with a model, and the
// one-line shape summary that reports print.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "model/model.h"
#include "model/tokenizer.h"

namespace squeeze {

// The tokenizer at `path`, or the one found beside the model when path is empty; checks
// that its vocabulary fits the model's. On success *used_path (when not null) is the file
// loaded. Errors name the tokenizer file.
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizerFor(const std::string& path,
                                                            const Model& model,
                                                            std::string* used_path);

// "dim=64 hidden=172 layers=5 heads=8 kv_heads=4 vocab=512 ctx=512 tied".
std::string ConfigSummary(const ModelConfig& c);

}  // namespace squeeze
