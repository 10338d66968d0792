// Packed-format matrix-vector products on the GPU: y = W x where W is stored in one of the
// weight formats of squeeze/kernels/format.h, in exactly the bytes the CPU kernels read (rows
// `row_bytes` apart, each row as the format's reference quantizer wrote it). The kernels decode
// weights in registers inside the dot product: there is no separate dequantize pass. Plain C++
// header (no CUDA types).
//
// Semantics follow the CPU reference kernels (GetMatmulKernelsRef): the integer formats multiply
// by x rounded to int8 blocks of 32 (matmul.h, "Activation rounding"), bf16 by x rounded to
// bf16, tf32 by x rounded to tf32, w8a8 quantizes x per token to int8 and forms exact int32
// dot products. Accumulation is in f32 (the reference uses double).
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "squeeze/kernels/format.h"

namespace squeeze {

// True when cuda_gemv has a kernel for `f`. Today: f32, tf32, f16, bf16, fp8_e4m3, fp8_e5m2,
// q8_channel, q8/q4 per group of 32/64/128 (symmetric and asymmetric), nf4, fp4 and w8a8. Not
// yet: q3/q2 and the N:M sparse formats.
bool CudaGemvSupports(WeightFormat f);

// Bytes of device scratch cuda_gemv needs for inputs of `cols` values (the activations rounded
// to int8 for the integer formats and w8a8); 0 for formats that use x as given. The scratch must
// be 16-byte aligned (cudaMalloc memory is) and must not be shared by launches that run at the
// same time.
int64_t CudaGemvScratchBytes(WeightFormat f, int64_t cols);

// y[r] = sum_c W[r][c] * x[c] for r in [0, rows), on device pointers. `w_dev` points at the first
// row; rows are `row_bytes` apart (at least RowBytes(f, cols)). Writes exactly `rows` floats.
// `scratch_dev` has CudaGemvScratchBytes(f, cols) bytes (may be null when that is 0). `stream`
// is a cudaStream_t (null = the legacy default stream). Queues the work and returns: a non-OK
// status means bad arguments (kInvalidArgument, nothing launched), an unsupported format
// (kUnimplemented) or a launch failure; errors while the kernels run surface from
// CudaSynchronize(). Zero rows is a no-op. x and y must not overlap W or the scratch.
absl::Status cuda_gemv(WeightFormat f, const void* w_dev, int64_t row_bytes, const float* x_dev,
                       float* y_dev, int64_t rows, int64_t cols, void* scratch_dev, void* stream);

}  // namespace squeeze
