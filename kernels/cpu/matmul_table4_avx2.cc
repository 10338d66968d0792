// AVX2 matrix kernels for the 4-bit table formats (nf4, fp4) in fixed point.
//
// The exact way, looking each code up in the 16-entry f32 table, takes four vpshufb per 32
// codes (one per byte of the f32 values) and as many unpacks: on AVX2 that made nf4 gemv
// shuffle-bound at ~45% of the memory bandwidth. Here the table is held as int16, the values
// times kTableScale (nf4: 8192, so 1.0 is exact and every other value is within 2^-14 of a
// block's absmax, 30x finer than the f16 block scale's own rounding; fp4: 6144 = 12 * 512, its
// values k/12 are exact), so 32 codes take two vpshufb (low and high bytes) and two unpacks.
// The inputs are rounded per block of 64 to int16, q = nearbyint(x * 16383 / absmax) (an error
// of at most 2^-15 of the block's absmax), and vpmaddwd forms the products in int32.
// The sums cannot overflow: one int32 lane adds 8 products of |table| <= 8192 and |q| <= 16383,
// at most 2^30 in magnitude. Each block's sum is converted to f32 once and scaled by the
// weights' d times the inputs' absmax / 16383; the row's sum is divided by kTableScale at the
// end. The reference keeps the exact values; the kernel tests hold each output within the
// bound these two roundings give (matmul_test.cc, FixedPointBounds), and every code in place
// to within 2^-13 of its block scale (OneHotInputs).
//
// Codes use the q4 layout: in each 16-byte half L of a block's 32 bytes, byte i holds weight
// 32L + i in its low nibble and 32L + 16 + i in its high nibble. Widening the table bytes of
// the low nibbles gives the weights [0-7 | 32-39] and [8-15 | 40-47], the high nibbles [16-23 |
// 48-55] and [24-31 | 56-63] (lanes of 8 int16 in each 128-bit half); the prepared inputs are
// stored in that order.
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

struct Nf4 {
  using Block = block_nf4;
  static constexpr const float* kTable = kNf4Values;
  static constexpr float kTableScale = 8192.0f;
};
struct Fp4 {
  using Block = block_fp4;
  static constexpr const float* kTable = kFp4Values;
  static constexpr float kTableScale = 6144.0f;
};

constexpr int kBlock = 64;
constexpr float kInputScale = 16383.0f;

constexpr int64_t Blocks(int64_t cols) {
  return (cols + kBlock - 1) / kBlock;
}

// ---- Prepared inputs ----
// Per block: 64 int16 codes (128 bytes, in the order above), then, after all blocks, one f32
// per block: absmax / 16383.
int64_t PreparedBytes(int64_t cols) {
  return Blocks(cols) * (2 * kBlock + 4);
}

const int16_t* PreparedCodes(const void* buf) {
  return static_cast<const int16_t*>(buf);
}
const float* PreparedScales(const void* buf, int64_t cols) {
  return reinterpret_cast<const float*>(static_cast<const uint8_t*>(buf) +
                                        Blocks(cols) * 2 * kBlock);
}

void Prepare(const float* x, int64_t cols, void* buf) {
  int16_t* codes = static_cast<int16_t*>(buf);
  float* scales = const_cast<float*>(PreparedScales(buf, cols));
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  for (int64_t b = 0; b < Blocks(cols); ++b) {
    __m256 v[8];
    __m256 vmax = _mm256_setzero_ps();
    for (int g = 0; g < 8; ++g) {
      const int64_t c = b * kBlock + 8 * g;
      v[g] = _mm256_maskload_ps(x + c, LaneMaskAvx2(cols - c));  // past the row: 0
      vmax = _mm256_max_ps(_mm256_and_ps(v[g], abs_mask), vmax);
    }
    const float amax = HmaxAvx2(vmax);
    const __m256 s = _mm256_set1_ps(amax > 0 ? kInputScale / amax : 0.0f);
    scales[b] = amax / kInputScale;
    for (int k = 0; k < 4; ++k) {
      // Vector k: columns 8k..8k+7, then 32+8k..32+8k+7. packs works per 128-bit half, so
      // its [a0-3 b0-3 | a4-7 b4-7] is put back in order by the 64-bit permute.
      const __m256i a = _mm256_cvtps_epi32(_mm256_mul_ps(v[k], s));
      const __m256i c = _mm256_cvtps_epi32(_mm256_mul_ps(v[k + 4], s));
      const __m256i packed = _mm256_permute4x64_epi64(_mm256_packs_epi32(a, c), 0xd8);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(codes + b * kBlock + 16 * k), packed);
    }
  }
}

// ---- Weights ----
// The low and high bytes of the int16 table (16 each), built once.
template <class F>
const uint8_t* TableBytes() {
  static const uint8_t* bytes = [] {
    static uint8_t t[2][16];
    for (int i = 0; i < 16; ++i) {
      const auto v = uint16_t(int16_t(__builtin_nearbyintf(F::kTable[i] * F::kTableScale)));
      t[0][i] = uint8_t(v);
      t[1][i] = uint8_t(v >> 8);
    }
    return &t[0][0];
  }();
  return bytes;
}

