// AVX2 matrix kernels for the low-bit float formats (nf4, fp4, fp8_e4m3, fp8_e5m2).
// nf4/fp4: per block of 64 weights, the 32 code bytes are split into low and high nibbles, and
// each nibble vector is looked up in the 16-entry f32 code table with four vpshufb (one per
// byte of the f32 values) and put together by unpacking: 24 shuffles give the 64 exact table
// values, in an order that the prepared activations follow (PrepareNf4). Each token sums
// table[code] * x over the block, then scales by the block's d once. fp8: bytes are widened to
// f16 with integer shifts and converted to f32 (Decode8; a gather from a 256-entry table was
// much slower), summed against x, and the row scale is applied at the end.
// gemv reads one row at a time front to back with software prefetch (tile_loops.h).
// Compiled with -mavx2 -mfma -mf16c: everything stays in the anonymous namespace and uses only
// intrinsics and plain loops, so no AVX2 copy of a shared inline function can leak out.
#include <immintrin.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "cpu/cpu_kernels.h"
#include "cpu/hsum_avx2.h"
#include "cpu/tile_loops.h"
#include "ref/quant_float.h"

namespace squeeze::cpu {
namespace {

constexpr int kLanes = 8;

// Format tags: the 4-bit ones name their block and code table, the fp8 ones their decoder.
struct Nf4 {
  using Block = block_nf4;
  static constexpr const float* kTable = kNf4Values;
};
struct Fp4 {
  using Block = block_fp4;
  static constexpr const float* kTable = kFp4Values;
};
struct E4M3 {
  static float Decode(uint8_t b) { return fp8_e4m3_to_fp32(b); }
  static constexpr float kUnit = 256.0f;  // Decode8 gives the values times 2^-8
};
struct E5M2 {
  static float Decode(uint8_t b) { return fp8_e5m2_to_fp32(b); }
  static constexpr float kUnit = 1.0f;
};

// 8 fp8 bytes as f32 values divided by F::kUnit, through f16 with integer shifts (no table):
// an E5M2 byte is the high byte of the f16 of the same value; an E4M3 byte's exponent and
// mantissa moved to f16 bits 7..13 (sign to bit 15) give its value times 2^-8, subnormals
// included (E4M3's NaN codes S.1111.111 would read as 480; no quantizer writes them).
template <class F>
__m256 Decode8(const uint8_t* p) {
  const __m128i b = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
  if constexpr (F::kUnit == 1.0f) return _mm256_cvtph_ps(_mm_slli_epi16(b, 8));
  const __m128i t = _mm_slli_epi16(b, 7);  // sign lands on bit 14: add it once more
  return _mm256_cvtph_ps(_mm_add_epi16(t, _mm_and_si128(t, _mm_set1_epi16(0x4000))));
}

// The 256 decoded values of an fp8 format, built once on first use.
template <class F>
const float* Fp8Table() {
  static const float* table = [] {
    static float t[256];
    for (int i = 0; i < 256; ++i) t[i] = F::Decode(uint8_t(i));
    return t;
  }();
  return table;
}

// ---- nf4 / fp4 ----
// Prepared activations: per block of 64 columns b, 8 vectors of 8 floats, vector 4h + q =
// [x[b + 16h + 4q .. +3], x[b + 32 + 16h + 4q .. +3]] (h: low or high nibbles, q: quarter),
// zero past the last column: the order in which two Lookup32 calls yield the block's weights.
constexpr int64_t Blocks64(int64_t cols) {
  return (cols + 63) / 64;
}
int64_t Nf4PreparedBytes(int64_t cols) {
  return Blocks64(cols) * 256;
}
void PrepareNf4(const float* x, int64_t cols, void* buf) {
  float* out = static_cast<float*>(buf);
  for (int64_t b = 0; b < Blocks64(cols); ++b) {
    for (int h = 0; h < 2; ++h) {
      for (int q = 0; q < 4; ++q) {
        for (int half = 0; half < 2; ++half) {
          const int64_t c0 = b * 64 + half * 32 + 16 * h + 4 * q;
          for (int i = 0; i < 4; ++i) *out++ = c0 + i < cols ? x[c0 + i] : 0.0f;
        }
      }
    }
  }
}

// The four byte planes of a 16-entry f32 table (plane k: byte k of each value), built once.
template <class F>
const uint8_t* TablePlanes() {
  static const uint8_t* planes = [] {
    static uint8_t p[4][16];
    for (int i = 0; i < 16; ++i) {
      uint32_t u;
      std::memcpy(&u, &F::kTable[i], 4);
      for (int k = 0; k < 4; ++k) p[k][i] = uint8_t(u >> (8 * k));
    }
    return &p[0][0];
  }();
  return planes;
}

// The table values of 32 codes (one per byte of idx, 0..15), as 4 vectors in the order
// [idx 0-3 | idx 16-19], [4-7 | 20-23], [8-11 | 24-27], [12-15 | 28-31].
void Lookup32(const __m256i* planes, __m256i idx, __m256* v) {
  const __m256i b0 = _mm256_shuffle_epi8(planes[0], idx), b1 = _mm256_shuffle_epi8(planes[1], idx);
  const __m256i b2 = _mm256_shuffle_epi8(planes[2], idx), b3 = _mm256_shuffle_epi8(planes[3], idx);
  const __m256i l01 = _mm256_unpacklo_epi8(b0, b1), l23 = _mm256_unpacklo_epi8(b2, b3);
  const __m256i h01 = _mm256_unpackhi_epi8(b0, b1), h23 = _mm256_unpackhi_epi8(b2, b3);
  v[0] = _mm256_castsi256_ps(_mm256_unpacklo_epi16(l01, l23));
  v[1] = _mm256_castsi256_ps(_mm256_unpackhi_epi16(l01, l23));
  v[2] = _mm256_castsi256_ps(_mm256_unpacklo_epi16(h01, h23));
  v[3] = _mm256_castsi256_ps(_mm256_unpackhi_epi16(h01, h23));
}

// f16 -> f32 for every 16-bit pattern (256 KB, built once): the block scale is then one scalar
// load and a broadcast from memory, which needs none of the shuffle ports that the table
// lookups keep busy (vcvtph2ps + vbroadcastss would take two more of them per block).
const float* HalfTable() {
  static const float* table = [] {
    static float t[65536];
    for (int i = 0; i < 65536; ++i) t[i] = _cvtsh_ss(uint16_t(i));
    return t;
  }();
  return table;
}

// One row x T tokens of a 4-bit table format: y[j * ldy] = sum_c W[c] * x_j[c], with x_j the
// prepared activations (PrepareNf4) of token j.
template <class F, int T>
void Row4(const uint8_t* row, const float* const* x, float* y, int64_t ldy, int64_t cols) {
  using B = typename F::Block;
  const uint8_t* tp = TablePlanes<F>();
  const float* half = HalfTable();
  __m256i planes[4];
  for (int k = 0; k < 4; ++k)
    planes[k] =
        _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tp + 16 * k)));
  const __m256i nib = _mm256_set1_epi8(0x0f);
  __m256 acc[T];
