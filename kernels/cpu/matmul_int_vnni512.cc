// AVX-512 VNNI matrix kernels for q8_channel and the q8 / q4 group formats (sym and asym).
// The activations are rounded to int8 blocks of 32 once per call (matmul.h, "Activation
// rounding"); each 64 weights are unpacked to bytes and multiplied with the int8 activations by
// one vpdpbusd (u8 x s8 -> 16 int32 lanes, 8 lanes per 32-column block), and each block's
// integer sums are scaled once by the product of the weight and activation scales.
// Handed out only on CPUs with AVX512-VNNI (cpu/kernel_table.cc); compiled with
// -mavx512f/bw/vl/dq/vnni: everything stays in the anonymous namespace.
//
// vpdpbusd multiplies unsigned by signed bytes. Symmetric codes are made unsigned by an offset
// (q4: u = q + 8, q8: u = q + 128) whose contribution, offset * sum(q_x) per block, is known
// from the activations alone and is the accumulator's starting value (negated, spread evenly
// over the block's 8 lanes). Asymmetric codes are unsigned already; their minimum m adds
// m * d_x * sum(q_x) per block.

// GCC 12 warns about the deliberately undefined registers inside its own intrinsics headers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "cpu/cpu_kernels.h"
#include "cpu/tile_loops.h"
#include "ref/quant_int.h"

namespace squeeze::cpu {
namespace {

// Activations of one token for 64-column units: codes, then per unit 16 lanes of block scale
// d, block code sum s, and d * s / 8 (lanes 0-7 belong to the unit's first 32 columns).
struct ActQ {
  const int8_t* q;
  const float* d;
  const int32_t* s;
  const float* ds8;
};

constexpr int64_t Units(int64_t cols) {
  return (cols + 63) / 64;
}
// Bytes of one token's ActQ.
constexpr int64_t ActBytes(int64_t cols) {
  return Units(cols) * 256;
}

__mmask16 Mask16(int64_t n) {
  return n >= 16 ? __mmask16(0xffff) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
}

// Rounds x (cols values) into buf (ActBytes(cols) bytes, 64-byte aligned) with the same f32
// operations as the reference: d = absmax / 127, q = nearbyint(x * (127 / absmax)).
ActQ QuantizeActs(const float* x, int64_t cols, uint8_t* buf) {
  const int64_t units = Units(cols);
  int8_t* q = reinterpret_cast<int8_t*>(buf);
  float* d = reinterpret_cast<float*>(buf + units * 64);
  int32_t* s = reinterpret_cast<int32_t*>(buf + units * 128);
  float* ds8 = reinterpret_cast<float*>(buf + units * 192);
  for (int64_t u = 0; u < units; ++u) {
    for (int h = 0; h < 2; ++h) {
      const int64_t c0 = u * 64 + h * 32;
      const __m512 a = _mm512_maskz_loadu_ps(Mask16(cols - c0), x + c0);
      const __m512 b = _mm512_maskz_loadu_ps(Mask16(cols - c0 - 16), x + c0 + 16);
      const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(a), _mm512_abs_ps(b)));
      const float bd = amax / 127.0f, id = amax > 0 ? 127.0f / amax : 0.0f;
      const __m512 vid = _mm512_set1_ps(id);
      const __m512i qa = _mm512_cvtps_epi32(_mm512_mul_ps(a, vid));
      const __m512i qb = _mm512_cvtps_epi32(_mm512_mul_ps(b, vid));
      _mm_store_si128(reinterpret_cast<__m128i*>(q + c0), _mm512_cvtsepi32_epi8(qa));
      _mm_store_si128(reinterpret_cast<__m128i*>(q + c0 + 16), _mm512_cvtsepi32_epi8(qb));
      const int32_t sum = _mm512_reduce_add_epi32(_mm512_add_epi32(qa, qb));
      _mm256_store_ps(d + u * 16 + h * 8, _mm256_set1_ps(bd));
      _mm256_store_si256(reinterpret_cast<__m256i*>(s + u * 16 + h * 8), _mm256_set1_epi32(sum));
      _mm256_store_ps(ds8 + u * 16 + h * 8, _mm256_set1_ps(bd * float(sum) * 0.125f));
    }
  }
  return {q, d, s, ds8};
}

