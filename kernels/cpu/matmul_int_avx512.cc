// AVX-512 matrix kernels for the integer weight formats (q8_channel, q8/q4/q3/q2 per group,
// sym and asym): 16 codes are widened to f32 in registers, scaled by their block's d (and m),
// then FMA'd with the activations; there is no separate dequantize pass over the matrix. The
// activations are first rounded to int8 blocks as the reference does (tile_loops.h,
// GemvRoundedX). On CPUs with AVX512-VNNI the q8/q4 formats use matmul_int_vnni512.cc instead.
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
#include <type_traits>

#include "cpu/cpu_kernels.h"
#include "cpu/tile_loops.h"
#include "ref/quant_int.h"

namespace squeeze::cpu {
namespace {

constexpr int kLanes = 16;

float Half(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

// Codes of the 16 weights at offset o (a multiple of 16) of block `blk`, as f32.
template <class B>
__m512 codes16(const uint8_t* blk, int o) {
  const uint8_t* qs = blk + offsetof(B, qs);
  if constexpr (B::kBits == 8) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs + o));
    return _mm512_cvtepi32_ps(B::kAsym ? _mm512_cvtepu8_epi32(v) : _mm512_cvtepi8_epi32(v));
  } else if constexpr (B::kBits == 4) {
    // 16 bytes hold 32 weights: the low nibbles are weights 0..15, the high ones 16..31.
    const __m512i v =
        _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs + 16 * (o / 32))));
    const bool high = (o % 32) != 0;
    __m512i q;
    if constexpr (B::kAsym) {
      q = high ? _mm512_srli_epi32(v, 4) : _mm512_and_si512(v, _mm512_set1_epi32(0xf));
    } else {  // sign-extend the nibble: move it to the top, shift back arithmetically
      q = _mm512_srai_epi32(high ? _mm512_slli_epi32(v, 24) : _mm512_slli_epi32(v, 28), 28);
    }
    return _mm512_cvtepi32_ps(q);
  } else {
    // 2/3-bit: per 32 weights 4 * bits bytes; weights o..o+7 and o+8..o+15 have their low 2
    // bits in bytes 0..7 at bits 2 * s and 2 * (s + 1), s = o % 32 / 8, and (3-bit) weight j's
    // high bit is bit 8 * (j % 4) + j / 4 of bytes 8..11 read as one word.
    const uint8_t* chunk = qs + 4 * B::kBits * (o / 32);
    const int sub = (o % 32) / 8;
    const __m128i b8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(chunk));
    const __m512i v = _mm512_cvtepu8_epi32(_mm_unpacklo_epi64(b8, b8));  // bytes 0..7 twice
    const __m512i shifts =
        _mm512_add_epi32(_mm512_set1_epi32(2 * sub),
                         _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2));
    __m512i q = _mm512_and_si512(_mm512_srlv_epi32(v, shifts), _mm512_set1_epi32(3));
    if constexpr (B::kBits == 3) {
      uint32_t h;
      std::memcpy(&h, chunk + 8, 4);
      // Weight o % 32 + i: bit 8 * (i % 4) + i / 4, plus 4 for the second 16 (o % 32 = 16).
      const __m512i hb = _mm512_srlv_epi32(
          _mm512_set1_epi32(int(h)),
          _mm512_add_epi32(
              _mm512_set1_epi32(sub == 0 ? 0 : 4),
              _mm512_setr_epi32(0, 8, 16, 24, 1, 9, 17, 25, 2, 10, 18, 26, 3, 11, 19, 27)));
      q = _mm512_or_si512(q, _mm512_slli_epi32(_mm512_and_si512(hb, _mm512_set1_epi32(1)), 2));
    }
    if constexpr (!B::kAsym) {  // sign-extend the field from its top bit
      q = _mm512_srai_epi32(_mm512_slli_epi32(q, 32 - B::kBits), 32 - B::kBits);
    }
    return _mm512_cvtepi32_ps(q);
  }
}

