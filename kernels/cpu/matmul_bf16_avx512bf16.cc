// BF16 matrix kernels with the AVX512-BF16 dot-product instruction (vdpbf16ps): the inputs are
// rounded to bf16 once per call (round to nearest even, as the reference does), then each
// instruction multiplies 32 bf16 weights by 32 bf16 inputs exactly and adds pairs into 16 f32
// accumulators. Compiled with -mavx512bf16; kernel_table.cc uses it only where the CPU has it.

// GCC 12 warns about the deliberately undefined registers inside its own intrinsics headers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstdlib>
#include <cstring>

#include "cpu/cpu_kernels.h"
#include "cpu/tile_loops.h"

namespace squeeze::cpu {
namespace {

constexpr int kPair = 32;  // bf16 values per vdpbf16ps

// Columns padded to whole vectors of 32 (the padding of the rounded inputs is zero).
int64_t Padded(int64_t cols) {
  return (cols + kPair - 1) / kPair * kPair;
}

// x (n tokens of cols floats) rounded to bf16 into out (n rows of Padded(cols) values).
void RoundInputs(const float* x, int64_t n, int64_t cols, uint16_t* out) {
  const int64_t pc = Padded(cols);
  for (int64_t t = 0; t < n; ++t) {
    const float* xs = x + t * cols;
    uint16_t* o = out + t * pc;
    int64_t c = 0;
    for (; c + kPair <= cols; c += kPair) {
      const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(xs + c + 16), _mm512_loadu_ps(xs + c));
      _mm512_storeu_si512(o + c, (__m512i)v);
    }
    if (c < cols) {
      const int64_t left = cols - c;
      const __mmask16 lo = __mmask16(left >= 16 ? 0xFFFF : (1u << left) - 1);
      const __mmask16 hi = __mmask16(left <= 16 ? 0 : (1u << (left - 16)) - 1);
      const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(hi, xs + c + 16),
                                             _mm512_maskz_loadu_ps(lo, xs + c));
      _mm512_storeu_si512(o + c, (__m512i)v);
    }
  }
}

// R weight rows x T tokens; xb holds T rows of Padded(cols) rounded inputs.
template <int R, int T>
void Tile(const uint8_t* w, int64_t row_bytes, const uint16_t* xb, float* y, int64_t ldy,
          int64_t cols) {
  const int64_t pc = Padded(cols);
  __m512 acc[R][T];
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < T; ++j) acc[i][j] = _mm512_setzero_ps();
  // Whole vectors of 32 weights, then one masked tail (the rounded inputs are zero-padded).
  // (Written out twice: with a shared lambda GCC 12 keeps the accumulators in memory.)
  int64_t c = 0;
  for (; c + kPair <= cols; c += kPair) {
    __m512bh xv[T];
#pragma GCC unroll 8
    for (int j = 0; j < T; ++j) xv[j] = (__m512bh)_mm512_loadu_si512(xb + j * pc + c);
#pragma GCC unroll 8
    for (int i = 0; i < R; ++i) {
      const __m512bh wv = (__m512bh)_mm512_loadu_si512(w + i * row_bytes + 2 * c);
#pragma GCC unroll 8
      for (int j = 0; j < T; ++j) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], wv, xv[j]);
    }
  }
  if (c < cols) {
    const __mmask32 m = __mmask32((1u << (cols - c)) - 1);
    __m512bh xv[T];
#pragma GCC unroll 8
    for (int j = 0; j < T; ++j) xv[j] = (__m512bh)_mm512_loadu_si512(xb + j * pc + c);
#pragma GCC unroll 8
    for (int i = 0; i < R; ++i) {
      const __m512bh wv = (__m512bh)_mm512_maskz_loadu_epi16(m, w + i * row_bytes + 2 * c);
#pragma GCC unroll 8
      for (int j = 0; j < T; ++j) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], wv, xv[j]);
    }
  }
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < T; ++j) y[j * ldy + i] = _mm512_reduce_add_ps(acc[i][j]);
}

