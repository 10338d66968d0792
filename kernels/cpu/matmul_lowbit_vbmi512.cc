// AVX-512 matrix kernels for the 4-, 3- and 2-bit group formats (q4/q3/q2 per group of 32, 64
// or 128, sym and asym), for CPUs with AVX512-VBMI and AVX512-VNNI (Ice Lake and later, Zen 4
// and later; cpu/kernel_table.cc). A row goes U chunks of 32 columns (a "group": U = 8 for 3-
// and 2-bit, 4 for 4-bit; at most 128 bytes of blocks) at a time:
// - 3- and 2-bit: two loads bring the group's bytes into registers (its first 64 bytes, and
//   the rest by plain loads no wider than the rest: LoadBytes), one vpermt2b picks each
//   chunk's 8 bytes of low bits into qword c of one vector (3-bit: a second one picks each
//   chunk's 4 bytes of high bits, twice), and one vpermt2w the blocks' f16 scales, one per int32
//   lane of the chunk; 4-bit: plain loads of each block's code bytes (chunk c's 16 at bytes
//   16c) and of its scales (Codes4, Broadcast16, Halves4), no permute of the codes;
// - each 2-bit field (weights 8f .. 8f + 7 of every chunk) or nibble of those bytes is one
//   shift and one mask away from the unsigned codes (3-bit: the high bit is added by a masked
//   add under a vptestmb of the high-bit bytes), and one vpdpbusd multiplies them with 64
//   activation codes stored in the same order (Prepare), summing into 16 int32 lanes;
// - per group one conversion and one FMA apply the chunks' d_w * d_x.
// The activations are rounded to int8 blocks of 32 as the reference does (matmul.h,
// "Activation rounding"). Unsigned codes as in matmul_int_avx2.cc: symmetric q + o (o = 8, 4,
// 2), whose offset o * d_w * d_x * s_x (s_x: the block's activation code sum) is taken back in
// f32 once per row, and asymmetric codes with their minimum m adding m * d_x * s_x.
// A row's partial last group is read from a zero-padded copy of its blocks.
// Compiled with -mavx512f/bw/vl/dq/vnni/vbmi: everything stays in the anonymous namespace and
// uses only intrinsics and plain loops, so no AVX-512 copy of a shared inline function can leak.

// GCC 12 warns about the deliberately undefined registers inside its own intrinsics headers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <type_traits>

#include "cpu/cpu_kernels.h"
#include "cpu/tile_loops.h"
#include "ref/quant_int.h"

