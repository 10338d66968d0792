// AVX2 matrix kernels for the integer weight formats (q8_channel, q8/q4/q3/q2 per group, sym
// and asym) with integer dot products. Each input vector is rounded to int8 blocks of 32 once
// (matmul.h, "Activation rounding"; PrepareActs); per 32 columns a row's codes are unpacked to
// 32 bytes in registers, multiplied with the block's int8 activations by vpmaddubsw (u8 x s8 ->
// 16 pair sums in s16) and vpmaddwd (-> int32 lanes), and scaled once by d_w * d_x in f32. The
// 4-bit formats go two chunks of 32 at a time (PairCodes), the 3- and 2-bit ones four (QuadCodes);
// the activations are stored in the order those unpack to (ActLayout). In a gemv the sums of 8
// chunks are folded per chunk with in-lane unpacks or shuffles and scaled by a single FMA.
//
// vpmaddubsw multiplies unsigned by signed bytes and saturates its pair sums at 16 bits:
// - 4/3/2-bit symmetric codes q are made unsigned as u = q + o with o = 8, 4, 2 (the fields'
//   sign bits inverted; u <= 15, pair sums <= 3810); the offset adds o * s_x per block
//   (s_x: the sum of the block's activation codes), taken back once per row in f32.
// - 4/3/2-bit asymmetric codes are unsigned already; the minimum m adds m * d_x * s_x.
// - 8-bit codes would overflow as unsigned (255 * 127 * 2 > 32767), so they use the sign
//   trick, |q| times x * sign(q) (|q| <= 128); asymmetric codes u are first moved to
//   v = u - 128, and their offset, 128 * d_w * d_x * s_x, joins the m term.
// A gemv reads its rows one after another (one linear stream, with software prefetch:
// tile_loops.h, PrefetchAhead); a gemm decodes each 32-code chunk of a row once for 4 tokens.
// Compiled with -mavx2 -mfma -mf16c: everything stays in the anonymous namespace and uses only
// intrinsics and plain loops, so no AVX2 copy of a shared inline function can leak out.

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
#include "cpu/lanes_avx2.h"
#include "cpu/tile_loops.h"
#include "ref/quant_int.h"