float Half(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

// q8_channel rows: f32 scale, then int8 codes (no blocks, no padding).
struct Channel {
  static constexpr int kBits = 8;
  static constexpr bool kAsym = false;
};

// 32 bytes of packed nibbles (16 per 32 weights, layout in ref/quant_int.h) as 64 code bytes in
// column order; symmetric codes offset by 8.
template <bool kAsym>
__m512i Expand4(__m256i c) {
  const __m512i v = _mm512_permutexvar_epi64(_mm512_setr_epi64(0, 1, 0, 1, 2, 3, 2, 3),
                                             _mm512_castsi256_si512(c));
  const __m512i n = _mm512_and_si512(
      _mm512_srlv_epi64(v, _mm512_setr_epi64(0, 0, 4, 4, 0, 0, 4, 4)), _mm512_set1_epi8(0x0f));
  return kAsym ? n : _mm512_xor_si512(n, _mm512_set1_epi8(0x08));
}

// One row's 64-column unit u: the codes as vpdpbusd's unsigned operand, and per lane the
// weight scale d (and minimum m) of the lane's block. `lone`: a G = 32 row whose last unit
// holds only one block (the second must not be read).
template <class B>
struct RowUnit {
  __m512i codes;
  __m512 d, m;
};

template <class B>
RowUnit<B> LoadUnit(const uint8_t* row, int64_t u, int64_t cols) {
  RowUnit<B> r = {_mm512_setzero_si512(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  if constexpr (std::is_same_v<B, Channel>) {
    const uint8_t* p = row + 4 + u * 64;
    const int64_t left = cols - u * 64;
    const __m512i z =
        left >= 64 ? _mm512_loadu_si512(p) : _mm512_maskz_loadu_epi8((1ull << left) - 1, p);
    r.codes = _mm512_xor_si512(z, _mm512_set1_epi8(char(0x80)));
    return r;
  } else {
    constexpr int G = B::kGroup;
    constexpr int64_t S = sizeof(B);
    constexpr int kQs = offsetof(B, qs);
    if constexpr (G == 32) {
      const uint8_t* a = row + 2 * u * S;
      const bool lone = (2 * u + 1) * 32 >= cols;
      if constexpr (B::kBits == 8) {
        const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + kQs));
        const __m256i hi = lone ? _mm256_setzero_si256()
                                : _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + S + kQs));
        const __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
        r.codes = B::kAsym ? z : _mm512_xor_si512(z, _mm512_set1_epi8(char(0x80)));
      } else {
        const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + kQs));
        const __m128i hi = lone ? _mm_setzero_si128()
                                : _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + S + kQs));
        r.codes = Expand4<B::kAsym>(_mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1));
      }
      if (lone) {
        r.d = _mm512_set1_ps(Half(a));
        if constexpr (B::kAsym) r.m = _mm512_set1_ps(Half(a + 2));
      } else if constexpr (2 * S >= 64) {
        // d of both blocks from one 64-byte load: words 0 and S / 2 (m: 1 and S / 2 + 1).
        const __m512i v = _mm512_loadu_si512(a);
        const __m512i di =
            _mm512_setr_epi32(0, 0, 0, 0, S / 2 * 0x10001, S / 2 * 0x10001, S / 2 * 0x10001,
                              S / 2 * 0x10001, 0, 0, 0, 0, 0, 0, 0, 0);
        r.d = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi16(di, v)));
        if constexpr (B::kAsym) {
          const __m512i mi = _mm512_add_epi16(di, _mm512_set1_epi16(1));
          r.m = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi16(mi, v)));
        }
      } else {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a));
        const __m256i di = _mm256_setr_epi32(0, 0, 0, 0, S / 2 * 0x10001, S / 2 * 0x10001,
                                             S / 2 * 0x10001, S / 2 * 0x10001);
        r.d = _mm512_cvtph_ps(_mm256_permutexvar_epi16(di, v));
        if constexpr (B::kAsym) {
          const __m256i mi = _mm256_add_epi16(di, _mm256_set1_epi16(1));
          r.m = _mm512_cvtph_ps(_mm256_permutexvar_epi16(mi, v));
        }
      }
    } else {
      const uint8_t* blk = row + (u * 64 / G) * S;
      const uint8_t* qs = blk + kQs + (u * 64 % G) * B::kBits / 8;
      if constexpr (B::kBits == 8) {
        const __m512i z = _mm512_loadu_si512(qs);
        r.codes = B::kAsym ? z : _mm512_xor_si512(z, _mm512_set1_epi8(char(0x80)));
      } else {
        r.codes = Expand4<B::kAsym>(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs)));
      }
      r.d = _mm512_set1_ps(Half(blk));
      if constexpr (B::kAsym) r.m = _mm512_set1_ps(Half(blk + 2));
    }
    return r;
  }
}