namespace squeeze::cpu {
namespace {

// ---- Prepared activations ----
// A group is U chunks of 32 columns, the unit the kernels unpack at once: U = 8 for the 3- and
// 2-bit formats (each chunk's 8 bytes of low bits hold 4 two-bit fields), U = 4 for the 4-bit
// ones (each chunk's 16 bytes hold 2 nibbles). Per group: 32U int8 codes as 32 / P vectors of
// 64 (P = 64 / U), vector f holding columns P f .. P f + P - 1 of chunk i at bytes P i ..
// P i + P - 1 (the order of a group's unpacked codes); then 16 lanes each of d (absmax / 127),
// 8 s / L and d s / L (s: the chunk's code sum), lanes L i .. L i + L - 1 for chunk i (L = 16 / U,
// as vpdpbusd leaves its sums), so that each value counts once over the chunk's lanes. Chunks
// past the row's end are zero.
struct Acts {
  const int8_t* q;
  const float* d;
  const float* s;
  const float* ds;
};

constexpr int64_t Blocks(int64_t cols) {
  return (cols + 31) / 32;
}
template <int U>
constexpr int64_t Groups(int64_t cols) {
  return (Blocks(cols) + U - 1) / U;
}
template <int U>
constexpr int64_t ActBytes(int64_t cols) {
  return Groups<U>(cols) * (32 * U + 3 * 64);
}

template <int U>
Acts ActView(const void* buf, int64_t cols) {
  const uint8_t* b = static_cast<const uint8_t*>(buf);
  const int64_t g = Groups<U>(cols);
  const float* d = reinterpret_cast<const float*>(b + g * 32 * U);
  return {reinterpret_cast<const int8_t*>(b), d, d + g * 16, d + g * 32};
}

__mmask16 Mask16(int64_t n) {
  return n >= 16 ? __mmask16(0xffff) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
}

// Rounds x into buf (ActBytes<U>(cols) bytes, 64-byte aligned) with the reference's f32
// operations: d = absmax / 127, q = nearbyint(x * (127 / absmax)) (cvtps rounds to even).
template <int U>
void Prepare(const float* x, int64_t cols, void* buf) {
  static_assert(U == 4 || U == 8);
  constexpr int P = 64 / U, L = 16 / U;
  const int64_t nb = Blocks(cols), ng = Groups<U>(cols);
  uint8_t* b = static_cast<uint8_t*>(buf);
  int8_t* q = reinterpret_cast<int8_t*>(b);
  float* d = reinterpret_cast<float*>(b + ng * 32 * U);
  float* s = d + ng * 16;
  float* ds = d + ng * 32;
  if (nb < ng * U) {  // the last group's missing chunks: zero codes and values
    const int64_t g = ng - 1, i0 = nb % U;
    for (int f = 0; f < 32 / P; ++f)
      std::memset(q + g * 32 * U + 64 * f + P * i0, 0, size_t(P * (U - i0)));
    for (int64_t l = L * i0; l < 16; ++l) d[g * 16 + l] = s[g * 16 + l] = ds[g * 16 + l] = 0.0f;
  }
  for (int64_t k = 0; k < nb; ++k) {
    const int64_t c = 32 * k;
    const __m512 v0 = _mm512_maskz_loadu_ps(Mask16(cols - c), x + c);  // padding reads as 0
    const __m512 v1 = _mm512_maskz_loadu_ps(Mask16(cols - c - 16), x + c + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
    const float bd = amax / 127.0f, id = amax > 0 ? 127.0f / amax : 0.0f;
    const __m512 vid = _mm512_set1_ps(id);
    const __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, vid));
    const __m512i q1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, vid));
    const __m128i c0 = _mm512_cvtsepi32_epi8(q0), c1 = _mm512_cvtsepi32_epi8(q1);
    int8_t* dst = q + (k / U) * 32 * U + P * (k % U);
    if constexpr (U == 8) {
      _mm_storel_epi64(reinterpret_cast<__m128i*>(dst), c0);
      _mm_storel_epi64(reinterpret_cast<__m128i*>(dst + 64), _mm_unpackhi_epi64(c0, c0));
      _mm_storel_epi64(reinterpret_cast<__m128i*>(dst + 128), c1);
      _mm_storel_epi64(reinterpret_cast<__m128i*>(dst + 192), _mm_unpackhi_epi64(c1, c1));
    } else {
      _mm_store_si128(reinterpret_cast<__m128i*>(dst), c0);
      _mm_store_si128(reinterpret_cast<__m128i*>(dst + 64), c1);
    }
    const int32_t sum = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));  // |sum| <= 32 * 127
    const int64_t l0 = (k / U) * 16 + L * (k % U);
    for (int64_t l = l0; l < l0 + L; ++l) {
      d[l] = bd;
      s[l] = 8.0f / L * float(sum);  // exact: a power of two times an integer below 2^13
      ds[l] = bd * float(sum) / L;
    }
  }
}

// ---- Weights ----
// A group of U chunks whose first block is at 0 (U: 8 for 3- and 2-bit formats, 4 for 4-bit; at
// most 128 bytes): chunk c's code bytes (the 4 * bits bytes of its 32 weights; 3-bit: the low
// bits' 8, then the high bits' 4) and its block's field at `off` (d, m).
template <class B>
struct Group {
  static constexpr int U = B::kBits == 4 ? 4 : 8;
  static constexpr int kChunks = B::kGroup / 32;
  static constexpr int kSpan = U / kChunks * int(sizeof(B));
  static_assert(kSpan > 64 && kSpan <= 128, "a group must fit two 64-byte loads");
  static constexpr int Codes(int c) {
    return c / kChunks * int(sizeof(B)) + int(offsetof(B, qs)) + 4 * B::kBits * (c % kChunks);
  }
  static constexpr int Field(int c, int off) { return c / kChunks * int(sizeof(B)) + off; }
};

// vpermt2b / vpermt2w indices into a group's 128 bytes (as two vectors): the code bytes (3- and
// 2-bit: each chunk's 8 low-bit bytes; 4-bit: its 16 bytes), the 3-bit high-bit bytes (each
// chunk's 4 twice) and the words of d and m (each chunk's L = 16 / U times, in the low 256
// bits).
template <class B>
struct Indices {
  alignas(64) uint8_t low[64], high[64];
  alignas(64) uint16_t d[32], m[32];
};

