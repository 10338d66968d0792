// AVX-512 VNNI matrix kernels for W8A8 weights (semantics in kernels/ref/quant_act.h): each call
// quantizes its input tokens to int8 once into a per-thread buffer (a gemv can also take them
// prepared once by its caller: PreparedGemv), then tiles of R rows x T tokens accumulate exact
// int32 dot products with vpdpbusd, and the two scales are applied once per output. A gemv walks
// 4 far-apart parts of its rows side by side (as tile_loops.h, GemvOnPrepared). Compiled with
// -mavx512f/bw/vl/dq and -mavx512vnni: kernel_table.cc only hands these out on CPUs with
// AVX512-VNNI (elsewhere the AVX2 W8A8 kernels run at the AVX-512 level). Everything stays in the
// anonymous namespace and uses only intrinsics and plain loops.

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

constexpr int kBytes = 64;  // int8 lanes of a vector
// Columns per int32 accumulation: |sum (qw + 128) * qx| <= 65536 * 255 * 127 < 2^31, so no
// partial sum overflows; chunks are added up in int64.
constexpr int64_t kChunk = 65536;

// Per-thread scratch for the quantized inputs; grows, never shrinks.
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

// n quantized tokens: token t's codes at q + t * stride (zero-padded to stride, a multiple of
// 64), its scale sx[t] and the sum of its codes sum[t].
struct Quantized {
  const int8_t* q;
  int64_t stride;
  const float* sx;
  const int32_t* sum;
};

// Quantizes one token exactly like quantize_row_q8_channel_ref (see quant_act.h): the same f32
// division x / sx, clamps and rounding with ties away from zero.
void QuantizeToken(const float* x, int64_t cols, int64_t stride, int8_t* q, float* sx,
                   int32_t* sum) {
  const __m512 abs_mask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
  __m512 vmax = _mm512_setzero_ps();
  for (int64_t c = 0; c < cols; c += 16) {
    const __mmask16 m = cols - c >= 16 ? __mmask16(0xffff) : __mmask16((1u << (cols - c)) - 1);
    const __m512 a = _mm512_and_ps(_mm512_maskz_loadu_ps(m, x + c), abs_mask);
    vmax = _mm512_max_ps(a, vmax);  // a NaN lane keeps vmax, as std::max(amax, NaN) does
  }
  const float s = _mm512_reduce_max_ps(vmax) / 127.0f;
  *sx = s;
  if (s == 0.0f) {
    std::memset(q, 0, size_t(stride));
    *sum = 0;
    return;
  }
  const __m512 vs = _mm512_set1_ps(s), lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f);
  const __m512 half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f);
  const __m512 sign_mask = _mm512_castsi512_ps(_mm512_set1_epi32(int(0x80000000u)));
  __m512i vsum = _mm512_setzero_si512();
  for (int64_t c = 0; c < stride; c += 16) {
    const int64_t left = cols - c;
    const __mmask16 m = left >= 16 ? __mmask16(0xffff)
                        : left > 0 ? __mmask16((1u << left) - 1)
                                   : __mmask16(0);
    __m512 t = _mm512_div_ps(_mm512_maskz_loadu_ps(m, x + c), vs);  // padding: 0 / s = 0
    t = _mm512_min_ps(_mm512_max_ps(t, lo), hi);                    // max(NaN, lo) = lo
    const __m512 r = _mm512_roundscale_ps(t, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m512 frac = _mm512_andnot_ps(sign_mask, _mm512_sub_ps(t, r));  // exact
    const __mmask16 up = _mm512_cmp_ps_mask(frac, half, _CMP_GE_OQ);
    const __m512 step = _mm512_or_ps(_mm512_and_ps(t, sign_mask), one);  // +-1 with t's sign
    const __m512i qi = _mm512_cvttps_epi32(_mm512_mask_add_ps(r, up, r, step));
    vsum = _mm512_add_epi32(vsum, qi);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + c), _mm512_cvtepi32_epi8(qi));
  }
  *sum = _mm512_reduce_add_epi32(vsum);
}

