// AVX-512 matrix kernels for the 4-bit table formats (nf4, fp4) in fixed point: the AVX2 scheme
// (matmul_table4_avx2.cc: the table as int16 values times kTableScale, the inputs rounded per
// block of 64 to int16 q = nearbyint(x * 16383 / absmax), vpmaddwd products summed in int32,
// one conversion and one FMA per block) with one block per 512-bit vector. The block's 32 code
// bytes and the same bytes shifted right by 4 go into the two 256-bit halves of one vector, so
// that one mask gives all 64 nibbles, two vpshufb their table bytes (low and high) and two
// unpacks the 64 int16 weights: 5 shuffles per block against 8 on AVX2, and half the
// multiply-adds and conversions (d_w * d_x: a multiply and the FMA by broadcast memory operands;
// even and odd blocks sum into two accumulators). An int32 lane sums 4 products of |table| <= 8192
// and |q| <= 16383, at most 2^29 in magnitude. The results are those of the AVX2 kernels up to the
// order of the f32 operations, within the tests' bound (matmul_test.cc, FixedPointBounds).
//
// Order: in each 16-byte half L of a block's codes, byte i holds weight 32L + i (low nibble)
// and 32L + 16 + i (high nibble). The 128-bit lanes of the nibble vector are then weights
// 0-15, 32-47, 16-31 and 48-63; unpacking the table bytes gives weights [0-7 | 32-39 | 16-23 |
// 48-55] and [8-15 | 40-47 | 24-31 | 56-63], the order of the prepared inputs.
// Compiled with -mavx512f/bw/vl/dq: everything stays in the anonymous namespace and uses only
// intrinsics and plain loops, so no AVX-512 copy of a shared inline function can leak out.

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
// Per block: 64 int16 codes (128 bytes, as two vectors in the order above), then, after all
// blocks, one f32 per block: absmax / 16383.
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

__mmask16 Mask16(int64_t n) {
  return n >= 16 ? __mmask16(0xffff) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
}

// The column of each word of the two prepared vectors, as vpermt2w indices into the block's
// columns in order (words 0-31 of the first operand, 32-63 of the second).
struct Order {
  alignas(64) uint16_t v[2][32];
};
constexpr Order MakeOrder() {
  Order o{};
  constexpr int kLane[4] = {0, 32, 16, 48};
  for (int h = 0; h < 2; ++h)
    for (int k = 0; k < 32; ++k) o.v[h][k] = uint16_t(kLane[k / 8] + 8 * h + k % 8);
  return o;
}
constexpr Order kOrder = MakeOrder();

void Prepare(const float* x, int64_t cols, void* buf) {
  int16_t* codes = static_cast<int16_t*>(buf);
  float* scales = const_cast<float*>(PreparedScales(buf, cols));
  const __m512i order0 = _mm512_load_si512(kOrder.v[0]), order1 = _mm512_load_si512(kOrder.v[1]);
  for (int64_t b = 0; b < Blocks(cols); ++b) {
    __m512 v[4];
    __m512 vmax = _mm512_setzero_ps();
    for (int g = 0; g < 4; ++g) {
      const int64_t c = b * kBlock + 16 * g;
      v[g] = _mm512_maskz_loadu_ps(Mask16(cols - c), x + c);  // past the row: 0
      vmax = _mm512_max_ps(_mm512_abs_ps(v[g]), vmax);
    }
    const float amax = _mm512_reduce_max_ps(vmax);
    const __m512 s = _mm512_set1_ps(amax > 0 ? kInputScale / amax : 0.0f);
    scales[b] = amax / kInputScale;
    __m256i q[4];
    for (int g = 0; g < 4; ++g)
      q[g] = _mm512_cvtsepi32_epi16(_mm512_cvtps_epi32(_mm512_mul_ps(v[g], s)));
    const __m512i lo = _mm512_inserti64x4(_mm512_castsi256_si512(q[0]), q[1], 1);  // columns 0-31
    const __m512i hi = _mm512_inserti64x4(_mm512_castsi256_si512(q[2]), q[3], 1);  // 32-63
    __m512i* dst = reinterpret_cast<__m512i*>(codes + b * kBlock);
    _mm512_storeu_si512(dst, _mm512_permutex2var_epi16(lo, order0, hi));
    _mm512_storeu_si512(dst + 1, _mm512_permutex2var_epi16(lo, order1, hi));
  }
}

// ---- Weights ----
// The low and high bytes of the int16 table, each 16 bytes repeated in the four lanes.
template <class F>
struct Lookup {
  __m512i lo, hi;
  const float* half = HalfToFloatTable();
  Lookup() {
    alignas(16) uint8_t t[2][16];
    for (int i = 0; i < 16; ++i) {
      const auto v = uint16_t(int16_t(__builtin_nearbyintf(F::kTable[i] * F::kTableScale)));
      t[0][i] = uint8_t(v);
      t[1][i] = uint8_t(v >> 8);
    }
    lo = _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(t[0])));
    hi = _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(t[1])));
  }
};

