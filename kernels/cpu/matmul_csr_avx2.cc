// AVX2 kernels of CSR matrices (squeeze/kernels/csr.h). gemv: per row, 16 kept weights per
// step, their inputs gathered by column (vpgatherdps on the widened 16-bit indices), values
// widened from f16 with F16C where stored so, two accumulators. gemm: on transposed inputs,
// each kept weight is broadcast and multiplied into up to 32 tokens' accumulators at once, so
// a row's values and indices are read once per 32 tokens.
// Compiled with -mavx2 -mfma -mf16c: everything stays in the anonymous namespace and uses only
// intrinsics and plain loops (cpu/cpu_kernels.h).
#include <immintrin.h>

#include <algorithm>

#include "cpu/cpu_kernels.h"
#include "cpu/lanes_avx2.h"

namespace squeeze::cpu {
namespace {

template <typename V>
__m256 Load8(const V* v) {
  if constexpr (sizeof(V) == 4) {
    return _mm256_loadu_ps(v);
  } else {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(v)));
  }
}

template <typename V>
float Scalar(const V* v, int64_t k) {
  if constexpr (sizeof(V) == 4) {
    return v[k];
  } else {
    return _cvtsh_ss(v[k]);
  }
}

__m256i Index8(const uint16_t* ix) {
  return _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(ix)));
}

template <typename V>
void CsrGemv(const CsrView& w, const float* x, float* y, int64_t r0, int64_t r1) {
  const V* values = static_cast<const V*>(w.values);
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t b = w.start[r], e = w.start[r + 1];
    const V* v = values + b;
    const uint16_t* ix = w.index + b;
    const int64_t len = e - b;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 16 <= len; k += 16) {
      const __m256 x0 = _mm256_i32gather_ps(x, Index8(ix + k), 4);
      const __m256 x1 = _mm256_i32gather_ps(x, Index8(ix + k + 8), 4);
      a0 = _mm256_fmadd_ps(Load8(v + k), x0, a0);
      a1 = _mm256_fmadd_ps(Load8(v + k + 8), x1, a1);
    }
    float s = HsumAvx2(_mm256_add_ps(a0, a1));
    for (; k < len; ++k) s += Scalar(v, k) * x[ix[k]];
    y[r - r0] = s;
  }
}

// One row against tokens [t0, t0 + 8 * kVecs) of the transposed inputs.
template <typename V, int kVecs>
void RowTokens(const V* v, const uint16_t* ix, int64_t len, const float* xt, int64_t n, int64_t t0,
               float* y, int64_t ldy) {
  __m256 acc[kVecs];
  for (int j = 0; j < kVecs; ++j) acc[j] = _mm256_setzero_ps();
  for (int64_t k = 0; k < len; ++k) {
    const __m256 a = _mm256_set1_ps(Scalar(v, k));
    const float* xc = xt + int64_t(ix[k]) * n + t0;
    for (int j = 0; j < kVecs; ++j)
      acc[j] = _mm256_fmadd_ps(a, _mm256_loadu_ps(xc + 8 * j), acc[j]);
  }
  alignas(32) float out[8 * kVecs];
  for (int j = 0; j < kVecs; ++j) _mm256_store_ps(out + 8 * j, acc[j]);
  for (int t = 0; t < 8 * kVecs; ++t) y[(t0 + t) * ldy] = out[t];
}

template <typename V>
void CsrGemm(const CsrView& w, const float* xt, int64_t n, float* y, int64_t ldy, int64_t r0,
             int64_t r1) {
  const V* values = static_cast<const V*>(w.values);
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t b = w.start[r], len = int64_t(w.start[r + 1]) - b;
    const V* v = values + b;
    const uint16_t* ix = w.index + b;
    float* yr = y + (r - r0);
    int64_t t = 0;
    for (; t + 32 <= n; t += 32) RowTokens<V, 4>(v, ix, len, xt, n, t, yr, ldy);
    for (; t + 8 <= n; t += 8) RowTokens<V, 1>(v, ix, len, xt, n, t, yr, ldy);
    for (; t < n; ++t) {
      float s = 0;
      for (int64_t k = 0; k < len; ++k) s += Scalar(v, k) * xt[int64_t(ix[k]) * n + t];
      yr[t * ldy] = s;
    }
  }
}

}  // namespace

const CsrKernels kCsrAvx2F32 = {CsrGemv<float>, CsrGemm<float>};
const CsrKernels kCsrAvx2F16 = {CsrGemv<uint16_t>, CsrGemm<uint16_t>};

}  // namespace squeeze::cpu
