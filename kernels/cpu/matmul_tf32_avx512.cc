// AVX-512 matrix kernels for TF32 weights (semantics in kernels/ref/quant_act.h): each call
// rounds its input tokens to TF32 once into a per-thread buffer (integer ops on the bit
// patterns), then f32 FMA tiles over the stored (already rounded) weights.
// Compiled with -mavx512f/bw/vl/dq: everything stays in the anonymous namespace and uses only
// intrinsics and plain loops, so no AVX-512 copy of a shared inline function can leak out.

// GCC 12 warns about the deliberately undefined registers inside its own intrinsics headers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstdlib>
#include <cstring>

#include "cpu/cpu_kernels.h"
#include "cpu/tile_loops.h"
#include "ref/quant_act.h"

namespace squeeze::cpu {
namespace {

constexpr int kLanes = 16;

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

// TF32 rounding of 16 floats: round to nearest even at bit 13 and clear the low 13 bits;
// Inf and NaN (exponent all ones) pass unchanged.
__m512i Round16(__m512i u) {
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 13), _mm512_set1_epi32(1));
  const __m512i r =
      _mm512_and_si512(_mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0xfff))),
                       _mm512_set1_epi32(~0x1fff));
  const __m512i exp = _mm512_set1_epi32(0x7f800000);
  const __mmask16 special = _mm512_cmpeq_epi32_mask(_mm512_and_si512(u, exp), exp);
  return _mm512_mask_mov_epi32(r, special, u);
}

// Rounds the n * cols inputs into the thread's scratch; null when it cannot be allocated.
const float* RoundInputs(const float* x, int64_t count) {
  float* out = static_cast<float*>(scratch.Get(size_t(count) * 4 + 64));
  if (!out) return nullptr;
  for (int64_t i = 0; i < count; i += kLanes) {
    const __mmask16 m =
        count - i >= kLanes ? __mmask16(0xffff) : __mmask16((1u << (count - i)) - 1);
    _mm512_mask_storeu_epi32(out + i, m, Round16(_mm512_maskz_loadu_epi32(m, x + i)));
  }
  return out;
}

// Tile of R weight rows x T tokens: y[j * ldy + i] = sum_c W[i][c] * x[j * cols + c] for
// i < R, j < T (x already rounded). R*T accumulators live in registers; each weight vector is
// loaded once and used T times, each x vector R times.
template <int R, int T>
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
      const __m512 wv = _mm512_loadu_ps(reinterpret_cast<const float*>(w + i * row_bytes) + c);
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
      float wf;
      std::memcpy(&wf, w + i * row_bytes + 4 * c, 4);
      for (int j = 0; j < T; ++j) s[i][j] = __builtin_fmaf(wf, x[j * cols + c], s[i][j]);
    }
  }
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < T; ++j) y[j * ldy + i] = s[i][j];
}

// Row and token blocking as in matmul_avx512.cc (8 rows for gemv, 6 rows x 4 tokens for gemm).
constexpr int kGemvRows = 8;
constexpr int kGemmRows = 6;
constexpr int kGemmTokens = 4;

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
const MatmulKernels kMatmulTf32Avx512[kWeightFormatCount] = {
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
