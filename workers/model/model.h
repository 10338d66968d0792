// A loaded Llama-family model: config, named weight tensors and norms. The engine's matrix
// products dispatch on each tensor's format, so techniques change speed through real kernels.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "model/config.h"
#include "model/weight_tensor.h"

namespace squeeze {

struct LayerWeights {
  std::vector<float> attn_norm;  // (dim)
  WeightTensor wq;               // (n_heads * head_dim, dim)
  WeightTensor wk;               // (n_kv_heads * head_dim, dim)
  WeightTensor wv;               // (n_kv_heads * head_dim, dim)
  WeightTensor wo;               // (dim, n_heads * head_dim)
  std::vector<float> ffn_norm;   // (dim)
  WeightTensor w_gate;           // (hidden_dim, dim)   HF gate_proj, llama2.c w1
  WeightTensor w_up;             // (hidden_dim, dim)   HF up_proj,   llama2.c w3
  WeightTensor w_down;           // (dim, hidden_dim)   HF down_proj, llama2.c w2
};

// How the engine stores the KV cache (the `kv_cache` technique sets it).
enum class KvCacheFormat : uint8_t {
  kF32 = 0,
  kInt8 = 1,     // per (token, kv head): f32 scale absmax / 127, then int8 codes
  kFp8E4M3 = 2,  // per (token, kv head): f32 scale absmax / 448, then E4M3 bytes
};
const char* KvCacheFormatName(KvCacheFormat f);  // "f32", "int8", "fp8_e4m3"

struct Model {
  ModelConfig config;
  WeightTensor embedding;               // (vocab_size, dim)
  std::vector<LayerWeights> layers;     // n_layers
  std::vector<float> final_norm;        // (dim)
  std::optional<WeightTensor> lm_head;  // (vocab_size, dim); empty when tied to embedding

  KvCacheFormat kv_cache = KvCacheFormat::kF32;

  std::string source;        // path it was loaded from
  std::string content_hash;  // hash of the weights as loaded (hex), for cache keys

  const WeightTensor& classifier() const { return lm_head ? *lm_head : embedding; }

  // Every matrix of the model with its Hugging Face name (the tied classifier once).
  std::vector<std::pair<std::string, const WeightTensor*>> Matrices() const;
  std::vector<std::pair<std::string, WeightTensor*>> MutableMatrices();
};

// Checks every tensor's shape against the config and that none is missing. `origin` (the
// file or folder loaded) prefixes errors, which name the tensor.
absl::Status ValidateModel(const Model& m, const std::string& origin);

}  // namespace squeeze