namespace squeeze::cpu {
namespace {

// ---- Prepared activations ----
// One input vector of `cols` values as int8 blocks of 32 (the last one zero-padded): codes q,
// then per block the scale d (absmax / 127), 8 * s (s: the block's code sum) and d * s, as f32.
// The per-block arrays are zero-padded to a multiple of 8 blocks, so that the kernels can load
// 8 blocks' values at a time.
struct Acts {
  const int8_t* q;
  const float* d;
  const float* s8;
  const float* ds;
};

constexpr int64_t Blocks(int64_t cols) {
  return (cols + 31) / 32;
}
constexpr int64_t PaddedBlocks(int64_t cols) {
  return (Blocks(cols) + 7) / 8 * 8;
}
// Bytes of one vector's prepared activations (a multiple of 64).
constexpr int64_t ActBytes(int64_t cols) {
  return (PaddedBlocks(cols) * 44 + 63) / 64 * 64;
}

Acts ActView(const void* buf, int64_t cols) {
  const uint8_t* b = static_cast<const uint8_t*>(buf);
  const int64_t nb = PaddedBlocks(cols);
  return {reinterpret_cast<const int8_t*>(b), reinterpret_cast<const float*>(b + nb * 32),
          reinterpret_cast<const float*>(b + nb * 36), reinterpret_cast<const float*>(b + nb * 40)};
}

int32_t HsumEpi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

// How PrepareActs orders a vector's codes and per-block values, by the weights it meets:
// kPlain (8-bit formats): in column order.
// kPaired (4-bit): within each pair of blocks (2p, 2p + 1) the middle two 16-byte quarters are
//   swapped, so that the pair's 64 codes read [2p: 0-15 | 2p+1: 0-15 | 2p: 16-31 | 2p+1: 16-31],
//   the order in which PairCodes unpacks a pair of weight chunks.
// kQuad (3- and 2-bit): each group of 4 blocks (4g + i, i = 0..3) as 4 vectors of 32 codes,
//   vector f holding columns 8f .. 8f + 7 of block 4g + i at bytes 8i .. 8i + 7, the order in
//   which QuadCodes unpacks 4 weight chunks.
// The per-block values (scale, code sum) of each group of 8 blocks sit in the lanes that the
// gemv's fold leaves the 8 blocks' dot products in (ScaleSlot): in order for kPlain; [0 2 4 6 |
// 1 3 5 7] for kPaired (SumPairs); [0 1 4 5 | 2 3 6 7] for kQuad (SumQuads).
enum class ActLayout { kPlain, kPaired, kQuad };

template <class B>
constexpr ActLayout LayoutOf() {
  return B::kBits == 8 ? ActLayout::kPlain : B::kBits == 4 ? ActLayout::kPaired : ActLayout::kQuad;
}

// The lane of each of 8 blocks' values, kPaired and kQuad (the inverse of the folds' orders).
constexpr int kPairLane[8] = {0, 4, 1, 5, 2, 6, 3, 7};
constexpr int kQuadLane[8] = {0, 1, 4, 5, 2, 3, 6, 7};
template <ActLayout L>
constexpr int64_t ScaleSlot(int64_t k) {
  if constexpr (L == ActLayout::kPlain) return k;
  const int* lane = L == ActLayout::kPaired ? kPairLane : kQuadLane;
  return (k & ~int64_t(7)) + lane[k & 7];
}

// Rounds x into buf (ActBytes(cols) bytes, 64-byte aligned) with the reference's f32
// operations: d = absmax / 127, q = nearbyint(x * (127 / absmax)) (cvtps rounds to even), in
// layout L.
template <ActLayout L>
void PrepareActs(const float* x, int64_t cols, void* buf) {
  const int64_t nb = Blocks(cols), padded = PaddedBlocks(cols);
  uint8_t* b = static_cast<uint8_t*>(buf);
  int8_t* q = reinterpret_cast<int8_t*>(b);
  float* d = reinterpret_cast<float*>(b + padded * 32);
  float* s8 = reinterpret_cast<float*>(b + padded * 36);
  float* ds = reinterpret_cast<float*>(b + padded * 40);
  for (int64_t k = nb; k < padded; ++k) {
    const int64_t slot = ScaleSlot<L>(k);
    d[slot] = s8[slot] = ds[slot] = 0.0f;
  }
  std::memset(q + nb * 32, 0, size_t(padded - nb) * 32);
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  for (int64_t k = 0; k < nb; ++k) {
    __m256 v[4];
    __m256 vmax = _mm256_setzero_ps();
    for (int g = 0; g < 4; ++g) {
      const int64_t c = k * 32 + 8 * g;
      v[g] = _mm256_maskload_ps(x + c, LaneMaskAvx2(cols - c));  // padding reads as 0
      vmax = _mm256_max_ps(_mm256_and_ps(v[g], abs_mask), vmax);
    }
    const float amax = HmaxAvx2(vmax);
    const float bd = amax / 127.0f, id = amax > 0 ? 127.0f / amax : 0.0f;
    const __m256 vid = _mm256_set1_ps(id);
    __m256i qi[4];
    for (int g = 0; g < 4; ++g) qi[g] = _mm256_cvtps_epi32(_mm256_mul_ps(v[g], vid));
    // Packing works within 128-bit lanes; the permute puts the 8-code groups back in order.
    const __m256i packed =
        _mm256_packs_epi16(_mm256_packs_epi32(qi[0], qi[1]), _mm256_packs_epi32(qi[2], qi[3]));
    const __m256i ordered =
        _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    if constexpr (L == ActLayout::kPaired) {
      int8_t* pair = q + (k & ~int64_t(1)) * 32 + (k & 1) * 16;
      _mm_store_si128(reinterpret_cast<__m128i*>(pair), _mm256_castsi256_si128(ordered));
      _mm_store_si128(reinterpret_cast<__m128i*>(pair + 32), _mm256_extracti128_si256(ordered, 1));
    } else if constexpr (L == ActLayout::kQuad) {
      int8_t* quad = q + (k & ~int64_t(3)) * 32 + (k & 3) * 8;
      const __m128i c0 = _mm256_castsi256_si128(ordered), c1 = _mm256_extracti128_si256(ordered, 1);
      _mm_storel_epi64(reinterpret_cast<__m128i*>(quad), c0);
      _mm_storel_epi64(reinterpret_cast<__m128i*>(quad + 32), _mm_unpackhi_epi64(c0, c0));
      _mm_storel_epi64(reinterpret_cast<__m128i*>(quad + 64), c1);
      _mm_storel_epi64(reinterpret_cast<__m128i*>(quad + 96), _mm_unpackhi_epi64(c1, c1));
    } else {
      _mm256_store_si256(reinterpret_cast<__m256i*>(q + k * 32), ordered);
    }
    const int32_t sum =
        HsumEpi32(_mm256_add_epi32(_mm256_add_epi32(qi[0], qi[1]), _mm256_add_epi32(qi[2], qi[3])));
    const int64_t slot = ScaleSlot<L>(k);
    d[slot] = bd;
    s8[slot] = 8.0f * float(sum);  // exact: |sum| <= 32 * 127
    ds[slot] = bd * float(sum);
  }
}

// ---- Formats ----
// q8_channel rows: f32 scale, then int8 codes (no blocks, no padding).
struct Channel {
  static constexpr int kBits = 8, kGroup = 32;
  static constexpr bool kAsym = false;
};

// The 32 codes of chunk k (columns 32k .. 32k + 31 of the block) of an 8-bit format in column
// order, signed (v = u - 128 for asymmetric codes).
template <class B>
__m256i Chunk(const uint8_t* blk, int k) {
  static_assert(B::kBits == 8);
  const __m256i v =
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + offsetof(B, qs) + 32 * k));
  return B::kAsym ? _mm256_xor_si256(v, _mm256_set1_epi8(char(0x80))) : v;
}