// Bytes of a row per 64-column unit (q8_channel: after its 4-byte scale; the offset a
// prefetch ahead is taken from does not matter).
template <class B>
constexpr int64_t kUnitBytes = [] {
  if constexpr (std::is_same_v<B, Channel>) {
    return int64_t(64);
  } else {
    return int64_t(sizeof(B)) * 64 / B::kGroup;
  }
}();

// Tile of R rows x T tokens: y[j * ldy + i] = W[i] · x_j with the rounded activations a[j].
template <class B, int R, int T>
void Tile(const uint8_t* w, int64_t row_bytes, const ActQ* a, float* y, int64_t ldy, int64_t cols) {
  __m512 acc[R][T];
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < T; ++j) acc[i][j] = _mm512_setzero_ps();
  const int64_t units = Units(cols);
  for (int64_t u = 0; u < units; ++u) {
    __m512i xq[T], init[T];
    __m512 xd[T], xds8[T];
#pragma GCC unroll 8
    for (int j = 0; j < T; ++j) {
      xq[j] = _mm512_load_si512(a[j].q + u * 64);
      xd[j] = _mm512_load_ps(a[j].d + u * 16);
      if constexpr (B::kAsym) {
        xds8[j] = _mm512_load_ps(a[j].ds8 + u * 16);
        init[j] = _mm512_setzero_si512();
      } else {
        // Minus the code offset's contribution, offset * s per block, over 8 lanes.
        const __m512i s = _mm512_load_si512(a[j].s + u * 16);
        init[j] =
            _mm512_sub_epi32(_mm512_setzero_si512(), B::kBits == 8 ? _mm512_slli_epi32(s, 4) : s);
      }
    }
#pragma GCC unroll 8
    for (int i = 0; i < R; ++i) {
      if constexpr (T == 1) PrefetchAhead<kUnitBytes<B>>(w + i * row_bytes + u * kUnitBytes<B>);
      const RowUnit<B> r = LoadUnit<B>(w + i * row_bytes, u, cols);
#pragma GCC unroll 8
      for (int j = 0; j < T; ++j) {
        const __m512 dot = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(init[j], r.codes, xq[j]));
        if constexpr (std::is_same_v<B, Channel>) {
          acc[i][j] = _mm512_fmadd_ps(dot, xd[j], acc[i][j]);
        } else {
          acc[i][j] = _mm512_fmadd_ps(dot, _mm512_mul_ps(r.d, xd[j]), acc[i][j]);
          if constexpr (B::kAsym) acc[i][j] = _mm512_fmadd_ps(r.m, xds8[j], acc[i][j]);
        }
      }
    }
  }
  for (int i = 0; i < R; ++i) {
    float scale = 1.0f;
    if constexpr (std::is_same_v<B, Channel>) std::memcpy(&scale, w + i * row_bytes, 4);
    for (int j = 0; j < T; ++j) y[j * ldy + i] = _mm512_reduce_add_ps(acc[i][j]) * scale;
  }
}

constexpr int kGemmRows = 4;
constexpr int kGemmTokens = 4;

template <class B, int R, int T>
void RowLoop(const uint8_t* w, int64_t row_bytes, const ActQ* a, float* y, int64_t ldy,
             int64_t rows, int64_t cols) {
  int64_t r = 0;
  for (; r + R <= rows; r += R) Tile<B, R, T>(w + r * row_bytes, row_bytes, a, y + r, ldy, cols);
  for (; r < rows; ++r) Tile<B, 1, T>(w + r * row_bytes, row_bytes, a, y + r, ldy, cols);
}

// gemv: the rows split into kSplit parts walked side by side (rows i, i + part, ...), so that
// the kSplit streams read from memory are far apart (as GemvOnPrepared in tile_loops.h, whose
// interface this file's kernels do not have); 8 adjacent rows at a time read q8_g32 from
// memory ~2x slower on the Zen 5 development VM.
constexpr int kSplit = 4;

template <class B>
void RowLoopSplit(const uint8_t* w, int64_t row_bytes, const ActQ& a, float* y, int64_t rows,
                  int64_t cols) {
  SplitRowLoop<kSplit, 1>(
      rows,
      [&](int64_t i, int64_t part) {
        float out[kSplit];
        Tile<B, kSplit, 1>(w + i * row_bytes, part * row_bytes, &a, out, 0, cols);
        for (int k = 0; k < kSplit; ++k) y[i + k * part] = out[k];
      },
      [&](int64_t r) { Tile<B, 1, 1>(w + r * row_bytes, row_bytes, &a, y + r, 0, cols); });
}

