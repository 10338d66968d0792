// Internal to the CUDA backend: the per-format gemv launchers behind cuda_gemv (one per weight
// format, named gemv_<format>_cuda) and the scratch layouts of the formats that round the
// activations. Arguments reach a launcher already checked by cuda_gemv (gemv_table.cc).
#pragma once

#include <cstdint>

#include "absl/status/status.h"

namespace squeeze::cuda_internal {

// Launch geometry of every gemv kernel: one warp per output row, this many rows per block.
constexpr int kGemvRowsPerBlock = 8;

struct GemvArgs {
  const uint8_t* w;   // first packed row (rows, row_bytes)
  int64_t row_bytes;  // >= RowBytes(format, cols)
  const float* x;     // (cols)
  float* y;           // (rows)
  int64_t rows, cols;
  void* scratch;  // CudaGemvScratchBytes(format, cols) bytes, 16-byte aligned
  void* stream;   // cudaStream_t
};

// Scratch of the integer formats: x rounded to int8 blocks of 32 (matmul.h), padded with zeros
// to a multiple of 128 values so that every padded weight block meets zero activations.
//   qx   int8[padded]      codes, nearbyint(x * 127 / absmax) per block of 32
//   dx   float[padded/32]  absmax / 127 per block (0 for padding blocks)
//   qsum int32[padded/32]  sum of the block's codes (used by the asymmetric formats)
inline int64_t ActPadded(int64_t cols) {
  return (cols + 127) / 128 * 128;
}
inline int64_t ActScratchBytes(int64_t cols) {
  return ActPadded(cols) + ActPadded(cols) / 32 * 8;
}

// Scratch of w8a8: x quantized as one q8_channel row (matmul.h, kW8A8).
//   qx int8[padded32]  codes, lround(x / sx) clamped to [-127, 127]
//   sx float           absmax / 127 (at byte offset padded32, padded32 a multiple of 32)
inline int64_t W8a8Padded(int64_t cols) {
  return (cols + 31) / 32 * 32;
}
inline int64_t W8a8ScratchBytes(int64_t cols) {
  return W8a8Padded(cols) + 16;
}

// Rounds x (cols) into the integer formats' scratch layout. Used by every integer launcher.
absl::Status QuantizeActivationsBlocks(const float* x, int64_t cols, void* scratch, void* stream);

// Float formats (gemv_float.cu): x used as given, rounded to bf16 / tf32 for those formats.
absl::Status gemv_f32_cuda(const GemvArgs& a);
absl::Status gemv_f16_cuda(const GemvArgs& a);
absl::Status gemv_bf16_cuda(const GemvArgs& a);
absl::Status gemv_tf32_cuda(const GemvArgs& a);
absl::Status gemv_fp8_e4m3_cuda(const GemvArgs& a);
absl::Status gemv_fp8_e5m2_cuda(const GemvArgs& a);
// 4-bit float codes through a 16-entry table (gemv_nf4.cu).
absl::Status gemv_nf4_cuda(const GemvArgs& a);
absl::Status gemv_fp4_cuda(const GemvArgs& a);
// Integer formats (gemv_int.cu): int8 x int8 -> int32 dot products per block of 32 (dp4a).
absl::Status gemv_q8_channel_cuda(const GemvArgs& a);
absl::Status gemv_q8_g32_cuda(const GemvArgs& a);
absl::Status gemv_q8_g64_cuda(const GemvArgs& a);
absl::Status gemv_q8_g128_cuda(const GemvArgs& a);
absl::Status gemv_q8_g32_asym_cuda(const GemvArgs& a);
absl::Status gemv_q8_g64_asym_cuda(const GemvArgs& a);
absl::Status gemv_q8_g128_asym_cuda(const GemvArgs& a);
absl::Status gemv_q4_g32_cuda(const GemvArgs& a);
absl::Status gemv_q4_g64_cuda(const GemvArgs& a);
absl::Status gemv_q4_g128_cuda(const GemvArgs& a);
absl::Status gemv_q4_g32_asym_cuda(const GemvArgs& a);
absl::Status gemv_q4_g64_asym_cuda(const GemvArgs& a);
absl::Status gemv_q4_g128_asym_cuda(const GemvArgs& a);
// W8A8 (gemv_w8a8.cu): per-token int8 activations, exact int32 dot products.
absl::Status gemv_w8a8_cuda(const GemvArgs& a);

}  // namespace squeeze::cuda_internal