// q8_channel: chunk k of a row's codes; the last, partial one is copied into a zeroed buffer
// so that nothing past the row is read.
__m256i ChannelChunk(const uint8_t* codes, int64_t k, int64_t cols) {
  const int64_t left = cols - 32 * k;
  if (left >= 32) return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes + 32 * k));
  alignas(32) uint8_t tail[32] = {};
  std::memcpy(tail, codes + 32 * k, size_t(left));
  return _mm256_load_si256(reinterpret_cast<const __m256i*>(tail));
}

// Chunks c and c + 1 (c even) of a 4-bit row as two vectors of unsigned codes (q + 8 when
// symmetric) in the paired layout of the activations: lo = [c: weights 0-15 | c + 1: 0-15], hi =
// [c: 16-31 | c + 1: 16-31]. `blk` is chunk c's block; chunk c + 1 is in the same block (G >= 64)
// or the next one (G = 32), which a row's last block lacks when !second. A chunk's 16 bytes hold
// weights 0-15 in the low nibbles, 16-31 in the high ones.
template <class B>
void PairCodes(const uint8_t* blk, int c, bool second, __m256i* lo, __m256i* hi) {
  static_assert(B::kBits == 4);
  const uint8_t* p0 = blk + offsetof(B, qs) + 16 * c;
  __m256i v;
  if constexpr (B::kGroup == 32) {
    const __m128i b1 = second ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(p0 + sizeof(B)))
                              : _mm_setzero_si128();
    v = _mm256_inserti128_si256(
        _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p0))), b1, 1);
  } else {
    v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p0));
  }
  if constexpr (!B::kAsym) v = _mm256_xor_si256(v, _mm256_set1_epi8(char(0x88)));
  const __m256i nib = _mm256_set1_epi8(0x0f);
  *lo = _mm256_and_si256(v, nib);
  *hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), nib);
}

// The codes of chunk c of a group of 8 chunks whose first block is `base` (3- and 2-bit: each
// chunk's 4 * bits bytes are contiguous, one after another within a block).
template <class B>
const uint8_t* ChunkCodes(const uint8_t* base, int c) {
  constexpr int kChunks = B::kGroup / 32;
  return base + c / kChunks * int64_t(sizeof(B)) + offsetof(B, qs) + 4 * B::kBits * (c % kChunks);
}

__m256i Load2x128(const uint8_t* lo, const uint8_t* hi) {
  return _mm256_inserti128_si256(
      _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(lo))),
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(hi)), 1);
}

