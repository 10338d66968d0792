// GPU gemv for the integer weight formats: q8_channel and q8/q4 per group of 32/64/128,
// symmetric and asymmetric (the CUDA rows of those formats; layouts in ref/quant_int.h). As the
// CPU kernels do (matmul.h, "Activation rounding"), x is first rounded to int8 blocks of 32 in a
// small pass over x only (quantize_act_blocks_kernel, into the scratch); the weights are then
// read once and decoded in registers: each lane takes one 32-weight unit at a time, unpacks its
// codes to int8 lanes and forms int8 x int8 -> int32 sums with dp4a, scaled per unit by
// d * dx (symmetric) or dx * (d * sum + m * sum(qx)) (asymmetric: value = d * q + m).
#include <cuda_runtime.h>

#include <climits>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "cuda/cuda_status.h"
#include "cuda/gemv_common.cuh"
#include "cuda/gemv_launch.h"
#include "ref/quant_int.h"

namespace squeeze::cuda_internal {
namespace {

// grid (ceil(nsub / 8)), block (32, 8): one warp per block of 32 values of x; nsub covers the
// zero padding too. d = absmax / 127 and q = nearbyint(x * (127 / absmax)) in f32, as the
// reference (round half to even; absmax ignores NaN like std::max).
__global__ void __launch_bounds__(kGemvThreads)
    quantize_act_blocks_kernel(const float* __restrict__ x, int64_t cols, int8_t* __restrict__ qx,
                               float* __restrict__ dx, int* __restrict__ qsum, int64_t nsub) {
  const int lane = threadIdx.x;
  const int64_t s = int64_t(blockIdx.x) * kGemvRowsPerBlock + threadIdx.y;
  if (s >= nsub) return;
  const int64_t c = s * kWarp + lane;
  const float v = c < cols ? x[c] : 0.0f;
  const float amax = warp_max_f(fabsf(v));
  const float d = amax / 127.0f, id = amax > 0.0f ? 127.0f / amax : 0.0f;
  const int q = __float2int_rn(__fmul_rn(v, id));
  qx[c] = int8_t(q);
  int sum = q;
#pragma unroll
  for (int off = kWarp / 2; off > 0; off >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, off);
  if (lane == 0) {
    dx[s] = d;
    qsum[s] = sum;
  }
}

// Sum over one 32-weight unit of a group block: codes (kBits * 4 bytes, 2-byte aligned) times
// the activation codes xs (8 words of 4 int8).
template <class B>
__device__ __forceinline__ int unit_dot(const uint8_t* q, const int* xs) {
  int isum = 0;
  if constexpr (B::kBits == 8) {
#pragma unroll
    for (int k = 0; k < 8; ++k) {
      uint32_t v = load_u32_a2(q + 4 * k);
      if constexpr (B::kAsym) v ^= 0x80808080u;  // unsigned q as q - 128 (added back later)
      isum = __dp4a(int(v), xs[k], isum);
    }
  } else {
    static_assert(B::kBits == 4);
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const uint32_t v = load_u32_a2(q + 4 * k);
      uint32_t lo = v & 0x0f0f0f0fu, hi = (v >> 4) & 0x0f0f0f0fu;  // weights 4k.., 16 + 4k..
      if constexpr (!B::kAsym) {  // two's complement nibbles: (n ^ 8) - 8 per byte
        lo = __vsub4(lo ^ 0x08080808u, 0x08080808u);
        hi = __vsub4(hi ^ 0x08080808u, 0x08080808u);
      }
      isum = __dp4a(int(lo), xs[k], isum);
      isum = __dp4a(int(hi), xs[4 + k], isum);
    }
  }
  return isum;
}

// block (32, kGemvRowsPerBlock); w (rows, row_bytes) of B blocks; nunits = blocks per row * G/32.
template <class B>
__global__ void __launch_bounds__(kGemvThreads)
    gemv_qgroup_kernel(const uint8_t* __restrict__ w, int64_t row_bytes,
                       const int8_t* __restrict__ qx, const float* __restrict__ dx,
                       const int* __restrict__ qsum, float* __restrict__ y, int64_t rows,
                       int64_t nunits) {
  constexpr int kSub = B::kGroup / 32;       // units per block
  constexpr int kHeader = B::kAsym ? 4 : 2;  // f16 d (and f16 m)
  constexpr int kUnitBytes = B::kBits * 32 / 8;
  const int lane = threadIdx.x;
  const int64_t r = int64_t(blockIdx.x) * kGemvRowsPerBlock + threadIdx.y;
  if (r >= rows) return;
  const uint8_t* row = w + r * row_bytes;
  float acc = 0.0f;
  for (int64_t u = lane; u < nunits; u += kWarp) {
    const uint8_t* blk = row + (u / kSub) * int64_t(sizeof(B));
    const uint8_t* q = blk + kHeader + (u % kSub) * kUnitBytes;
    const int4* xa = reinterpret_cast<const int4*>(qx + 32 * u);
    const int4 x0 = xa[0], x1 = xa[1];
    const int xs[8] = {x0.x, x0.y, x0.z, x0.w, x1.x, x1.y, x1.z, x1.w};
    int isum = unit_dot<B>(q, xs);
    const float d = f16_bits_to_f32(load_u16(blk));
    if constexpr (B::kAsym) {
      const int qs = qsum[u];
      if constexpr (B::kBits == 8) isum += 128 * qs;
      const float m = f16_bits_to_f32(load_u16(blk + 2));
      acc = fmaf(dx[u], fmaf(d, float(isum), m * float(qs)), acc);
    } else {
      acc = fmaf(dx[u] * d, float(isum), acc);
    }
  }
  acc = warp_sum_f(acc);
  if (lane == 0) y[r] = acc;
}

// q8_channel: row = f32 scale s (any alignment), then cols int8 codes (no padding).
__global__ void __launch_bounds__(kGemvThreads)
    gemv_q8_channel_kernel(const uint8_t* __restrict__ w, int64_t row_bytes,
                           const int8_t* __restrict__ qx, const float* __restrict__ dx,
                           float* __restrict__ y, int64_t rows, int64_t cols) {
  const int lane = threadIdx.x;
  const int64_t r = int64_t(blockIdx.x) * kGemvRowsPerBlock + threadIdx.y;
  if (r >= rows) return;
  const uint8_t* row = w + r * row_bytes;
  const uint8_t* codes = row + 4;
  const bool vec = (reinterpret_cast<uintptr_t>(codes) & 3) == 0;
  const int64_t nfull = cols / 32;
  float acc = 0.0f;
  for (int64_t u = lane; u < nfull; u += kWarp) {
    acc = fmaf(dx[u], float(dot32_i8(codes, u, vec, qx)), acc);
  }
  if (lane == 0 && 32 * nfull < cols) {
    acc = fmaf(dx[nfull], float(dot_tail_i8(codes, 32 * nfull, cols, qx)), acc);
  }
  acc = warp_sum_f(acc);
  if (lane == 0) y[r] = acc * load_f32_a1(row);
}

struct ActScratch {
  int8_t* qx;
  float* dx;
  int* qsum;
};

ActScratch SplitScratch(void* scratch, int64_t cols) {
  const int64_t padded = ActPadded(cols);
  char* base = static_cast<char*>(scratch);
  return {reinterpret_cast<int8_t*>(base), reinterpret_cast<float*>(base + padded),
          reinterpret_cast<int*>(base + padded + padded / 32 * 4)};
}

unsigned GridFor(int64_t n) {
  return unsigned((n + kGemvRowsPerBlock - 1) / kGemvRowsPerBlock);
}

template <class B>
absl::Status LaunchGroup(const GemvArgs& a, const char* name) {
  if (absl::Status s = QuantizeActivationsBlocks(a.x, a.cols, a.scratch, a.stream); !s.ok()) {
    return s;
  }
  const ActScratch s = SplitScratch(a.scratch, a.cols);
  const int64_t nunits = (a.cols + B::kGroup - 1) / B::kGroup * (B::kGroup / 32);
  gemv_qgroup_kernel<B>
      <<<GridFor(a.rows), dim3(kWarp, kGemvRowsPerBlock), 0, static_cast<cudaStream_t>(a.stream)>>>(
          a.w, a.row_bytes, s.qx, s.dx, s.qsum, a.y, a.rows, nunits);
  return StatusFromCuda(cudaGetLastError(),
                        absl::StrCat(name, ": launch rows=", a.rows, " cols=", a.cols));
}

}  // namespace