#pragma GCC unroll 8
  for (int j = 0; j < T; ++j) acc[j] = _mm256_setzero_ps();
  for (int64_t b = 0; b < Blocks64(cols); ++b) {
    const uint8_t* blk = row + b * int64_t(sizeof(B));
    PrefetchAhead<sizeof(B)>(blk);
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + offsetof(B, qs)));
    __m256 w[8];
    Lookup32(planes, _mm256_and_si256(v, nib), w);
    Lookup32(planes, _mm256_and_si256(_mm256_srli_epi16(v, 4), nib), w + 4);
    uint16_t dbits;
    std::memcpy(&dbits, blk + offsetof(B, d), 2);
    const __m256 d = _mm256_broadcast_ss(half + dbits);
#pragma GCC unroll 8
    for (int j = 0; j < T; ++j) {
      const float* xb = x[j] + b * 64;
      __m256 t0 = _mm256_mul_ps(w[0], _mm256_load_ps(xb));
      __m256 t1 = _mm256_mul_ps(w[1], _mm256_load_ps(xb + 8));
#pragma GCC unroll 8
      for (int i = 2; i < 8; i += 2) {
        t0 = _mm256_fmadd_ps(w[i], _mm256_load_ps(xb + 8 * i), t0);
        t1 = _mm256_fmadd_ps(w[i + 1], _mm256_load_ps(xb + 8 * i + 8), t1);
      }
      acc[j] = _mm256_fmadd_ps(_mm256_add_ps(t0, t1), d, acc[j]);
    }
  }