// Chunks 4h .. 4h + 3 (h = 0, 1) of a 3- or 2-bit group of 8 whole chunks from `base`, as 4
// vectors of unsigned codes (q + o when symmetric, o = 4, 2) in the quad layout of the
// activations: u[f] holds weights 8f .. 8f + 7 of chunk 4h + i at bytes 8i .. 8i + 7.
// 2-bit: a chunk's 8 bytes hold weight j at bit 2 * (j / 8) of byte j % 8, so with the 4 chunks'
// bytes side by side in one vector each field is a shift and a mask. 3-bit: the same low 2 bits,
// then 4 bytes whose byte j % 4 holds weight j's high bit at bit j / 4.
// Loads may read up to 8 bytes before or after a chunk, never outside the group's blocks.
template <class B>
__attribute__((always_inline)) inline void QuadCodes(const uint8_t* base, int h, __m256i u[4]) {
  static_assert(B::kBits == 2 || B::kBits == 3);
  const int c = 4 * h;
  const __m256i three = _mm256_set1_epi8(0x03);
  __m256i v, hb;
  if constexpr (B::kBits == 2) {
    if constexpr (B::kGroup == 128) {  // the 4 chunks' 32 bytes in a row
      v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ChunkCodes<B>(base, c)));
    } else if constexpr (B::kGroup == 64) {  // 2 blocks of 2 chunks
      v = Load2x128(ChunkCodes<B>(base, c), ChunkCodes<B>(base, c + 2));
    } else {  // chunks c, c + 2 from their first byte, c + 1, c + 3 up to their last
      const __m256i x = Load2x128(ChunkCodes<B>(base, c), ChunkCodes<B>(base, c + 2));
      const __m256i y = Load2x128(ChunkCodes<B>(base, c + 1) - 8, ChunkCodes<B>(base, c + 3) - 8);
      v = _mm256_blend_epi32(x, y, 0xcc);
    }
    if constexpr (!B::kAsym) v = _mm256_xor_si256(v, _mm256_set1_epi8(char(0xaa)));  // q + 2
  } else {
    // Each 16-byte load holds a chunk's 12 bytes: chunks c, c + 2 at bytes 0-11, c + 1, c + 3 at
    // 4-15. One shuffle gathers the 4 low-bit runs, one the high-bit words, each twice: hb =
    // [h(c) h(c) h(c+1) h(c+1) | h(c+2) h(c+2) h(c+3) h(c+3)] as dwords.
    const __m256 x =
        _mm256_castsi256_ps(Load2x128(ChunkCodes<B>(base, c), ChunkCodes<B>(base, c + 2)));
    const __m256 y = _mm256_castsi256_ps(
        Load2x128(ChunkCodes<B>(base, c + 1) - 4, ChunkCodes<B>(base, c + 3) - 4));
    v = _mm256_castps_si256(_mm256_shuffle_ps(x, y, _MM_SHUFFLE(2, 1, 1, 0)));
    hb = _mm256_castps_si256(_mm256_shuffle_ps(x, y, _MM_SHUFFLE(3, 3, 2, 2)));
  }
#pragma GCC unroll 4
  for (int f = 0; f < 4; ++f) {
    __m256i l = _mm256_and_si256(f == 0 ? v : _mm256_srli_epi16(v, 2 * f), three);
    if constexpr (B::kBits == 3) {
      // Weight 8f + b's high bit is bit 2f + b / 4 of byte b % 4 of its chunk's word: shifting
      // the word's two copies left by 7 - 2f and 6 - 2f brings it to bit 7 of byte b of the
      // qword, which is all blendv reads. Symmetric fields are two's complement, so u = q + 4
      // has the high bit inverted.
      const int s = 7 - 2 * f;
      const __m256i m =
          _mm256_sllv_epi32(hb, _mm256_setr_epi32(s, s - 1, s, s - 1, s, s - 1, s, s - 1));
      const __m256i l4 = _mm256_or_si256(l, _mm256_set1_epi8(0x04));
      l = B::kAsym ? _mm256_blendv_epi8(l, l4, m) : _mm256_blendv_epi8(l4, l, m);
    }
    u[f] = l;
  }
}

// The quad's dot products with its 128 activation codes xq as 16 int16 partial sums, 4 per
// chunk in the order of u's qwords (the offset of symmetric codes not yet removed). Each is at
// most 4 * 2 * 7 * 127 = 7112.
__attribute__((always_inline)) inline __m256i QuadDot(const __m256i u[4], const int8_t* xq) {
  __m256i p[4];
#pragma GCC unroll 4
  for (int f = 0; f < 4; ++f)
    p[f] = _mm256_maddubs_epi16(u[f],
                                _mm256_load_si256(reinterpret_cast<const __m256i*>(xq + 32 * f)));
  return _mm256_add_epi16(_mm256_add_epi16(p[0], p[1]), _mm256_add_epi16(p[2], p[3]));
}

// Two quads' dot products (QuadDot of chunks 0-3 and 4-7) summed per chunk, as int32 lanes
// [0 1 4 5 | 2 3 6 7] (ScaleSlot's order for kQuad).
__attribute__((always_inline)) inline __m256i SumQuads(__m256i s0, __m256i s1) {
  const __m256i ones = _mm256_set1_epi16(1);
  // [0 0 1 1 | 2 2 3 3] and [4 4 5 5 | 6 6 7 7]: each chunk's two halves, then added.
  const __m256 t0 = _mm256_castsi256_ps(_mm256_madd_epi16(s0, ones));
  const __m256 t1 = _mm256_castsi256_ps(_mm256_madd_epi16(s1, ones));
  return _mm256_add_epi32(_mm256_castps_si256(_mm256_shuffle_ps(t0, t1, _MM_SHUFFLE(2, 0, 2, 0))),
                          _mm256_castps_si256(_mm256_shuffle_ps(t0, t1, _MM_SHUFFLE(3, 1, 3, 1))));
}

