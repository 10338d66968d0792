// The transformer forward pass on the GPU (built only with the CUDA backend): every weight
// matrix resident in device memory in its packed format (plain cudaMalloc), one token at a time
// through the packed gemv kernels (kernels/cuda/cuda_gemv.h), RMSNorm, RoPE, the fused decode
// attention (GQA through the kv-head map, sliding window with sinks, block-sparse masks),
// SwiGLU and the residual adds, then the logits. Prompts run token by token (no batched
// prefill on the GPU yet). The token embedding row is looked up on the host and copied over.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/model.h"

namespace squeeze {

struct CudaEngineOptions {
  int max_context = 0;  // <= 0: the model's max_seq_len
};

class CudaEngine {
 public:
  // Uploads the model. kUnavailable without a GPU; kUnimplemented for what the GPU path does
  // not run yet (a weight format without a CUDA gemv, split columns, a quantized KV cache),
  // naming the tensor or setting; kResourceExhausted when device memory runs out. The model
  // may be destroyed afterwards except for the token embedding, which is read on the host.
  static absl::StatusOr<std::unique_ptr<CudaEngine>> Create(const Model& model,
                                                            const CudaEngineOptions& opts = {});
  ~CudaEngine();

  // Runs `tokens` at positions [pos(), pos() + n), appending to the KV cache; `logits`, when not
  // null, receives the (vocab) logits of the last token. Waits for the device. Errors: a token
  // outside the vocabulary, the context overflowing max_context(), or a CUDA error.
  absl::Status Forward(std::span<const int32_t> tokens, float* logits);

  void Reset() { pos_ = 0; }
  int pos() const { return pos_; }
  int max_context() const { return max_context_; }
  // Device memory this engine holds: weights, KV cache, activations and scratch.
  int64_t device_bytes() const;

 private:
  struct Buffers;
  CudaEngine(const Model& model, int max_context);
  absl::Status Step(int32_t token, bool want_logits);

  const Model& model_;
  int max_context_;
  int pos_ = 0;
  std::unique_ptr<Buffers> b_;
};

}  // namespace squeeze