// R rows (`stride` bytes apart) x T tokens: y[j * ldy + i * ys] = sum_c W_i[c] * x_j[c], x_j
// given prepared.
template <class F, int R, int T>
inline __attribute__((always_inline)) void Rows(const Lookup<F>& t, const uint8_t* row,
                                                int64_t stride, const void* const* x, float* y,
                                                int64_t ldy, int64_t ys, int64_t cols) {
  using B = typename F::Block;
  const __m512i nib = _mm512_set1_epi8(0x0f);
  const int16_t* codes[T];
  const float* scales[T];
  __m512 acc[R][2][T];  // per row, even and odd blocks: two FMA chains
#pragma GCC unroll 8
  for (int j = 0; j < T; ++j) {
    codes[j] = PreparedCodes(x[j]);
    scales[j] = PreparedScales(x[j], cols);
#pragma GCC unroll 8
    for (int i = 0; i < R; ++i) acc[i][0][j] = acc[i][1][j] = _mm512_setzero_ps();
  }
  auto block = [&](const uint8_t* w, int64_t b, __m512* sum) __attribute__((always_inline)) {
    const uint8_t* blk = w + b * int64_t(sizeof(B));
    PrefetchAhead<sizeof(B)>(blk);
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + offsetof(B, qs)));
    const __m512i idx = _mm512_and_si512(
        _mm512_inserti64x4(_mm512_castsi256_si512(v), _mm256_srli_epi16(v, 4), 1), nib);
    const __m512i l = _mm512_shuffle_epi8(t.lo, idx), h = _mm512_shuffle_epi8(t.hi, idx);
    const __m512i w0 = _mm512_unpacklo_epi8(l, h), w1 = _mm512_unpackhi_epi8(l, h);
    uint16_t dbits;
    std::memcpy(&dbits, blk + offsetof(B, d), 2);
    const __m512 d = _mm512_set1_ps(t.half[dbits]);
#pragma GCC unroll 8
    for (int j = 0; j < T; ++j) {
      const __m512i* a = reinterpret_cast<const __m512i*>(codes[j] + b * kBlock);
      const __m512i s = _mm512_add_epi32(_mm512_madd_epi16(w0, _mm512_loadu_si512(a)),
                                         _mm512_madd_epi16(w1, _mm512_loadu_si512(a + 1)));
      // Two multiplies by broadcast memory operands: no shuffle for d_w * d_x.
      sum[j] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(s), d),
                               _mm512_set1_ps(scales[j][b]), sum[j]);
    }
  };
  const int64_t nb = Blocks(cols);
  int64_t b = 0;
  for (; b + 2 <= nb; b += 2) {
#pragma GCC unroll 8
    for (int i = 0; i < R; ++i) {
      block(row + i * stride, b, acc[i][0]);
      block(row + i * stride, b + 1, acc[i][1]);
    }
  }
  if (b < nb) {
#pragma GCC unroll 8
    for (int i = 0; i < R; ++i) block(row + i * stride, b, acc[i][0]);
  }
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < T; ++j)
      y[j * ldy + i * ys] =
          _mm512_reduce_add_ps(_mm512_add_ps(acc[i][0][j], acc[i][1][j])) * (1.0f / F::kTableScale);
}

// The file's kernel for the shared loops on prepared inputs (tile_loops.h).
template <class F>
struct Kernel {
  static constexpr int kSplit = 4;
  Lookup<F> lookup;
  static int64_t Bytes(int64_t cols) { return PreparedBytes(cols); }
  static void Prepare(const float* x, int64_t cols, void* buf) { cpu::Prepare(x, cols, buf); }
  using View = const void*;
  static View ViewOf(const void* buf, int64_t) { return buf; }
  template <int T>
  void Row(const uint8_t* row, const View* xs, float* y, int64_t ldy, int64_t cols) const {
    cpu::Rows<F, 1, T>(lookup, row, 0, xs, y, ldy, 0, cols);
  }
  void Rows(const uint8_t* row, int64_t stride, const View& x, float* y, int64_t ys,
            int64_t cols) const {
    cpu::Rows<F, kSplit, 1>(lookup, row, stride, &x, y, 0, ys, cols);
  }
};

}  // namespace

// Indexed by WeightFormat; only the nf4 and fp4 rows are filled.
const MatmulKernels kMatmulTable4Avx512[kWeightFormatCount] = {
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

const PreparedGemv kPreparedTable4Avx512[kWeightFormatCount] = {
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
