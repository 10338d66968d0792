// Weight storage formats: one traits row per format (name, block geometry, to/from float).
// Enum values are explicit and never reused; the same numbers go in the .proto and the database.
// Rows of a matrix are stored one after another: an optional per-row header (e.g. a scale),
// then the weights padded to a whole number of blocks.
#pragma once

#include <cstdint>
#include <string_view>

namespace squeeze {

enum class WeightFormat : uint8_t {
  kF32 = 0,
  kF16 = 1,
  kBF16 = 2,
  // Integer formats (block structs and reference conversions in kernels/ref/quant_int.h).
  // Symmetric codes use q in [-(2^(b-1)-1), 2^(b-1)-1] (no -2^(b-1)); value = d * q.
  // Asymmetric codes use q in [0, 2^b - 1]; value = d * q + m.
  // The matrix kernels of all integer formats (these and q3/q2 below) multiply by the inputs
  // rounded to int8 blocks of 32 (matmul.h, "Activation rounding").
  kQ8Channel = 3,  // per output row: f32 scale, then int8 codes
  kQ8G32 = 4,      // per 32 weights: f16 d, 32 int8
  kQ8G64 = 5,
  kQ8G128 = 6,
  kQ8G32Asym = 7,  // per 32 weights: f16 d, f16 m, 32 uint8
  kQ8G64Asym = 8,
  kQ8G128Asym = 9,
  kQ4G32 = 10,  // per 32 weights: f16 d, 16 bytes of signed 4-bit codes
  kQ4G64 = 11,
  kQ4G128 = 12,
  kQ4G32Asym = 13,  // per 32 weights: f16 d, f16 m, 16 bytes of unsigned 4-bit codes
  kQ4G64Asym = 14,
  kQ4G128Asym = 15,
  // Low-bit float formats (block structs, code tables and reference conversions in
  // kernels/ref/quant_float.h).
  kNf4 = 16,      // per 64 weights: f16 absmax, 32 bytes of NormalFloat4 codes (bitsandbytes)
  kFp4 = 17,      // per 64 weights: f16 absmax, 32 bytes of E2M1 codes (value / 6 * absmax)
  kFp8E4M3 = 18,  // per output row: f32 scale (absmax / 448), then one E4M3 byte per weight
  kFp8E5M2 = 19,  // per output row: f32 scale (absmax / 57344), then one E5M2 byte per weight
  // Low-bit integer formats (kernels/ref/quant_int.h): symmetric 3-bit codes in [-3, 3] and
  // 2-bit codes in [-1, 1]; asymmetric ones in [0, 7] and [0, 3].
  kQ3G32 = 20,  // per 32 weights: f16 d, 12 bytes of signed 3-bit codes
  kQ3G64 = 21,
  kQ3G128 = 22,
  kQ3G32Asym = 23,  // per 32 weights: f16 d, f16 m, 12 bytes of unsigned 3-bit codes
  kQ3G64Asym = 24,
  kQ3G128Asym = 25,
  kQ2G32 = 26,  // per 32 weights: f16 d, 8 bytes of signed 2-bit codes
  kQ2G64 = 27,
  kQ2G128 = 28,
  kQ2G32Asym = 29,  // per 32 weights: f16 d, f16 m, 8 bytes of unsigned 2-bit codes
  kQ2G64Asym = 30,
  kQ2G128Asym = 31,
  // W8A8: weights as kQ8Channel (per output row: f32 scale, then int8 codes in [-127, 127]);
  // the kernels quantize each input vector (token) to int8 on the fly with its own scale
  // absmax / 127 and compute int8 x int8 -> int32 dot products (VNNI where present).
  // The row bytes are exactly kQ8Channel's (no extra header). Each token x is quantized like a
  // q8_channel row (sx = absmax / 127, qx = round(x / sx) ties away from zero, clamped to
  // [-127, 127]); y = sw * sx * sum(qw * qx), the integer sum exact (kernels/ref/quant_act.h).
  kW8A8 = 32,
  // TF32 emulation: f32 storage of weights rounded to a 10-bit mantissa; the kernels round
  // the inputs the same way and accumulate in f32 (what tensor cores do in TF32 mode).
  // Rounding is to nearest even on the low 13 mantissa bits; Inf and NaN pass unchanged.
  kTf32 = 33,
  // N:M sparse (kernels/ref/quant_sparse.h): per 32 weights the 16 kept ones (2 of every 4, or
  // 4 of every 8) and their positions; the others are zero.
  kSp24F32 = 34,  // 2:4, f32 values (68 bytes per 32 weights)
  kSp24F16 = 35,  // 2:4, f16 values (36 bytes)
  kSp48F32 = 36,  // 4:8, f32 values (72 bytes)
  kSp48F16 = 37,  // 4:8, f16 values (40 bytes)
};
inline constexpr int kWeightFormatCount = 38;

struct FormatTraits {
  const char* name;          // stable lower-case name used by the CLI, sweeps and results ("f32")
  int32_t block_weights;     // weights per block
  int32_t block_bytes;       // bytes per block (scales and zero points included)
  int32_t row_header_bytes;  // bytes before the first block of each row (per-row scale), or 0
  // Converts one row of n weights (n need not be a multiple of block_weights; the tail block
  // is padded) from packed form to float.
  void (*to_float)(const void* src, float* dst, int64_t n);
  // Reference conversion of one row of n floats to packed form (deterministic, round to
  // nearest). Writes RowBytes(format, n) bytes; padding weights are zero.
  void (*from_float_ref)(const float* src, void* dst, int64_t n);
};

// The traits row of a format. `f` must be a valid enum value.
const FormatTraits& GetFormatTraits(WeightFormat f);

// Bytes of one packed row of `cols` weights:
// row_header_bytes + ceil(cols / block_weights) * block_bytes.
int64_t RowBytes(WeightFormat f, int64_t cols);

// Looks a format up by its traits name; returns false when no format has that name.
bool FormatFromName(std::string_view name, WeightFormat* out);

}  // namespace squeeze
