// GPU gemv for the 4-bit float-code formats nf4 and fp4 (the CUDA rows of those formats; layout
// in ref/quant_float.h: blocks of 64 weights, f16 absmax d, 32 bytes of codes in the q4 layout).
// One warp per row; each lane takes one 32-weight half block at a time, looks its 32 codes up in
// a 16-entry table held in shared memory (constant memory would serialize divergent indices),
// multiplies by x (used as given) and adds d * sum to the row. The last, partial unit of a row
// reads x only below cols.
#include <cuda_runtime.h>

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "cuda/cuda_status.h"
#include "cuda/gemv_common.cuh"
#include "cuda/gemv_launch.h"
#include "ref/quant_float.h"

namespace squeeze::cuda_internal {
namespace {

struct CodeTable {
  float v[16];
};

// block (32, kGemvRowsPerBlock); w (rows, row_bytes) of 34-byte blocks; x (cols); y (rows).
__global__ void __launch_bounds__(kGemvThreads)
    gemv_code4_kernel(const uint8_t* __restrict__ w, int64_t row_bytes, const float* __restrict__ x,
                      float* __restrict__ y, int64_t rows, int64_t cols, CodeTable table) {
  constexpr int kBlockBytes = 34, kUnitBytes = 16;
  __shared__ float tab[16];
  const int tid = threadIdx.y * kWarp + threadIdx.x;
  if (tid < 16) tab[tid] = table.v[tid];
  __syncthreads();

  const int lane = threadIdx.x;
  const int64_t r = int64_t(blockIdx.x) * kGemvRowsPerBlock + threadIdx.y;
  if (r >= rows) return;
  const uint8_t* row = w + r * row_bytes;
  const int64_t nunits = (cols + 31) / 32;
  float acc = 0.0f;
  for (int64_t u = lane; u < nunits; u += kWarp) {
    const uint8_t* blk = row + (u / 2) * kBlockBytes;
    const uint8_t* q = blk + 2 + (u % 2) * kUnitBytes;
    const float* xu = x + 32 * u;
    float s = 0.0f;
    if (32 * u + 32 <= cols) {
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        const uint32_t v = load_u32_a2(q + 4 * k);
#pragma unroll
        for (int b = 0; b < 4; ++b) {
          const uint32_t byte = (v >> (8 * b)) & 0xffu;
          s = fmaf(tab[byte & 0xfu], __ldg(xu + 4 * k + b), s);
          s = fmaf(tab[byte >> 4], __ldg(xu + 16 + 4 * k + b), s);
        }
      }
    } else {  // partial last unit: weights j < n only
      const int n = int(cols - 32 * u);
      for (int j = 0; j < n; ++j) {
        const uint32_t byte = __ldg(q + (j % 16));
        s = fmaf(tab[j < 16 ? (byte & 0xfu) : (byte >> 4)], __ldg(xu + j), s);
      }
    }
    acc = fmaf(f16_bits_to_f32(load_u16(blk)), s, acc);
  }
  acc = warp_sum_f(acc);
  if (lane == 0) y[r] = acc;
}

absl::Status Launch(const GemvArgs& a, const float* values, const char* name) {
  CodeTable t;
  for (int i = 0; i < 16; ++i) t.v[i] = values[i];
  const int64_t blocks = (a.rows + kGemvRowsPerBlock - 1) / kGemvRowsPerBlock;
  gemv_code4_kernel<<<unsigned(blocks), dim3(kWarp, kGemvRowsPerBlock), 0,
                      static_cast<cudaStream_t>(a.stream)>>>(a.w, a.row_bytes, a.x, a.y, a.rows,
                                                             a.cols, t);
  return StatusFromCuda(cudaGetLastError(),
                        absl::StrCat(name, ": launch rows=", a.rows, " cols=", a.cols));
}

}  // namespace

static_assert(sizeof(block_nf4) == 34 && sizeof(block_fp4) == 34 && block_nf4::kGroup == 64);

absl::Status gemv_nf4_cuda(const GemvArgs& a) {
  return Launch(a, kNf4Values, "gemv_nf4_cuda");
}
absl::Status gemv_fp4_cuda(const GemvArgs& a) {
  return Launch(a, kFp4Values, "gemv_fp4_cuda");
}

}  // namespace squeeze::cuda_internal