template <class B>
constexpr Indices<B> MakeIndices() {
  using G = Group<B>;
  constexpr int P = 64 / G::U, L = 16 / G::U;
  Indices<B> ix{};
  for (int c = 0; c < G::U; ++c) {
    for (int j = 0; j < P; ++j) {
      ix.low[P * c + j] = uint8_t(G::Codes(c) + j);
      if constexpr (B::kBits == 3) ix.high[P * c + j] = uint8_t(G::Codes(c) + 8 + j % 4);
    }
    for (int h = 0; h < L; ++h) {
      ix.d[L * c + h] = uint16_t(G::Field(c, int(offsetof(B, d))) / 2);
      if constexpr (B::kAsym) ix.m[L * c + h] = uint16_t(G::Field(c, int(offsetof(B, m))) / 2);
    }
  }
  return ix;
}

template <class B>
constexpr Indices<B> kIndices = MakeIndices<B>();

__m512i LoadIndex(const void* p) {
  return _mm512_load_si512(p);
}

// The first 16 words of a word index, as a 256-bit vector.
const __m256i* LowWords(const uint16_t* w) {
  return reinterpret_cast<const __m256i*>(w);
}

// The f16 words picked by `idx` from the group (lo, hi), as 16 f32 lanes.
__attribute__((always_inline)) inline __m512 Halves(__m512i lo, __m512i idx, __m512i hi) {
  return _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutex2var_epi16(lo, idx, hi)));
}

// 4-bit groups keep every block's fields in their first 64 bytes (Halves4 reads only those).
template <class B>
constexpr bool FieldsInFirst64() {
  using G = Group<B>;
  int end = G::Field(G::U - 1, int(offsetof(B, d))) + 2;
  if constexpr (B::kAsym) end = std::max(end, G::Field(G::U - 1, int(offsetof(B, m))) + 2);
  return end <= 64;
}

// The n bytes at p (n: 4, 8, 16, 32, 36, 40, 48 or 64) in the low bytes of a vector, by plain
// loads no wider than n, the rest zero: a 4-bit block's code bytes (Codes4), and a 3- or 2-bit
// group's bytes past its first 64. For the latter a masked 64-byte load read q2_g32 rows from
// memory at ~65% of the speed of this (on the Zen 5 development VM), and a 64-byte load of the
// group's last 64 bytes at ~80% (q2_g32) to ~30% (q2_g128_asym, where it overlaps the first
// load by 56 bytes).
template <int n>
__attribute__((always_inline)) inline __m512i LoadBytes(const uint8_t* p) {
  static_assert(n == 4 || n == 8 || n == 16 || n == 32 || n == 36 || n == 40 || n == 48 || n == 64);
  if constexpr (n == 64) {
    return _mm512_loadu_si512(p);
  } else if constexpr (n >= 32) {
    const __m512i v =
        _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    if constexpr (n == 32) {
      return v;
    } else {
      return _mm512_inserti32x4(v, _mm512_castsi512_si128(LoadBytes<n - 32>(p + 32)), 2);
    }
  } else if constexpr (n == 16) {
    return _mm512_castsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  } else if constexpr (n == 8) {
    return _mm512_castsi128_si512(_mm_loadu_si64(p));
  } else {
    return _mm512_castsi128_si512(_mm_loadu_si32(p));
  }
}

// 4-bit groups without byte permutes or masked loads: the U = 4 chunks' code bytes by plain
// loads of each block's 64, 32 or 16 (one, two or four loads), and the f16 words picked by
// `idx` from the group's first 64 bytes (which hold every block's fields), loaded as two
// 32-byte halves. On the Zen 5 development VM this read q4 groups from memory ~1.4x as fast as
// the vpermt2b form with its masked second load (README, "On an AVX-512 machine").
template <class B>
__attribute__((always_inline)) inline __m512i Codes4(const uint8_t* base) {
  static_assert(FieldsInFirst64<B>());
  constexpr int kBytes = 16 * Group<B>::kChunks;  // one block's code bytes
  const uint8_t* q = base + offsetof(B, qs);
  __m512i v = LoadBytes<kBytes>(q);
  if constexpr (kBytes == 32) {
    v = _mm512_inserti64x4(v, _mm512_castsi512_si256(LoadBytes<kBytes>(q + sizeof(B))), 1);
  } else if constexpr (kBytes == 16) {
    v = _mm512_inserti32x4(v, _mm512_castsi512_si128(LoadBytes<kBytes>(q + sizeof(B))), 1);
    v = _mm512_inserti32x4(v, _mm512_castsi512_si128(LoadBytes<kBytes>(q + 2 * sizeof(B))), 2);
    v = _mm512_inserti32x4(v, _mm512_castsi512_si128(LoadBytes<kBytes>(q + 3 * sizeof(B))), 3);
  }
  return v;
}

