// Shape and hyper-parameters of a Llama-family decoder.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace squeeze {

struct ModelConfig {
  int32_t dim = 0;         // model width (hidden_size)
  int32_t hidden_dim = 0;  // FFN width (intermediate_size)
  int32_t n_layers = 0;
  int32_t n_heads = 0;
  int32_t n_kv_heads = 0;  // == n_heads for multi-head attention, fewer for GQA/MQA
  int32_t vocab_size = 0;
  int32_t max_seq_len = 0;  // longest context the model was trained for
  float norm_eps = 1e-5f;   // RMSNorm epsilon
  float rope_theta = 10000.0f;
  bool tied_embeddings = true;  // classifier shares the token embedding
  int32_t bos_id = 1;           // -1 when unknown
  int32_t eos_id = 2;

  int32_t head_dim() const { return n_heads > 0 ? dim / n_heads : 0; }
  int32_t kv_dim() const { return head_dim() * n_kv_heads; }
};

// Checks that the fields are positive and consistent (dim divisible by n_heads, n_heads
// divisible by n_kv_heads, even head_dim, ...). `origin` (a file name) prefixes errors.
absl::Status ValidateConfig(const ModelConfig& c, const std::string& origin);

// Parses a Hugging Face config.json of a Llama-family model (LlamaForCausalLM and the same
// architecture under other names). Errors name the file and the field.
absl::StatusOr<ModelConfig> ParseHfConfig(const std::string& json_text, const std::string& origin);

// Serializes to a Hugging Face config.json (LlamaForCausalLM).
std::string HfConfigJson(const ModelConfig& c);

}  // namespace squeeze