// The pair's dot products with the paired activations xq (64 codes) as 16 int16 partial sums,
// 0-7 of chunk c and 8-15 of chunk c + 1 (the offset of symmetric codes not yet removed). Each
// is the sum of two vpmaddubsw pair sums, at most 4 * 15 * 127 = 7620.
__m256i PairDot(__m256i lo, __m256i hi, const int8_t* xq) {
  const __m256i xa = _mm256_load_si256(reinterpret_cast<const __m256i*>(xq));
  const __m256i xb = _mm256_load_si256(reinterpret_cast<const __m256i*>(xq + 32));
  return _mm256_add_epi16(_mm256_maddubs_epi16(lo, xa), _mm256_maddubs_epi16(hi, xb));
}

// The dot products of 4 pairs (d[p]: PairDot of chunks 2p and 2p + 1) summed per chunk, as
// int32 lanes [0 2 4 6 | 1 3 5 7] (ScaleSlot's order), with unpacks and adds that stay within
// 128-bit lanes: two pairs' partial sums add up in 16 bits first (at most 2 * 7620), then
// vpmaddwd widens them.
__m256i SumPairs(const __m256i d[4]) {
  const __m256i ones = _mm256_set1_epi16(1);
  // [0 2 0 2 ... | 1 3 1 3 ...]: each chunk's 8 partial sums folded to 4, then to 2 by vpmaddwd.
  const __m256i t0 = _mm256_madd_epi16(
      _mm256_add_epi16(_mm256_unpacklo_epi32(d[0], d[1]), _mm256_unpackhi_epi32(d[0], d[1])), ones);
  const __m256i t1 = _mm256_madd_epi16(
      _mm256_add_epi16(_mm256_unpacklo_epi32(d[2], d[3]), _mm256_unpackhi_epi32(d[2], d[3])), ones);
  return _mm256_add_epi32(_mm256_unpacklo_epi64(t0, t1), _mm256_unpackhi_epi64(t0, t1));
}

// 8 int32 lanes summing the 32 signed 8-bit codes * activation codes, with the sign trick.
__m256i Dot8(__m256i codes, const int8_t* xq) {
  const __m256i x = _mm256_load_si256(reinterpret_cast<const __m256i*>(xq));
  const __m256i pairs =
      _mm256_maddubs_epi16(_mm256_sign_epi8(codes, codes), _mm256_sign_epi8(x, codes));
  return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
}

// The f16 field at byte `off` of the blocks holding 8 chunks from `base` (the block of the
// first), as f32 in the lanes of ScaleSlot (0 for chunks at or past `valid` when !kFull: their
// blocks are not read).
template <class B, bool kFull>
__m256 ChunkHalves(const uint8_t* base, int64_t valid, int off) {
  constexpr int kChunks = B::kGroup / 32;
  uint64_t h[2] = {0, 0};
#pragma GCC unroll 8
  for (int c = 0; c < 8; ++c) {
    if (!kFull && c >= valid) break;
    uint16_t v;
    std::memcpy(&v, base + c / kChunks * int64_t(sizeof(B)) + off, 2);
    const int lane = int(ScaleSlot<LayoutOf<B>()>(c));
    h[lane / 4] |= uint64_t(v) << (16 * (lane % 4));
  }
  return _mm256_cvtph_ps(_mm_set_epi64x(int64_t(h[1]), int64_t(h[0])));
}

