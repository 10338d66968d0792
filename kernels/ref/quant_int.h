// Integer weight formats: block structs (one per format, size checked) and their reference
// row quantize/dequantize. Plain data and declarations only, so that the SIMD kernel files
// (compiled for their own instruction set) can include it without ODR hazards.
//
// Group formats store each row as ceil(cols / G) blocks of G weights. Symmetric blocks hold an
// f16 scale d and codes q in [-(2^(b-1)-1), 2^(b-1)-1] (q8: [-127, 127], q4: [-7, 7],
// q3: [-3, 3], q2: [-1, 1]; the most negative code is unused so that the grid is symmetric
// around 0); value = d * q, with d = absmax / (2^(b-1)-1). Asymmetric blocks hold f16 d and
// f16 m and codes q in [0, 2^b - 1]; value = d * q + m, with m = min and
// d = (max - min) / (2^b - 1). Codes round to nearest (ties away from zero) after d and m have
// been rounded to f16.
//
// 4-bit layout (as ggml's q4_0): each 32 weights of a block use 16 bytes; weight j < 16 sits in
// the low nibble of byte j, weight j + 16 in the high nibble. Symmetric 4-bit codes are two's
// complement nibbles, asymmetric ones unsigned.
//
// 2-bit layout: each 32 weights of a block use 8 bytes; weight j sits in byte j % 8 at bits
// 2 * (j / 8) .. 2 * (j / 8) + 1 (byte 0 holds weights 0, 8, 16, 24 from its low bits up).
//
// 3-bit layout (low bits / high bit split, as ggml's q3_K): each 32 weights of a block use 12
// bytes: 8 bytes of the codes' low 2 bits in the 2-bit layout above, then 4 bytes of their
// high bit, weight j in byte 8 + j % 4 at bit j / 4 (byte 8 holds weights 0, 4, .., 28 from
// bit 0 up; read as one little-endian word, weight j's bit is 8 * (j % 4) + j / 4, which the
// AVX2 kernel brings to the top of byte j % 16 with one variable shift per 4 weights).
//
// Symmetric 3- and 2-bit codes are two's complement fields ([-3, 3] and [-1, 1]), asymmetric
// ones unsigned ([0, 7] and [0, 3]).
//
// A row whose length is not a multiple of G ends with a padded block: the padding weights are
// left out of the scale and their code bytes are zero (weight 0 for symmetric formats, m for
// asymmetric ones); kernels never multiply them with anything.
//
// q8_channel: each row is one f32 scale s = absmax / 127 followed by `cols` int8 codes in
// [-127, 127] (no blocks, no padding); value = s * q.
//
// Inputs must be finite and |w| < 65504 * 127 (the f16 scale range); NaN inputs give
// deterministic but meaningless codes.
#pragma once

#include <cstddef>
#include <cstdint>