uint8_t* ActScratch(int64_t n, int64_t cols) {
  void* p = ThreadScratch(size_t(n * ActBytes(cols)));
  if (p == nullptr) std::abort();
  return static_cast<uint8_t*>(p);
}

// 4-bit gemv, R rows at a time, in steps of 128 columns (4 blocks of 32): each row's 64 packed
// bytes of a step are loaded with the 32-column blocks in the 4 128-bit lanes, so that one
// and/shift pair gives the low nibbles (columns 0-15 of each block) and the high ones (16-31),
// and the activations are permuted once per step (for all R rows) to match. Each block then
// owns 4 int32 lanes; the weight scales of the 4 blocks come from one vpermw + vcvtph2ps.
// Columns past the last whole step go 64 at a time as in Tile.
template <class B>
__m512i Q4StepCodes(const uint8_t* a) {
  constexpr int G = B::kGroup;
  constexpr int64_t S = sizeof(B);
  constexpr int kQs = offsetof(B, qs);
  __m512i v;
  if constexpr (G == 32) {
    v = _mm512_castsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + kQs)));
    v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + S + kQs)), 1);
    v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + 2 * S + kQs)),
                           2);
    v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + 3 * S + kQs)),
                           3);
  } else if constexpr (G == 64) {
    v = _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + kQs)));
    v = _mm512_inserti64x4(v, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + S + kQs)), 1);
  } else {
    v = _mm512_loadu_si512(a + kQs);
  }
  return B::kAsym ? v : _mm512_xor_si512(v, _mm512_set1_epi8(char(0x88)));
}

// Word indices of the 4 blocks' scales d (m: + 1) in a step's first 64 bytes, 4 lanes each.
template <class B>
__m512i Q4StepScaleIndex() {
  constexpr int G = B::kGroup;
  constexpr int64_t S = sizeof(B);
  alignas(64) int16_t idx[32] = {};
  for (int l = 0; l < 16; ++l) idx[l] = int16_t((l / 4 * 32 / G) * S / 2);
  return _mm512_load_si512(idx);
}

template <class B, int R>
void TileQ4(const uint8_t* w, int64_t row_bytes, const ActQ& a, float* y, int64_t cols) {
  constexpr int G = B::kGroup;
  constexpr int64_t S = sizeof(B);
  constexpr int64_t kStepBytes = 128 / G * S;
  __m512 acc[R];
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i) acc[i] = _mm512_setzero_ps();
  const __m512i di = Q4StepScaleIndex<B>();
  const __m512i mi = _mm512_add_epi16(di, _mm512_set1_epi16(1));
  const __m512i lo_idx = _mm512_setr_epi64(0, 1, 4, 5, 8, 9, 12, 13);
  const __m512i hi_idx = _mm512_setr_epi64(2, 3, 6, 7, 10, 11, 14, 15);
  const __m512i lane_idx =
      _mm512_setr_epi32(0, 0, 0, 0, 8, 8, 8, 8, 16, 16, 16, 16, 24, 24, 24, 24);
  const __m512i nib = _mm512_set1_epi8(0x0f);
  const int64_t steps = cols / 128;
  for (int64_t st = 0; st < steps; ++st) {
    const int64_t u = 2 * st;
    const __m512i qa = _mm512_load_si512(a.q + u * 64), qb = _mm512_load_si512(a.q + u * 64 + 64);
    const __m512i xlo = _mm512_permutex2var_epi64(qa, lo_idx, qb);
    const __m512i xhi = _mm512_permutex2var_epi64(qa, hi_idx, qb);
    const __m512 xd = _mm512_permutex2var_ps(_mm512_load_ps(a.d + u * 16), lane_idx,
                                             _mm512_load_ps(a.d + u * 16 + 16));
    __m512i init = _mm512_setzero_si512();
    __m512 xds4 = _mm512_setzero_ps();
    if constexpr (B::kAsym) {
      xds4 = _mm512_mul_ps(_mm512_set1_ps(2.0f),
                           _mm512_permutex2var_ps(_mm512_load_ps(a.ds8 + u * 16), lane_idx,
                                                  _mm512_load_ps(a.ds8 + u * 16 + 16)));
    } else {
      // Minus the code offset's contribution, 8 * s per block, over 4 lanes.
      const __m512i sv = _mm512_permutex2var_epi32(_mm512_load_si512(a.s + u * 16), lane_idx,
                                                   _mm512_load_si512(a.s + u * 16 + 16));
      init = _mm512_sub_epi32(init, _mm512_slli_epi32(sv, 1));
    }
#pragma GCC unroll 8
    for (int i = 0; i < R; ++i) {
      const uint8_t* p = w + i * row_bytes + st * kStepBytes;
      const __m512i v = Q4StepCodes<B>(p);
      const __m512i lo = _mm512_and_si512(v, nib);
      const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), nib);
      const __m512i dot = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(init, lo, xlo), hi, xhi);
      const __m512i sc = _mm512_loadu_si512(p);
      const __m512 d = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi16(di, sc)));
      acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(d, xd), acc[i]);
      if constexpr (B::kAsym) {
        const __m512 m = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi16(mi, sc)));
        acc[i] = _mm512_fmadd_ps(m, xds4, acc[i]);
      }
    }
  }
  for (int64_t u = 2 * steps; u < Units(cols); ++u) {
    const __m512i xq = _mm512_load_si512(a.q + u * 64);
    const __m512 xd = _mm512_load_ps(a.d + u * 16);
    const __m512 xds8 = _mm512_load_ps(a.ds8 + u * 16);
    const __m512i init =
        B::kAsym ? _mm512_setzero_si512()
                 : _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_load_si512(a.s + u * 16));
    for (int i = 0; i < R; ++i) {
      const RowUnit<B> r = LoadUnit<B>(w + i * row_bytes, u, cols);
      const __m512 dot = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(init, r.codes, xq));
      acc[i] = _mm512_fmadd_ps(dot, _mm512_mul_ps(r.d, xd), acc[i]);
      if constexpr (B::kAsym) acc[i] = _mm512_fmadd_ps(r.m, xds8, acc[i]);
    }
  }
  for (int i = 0; i < R; ++i) y[i] = _mm512_reduce_add_ps(acc[i]);
}

