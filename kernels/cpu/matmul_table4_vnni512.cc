// AVX-512 matrix kernels for the 4-bit table formats (nf4, fp4) in fixed point: the AVX2 scheme
// (matmul_table4_avx2.cc: the table as int16 values times kTableScale, the inputs rounded per
// block of 64 to int16 q = nearbyint(x * 16383 / absmax), vpmaddwd products summed in int32,
// one conversion and one FMA per block) with one block per 512-bit vector pair. The block's 32
// code bytes are widened to 32 words (vpmovzxbw); the words themselves (vpermw reads their low
// 5 bits, and the table is there twice) and the words shifted right by 4 index the int16 table
// with one vpermw each: 4 operations from codes to the 64 int16 weights, against 7 with byte
// lookups (two vpshufb for the table's low and high bytes, two unpacks; 20% slower in cache
// and from memory on the Zen 5 development VM) and 8 on AVX2. The products of a block: one
// vpmaddwd and one VNNI vpdpwssd adding the second half into it (against two vpmaddwd and an
// add: 10% faster in cache and from memory on that VM). d_w * d_x: a multiply and the FMA
// by broadcast memory operands (no shuffle); even and odd blocks sum into two accumulators. An
// int32 lane sums 4 products of |table| <= 8192 and |q| <= 16383, at most 2^29 in magnitude.
// The results are those of the AVX2 kernels up to the order of the f32 operations, within the
// tests' bound (matmul_test.cc, FixedPointBounds).
//
// Order: in each 16-byte half L of a block's codes, byte i holds weight 32L + i (low nibble)
// and 32L + 16 + i (high nibble). The low nibbles of the 32 bytes are then weights 0-15 and
// 32-47, the high ones 16-31 and 48-63: the order of the two prepared input vectors.
// Compiled with -mavx512f/bw/vl/dq/vnni and handed out only on CPUs with AVX512-VNNI
// (kernel_table.cc; the AVX2 kernels elsewhere): everything stays in the anonymous namespace and
// uses only intrinsics and plain loops, so no AVX-512 copy of a shared inline function can leak
// out.

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
// Per block: 64 int16 codes (128 bytes, as two vectors in the order above: columns 0-15 and
// 32-47, then 16-31 and 48-63), then, after all blocks, one f32 per block: absmax / 16383.
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

void Prepare(const float* x, int64_t cols, void* buf) {
  int16_t* codes = static_cast<int16_t*>(buf);
  float* scales = const_cast<float*>(PreparedScales(buf, cols));
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
    __m512i* dst = reinterpret_cast<__m512i*>(codes + b * kBlock);
    _mm512_storeu_si512(dst, _mm512_inserti64x4(_mm512_castsi256_si512(q[0]), q[2], 1));
    _mm512_storeu_si512(dst + 1, _mm512_inserti64x4(_mm512_castsi256_si512(q[1]), q[3], 1));
  }
}

// ---- Weights ----
// The int16 table twice, in words 0-15 and 16-31: vpermw reads 5 index bits, so a word holding
// a whole code byte (low nibble + 16 * high) finds its low nibble's value with no mask.
template <class F>
struct Lookup {
  __m512i table;
  const float* half = HalfToFloatTable();
  Lookup() {
    alignas(64) int16_t t[32];
    for (int i = 0; i < 32; ++i)
      t[i] = int16_t(__builtin_nearbyintf(F::kTable[i % 16] * F::kTableScale));
    table = _mm512_load_si512(t);
  }
};

// R rows (`stride` bytes apart) x T tokens: y[j * ldy + i * ys] = sum_c W_i[c] * x_j[c], x_j
// given prepared.
template <class F, int R, int T>
inline __attribute__((always_inline)) void Rows(const Lookup<F>& t, const uint8_t* row,
                                                int64_t stride, const void* const* x, float* y,
                                                int64_t ldy, int64_t ys, int64_t cols) {
  using B = typename F::Block;
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
    const __m512i v = _mm512_cvtepu8_epi16(
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + offsetof(B, qs))));
    const __m512i w0 = _mm512_permutexvar_epi16(v, t.table);
    const __m512i w1 = _mm512_permutexvar_epi16(_mm512_srli_epi16(v, 4), t.table);
    uint16_t dbits;
    std::memcpy(&dbits, blk + offsetof(B, d), 2);
    const __m512 d = _mm512_set1_ps(t.half[dbits]);
#pragma GCC unroll 8
    for (int j = 0; j < T; ++j) {
      const __m512i* a = reinterpret_cast<const __m512i*>(codes[j] + b * kBlock);
      const __m512i s = _mm512_dpwssd_epi32(_mm512_madd_epi16(w0, _mm512_loadu_si512(a)), w1,
                                            _mm512_loadu_si512(a + 1));
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
const MatmulKernels kMatmulTable4Vnni512[kWeightFormatCount] = {
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

const PreparedGemv kPreparedTable4Vnni512[kWeightFormatCount] = {
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