// One weight (column c of the row) for the scalar tail.
template <class B>
float load1(const uint8_t* row, int64_t c) {
  const uint8_t* blk = row + (c / B::kGroup) * int64_t(sizeof(B));
  const int k = int(c % B::kGroup);
  const uint8_t* qs = blk + offsetof(B, qs);
  int q;
  if constexpr (B::kBits == 8) {
    q = B::kAsym ? int(qs[k]) : int(int8_t(qs[k]));
  } else if constexpr (B::kBits == 4) {
    const int nib = (qs[16 * (k / 32) + k % 16] >> (4 * ((k % 32) / 16))) & 0xf;
    q = B::kAsym ? nib : (nib ^ 8) - 8;
  } else {
    const uint8_t* chunk = qs + 4 * B::kBits * (k / 32);
    int r = (chunk[k % 8] >> (2 * ((k % 32) / 8))) & 3;
    if constexpr (B::kBits == 3) r |= ((chunk[8 + k % 4] >> ((k % 32) / 4)) & 1) << 2;
    constexpr int kSign = 1 << (B::kBits - 1);
    q = B::kAsym ? r : (r ^ kSign) - kSign;
  }
  const float d = Half(blk + offsetof(B, d));
  if constexpr (B::kAsym) {
    return __builtin_fmaf(float(q), d, Half(blk + offsetof(B, m)));
  } else {
    return float(q) * d;
  }
}

// Tile of R weight rows x T tokens over the whole row: y[j * ldy + i] = sum_c W[i][c] *
// x[j * cols + c]. Per block each row's d (and m) are broadcast once; per 16 weights the codes
// are widened and dequantized once and used T times.
template <class B, int R, int T>
void tile(const uint8_t* w, int64_t row_bytes, const float* x, float* y, int64_t ldy,
          int64_t cols) {
  constexpr int G = B::kGroup;
  __m512 acc[R][T];
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < T; ++j) acc[i][j] = _mm512_setzero_ps();

  const int64_t vec_cols = cols / kLanes * kLanes;  // G is a multiple of 16
  for (int64_t c0 = 0; c0 < vec_cols; c0 += G) {
    const int64_t blk_off = c0 / G * int64_t(sizeof(B));
    __m512 d[R], m[R];
#pragma GCC unroll 8
    for (int i = 0; i < R; ++i) {
      const uint8_t* blk = w + i * row_bytes + blk_off;
      d[i] = _mm512_set1_ps(Half(blk + offsetof(B, d)));
      if constexpr (B::kAsym) m[i] = _mm512_set1_ps(Half(blk + offsetof(B, m)));
    }
    const int end = int(vec_cols - c0 < G ? vec_cols - c0 : G);
    for (int o = 0; o < end; o += kLanes) {
      __m512 xv[T];
#pragma GCC unroll 8
      for (int j = 0; j < T; ++j) xv[j] = _mm512_loadu_ps(x + j * cols + c0 + o);
#pragma GCC unroll 8
      for (int i = 0; i < R; ++i) {
        const __m512 q = codes16<B>(w + i * row_bytes + blk_off, o);
        __m512 wv;
        if constexpr (B::kAsym) {
          wv = _mm512_fmadd_ps(q, d[i], m[i]);
        } else {
          wv = _mm512_mul_ps(q, d[i]);
        }
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
      const float wf = load1<B>(w + i * row_bytes, c);
      for (int j = 0; j < T; ++j) s[i][j] = __builtin_fmaf(wf, x[j * cols + c], s[i][j]);
    }
  }
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < T; ++j) y[j * ldy + i] = s[i][j];
}

// q8_channel rows: f32 scale, then int8 codes. The codes are summed against x in f32 and the
// row's scale is applied once at the end.
struct Channel {};

template <int R, int T>
void tile_channel(const uint8_t* w, int64_t row_bytes, const float* x, float* y, int64_t ldy,
                  int64_t cols) {
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
      const __m512 q = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + i * row_bytes + 4 + c))));
