// AVX2 micro-kernels of tiled attention (squeeze/kernels/attention.h).
// scores: 32 keys at a time are transposed into a (head_dim, 32) block, then two query rows at
// a time accumulate 2 x 32 scores in eight registers (one FMA per broadcast query element and
// key vector, no horizontal sums); with fewer than 4 rows (decode) each row takes dot products
// with 4 keys at a time instead. accumulate: two output rows x 32 dimensions in registers
// over all keys. exp_sum: Cephes-style polynomial exp, 8 lanes at a time.
// Compiled with -mavx2 -mfma: everything stays in the anonymous namespace and uses only
// intrinsics and plain loops, so no AVX2 copy of a shared inline function can leak out.
#include <immintrin.h>

#include "cpu/lanes_avx2.h"
#include "squeeze/kernels/attention.h"

namespace squeeze::cpu {
namespace {

constexpr int64_t kKeys = 32;         // keys per transposed block
constexpr int64_t kMaxHeadDim = 256;  // larger heads take the reference kernel
constexpr int64_t kFewRows = 4;       // below: dot products instead of a transposed block

// Few query rows (decode): a transposed key block would cost more than the products, so each
// row takes dot products with four keys at a time.
void ScoresFewRowsAvx2(const float* q, int64_t ldq, const float* k, int64_t ldk, int64_t rows,
                       int64_t cols, int64_t head_dim, float scale, float* s, int64_t lds) {
  const int64_t vec = head_dim / 8 * 8;
  for (int64_t i = 0; i < rows; ++i) {
    const float* qi = q + i * ldq;
    int64_t j = 0;
    for (; j + 4 <= cols; j += 4) {
      const float* k0 = k + j * ldk;
      __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
      for (int64_t d = 0; d < vec; d += 8) {
        const __m256 qv = _mm256_loadu_ps(qi + d);
        a0 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k0 + d), a0);
        a1 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k0 + ldk + d), a1);
        a2 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k0 + 2 * ldk + d), a2);
        a3 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k0 + 3 * ldk + d), a3);
      }
      // Sum the four accumulators' lanes pairwise: one vector of four dot products.
      const __m256 h01 = _mm256_hadd_ps(a0, a1), h23 = _mm256_hadd_ps(a2, a3);
      const __m256 h = _mm256_hadd_ps(h01, h23);
      __m128 d4 = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
      alignas(16) float out[4];
      _mm_store_ps(out, d4);
      for (int u = 0; u < 4; ++u) {
        float acc = out[u];
        for (int64_t d = vec; d < head_dim; ++d) acc += qi[d] * k0[u * ldk + d];
        s[i * lds + j + u] = acc * scale;
      }
    }
    for (; j < cols; ++j) {
      const float* kj = k + j * ldk;
      __m256 a = _mm256_setzero_ps();
      for (int64_t d = 0; d < vec; d += 8)
        a = _mm256_fmadd_ps(_mm256_loadu_ps(qi + d), _mm256_loadu_ps(kj + d), a);
      float acc = HsumAvx2(a);
      for (int64_t d = vec; d < head_dim; ++d) acc += qi[d] * kj[d];
      s[i * lds + j] = acc * scale;
    }
  }
}

void ScoresAvx2(const float* q, int64_t ldq, const float* k, int64_t ldk, int64_t rows,
                int64_t cols, int64_t head_dim, float scale, float* s, int64_t lds) {
  if (rows < kFewRows) {
    ScoresFewRowsAvx2(q, ldq, k, ldk, rows, cols, head_dim, scale, s, lds);
    return;
  }
  if (head_dim > kMaxHeadDim) {
    attention_scores_ref(q, ldq, k, ldk, rows, cols, head_dim, scale, s, lds);
    return;
  }
  alignas(32) float kt[kMaxHeadDim * kKeys];
  alignas(32) float tail[2 * kKeys];
  const __m256 vscale = _mm256_set1_ps(scale);
  for (int64_t j0 = 0; j0 < cols; j0 += kKeys) {
    const int64_t jc = cols - j0 < kKeys ? cols - j0 : kKeys;
    for (int64_t d = 0; d < head_dim; ++d) {
      float* row = kt + d * kKeys;
      for (int64_t j = 0; j < jc; ++j) row[j] = k[(j0 + j) * ldk + d];
      for (int64_t j = jc; j < kKeys; ++j) row[j] = 0.0f;
    }
    int64_t i = 0;
    for (; i < rows; i += 2) {
      const bool two = i + 1 < rows;
      const float* q0 = q + i * ldq;
      const float* q1 = two ? q0 + ldq : q0;
      __m256 a0[4], a1[4];
      for (int c = 0; c < 4; ++c) a0[c] = a1[c] = _mm256_setzero_ps();
      for (int64_t d = 0; d < head_dim; ++d) {
        const float* kr = kt + d * kKeys;
        const __m256 b0 = _mm256_broadcast_ss(q0 + d), b1 = _mm256_broadcast_ss(q1 + d);
#pragma GCC unroll 4
        for (int c = 0; c < 4; ++c) {
          const __m256 kv = _mm256_load_ps(kr + 8 * c);
          a0[c] = _mm256_fmadd_ps(b0, kv, a0[c]);
          a1[c] = _mm256_fmadd_ps(b1, kv, a1[c]);
        }
      }
      float* s0 = s + i * lds + j0;
      float* s1 = s0 + lds;
      if (jc == kKeys) {
        for (int c = 0; c < 4; ++c) {
          _mm256_storeu_ps(s0 + 8 * c, _mm256_mul_ps(a0[c], vscale));
          if (two) _mm256_storeu_ps(s1 + 8 * c, _mm256_mul_ps(a1[c], vscale));
        }
      } else {
        for (int c = 0; c < 4; ++c) {
          _mm256_store_ps(tail + 8 * c, _mm256_mul_ps(a0[c], vscale));
          _mm256_store_ps(tail + kKeys + 8 * c, _mm256_mul_ps(a1[c], vscale));
        }
        for (int64_t j = 0; j < jc; ++j) s0[j] = tail[j];
        if (two) {
          for (int64_t j = 0; j < jc; ++j) s1[j] = tail[kKeys + j];
        }
      }
    }
  }
}

