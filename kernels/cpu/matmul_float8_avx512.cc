// AVX-512 matrix kernels for the fp8 formats (fp8_e4m3, fp8_e5m2; nf4 and fp4 are in
// matmul_table4_vnni512.cc): bytes are widened to f16 with integer shifts and converted to f32
// (Decode16; a gather from a 256-entry table measured 10x slower), summed against x, and the row
// scale is applied once at the end. Compiled with
// -mavx512f/bw/vl/dq: everything stays in the anonymous namespace and uses only intrinsics and
// plain loops, so no AVX-512 copy of a shared inline function can leak out.

// GCC 12 warns about the deliberately undefined registers inside its own intrinsics headers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstddef>
#include <cstring>

#include "cpu/cpu_kernels.h"
#include "cpu/tile_loops.h"
#include "ref/quant_float.h"

namespace squeeze::cpu {
namespace {

constexpr int kLanes = 16;

// Format tags: each names its decoder.
struct E4M3 {
  static float Decode(uint8_t b) { return fp8_e4m3_to_fp32(b); }
  static constexpr float kUnit = 256.0f;  // Decode16 gives the values times 2^-8
};
struct E5M2 {
  static float Decode(uint8_t b) { return fp8_e5m2_to_fp32(b); }
  static constexpr float kUnit = 1.0f;
};

// 16 fp8 bytes as f32 values divided by F::kUnit, through f16 with integer shifts (no table):
// an E5M2 byte is the high byte of the f16 of the same value; an E4M3 byte's exponent and
// mantissa moved to f16 bits 7..13 (sign to bit 15) give its value times 2^-8, subnormals
// included (E4M3's NaN codes S.1111.111 would read as 480; no quantizer writes them).
template <class F>
__m512 Decode16(const uint8_t* p) {
  const __m256i b = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  if constexpr (F::kUnit == 1.0f) return _mm512_cvtph_ps(_mm256_slli_epi16(b, 8));
  const __m256i t = _mm256_slli_epi16(b, 7);  // sign lands on bit 14: add it once more
  return _mm512_cvtph_ps(_mm256_add_epi16(t, _mm256_and_si256(t, _mm256_set1_epi16(0x4000))));
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
      const __m512 v = Decode16<F>(w + i * row_bytes + 4 + c);
#pragma GCC unroll 8
      for (int j = 0; j < T; ++j) acc[i][j] = _mm512_fmadd_ps(v, xv[j], acc[i][j]);
    }
  }
  float s[R][T];
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < T; ++j) s[i][j] = _mm512_reduce_add_ps(acc[i][j]);
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

// Row and token blocking as in matmul_int_avx512.cc (8 rows for gemv, 6 rows x 4 tokens for gemm).
constexpr int kGemvRows = 8;
constexpr int kGemmRows = 6;
constexpr int kGemmTokens = 4;

// The tile of this file for the shared row/token loops (cpu/tile_loops.h).
template <class F>
struct FileTile {
  template <int R, int T>
  static void Run(const uint8_t* w, int64_t row_bytes, const float* x, float* y, int64_t ldy,
                  int64_t cols) {
    tile8<F, R, T>(w, row_bytes, x, y, ldy, cols);
  }
};

template <class F>
constexpr MatmulKernels Float8Avx512() {
  return {GemvByRows<FileTile<F>, kGemvRows>, GemmByTiles<FileTile<F>, kGemmRows, kGemmTokens>};
}

}  // namespace

// Indexed by WeightFormat; the fp8 rows are filled.
const MatmulKernels kMatmulFloat8Avx512[kWeightFormatCount] = {
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
    /* kNf4, kFp4 (16-17) live in kMatmulTable4Vnni512 */ {},
    {},
    /* kFp8E4M3     */ Float8Avx512<E4M3>(),
    /* kFp8E5M2     */ Float8Avx512<E5M2>(),
};

}  // namespace squeeze::cpu
