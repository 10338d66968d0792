// Traits table of the weight formats and their reference row conversions.
#include <cstring>
#include <string_view>

#include "ref/quant_act.h"
#include "ref/quant_float.h"
#include "ref/quant_int.h"
#include "ref/quant_sparse.h"
#include "squeeze/kernels/format.h"
#include "squeeze/kernels/fp16.h"

namespace squeeze {
namespace {

void f32_to_float(const void* src, float* dst, int64_t n) {
  std::memcpy(dst, src, n * 4);
}
void f32_from_float_ref(const float* src, void* dst, int64_t n) {
  std::memcpy(dst, src, n * 4);
}

void f16_to_float(const void* src, float* dst, int64_t n) {
  const uint16_t* s = static_cast<const uint16_t*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(s[i]);
}
void f16_from_float_ref(const float* src, void* dst, int64_t n) {
  uint16_t* d = static_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) d[i] = fp32_to_fp16(src[i]);
}

void bf16_to_float(const void* src, float* dst, int64_t n) {
  const uint16_t* s = static_cast<const uint16_t*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(s[i]);
}
void bf16_from_float_ref(const float* src, void* dst, int64_t n) {
  uint16_t* d = static_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) d[i] = fp32_to_bf16(src[i]);
}

// Indexed by WeightFormat value: name, block weights, block bytes, row header bytes, ...
// clang-format off
const FormatTraits kTraits[kWeightFormatCount] = {
    /* kF32         */ {"f32", 1, 4, 0, f32_to_float, f32_from_float_ref},
    /* kF16         */ {"f16", 1, 2, 0, f16_to_float, f16_from_float_ref},
    /* kBF16        */ {"bf16", 1, 2, 0, bf16_to_float, bf16_from_float_ref},
    /* kQ8Channel   */ {"q8_channel", 1, 1, 4, dequantize_row_q8_channel, quantize_row_q8_channel_ref},
    /* kQ8G32       */ {"q8_g32", 32, sizeof(block_q8_g32), 0, dequantize_row_q8_g32, quantize_row_q8_g32_ref},
    /* kQ8G64       */ {"q8_g64", 64, sizeof(block_q8_g64), 0, dequantize_row_q8_g64, quantize_row_q8_g64_ref},
    /* kQ8G128      */ {"q8_g128", 128, sizeof(block_q8_g128), 0, dequantize_row_q8_g128, quantize_row_q8_g128_ref},
    /* kQ8G32Asym   */ {"q8_g32_asym", 32, sizeof(block_q8_g32_asym), 0, dequantize_row_q8_g32_asym, quantize_row_q8_g32_asym_ref},
    /* kQ8G64Asym   */ {"q8_g64_asym", 64, sizeof(block_q8_g64_asym), 0, dequantize_row_q8_g64_asym, quantize_row_q8_g64_asym_ref},
    /* kQ8G128Asym  */ {"q8_g128_asym", 128, sizeof(block_q8_g128_asym), 0, dequantize_row_q8_g128_asym, quantize_row_q8_g128_asym_ref},
    /* kQ4G32       */ {"q4_g32", 32, sizeof(block_q4_g32), 0, dequantize_row_q4_g32, quantize_row_q4_g32_ref},
    /* kQ4G64       */ {"q4_g64", 64, sizeof(block_q4_g64), 0, dequantize_row_q4_g64, quantize_row_q4_g64_ref},
    /* kQ4G128      */ {"q4_g128", 128, sizeof(block_q4_g128), 0, dequantize_row_q4_g128, quantize_row_q4_g128_ref},
    /* kQ4G32Asym   */ {"q4_g32_asym", 32, sizeof(block_q4_g32_asym), 0, dequantize_row_q4_g32_asym, quantize_row_q4_g32_asym_ref},
    /* kQ4G64Asym   */ {"q4_g64_asym", 64, sizeof(block_q4_g64_asym), 0, dequantize_row_q4_g64_asym, quantize_row_q4_g64_asym_ref},
    /* kQ4G128Asym  */ {"q4_g128_asym", 128, sizeof(block_q4_g128_asym), 0, dequantize_row_q4_g128_asym, quantize_row_q4_g128_asym_ref},
    /* kNf4         */ {"nf4", 64, sizeof(block_nf4), 0, dequantize_row_nf4, quantize_row_nf4_ref},
    /* kFp4         */ {"fp4", 64, sizeof(block_fp4), 0, dequantize_row_fp4, quantize_row_fp4_ref},
    /* kFp8E4M3     */ {"fp8_e4m3", 1, 1, 4, dequantize_row_fp8_e4m3, quantize_row_fp8_e4m3_ref},
    /* kFp8E5M2     */ {"fp8_e5m2", 1, 1, 4, dequantize_row_fp8_e5m2, quantize_row_fp8_e5m2_ref},
    /* kQ3G32       */ {"q3_g32", 32, sizeof(block_q3_g32), 0, dequantize_row_q3_g32, quantize_row_q3_g32_ref},
    /* kQ3G64       */ {"q3_g64", 64, sizeof(block_q3_g64), 0, dequantize_row_q3_g64, quantize_row_q3_g64_ref},
    /* kQ3G128      */ {"q3_g128", 128, sizeof(block_q3_g128), 0, dequantize_row_q3_g128, quantize_row_q3_g128_ref},
    /* kQ3G32Asym   */ {"q3_g32_asym", 32, sizeof(block_q3_g32_asym), 0, dequantize_row_q3_g32_asym, quantize_row_q3_g32_asym_ref},
    /* kQ3G64Asym   */ {"q3_g64_asym", 64, sizeof(block_q3_g64_asym), 0, dequantize_row_q3_g64_asym, quantize_row_q3_g64_asym_ref},
    /* kQ3G128Asym  */ {"q3_g128_asym", 128, sizeof(block_q3_g128_asym), 0, dequantize_row_q3_g128_asym, quantize_row_q3_g128_asym_ref},
    /* kQ2G32       */ {"q2_g32", 32, sizeof(block_q2_g32), 0, dequantize_row_q2_g32, quantize_row_q2_g32_ref},
    /* kQ2G64       */ {"q2_g64", 64, sizeof(block_q2_g64), 0, dequantize_row_q2_g64, quantize_row_q2_g64_ref},
    /* kQ2G128      */ {"q2_g128", 128, sizeof(block_q2_g128), 0, dequantize_row_q2_g128, quantize_row_q2_g128_ref},
    /* kQ2G32Asym   */ {"q2_g32_asym", 32, sizeof(block_q2_g32_asym), 0, dequantize_row_q2_g32_asym, quantize_row_q2_g32_asym_ref},
    /* kQ2G64Asym   */ {"q2_g64_asym", 64, sizeof(block_q2_g64_asym), 0, dequantize_row_q2_g64_asym, quantize_row_q2_g64_asym_ref},
    /* kQ2G128Asym  */ {"q2_g128_asym", 128, sizeof(block_q2_g128_asym), 0, dequantize_row_q2_g128_asym, quantize_row_q2_g128_asym_ref},
    /* kW8A8        */ {"w8a8", 1, 1, 4, dequantize_row_q8_channel, quantize_row_q8_channel_ref},
    /* kTf32        */ {"tf32", 1, 4, 0, dequantize_row_tf32, quantize_row_tf32_ref},
    /* kSp24F32     */ {"sp24_f32", 32, sizeof(block_sp24_f32), 0, dequantize_row_sp24_f32, quantize_row_sp24_f32_ref},
    /* kSp24F16     */ {"sp24_f16", 32, sizeof(block_sp24_f16), 0, dequantize_row_sp24_f16, quantize_row_sp24_f16_ref},
    /* kSp48F32     */ {"sp48_f32", 32, sizeof(block_sp48_f32), 0, dequantize_row_sp48_f32, quantize_row_sp48_f32_ref},
    /* kSp48F16     */ {"sp48_f16", 32, sizeof(block_sp48_f16), 0, dequantize_row_sp48_f16, quantize_row_sp48_f16_ref},
};
// clang-format on

}  // namespace

const FormatTraits& GetFormatTraits(WeightFormat f) {
  return kTraits[static_cast<int>(f)];
}

int64_t RowBytes(WeightFormat f, int64_t cols) {
  const FormatTraits& t = GetFormatTraits(f);
  return t.row_header_bytes + (cols + t.block_weights - 1) / t.block_weights * t.block_bytes;
}

bool FormatFromName(std::string_view name, WeightFormat* out) {
  for (int i = 0; i < kWeightFormatCount; ++i) {
    if (name == kTraits[i].name) {
      *out = static_cast<WeightFormat>(i);
      return true;
    }
  }
  return false;
}

}  // namespace squeeze