// What every row of a call needs: the table bytes in registers and the f16 table
// (cpu_kernels.h, HalfToFloatTable: a block's scale is one broadcast load).
template <class F>
struct Lookup {
  __m256i lo, hi;
  const float* half;
  Lookup() {
    const auto* tb = reinterpret_cast<const __m128i*>(TableBytes<F>());
    lo = _mm256_broadcastsi128_si256(_mm_loadu_si128(tb));
    hi = _mm256_broadcastsi128_si256(_mm_loadu_si128(tb + 1));
    half = HalfToFloatTable();
  }
};

// One row x T tokens: y[j * ldy] = sum_c W[c] * x_j[c], x_j given prepared.
template <class F, int T>
inline __attribute__((always_inline)) void Row(const Lookup<F>& t, const uint8_t* row,
                                               const void* const* x, float* y, int64_t ldy,
                                               int64_t cols) {
  using B = typename F::Block;
  const __m256i nib = _mm256_set1_epi8(0x0f);
  const int16_t* codes[T];
  const float* scales[T];
  __m256 acc[T];
#pragma GCC unroll 8
  for (int j = 0; j < T; ++j) {
    codes[j] = PreparedCodes(x[j]);
    scales[j] = PreparedScales(x[j], cols);
    acc[j] = _mm256_setzero_ps();
  }
  for (int64_t b = 0; b < Blocks(cols); ++b) {
    const uint8_t* blk = row + b * int64_t(sizeof(B));
    PrefetchAhead<sizeof(B)>(blk);
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + offsetof(B, qs)));
    const __m256i ilo = _mm256_and_si256(v, nib);
    const __m256i ihi = _mm256_and_si256(_mm256_srli_epi16(v, 4), nib);
    const __m256i l0 = _mm256_shuffle_epi8(t.lo, ilo), h0 = _mm256_shuffle_epi8(t.hi, ilo);
    const __m256i l1 = _mm256_shuffle_epi8(t.lo, ihi), h1 = _mm256_shuffle_epi8(t.hi, ihi);
    const __m256i w0 = _mm256_unpacklo_epi8(l0, h0), w1 = _mm256_unpackhi_epi8(l0, h0);
    const __m256i w2 = _mm256_unpacklo_epi8(l1, h1), w3 = _mm256_unpackhi_epi8(l1, h1);
    uint16_t dbits;
    std::memcpy(&dbits, blk + offsetof(B, d), 2);
    const __m256 d = _mm256_broadcast_ss(t.half + dbits);
#pragma GCC unroll 8
    for (int j = 0; j < T; ++j) {
      const __m256i* a = reinterpret_cast<const __m256i*>(codes[j] + b * kBlock);
      const __m256i s01 = _mm256_add_epi32(_mm256_madd_epi16(w0, _mm256_loadu_si256(a)),
                                           _mm256_madd_epi16(w1, _mm256_loadu_si256(a + 1)));
      const __m256i s23 = _mm256_add_epi32(_mm256_madd_epi16(w2, _mm256_loadu_si256(a + 2)),
                                           _mm256_madd_epi16(w3, _mm256_loadu_si256(a + 3)));
      const __m256 dd = _mm256_mul_ps(d, _mm256_broadcast_ss(scales[j] + b));
      acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(s01, s23)), dd, acc[j]);
    }
  }
#pragma GCC unroll 8
  for (int j = 0; j < T; ++j) y[j * ldy] = HsumAvx2(acc[j]) * (1.0f / F::kTableScale);
}

// The file's kernel for the shared loops on prepared inputs (tile_loops.h).
template <class F>
struct Kernel {
  static constexpr int kSplit = 1;  // a gemv walks its rows one after another
  Lookup<F> lookup;
  static int64_t Bytes(int64_t cols) { return PreparedBytes(cols); }
  static void Prepare(const float* x, int64_t cols, void* buf) { cpu::Prepare(x, cols, buf); }
  using View = const void*;
  static View ViewOf(const void* buf, int64_t) { return buf; }
  template <int T>
  void Row(const uint8_t* row, const View* xs, float* y, int64_t ldy, int64_t cols) const {
    cpu::Row<F, T>(lookup, row, xs, y, ldy, cols);
  }
};

}  // namespace

// Indexed by WeightFormat; only the nf4 and fp4 rows are filled.
const MatmulKernels kMatmulTable4Avx2[kWeightFormatCount] = {
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
    /* kNf4 */ {GemvPreparing<Kernel<Nf4>>, GemmPreparing<Kernel<Nf4>>},
    /* kFp4 */ {GemvPreparing<Kernel<Fp4>>, GemmPreparing<Kernel<Fp4>>},
};

const PreparedGemv kPreparedTable4Avx2[kWeightFormatCount] = {
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
    /* kNf4 */ {PreparedBytes, Prepare, GemvOnPrepared<Kernel<Nf4>>},
    /* kFp4 */ {PreparedBytes, Prepare, GemvOnPrepared<Kernel<Fp4>>},
};

}  // namespace squeeze::cpu
