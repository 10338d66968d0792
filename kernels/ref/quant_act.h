// Formats that also transform the inputs (activations) inside the kernel: W8A8 (int8 weights,
// inputs quantized to int8 per token) and TF32 (weights and inputs rounded to a 10-bit
// mantissa). Reference conversions and reference kernels; declarations only, so that the SIMD
// kernel files (compiled for their own instruction set) can include it without ODR hazards.
//
// w8a8: each row is exactly a q8_channel row (f32 scale sw = absmax / 127, then `cols` int8
// codes qw in [-127, 127]). Each input vector x (one token) is quantized the same way, with
// quantize_row_q8_channel_ref: sx = absmax(x) / 127 in f32 (NaN inputs ignored by the absmax),
// qx = round(x / sx) with ties away from zero, clamped to [-127, 127] (0 when sx == 0). Then
//   y = sw * sx * dot,   dot = sum_c qw[c] * qx[c]   (an exact integer)
// computed by the reference as float(double(sw) * double(sx) * double(dot)). Optimized
// kernels compute dot exactly (int32 per chunk of at most 65536 columns, so no overflow) and
// then (sw * sx) * float(dot) in f32: a few ulps from the reference, never more.
//
// tf32: each weight is an f32 whose low 13 mantissa bits are zero: Tf32Round(w). Tf32Round
// rounds an f32 to nearest even at bit 13 (u += 0xfff + ((u >> 13) & 1), then clear the low
// 13 bits), which can carry into the exponent (and overflow to Inf, as any rounding does);
// Inf and NaN are returned unchanged. The kernels compute y = sum_c w[c] * Tf32Round(x[c]),
// the reference in double, optimized kernels in f32.
#pragma once

#include <cstdint>

#include "squeeze/kernels/matmul.h"

namespace squeeze {

// TF32 rounding of one f32 (see above).
float Tf32Round(float x);

// Row conversions of the tf32 format (4 bytes per weight, no header).
void quantize_row_tf32_ref(const float* x, void* y, int64_t n);
void dequantize_row_tf32(const void* x, float* y, int64_t n);

// Reference kernels (the oracles of the SIMD files), with the signatures of MatmulKernels.
void gemv_w8a8_ref(const void* w, int64_t row_bytes, const float* x, float* y, int64_t rows,
                   int64_t cols);
void gemm_w8a8_ref(const void* w, int64_t row_bytes, const float* x, int64_t n, float* y,
                   int64_t ldy, int64_t rows, int64_t cols);
void gemv_tf32_ref(const void* w, int64_t row_bytes, const float* x, float* y, int64_t rows,
                   int64_t cols);
void gemm_tf32_ref(const void* w, int64_t row_bytes, const float* x, int64_t n, float* y,
                   int64_t ldy, int64_t rows, int64_t cols);

}  // namespace squeeze