// gemv of S far-apart parts of the rows side by side, A adjacent rows in each (rows
// r + a + s * part), prefetching kPrefetchBytes ahead; as Tile<S * A, 1> otherwise (see
// matmul_avx512.cc, kGemvParts: one thread reads 4 distant streams faster than adjacent rows).
template <int S, int A>
void SplitTile(const uint8_t* w, int64_t row_bytes, int64_t part_bytes, const uint16_t* xb,
               float* y, int64_t part, int64_t cols) {
  __m512 acc[S][A];
#pragma GCC unroll 8
  for (int s = 0; s < S; ++s)
#pragma GCC unroll 8
    for (int a = 0; a < A; ++a) acc[s][a] = _mm512_setzero_ps();
  // Every step reads with a mask (all ones but at the end; the rounded inputs are zero-padded).
  for (int64_t c = 0; c < cols; c += kPair) {
    const __mmask32 m = cols - c >= kPair ? ~__mmask32(0) : __mmask32((1u << (cols - c)) - 1);
    const __m512bh xv = (__m512bh)_mm512_loadu_si512(xb + c);
#pragma GCC unroll 8
    for (int s = 0; s < S; ++s)
#pragma GCC unroll 8
      for (int a = 0; a < A; ++a) {
        const uint8_t* r = w + s * part_bytes + a * row_bytes + 2 * c;
        PrefetchAhead<2 * kPair>(r);
        acc[s][a] = _mm512_dpbf16_ps(acc[s][a], (__m512bh)_mm512_maskz_loadu_epi16(m, r), xv);
      }
  }
  for (int s = 0; s < S; ++s)
    for (int a = 0; a < A; ++a) y[s * part + a] = _mm512_reduce_add_ps(acc[s][a]);
}

constexpr int kGemvParts = 4, kGemvAdjacent = 2, kGemmRows = 6, kGemmTokens = 4;

uint16_t* Scratch(int64_t n, int64_t cols) {
  auto* p = static_cast<uint16_t*>(ThreadScratch(size_t(n * Padded(cols)) * sizeof(uint16_t)));
  if (p == nullptr) std::abort();
  return p;
}

void Gemv(const void* w, int64_t row_bytes, const float* x, float* y, int64_t rows, int64_t cols) {
  uint16_t* xb = Scratch(1, cols);
  RoundInputs(x, 1, cols, xb);
  const uint8_t* p = static_cast<const uint8_t*>(w);
  SplitRowLoop<kGemvParts, kGemvAdjacent>(
      rows,
      [&](int64_t r, int64_t part) {
        SplitTile<kGemvParts, kGemvAdjacent>(p + r * row_bytes, row_bytes, part * row_bytes, xb,
                                             y + r, part, cols);
      },
      [&](int64_t r) { Tile<1, 1>(p + r * row_bytes, row_bytes, xb, y + r, 0, cols); });
}

template <int R>
void GemmRows(const uint8_t* w, int64_t row_bytes, const uint16_t* xb, int64_t n, float* y,
              int64_t ldy, int64_t cols) {
  const int64_t pc = Padded(cols);
  int64_t t = 0;
  for (; t + kGemmTokens <= n; t += kGemmTokens)
    Tile<R, kGemmTokens>(w, row_bytes, xb + t * pc, y + t * ldy, ldy, cols);
  for (; t < n; ++t) Tile<R, 1>(w, row_bytes, xb + t * pc, y + t * ldy, ldy, cols);
}

void Gemm(const void* w, int64_t row_bytes, const float* x, int64_t n, float* y, int64_t ldy,
          int64_t rows, int64_t cols) {
  uint16_t* xb = Scratch(n, cols);
  RoundInputs(x, n, cols, xb);
  const uint8_t* p = static_cast<const uint8_t*>(w);
  int64_t r = 0;
  for (; r + kGemmRows <= rows; r += kGemmRows)
    GemmRows<kGemmRows>(p + r * row_bytes, row_bytes, xb, n, y + r, ldy, cols);
  for (; r < rows; ++r) GemmRows<1>(p + r * row_bytes, row_bytes, xb, n, y + r, ldy, cols);
}

}  // namespace

const MatmulKernels kMatmulBf16Avx512[kWeightFormatCount] = {
    {}, {}, {Gemv, Gemm},  // kBF16 only
};

}  // namespace squeeze::cpu