absl::Status QuantizeActivationsBlocks(const float* x, int64_t cols, void* scratch, void* stream) {
  const ActScratch s = SplitScratch(scratch, cols);
  const int64_t nsub = ActPadded(cols) / 32;
  quantize_act_blocks_kernel<<<GridFor(nsub), dim3(kWarp, kGemvRowsPerBlock), 0,
                               static_cast<cudaStream_t>(stream)>>>(x, cols, s.qx, s.dx, s.qsum,
                                                                    nsub);
  return StatusFromCuda(cudaGetLastError(),
                        absl::StrCat("quantize_act_blocks_kernel: launch cols=", cols));
}

absl::Status gemv_q8_channel_cuda(const GemvArgs& a) {
  if (absl::Status s = QuantizeActivationsBlocks(a.x, a.cols, a.scratch, a.stream); !s.ok()) {
    return s;
  }
  const ActScratch s = SplitScratch(a.scratch, a.cols);
  gemv_q8_channel_kernel<<<GridFor(a.rows), dim3(kWarp, kGemvRowsPerBlock), 0,
                           static_cast<cudaStream_t>(a.stream)>>>(a.w, a.row_bytes, s.qx, s.dx, a.y,
                                                                  a.rows, a.cols);
  return StatusFromCuda(
      cudaGetLastError(),
      absl::StrCat("gemv_q8_channel_cuda: launch rows=", a.rows, " cols=", a.cols));
}

