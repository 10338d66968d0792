// The quantization grid of an integer weight format (q2/q3/q4/q8, groups of 32/64/128 or
// one scale per row; symmetric or with a zero point) as separate steps: scales of a group
// computed exactly as the format's reference quantizer does, codes for given scales, and
// packing of given scales and codes. GPTQ needs these apart because its codes are chosen
// one column at a time, with scales fixed when a group starts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "squeeze/kernels/format.h"

namespace squeeze {

struct IntGrid {
  WeightFormat format = WeightFormat::kQ4G32;
  int bits = 4;
  int64_t group = 32;  // weights per scale along a row; 0: one scale per row (q8_channel)
  bool asym = false;
  int min_code = -7, max_code = 7;  // symmetric: [-(2^(b-1)-1), 2^(b-1)-1]; asym: [0, 2^b-1]
};

// "q4_g32", "q4_g32_asym", "q8_channel" (group 0): the format name of an integer grid.
std::string IntFormatName(int64_t bits, int64_t group, bool symmetric);

// The grid of an integer format, or an error naming the format when it is not one.
absl::StatusOr<IntGrid> IntGridFor(WeightFormat f);

// One group's scale d and minimum m (m = 0 for symmetric grids), rounded as stored (f16 for
// group formats, f32 for q8_channel); value of code q = d * q + m.
struct GroupScale {
  float d = 0.0f, m = 0.0f;
  uint16_t d_bits = 0, m_bits = 0;  // the stored f16 bit patterns (group formats)
};

// The scale of a group of n weights as the format's reference quantizer computes it
// (symmetric: absmax / max_code; asymmetric: min and (max - min) / max_code).
GroupScale ComputeGroupScale(const IntGrid& g, const float* w, int64_t n);

// The nearest code to w on the grid of `s` (ties away from zero, clamped to the code range),
// as the reference quantizer rounds.
int QuantizeToCode(const IntGrid& g, const GroupScale& s, float w);

// The value a kernel decodes for code q: d * q + m, in float.
inline float CodeValue(const GroupScale& s, int q) {
  return s.d * float(q) + s.m;
}

// The values a row of `cols` weights takes on the grid (scales computed per group from the
// row itself): exactly what the format's reference quantizer packs and the kernels decode.
// Quantization-aware training multiplies by these.
void FakeQuantizeRow(const IntGrid& g, const float* w, float* out, int64_t cols);

// Groups of a row of `cols` weights (1 for q8_channel).
int64_t GroupsPerRow(const IntGrid& g, int64_t cols);

// Packs one row: scales[i] for group i (GroupsPerRow of them), codes[c] for every column.
// Writes RowBytes(g.format, cols) bytes, padding codes zero, as the reference quantizer.
void PackIntRow(const IntGrid& g, const GroupScale* scales, const int* codes, int64_t cols,
                uint8_t* out);

}  // namespace squeeze
