// AVX2 matrix kernels for F32, F16 (F16C) and BF16 weights: widen 8 weights to f32, then FMA.
// Compiled with -mavx2 -mfma -mf16c: everything stays in the anonymous namespace and uses only
// intrinsics and plain loops, so no AVX2 copy of a shared inline function can leak out.

// GCC 12 warns about the deliberately undefined registers inside its own intrinsics headers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstdlib>
#include <cstring>

#include "cpu/cpu_kernels.h"
#include "cpu/lanes_avx2.h"
#include "cpu/tile_loops.h"

namespace squeeze::cpu {
namespace {

constexpr int kLanes = 8;

// 8 weights starting at column c of a row, widened to f32.
template <WeightFormat F>
__m256 load8(const uint8_t* row, int64_t c) {
  if constexpr (F == WeightFormat::kF32) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + c);
  } else if constexpr (F == WeightFormat::kF16) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * c)));
  } else {  // kBF16: a bf16 is the high half of an f32.
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * c));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
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
  __m256 acc[R][T];
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < T; ++j) acc[i][j] = _mm256_setzero_ps();

  int64_t c = 0;
  for (; c + kLanes <= cols; c += kLanes) {
    __m256 xv[T];
#pragma GCC unroll 8
    for (int j = 0; j < T; ++j) xv[j] = _mm256_loadu_ps(x + j * cols + c);
#pragma GCC unroll 8
    for (int i = 0; i < R; ++i) {
      const __m256 wv = load8<F>(w + i * row_bytes, c);
#pragma GCC unroll 8
      for (int j = 0; j < T; ++j) acc[i][j] = _mm256_fmadd_ps(wv, xv[j], acc[i][j]);
    }
  }

  float s[R][T];
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < T; ++j) s[i][j] = HsumAvx2(acc[i][j]);
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

// gemv: one row at a time, front to back, so that the matrix is read as one linear stream with
// software prefetch ahead (tile_loops.h, PrefetchAhead); 4 FMA chains of 8 columns. On the
// 2-core AMD EPYC (AVX2) VM, with the 768- and 2048-column rows of a 125M-parameter model, this
// read f16 weights 1.8x faster than tiles of 8 rows side by side (8 short streams that the
// hardware prefetcher did not keep ahead of), f32 about as fast; x stays in L1.
template <WeightFormat F>
void GemvRows(const void* w, int64_t row_bytes, const float* x, float* y, int64_t rows,
              int64_t cols) {
  constexpr int64_t kStep = 4 * kLanes * (F == WeightFormat::kF32 ? 4 : 2);  // bytes per step
  const uint8_t* p = static_cast<const uint8_t*>(w);
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* row = p + r * row_bytes;
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                     _mm256_setzero_ps()};
    int64_t c = 0;
    for (; c + 4 * kLanes <= cols; c += 4 * kLanes) {
      PrefetchAhead<kStep>(row + c * (kStep / (4 * kLanes)));
#pragma GCC unroll 4
      for (int u = 0; u < 4; ++u)
        acc[u] = _mm256_fmadd_ps(load8<F>(row, c + u * kLanes), _mm256_loadu_ps(x + c + u * kLanes),
                                 acc[u]);
    }
    for (; c + kLanes <= cols; c += kLanes)
      acc[0] = _mm256_fmadd_ps(load8<F>(row, c), _mm256_loadu_ps(x + c), acc[0]);
    float sum =
        HsumAvx2(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
    for (; c < cols; ++c) sum = __builtin_fmaf(load1<F>(row, c), x[c], sum);
    y[r] = sum;
  }
}

// bf16 gemv: x rounded to bf16 first (matmul.h), then GemvRows. The engine rounds once per
// input through the prepared path, not once per chunk of rows.
int64_t Bf16PreparedBytes(int64_t cols) {
  return cols * int64_t(sizeof(float));
}
void PrepareBf16(const float* x, int64_t cols, void* buf) {
  RoundToBf16(x, cols, static_cast<float*>(buf));
}
void GemvPreparedBf16(const void* w, int64_t row_bytes, const void* prepared, float* y,
                      int64_t rows, int64_t cols) {
  GemvRows<WeightFormat::kBF16>(w, row_bytes, static_cast<const float*>(prepared), y, rows, cols);
}
void GemvBf16(const void* w, int64_t row_bytes, const float* x, float* y, int64_t rows,
              int64_t cols) {
  void* xr = ThreadScratch(size_t(Bf16PreparedBytes(cols)));
  if (xr == nullptr) std::abort();
  PrepareBf16(x, cols, xr);
  GemvPreparedBf16(w, row_bytes, xr, y, rows, cols);
}

// gemm: tiles of 4 rows x 3 tokens (12 accumulators + 3 x + 1 weight: all 16 registers). Rows are
// the outer loop, so a tile's weight rows stay in cache while every token group passes over them
// and each weight is read from memory once. (Splitting the columns into blocks that keep x in L2
// measured slower with the AVX-512 kernels: x of 16 tokens of 11008 columns already stays in L2.)
constexpr int kGemmRows = 4;
constexpr int kGemmTokens = 3;

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
constexpr MatmulKernels Avx2() {
  if constexpr (F == WeightFormat::kBF16) {  // x rounded to bf16 first (matmul.h)
    return {GemvBf16, GemmRoundedX<FileTile<F>, kGemmRows, kGemmTokens, RoundToBf16>};
  }
  return {GemvRows<F>, GemmByTiles<FileTile<F>, kGemmRows, kGemmTokens>};
}

}  // namespace

const MatmulKernels kMatmulAvx2[kWeightFormatCount] = {
    Avx2<WeightFormat::kF32>(),
    Avx2<WeightFormat::kF16>(),
    Avx2<WeightFormat::kBF16>(),
};

// Only bf16 transforms its input; the other rows stay empty.
const PreparedGemv kPreparedAvx2[kWeightFormatCount] = {
    {},
    {},
    {Bf16PreparedBytes, PrepareBf16, GemvPreparedBf16},
};

}  // namespace squeeze::cpu
