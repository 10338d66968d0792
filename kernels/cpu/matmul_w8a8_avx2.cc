// AVX2 matrix kernels for W8A8 weights (semantics in kernels/ref/quant_act.h): each call
// quantizes its input tokens to int8 once into a per-thread buffer (or takes a token prepared
// once: PreparedGemv), then rows (gemv: one at a time, front to back) or tiles of R rows x T
// tokens (gemm) accumulate exact int32 dot products with the sign trick (vpmaddubsw on |qw| and
// qx * sign(qw), then vpmaddwd with ones), and the two scales are applied once per output.
// These also run at the AVX-512 level on CPUs without AVX512-VNNI (see kernel_table.cc).
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

constexpr int kBytes = 32;  // int8 lanes of a vector
// Columns per int32 accumulation: |sum qw * qx| <= 65536 * 127 * 127 < 2^31, so no partial
// sum overflows; chunks are added up in int64.
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
// 32), its scale sx[t].
struct Quantized {
  const int8_t* q;
  int64_t stride;
  const float* sx;
};

// Quantizes one token exactly like quantize_row_q8_channel_ref (see quant_act.h): the same f32
// division x / sx, clamps and rounding with ties away from zero.
void QuantizeToken(const float* x, int64_t cols, int64_t stride, int8_t* q, float* sx) {
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  __m256 vmax = _mm256_setzero_ps();
  for (int64_t c = 0; c < cols; c += 8) {
    const __m256 a = _mm256_and_ps(_mm256_maskload_ps(x + c, LaneMaskAvx2(cols - c)), abs_mask);
    vmax = _mm256_max_ps(a, vmax);  // a NaN lane keeps vmax, as std::max(amax, NaN) does
  }
  float lanes[8];
  _mm256_storeu_ps(lanes, vmax);
  float amax = 0.0f;
  for (float v : lanes) amax = v > amax ? v : amax;
  const float s = amax / 127.0f;
  *sx = s;
  if (s == 0.0f) {
    std::memset(q, 0, size_t(stride));
    return;
  }
  const __m256 vs = _mm256_set1_ps(s), lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
  const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
  const __m256 sign_mask = _mm256_castsi256_ps(_mm256_set1_epi32(int(0x80000000u)));
  for (int64_t c = 0; c < stride; c += kBytes) {
    __m256i qi[4];
    for (int g = 0; g < 4; ++g) {
      const int64_t o = c + 8 * g;
      __m256 t = _mm256_div_ps(_mm256_maskload_ps(x + o, LaneMaskAvx2(cols - o)), vs);  // pad: 0
      t = _mm256_min_ps(_mm256_max_ps(t, lo), hi);  // max(NaN, lo) = lo
      const __m256 r = _mm256_round_ps(t, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
      const __m256 frac = _mm256_andnot_ps(sign_mask, _mm256_sub_ps(t, r));  // exact
      const __m256 up = _mm256_cmp_ps(frac, half, _CMP_GE_OQ);
      const __m256 step = _mm256_or_ps(_mm256_and_ps(t, sign_mask), one);  // +-1, t's sign
      qi[g] = _mm256_cvttps_epi32(_mm256_add_ps(r, _mm256_and_ps(up, step)));
    }
    // Packing works within 128-bit lanes; the permute puts the 8-code groups back in order.
    const __m256i b =
        _mm256_packs_epi16(_mm256_packs_epi32(qi[0], qi[1]), _mm256_packs_epi32(qi[2], qi[3]));
    const __m256i ordered =
        _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_store_si256(reinterpret_cast<__m256i*>(q + c), ordered);
  }
}

// Quantizes n tokens into the thread's scratch; false when it cannot be allocated.
bool QuantizeTokens(const float* x, int64_t n, int64_t cols, Quantized* out) {
  const int64_t stride = (cols + kBytes - 1) / kBytes * kBytes;
  uint8_t* buf = static_cast<uint8_t*>(scratch.Get(size_t(n * stride + 4 * n + 64)));
  if (!buf) return false;
  int8_t* q = reinterpret_cast<int8_t*>(buf);
  float* sx = reinterpret_cast<float*>(buf + n * stride);
  for (int64_t t = 0; t < n; ++t) QuantizeToken(x + t * cols, cols, stride, q + t * stride, sx + t);
  *out = {q, stride, sx};
  return true;
}

// Tile of R weight rows x T tokens (tokens t0 .. t0 + T - 1): y[j * ldy + i] = W[i] . x[t0 + j].
// Per weight vector |qw| is computed once and used T times; per (row, token) pair
// vpsignb moves qw's sign onto qx, vpmaddubsw gives exact 16-bit pair sums (|qw * qx| <= 127^2,
// two of them < 2^15) and vpmaddwd with ones widens them to int32. The last partial vector of a
// row is copied into a zeroed buffer first (no read past the row).
template <int R, int T>
void Tile(const uint8_t* w, int64_t row_bytes, const Quantized& in, int64_t t0, float* y,
          int64_t ldy, int64_t cols) {
  const __m256i ones = _mm256_set1_epi16(1);
  const int8_t* xq = in.q + t0 * in.stride;
  int64_t dot[R][T] = {};
  for (int64_t c0 = 0; c0 < cols; c0 += kChunk) {
    const int64_t c1 = cols - c0 < kChunk ? cols : c0 + kChunk;
    __m256i acc[R][T];
#pragma GCC unroll 8
    for (int i = 0; i < R; ++i)
#pragma GCC unroll 8
      for (int j = 0; j < T; ++j) acc[i][j] = _mm256_setzero_si256();
    auto step = [&](int64_t c, const uint8_t* rows, int64_t stride) __attribute__((always_inline)) {
      __m256i xv[T];
#pragma GCC unroll 8
      for (int j = 0; j < T; ++j)
        xv[j] = _mm256_load_si256(reinterpret_cast<const __m256i*>(xq + j * in.stride + c));
#pragma GCC unroll 8
      for (int i = 0; i < R; ++i) {
        const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows + i * stride));
        const __m256i aw = _mm256_abs_epi8(wv);
#pragma GCC unroll 8
        for (int j = 0; j < T; ++j) {
          const __m256i p = _mm256_maddubs_epi16(aw, _mm256_sign_epi8(xv[j], wv));
          acc[i][j] = _mm256_add_epi32(acc[i][j], _mm256_madd_epi16(p, ones));
        }
      }
    };
    int64_t c = c0;
    for (; c + kBytes <= c1; c += kBytes) step(c, w + 4 + c, row_bytes);
    if (c < c1) {
      uint8_t tail[R][kBytes] = {};
      for (int i = 0; i < R; ++i) std::memcpy(tail[i], w + i * row_bytes + 4 + c, size_t(c1 - c));
      step(c, tail[0], kBytes);
    }
#pragma GCC unroll 8
    for (int i = 0; i < R; ++i)
#pragma GCC unroll 8
      for (int j = 0; j < T; ++j) {
        const __m128i h = _mm_add_epi32(_mm256_castsi256_si128(acc[i][j]),
                                        _mm256_extracti128_si256(acc[i][j], 1));
        const __m128i h2 = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
        dot[i][j] += _mm_cvtsi128_si32(_mm_add_epi32(h2, _mm_shuffle_epi32(h2, 0xb1)));
      }
  }
  for (int i = 0; i < R; ++i) {
    float sw;
    std::memcpy(&sw, w + i * row_bytes, 4);
    for (int j = 0; j < T; ++j) y[j * ldy + i] = (sw * in.sx[t0 + j]) * float(dot[i][j]);
  }
}

