// Reference quantize (round to nearest, deterministic) and dequantize of the integer weight
// formats declared in quant_int.h. Scalar and simple on purpose: these define the formats.
#include "ref/quant_int.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "squeeze/kernels/fp16.h"

namespace squeeze {
namespace {

// Byte of weight k's code within a 4-bit block's qs, and the shift of its nibble.
constexpr int Q4CodeByte(int k) {
  return 16 * (k / 32) + k % 16;
}
constexpr int Q4CodeShift(int k) {
  return 4 * ((k % 32) / 16);
}

// 2- and 3-bit codes: per 32 weights, 4 * bits bytes whose byte k % 8 holds weight k's low
// two bits at bit 2 * ((k % 32) / 8) (8 bytes per 32 weights for 2-bit codes, 12 for 3-bit
// ones); a 3-bit code's high bit follows in byte 8 + k % 4, bit (k % 32) / 4.
constexpr int LowCodeByte(int bytes_per_32, int k) {
  return bytes_per_32 * (k / 32) + k % 8;
}
constexpr int LowCodeShift(int k) {
  return 2 * ((k % 32) / 8);
}
constexpr int HighBitByte(int k) {
  return 12 * (k / 32) + 8 + k % 4;
}
constexpr int HighBitShift(int k) {
  return (k % 32) / 4;
}

// Rounds t to the nearest integer in [lo, hi] (ties away from zero); NaN goes to lo.
int RoundClamp(float t, float lo, float hi) {
  t = std::fmax(t, lo);  // fmax(NaN, lo) == lo
  t = std::fmin(t, hi);
  return int(std::lround(t));
}

template <class B>
void PutCode(B* b, int k, int q) {
  if constexpr (B::kBits == 8) {
    b->qs[k] = static_cast<std::remove_reference_t<decltype(b->qs[0])>>(q);
  } else if constexpr (B::kBits == 4) {
    b->qs[Q4CodeByte(k)] |= uint8_t((q & 0xf) << Q4CodeShift(k));
  } else {
    b->qs[LowCodeByte(4 * B::kBits, k)] |= uint8_t((q & 3) << LowCodeShift(k));
    if constexpr (B::kBits == 3) {
      b->qs[HighBitByte(k)] |= uint8_t(((q >> 2) & 1) << HighBitShift(k));
    }
  }
}

template <class B>
int GetCode(const B& b, int k) {
  if constexpr (B::kBits == 8) {
    return b.qs[k];  // int8_t or uint8_t: sign handled by the type
  } else if constexpr (B::kBits == 4) {
    const int nib = (b.qs[Q4CodeByte(k)] >> Q4CodeShift(k)) & 0xf;
    return B::kAsym ? nib : (nib ^ 8) - 8;  // two's complement nibble
  } else {
    int r = (b.qs[LowCodeByte(4 * B::kBits, k)] >> LowCodeShift(k)) & 3;
    if constexpr (B::kBits == 3) r |= ((b.qs[HighBitByte(k)] >> HighBitShift(k)) & 1) << 2;
    constexpr int kSign = 1 << (B::kBits - 1);
    return B::kAsym ? r : (r ^ kSign) - kSign;  // two's complement field
  }
}

template <class B>
void QuantizeRow(const float* x, void* y, int64_t n) {
  constexpr int G = B::kGroup;
  constexpr int kMaxCode = B::kAsym ? (1 << B::kBits) - 1 : (1 << (B::kBits - 1)) - 1;
  uint8_t* out = static_cast<uint8_t*>(y);
  const int64_t blocks = (n + G - 1) / G;
  for (int64_t bi = 0; bi < blocks; ++bi) {
    const float* g = x + bi * G;
    const int len = int(std::min<int64_t>(G, n - bi * G));
    B b;
    std::memset(&b, 0, sizeof(b));  // padding codes stay zero
    if constexpr (B::kAsym) {
      float lo = g[0], hi = g[0];
      for (int k = 1; k < len; ++k) {
        lo = std::min(lo, g[k]);
        hi = std::max(hi, g[k]);
      }
      b.d = fp32_to_fp16((hi - lo) / float(kMaxCode));
      b.m = fp32_to_fp16(lo);
      const float d = fp16_to_fp32(b.d), m = fp16_to_fp32(b.m);
      for (int k = 0; k < len; ++k) {
        const int q = d == 0.0f ? 0 : RoundClamp((g[k] - m) / d, 0.0f, float(kMaxCode));
        PutCode(&b, k, q);
      }
    } else {
      float amax = 0.0f;
      for (int k = 0; k < len; ++k) amax = std::max(amax, std::fabs(g[k]));
      b.d = fp32_to_fp16(amax / float(kMaxCode));
      const float d = fp16_to_fp32(b.d);
      for (int k = 0; k < len; ++k) {
        const int q = d == 0.0f ? 0 : RoundClamp(g[k] / d, -float(kMaxCode), float(kMaxCode));
        PutCode(&b, k, q);
      }
    }
    std::memcpy(out + bi * int64_t(sizeof(B)), &b, sizeof(B));
  }
}

template <class B>
void DequantizeRow(const void* x, float* y, int64_t n) {
  constexpr int G = B::kGroup;
  const uint8_t* in = static_cast<const uint8_t*>(x);
  const int64_t blocks = (n + G - 1) / G;
  for (int64_t bi = 0; bi < blocks; ++bi) {
    B b;
    std::memcpy(&b, in + bi * int64_t(sizeof(B)), sizeof(B));
    const int len = int(std::min<int64_t>(G, n - bi * G));
    const float d = fp16_to_fp32(b.d);
    float m = 0.0f;
    if constexpr (B::kAsym) m = fp16_to_fp32(b.m);
    // d * q is exact in f32 (11-bit mantissa times at most 8 bits), so only the + m rounds:
    // the SIMD kernels' fma(q, d, m) gives the same float.
    for (int k = 0; k < len; ++k) y[bi * G + k] = d * float(GetCode(b, k)) + m;
  }
}

}  // namespace

void quantize_row_q8_channel_ref(const float* x, void* y, int64_t n) {
  uint8_t* out = static_cast<uint8_t*>(y);
  float amax = 0.0f;
  for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float s = amax / 127.0f;
  std::memcpy(out, &s, 4);
  int8_t* qs = reinterpret_cast<int8_t*>(out + 4);
  for (int64_t i = 0; i < n; ++i) qs[i] = int8_t(s == 0.0f ? 0 : RoundClamp(x[i] / s, -127, 127));
}

void dequantize_row_q8_channel(const void* x, float* y, int64_t n) {
  const uint8_t* in = static_cast<const uint8_t*>(x);
  float s;
  std::memcpy(&s, in, 4);
  const int8_t* qs = reinterpret_cast<const int8_t*>(in + 4);
  for (int64_t i = 0; i < n; ++i) y[i] = s * float(qs[i]);
}

// clang-format off
void quantize_row_q8_g32_ref(const float* x, void* y, int64_t n) { QuantizeRow<block_q8_g32>(x, y, n); }
void dequantize_row_q8_g32(const void* x, float* y, int64_t n) { DequantizeRow<block_q8_g32>(x, y, n); }
void quantize_row_q8_g64_ref(const float* x, void* y, int64_t n) { QuantizeRow<block_q8_g64>(x, y, n); }
void dequantize_row_q8_g64(const void* x, float* y, int64_t n) { DequantizeRow<block_q8_g64>(x, y, n); }
void quantize_row_q8_g128_ref(const float* x, void* y, int64_t n) { QuantizeRow<block_q8_g128>(x, y, n); }
void dequantize_row_q8_g128(const void* x, float* y, int64_t n) { DequantizeRow<block_q8_g128>(x, y, n); }
void quantize_row_q8_g32_asym_ref(const float* x, void* y, int64_t n) { QuantizeRow<block_q8_g32_asym>(x, y, n); }
void dequantize_row_q8_g32_asym(const void* x, float* y, int64_t n) { DequantizeRow<block_q8_g32_asym>(x, y, n); }
void quantize_row_q8_g64_asym_ref(const float* x, void* y, int64_t n) { QuantizeRow<block_q8_g64_asym>(x, y, n); }
void dequantize_row_q8_g64_asym(const void* x, float* y, int64_t n) { DequantizeRow<block_q8_g64_asym>(x, y, n); }
void quantize_row_q8_g128_asym_ref(const float* x, void* y, int64_t n) { QuantizeRow<block_q8_g128_asym>(x, y, n); }
void dequantize_row_q8_g128_asym(const void* x, float* y, int64_t n) { DequantizeRow<block_q8_g128_asym>(x, y, n); }

void quantize_row_q4_g32_ref(const float* x, void* y, int64_t n) { QuantizeRow<block_q4_g32>(x, y, n); }
void dequantize_row_q4_g32(const void* x, float* y, int64_t n) { DequantizeRow<block_q4_g32>(x, y, n); }
void quantize_row_q4_g64_ref(const float* x, void* y, int64_t n) { QuantizeRow<block_q4_g64>(x, y, n); }
void dequantize_row_q4_g64(const void* x, float* y, int64_t n) { DequantizeRow<block_q4_g64>(x, y, n); }
void quantize_row_q4_g128_ref(const float* x, void* y, int64_t n) { QuantizeRow<block_q4_g128>(x, y, n); }
void dequantize_row_q4_g128(const void* x, float* y, int64_t n) { DequantizeRow<block_q4_g128>(x, y, n); }
void quantize_row_q4_g32_asym_ref(const float* x, void* y, int64_t n) { QuantizeRow<block_q4_g32_asym>(x, y, n); }
void dequantize_row_q4_g32_asym(const void* x, float* y, int64_t n) { DequantizeRow<block_q4_g32_asym>(x, y, n); }
void quantize_row_q4_g64_asym_ref(const float* x, void* y, int64_t n) { QuantizeRow<block_q4_g64_asym>(x, y, n); }
void dequantize_row_q4_g64_asym(const void* x, float* y, int64_t n) { DequantizeRow<block_q4_g64_asym>(x, y, n); }
void quantize_row_q4_g128_asym_ref(const float* x, void* y, int64_t n) { QuantizeRow<block_q4_g128_asym>(x, y, n); }
void dequantize_row_q4_g128_asym(const void* x, float* y, int64_t n) { DequantizeRow<block_q4_g128_asym>(x, y, n); }

void quantize_row_q3_g32_ref(const float* x, void* y, int64_t n) { QuantizeRow<block_q3_g32>(x, y, n); }
void dequantize_row_q3_g32(const void* x, float* y, int64_t n) { DequantizeRow<block_q3_g32>(x, y, n); }
void quantize_row_q3_g64_ref(const float* x, void* y, int64_t n) { QuantizeRow<block_q3_g64>(x, y, n); }
void dequantize_row_q3_g64(const void* x, float* y, int64_t n) { DequantizeRow<block_q3_g64>(x, y, n); }
void quantize_row_q3_g128_ref(const float* x, void* y, int64_t n) { QuantizeRow<block_q3_g128>(x, y, n); }
void dequantize_row_q3_g128(const void* x, float* y, int64_t n) { DequantizeRow<block_q3_g128>(x, y, n); }
void quantize_row_q3_g32_asym_ref(const float* x, void* y, int64_t n) { QuantizeRow<block_q3_g32_asym>(x, y, n); }
void dequantize_row_q3_g32_asym(const void* x, float* y, int64_t n) { DequantizeRow<block_q3_g32_asym>(x, y, n); }
void quantize_row_q3_g64_asym_ref(const float* x, void* y, int64_t n) { QuantizeRow<block_q3_g64_asym>(x, y, n); }
void dequantize_row_q3_g64_asym(const void* x, float* y, int64_t n) { DequantizeRow<block_q3_g64_asym>(x, y, n); }
void quantize_row_q3_g128_asym_ref(const float* x, void* y, int64_t n) { QuantizeRow<block_q3_g128_asym>(x, y, n); }
void dequantize_row_q3_g128_asym(const void* x, float* y, int64_t n) { DequantizeRow<block_q3_g128_asym>(x, y, n); }

void quantize_row_q2_g32_ref(const float* x, void* y, int64_t n) { QuantizeRow<block_q2_g32>(x, y, n); }
void dequantize_row_q2_g32(const void* x, float* y, int64_t n) { DequantizeRow<block_q2_g32>(x, y, n); }
void quantize_row_q2_g64_ref(const float* x, void* y, int64_t n) { QuantizeRow<block_q2_g64>(x, y, n); }
void dequantize_row_q2_g64(const void* x, float* y, int64_t n) { DequantizeRow<block_q2_g64>(x, y, n); }
void quantize_row_q2_g128_ref(const float* x, void* y, int64_t n) { QuantizeRow<block_q2_g128>(x, y, n); }
void dequantize_row_q2_g128(const void* x, float* y, int64_t n) { DequantizeRow<block_q2_g128>(x, y, n); }
void quantize_row_q2_g32_asym_ref(const float* x, void* y, int64_t n) { QuantizeRow<block_q2_g32_asym>(x, y, n); }
void dequantize_row_q2_g32_asym(const void* x, float* y, int64_t n) { DequantizeRow<block_q2_g32_asym>(x, y, n); }
void quantize_row_q2_g64_asym_ref(const float* x, void* y, int64_t n) { QuantizeRow<block_q2_g64_asym>(x, y, n); }
void dequantize_row_q2_g64_asym(const void* x, float* y, int64_t n) { DequantizeRow<block_q2_g64_asym>(x, y, n); }
void quantize_row_q2_g128_asym_ref(const float* x, void* y, int64_t n) { QuantizeRow<block_q2_g128_asym>(x, y, n); }
void dequantize_row_q2_g128_asym(const void* x, float* y, int64_t n) { DequantizeRow<block_q2_g128_asym>(x, y, n); }
// clang-format on

}  // namespace squeeze
