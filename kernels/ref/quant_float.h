// Low-bit float weight formats (nf4, fp4, fp8_e4m3, fp8_e5m2): code tables, block structs,
// scalar fp8 encode/decode and the reference row quantize/dequantize. Plain data and
// declarations only, so that the SIMD kernel files can include it without ODR hazards.
//
// nf4 / fp4: each row is ceil(cols / 64) blocks of 64 weights: an f16 absmax d, then 32 bytes of
// 4-bit codes (the q4 layout of quant_int.h: each 32 weights use 16 bytes, weight j < 16 in the
// low nibble of byte j, weight j + 16 in the high nibble). value = d * table[code], with the
// tables below normalized to [-1, 1]; the code is the nearest table entry to w / d (ties go to
// the lower code). Padding codes are the code of 0 and never multiplied with anything.
//
// fp8_e4m3 / fp8_e5m2: each row is one f32 scale s = absmax / max_finite (448 for E4M3, 57344
// for E5M2) followed by `cols` bytes (no blocks); value = s * decode(byte). Encoding rounds
// w / s to the nearest representable value (ties to even) and saturates to +-max_finite: it
// never produces Inf or NaN (NaN inputs give +0).
//
// E4M3 is the OCP "fn" variant (bias 7, no infinities, S.1111.111 is NaN); E5M2 is IEEE-like
// (bias 15, exponent 31 is Inf/NaN).
#pragma once

#include <cstdint>

namespace squeeze {

// NormalFloat4 code values (QLoRA, Dettmers et al. 2023, "QLoRA: Efficient Finetuning of
// Quantized LLMs", appendix; the same table as bitsandbytes' functional.py): quantiles of
// N(0, 1) normalized to [-1, 1], with an exact 0 at code 7. Ascending.
inline constexpr float kNf4Values[16] = {
    -1.0f,
    -0.6961928009986877f,
    -0.5250730514526367f,
    -0.39491748809814453f,
    -0.28444138169288635f,
    -0.18477343022823334f,
    -0.09105003625154495f,
    0.0f,
    0.07958029955625534f,
    0.16093020141124725f,
    0.24611230194568634f,
    0.33791524171829224f,
    0.44070982933044434f,
    0.5626170039176941f,
    0.7229568362236023f,
    1.0f,
};

// FP4 (E2M1) code values normalized by the largest magnitude 6: code bit 3 is the sign, bits
// 0-2 index {0, 0.5, 1, 1.5, 2, 3, 4, 6}. Code 8 (-0) decodes to -0 and is never produced.
inline constexpr float kFp4Values[16] = {
    0.0f,         0.5f / 6.0f,  1.0f / 6.0f,  1.5f / 6.0f,  2.0f / 6.0f,  3.0f / 6.0f,
    4.0f / 6.0f,  1.0f,         -0.0f,        -0.5f / 6.0f, -1.0f / 6.0f, -1.5f / 6.0f,
    -2.0f / 6.0f, -3.0f / 6.0f, -4.0f / 6.0f, -1.0f,
};

// Code of 0 (used for padding weights).
inline constexpr int kNf4ZeroCode = 7;
inline constexpr int kFp4ZeroCode = 0;

struct block_nf4 {
  static constexpr int kGroup = 64;
  uint16_t d;      // f16 absmax of the block
  uint8_t qs[32];  // 4-bit codes into kNf4Values, q4 layout
};
static_assert(sizeof(block_nf4) == 34);

struct block_fp4 {
  static constexpr int kGroup = 64;
  uint16_t d;      // f16 absmax of the block
  uint8_t qs[32];  // 4-bit codes into kFp4Values, q4 layout
};
static_assert(sizeof(block_fp4) == 34);

inline constexpr float kFp8E4M3Max = 448.0f;
inline constexpr float kFp8E5M2Max = 57344.0f;

// Scalar fp8 conversions. Encode: round to nearest even, saturate to +-max finite, NaN -> +0.
// Decode: exact, including Inf/NaN bytes.
uint8_t fp32_to_fp8_e4m3(float x);
float fp8_e4m3_to_fp32(uint8_t b);
uint8_t fp32_to_fp8_e5m2(float x);
float fp8_e5m2_to_fp32(uint8_t b);

// Reference row conversions: quantize_row_<name>_ref writes RowBytes(format, n) bytes;
// dequantize_row_<name> writes n floats.
void quantize_row_nf4_ref(const float* x, void* y, int64_t n);
void dequantize_row_nf4(const void* x, float* y, int64_t n);
void quantize_row_fp4_ref(const float* x, void* y, int64_t n);
void dequantize_row_fp4(const void* x, float* y, int64_t n);
void quantize_row_fp8_e4m3_ref(const float* x, void* y, int64_t n);
void dequantize_row_fp8_e4m3(const void* x, float* y, int64_t n);
void quantize_row_fp8_e5m2_ref(const float* x, void* y, int64_t n);
void dequantize_row_fp8_e5m2(const void* x, float* y, int64_t n);

}  // namespace squeeze