namespace squeeze {

// ---- 8-bit symmetric ----
struct block_q8_g32 {
  static constexpr int kBits = 8, kGroup = 32;
  static constexpr bool kAsym = false;
  uint16_t d;     // f16 scale
  int8_t qs[32];  // codes in [-127, 127]
};
static_assert(sizeof(block_q8_g32) == 34);

struct block_q8_g64 {
  static constexpr int kBits = 8, kGroup = 64;
  static constexpr bool kAsym = false;
  uint16_t d;
  int8_t qs[64];
};
static_assert(sizeof(block_q8_g64) == 66);

struct block_q8_g128 {
  static constexpr int kBits = 8, kGroup = 128;
  static constexpr bool kAsym = false;
  uint16_t d;
  int8_t qs[128];
};
static_assert(sizeof(block_q8_g128) == 130);

// ---- 8-bit asymmetric ----
struct block_q8_g32_asym {
  static constexpr int kBits = 8, kGroup = 32;
  static constexpr bool kAsym = true;
  uint16_t d;      // f16 scale
  uint16_t m;      // f16 minimum (value of code 0)
  uint8_t qs[32];  // codes in [0, 255]
};
static_assert(sizeof(block_q8_g32_asym) == 36);

struct block_q8_g64_asym {
  static constexpr int kBits = 8, kGroup = 64;
  static constexpr bool kAsym = true;
  uint16_t d, m;
  uint8_t qs[64];
};
static_assert(sizeof(block_q8_g64_asym) == 68);

struct block_q8_g128_asym {
  static constexpr int kBits = 8, kGroup = 128;
  static constexpr bool kAsym = true;
  uint16_t d, m;
  uint8_t qs[128];
};
static_assert(sizeof(block_q8_g128_asym) == 132);

// ---- 4-bit symmetric ----
struct block_q4_g32 {
  static constexpr int kBits = 4, kGroup = 32;
  static constexpr bool kAsym = false;
  uint16_t d;      // f16 scale
  uint8_t qs[16];  // two's complement nibbles in [-7, 7], layout above
};
static_assert(sizeof(block_q4_g32) == 18);

struct block_q4_g64 {
  static constexpr int kBits = 4, kGroup = 64;
  static constexpr bool kAsym = false;
  uint16_t d;
  uint8_t qs[32];
};
static_assert(sizeof(block_q4_g64) == 34);

struct block_q4_g128 {
  static constexpr int kBits = 4, kGroup = 128;
  static constexpr bool kAsym = false;
  uint16_t d;
  uint8_t qs[64];
};
static_assert(sizeof(block_q4_g128) == 66);

// ---- 4-bit asymmetric ----
struct block_q4_g32_asym {
  static constexpr int kBits = 4, kGroup = 32;
  static constexpr bool kAsym = true;
  uint16_t d, m;   // f16 scale and minimum
  uint8_t qs[16];  // unsigned nibbles in [0, 15], layout above
};
static_assert(sizeof(block_q4_g32_asym) == 20);

struct block_q4_g64_asym {
  static constexpr int kBits = 4, kGroup = 64;
  static constexpr bool kAsym = true;
  uint16_t d, m;
  uint8_t qs[32];
};
static_assert(sizeof(block_q4_g64_asym) == 36);

struct block_q4_g128_asym {
  static constexpr int kBits = 4, kGroup = 128;
  static constexpr bool kAsym = true;
  uint16_t d, m;
  uint8_t qs[64];
};
static_assert(sizeof(block_q4_g128_asym) == 68);

// ---- 3-bit symmetric ----
struct block_q3_g32 {
  static constexpr int kBits = 3, kGroup = 32;
  static constexpr bool kAsym = false;
  uint16_t d;      // f16 scale
  uint8_t qs[12];  // two's complement 3-bit codes in [-3, 3], layout above
};
static_assert(sizeof(block_q3_g32) == 14);

struct block_q3_g64 {
  static constexpr int kBits = 3, kGroup = 64;
  static constexpr bool kAsym = false;
  uint16_t d;
  uint8_t qs[24];
};
static_assert(sizeof(block_q3_g64) == 26);

struct block_q3_g128 {
  static constexpr int kBits = 3, kGroup = 128;
  static constexpr bool kAsym = false;
  uint16_t d;
  uint8_t qs[48];
};
static_assert(sizeof(block_q3_g128) == 50);

// ---- 3-bit asymmetric ----
struct block_q3_g32_asym {
  static constexpr int kBits = 3, kGroup = 32;
  static constexpr bool kAsym = true;
  uint16_t d, m;   // f16 scale and minimum
  uint8_t qs[12];  // unsigned 3-bit codes in [0, 7], layout above
};
static_assert(sizeof(block_q3_g32_asym) == 16);

struct block_q3_g64_asym {
  static constexpr int kBits = 3, kGroup = 64;
  static constexpr bool kAsym = true;
  uint16_t d, m;
  uint8_t qs[24];
};
static_assert(sizeof(block_q3_g64_asym) == 28);

struct block_q3_g128_asym {
  static constexpr int kBits = 3, kGroup = 128;
  static constexpr bool kAsym = true;
  uint16_t d, m;
  uint8_t qs[48];
};
static_assert(sizeof(block_q3_g128_asym) == 52);

// ---- 2-bit symmetric ----
struct block_q2_g32 {
  static constexpr int kBits = 2, kGroup = 32;
  static constexpr bool kAsym = false;
  uint16_t d;     // f16 scale
  uint8_t qs[8];  // two's complement 2-bit codes in [-1, 1], layout above
};
static_assert(sizeof(block_q2_g32) == 10);

struct block_q2_g64 {
  static constexpr int kBits = 2, kGroup = 64;
  static constexpr bool kAsym = false;
  uint16_t d;
  uint8_t qs[16];
};
static_assert(sizeof(block_q2_g64) == 18);

struct block_q2_g128 {
  static constexpr int kBits = 2, kGroup = 128;
  static constexpr bool kAsym = false;
  uint16_t d;
  uint8_t qs[32];
};
static_assert(sizeof(block_q2_g128) == 34);

// ---- 2-bit asymmetric ----
struct block_q2_g32_asym {
  static constexpr int kBits = 2, kGroup = 32;
  static constexpr bool kAsym = true;
  uint16_t d, m;  // f16 scale and minimum
  uint8_t qs[8];  // unsigned 2-bit codes in [0, 3], layout above
};
static_assert(sizeof(block_q2_g32_asym) == 12);

struct block_q2_g64_asym {
  static constexpr int kBits = 2, kGroup = 64;
  static constexpr bool kAsym = true;
  uint16_t d, m;
  uint8_t qs[16];
};
static_assert(sizeof(block_q2_g64_asym) == 20);

struct block_q2_g128_asym {
  static constexpr int kBits = 2, kGroup = 128;
  static constexpr bool kAsym = true;
  uint16_t d, m;
  uint8_t qs[32];
};
static_assert(sizeof(block_q2_g128_asym) == 36);

// Reference row conversions, one pair per format: quantize_row_<name>_ref writes
// RowBytes(format, n) bytes; dequantize_row_<name> writes n floats.
void quantize_row_q8_channel_ref(const float* x, void* y, int64_t n);
void dequantize_row_q8_channel(const void* x, float* y, int64_t n);

void quantize_row_q8_g32_ref(const float* x, void* y, int64_t n);
void dequantize_row_q8_g32(const void* x, float* y, int64_t n);
void quantize_row_q8_g64_ref(const float* x, void* y, int64_t n);
void dequantize_row_q8_g64(const void* x, float* y, int64_t n);
void quantize_row_q8_g128_ref(const float* x, void* y, int64_t n);
void dequantize_row_q8_g128(const void* x, float* y, int64_t n);
void quantize_row_q8_g32_asym_ref(const float* x, void* y, int64_t n);
void dequantize_row_q8_g32_asym(const void* x, float* y, int64_t n);
void quantize_row_q8_g64_asym_ref(const float* x, void* y, int64_t n);
void dequantize_row_q8_g64_asym(const void* x, float* y, int64_t n);
void quantize_row_q8_g128_asym_ref(const float* x, void* y, int64_t n);
void dequantize_row_q8_g128_asym(const void* x, float* y, int64_t n);

void quantize_row_q4_g32_ref(const float* x, void* y, int64_t n);
void dequantize_row_q4_g32(const void* x, float* y, int64_t n);
void quantize_row_q4_g64_ref(const float* x, void* y, int64_t n);
void dequantize_row_q4_g64(const void* x, float* y, int64_t n);
void quantize_row_q4_g128_ref(const float* x, void* y, int64_t n);
void dequantize_row_q4_g128(const void* x, float* y, int64_t n);
void quantize_row_q4_g32_asym_ref(const float* x, void* y, int64_t n);
void dequantize_row_q4_g32_asym(const void* x, float* y, int64_t n);
void quantize_row_q4_g64_asym_ref(const float* x, void* y, int64_t n);
void dequantize_row_q4_g64_asym(const void* x, float* y, int64_t n);
void quantize_row_q4_g128_asym_ref(const float* x, void* y, int64_t n);
void dequantize_row_q4_g128_asym(const void* x, float* y, int64_t n);

void quantize_row_q3_g32_ref(const float* x, void* y, int64_t n);
void dequantize_row_q3_g32(const void* x, float* y, int64_t n);
void quantize_row_q3_g64_ref(const float* x, void* y, int64_t n);
void dequantize_row_q3_g64(const void* x, float* y, int64_t n);
void quantize_row_q3_g128_ref(const float* x, void* y, int64_t n);
void dequantize_row_q3_g128(const void* x, float* y, int64_t n);
void quantize_row_q3_g32_asym_ref(const float* x, void* y, int64_t n);
void dequantize_row_q3_g32_asym(const void* x, float* y, int64_t n);
void quantize_row_q3_g64_asym_ref(const float* x, void* y, int64_t n);
void dequantize_row_q3_g64_asym(const void* x, float* y, int64_t n);
void quantize_row_q3_g128_asym_ref(const float* x, void* y, int64_t n);
void dequantize_row_q3_g128_asym(const void* x, float* y, int64_t n);

void quantize_row_q2_g32_ref(const float* x, void* y, int64_t n);
void dequantize_row_q2_g32(const void* x, float* y, int64_t n);
void quantize_row_q2_g64_ref(const float* x, void* y, int64_t n);
void dequantize_row_q2_g64(const void* x, float* y, int64_t n);
void quantize_row_q2_g128_ref(const float* x, void* y, int64_t n);
void dequantize_row_q2_g128(const void* x, float* y, int64_t n);
void quantize_row_q2_g32_asym_ref(const float* x, void* y, int64_t n);
void dequantize_row_q2_g32_asym(const void* x, float* y, int64_t n);
void quantize_row_q2_g64_asym_ref(const float* x, void* y, int64_t n);
void dequantize_row_q2_g64_asym(const void* x, float* y, int64_t n);
void quantize_row_q2_g128_asym_ref(const float* x, void* y, int64_t n);
void dequantize_row_q2_g128_asym(const void* x, float* y, int64_t n);

}  // namespace squeeze
