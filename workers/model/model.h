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

// n_heads, n_kv_heads and hidden_dim below are the layer's own (LayerShape): the config's
// unless structured pruning (head_prune, ffn_prune) or gqa changed this layer.
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

  // Per-layer sizes; 0 (and an empty map) means the config's value. head_dim is always the
  // config's: pruning removes whole heads.
  int32_t n_heads = 0;
  int32_t n_kv_heads = 0;
  int32_t hidden_dim = 0;
  // (n_heads) the kv head each query head reads. Empty: the standard grouping
  // h / (n_heads / n_kv_heads). Set when pruning removed some heads of a group.
  std::vector<int32_t> kv_head_of;
};

// The resolved sizes of one layer (config values filled in, the kv map always explicit).
struct LayerShape {
  int32_t n_heads = 0, n_kv_heads = 0, head_dim = 0, hidden_dim = 0;
  std::vector<int32_t> kv_head_of;  // (n_heads)
  int64_t q_dim() const { return int64_t(n_heads) * head_dim; }
  int64_t kv_dim() const { return int64_t(n_kv_heads) * head_dim; }
  // True when query head h reads kv head h for every h (multi-head attention).
  bool one_kv_head_per_query_head() const;
};

// How the engine stores the KV cache (the `kv_cache` technique sets it).
enum class KvCacheFormat : uint8_t {
  kF32 = 0,
  kInt8 = 1,     // per (token, kv head): f32 scale absmax / 127, then int8 codes
  kFp8E4M3 = 2,  // per (token, kv head): f32 scale absmax / 448, then E4M3 bytes
};
const char* KvCacheFormatName(KvCacheFormat f);  // "f32", "int8", "fp8_e4m3"

// The attention kernel the engine runs (engine/attention.h describes each).
enum class AttentionKernel : uint8_t {
  kAuto = 0,     // the fastest measured on this machine for the batch (engine/attention.cc)
  kNaive = 1,    // materializes the score matrix of a batch (the reference)
  kRowwise = 2,  // one query at a time with a score row of the context
  kFlash = 3,    // tiles with online softmax
};
const char* AttentionKernelName(AttentionKernel k);  // "auto", "naive", "rowwise", "flash"

// Which earlier positions a query sees and how the engine computes attention (set by the
// attention techniques: sliding_window, sinks, block_sparse, flash, attention_kernel).
// Causal always: a query at position q sees positions k <= q, and of those:
//   window > 0:  k > q - window (itself and the window - 1 before it), plus k < sinks;
//   block > 0:   with i = q / block, j = k / block: i - j < local_blocks, or
//                j % global_stride == 0 (global blocks);
//   otherwise:   all of them.
// window and block are exclusive. With window > 0 the KV cache is a ring of sinks + window
// positions, so its size and the decode cost no longer grow with the context.
struct AttentionSettings {
  int32_t window = 0;
  int32_t sinks = 0;
  int32_t block = 0;
  int32_t local_blocks = 0;
  int32_t global_stride = 0;
  AttentionKernel kernel = AttentionKernel::kAuto;
  int32_t tile_q = 0, tile_k = 0;  // flash tiles (rows of queries, keys); 0: the defaults

  bool full() const { return window == 0 && block == 0; }
  bool operator==(const AttentionSettings&) const = default;
};
// "full causal, kernel auto", "window 64 + 4 sinks, kernel flash (tiles 32x64)", ...
std::string AttentionSummary(const AttentionSettings& a);

struct Model {
  ModelConfig config;
  WeightTensor embedding;               // (vocab_size, dim)
  std::vector<LayerWeights> layers;     // n_layers
  std::vector<float> final_norm;        // (dim)
  std::optional<WeightTensor> lm_head;  // (vocab_size, dim); empty when tied to embedding

  KvCacheFormat kv_cache = KvCacheFormat::kF32;
  AttentionSettings attention;

  // Layer l's sizes, from its own fields or the config's.
  LayerShape Shape(int64_t l) const;
  // True when some layer has sizes or a kv map of its own (see LayerWeights).
  bool has_layer_shapes() const;

  std::string source;        // path it was loaded from
  std::string content_hash;  // hash of the weights as loaded (hex), for cache keys

  const WeightTensor& classifier() const { return lm_head ? *lm_head : embedding; }

  // Every matrix of the model with its Hugging Face name (the tied classifier once).
  std::vector<std::pair<std::string, const WeightTensor*>> Matrices() const;
  std::vector<std::pair<std::string, WeightTensor*>> MutableMatrices();
};

// Checks every tensor's shape against the config and the layers' own sizes, the kv maps and
// the attention settings, and that no tensor is missing. `origin` (the file or folder loaded)
// prefixes errors, which name the tensor or the setting.
absl::Status ValidateModel(const Model& m, const std::string& origin);

// "" when every layer has the config's sizes; otherwise each layer's
// "heads/kv_heads ffn" ("L0 6/6 768, L1 4/4 576, ...").
std::string LayerShapesSummary(const Model& m);

// Moves per-layer sizes into the config where every layer agrees and the config can express
// them (a standard kv map, n_heads equal to the config's): e.g. ffn_prune at one fraction
// gives every layer the same hidden_dim, which becomes config.hidden_dim. Layers that differ
// keep their own. Techniques that change shapes call it last.
void NormalizeLayerShapes(Model& m);

}  // namespace squeeze
