// GPU gemv for W8A8 (the CUDA row of kW8A8; semantics in ref/quant_act.h): x is quantized once
// per call like a q8_channel row (one block reduces absmax, then codes lround(x / sx) clamped to
// [-127, 127], into the scratch); then one warp per weight row forms the exact integer dot
// product with dp4a (int32 per lane, int64 across the warp) and writes (sw * sx) * dot in f32.
#include <cuda_runtime.h>

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "cuda/cuda_status.h"
#include "cuda/gemv_common.cuh"
#include "cuda/gemv_launch.h"

namespace squeeze::cuda_internal {
namespace {

constexpr int kQuantThreads = 1024;

// grid (1), block (kQuantThreads). qx (padded, zeros past cols), sx (1).
__global__ void __launch_bounds__(kQuantThreads)
    quantize_token_kernel(const float* __restrict__ x, int64_t cols, int64_t padded,
                          int8_t* __restrict__ qx, float* __restrict__ sx) {
  __shared__ float partial[kQuantThreads / kWarp];
  float amax = 0.0f;  // fmaxf ignores NaN, as std::max(amax, NaN) does in the reference
  for (int64_t c = threadIdx.x; c < cols; c += kQuantThreads) amax = fmaxf(amax, fabsf(x[c]));
  amax = warp_max_f(amax);
  if (threadIdx.x % kWarp == 0) partial[threadIdx.x / kWarp] = amax;
  __syncthreads();
  amax = 0.0f;
#pragma unroll
  for (int i = 0; i < kQuantThreads / kWarp; ++i) amax = fmaxf(amax, partial[i]);
  const float s = amax / 127.0f;
  for (int64_t c = threadIdx.x; c < padded; c += kQuantThreads) {
    int q = 0;
    if (c < cols && s != 0.0f) {
      // RoundClamp: fmax(NaN, lo) == lo, then ties away from zero.
      const float t = fminf(fmaxf(__fdiv_rn(x[c], s), -127.0f), 127.0f);
      q = int(roundf(t));
    }
    qx[c] = int8_t(q);
  }
  if (threadIdx.x == 0) *sx = s;
}

// block (32, kGemvRowsPerBlock); w (rows, row_bytes) q8_channel rows; y (rows).
__global__ void __launch_bounds__(kGemvThreads)
    gemv_w8a8_kernel(const uint8_t* __restrict__ w, int64_t row_bytes,
                     const int8_t* __restrict__ qx, const float* __restrict__ sx,
                     float* __restrict__ y, int64_t rows, int64_t cols) {
  const int lane = threadIdx.x;
  const int64_t r = int64_t(blockIdx.x) * kGemvRowsPerBlock + threadIdx.y;
  if (r >= rows) return;
  const uint8_t* row = w + r * row_bytes;
  const uint8_t* codes = row + 4;
  const bool vec = (reinterpret_cast<uintptr_t>(codes) & 3) == 0;
  const int64_t nfull = cols / 32;
  int isum = 0;  // at most 16129 * cols / 32 per lane: exact for cols <= 2^22 (checked)
  for (int64_t u = lane; u < nfull; u += kWarp) isum += dot32_i8(codes, u, vec, qx);
  if (lane == 0) isum += dot_tail_i8(codes, 32 * nfull, cols, qx);
  const long long dot = warp_sum_ll(isum);
  if (lane == 0) y[r] = (load_f32_a1(row) * *sx) * float(dot);
}

}  // namespace

absl::Status gemv_w8a8_cuda(const GemvArgs& a) {
  if (a.cols > (int64_t{1} << 22)) {
    return absl::InvalidArgumentError(
        absl::StrCat("gemv_w8a8_cuda: cols=", a.cols, " above 2^22 (int32 lane sums)"));
  }
  const int64_t padded = W8a8Padded(a.cols);
  int8_t* qx = static_cast<int8_t*>(a.scratch);
  float* sx = reinterpret_cast<float*>(static_cast<char*>(a.scratch) + padded);
  cudaStream_t stream = static_cast<cudaStream_t>(a.stream);
  quantize_token_kernel<<<1, kQuantThreads, 0, stream>>>(a.x, a.cols, padded, qx, sx);
  if (absl::Status s = StatusFromCuda(cudaGetLastError(), "quantize_token_kernel: launch");
      !s.ok()) {
    return s;
  }
  const int64_t blocks = (a.rows + kGemvRowsPerBlock - 1) / kGemvRowsPerBlock;
  gemv_w8a8_kernel<<<unsigned(blocks), dim3(kWarp, kGemvRowsPerBlock), 0, stream>>>(
      a.w, a.row_bytes, qx, sx, a.y, a.rows, a.cols);
  return StatusFromCuda(cudaGetLastError(),
                        absl::StrCat("gemv_w8a8_cuda: launch rows=", a.rows, " cols=", a.cols));
}

}  // namespace squeeze::cuda_internal
