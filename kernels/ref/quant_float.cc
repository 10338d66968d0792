// Reference fp8 encode/decode and row quantize/dequantize of the low-bit float formats declared
// in quant_float.h. Scalar and simple on purpose: these define the formats.
#include "ref/quant_float.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "squeeze/kernels/fp16.h"

namespace squeeze {
namespace {

// An 8-bit float: 1 sign bit, E exponent bits with bias B, M mantissa bits.
template <int E, int M, int B>
struct Fp8 {
  // Largest finite magnitude code (E4M3: 0x7e, E5M2: 0x7b).
  static constexpr int kMaxCode = (E == 4) ? 0x7e : 0x7b;

  static float Decode(uint8_t b) {
    const int sign = b >> 7, exp = (b >> M) & ((1 << E) - 1), man = b & ((1 << M) - 1);
    float v;
    if (E == 4 && exp == 15 && man == 7) {
      v = NAN;
    } else if (E == 5 && exp == 31) {
      v = man == 0 ? INFINITY : NAN;
    } else if (exp == 0) {
      v = std::ldexp(float(man), 1 - B - M);
    } else {
      v = std::ldexp(float(man + (1 << M)), exp - B - M);
    }
    return sign ? -v : v;
  }

  static uint8_t Encode(float x) {
    if (std::isnan(x)) return 0;
    const uint8_t sign = std::signbit(x) ? 0x80 : 0;
    const float a = std::fabs(x);
    int code;
    if (a >= Decode(uint8_t(kMaxCode))) {
      code = kMaxCode;
    } else if (a < std::ldexp(1.0f, 1 - B)) {
      // Subnormal: steps of 2^(1-B-M); a result of 2^M is the smallest normal's code.
      code = int(std::nearbyint(std::ldexp(a, B + M - 1)));
    } else {
      int e;
      std::frexp(a, &e);  // a = f * 2^e, f in [0.5, 1)
      e -= 1;             // a in [2^e, 2^(e+1))
      // q in [2^M, 2^(M+1)]; scaling by a power of two is exact, nearbyint rounds to even.
      const int q = int(std::nearbyint(std::ldexp(a, M - e)));
      code = ((e + B) << M) + (q - (1 << M));  // q == 2^(M+1) carries into the exponent
      code = std::min(code, kMaxCode);
    }
    return uint8_t(sign | code);
  }
};
using E4M3 = Fp8<4, 3, 7>;
using E5M2 = Fp8<5, 2, 15>;

constexpr int Q4CodeByte(int k) {
  return 16 * (k / 32) + k % 16;
}
constexpr int Q4CodeShift(int k) {
  return 4 * ((k % 32) / 16);
}

// Nearest entry of a 16-value table to t (ties and NaN go to the lower code).
int NearestCode(const float* table, float t) {
  int best = 0;
  float best_err = std::fabs(t - table[0]);
  for (int i = 1; i < 16; ++i) {
    const float err = std::fabs(t - table[i]);
    if (err < best_err) {
      best = i;
      best_err = err;
    }
  }
  return best;
}

template <class B>
void QuantizeRow4(const float* table, int zero_code, const float* x, void* y, int64_t n) {
  constexpr int G = B::kGroup;
  uint8_t* out = static_cast<uint8_t*>(y);
  const int64_t blocks = (n + G - 1) / G;
  for (int64_t bi = 0; bi < blocks; ++bi) {
    const float* g = x + bi * G;
    const int len = int(std::min<int64_t>(G, n - bi * G));
    B b;
    std::memset(&b, 0, sizeof(b));
    float amax = 0.0f;
    for (int k = 0; k < len; ++k) amax = std::max(amax, std::fabs(g[k]));
    b.d = fp32_to_fp16(amax);
    const float d = fp16_to_fp32(b.d);
    for (int k = 0; k < G; ++k) {
      const int q = (k >= len || d == 0.0f) ? zero_code : NearestCode(table, g[k] / d);
      b.qs[Q4CodeByte(k)] |= uint8_t(q << Q4CodeShift(k));
    }
    std::memcpy(out + bi * int64_t(sizeof(B)), &b, sizeof(B));
  }
}

template <class B>
void DequantizeRow4(const float* table, const void* x, float* y, int64_t n) {
  constexpr int G = B::kGroup;
  const uint8_t* in = static_cast<const uint8_t*>(x);
  const int64_t blocks = (n + G - 1) / G;
  for (int64_t bi = 0; bi < blocks; ++bi) {
    B b;
    std::memcpy(&b, in + bi * int64_t(sizeof(B)), sizeof(B));
    const int len = int(std::min<int64_t>(G, n - bi * G));
    const float d = fp16_to_fp32(b.d);
    for (int k = 0; k < len; ++k) {
      y[bi * G + k] = d * table[(b.qs[Q4CodeByte(k)] >> Q4CodeShift(k)) & 0xf];
    }
  }
}

template <class F>
void QuantizeRow8(float max_finite, const float* x, void* y, int64_t n) {
  uint8_t* out = static_cast<uint8_t*>(y);
  float amax = 0.0f;
  for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float s = amax / max_finite;
  std::memcpy(out, &s, 4);
  for (int64_t i = 0; i < n; ++i) out[4 + i] = s == 0.0f ? 0 : F::Encode(x[i] / s);
}

template <class F>
void DequantizeRow8(const void* x, float* y, int64_t n) {
  const uint8_t* in = static_cast<const uint8_t*>(x);
  float s;
  std::memcpy(&s, in, 4);
  for (int64_t i = 0; i < n; ++i) y[i] = s * F::Decode(in[4 + i]);
}

}  // namespace

uint8_t fp32_to_fp8_e4m3(float x) {
  return E4M3::Encode(x);
}
float fp8_e4m3_to_fp32(uint8_t b) {
  return E4M3::Decode(b);
}
uint8_t fp32_to_fp8_e5m2(float x) {
  return E5M2::Encode(x);
}
float fp8_e5m2_to_fp32(uint8_t b) {
  return E5M2::Decode(b);
}

void quantize_row_nf4_ref(const float* x, void* y, int64_t n) {
  QuantizeRow4<block_nf4>(kNf4Values, kNf4ZeroCode, x, y, n);
}
void dequantize_row_nf4(const void* x, float* y, int64_t n) {
  DequantizeRow4<block_nf4>(kNf4Values, x, y, n);
}
void quantize_row_fp4_ref(const float* x, void* y, int64_t n) {
  QuantizeRow4<block_fp4>(kFp4Values, kFp4ZeroCode, x, y, n);
}
void dequantize_row_fp4(const void* x, float* y, int64_t n) {
  DequantizeRow4<block_fp4>(kFp4Values, x, y, n);
}
void quantize_row_fp8_e4m3_ref(const float* x, void* y, int64_t n) {
  QuantizeRow8<E4M3>(kFp8E4M3Max, x, y, n);
}
void dequantize_row_fp8_e4m3(const void* x, float* y, int64_t n) {
  DequantizeRow8<E4M3>(x, y, n);
}
void quantize_row_fp8_e5m2_ref(const float* x, void* y, int64_t n) {
  QuantizeRow8<E5M2>(kFp8E5M2Max, x, y, n);
}
void dequantize_row_fp8_e5m2(const void* x, float* y, int64_t n) {
  DequantizeRow8<E5M2>(x, y, n);
}

}  // namespace squeeze
