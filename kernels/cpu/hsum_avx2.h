// The sum of a vector's 8 floats, for kernel files compiled with -mavx2 only (static: each
// such file gets its own copy, so nothing compiled for AVX2 leaks into generic code).
#pragma once

#include <immintrin.h>

namespace squeeze::cpu {

static inline float HsumAvx2(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

}  // namespace squeeze::cpu
