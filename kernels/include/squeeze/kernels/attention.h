// Micro-kernels of tiled attention: a block of scores Q·Kᵀ, the exponentials of a score row
// with their sum (softmax without the division), and the weighted sum P·V added to an output
// block. The engine's flash, rowwise and naive attention kernels are built from them
// (workers/engine/attention.h). Reference versions are the oracle; AVX2 versions sum in
// another order and use a polynomial exp (relative error below 2e-7).
#pragma once

#include <cstdint>

#include "squeeze/kernels/isa.h"

namespace squeeze {

// s[i * lds + j] = scale * sum_d q[i * ldq + d] * k[j * ldk + d]   (i < rows, j < cols)
//   q: (rows, head_dim) with row stride ldq; k: (cols, head_dim) with row stride ldk.
void attention_scores_ref(const float* q, int64_t ldq, const float* k, int64_t ldk, int64_t rows,
                          int64_t cols, int64_t head_dim, float scale, float* s, int64_t lds);

// o[i * ldo + d] += sum_j p[i * ldp + j] * v[j * ldv + d]   (i < rows, d < head_dim)
//   p: (rows, cols); v: (cols, head_dim) with row stride ldv; o: (rows, head_dim).
void attention_accumulate_ref(const float* p, int64_t ldp, const float* v, int64_t ldv,
                              int64_t rows, int64_t cols, int64_t head_dim, float* o, int64_t ldo);

// x[j] = exp(x[j] - m) for j < n (x[j] = -inf gives 0); returns the sum of the new x[j].
// m must be finite and not below any finite x[j] by more than the float range allows
// (callers pass the row maximum).
float exp_sum_ref(float* x, int64_t n, float m);

struct AttentionTileKernels {
  void (*scores)(const float* q, int64_t ldq, const float* k, int64_t ldk, int64_t rows,
                 int64_t cols, int64_t head_dim, float scale, float* s, int64_t lds);
  void (*accumulate)(const float* p, int64_t ldp, const float* v, int64_t ldv, int64_t rows,
                     int64_t cols, int64_t head_dim, float* o, int64_t ldo);
  float (*exp_sum)(float* x, int64_t n, float m);
};

// The best kernels at or below `isa` (AVX2 serves the AVX-512 level too).
const AttentionTileKernels& GetAttentionTileKernels(Isa isa);

}  // namespace squeeze
