// Loading models from disk: Hugging Face folders (config.json + safetensors, single or
// sharded) and llama2.c checkpoints. Weights are memory-mapped and used in place where their
// format allows; every malformed input gives an error naming the file and the problem.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "model/model.h"

namespace squeeze {

// Loads a model from a Hugging Face folder (or its config.json) or a llama2.c .bin file.
absl::StatusOr<Model> LoadModel(const std::string& path);

// Hugging Face folder: config.json + model.safetensors, or model-*.safetensors with
// model.safetensors.index.json. F32/F16/BF16 tensors keep their format (no conversion).
absl::StatusOr<Model> LoadHfModel(const std::string& dir);

// llama2.c legacy (version 0) checkpoint: 7 int32 header + F32 arrays. Negative vocab_size
// means a separate classifier. wq/wk rows are permuted from llama2.c's interleaved RoPE
// layout to the half-split layout that the engine (and Hugging Face) uses.
absl::StatusOr<Model> LoadLlama2cModel(const std::string& path);

// Writes a model as a Hugging Face folder: config.json + model.safetensors (tensors in
// their current formats, F32/F16/BF16 only). Creates `dir` if needed.
absl::Status SaveHfModel(const Model& m, const std::string& dir);

// config.json for `m`: HfConfigJson of its config (tied_embeddings from whether it has a
// separate classifier), plus "squeeze_layers" when layers have sizes of their own and
// "squeeze_attention" when the attention settings are not the defaults.
std::string HfConfigJsonFor(const Model& m);
// Reads those two fields of config.json into m->layers (resized to config.n_layers) and
// m->attention; absent fields leave the defaults. Errors name `origin` and the field.
absl::Status ParseModelExtras(const std::string& config_text, const std::string& origin, Model* m);

struct RandomModelOptions {
  ModelConfig config;
  WeightFormat format = WeightFormat::kF32;
  uint64_t seed = 1;
};
// A model with random weights (scaled so activations stay O(1)), for tests and speed work.
Model MakeRandomModel(const RandomModelOptions& opts);

}  // namespace squeeze
