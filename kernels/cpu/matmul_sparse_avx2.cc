// AVX2 matrix kernels for the N:M sparse formats (sp24_*, sp48_*; layout in
// ref/quant_sparse.h). Per block of 32 columns the 16 kept values are loaded (f16 widened with
// F16C) and multiplied with the inputs at their columns, gathered from the block's 32 inputs
// by vpermps: kept values 0-7 come from columns 0-15, 8-15 from 16-31, each 8 by two permutes
// (one per 8 inputs) and a blend, the permute index being the value's position in its group
// (+4 for the second group of an input vector in 2:4). Half the weight bytes of the dense
// format are read, and half the multiplications are done.
// gemv reads one row at a time front to back with software prefetch (tile_loops.h); gemm
// decodes each block once for 4 tokens. Inputs of a last partial block are zero-padded.
// Compiled with -mavx2 -mfma -mf16c: everything stays in the anonymous namespace and uses only
// intrinsics and plain loops, so no AVX2 copy of a shared inline function can leak out.
#include <immintrin.h>

#include <cstdlib>
#include <cstring>

#include "cpu/cpu_kernels.h"
#include "cpu/lanes_avx2.h"
#include "cpu/tile_loops.h"
#include "ref/quant_sparse.h"

namespace squeeze::cpu {
namespace {

// A decoded block: the 16 kept values and, for each, the vpermps index of its input within
// the 8-input vector it comes from.
struct Decoded {
  __m256 v0, v1;
  __m256i p0, p1;
};

template <class B>
Decoded Decode(const uint8_t* blk) {
  constexpr int kBits = B::kIndexBits;
  const B* b = reinterpret_cast<const B*>(blk);
  Decoded d;
  if constexpr (sizeof(b->v[0]) == 4) {
    d.v0 = _mm256_loadu_ps(b->v);
    d.v1 = _mm256_loadu_ps(b->v + 8);
  } else {
    d.v0 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b->v)));
    d.v1 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b->v + 8)));
  }
  // Index fields of values 0-7 and 8-15: those of 8-15 start at byte 2 (2-bit) or 3 (3-bit).
  // Both are loaded from memory (broadcast loads, no shuffle port).
  uint32_t lo, hi;
  std::memcpy(&lo, blk, 4);
  std::memcpy(&hi, blk + kBits, 4);
  const __m256i shifts =
      _mm256_setr_epi32(0, kBits, 2 * kBits, 3 * kBits, 4 * kBits, 5 * kBits, 6 * kBits, 7 * kBits);
  const __m256i mask = _mm256_set1_epi32((1 << kBits) - 1);
  // 2:4: the values of the second group of 4 inputs in a vector index lanes 4-7.
  const __m256i base =
      kBits == 2 ? _mm256_setr_epi32(0, 0, 4, 4, 0, 0, 4, 4) : _mm256_setzero_si256();
  d.p0 = _mm256_add_epi32(
      _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(int(lo)), shifts), mask), base);
  d.p1 = _mm256_add_epi32(
      _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(int(hi)), shifts), mask), base);
  return d;
}

// The block's kept values times their inputs (x: the block's 32 inputs), added to acc[0] and
// acc[1] (two FMA chains).
void Fma(const Decoded& d, const float* x, __m256* acc) {
  const __m256 x0 = _mm256_loadu_ps(x), x1 = _mm256_loadu_ps(x + 8);
  const __m256 x2 = _mm256_loadu_ps(x + 16), x3 = _mm256_loadu_ps(x + 24);
  const __m256 g0 =
      _mm256_blend_ps(_mm256_permutevar8x32_ps(x0, d.p0), _mm256_permutevar8x32_ps(x1, d.p0), 0xf0);
  const __m256 g1 =
      _mm256_blend_ps(_mm256_permutevar8x32_ps(x2, d.p1), _mm256_permutevar8x32_ps(x3, d.p1), 0xf0);
  acc[0] = _mm256_fmadd_ps(d.v0, g0, acc[0]);
  acc[1] = _mm256_fmadd_ps(d.v1, g1, acc[1]);
}