#pragma GCC unroll 8
  for (int j = 0; j < T; ++j) y[j * ldy] = HsumAvx2(acc[j]);
}

template <class F>
void GemvPrepared4(const void* w, int64_t row_bytes, const void* prepared, float* y, int64_t rows,
                   int64_t cols) {
  const uint8_t* p = static_cast<const uint8_t*>(w);
  const float* x = static_cast<const float*>(prepared);
  for (int64_t r = 0; r < rows; ++r) Row4<F, 1>(p + r * row_bytes, &x, y + r, 0, cols);
}

float* PreparedScratch(int64_t bytes) {
  void* p = ThreadScratch(size_t(bytes));
  if (p == nullptr) std::abort();
  return static_cast<float*>(p);
}

template <class F>
void Gemv4(const void* w, int64_t row_bytes, const float* x, float* y, int64_t rows, int64_t cols) {
  float* buf = PreparedScratch(Nf4PreparedBytes(cols));
  PrepareNf4(x, cols, buf);
  GemvPrepared4<F>(w, row_bytes, buf, y, rows, cols);
}

// Rows outermost: a row stays in cache while every group of 4 tokens passes over it.
template <class F>
void Gemm4(const void* w, int64_t row_bytes, const float* x, int64_t n, float* y, int64_t ldy,
           int64_t rows, int64_t cols) {
  const int64_t stride = Nf4PreparedBytes(cols) / 4;  // floats per prepared token
  float* buf = PreparedScratch(n * stride * 4);
  for (int64_t t = 0; t < n; ++t) PrepareNf4(x + t * cols, cols, buf + t * stride);
  const uint8_t* p = static_cast<const uint8_t*>(w);
  for (int64_t r = 0; r < rows; ++r) {
    int64_t t = 0;
    for (; t + 4 <= n; t += 4) {
      const float* xs[4] = {buf + t * stride, buf + (t + 1) * stride, buf + (t + 2) * stride,
                            buf + (t + 3) * stride};
      Row4<F, 4>(p + r * row_bytes, xs, y + t * ldy + r, ldy, cols);
    }
    for (; t < n; ++t) {
      const float* xs = buf + t * stride;
      Row4<F, 1>(p + r * row_bytes, &xs, y + t * ldy + r, 0, cols);
    }
  }
}

// fp8 rows: f32 scale, then one byte per weight. Decoded values are summed against x in f32
// and the row's scale is applied once at the end.
template <class F, int R, int T>
void tile8(const uint8_t* w, int64_t row_bytes, const float* x, float* y, int64_t ldy,
           int64_t cols) {
  const float* table = Fp8Table<F>();
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
      const __m256 v = Decode8<F>(w + i * row_bytes + 4 + c);
#pragma GCC unroll 8
      for (int j = 0; j < T; ++j) acc[i][j] = _mm256_fmadd_ps(v, xv[j], acc[i][j]);
    }
  }
  float s[R][T];
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < T; ++j) s[i][j] = HsumAvx2(acc[i][j]);
  for (; c < cols; ++c) {
    for (int i = 0; i < R; ++i) {
      const float v = table[w[i * row_bytes + 4 + c]] * (1.0f / F::kUnit);
      for (int j = 0; j < T; ++j) s[i][j] = __builtin_fmaf(v, x[j * cols + c], s[i][j]);
    }
  }
  for (int i = 0; i < R; ++i) {
    float scale;
    std::memcpy(&scale, w + i * row_bytes, 4);
    for (int j = 0; j < T; ++j) y[j * ldy + i] = s[i][j] * (scale * F::kUnit);
  }
}

