// AVX-512 matrix kernels for F32, F16 and BF16 weights: widen 16 weights to f32, then FMA.
// Compiled with -mavx512f/bw/vl/dq: everything stays in the anonymous namespace and uses only
// intrinsics and plain loops, so no AVX-512 copy of a shared inline function can leak out.

// GCC 12 warns about the deliberately undefined registers inside its own intrinsics headers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstring>

#include "cpu/cpu_kernels.h"
#include "cpu/tile_loops.h"

namespace squeeze::cpu {
namespace {

constexpr int kLanes = 16;

// 16 weights starting at column c of a row, widened to f32.
template <WeightFormat F>
__m512 load16(const uint8_t* row, int64_t c) {
  if constexpr (F == WeightFormat::kF32) {
    return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + c);
  } else if constexpr (F == WeightFormat::kF16) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * c)));
  } else {  // kBF16: a bf16 is the high half of an f32.
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * c));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
}

// One weight for the scalar tail.
template <WeightFormat F>
float load1(const uint8_t* row, int64_t c) {
  if constexpr (F == WeightFormat::kF32) {
    return reinterpret_cast<const float*>(row)[c];
  } else {
    uint16_t h;
    std::memcpy(&h, row + 2 * c, 2);
    if constexpr (F == WeightFormat::kF16) {
      return _cvtsh_ss(h);
    } else {
      const uint32_t u = uint32_t(h) << 16;
      float f;
      std::memcpy(&f, &u, 4);
      return f;
    }
  }
}

// Tile of R weight rows x T tokens: y[j * ldy + i] = sum_c W[i][c] * x[j * cols + c] for
// i < R, j < T. R*T accumulators live in registers; each weight vector is widened once and
// used T times, each x vector R times.
template <WeightFormat F, int R, int T>
void tile(const uint8_t* w, int64_t row_bytes, const float* x, float* y, int64_t ldy,
          int64_t cols) {
  __m512 acc[R][T];
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < T; ++j) acc[i][j] = _mm512_setzero_ps();

  int64_t c = 0;
  for (; c + kLanes <= cols; c += kLanes) {
    __m512 xv[T];
#pragma GCC unroll 8
    for (int j = 0; j < T; ++j) xv[j] = _mm512_loadu_ps(x + j * cols + c);
#pragma GCC unroll 8
    for (int i = 0; i < R; ++i) {
      const __m512 wv = load16<F>(w + i * row_bytes, c);
#pragma GCC unroll 8
      for (int j = 0; j < T; ++j) acc[i][j] = _mm512_fmadd_ps(wv, xv[j], acc[i][j]);
    }
  }

  float s[R][T];
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < T; ++j) s[i][j] = _mm512_reduce_add_ps(acc[i][j]);
  for (; c < cols; ++c) {
    for (int i = 0; i < R; ++i) {
      const float wf = load1<F>(w + i * row_bytes, c);
      for (int j = 0; j < T; ++j)
        s[i][j] = __builtin_fmaf(wf, x[j * cols + c],
                                 s[i][j]);  // explicit: same rounding in every tile shape
    }
  }
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < T; ++j) y[j * ldy + i] = s[i][j];
}