// gemm: tiles of 4 rows x 2 tokens: 8 accumulators + 2 x + weight, |weight|, two temporaries
// and the ones constant. Rows are the outer loop, so a tile's rows stay in L1 while every token
// group passes over them and each weight byte is read from memory once.
constexpr int kGemmRows = 4;
constexpr int kGemmTokens = 2;

// gemv on a quantized token: one row at a time, front to back (one linear stream, with
// software prefetch: tile_loops.h), four int32 chains of 32 codes.
void GemvQuantized(const uint8_t* w, int64_t row_bytes, const int8_t* xq, float sx, float* y,
                   int64_t rows, int64_t cols) {
  const __m256i ones = _mm256_set1_epi16(1);
  auto step = [&](const uint8_t* wp, const int8_t* xp, __m256i& acc)
      __attribute__((always_inline)) {
    const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wp));
    const __m256i xv = _mm256_load_si256(reinterpret_cast<const __m256i*>(xp));
    const __m256i p = _mm256_maddubs_epi16(_mm256_abs_epi8(wv), _mm256_sign_epi8(xv, wv));
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, ones));
  };
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* codes = w + r * row_bytes + 4;
    int64_t dot = 0;
    for (int64_t c0 = 0; c0 < cols; c0 += kChunk) {
      const int64_t c1 = cols - c0 < kChunk ? cols : c0 + kChunk;
      __m256i acc[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                        _mm256_setzero_si256()};
      int64_t c = c0;
      for (; c + 4 * kBytes <= c1; c += 4 * kBytes) {
        PrefetchAhead<4 * kBytes>(codes + c);
#pragma GCC unroll 4
        for (int u = 0; u < 4; ++u) step(codes + c + u * kBytes, xq + c + u * kBytes, acc[u]);
      }
      for (; c + kBytes <= c1; c += kBytes) step(codes + c, xq + c, acc[0]);
      if (c < c1) {  // the last partial vector, copied so that nothing past the row is read
        alignas(32) uint8_t tail[kBytes] = {};
        std::memcpy(tail, codes + c, size_t(c1 - c));
        step(tail, xq + c, acc[0]);
      }
      const __m256i v =
          _mm256_add_epi32(_mm256_add_epi32(acc[0], acc[1]), _mm256_add_epi32(acc[2], acc[3]));
      const __m128i h = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
      const __m128i h2 = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
      dot += _mm_cvtsi128_si32(_mm_add_epi32(h2, _mm_shuffle_epi32(h2, 0xb1)));
    }
    float sw;
    std::memcpy(&sw, codes - 4, 4);
    y[r] = (sw * sx) * float(dot);
  }
}

