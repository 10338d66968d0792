// The transformer forward pass with a KV cache: batched prefill (matrix × matrix) and
// decode (matrix × vector), every matrix product dispatched on its weight format.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "model/model.h"
#include "squeeze/kernels/matmul.h"
#include "util/thread_pool.h"

namespace squeeze {

struct EngineOptions {
  int threads = 0;      // <= 0: one per online CPU
  int max_context = 0;  // <= 0: the model's max_seq_len
  int max_batch = 128;  // tokens per prefill step (longer inputs are split)
  Isa isa = ActiveIsa();
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
  // Bytes of KV cache per token of context (all layers, keys and values).
  int64_t kv_bytes_per_token() const;

 private:
  Engine(const Model& model, const EngineOptions& opts, int max_context);
  void ForwardBatch(const int32_t* tokens, int64_t n, float* logits, bool all_logits);

  const Model& model_;
  EngineOptions opts_;
  int max_context_;
  int pos_ = 0;
  ThreadPool pool_;
  std::vector<std::vector<float>> k_cache_, v_cache_;  // per layer: (max_context, kv_dim)
  std::vector<float> rope_cos_, rope_sin_;             // (max_context, head_dim / 2)
  // Scratch, sized for max_batch tokens.
  std::vector<float> x_, xb_, q_, k_, v_, att_, hb_, hb2_, scores_;
};

}  // namespace squeeze