#pragma GCC unroll 8
      for (int j = 0; j < T; ++j) acc[i][j] = _mm512_fmadd_ps(q, xv[j], acc[i][j]);
    }
  }
  float s[R][T];
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < T; ++j) s[i][j] = _mm512_reduce_add_ps(acc[i][j]);
  for (; c < cols; ++c) {
    for (int i = 0; i < R; ++i) {
      const float q = float(int8_t(w[i * row_bytes + 4 + c]));
      for (int j = 0; j < T; ++j) s[i][j] = __builtin_fmaf(q, x[j * cols + c], s[i][j]);
    }
  }
  for (int i = 0; i < R; ++i) {
    float scale;
    std::memcpy(&scale, w + i * row_bytes, 4);
    for (int j = 0; j < T; ++j) y[j * ldy + i] = s[i][j] * scale;
  }
}

// Row and token blocking as in matmul_avx512.cc (8 rows for gemv, 6 rows x 4 tokens for gemm).
constexpr int kGemvRows = 8;
constexpr int kGemmRows = 6;
constexpr int kGemmTokens = 4;

// The tile of this file for the shared row/token loops (cpu/tile_loops.h).
template <class B>
struct FileTile {
  template <int R, int T>
  static void Run(const uint8_t* w, int64_t row_bytes, const float* x, float* y, int64_t ldy,
                  int64_t cols) {
    if constexpr (std::is_same_v<B, Channel>) {
      tile_channel<R, T>(w, row_bytes, x, y, ldy, cols);
    } else {
      tile<B, R, T>(w, row_bytes, x, y, ldy, cols);
    }
  }
};

template <class B>
constexpr MatmulKernels IntAvx512() {
  return {GemvRoundedX<FileTile<B>, kGemvRows>, GemmRoundedX<FileTile<B>, kGemmRows, kGemmTokens>};
}

}  // namespace

// Indexed by WeightFormat; the float formats live in kMatmulAvx512 (null rows here).
const MatmulKernels kMatmulIntAvx512[kWeightFormatCount] = {
    /* kF32         */ {nullptr, nullptr},
    /* kF16         */ {nullptr, nullptr},
    /* kBF16        */ {nullptr, nullptr},
    /* kQ8Channel   */ IntAvx512<Channel>(),
    /* kQ8G32       */ IntAvx512<block_q8_g32>(),
    /* kQ8G64       */ IntAvx512<block_q8_g64>(),
    /* kQ8G128      */ IntAvx512<block_q8_g128>(),
    /* kQ8G32Asym   */ IntAvx512<block_q8_g32_asym>(),
    /* kQ8G64Asym   */ IntAvx512<block_q8_g64_asym>(),
    /* kQ8G128Asym  */ IntAvx512<block_q8_g128_asym>(),
    /* kQ4G32       */ IntAvx512<block_q4_g32>(),
    /* kQ4G64       */ IntAvx512<block_q4_g64>(),
    /* kQ4G128      */ IntAvx512<block_q4_g128>(),
    /* kQ4G32Asym   */ IntAvx512<block_q4_g32_asym>(),
    /* kQ4G64Asym   */ IntAvx512<block_q4_g64_asym>(),
    /* kQ4G128Asym  */ IntAvx512<block_q4_g128_asym>(),
    /* kNf4 .. kFp8E5M2 (16-19) live in kMatmulTable4Vnni512, kMatmulFloat8Avx512 */ {},
    {},
    {},
    {},
    /* kQ3G32       */ IntAvx512<block_q3_g32>(),
    /* kQ3G64       */ IntAvx512<block_q3_g64>(),
    /* kQ3G128      */ IntAvx512<block_q3_g128>(),
    /* kQ3G32Asym   */ IntAvx512<block_q3_g32_asym>(),
    /* kQ3G64Asym   */ IntAvx512<block_q3_g64_asym>(),
    /* kQ3G128Asym  */ IntAvx512<block_q3_g128_asym>(),
    /* kQ2G32       */ IntAvx512<block_q2_g32>(),
    /* kQ2G64       */ IntAvx512<block_q2_g64>(),
    /* kQ2G128      */ IntAvx512<block_q2_g128>(),
    /* kQ2G32Asym   */ IntAvx512<block_q2_g32_asym>(),
    /* kQ2G64Asym   */ IntAvx512<block_q2_g64_asym>(),
    /* kQ2G128Asym  */ IntAvx512<block_q2_g128_asym>(),
};

}  // namespace squeeze::cpu