// Quantizes n tokens into the thread's scratch; false when it cannot be allocated.
bool QuantizeTokens(const float* x, int64_t n, int64_t cols, Quantized* out) {
  const int64_t stride = (cols + kBytes - 1) / kBytes * kBytes;
  uint8_t* buf = static_cast<uint8_t*>(scratch.Get(size_t(n * stride + 8 * n + 64)));
  if (!buf) return false;
  int8_t* q = reinterpret_cast<int8_t*>(buf);
  float* sx = reinterpret_cast<float*>(buf + n * stride);
  int32_t* sum = reinterpret_cast<int32_t*>(buf + n * stride + 4 * n);
  for (int64_t t = 0; t < n; ++t)
    QuantizeToken(x + t * cols, cols, stride, q + t * stride, sx + t, sum + t);
  *out = {q, stride, sx, sum};
  return true;
}

// Tile of R weight rows x T tokens (tokens t0 .. t0 + T - 1): y[j * ldy + i] = W[i] . x[t0 + j].
// The weight codes are made unsigned (qw + 128, a flip of the top bit) once per load and used T
// times: vpdpbusd sums (qw + 128) * qx in groups of 4, and 128 * sum(qx) is subtracted at the
// end. The last partial vector of a row is read with a byte mask (no read past the row).
// With A < R the rows are R / A groups of A adjacent rows, `part` rows apart (row i at
// i % A + (i / A) * part, as its output), each prefetched kPrefetchBytes ahead.
template <int R, int T, int A = R>
void Tile(const uint8_t* w, int64_t row_bytes, const Quantized& in, int64_t t0, float* y,
          int64_t ldy, int64_t cols, int64_t part = 0) {
  auto row = [&](int i) { return w + (i % A + (i / A) * part) * row_bytes; };
  const __m512i flip = _mm512_set1_epi8(int8_t(0x80));
  const int8_t* xq = in.q + t0 * in.stride;
  int64_t dot[R][T] = {};
  for (int64_t c0 = 0; c0 < cols; c0 += kChunk) {
    const int64_t c1 = cols - c0 < kChunk ? cols : c0 + kChunk;
    __m512i acc[R][T];
#pragma GCC unroll 8
    for (int i = 0; i < R; ++i)
#pragma GCC unroll 8
      for (int j = 0; j < T; ++j) acc[i][j] = _mm512_setzero_si512();
    auto step = [&](int64_t c, __mmask64 m) __attribute__((always_inline)) {
      __m512i xv[T];
#pragma GCC unroll 8
      for (int j = 0; j < T; ++j) xv[j] = _mm512_load_si512(xq + j * in.stride + c);
#pragma GCC unroll 8
      for (int i = 0; i < R; ++i) {
        if constexpr (A < R) PrefetchAhead<kBytes>(row(i) + 4 + c);
        const __m512i wv = _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, row(i) + 4 + c), flip);
#pragma GCC unroll 8
        for (int j = 0; j < T; ++j) acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], wv, xv[j]);
      }
    };
    int64_t c = c0;
    for (; c + kBytes <= c1; c += kBytes) step(c, ~__mmask64(0));
    // Masked-off weight bytes read as 0 (128 after the flip) but meet zero padding in x.
    if (c < c1) step(c, ~__mmask64(0) >> (kBytes - (c1 - c)));
#pragma GCC unroll 8
    for (int i = 0; i < R; ++i)
#pragma GCC unroll 8
      for (int j = 0; j < T; ++j) dot[i][j] += _mm512_reduce_add_epi32(acc[i][j]);
  }
  for (int i = 0; i < R; ++i) {
    float sw;
    std::memcpy(&sw, row(i), 4);
    for (int j = 0; j < T; ++j) {
      const int64_t d = dot[i][j] - 128 * int64_t(in.sum[t0 + j]);
      y[j * ldy + i % A + (i / A) * part] = (sw * in.sx[t0 + j]) * float(d);
    }
  }
}

// gemv: 4 far-apart parts of the rows side by side, one row of each: one thread reads 4 distant
// streams from memory faster than 8 adjacent rows (README, "On an AVX-512 machine"; 4096 x
// 11008: 1.24 ms against 1.48 with 2 adjacent rows per part and 1.72 with 8 adjacent rows).
constexpr int kGemvParts = 4, kGemvAdjacent = 1;
// gemm: tiles of 6 rows x 4 tokens: 24 accumulators + 4 x + 1 weight + the flip constant of the
// 32 registers. Rows are the outer loop, so a tile's rows stay in L1 while every token group
// passes over them and each weight byte is read from memory once.
constexpr int kGemmRows = 6;
constexpr int kGemmTokens = 4;

