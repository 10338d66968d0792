// Lane helpers for kernel files compiled with -mavx2 only (static: each such file gets its own
// copy, so nothing compiled for AVX2 leaks into generic code).
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace squeeze::cpu {

// The sum of a vector's 8 floats.
static inline float HsumAvx2(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// The largest of a vector's 8 floats.
static inline float HmaxAvx2(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

// All-ones lanes where lane index < left (for _mm256_maskload_ps at the end of a row).
static inline __m256i LaneMaskAvx2(int64_t left) {
  const int l = left > 8 ? 8 : left < 0 ? 0 : int(left);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(l), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

}  // namespace squeeze::cpu
