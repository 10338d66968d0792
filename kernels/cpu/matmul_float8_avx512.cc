// AVX-512 matrix kernels for the low-bit float formats (nf4, fp4, fp8_e4m3, fp8_e5m2). nf4/fp4:
// 16 nibbles are widened and looked up in the 16-entry code table with one permutexvar, scaled
// by the block's d and FMA'd with the activations; gemv has its own 8-row loop (GemvTile4,
// bound by the shuffle unit, with prefetch and batched scale conversion). fp8: bytes are widened to
// f16 with integer shifts and converted to f32 (Decode16; a gather from a 256-entry table measured
// 10x slower), summed against x, and the row scale is applied once at the end. Compiled with
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

float Half(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

// Table values of the 16 weights at offset o (a multiple of 16) of block `blk`.
template <class F>
__m512 values16(const uint8_t* blk, int o, __m512 table) {
  const uint8_t* qs = blk + offsetof(typename F::Block, qs);
  // 16 bytes hold 32 weights: the low nibbles are weights 0..15, the high ones 16..31.
  // permutexvar only reads the low 4 bits of each index, so the low nibbles need no mask.
  __m512i v =
      _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs + 16 * (o / 32))));
  if (o % 32 != 0) v = _mm512_srli_epi32(v, 4);
  return _mm512_permutexvar_ps(v, table);
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
// x[j * cols + c]. gemv sums table[code] * x over whole blocks and multiplies by d once
// (one-hot inputs still give exactly the reference's d * table[code]); otherwise each weight
// is scaled.
template <class F, int R, int T>
void tile4(const uint8_t* w, int64_t row_bytes, const float* x, float* y, int64_t ldy,
           int64_t cols) {
  using B = typename F::Block;
  constexpr int G = B::kGroup;
  const __m512 table = _mm512_loadu_ps(F::kTable);
  __m512 acc[R][T];
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < T; ++j) acc[i][j] = _mm512_setzero_ps();

  const int64_t vec_cols = cols / kLanes * kLanes;  // G is a multiple of 16
  for (int64_t c0 = 0; c0 < vec_cols; c0 += G) {
    const int64_t blk_off = c0 / G * int64_t(sizeof(B));
    __m512 d[R];
#pragma GCC unroll 8
    for (int i = 0; i < R; ++i) d[i] = _mm512_set1_ps(Half(w + i * row_bytes + blk_off));
    const int end = int(vec_cols - c0 < G ? vec_cols - c0 : G);
    if (T == 1 && end == G) {
      // gemv, a whole block: per 32 weights one load and widening of 16 code bytes and two
      // table lookups; codes times x are summed over the block and scaled by d once. (For
      // gemm tiles this measured slower than the scaled weights below, which serve T tokens.)
#pragma GCC unroll 8
      for (int i = 0; i < R; ++i) {
        const uint8_t* qs = w + i * row_bytes + blk_off + offsetof(B, qs);
        __m512 part[T];
#pragma GCC unroll 8
        for (int j = 0; j < T; ++j) part[j] = _mm512_setzero_ps();
#pragma GCC unroll 4
        for (int o = 0; o < G; o += 32) {
          const __m512i v =
              _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs + o / 2)));
          const __m512 lo = _mm512_permutexvar_ps(v, table);
          const __m512 hi = _mm512_permutexvar_ps(_mm512_srli_epi32(v, 4), table);
#pragma GCC unroll 8
          for (int j = 0; j < T; ++j) {
            part[j] = _mm512_fmadd_ps(lo, _mm512_loadu_ps(x + j * cols + c0 + o), part[j]);
            part[j] = _mm512_fmadd_ps(hi, _mm512_loadu_ps(x + j * cols + c0 + o + 16), part[j]);
          }
        }
#pragma GCC unroll 8
        for (int j = 0; j < T; ++j) acc[i][j] = _mm512_fmadd_ps(part[j], d[i], acc[i][j]);
      }
      continue;
    }
    for (int o = 0; o < end; o += kLanes) {
      __m512 xv[T];
#pragma GCC unroll 8
      for (int j = 0; j < T; ++j) xv[j] = _mm512_loadu_ps(x + j * cols + c0 + o);
#pragma GCC unroll 8
      for (int i = 0; i < R; ++i) {
        const __m512 wv = _mm512_mul_ps(values16<F>(w + i * row_bytes + blk_off, o, table), d[i]);
#pragma GCC unroll 8
        for (int j = 0; j < T; ++j) acc[i][j] = _mm512_fmadd_ps(wv, xv[j], acc[i][j]);
      }
    }
  }

  float s[R][T];
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < T; ++j) s[i][j] = _mm512_reduce_add_ps(acc[i][j]);
  for (int64_t c = vec_cols; c < cols; ++c) {
    for (int i = 0; i < R; ++i) {
      const float wf = load1<F>(w + i * row_bytes, c);
      for (int j = 0; j < T; ++j) s[i][j] = __builtin_fmaf(wf, x[j * cols + c], s[i][j]);
    }
  }
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < T; ++j) y[j * ldy + i] = s[i][j];
}

