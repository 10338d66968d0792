// Training checkpoints as Hugging Face folders: config.json + model.safetensors (F32), written
// with the loader's SaveHfModel, plus the tokenizer, so that `squeeze eval --model DIR` and
// Hugging Face tools load them.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "train/param_layout.h"

namespace squeeze {

// Writes the model of `params` (adapters not included) to `dir` (created if needed), and
// `tokenizer_json` as dir/tokenizer.json when not empty.
absl::Status WriteCheckpoint(const ParamLayout& layout, const float* params, const std::string& dir,
                             const std::string& tokenizer_json);

// Copies a tokenizer file into dir as tokenizer.json (a Hugging Face tokenizer) or
// tokenizer.bin (a llama2.c one), the names FindTokenizerFor looks for in a model folder.
absl::Status CopyTokenizer(const std::string& tokenizer_path, const std::string& dir);

// Writes `text` to `path`, replacing it. Errors name the path.
absl::Status WriteTextFile(const std::string& path, const std::string& text);

}  // namespace squeeze