// gemv of S parts of the rows side by side, A adjacent rows in each (S * A FMA chains): rows
// r + a + s * part for a < A, s < S. Each step prefetches its rows kPrefetchBytes ahead.
template <WeightFormat F, int S, int A>
void SplitTile(const uint8_t* w, int64_t row_bytes, int64_t part_bytes, const float* x, float* y,
               int64_t part, int64_t cols) {
  constexpr int64_t kWeightBytes = F == WeightFormat::kF32 ? 4 : 2;
  __m512 acc[S][A];
#pragma GCC unroll 8
  for (int s = 0; s < S; ++s)
#pragma GCC unroll 8
    for (int a = 0; a < A; ++a) acc[s][a] = _mm512_setzero_ps();
  int64_t c = 0;
  for (; c + 2 * kLanes <= cols; c += 2 * kLanes) {
    const __m512 x0 = _mm512_loadu_ps(x + c), x1 = _mm512_loadu_ps(x + c + kLanes);
#pragma GCC unroll 8
    for (int s = 0; s < S; ++s)
#pragma GCC unroll 8
      for (int a = 0; a < A; ++a) {
        const uint8_t* r = w + s * part_bytes + a * row_bytes;
        PrefetchAhead<2 * kLanes * kWeightBytes>(r + c * kWeightBytes);
        acc[s][a] = _mm512_fmadd_ps(load16<F>(r, c), x0, acc[s][a]);
        acc[s][a] = _mm512_fmadd_ps(load16<F>(r, c + kLanes), x1, acc[s][a]);
      }
  }
  for (; c + kLanes <= cols; c += kLanes) {
    const __m512 x0 = _mm512_loadu_ps(x + c);
#pragma GCC unroll 8
    for (int s = 0; s < S; ++s)
#pragma GCC unroll 8
      for (int a = 0; a < A; ++a)
        acc[s][a] =
            _mm512_fmadd_ps(load16<F>(w + s * part_bytes + a * row_bytes, c), x0, acc[s][a]);
  }
#pragma GCC unroll 8
  for (int s = 0; s < S; ++s)
#pragma GCC unroll 8
    for (int a = 0; a < A; ++a) {
      float sum = _mm512_reduce_add_ps(acc[s][a]);
      const uint8_t* r = w + s * part_bytes + a * row_bytes;
      for (int64_t k = c; k < cols; ++k) sum = __builtin_fmaf(load1<F>(r, k), x[k], sum);
      y[s * part + a] = sum;
    }
}

template <WeightFormat F, int S, int A>
void GemvSplit(const void* w, int64_t row_bytes, const float* x, float* y, int64_t rows,
               int64_t cols) {
  const uint8_t* p = static_cast<const uint8_t*>(w);
  SplitRowLoop<S, A>(
      rows,
      [&](int64_t r, int64_t part) {
        SplitTile<F, S, A>(p + r * row_bytes, row_bytes, part * row_bytes, x, y + r, part, cols);
      },
      [&](int64_t r) { tile<F, 1, 1>(p + r * row_bytes, row_bytes, x, y + r, 0, cols); });
}

// gemv (f32, f16): 4 far-apart parts of the rows, 2 adjacent rows in each, 8 FMA chains
// sharing each load of x. On the 2-core Zen 5 development VM one thread reads from memory
// faster from 4 distant streams than from 8 adjacent rows (README, "On an AVX-512 machine"):
// decode of the 125m model f32 8.3-8.6 -> 6.2-7.2 ms/token, f16 3.7-4.4 -> 3.2-3.3 (3 of 4
// runs; the 4th 5.2, a slow spell).
constexpr int kGemvParts = 4, kGemvAdjacent = 2;
// gemv of bf16 without the BF16 instructions: 8 adjacent rows at a time (8 FMA chains).
constexpr int kGemvRows = 8;

// gemm: tiles of 6 rows x 4 tokens (24 accumulators + 4 x + 1 weight of the 32 registers;
// measured 10-15% faster than 4x4, while 4x6 and 8x3 were slower). Rows are the outer loop, so
// a tile's weight rows stay in cache while every token group passes over them and each weight
// is read from memory once. (Splitting the columns into blocks that keep x in L2 measured
// slower: x of 16 tokens of 11008 columns already stays in L2.)
constexpr int kGemmRows = 6;
constexpr int kGemmTokens = 4;

// The tile of this file for the shared row/token loops (cpu/tile_loops.h).
template <WeightFormat F>
struct FileTile {
  template <int R, int T>
  static void Run(const uint8_t* w, int64_t row_bytes, const float* x, float* y, int64_t ldy,
                  int64_t cols) {
    tile<F, R, T>(w, row_bytes, x, y, ldy, cols);
  }
};

template <WeightFormat F>
constexpr MatmulKernels Avx512() {
  if constexpr (F == WeightFormat::kBF16) {  // x rounded to bf16 first (matmul.h)
    return {GemvRoundedX<FileTile<F>, kGemvRows, RoundToBf16>,
            GemmRoundedX<FileTile<F>, kGemmRows, kGemmTokens, RoundToBf16>};
  }
  return {GemvSplit<F, kGemvParts, kGemvAdjacent>,
          GemmByTiles<FileTile<F>, kGemmRows, kGemmTokens>};
}

}  // namespace

const MatmulKernels kMatmulAvx512[kWeightFormatCount] = {
    Avx512<WeightFormat::kF32>(),
    Avx512<WeightFormat::kF16>(),
    Avx512<WeightFormat::kBF16>(),
};

}  // namespace squeeze::cpu