// The f16 at p in all 16 lanes.
__attribute__((always_inline)) inline __m512 Broadcast16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _mm512_cvtph_ps(_mm256_set1_epi16(short(h)));
}

__attribute__((always_inline)) inline __m512 Halves4(const uint8_t* base, __m256i idx) {
  const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(base));
  const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(base + 32));
  return _mm512_cvtph_ps(_mm256_permutex2var_epi16(a, idx, b));
}

// Field f of a group's unsigned codes, in the order of the prepared activations' vector f.
// 3- and 2-bit: v holds the 8 low-bit bytes of each chunk, weight 8f + b's two low bits at bit
// 2f of byte b; the 3-bit high bit of weight 8f + b is bit 2f + b / 4 of byte b % 4 of the
// chunk's 4 high-bit bytes, i.e. of byte b of the chunk's qword in hb (added by a masked add;
// symmetric fields are two's complement, so u = q + 4 has it inverted). 4-bit: v holds each
// chunk's 16 bytes, weight b in the low nibble of byte b, b + 16 in the high one.
template <class B, int f>
__attribute__((always_inline)) inline __m512i Field(__m512i v, __m512i hb) {
  if constexpr (B::kBits == 4) {
    const __m512i nib = _mm512_set1_epi8(0x0f);
    return _mm512_and_si512(f == 0 ? v : _mm512_srli_epi16(v, 4), nib);
  } else {
    __m512i u = _mm512_and_si512(f == 0 ? v : _mm512_srli_epi16(v, 2 * f), _mm512_set1_epi8(3));
    if constexpr (B::kBits == 3) {
      const __m512i bit = _mm512_set1_epi64(int64_t(0x0101010100000000ull << (2 * f + 1)) |
                                            int64_t(0x01010101ull << (2 * f)));
      const __mmask64 set =
          B::kAsym ? _mm512_test_epi8_mask(hb, bit) : _mm512_testn_epi8_mask(hb, bit);
      u = _mm512_mask_add_epi8(u, set, u, _mm512_set1_epi8(4));
    }
    return u;
  }
}