constexpr int kGemvRowsQ4 = 4;

template <class B>
void RowLoopQ4(const uint8_t* w, int64_t row_bytes, const ActQ& a, float* y, int64_t rows,
               int64_t cols) {
  int64_t r = 0;
  for (; r + kGemvRowsQ4 <= rows; r += kGemvRowsQ4)
    TileQ4<B, kGemvRowsQ4>(w + r * row_bytes, row_bytes, a, y + r, cols);
  for (; r < rows; ++r) TileQ4<B, 1>(w + r * row_bytes, row_bytes, a, y + r, cols);
}

// The ActQ view of a buffer filled by QuantizeActs.
ActQ ActView(const void* buf, int64_t cols) {
  const uint8_t* b = static_cast<const uint8_t*>(buf);
  const int64_t units = Units(cols);
  return {reinterpret_cast<const int8_t*>(b), reinterpret_cast<const float*>(b + units * 64),
          reinterpret_cast<const int32_t*>(b + units * 128),
          reinterpret_cast<const float*>(b + units * 192)};
}

template <class B>
void GemvPrepared(const void* w, int64_t row_bytes, const void* prepared, float* y, int64_t rows,
                  int64_t cols) {
  const ActQ a = ActView(prepared, cols);
  if constexpr (!std::is_same_v<B, Channel>) {
    if constexpr (B::kBits == 4) {
      RowLoopQ4<B>(static_cast<const uint8_t*>(w), row_bytes, a, y, rows, cols);
      return;
    }
  }
  RowLoopSplit<B>(static_cast<const uint8_t*>(w), row_bytes, a, y, rows, cols);
}

template <class B>
void Gemv(const void* w, int64_t row_bytes, const float* x, float* y, int64_t rows, int64_t cols) {
  uint8_t* buf = ActScratch(1, cols);
  QuantizeActs(x, cols, buf);
  GemvPrepared<B>(w, row_bytes, buf, y, rows, cols);
}

int64_t PreparedBytes(int64_t cols) {
  return ActBytes(cols);
}

void Prepare(const float* x, int64_t cols, void* buf) {
  QuantizeActs(x, cols, static_cast<uint8_t*>(buf));
}

