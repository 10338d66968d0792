// The transformer forward pass with a KV cache: batched prefill (matrix × matrix) and
// decode (matrix × vector), every matrix product dispatched on its weight format.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "model/model.h"
#include "squeeze/kernels/matmul.h"
#include "util/thread_pool.h"

namespace squeeze {

// The input a layer's matrix products read; the matrices of one site share that input.
enum class LinearSite : uint8_t {
  kQkv = 0,     // attention-normed hidden state -> wq, wk, wv   (cols = dim)
  kWo = 1,      // attention output              -> wo           (cols = n_heads * head_dim)
  kGateUp = 2,  // FFN-normed hidden state       -> w_gate, w_up (cols = dim)
  kDown = 3,    // SwiGLU output                 -> w_down       (cols = hidden_dim)
};
inline constexpr int kLinearSiteCount = 4;
const char* LinearSiteName(LinearSite s);  // "qkv", "wo", "gate_up", "down"

// Sees the input of every layer matrix product before it runs: x is (n, cols) row-major,
// one row per token of the batch. Called on the engine's calling thread.
using LinearObserver =
    std::function<void(int layer, LinearSite site, const float* x, int64_t n, int64_t cols)>;

struct EngineOptions {
  int threads = 0;      // <= 0: one per online CPU
  int max_context = 0;  // <= 0: the model's max_seq_len
  int max_batch = 128;  // tokens per prefill step (longer inputs are split)
  Isa isa = ActiveIsa();
  // Calibration hooks: observer (when set) sees every layer's matrix inputs; with
  // last_layer >= 0 the forward pass stops after that layer (no later layers, no logits:
  // Forward must then be called with logits == nullptr).
  LinearObserver observer;
  int last_layer = -1;
};

class Engine {
 public:
  // The model must outlive the engine. Fails on an invalid model or options.
  static absl::StatusOr<std::unique_ptr<Engine>> Create(const Model& model,
                                                        const EngineOptions& opts = {});

  // Runs `tokens` at positions [pos(), pos() + n), appending them to the KV cache.
  // logits, when not null, receives (n, vocab) floats with all_logits, else (vocab) for the
  // last token. Errors: a token id outside the vocabulary (naming it and its index), or the
  // context overflowing max_context(); the cache is unchanged then.
  absl::Status Forward(std::span<const int32_t> tokens, float* logits, bool all_logits = false);

  // Empties the KV cache (pos() becomes 0).
  void Reset() { pos_ = 0; }

  int pos() const { return pos_; }
  int max_context() const { return max_context_; }
  int threads() const { return pool_.size(); }
  Isa isa() const { return opts_.isa; }
  const Model& model() const { return model_; }
  int32_t vocab_size() const { return model_.config.vocab_size; }
  // Bytes of KV cache per token of context (all layers, keys and values; for a quantized
  // cache the codes and the per-(token, kv head) scales).
  int64_t kv_bytes_per_token() const;
  // The KV cache format (the model's kv_cache when the engine was created).
  KvCacheFormat kv_cache_format() const { return kv_format_; }

 private:
  Engine(const Model& model, const EngineOptions& opts, int max_context);
  void ForwardBatch(const int32_t* tokens, int64_t n, float* logits, bool all_logits);

  const Model& model_;
  EngineOptions opts_;
  int max_context_;
  int pos_ = 0;
  ThreadPool pool_;
  KvCacheFormat kv_format_;
  // kF32: per layer (max_context, kv_dim) floats. Quantized: per layer (max_context,
  // n_kv_heads) rows of KvRowBytes(kv_format_, head_dim) bytes (engine/attention.h).
  std::vector<std::vector<float>> k_cache_, v_cache_;
  std::vector<std::vector<uint8_t>> kq_cache_, vq_cache_;
  std::vector<float> rope_cos_, rope_sin_;  // (max_context, head_dim / 2)
  // Scratch, sized for max_batch tokens.
  std::vector<float> x_, xb_, q_, k_, v_, att_, hb_, hb2_, scores_;
};

}  // namespace squeeze
