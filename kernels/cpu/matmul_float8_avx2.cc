// AVX2 matrix kernels for the fp8 formats (fp8_e4m3, fp8_e5m2): bytes are widened to f16 with
// integer shifts and converted to f32 (Decode8; a gather from a 256-entry table was much
// slower), summed against x, and the row scale is applied at the end. (nf4/fp4 live in
// matmul_table4_avx2.cc.) gemv reads one row at a time front to back with software prefetch
// (tile_loops.h).
// Compiled with -mavx2 -mfma -mf16c: everything stays in the anonymous namespace and uses only
// intrinsics and plain loops, so no AVX2 copy of a shared inline function can leak out.
#include <immintrin.h>

#include <cstddef>
#include <cstring>

#include "cpu/cpu_kernels.h"
#include "cpu/lanes_avx2.h"
#include "cpu/tile_loops.h"
#include "ref/quant_float.h"

namespace squeeze::cpu {
namespace {

constexpr int kLanes = 8;

// Format tags: each names its decoder.
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
  return {Gemv8Rows<F>, GemmByTiles<Fp8Tile<F>, kGemmRows, kGemmTokens>};
}

}  // namespace

// Indexed by WeightFormat; only the fp8 rows are filled.
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
    /* kNf4, kFp4 (matmul_table4_avx2.cc) */ {},
    {},
    /* kFp8E4M3     */ Float8Avx2<E4M3>(),
    /* kFp8E5M2     */ Float8Avx2<E5M2>(),
};

}  // namespace squeeze::cpu
