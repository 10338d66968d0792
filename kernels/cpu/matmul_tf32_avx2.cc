// AVX2 matrix kernels for TF32 weights (semantics in kernels/ref/quant_act.h): each call rounds
// its input tokens to TF32 once into a per-thread buffer (integer ops on the bit patterns),
// then f32 FMA tiles over the stored (already rounded) weights.
// Compiled with -mavx2/-mfma: everything stays in the anonymous namespace and uses only
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
#include "ref/quant_act.h"

namespace squeeze::cpu {
namespace {

constexpr int kLanes = 8;

// Per-thread scratch for the rounded inputs; grows, never shrinks.
struct Scratch {
  void* p = nullptr;
  size_t cap = 0;
  ~Scratch() { std::free(p); }
  // `bytes` bytes aligned to 64, or null when out of memory.
  void* Get(size_t bytes) {
    if (bytes > cap) {
      std::free(p);
      cap = (bytes + 4095) / 4096 * 4096;
      p = std::aligned_alloc(64, cap);
      if (!p) cap = 0;
    }
    return p;
  }
};
thread_local Scratch scratch;

// TF32 rounding of 8 floats: round to nearest even at bit 13 and clear the low 13 bits;
// Inf and NaN (exponent all ones) pass unchanged.
__m256i Round8(__m256i u) {
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 13), _mm256_set1_epi32(1));
  const __m256i r =
      _mm256_and_si256(_mm256_add_epi32(u, _mm256_add_epi32(lsb, _mm256_set1_epi32(0xfff))),
                       _mm256_set1_epi32(~0x1fff));
  const __m256i exp = _mm256_set1_epi32(0x7f800000);
  const __m256i special = _mm256_cmpeq_epi32(_mm256_and_si256(u, exp), exp);
  return _mm256_blendv_epi8(r, u, special);
}

// Rounds the n * cols inputs into the thread's scratch; null when it cannot be allocated.
const float* RoundInputs(const float* x, int64_t count) {
  float* out = static_cast<float*>(scratch.Get(size_t(count) * 4 + 64));
  if (!out) return nullptr;
  int64_t i = 0;
  for (; i + kLanes <= count; i += kLanes) {
    const __m256i u = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), Round8(u));
  }
  if (i < count) {
    const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(int(count - i)),
                                         _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const __m256i u = _mm256_castps_si256(_mm256_maskload_ps(x + i, m));
    _mm256_maskstore_ps(out + i, m, _mm256_castsi256_ps(Round8(u)));
  }
  return out;
}

// Tile of R weight rows x T tokens: y[j * ldy + i] = sum_c W[i][c] * x[j * cols + c] for
// i < R, j < T (x already rounded). R*T accumulators live in registers; each weight vector is
// loaded once and used T times, each x vector R times.
template <int R, int T>
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
      const __m256 wv = _mm256_loadu_ps(reinterpret_cast<const float*>(w + i * row_bytes) + c);
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
      float wf;
      std::memcpy(&wf, w + i * row_bytes + 4 * c, 4);
      for (int j = 0; j < T; ++j) s[i][j] = __builtin_fmaf(wf, x[j * cols + c], s[i][j]);
    }
  }
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < T; ++j) y[j * ldy + i] = s[i][j];
}

// Row and token blocking as in matmul_avx2.cc (8 rows for gemv, 4 rows x 3 tokens for gemm).
constexpr int kGemvRows = 8;
constexpr int kGemmRows = 4;
constexpr int kGemmTokens = 3;

// The tile of this file for the shared row/token loops (cpu/tile_loops.h).
struct FileTile {
  template <int R, int T>
  static void Run(const uint8_t* w, int64_t row_bytes, const float* x, float* y, int64_t ldy,
                  int64_t cols) {
    tile<R, T>(w, row_bytes, x, y, ldy, cols);
  }
};

void Gemv(const void* w, int64_t row_bytes, const float* x, float* y, int64_t rows, int64_t cols) {
  const float* xr = RoundInputs(x, cols);
  if (!xr) return gemv_tf32_ref(w, row_bytes, x, y, rows, cols);
  GemvByRows<FileTile, kGemvRows>(w, row_bytes, xr, y, rows, cols);
}

void Gemm(const void* w, int64_t row_bytes, const float* x, int64_t n, float* y, int64_t ldy,
          int64_t rows, int64_t cols) {
  const float* xr = RoundInputs(x, n * cols);
  if (!xr) return gemm_tf32_ref(w, row_bytes, x, n, y, ldy, rows, cols);
  GemmByTiles<FileTile, kGemmRows, kGemmTokens>(w, row_bytes, xr, n, y, ldy, rows, cols);
}

}  // namespace

// Indexed by WeightFormat: only kTf32 has kernels here.
const MatmulKernels kMatmulTf32Avx2[kWeightFormatCount] = {
    /* formats 0-32 */ {},
    {},
    {},
    {},
    {},
    {},
    {},
    {},
    {},
    {},
    {},
    {},
    {},
    {},
    {},
    {},
    {},
    {},
    {},
    {},
    {},
    {},
    {},
    {},
    {},
    {},
    {},
    {},
    {},
    {},
    {},
    {},
    {},
    /* kTf32 */ {Gemv, Gemm},
};
static_assert(int(WeightFormat::kTf32) == 33);

}  // namespace squeeze::cpu
