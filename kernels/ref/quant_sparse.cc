// Reference conversions of the N:M sparse formats (layout in quant_sparse.h).
#include "ref/quant_sparse.h"

#include <cmath>
#include <cstring>

#include "squeeze/kernels/fp16.h"

namespace squeeze {
namespace {

template <class B>
float Value(const B& b, int j) {
  if constexpr (sizeof(b.v[0]) == 4) {
    return b.v[j];
  } else {
    return fp16_to_fp32(b.v[j]);
  }
}

template <class B>
void SetValue(B& b, int j, float v) {
  if constexpr (sizeof(b.v[0]) == 4) {
    b.v[j] = v;
  } else {
    b.v[j] = fp32_to_fp16(v);
  }
}

template <class B>
void Quantize(const float* x, void* y, int64_t n) {
  constexpr int N = B::kN, M = B::kM, kBits = B::kIndexBits;
  B* out = static_cast<B*>(y);
  for (int64_t b0 = 0; b0 < n; b0 += 32) {
    B blk;
    std::memset(&blk, 0, sizeof(blk));
    uint64_t idx = 0;
    for (int g = 0; g < 32 / M; ++g) {
      float w[M];
      for (int i = 0; i < M; ++i) {
        const int64_t c = b0 + g * M + i;
        w[i] = c < n ? x[c] : 0.0f;
      }
      // The N largest magnitudes, the lower column first on ties; then in column order.
      bool keep[M] = {};
      for (int k = 0; k < N; ++k) {
        int best = -1;
        for (int i = 0; i < M; ++i) {
          if (keep[i]) continue;
          if (best < 0 || std::fabs(w[i]) > std::fabs(w[best])) best = i;
        }
        keep[best] = true;
      }
      int j = g * N;
      for (int i = 0; i < M; ++i) {
        if (!keep[i]) continue;
        SetValue(blk, j, w[i]);
        idx |= uint64_t(i) << (kBits * j);
        ++j;
      }
    }
    std::memcpy(&blk.idx, &idx, sizeof(blk.idx) < 8 ? sizeof(blk.idx) : 6);
    out[b0 / 32] = blk;
  }
}

template <class B>
void Dequantize(const void* x, float* y, int64_t n) {
  constexpr int N = B::kN, M = B::kM;
  const B* in = static_cast<const B*>(x);
  for (int64_t b0 = 0; b0 < n; b0 += 32) {
    const B& blk = in[b0 / 32];
    const uint8_t* idx = reinterpret_cast<const uint8_t*>(&blk.idx);
    float w[32] = {};
    for (int j = 0; j < 16; ++j)
      w[M * (j / N) + SparseIndex(idx, B::kIndexBits, j)] = Value(blk, j);
    for (int i = 0; i < 32 && b0 + i < n; ++i) y[b0 + i] = w[i];
  }
}

}  // namespace

void quantize_row_sp24_f32_ref(const float* x, void* y, int64_t n) {
  Quantize<block_sp24_f32>(x, y, n);
}
void dequantize_row_sp24_f32(const void* x, float* y, int64_t n) {
  Dequantize<block_sp24_f32>(x, y, n);
}
void quantize_row_sp24_f16_ref(const float* x, void* y, int64_t n) {
  Quantize<block_sp24_f16>(x, y, n);
}
void dequantize_row_sp24_f16(const void* x, float* y, int64_t n) {
  Dequantize<block_sp24_f16>(x, y, n);
}
void quantize_row_sp48_f32_ref(const float* x, void* y, int64_t n) {
  Quantize<block_sp48_f32>(x, y, n);
}
void dequantize_row_sp48_f32(const void* x, float* y, int64_t n) {
  Dequantize<block_sp48_f32>(x, y, n);
}
void quantize_row_sp48_f16_ref(const float* x, void* y, int64_t n) {
  Quantize<block_sp48_f16>(x, y, n);
}
void dequantize_row_sp48_f16(const void* x, float* y, int64_t n) {
  Dequantize<block_sp48_f16>(x, y, n);
}

}  // namespace squeeze