// Prepared activations (matmul.h, PreparedGemv): the token's scale sx in the first 64 bytes,
// then its codes zero-padded to a multiple of 32.
int64_t PreparedBytes(int64_t cols) {
  return 64 + (cols + kBytes - 1) / kBytes * kBytes;
}

void Prepare(const float* x, int64_t cols, void* buf) {
  uint8_t* b = static_cast<uint8_t*>(buf);
  const int64_t stride = (cols + kBytes - 1) / kBytes * kBytes;
  QuantizeToken(x, cols, stride, reinterpret_cast<int8_t*>(b + 64), reinterpret_cast<float*>(b));
}

void GemvPrepared(const void* w, int64_t row_bytes, const void* prepared, float* y, int64_t rows,
                  int64_t cols) {
  const uint8_t* b = static_cast<const uint8_t*>(prepared);
  float sx;
  std::memcpy(&sx, b, 4);
  GemvQuantized(static_cast<const uint8_t*>(w), row_bytes, reinterpret_cast<const int8_t*>(b + 64),
                sx, y, rows, cols);
}

void Gemv(const void* w, int64_t row_bytes, const float* x, float* y, int64_t rows, int64_t cols) {
  Quantized in;
  if (!QuantizeTokens(x, 1, cols, &in)) return gemv_w8a8_ref(w, row_bytes, x, y, rows, cols);
  GemvQuantized(static_cast<const uint8_t*>(w), row_bytes, in.q, in.sx[0], y, rows, cols);
}

// All n tokens against R rows: token pairs, then one token.
template <int R>
void RowBlock(const uint8_t* w, int64_t row_bytes, const Quantized& in, int64_t n, float* y,
              int64_t ldy, int64_t cols) {
  int64_t t = 0;
  for (; t + kGemmTokens <= n; t += kGemmTokens)
    Tile<R, kGemmTokens>(w, row_bytes, in, t, y + t * ldy, ldy, cols);
  if (t < n) Tile<R, 1>(w, row_bytes, in, t, y + t * ldy, ldy, cols);
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
const MatmulKernels kMatmulW8a8Avx2[kWeightFormatCount] = {
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
static_assert(int(WeightFormat::kW8A8) == 32);

// The prepared-activation gemv of the same row.
const PreparedGemv kPreparedW8a8Avx2[kWeightFormatCount] = {
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

}  // namespace squeeze::cpu