// Tile of one weight row x T tokens: y[j * ldy] = W · x_j, with the prepared activations a[j].
// Group formats go 8 chunks of 32 columns at a time: the 8 weight scales are converted
// together and multiplied by the 8 activation scales of each token (dd), and the blocks' code
// offsets and minimums enter per token as one vector (corr); per chunk the codes are unpacked
// once and used by every token.
template <class B, int T>
void Tile(const uint8_t* row, const Acts* a, float* y, int64_t ldy, int64_t cols) {
  const int64_t nb = Blocks(cols);
  __m256 acc[T];
#pragma GCC unroll 8
  for (int j = 0; j < T; ++j) acc[j] = _mm256_setzero_ps();
  if constexpr (std::is_same_v<B, Channel>) {
    const uint8_t* codes = row + 4;
    for (int64_t k = 0; k < nb; ++k) {
      PrefetchAhead<32>(codes + 32 * k);
      const __m256i c = ChannelChunk(codes, k, cols);
#pragma GCC unroll 8
      for (int j = 0; j < T; ++j) {
        const __m256 dot = _mm256_cvtepi32_ps(Dot8(c, a[j].q + 32 * k));
        acc[j] = _mm256_fmadd_ps(dot, _mm256_broadcast_ss(a[j].d + k), acc[j]);
      }
    }
    float scale;
    std::memcpy(&scale, row, 4);
#pragma GCC unroll 8
    for (int j = 0; j < T; ++j) y[j * ldy] = HsumAvx2(acc[j]) * scale;
  } else {
    constexpr int kChunks = B::kGroup / 32;
    constexpr int64_t S = sizeof(B);
    __m256 corr[T], acc2[T];
#pragma GCC unroll 8
    for (int j = 0; j < T; ++j) corr[j] = acc2[j] = _mm256_setzero_ps();
    auto chunks8 = [&](int64_t k0, auto full) __attribute__((always_inline)) {
      constexpr bool kFull = decltype(full)::value;
      // k0 is a multiple of 8, and so of kChunks: chunk c's block is base + c / kChunks * S.
      const uint8_t* base = row + (k0 / 8) * (8 / kChunks * S);
      const int64_t valid = nb - k0;
      // The 3- and 2-bit formats read a row's partial last group from a zero-padded copy of its
      // blocks (zero scales, minimums and activations: the missing chunks add nothing), so they
      // always read 8 whole chunks.
      constexpr bool kQuad = LayoutOf<B>() == ActLayout::kQuad;
      constexpr bool kWhole = kFull || kQuad;
      alignas(32) uint8_t tail[kQuad && !kFull ? 8 / kChunks * S : 1];
      if constexpr (kQuad && !kFull) {
        std::memset(tail, 0, sizeof(tail));
        const int64_t blocks = (cols + B::kGroup - 1) / B::kGroup - k0 / kChunks;
        std::memcpy(tail, base, size_t(blocks * S));
        base = tail;
      }
      const __m256 dw = ChunkHalves<B, kWhole>(base, valid, offsetof(B, d));
      __m256 m;  // what each unit of d_x * s_x adds: m, plus 128 d_w for 8-bit asym
      if constexpr (B::kAsym) {
        m = ChunkHalves<B, kWhole>(base, valid, offsetof(B, m));
        if constexpr (B::kBits == 8) m = _mm256_fmadd_ps(_mm256_set1_ps(128.0f), dw, m);
      }
      __m256 dd[T];
#pragma GCC unroll 8
      for (int j = 0; j < T; ++j) {
        const __m256 ddj = _mm256_mul_ps(dw, _mm256_load_ps(a[j].d + k0));
        dd[j] = ddj;
        if constexpr (B::kAsym) {
          corr[j] = _mm256_fmadd_ps(m, _mm256_load_ps(a[j].ds + k0), corr[j]);
        } else if constexpr (B::kBits < 8) {  // minus 8 * d_w * d_x * s_x, scaled to o below
          corr[j] = _mm256_fnmadd_ps(ddj, _mm256_load_ps(a[j].s8 + k0), corr[j]);
        }
      }
      if constexpr (kQuad) {
        // Two quads of 4 chunks. One token (gemv): their sums are folded per chunk (SumQuads)
        // and scaled by one FMA. Several tokens: each quad is widened, converted and scaled on
        // its own, per token.
        if constexpr (kFull) PrefetchAhead<8 / kChunks * S>(base);
        __m256i sums[2];
#pragma GCC unroll 2
        for (int h = 0; h < 2; ++h) {
          __m256i u[4];
          QuadCodes<B>(base, h, u);
          const int64_t x = 32 * k0 + 128 * h;
          if constexpr (T == 1) {
            sums[h] = QuadDot(u, a[0].q + x);
          } else {
            const int* l = kQuadLane + 4 * h;
            const __m256i idx = _mm256_setr_epi32(l[0], l[0], l[1], l[1], l[2], l[2], l[3], l[3]);
#pragma GCC unroll 8
            for (int j = 0; j < T; ++j) {
              const __m256i dot = _mm256_madd_epi16(QuadDot(u, a[j].q + x), _mm256_set1_epi16(1));
              __m256& sum = h ? acc2[j] : acc[j];  // two FMA chains
              sum = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_permutevar8x32_ps(dd[j], idx),
                                    sum);
            }
          }
        }
        if constexpr (T == 1) {
          acc[0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(SumQuads(sums[0], sums[1])), dd[0], acc[0]);
        }
      } else if constexpr (B::kBits == 4) {
        // One token (gemv): the 4 pairs' sums are folded per chunk (SumPairs) and scaled by
        // one FMA. Several tokens: holding 4 pairs' sums per token would not fit in the 16
        // registers, so each pair is widened, converted and scaled on its own.
        __m256i dots[T == 1 ? 4 : 1];
#pragma GCC unroll 4
        for (int c = 0; c < 8; c += 2) {
          const int64_t k = k0 + c;
          if (!kFull && c >= valid) {
            if constexpr (T == 1) dots[c / 2] = _mm256_setzero_si256();
            continue;
          }
          const uint8_t* blk = base + c / kChunks * S;
          if (kChunks == 1 || c % kChunks == 0) PrefetchAhead<kChunks == 1 ? 2 * S : S>(blk);
          __m256i lo, hi;
          PairCodes<B>(blk, c % kChunks, kFull || c + 1 < valid, &lo, &hi);
          if constexpr (T == 1) {
            dots[c / 2] = PairDot(lo, hi, a[0].q + 32 * k);
          } else {
            const int l0 = kPairLane[c], l1 = kPairLane[c + 1];
            const __m256i idx = _mm256_setr_epi32(l0, l0, l0, l0, l1, l1, l1, l1);
#pragma GCC unroll 8
            for (int j = 0; j < T; ++j) {
              const __m256i dot =
                  _mm256_madd_epi16(PairDot(lo, hi, a[j].q + 32 * k), _mm256_set1_epi16(1));
              __m256& sum = c % 4 ? acc2[j] : acc[j];  // two FMA chains
              sum = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_permutevar8x32_ps(dd[j], idx),
                                    sum);
            }
          }
        }
        if constexpr (T == 1) {
          acc[0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(SumPairs(dots)), dd[0], acc[0]);
        }
      } else {
#pragma GCC unroll 8
        for (int c = 0; c < 8; ++c) {
          const int64_t k = k0 + c;
          if (!kFull && c >= valid) break;
          const uint8_t* blk = base + c / kChunks * S;
          if (c % kChunks == 0) PrefetchAhead<S>(blk);
          const __m256i codes = Chunk<B>(blk, c % kChunks);
#pragma GCC unroll 8
          for (int j = 0; j < T; ++j) {
            const __m256 dot = _mm256_cvtepi32_ps(Dot8(codes, a[j].q + 32 * k));
            __m256& sum = c % 2 ? acc2[j] : acc[j];  // two FMA chains
            sum = _mm256_fmadd_ps(dot, _mm256_permutevar8x32_ps(dd[j], _mm256_set1_epi32(c)), sum);
          }
        }
      }
    };
    int64_t k0 = 0;
    for (; k0 + 8 <= nb; k0 += 8) chunks8(k0, std::true_type());
    if (k0 < nb) chunks8(k0, std::false_type());
    // corr holds 8 * d_w * d_x * s_x; symmetric codes carry o * s_x (a power of two: exact).
    constexpr float kCorr = B::kAsym || B::kBits == 8 ? 1.0f : float(1 << (B::kBits - 1)) / 8.0f;
