// Scalar reference micro-kernels of tiled attention (the oracle of cpu/attention_avx2.cc) and
// the table that picks a version by instruction set.
#include <cmath>

#include "squeeze/kernels/attention.h"

namespace squeeze {

namespace cpu {
extern const AttentionTileKernels kAttentionTileAvx2;  // cpu/attention_avx2.cc
}  // namespace cpu

void attention_scores_ref(const float* q, int64_t ldq, const float* k, int64_t ldk, int64_t rows,
                          int64_t cols, int64_t head_dim, float scale, float* s, int64_t lds) {
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) {
      float acc = 0.0f;
      for (int64_t d = 0; d < head_dim; ++d) acc += q[i * ldq + d] * k[j * ldk + d];
      s[i * lds + j] = acc * scale;
    }
  }
}

void attention_accumulate_ref(const float* p, int64_t ldp, const float* v, int64_t ldv,
                              int64_t rows, int64_t cols, int64_t head_dim, float* o, int64_t ldo) {
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) {
      const float w = p[i * ldp + j];
      for (int64_t d = 0; d < head_dim; ++d) o[i * ldo + d] += w * v[j * ldv + d];
    }
  }
}

float exp_sum_ref(float* x, int64_t n, float m) {
  float sum = 0.0f;
  for (int64_t j = 0; j < n; ++j) {
    x[j] = std::exp(x[j] - m);
    sum += x[j];
  }
  return sum;
}

const AttentionTileKernels& GetAttentionTileKernels(Isa isa) {
  static const AttentionTileKernels kRef = {attention_scores_ref, attention_accumulate_ref,
                                            exp_sum_ref};
  return isa >= Isa::kAvx2 ? cpu::kAttentionTileAvx2 : kRef;
}

}  // namespace squeeze
