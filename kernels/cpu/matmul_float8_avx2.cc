// AVX2 matrix kernels for the low-bit float formats (nf4, fp4, fp8_e4m3, fp8_e5m2). nf4/fp4:
// 8 nibbles are widened and looked up in the 16-entry code table (two 8-entry permutes and a
// blend on the index's bit 3), scaled by the block's d and FMA'd with the activations. fp8:
// bytes are widened to f16 with integer shifts and converted to f32 (Decode8; a gather from a
// 256-entry table was much slower), summed against x, and the row scale is applied at the end.
// Compiled with -mavx2 -mfma -mf16c: everything stays in the anonymous namespace and uses only
// intrinsics and plain loops, so no AVX2 copy of a shared inline function can leak out.
#include <immintrin.h>

#include <cstddef>
#include <cstring>

#include "cpu/cpu_kernels.h"
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

float ReduceAdd(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

float Half(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

// Table values of the 8 weights at offset o (a multiple of 8) of block `blk`; `lo` and `hi`
// hold table entries 0..7 and 8..15.
template <class F>
__m256 values8(const uint8_t* blk, int o, __m256 lo, __m256 hi) {
  const uint8_t* qs = blk + offsetof(typename F::Block, qs);
  // Each 32 weights use 16 bytes: weight j < 16 in the low nibble of byte j, j + 16 in the high.
  __m256i v = _mm256_cvtepu8_epi32(
      _mm_loadl_epi64(reinterpret_cast<const __m128i*>(qs + 16 * (o / 32) + o % 16)));
  if ((o % 32) >= 16) v = _mm256_srli_epi32(v, 4);
  v = _mm256_and_si256(v, _mm256_set1_epi32(0xf));
  // permutevar8x32 reads the low 3 bits; bit 3 (moved to the sign bit) picks lo or hi.
  const __m256 from_hi = _mm256_castsi256_ps(_mm256_slli_epi32(v, 28));
  return _mm256_blendv_ps(_mm256_permutevar8x32_ps(lo, v), _mm256_permutevar8x32_ps(hi, v),
                          from_hi);
}

// One weight (column c of the row) for the scalar tail.
template <class F>
float load1(const uint8_t* row, int64_t c) {
  using B = typename F::Block;
  const uint8_t* blk = row + (c / B::kGroup) * int64_t(sizeof(B));
  const int k = int(c % B::kGroup);
  const uint8_t* qs = blk + offsetof(B, qs);
  const int nib = (qs[16 * (k / 32) + k % 16] >> (4 * ((k % 32) / 16))) & 0xf;
  return Half(blk + offsetof(B, d)) * F::kTable[nib];
}

// Tile of R weight rows x T tokens of a 4-bit table format: y[j * ldy + i] = sum_c W[i][c] *
// x[j * cols + c]. Each weight is d * table[code], the same float as the reference's.
template <class F, int R, int T>
void tile4(const uint8_t* w, int64_t row_bytes, const float* x, float* y, int64_t ldy,
           int64_t cols) {
  using B = typename F::Block;
  constexpr int G = B::kGroup;
  const __m256 lo = _mm256_loadu_ps(F::kTable), hi = _mm256_loadu_ps(F::kTable + 8);
  __m256 acc[R][T];
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < T; ++j) acc[i][j] = _mm256_setzero_ps();

  const int64_t vec_cols = cols / kLanes * kLanes;  // G is a multiple of 8
  for (int64_t c0 = 0; c0 < vec_cols; c0 += G) {
    const int64_t blk_off = c0 / G * int64_t(sizeof(B));
    __m256 d[R];
#pragma GCC unroll 8
    for (int i = 0; i < R; ++i) d[i] = _mm256_set1_ps(Half(w + i * row_bytes + blk_off));
    const int end = int(vec_cols - c0 < G ? vec_cols - c0 : G);
    for (int o = 0; o < end; o += kLanes) {
      __m256 xv[T];
#pragma GCC unroll 8
      for (int j = 0; j < T; ++j) xv[j] = _mm256_loadu_ps(x + j * cols + c0 + o);
#pragma GCC unroll 8
      for (int i = 0; i < R; ++i) {
        const __m256 wv = _mm256_mul_ps(values8<F>(w + i * row_bytes + blk_off, o, lo, hi), d[i]);
#pragma GCC unroll 8
        for (int j = 0; j < T; ++j) acc[i][j] = _mm256_fmadd_ps(wv, xv[j], acc[i][j]);
      }
    }
  }

  float s[R][T];
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < T; ++j) s[i][j] = ReduceAdd(acc[i][j]);
  for (int64_t c = vec_cols; c < cols; ++c) {
    for (int i = 0; i < R; ++i) {
      const float wf = load1<F>(w + i * row_bytes, c);
      for (int j = 0; j < T; ++j) s[i][j] = __builtin_fmaf(wf, x[j * cols + c], s[i][j]);
    }
  }
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < T; ++j) y[j * ldy + i] = s[i][j];
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
    for (int j = 0; j < T; ++j) s[i][j] = ReduceAdd(acc[i][j]);
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

// Row and token blocking as in matmul_int_avx2.cc (8 rows for gemv, 4 rows x 3 tokens for gemm).
constexpr int kGemvRows = 8;
constexpr int kGemmRows = 4;
constexpr int kGemmTokens = 3;

// The tile of this file for the shared row/token loops (cpu/tile_loops.h).
template <class F>
struct FileTile {
  template <int R, int T>
  static void Run(const uint8_t* w, int64_t row_bytes, const float* x, float* y, int64_t ldy,
                  int64_t cols) {
    if constexpr (requires { F::kTable; }) {
      tile4<F, R, T>(w, row_bytes, x, y, ldy, cols);
    } else {
      tile8<F, R, T>(w, row_bytes, x, y, ldy, cols);
    }
  }
};

template <class F>
constexpr MatmulKernels Float8Avx2() {
  return {GemvByRows<FileTile<F>, kGemvRows>, GemmByTiles<FileTile<F>, kGemmRows, kGemmTokens>};
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

}  // namespace squeeze::cpu