// All n tokens against R rows: token groups of kGemmTokens, then one tile for the rest.
template <int R>
void RowBlock(const uint8_t* w, int64_t row_bytes, const Quantized& in, int64_t n, float* y,
              int64_t ldy, int64_t cols) {
  int64_t t = 0;
  for (; t + kGemmTokens <= n; t += kGemmTokens)
    Tile<R, kGemmTokens>(w, row_bytes, in, t, y + t * ldy, ldy, cols);
  switch (n - t) {
    case 3:
      Tile<R, 3>(w, row_bytes, in, t, y + t * ldy, ldy, cols);
      break;
    case 2:
      Tile<R, 2>(w, row_bytes, in, t, y + t * ldy, ldy, cols);
      break;
    case 1:
      Tile<R, 1>(w, row_bytes, in, t, y + t * ldy, ldy, cols);
      break;
    default:
      break;
  }
}

void GemvQuantized(const void* w, int64_t row_bytes, const Quantized& in, float* y, int64_t rows,
                   int64_t cols) {
  constexpr int kR = kGemvParts * kGemvAdjacent;
  const uint8_t* p = static_cast<const uint8_t*>(w);
  SplitRowLoop<kGemvParts, kGemvAdjacent>(
      rows,
      [&](int64_t r, int64_t part) {
        Tile<kR, 1, kGemvAdjacent>(p + r * row_bytes, row_bytes, in, 0, y + r, 0, cols, part);
      },
      [&](int64_t r) { Tile<1, 1>(p + r * row_bytes, row_bytes, in, 0, y + r, 0, cols); });
}

void Gemv(const void* w, int64_t row_bytes, const float* x, float* y, int64_t rows, int64_t cols) {
  Quantized in;
  if (!QuantizeTokens(x, 1, cols, &in)) return gemv_w8a8_ref(w, row_bytes, x, y, rows, cols);
  GemvQuantized(w, row_bytes, in, y, rows, cols);
}

// Prepared activations (matmul.h, PreparedGemv): the token's codes (zero-padded to a multiple
// of 64 bytes), then its scale and the sum of its codes.
int64_t Stride(int64_t cols) {
  return (cols + kBytes - 1) / kBytes * kBytes;
}
int64_t PreparedBytes(int64_t cols) {
  return Stride(cols) + 8;
}
void Prepare(const float* x, int64_t cols, void* buf) {
  auto* q = static_cast<int8_t*>(buf);
  const int64_t stride = Stride(cols);
  QuantizeToken(x, cols, stride, q, reinterpret_cast<float*>(q + stride),
                reinterpret_cast<int32_t*>(q + stride + 4));
}
void GemvPrepared(const void* w, int64_t row_bytes, const void* prepared, float* y, int64_t rows,
                  int64_t cols) {
  const auto* q = static_cast<const int8_t*>(prepared);
  const int64_t stride = Stride(cols);
  const Quantized in{q, stride, reinterpret_cast<const float*>(q + stride),
                     reinterpret_cast<const int32_t*>(q + stride + 4)};
  GemvQuantized(w, row_bytes, in, y, rows, cols);
}

void Gemm(const void* w, int64_t row_bytes, const float* x, int64_t n, float* y, int64_t ldy,
          int64_t rows, int64_t cols) {
  Quantized in;
  if (!QuantizeTokens(x, n, cols, &in))
    return gemm_w8a8_ref(w, row_bytes, x, n, y, ldy, rows, cols);
  const uint8_t* p = static_cast<const uint8_t*>(w);
  int64_t r = 0;
  for (; r + kGemmRows <= rows; r += kGemmRows)
    RowBlock<kGemmRows>(p + r * row_bytes, row_bytes, in, n, y + r, ldy, cols);
  for (; r < rows; ++r) RowBlock<1>(p + r * row_bytes, row_bytes, in, n, y + r, ldy, cols);
}

}  // namespace

// Indexed by WeightFormat: only kW8A8 has kernels here.
const MatmulKernels kMatmulW8a8Avx512[kWeightFormatCount] = {
    /* formats 0-31 */ {},
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
    /* kW8A8 */ {Gemv, Gemm},
};
const PreparedGemv kPreparedW8a8Avx512[kWeightFormatCount] = {
    /* formats 0-31 */ {},
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
    /* kW8A8 */ {PreparedBytes, Prepare, GemvPrepared},
};
static_assert(int(WeightFormat::kW8A8) == 32);

}  // namespace squeeze::cpu