#pragma GCC unroll 8
    for (int j = 0; j < T; ++j) {
      const __m256 c = kCorr == 1.0f ? corr[j] : _mm256_mul_ps(corr[j], _mm256_set1_ps(kCorr));
      y[j * ldy] = HsumAvx2(_mm256_add_ps(_mm256_add_ps(acc[j], acc2[j]), c));
    }
  }
}

// The file's kernel for the shared loops on prepared inputs (tile_loops.h).
template <class B>
struct Kernel {
  static constexpr int kSplit = 1;  // a gemv walks its rows one after another
  static int64_t Bytes(int64_t cols) { return ActBytes(cols); }
  static void Prepare(const float* x, int64_t cols, void* buf) {
    PrepareActs<LayoutOf<B>()>(x, cols, buf);
  }
  using View = Acts;
  static View ViewOf(const void* buf, int64_t cols) { return ActView(buf, cols); }
  template <int T>
  void Row(const uint8_t* row, const Acts* xs, float* y, int64_t ldy, int64_t cols) const {
    Tile<B, T>(row, xs, y, ldy, cols);
  }
};

template <class B>
constexpr MatmulKernels IntAvx2() {
  return {GemvPreparing<Kernel<B>>, GemmPreparing<Kernel<B>>};
}

template <class B>
constexpr PreparedGemv IntAvx2Prepared() {
  return {Kernel<B>::Bytes, Kernel<B>::Prepare, GemvOnPrepared<Kernel<B>>};
}

}  // namespace