// x (n vectors of cols inputs) with each vector zero-padded to a multiple of 32, in this
// thread's scratch; x itself when no padding is needed.
const float* PaddedInputs(const float* x, int64_t n, int64_t cols, int64_t* stride) {
  *stride = (cols + 31) / 32 * 32;
  if (*stride == cols) return x;
  float* p = static_cast<float*>(ThreadScratch(size_t(n * *stride) * sizeof(float)));
  if (p == nullptr) std::abort();
  for (int64_t t = 0; t < n; ++t) {
    std::memcpy(p + t * *stride, x + t * cols, size_t(cols) * sizeof(float));
    std::memset(p + t * *stride + cols, 0, size_t(*stride - cols) * sizeof(float));
  }
  return p;
}

// One row x T tokens: y[j * ldy] = W · x_j.
template <class B, int T>
void Row(const uint8_t* row, const float* x, int64_t stride, float* y, int64_t ldy, int64_t cols) {
  __m256 acc[T][2];
#pragma GCC unroll 8
  for (int j = 0; j < T; ++j) acc[j][0] = acc[j][1] = _mm256_setzero_ps();
  const int64_t blocks = (cols + 31) / 32;
  for (int64_t b = 0; b < blocks; ++b) {
    const uint8_t* blk = row + b * int64_t(sizeof(B));
    PrefetchAhead<sizeof(B)>(blk);
    const Decoded d = Decode<B>(blk);
#pragma GCC unroll 8
    for (int j = 0; j < T; ++j) Fma(d, x + j * stride + 32 * b, acc[j]);
  }
#pragma GCC unroll 8
  for (int j = 0; j < T; ++j) y[j * ldy] = HsumAvx2(_mm256_add_ps(acc[j][0], acc[j][1]));
}

template <class B>
void Gemv(const void* w, int64_t row_bytes, const float* x, float* y, int64_t rows, int64_t cols) {
  int64_t stride;
  const float* xp = PaddedInputs(x, 1, cols, &stride);
  const uint8_t* p = static_cast<const uint8_t*>(w);
  for (int64_t r = 0; r < rows; ++r) Row<B, 1>(p + r * row_bytes, xp, stride, y + r, 0, cols);
}

// Rows outermost: a row stays in cache while every group of 4 tokens passes over it.
template <class B>
void Gemm(const void* w, int64_t row_bytes, const float* x, int64_t n, float* y, int64_t ldy,
          int64_t rows, int64_t cols) {
  int64_t stride;
  const float* xp = PaddedInputs(x, n, cols, &stride);
  const uint8_t* p = static_cast<const uint8_t*>(w);
  for (int64_t r = 0; r < rows; ++r) {
    int64_t t = 0;
    for (; t + 4 <= n; t += 4)
      Row<B, 4>(p + r * row_bytes, xp + t * stride, stride, y + t * ldy + r, ldy, cols);
    for (; t < n; ++t)
      Row<B, 1>(p + r * row_bytes, xp + t * stride, stride, y + t * ldy + r, 0, cols);
  }
}

template <class B>
constexpr MatmulKernels SparseAvx2() {
  return {Gemv<B>, Gemm<B>};
}

}  // namespace

// Indexed by WeightFormat: the N:M sparse rows (34-37). Also served at the AVX-512 level.
const MatmulKernels kMatmulSparseAvx2[kWeightFormatCount] = {
    /* formats 0-33 */ {},
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
    {},
    {},
    {},
    /* kSp24F32 */ SparseAvx2<block_sp24_f32>(),
    /* kSp24F16 */ SparseAvx2<block_sp24_f16>(),
    /* kSp48F32 */ SparseAvx2<block_sp48_f32>(),
    /* kSp48F16 */ SparseAvx2<block_sp48_f16>(),
};
static_assert(int(WeightFormat::kSp24F32) == 34);

}  // namespace squeeze::cpu
