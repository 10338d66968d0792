// The transformer forward pass with a KV cache: batched prefill (matrix × matrix) and
// decode (matrix × vector), every matrix product dispatched on its weight format. Each layer
// has its own head counts and FFN width (structured pruning), and the model's attention
// settings pick the mask, the cache layout (a ring for sliding windows) and the kernel.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/attention.h"
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
  // The attention kernel; kAuto: the model's setting (model.attention.kernel).
  AttentionKernel attention_kernel = AttentionKernel::kAuto;
  // With a sliding window, keep only sinks + window positions (a ring); false keeps every
  // position (same results; for tests and memory comparisons).
  bool ring_cache = true;
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
  // Positions the cache holds (max_context, or sinks + window for a sliding window) and the
  // bytes allocated for them (keys and values of every layer).
  int64_t kv_cache_positions() const { return kv_positions_; }
  int64_t kv_cache_bytes() const { return kv_positions_ * kv_bytes_per_token(); }
  // Bytes of the attention kernels' scratch (all threads), allocated at creation for the
  // largest batch and context the engine runs: n × context per thread for the naive kernel,
  // the context for rowwise, the tiles only for flash.
  int64_t attention_scratch_bytes() const { return int64_t(scratch_.size() * sizeof(float)); }
  // The attention kernel requested (from the options or the model) and the one a batch of
  // n tokens runs on layer 0 (kAuto resolved).
  AttentionKernel attention_kernel() const { return kernel_; }
  AttentionKernel ResolvedAttentionKernel(int64_t n) const;

 private:
  Engine(const Model& model, const EngineOptions& opts, int max_context);
  void ForwardBatch(const int32_t* tokens, int64_t n, float* logits, bool all_logits);

  // Layer l's keys and values as attention reads them, for a batch starting at pos.
  KvView View(int64_t l, int64_t pos) const;
  // Appends the batch's keys and values (layer l, rows of k_/v_ or kq_/vq_) to the cache.
  void StoreBatch(int64_t l, int64_t pos, int64_t n);

  const Model& model_;
  EngineOptions opts_;
  int max_context_;
  int pos_ = 0;
  ThreadPool pool_;
  KvCacheFormat kv_format_;
  AttentionKernel kernel_;
  std::vector<LayerShape> shapes_;  // per layer
  KvLayout layout_;
  int64_t kv_positions_ = 0;
  // Per layer (n_kv_heads, kv_positions_) rows of KvRowBytes(kv_format_, head_dim) bytes
  // (floats for kF32), keys and values: each kv head's positions contiguous, so that decode
  // reads one stream per head (engine/attention.h).
  std::vector<std::vector<uint8_t>> k_cache_, v_cache_;
  std::vector<float> rope_cos_, rope_sin_;  // (max_context, head_dim / 2)
  // Scratch, sized for max_batch tokens and the widest layer.
  std::vector<float> x_, xb_, q_, k_, v_, att_, hb_, hb2_, scratch_;
  int64_t scratch_per_thread_ = 0;  // floats of scratch_ per thread (attention kernels)
  std::vector<uint8_t> kq_, vq_;    // the batch's keys and values in a quantized cache format
};

}  // namespace squeeze