// clang-format off
absl::Status gemv_q8_g32_cuda(const GemvArgs& a) { return LaunchGroup<block_q8_g32>(a, "gemv_q8_g32_cuda"); }
absl::Status gemv_q8_g64_cuda(const GemvArgs& a) { return LaunchGroup<block_q8_g64>(a, "gemv_q8_g64_cuda"); }
absl::Status gemv_q8_g128_cuda(const GemvArgs& a) { return LaunchGroup<block_q8_g128>(a, "gemv_q8_g128_cuda"); }
absl::Status gemv_q8_g32_asym_cuda(const GemvArgs& a) { return LaunchGroup<block_q8_g32_asym>(a, "gemv_q8_g32_asym_cuda"); }
absl::Status gemv_q8_g64_asym_cuda(const GemvArgs& a) { return LaunchGroup<block_q8_g64_asym>(a, "gemv_q8_g64_asym_cuda"); }
absl::Status gemv_q8_g128_asym_cuda(const GemvArgs& a) { return LaunchGroup<block_q8_g128_asym>(a, "gemv_q8_g128_asym_cuda"); }
absl::Status gemv_q4_g32_cuda(const GemvArgs& a) { return LaunchGroup<block_q4_g32>(a, "gemv_q4_g32_cuda"); }
absl::Status gemv_q4_g64_cuda(const GemvArgs& a) { return LaunchGroup<block_q4_g64>(a, "gemv_q4_g64_cuda"); }
absl::Status gemv_q4_g128_cuda(const GemvArgs& a) { return LaunchGroup<block_q4_g128>(a, "gemv_q4_g128_cuda"); }
absl::Status gemv_q4_g32_asym_cuda(const GemvArgs& a) { return LaunchGroup<block_q4_g32_asym>(a, "gemv_q4_g32_asym_cuda"); }
absl::Status gemv_q4_g64_asym_cuda(const GemvArgs& a) { return LaunchGroup<block_q4_g64_asym>(a, "gemv_q4_g64_asym_cuda"); }
absl::Status gemv_q4_g128_asym_cuda(const GemvArgs& a) { return LaunchGroup<block_q4_g128_asym>(a, "gemv_q4_g128_asym_cuda"); }
// clang-format on

}  // namespace squeeze::cuda_internal