// Tile of R weight rows (`stride` bytes apart) x T tokens: y[j * ldy + i * ys] = W_i · x_j, with
// the prepared activations a[j].
template <class B, int R, int T>
void Tile(const uint8_t* row, int64_t stride, const Acts* a, float* y, int64_t ldy, int64_t ys,
          int64_t cols) {
  using G = Group<B>;
  constexpr int U = G::U, kBits = B::kBits;
  const int64_t nb = Blocks(cols);
  const int64_t blocks = (cols + B::kGroup - 1) / B::kGroup;
  const __m512i idx_low = LoadIndex(kIndices<B>.low), idx_d = LoadIndex(kIndices<B>.d);
  // The prepared values as locals, which the tail's memcpy cannot be assumed to change.
  const int8_t* xq[T];
  const float *xd[T], *xs[T], *xds[T];
#pragma GCC unroll 8
  for (int j = 0; j < T; ++j) xq[j] = a[j].q, xd[j] = a[j].d, xs[j] = a[j].s, xds[j] = a[j].ds;
  __m512 acc[R][T], corr[R][T];
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < T; ++j) acc[i][j] = corr[i][j] = _mm512_setzero_ps();
  // Group g of row i, its blocks at `base`.
  auto group = [&](const uint8_t* base, int64_t g, int i) __attribute__((always_inline)) {
    __m512i v, hb;
    __m512 dw, m;
    if constexpr (kBits == 4) {
      v = Codes4<B>(base);
      if constexpr (G::kChunks == U) {  // one block: its fields broadcast
        dw = Broadcast16(base + offsetof(B, d));
        if constexpr (B::kAsym) m = Broadcast16(base + offsetof(B, m));
      } else {
        dw = Halves4(base, _mm512_castsi512_si256(idx_d));
        if constexpr (B::kAsym) m = Halves4(base, _mm256_load_si256(LowWords(kIndices<B>.m)));
      }
    } else {
      const __m512i lo = _mm512_loadu_si512(base);
      const __m512i hi = LoadBytes<G::kSpan - 64>(base + 64);
      v = _mm512_permutex2var_epi8(lo, idx_low, hi);
      if constexpr (kBits == 3) hb = _mm512_permutex2var_epi8(lo, LoadIndex(kIndices<B>.high), hi);
      dw = Halves(lo, idx_d, hi);
      if constexpr (B::kAsym) m = Halves(lo, LoadIndex(kIndices<B>.m), hi);
    }
    if constexpr (!B::kAsym && kBits != 3)  // q + 8 (4-bit), q + 2 (2-bit): sign bits inverted
      v = _mm512_xor_si512(v, _mm512_set1_epi8(char(kBits == 4 ? 0x88 : 0xaa)));
    if constexpr (kBits != 3) hb = v;
    __m512i dot[T];
    auto field = [&](auto fc) __attribute__((always_inline)) {
      constexpr int f = decltype(fc)::value;
      const __m512i u = Field<B, f>(v, hb);
#pragma GCC unroll 8
      for (int j = 0; j < T; ++j) {
        const __m512i x = _mm512_load_si512(xq[j] + 32 * U * g + 64 * f);
        dot[j] = _mm512_dpbusd_epi32(f == 0 ? _mm512_setzero_si512() : dot[j], u, x);
      }
    };
    field(std::integral_constant<int, 0>());
    field(std::integral_constant<int, 1>());
    if constexpr (kBits != 4) {
      field(std::integral_constant<int, 2>());
      field(std::integral_constant<int, 3>());
    }
#pragma GCC unroll 8
    for (int j = 0; j < T; ++j) {
      const __m512 dd = _mm512_mul_ps(dw, _mm512_load_ps(xd[j] + 16 * g));
      acc[i][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[j]), dd, acc[i][j]);
      if constexpr (B::kAsym) {
        corr[i][j] = _mm512_fmadd_ps(m, _mm512_load_ps(xds[j] + 16 * g), corr[i][j]);
      } else {  // minus 8 * d_w * d_x * s_x over the chunk's lanes, scaled to o below
        corr[i][j] = _mm512_fnmadd_ps(dd, _mm512_load_ps(xs[j] + 16 * g), corr[i][j]);
      }
    }
  };
  const int64_t whole = nb / U;
  const uint8_t* base = row;
  for (int64_t g = 0; g < whole; ++g, base += G::kSpan) {
#pragma GCC unroll 8
    for (int i = 0; i < R; ++i) {
      PrefetchAhead<G::kSpan>(base + i * stride);
      group(base + i * stride, g, i);
    }
  }
  if (whole * U < nb) {  // partial last group: zero scales and codes for the missing chunks
    for (int i = 0; i < R; ++i) {
      alignas(64) uint8_t tail[128] = {};
      std::memcpy(tail, base + i * stride,
                  size_t((blocks - whole * U / G::kChunks) * int64_t(sizeof(B))));
      group(tail, whole, i);
    }
  }
  // Symmetric codes carry o * s_x (o / 8 is a power of two: exact).
  constexpr float kCorr = B::kAsym ? 1.0f : float(1 << (kBits - 1)) / 8.0f;
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i) {
#pragma GCC unroll 8
    for (int j = 0; j < T; ++j) {
      const __m512 c =
          kCorr == 1.0f ? corr[i][j] : _mm512_mul_ps(corr[i][j], _mm512_set1_ps(kCorr));
      y[j * ldy + i * ys] = _mm512_reduce_add_ps(_mm512_add_ps(acc[i][j], c));
    }
  }
}

// The file's kernel for the shared loops on prepared inputs (tile_loops.h).
template <class B>
struct Kernel {
  static constexpr int U = Group<B>::U;
  static int64_t Bytes(int64_t cols) { return ActBytes<U>(cols); }
  static void Prepare(const float* x, int64_t cols, void* buf) { cpu::Prepare<U>(x, cols, buf); }
  using View = Acts;
  static View ViewOf(const void* buf, int64_t cols) { return ActView<U>(buf, cols); }
  template <int T>
  void Row(const uint8_t* row, const Acts* xs, float* y, int64_t ldy, int64_t cols) const {
    Tile<B, 1, T>(row, 0, xs, y, ldy, 0, cols);
  }
  static constexpr int kSplit = 4;
  void Rows(const uint8_t* row, int64_t stride, const Acts& x, float* y, int64_t ys,
            int64_t cols) const {
    Tile<B, kSplit, 1>(row, stride, &x, y, 0, ys, cols);
  }
};

