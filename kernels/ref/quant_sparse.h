// N:M sparse weight formats (2:4 and 4:8): block structs and the reference row quantize /
// dequantize. Plain data and declarations only, so that the SIMD kernel files (compiled for
// their own instruction set) can include it without ODR hazards.
//
// A row is ceil(cols / 32) blocks of 32 weights. In each group of M consecutive weights of a
// block (M = 4 for 2:4, 8 for 4:8) only N = M / 2 are kept: a block stores its 16 kept values
// (f32 or f16) and, for kept value j (0..15, in column order), its position p_j in [0, M)
// within group j / N, packed as bits [b * j, b * j + b) of a little-endian index field
// (b = 2 for 2:4, 3 for 4:8). Column of kept value j: 32 * block + M * (j / N) + p_j. The
// others are zero. Half the weights of every group are zero by construction, so a 2:4 f32
// row takes 68 bytes per 32 weights instead of 128 (f16: 36 instead of 64).
//
// The reference quantizer keeps, in each group, the N weights of largest magnitude (ties go to
// the lower column) and stores them exactly (f32) or rounded to nearest even (f16). A matrix
// pruned to the pattern before (nm_sparse) therefore keeps exactly its non-zero weights.
// Padding weights of a last partial block are zero.
#pragma once

#include <cstdint>

namespace squeeze {

struct block_sp24_f32 {
  static constexpr int kN = 2, kM = 4, kIndexBits = 2;
  uint32_t idx;  // 16 x 2 bits
  float v[16];
};
static_assert(sizeof(block_sp24_f32) == 68);

struct block_sp24_f16 {
  static constexpr int kN = 2, kM = 4, kIndexBits = 2;
  uint32_t idx;
  uint16_t v[16];
};
static_assert(sizeof(block_sp24_f16) == 36);

struct block_sp48_f32 {
  static constexpr int kN = 4, kM = 8, kIndexBits = 3;
  uint8_t idx[8];  // 16 x 3 bits in the first 6 bytes; bytes 6-7 are zero
  float v[16];
};
static_assert(sizeof(block_sp48_f32) == 72);

struct block_sp48_f16 {
  static constexpr int kN = 4, kM = 8, kIndexBits = 3;
  uint8_t idx[8];  // 16 x 3 bits in the first 6 bytes; bytes 6-7 are zero
  uint16_t v[16];
};
static_assert(sizeof(block_sp48_f16) == 40);

// Reference row conversions: quantize_row_<name>_ref writes RowBytes(format, n) bytes;
// dequantize_row_<name> writes n floats.
void quantize_row_sp24_f32_ref(const float* x, void* y, int64_t n);
void dequantize_row_sp24_f32(const void* x, float* y, int64_t n);
void quantize_row_sp24_f16_ref(const float* x, void* y, int64_t n);
void dequantize_row_sp24_f16(const void* x, float* y, int64_t n);
void quantize_row_sp48_f32_ref(const float* x, void* y, int64_t n);
void dequantize_row_sp48_f32(const void* x, float* y, int64_t n);
void quantize_row_sp48_f16_ref(const float* x, void* y, int64_t n);
void dequantize_row_sp48_f16(const void* x, float* y, int64_t n);

// Position of kept value j (0..15) within its group, from a block's index field.
inline int SparseIndex(const uint8_t* idx, int bits, int j) {
  const int bit = bits * j;
  const unsigned two = unsigned(idx[bit / 8]) | (unsigned(idx[bit / 8 + 1]) << 8);
  return int(two >> (bit % 8)) & ((1 << bits) - 1);
}

}  // namespace squeeze
