// Weight storage formats: one traits row per format (name, block geometry, to/from float).
// Enum values are explicit and never reused; the same numbers go in the .proto and the database.
// Rows of a matrix are stored one after another, each padded to a whole number of blocks.
#pragma once

#include <cstdint>
#include <string_view>

namespace squeeze {

enum class WeightFormat : uint8_t {
  kF32 = 0,
  kF16 = 1,
  kBF16 = 2,
};
inline constexpr int kWeightFormatCount = 3;

struct FormatTraits {
  const char* name;       // stable lower-case name used by the CLI, sweeps and results ("f32")
  int32_t block_weights;  // weights per block
  int32_t block_bytes;    // bytes per block (scales and zero points included)
  // Converts one row of n weights (n need not be a multiple of block_weights; the tail block
  // is padded) from packed form to float.
  void (*to_float)(const void* src, float* dst, int64_t n);
  // Reference conversion of one row of n floats to packed form (deterministic, round to
  // nearest). Writes RowBytes(format, n) bytes; padding weights are zero.
  void (*from_float_ref)(const float* src, void* dst, int64_t n);
};

// The traits row of a format. `f` must be a valid enum value.
const FormatTraits& GetFormatTraits(WeightFormat f);

// Bytes of one packed row of `cols` weights: ceil(cols / block_weights) * block_bytes.
int64_t RowBytes(WeightFormat f, int64_t cols);

// Looks a format up by its traits name; returns false when no format has that name.
bool FormatFromName(std::string_view name, WeightFormat* out);

}  // namespace squeeze