template <class B>
constexpr MatmulKernels Lowbit() {
  return {GemvPreparing<Kernel<B>>, GemmPreparing<Kernel<B>>};
}

template <class B>
constexpr PreparedGemv LowbitPrepared() {
  return {Kernel<B>::Bytes, Kernel<B>::Prepare, GemvOnPrepared<Kernel<B>>};
}

}  // namespace

// Indexed by WeightFormat: the q4, q3 and q2 rows (10-15, 20-31); null elsewhere.
const MatmulKernels kMatmulLowbitVbmi512[kWeightFormatCount] = {
    /* kF32 .. kQ8G128Asym (0-9) */ {},
    {},
    {},
    {},
    {},
    {},
    {},
    {},
    {},
    {},
    /* kQ4G32       */ Lowbit<block_q4_g32>(),
    /* kQ4G64       */ Lowbit<block_q4_g64>(),
    /* kQ4G128      */ Lowbit<block_q4_g128>(),
    /* kQ4G32Asym   */ Lowbit<block_q4_g32_asym>(),
    /* kQ4G64Asym   */ Lowbit<block_q4_g64_asym>(),
    /* kQ4G128Asym  */ Lowbit<block_q4_g128_asym>(),
    /* kNf4 .. kFp8E5M2 (16-19) */ {},
    {},
    {},
    {},
    /* kQ3G32       */ Lowbit<block_q3_g32>(),
    /* kQ3G64       */ Lowbit<block_q3_g64>(),
    /* kQ3G128      */ Lowbit<block_q3_g128>(),
    /* kQ3G32Asym   */ Lowbit<block_q3_g32_asym>(),
    /* kQ3G64Asym   */ Lowbit<block_q3_g64_asym>(),
    /* kQ3G128Asym  */ Lowbit<block_q3_g128_asym>(),
    /* kQ2G32       */ Lowbit<block_q2_g32>(),
    /* kQ2G64       */ Lowbit<block_q2_g64>(),
    /* kQ2G128      */ Lowbit<block_q2_g128>(),
    /* kQ2G32Asym   */ Lowbit<block_q2_g32_asym>(),
    /* kQ2G64Asym   */ Lowbit<block_q2_g64_asym>(),
    /* kQ2G128Asym  */ Lowbit<block_q2_g128_asym>(),
};

// The prepared gemv of the same rows.
const PreparedGemv kPreparedLowbitVbmi512[kWeightFormatCount] = {
    /* kF32 .. kQ8G128Asym (0-9) */ {},
    {},
    {},
    {},
    {},
    {},
    {},
    {},
    {},
    {},
    /* kQ4G32       */ LowbitPrepared<block_q4_g32>(),
    /* kQ4G64       */ LowbitPrepared<block_q4_g64>(),
    /* kQ4G128      */ LowbitPrepared<block_q4_g128>(),
    /* kQ4G32Asym   */ LowbitPrepared<block_q4_g32_asym>(),
    /* kQ4G64Asym   */ LowbitPrepared<block_q4_g64_asym>(),
    /* kQ4G128Asym  */ LowbitPrepared<block_q4_g128_asym>(),
    /* kNf4 .. kFp8E5M2 (16-19) */ {},
    {},
    {},
    {},
    /* kQ3G32       */ LowbitPrepared<block_q3_g32>(),
    /* kQ3G64       */ LowbitPrepared<block_q3_g64>(),
    /* kQ3G128      */ LowbitPrepared<block_q3_g128>(),
    /* kQ3G32Asym   */ LowbitPrepared<block_q3_g32_asym>(),
    /* kQ3G64Asym   */ LowbitPrepared<block_q3_g64_asym>(),
    /* kQ3G128Asym  */ LowbitPrepared<block_q3_g128_asym>(),
    /* kQ2G32       */ LowbitPrepared<block_q2_g32>(),
    /* kQ2G64       */ LowbitPrepared<block_q2_g64>(),
    /* kQ2G128      */ LowbitPrepared<block_q2_g128>(),
    /* kQ2G32Asym   */ LowbitPrepared<block_q2_g32_asym>(),
    /* kQ2G64Asym   */ LowbitPrepared<block_q2_g64_asym>(),
    /* kQ2G128Asym  */ LowbitPrepared<block_q2_g128_asym>(),
};

}  // namespace squeeze::cpu
