// AVX2 + FMA kernel of the training products: C(M, N) (+)= A(M, K) · B(K, N) with A read
// through two strides (so A may be a transposed view) and B, C row-major. Register tiles of
// 6 rows x 16 columns (12 accumulators, 2 B vectors, 1 broadcast A value: 15 of 16 registers)
// accumulate over blocks of kKc = 256 values of K, whose 256 x 16 panel of B (16 KB) stays
// in L1 while the 6-row tiles walk down A. Columns left over (N % 8) use masked loads and
// stores. Compiled with -mavx2 -mfma; everything but the entry point has internal linkage.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstdint>

#include "train/matmul_kernels.h"

namespace squeeze::train_internal {
namespace {

constexpr int64_t kKc = 256;
constexpr int kMr = 6;

// Lanes [0, n) of a mask (n in [1, 8]).
__m256i TailMask(int64_t n) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n)), idx);
}

// R rows x V vectors of 8 columns (the last one masked when `masked`), over K values.
template <int R, int V, bool kMasked>
void Tile(const float* a, int64_t a_row, int64_t a_col, const float* b, int64_t ldb, float* c,
          int64_t ldc, int64_t K, bool load_c, __m256i mask) {
  __m256 acc[R][V];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) {
      const bool tail = kMasked && v == V - 1;
      float* cp = c + r * ldc + 8 * v;
      acc[r][v] = !load_c ? _mm256_setzero_ps()
                  : tail  ? _mm256_maskload_ps(cp, mask)
                          : _mm256_loadu_ps(cp);
    }
  }
  for (int64_t p = 0; p < K; ++p) {
    __m256 bv[V];
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) {
      const float* bp = b + p * ldb + 8 * v;
      bv[v] = kMasked && v == V - 1 ? _mm256_maskload_ps(bp, mask) : _mm256_loadu_ps(bp);
    }
    const float* ap = a + p * a_col;
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m256 av = _mm256_broadcast_ss(ap + r * a_row);
#pragma GCC unroll 2
      for (int v = 0; v < V; ++v) acc[r][v] = _mm256_fmadd_ps(av, bv[v], acc[r][v]);
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) {
      float* cp = c + r * ldc + 8 * v;
      if (kMasked && v == V - 1) {
        _mm256_maskstore_ps(cp, mask, acc[r][v]);
      } else {
        _mm256_storeu_ps(cp, acc[r][v]);
      }
    }
  }
}

// All rows of a column strip of width 16 (V = 2), 8 (V = 1), or less (masked).
template <int V, bool kMasked>
void Strip(const float* a, int64_t a_row, int64_t a_col, const float* b, int64_t ldb, float* c,
           int64_t ldc, int64_t M, int64_t K, bool load_c, __m256i mask) {
  int64_t i = 0;
  for (; i + kMr <= M; i += kMr)
    Tile<kMr, V, kMasked>(a + i * a_row, a_row, a_col, b, ldb, c + i * ldc, ldc, K, load_c, mask);
  const float* ai = a + i * a_row;
  float* ci = c + i * ldc;
  switch (M - i) {
    case 5:
      Tile<5, V, kMasked>(ai, a_row, a_col, b, ldb, ci, ldc, K, load_c, mask);
      break;
    case 4:
      Tile<4, V, kMasked>(ai, a_row, a_col, b, ldb, ci, ldc, K, load_c, mask);
      break;
    case 3:
      Tile<3, V, kMasked>(ai, a_row, a_col, b, ldb, ci, ldc, K, load_c, mask);
      break;
    case 2:
      Tile<2, V, kMasked>(ai, a_row, a_col, b, ldb, ci, ldc, K, load_c, mask);
      break;
    case 1:
      Tile<1, V, kMasked>(ai, a_row, a_col, b, ldb, ci, ldc, K, load_c, mask);
      break;
    default:
      break;
  }
}

}  // namespace

void GemmBlockAvx2(const float* a, int64_t a_row, int64_t a_col, const float* b, int64_t ldb,
                   float* c, int64_t ldc, int64_t M, int64_t N, int64_t K, bool accumulate) {
  const __m256i full = _mm256_set1_epi32(-1);
  for (int64_t p0 = 0; p0 < K; p0 += kKc) {
    const int64_t kc = K - p0 < kKc ? K - p0 : kKc;
    const bool load_c = accumulate || p0 > 0;
    const float* ap = a + p0 * a_col;
    const float* bp = b + p0 * ldb;
    int64_t j = 0;
    for (; j + 16 <= N; j += 16)
      Strip<2, false>(ap, a_row, a_col, bp + j, ldb, c + j, ldc, M, kc, load_c, full);
    if (j + 8 <= N) {
      Strip<1, false>(ap, a_row, a_col, bp + j, ldb, c + j, ldc, M, kc, load_c, full);
      j += 8;
    }
    if (j < N) {
      Strip<1, true>(ap, a_row, a_col, bp + j, ldb, c + j, ldc, M, kc, load_c, TailMask(N - j));
    }
  }
  if (K == 0 && !accumulate) {
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) c[i * ldc + j] = 0.0f;
  }
}

}  // namespace squeeze::train_internal