// fp8 gemv: one row at a time, front to back (one linear stream, prefetched), 4 chains of 8.
template <class F>
void Gemv8Rows(const void* w, int64_t row_bytes, const float* x, float* y, int64_t rows,
               int64_t cols) {
  const uint8_t* p = static_cast<const uint8_t*>(w);
  const float* table = Fp8Table<F>();
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* codes = p + r * row_bytes + 4;
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                     _mm256_setzero_ps()};
    int64_t c = 0;
    for (; c + 4 * kLanes <= cols; c += 4 * kLanes) {
      PrefetchAhead<4 * kLanes>(codes + c);
#pragma GCC unroll 4
      for (int u = 0; u < 4; ++u)
        acc[u] = _mm256_fmadd_ps(Decode8<F>(codes + c + u * kLanes),
                                 _mm256_loadu_ps(x + c + u * kLanes), acc[u]);
    }
    for (; c + kLanes <= cols; c += kLanes)
      acc[0] = _mm256_fmadd_ps(Decode8<F>(codes + c), _mm256_loadu_ps(x + c), acc[0]);
    float sum =
        HsumAvx2(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
    for (; c < cols; ++c) sum = __builtin_fmaf(table[codes[c]] * (1.0f / F::kUnit), x[c], sum);
    float scale;
    std::memcpy(&scale, codes - 4, 4);
    y[r] = sum * (scale * F::kUnit);
  }
}

// fp8 gemm: tiles of 4 rows x 3 tokens (cpu/tile_loops.h).
constexpr int kGemmRows = 4;
constexpr int kGemmTokens = 3;

template <class F>
struct Fp8Tile {
  template <int R, int T>
  static void Run(const uint8_t* w, int64_t row_bytes, const float* x, float* y, int64_t ldy,
                  int64_t cols) {
    tile8<F, R, T>(w, row_bytes, x, y, ldy, cols);
  }
};

template <class F>
constexpr MatmulKernels Float8Avx2() {
  if constexpr (requires { F::kTable; }) {
    return {Gemv4<F>, Gemm4<F>};
  } else {
    return {Gemv8Rows<F>, GemmByTiles<Fp8Tile<F>, kGemmRows, kGemmTokens>};
  }
}

template <class F>
constexpr PreparedGemv Float4Prepared() {
  return {Nf4PreparedBytes, PrepareNf4, GemvPrepared4<F>};
}

}  // namespace

// Indexed by WeightFormat; the other formats live in kMatmulAvx2 / kMatmulIntAvx2.
const MatmulKernels kMatmulFloat8Avx2[kWeightFormatCount] = {
    /* kF32 .. kQ4G128Asym (0-15) */ {},
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
    /* kNf4         */ Float8Avx2<Nf4>(),
    /* kFp4         */ Float8Avx2<Fp4>(),
    /* kFp8E4M3     */ Float8Avx2<E4M3>(),
    /* kFp8E5M2     */ Float8Avx2<E5M2>(),
};

// The prepared-activation gemv of the nf4 and fp4 rows.
const PreparedGemv kPreparedFloat8Avx2[kWeightFormatCount] = {
    /* kF32 .. kQ4G128Asym (0-15) */ {},
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
    /* kNf4         */ Float4Prepared<Nf4>(),
    /* kFp4         */ Float4Prepared<Fp4>(),
};

}  // namespace squeeze::cpu
