// F32 matrix-vector product y = W x on the GPU (the CUDA row of WeightFormat::kF32 gemv).
// One warp per row, float4 loads on the 16-byte-aligned part of each row with scalar head and
// tail, warp-shuffle reduction in float. Bandwidth-bound: each weight is read once.
#include <cuda_runtime.h>

#include <climits>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "cuda/cuda_backend.h"
#include "cuda/cuda_status.h"

namespace squeeze {
namespace {

constexpr int kWarp = 32;
constexpr int kRowsPerBlock = 8;  // warps per block, one row each
constexpr int kThreadsPerBlock = kWarp * kRowsPerBlock;

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int off = kWarp / 2; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}

__device__ __forceinline__ float dot4(float4 a, float4 b, float acc) {
  acc = fmaf(a.x, b.x, acc);
  acc = fmaf(a.y, b.y, acc);
  acc = fmaf(a.z, b.z, acc);
  return fmaf(a.w, b.w, acc);
}

// block (32, kRowsPerBlock); w (rows, cols) row-major, x (cols), y (rows).
__global__ void __launch_bounds__(kThreadsPerBlock)
    gemv_f32_kernel(const float* __restrict__ w, const float* __restrict__ x, float* __restrict__ y,
                    int64_t rows, int64_t cols) {
  const int lane = threadIdx.x;
  const int64_t r = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.y;
  if (r >= rows) return;  // the whole warp leaves together
  const float* wr = w + r * cols;

  // Rows start anywhere when cols % 4 != 0: peel the floats before the row's first 16-byte
  // boundary (at most 3), then stream float4s, then the scalar tail.
  int64_t head = int64_t((16 - (reinterpret_cast<uintptr_t>(wr) & 15)) & 15) / 4;
  if (head > cols) head = cols;
  float acc = 0.0f;
  if (lane < head) acc = __ldg(wr + lane) * __ldg(x + lane);

  const int64_t n4 = (cols - head) / 4;
  const float4* w4 = reinterpret_cast<const float4*>(wr + head);
  const float* xh = x + head;
  if ((reinterpret_cast<uintptr_t>(xh) & 15) == 0) {  // same for the whole warp
    const float4* x4 = reinterpret_cast<const float4*>(xh);
#pragma unroll 4
    for (int64_t i = lane; i < n4; i += kWarp) acc = dot4(__ldg(w4 + i), __ldg(x4 + i), acc);
  } else {  // x is misaligned relative to this row: vector loads for W only
#pragma unroll 4
    for (int64_t i = lane; i < n4; i += kWarp) {
      const float* xb = xh + 4 * i;
      acc = dot4(__ldg(w4 + i), make_float4(__ldg(xb), __ldg(xb + 1), __ldg(xb + 2), __ldg(xb + 3)),
                 acc);
    }
  }
  for (int64_t c = head + 4 * n4 + lane; c < cols; c += kWarp) acc += __ldg(wr + c) * __ldg(x + c);

  acc = warp_sum(acc);
  if (lane == 0) y[r] = acc;
}

bool FloatAligned(const void* p) {
  return (reinterpret_cast<uintptr_t>(p) & 3) == 0;
}

}  // namespace

absl::Status cuda_gemv_f32(const float* w_dev, const float* x_dev, float* y_dev, int64_t rows,
                           int64_t cols, void* stream) {
  if (rows < 0 || cols < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cuda_gemv_f32: negative shape rows=", rows, " cols=", cols));
  }
  if (rows == 0) return absl::OkStatus();
  if (y_dev == nullptr || (cols > 0 && (w_dev == nullptr || x_dev == nullptr))) {
    return absl::InvalidArgumentError("cuda_gemv_f32: null device pointer for W, x or y");
  }
  if (!FloatAligned(w_dev) || !FloatAligned(x_dev) || !FloatAligned(y_dev)) {
    return absl::InvalidArgumentError("cuda_gemv_f32: W, x and y must be 4-byte aligned");
  }
  const int64_t blocks = (rows + kRowsPerBlock - 1) / kRowsPerBlock;
  if (blocks > INT_MAX) {
    return absl::InvalidArgumentError(absl::StrCat("cuda_gemv_f32: rows=", rows, " too many"));
  }
  gemv_f32_kernel<<<unsigned(blocks), dim3(kWarp, kRowsPerBlock), 0,
                    static_cast<cudaStream_t>(stream)>>>(w_dev, x_dev, y_dev, rows, cols);
  return cuda_internal::StatusFromCuda(
      cudaGetLastError(), absl::StrCat("cuda_gemv_f32: launch rows=", rows, " cols=", cols));
}

}  // namespace squeeze