// One or two output rows, dimensions [d0, d0 + 8 * nv) with nv <= 4 vectors.
template <int kRows>
void AccumulateBlock(const float* p, int64_t ldp, const float* v, int64_t ldv, int64_t cols,
                     int64_t d0, int nv, float* o, int64_t ldo) {
  __m256 acc[kRows][4];
  for (int r = 0; r < kRows; ++r) {
    for (int c = 0; c < nv; ++c) acc[r][c] = _mm256_loadu_ps(o + r * ldo + d0 + 8 * c);
  }
  for (int64_t j = 0; j < cols; ++j) {
    const float* vr = v + j * ldv + d0;
    __m256 w[kRows];
    for (int r = 0; r < kRows; ++r) w[r] = _mm256_broadcast_ss(p + r * ldp + j);
    for (int c = 0; c < nv; ++c) {
      const __m256 vv = _mm256_loadu_ps(vr + 8 * c);
      for (int r = 0; r < kRows; ++r) acc[r][c] = _mm256_fmadd_ps(w[r], vv, acc[r][c]);
    }
  }
  for (int r = 0; r < kRows; ++r) {
    for (int c = 0; c < nv; ++c) _mm256_storeu_ps(o + r * ldo + d0 + 8 * c, acc[r][c]);
  }
}

void AccumulateAvx2(const float* p, int64_t ldp, const float* v, int64_t ldv, int64_t rows,
                    int64_t cols, int64_t head_dim, float* o, int64_t ldo) {
  const int64_t vec_dims = head_dim / 8 * 8;
  for (int64_t i = 0; i < rows; i += 2) {
    const bool two = i + 1 < rows;
    for (int64_t d0 = 0; d0 < vec_dims; d0 += 32) {
      const int nv = int(vec_dims - d0 >= 32 ? 4 : (vec_dims - d0) / 8);
      if (two) {
        AccumulateBlock<2>(p + i * ldp, ldp, v, ldv, cols, d0, nv, o + i * ldo, ldo);
      } else {
        AccumulateBlock<1>(p + i * ldp, ldp, v, ldv, cols, d0, nv, o + i * ldo, ldo);
      }
    }
    for (int64_t r = i; r < (two ? i + 2 : i + 1); ++r) {
      for (int64_t j = 0; j < cols; ++j) {
        const float w = p[r * ldp + j];
        for (int64_t d = vec_dims; d < head_dim; ++d) o[r * ldo + d] += w * v[j * ldv + d];
      }
    }
  }
}

float ExpSumAvx2(float* x, int64_t n, float m) {
  const __m256 vm = _mm256_set1_ps(m);
  __m256 acc = _mm256_setzero_ps();
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m256 e = ExpNonPositiveAvx2(_mm256_sub_ps(_mm256_loadu_ps(x + j), vm));
    _mm256_storeu_ps(x + j, e);
    acc = _mm256_add_ps(acc, e);
  }
  float sum = HsumAvx2(acc);
  for (; j < n; ++j) {
    x[j] = __builtin_expf(x[j] - m);
    sum += x[j];
  }
  return sum;
}

}  // namespace

extern const AttentionTileKernels kAttentionTileAvx2;  // declared in ref/attention_ref.cc
const AttentionTileKernels kAttentionTileAvx2 = {ScoresAvx2, AccumulateAvx2, ExpSumAvx2};

}  // namespace squeeze::cpu
