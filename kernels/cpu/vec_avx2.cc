// AVX2 versions of the vector kernels (ops.h, VecKernels): dot with four 8-wide FMA chains, axpy
// 8 at a time, rmsnorm with its sum of squares in double, swiglu with a polynomial exp; all with
// scalar tails.
// Compiled with -mavx2 -mfma: everything stays in the anonymous namespace and uses only
// intrinsics and plain loops, so no AVX2 copy of a shared inline function can leak out.
#include <immintrin.h>

#include "cpu/cpu_kernels.h"
#include "cpu/lanes_avx2.h"

namespace squeeze::cpu {
namespace {

float DotAvx2(const float* a, const float* b, int64_t n) {
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
#pragma GCC unroll 4
    for (int u = 0; u < 4; ++u)
      acc[u] =
          _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8 * u), _mm256_loadu_ps(b + i + 8 * u), acc[u]);
  }
  for (; i + 8 <= n; i += 8)
    acc[0] = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc[0]);
  const __m256 v = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
  float sum = HsumAvx2(v);
  for (; i < n; ++i) sum = __builtin_fmaf(a[i], b[i], sum);
  return sum;
}

void AxpyAvx2(float* y, float a, const float* x, int64_t n) {
  const __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] = __builtin_fmaf(a, x[i], y[i]);
}

// As rmsnorm_ref: the sum of squares in double (4 lanes per half vector, two chains), then
// out = x * scale * w in the reference's order, so that only the summation order differs.
void RmsnormAvx2(float* out, const float* x, const float* w, int64_t n, float eps) {
  __m256d acc[2] = {_mm256_setzero_pd(), _mm256_setzero_pd()};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
    const __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
    acc[0] = _mm256_fmadd_pd(lo, lo, acc[0]);
    acc[1] = _mm256_fmadd_pd(hi, hi, acc[1]);
  }
  const __m256d a = _mm256_add_pd(acc[0], acc[1]);
  __m128d h = _mm_add_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd(a, 1));
  double ss = _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
  for (int64_t j = i; j < n; ++j) ss += double(x[j]) * x[j];
  const float scale = float(1.0 / __builtin_sqrt(ss / double(n) + eps));
  const __m256 vs = _mm256_set1_ps(scale);
  for (i = 0; i + 8 <= n; i += 8)
    _mm256_storeu_ps(
        out + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vs), _mm256_loadu_ps(w + i)));
  for (; i < n; ++i) out[i] = x[i] * scale * w[i];
}

// gate = silu(gate) * up. With e = exp(-|g|) (never overflows): silu(g) = g / (1 + e) for
// g >= 0 and g * e / (1 + e) below, the reference's g / (1 + exp(-g)) rearranged.
void SwigluAvx2(float* gate, const float* up, int64_t n) {
  const __m256 sign = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    const __m256 e = ExpNonPositiveAvx2(_mm256_or_ps(g, sign));  // exp(-|g|)
    const __m256 negative = _mm256_cmp_ps(g, _mm256_setzero_ps(), _CMP_LT_OQ);
    const __m256 num = _mm256_blendv_ps(g, _mm256_mul_ps(g, e), negative);
    const __m256 silu = _mm256_div_ps(num, _mm256_add_ps(one, e));
    _mm256_storeu_ps(gate + i, _mm256_mul_ps(silu, _mm256_loadu_ps(up + i)));
  }
  for (; i < n; ++i) {
    const float g = gate[i];
    gate[i] = g / (1.0f + __builtin_expf(-g)) * up[i];
  }
}

}  // namespace

const VecKernels kVecAvx2 = {DotAvx2, AxpyAvx2, RmsnormAvx2, SwigluAvx2};

}  // namespace squeeze::cpu