// Fast gemv of a 4-bit table format, R rows. Per 32 weights: one widening load of 16 code bytes
// (the low nibbles index the table directly: permutexvar reads only the low 4 bits), one shift
// for the high nibbles, two lookups and two FMAs; a block's sum is scaled by its d once. The
// vector shuffle units bound this loop, so the 8 rows' scales of a block are gathered with
// integer loads into two words and converted by one instruction, and each is then read as a
// broadcast memory operand (measured 8-10% faster than a convert and broadcast per row).
template <class F, int R>
void GemvTile4(const uint8_t* w, int64_t row_bytes, const float* x, float* y, int64_t cols) {
  using B = typename F::Block;
  constexpr int G = B::kGroup;
  static_assert(G == 64 && offsetof(B, qs) == 2 && (R == 8 || R == 1));
  const __m512 table = _mm512_loadu_ps(F::kTable);
  __m512 acc[R];
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i) acc[i] = _mm512_setzero_ps();
  const int64_t blocks = cols / G;
  alignas(32) float dbuf[8];
  for (int64_t b = 0; b < blocks; ++b) {
    const uint8_t* wb = w + b * int64_t(sizeof(B));
    const float* ds = dbuf;
    if constexpr (R == 8) {
      uint64_t lo = 0, hi = 0;
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) {
        uint16_t h0, h1;
        std::memcpy(&h0, wb + i * row_bytes, 2);
        std::memcpy(&h1, wb + (i + 4) * row_bytes, 2);
        lo |= uint64_t(h0) << (16 * i);
        hi |= uint64_t(h1) << (16 * i);
      }
      _mm256_store_ps(dbuf, _mm256_cvtph_ps(_mm_set_epi64x(int64_t(hi), int64_t(lo))));
      // Hide the store from the optimizer so that it reads the scales back as broadcast memory
      // operands instead of shuffling them out of the register.
      asm("" : "+r"(ds));
    } else {
      dbuf[0] = Half(wb);
    }
    const float* xb = x + b * G;
    const __m512 x0 = _mm512_loadu_ps(xb), x1 = _mm512_loadu_ps(xb + 16);
    const __m512 x2 = _mm512_loadu_ps(xb + 32), x3 = _mm512_loadu_ps(xb + 48);
#pragma GCC unroll 8
    for (int i = 0; i < R; ++i) {
      const uint8_t* qs = wb + i * row_bytes + 2;
      // Software prefetch 16 blocks ahead (one line per row every other block): 8 rows are 8
      // streams, more than the hardware prefetcher keeps ahead of (~10% faster on 4096x11008).
      if (b % 2 == 0) _mm_prefetch(reinterpret_cast<const char*>(qs + 16 * sizeof(B)), _MM_HINT_T0);
      const __m512i v0 =
          _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs)));
      const __m512i v1 =
          _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs + 16)));
      __m512 p = _mm512_mul_ps(_mm512_permutexvar_ps(v0, table), x0);
      p = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(v0, 4), table), x1, p);
      p = _mm512_fmadd_ps(_mm512_permutexvar_ps(v1, table), x2, p);
      p = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(v1, 4), table), x3, p);
      acc[i] = _mm512_fmadd_ps(p, _mm512_set1_ps(ds[i]), acc[i]);
    }
  }
  float s[R];
  for (int i = 0; i < R; ++i) {
    // The last, partial block: 16 weights at a time, then one at a time.
    const uint8_t* row = w + i * row_bytes;
    const uint8_t* blk = row + blocks * int64_t(sizeof(B));
    int64_t c = blocks * G;
    if (c + kLanes <= cols) {
      const __m512 d = _mm512_set1_ps(Half(blk));
      for (; c + kLanes <= cols; c += kLanes) {
        const __m512 wv = _mm512_mul_ps(values16<F>(blk, int(c % G), table), d);
        acc[i] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(x + c), acc[i]);
      }
    }
    s[i] = _mm512_reduce_add_ps(acc[i]);
    for (; c < cols; ++c) s[i] = __builtin_fmaf(load1<F>(row, c), x[c], s[i]);
  }
  for (int i = 0; i < R; ++i) y[i] = s[i];
}

constexpr int kGemv4Rows = 8;

template <class F>
void Gemv4(const void* w, int64_t row_bytes, const float* x, float* y, int64_t rows, int64_t cols) {
  const uint8_t* p = static_cast<const uint8_t*>(w);
  int64_t r = 0;
  for (; r + kGemv4Rows <= rows; r += kGemv4Rows)
    GemvTile4<F, kGemv4Rows>(p + r * row_bytes, row_bytes, x, y + r, cols);
  for (; r < rows; ++r) GemvTile4<F, 1>(p + r * row_bytes, row_bytes, x, y + r, cols);
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
    if constexpr (requires { F::kTable; }) {
      tile4<F, R, T>(w, row_bytes, x, y, ldy, cols);
    } else {
      tile8<F, R, T>(w, row_bytes, x, y, ldy, cols);
    }
  }
};

template <class F>
constexpr MatmulKernels Float8Avx512() {
  if constexpr (requires { F::kTable; }) {
    return {Gemv4<F>, GemmByTiles<FileTile<F>, kGemmRows, kGemmTokens>};
  } else {
    return {GemvByRows<FileTile<F>, kGemvRows>, GemmByTiles<FileTile<F>, kGemmRows, kGemmTokens>};
  }
}

}  // namespace

// Indexed by WeightFormat; the other formats live in kMatmulAvx512 / kMatmulIntAvx512.
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
    /* kNf4         */ Float8Avx512<Nf4>(),
    /* kFp4         */ Float8Avx512<Fp4>(),
    /* kFp8E4M3     */ Float8Avx512<E4M3>(),
    /* kFp8E5M2     */ Float8Avx512<E5M2>(),
};

}  // namespace squeeze::cpu