template <class B>
void Gemm(const void* w, int64_t row_bytes, const float* x, int64_t n, float* y, int64_t ldy,
          int64_t rows, int64_t cols) {
  uint8_t* buf = ActScratch(n, cols);
  const uint8_t* p = static_cast<const uint8_t*>(w);
  // Rows outermost (as tile_loops.h): a tile's weight rows stay in cache for every token.
  ActQ a[kGemmTokens];
  for (int64_t r = 0; r < rows; r += kGemmRows) {
    const int64_t nr = rows - r < kGemmRows ? rows - r : kGemmRows;
    for (int64_t t = 0; t < n; t += kGemmTokens) {
      const int64_t nt = n - t < kGemmTokens ? n - t : kGemmTokens;
      for (int64_t j = 0; j < nt; ++j) {
        uint8_t* tb = buf + (t + j) * ActBytes(cols);
        const ActQ q = {reinterpret_cast<const int8_t*>(tb),
                        reinterpret_cast<const float*>(tb + Units(cols) * 64),
                        reinterpret_cast<const int32_t*>(tb + Units(cols) * 128),
                        reinterpret_cast<const float*>(tb + Units(cols) * 192)};
        if (r == 0) QuantizeActs(x + (t + j) * cols, cols, tb);
        a[j] = q;
      }
      float* yt = y + t * ldy + r;
      if (nr == kGemmRows && nt == kGemmTokens) {
        Tile<B, kGemmRows, kGemmTokens>(p + r * row_bytes, row_bytes, a, yt, ldy, cols);
      } else {
        for (int64_t i = 0; i < nr; ++i)
          for (int64_t j = 0; j < nt; ++j)
            Tile<B, 1, 1>(p + (r + i) * row_bytes, row_bytes, a + j, yt + j * ldy + i, 0, cols);
      }
    }
  }
}

template <class B>
constexpr MatmulKernels Vnni() {
  return {Gemv<B>, Gemm<B>};
}

template <class B>
constexpr PreparedGemv VnniPrepared() {
  return {PreparedBytes, Prepare, GemvPrepared<B>};
}

}  // namespace

// Indexed by WeightFormat: the q8_channel, q8 and q4 rows (3-15); null elsewhere.
const MatmulKernels kMatmulIntVnni512[kWeightFormatCount] = {
    /* kF32, kF16, kBF16 */ {},
    {},
    {},
    /* kQ8Channel   */ Vnni<Channel>(),
    /* kQ8G32       */ Vnni<block_q8_g32>(),
    /* kQ8G64       */ Vnni<block_q8_g64>(),
    /* kQ8G128      */ Vnni<block_q8_g128>(),
    /* kQ8G32Asym   */ Vnni<block_q8_g32_asym>(),
    /* kQ8G64Asym   */ Vnni<block_q8_g64_asym>(),
    /* kQ8G128Asym  */ Vnni<block_q8_g128_asym>(),
    /* kQ4G32       */ Vnni<block_q4_g32>(),
    /* kQ4G64       */ Vnni<block_q4_g64>(),
    /* kQ4G128      */ Vnni<block_q4_g128>(),
    /* kQ4G32Asym   */ Vnni<block_q4_g32_asym>(),
    /* kQ4G64Asym   */ Vnni<block_q4_g64_asym>(),
    /* kQ4G128Asym  */ Vnni<block_q4_g128_asym>(),
};

// The prepared gemv of the same rows.
const PreparedGemv kPreparedIntVnni512[kWeightFormatCount] = {
    /* kF32, kF16, kBF16 */ {},
    {},
    {},
    /* kQ8Channel   */ VnniPrepared<Channel>(),
    /* kQ8G32       */ VnniPrepared<block_q8_g32>(),
    /* kQ8G64       */ VnniPrepared<block_q8_g64>(),
    /* kQ8G128      */ VnniPrepared<block_q8_g128>(),
    /* kQ8G32Asym   */ VnniPrepared<block_q8_g32_asym>(),
    /* kQ8G64Asym   */ VnniPrepared<block_q8_g64_asym>(),
    /* kQ8G128Asym  */ VnniPrepared<block_q8_g128_asym>(),
    /* kQ4G32       */ VnniPrepared<block_q4_g32>(),
    /* kQ4G64       */ VnniPrepared<block_q4_g64>(),
    /* kQ4G128      */ VnniPrepared<block_q4_g128>(),
    /* kQ4G32Asym   */ VnniPrepared<block_q4_g32_asym>(),
    /* kQ4G64Asym   */ VnniPrepared<block_q4_g64_asym>(),
    /* kQ4G128Asym  */ VnniPrepared<block_q4_g128_asym>(),
};

}  // namespace squeeze::cpu
