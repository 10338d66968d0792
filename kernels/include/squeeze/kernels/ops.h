// Element-wise and reduction kernels of the transformer block (reference versions).
// All are single-threaded; shapes are in the comments.
#pragma once

#include <cstdint>

#include "squeeze/kernels/isa.h"

namespace squeeze {

// out[i] = x[i] * w[i] / sqrt(mean(x^2) + eps), i in [0, n). out may alias x.
void rmsnorm_ref(float* out, const float* x, const float* w, int64_t n, float eps);

// In-place softmax over x[0, n): subtracts the max, exponentiates, normalizes.
void softmax_ref(float* x, int64_t n);

// log-softmax of logits[0, n) into out (natural log). out may alias logits.
void log_softmax_ref(float* out, const float* logits, int64_t n);

// gate[i] = silu(gate[i]) * up[i], i in [0, n).
void swiglu_ref(float* gate, const float* up, int64_t n);

// Rotary position embedding, "half-split" layout (Hugging Face Llama): within each head of
// head_dim values, element i pairs with i + head_dim/2, rotated by angle
// pos * theta^(-2i/head_dim). x holds n_heads heads back to back.
void rope_ref(float* x, int64_t n_heads, int64_t head_dim, int64_t pos, float theta);

// sum_i a[i] * b[i]
float dot_ref(const float* a, const float* b, int64_t n);

// y[i] += a * x[i]
void axpy_ref(float* y, float a, const float* x, int64_t n);

// The vector kernels of attention (scores q · k and the weighted sum of values) and of the
// block's element-wise steps, per instruction set: the _ref functions, or SIMD versions with the
// same contract (dot and rmsnorm may sum in another order; swiglu's exp is a polynomial within
// a few ulp of expf).
struct VecKernels {
  float (*dot)(const float* a, const float* b, int64_t n);
  void (*axpy)(float* y, float a, const float* x, int64_t n);
  void (*rmsnorm)(float* out, const float* x, const float* w, int64_t n, float eps);
  void (*swiglu)(float* gate, const float* up, int64_t n);
};
// The best kernels at or below `isa` (AVX2 serves the AVX-512 level too).
const VecKernels& GetVecKernels(Isa isa);

}  // namespace squeeze
