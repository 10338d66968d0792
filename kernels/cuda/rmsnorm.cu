// RMSNorm on the GPU, rows of a (n_rows, n) matrix: out = x * w / sqrt(mean(x^2) + eps).
// One block per row; the sum of squares is a block reduction in float (warp shuffles, then one
// float per warp in shared memory). Same operation order as rmsnorm_ref for the output.
#include <cuda_runtime.h>

#include <climits>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "cuda/cuda_backend.h"
#include "cuda/cuda_status.h"

namespace squeeze {
namespace {

constexpr int kWarp = 32;
constexpr int kThreads = 256;

// Sum of v over the block, returned to every thread. blockDim.x == kThreads.
__device__ float block_sum(float v) {
  __shared__ float partial[kThreads / kWarp];
  __shared__ float total;
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
#pragma unroll
  for (int off = kWarp / 2; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < kThreads / kWarp ? partial[lane] : 0.0f;
#pragma unroll
    for (int off = kWarp / 2; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
    if (lane == 0) total = v;
  }
  __syncthreads();
  return total;
}

// grid (n_rows), block (kThreads). x, out (n_rows, n); w (n). out may alias x: each thread
// reads x[i] before writing out[i] for the same i only.
__global__ void __launch_bounds__(kThreads)
    rmsnorm_kernel(float* out, const float* x, const float* __restrict__ w, int64_t n, float eps) {
  const int64_t row = blockIdx.x;
  const float* xr = x + row * n;
  float* outr = out + row * n;
  float ss = 0.0f;
  for (int64_t i = threadIdx.x; i < n; i += kThreads) ss = fmaf(xr[i], xr[i], ss);
  ss = block_sum(ss);
  const float scale = 1.0f / sqrtf(ss / float(n) + eps);
  for (int64_t i = threadIdx.x; i < n; i += kThreads) outr[i] = xr[i] * scale * w[i];
}

}  // namespace

absl::Status cuda_rmsnorm(float* out_dev, const float* x_dev, const float* w_dev, int64_t n_rows,
                          int64_t n, float eps, void* stream) {
  if (n_rows < 0 || n <= 0 || !(eps >= 0.0f)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cuda_rmsnorm: need n_rows >= 0, n > 0, eps >= 0;", " got n_rows=", n_rows,
                     " n=", n, " eps=", eps));
  }
  if (n_rows == 0) return absl::OkStatus();
  if (out_dev == nullptr || x_dev == nullptr || w_dev == nullptr) {
    return absl::InvalidArgumentError("cuda_rmsnorm: null device pointer for out, x or w");
  }
  if (n_rows > INT_MAX) {
    return absl::InvalidArgumentError(absl::StrCat("cuda_rmsnorm: n_rows=", n_rows, " too many"));
  }
  rmsnorm_kernel<<<unsigned(n_rows), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      out_dev, x_dev, w_dev, n, eps);
  return cuda_internal::StatusFromCuda(
      cudaGetLastError(), absl::StrCat("cuda_rmsnorm: launch n_rows=", n_rows, " n=", n));
}

}  // namespace squeeze