// Indexed by WeightFormat; the float formats live in kMatmulAvx2 (null rows here).
const MatmulKernels kMatmulIntAvx2[kWeightFormatCount] = {
    /* kF32         */ {nullptr, nullptr},
    /* kF16         */ {nullptr, nullptr},
    /* kBF16        */ {nullptr, nullptr},
    /* kQ8Channel   */ IntAvx2<Channel>(),
    /* kQ8G32       */ IntAvx2<block_q8_g32>(),
    /* kQ8G64       */ IntAvx2<block_q8_g64>(),
    /* kQ8G128      */ IntAvx2<block_q8_g128>(),
    /* kQ8G32Asym   */ IntAvx2<block_q8_g32_asym>(),
    /* kQ8G64Asym   */ IntAvx2<block_q8_g64_asym>(),
    /* kQ8G128Asym  */ IntAvx2<block_q8_g128_asym>(),
    /* kQ4G32       */ IntAvx2<block_q4_g32>(),
    /* kQ4G64       */ IntAvx2<block_q4_g64>(),
    /* kQ4G128      */ IntAvx2<block_q4_g128>(),
    /* kQ4G32Asym   */ IntAvx2<block_q4_g32_asym>(),
    /* kQ4G64Asym   */ IntAvx2<block_q4_g64_asym>(),
    /* kQ4G128Asym  */ IntAvx2<block_q4_g128_asym>(),
    /* kNf4 .. kFp8E5M2 (16-19) live in kMatmulFloat8Avx2 */ {},
    {},
    {},
    {},
    /* kQ3G32       */ IntAvx2<block_q3_g32>(),
    /* kQ3G64       */ IntAvx2<block_q3_g64>(),
    /* kQ3G128      */ IntAvx2<block_q3_g128>(),
    /* kQ3G32Asym   */ IntAvx2<block_q3_g32_asym>(),
    /* kQ3G64Asym   */ IntAvx2<block_q3_g64_asym>(),
    /* kQ3G128Asym  */ IntAvx2<block_q3_g128_asym>(),
    /* kQ2G32       */ IntAvx2<block_q2_g32>(),
    /* kQ2G64       */ IntAvx2<block_q2_g64>(),
    /* kQ2G128      */ IntAvx2<block_q2_g128>(),
    /* kQ2G32Asym   */ IntAvx2<block_q2_g32_asym>(),
    /* kQ2G64Asym   */ IntAvx2<block_q2_g64_asym>(),
    /* kQ2G128Asym  */ IntAvx2<block_q2_g128_asym>(),
};

// The prepared gemv of the same rows.
const PreparedGemv kPreparedIntAvx2[kWeightFormatCount] = {
    /* kF32, kF16, kBF16 */ {},
    {},
    {},
    /* kQ8Channel   */ IntAvx2Prepared<Channel>(),
    /* kQ8G32       */ IntAvx2Prepared<block_q8_g32>(),
    /* kQ8G64       */ IntAvx2Prepared<block_q8_g64>(),
    /* kQ8G128      */ IntAvx2Prepared<block_q8_g128>(),
    /* kQ8G32Asym   */ IntAvx2Prepared<block_q8_g32_asym>(),
    /* kQ8G64Asym   */ IntAvx2Prepared<block_q8_g64_asym>(),
    /* kQ8G128Asym  */ IntAvx2Prepared<block_q8_g128_asym>(),
    /* kQ4G32       */ IntAvx2Prepared<block_q4_g32>(),
    /* kQ4G64       */ IntAvx2Prepared<block_q4_g64>(),
    /* kQ4G128      */ IntAvx2Prepared<block_q4_g128>(),
    /* kQ4G32Asym   */ IntAvx2Prepared<block_q4_g32_asym>(),
    /* kQ4G64Asym   */ IntAvx2Prepared<block_q4_g64_asym>(),
    /* kQ4G128Asym  */ IntAvx2Prepared<block_q4_g128_asym>(),
    /* kNf4 .. kFp8E5M2 */ {},
    {},
    {},
    {},
    /* kQ3G32       */ IntAvx2Prepared<block_q3_g32>(),
    /* kQ3G64       */ IntAvx2Prepared<block_q3_g64>(),
    /* kQ3G128      */ IntAvx2Prepared<block_q3_g128>(),
    /* kQ3G32Asym   */ IntAvx2Prepared<block_q3_g32_asym>(),
    /* kQ3G64Asym   */ IntAvx2Prepared<block_q3_g64_asym>(),
    /* kQ3G128Asym  */ IntAvx2Prepared<block_q3_g128_asym>(),
    /* kQ2G32       */ IntAvx2Prepared<block_q2_g32>(),
    /* kQ2G64       */ IntAvx2Prepared<block_q2_g64>(),
    /* kQ2G128      */ IntAvx2Prepared<block_q2_g128>(),
    /* kQ2G32Asym   */ IntAvx2Prepared<block_q2_g32_asym>(),
    /* kQ2G64Asym   */ IntAvx2Prepared<block_q2_g64_asym>(),
    /* kQ2G128Asym  */ IntAvx2Prepared<block_q2_g128_asym>(),
};

}  // namespace squeeze::cpu
