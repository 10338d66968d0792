// GPU gemv for the float weight formats that use (a rounding of) x directly: f16, bf16, tf32,
// fp8_e4m3, fp8_e5m2 (the CUDA rows of those formats; f32 goes to gemv_f32.cu when its rows are
// contiguous). One warp per row; each lane decodes 8 consecutive weights per step in registers
// (16-byte or 8-byte vector loads when the row is aligned for them, narrower loads otherwise),
// multiplies by x and accumulates in f32; then a warp-shuffle sum. Rows may start at any byte
// their format allows (fp8 rows are 4 + cols bytes), so alignment is checked per row.
#include <cuda_runtime.h>

#include <climits>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "cuda/cuda_backend.h"
#include "cuda/cuda_status.h"
#include "cuda/gemv_common.cuh"
#include "cuda/gemv_launch.h"

namespace squeeze::cuda_internal {
namespace {

__device__ __forceinline__ bool Aligned(const void* p, uintptr_t a) {
  return (reinterpret_cast<uintptr_t>(p) & (a - 1)) == 0;
}

// The 16 bytes at p as four words: one 16-byte load when vec (p 16-byte aligned), else 2-byte
// aligned word loads.
__device__ __forceinline__ void Load16Bytes(const uint8_t* p, bool vec, uint32_t* v) {
  if (vec) {
    const uint4 q = __ldg(reinterpret_cast<const uint4*>(p));
    v[0] = q.x, v[1] = q.y, v[2] = q.z, v[3] = q.w;
  } else {
#pragma unroll
    for (int k = 0; k < 4; ++k) v[k] = load_u32_a2(p + 4 * k);
  }
}

// A format: kHeader bytes before the codes (an f32 row scale when 4), Load8 decodes weights
// [8u, 8u + 8) (vec: the codes of this row are aligned for the vector path), Load1 weight c,
// and X applies the format's rounding of the inputs.
// The 16-bit formats: Conv turns a code into f32 (ToF32) and rounds the inputs (X).
template <class Conv>
struct Bits16 {
  static constexpr int kHeader = 0, kVecAlign = 16;
  __device__ static void Load8(const uint8_t* c, int64_t u, bool vec, float* w) {
    uint32_t v[4];
    Load16Bytes(c + 16 * u, vec, v);
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      w[2 * k] = Conv::ToF32(v[k] & 0xffffu);
      w[2 * k + 1] = Conv::ToF32(v[k] >> 16);
    }
  }
  __device__ static float Load1(const uint8_t* c, int64_t i) {
    return Conv::ToF32(load_u16(c + 2 * i));
  }
  __device__ static float X(float x) {
    return Conv::X(x);
  }
};

struct F16Conv {
  __device__ static float ToF32(uint32_t b) { return f16_bits_to_f32(b); }
  __device__ static float X(float x) { return x; }
};

struct BF16Conv {
  __device__ static float ToF32(uint32_t b) { return bf16_bits_to_f32(b); }
  // bf16 x bf16 products are exact in f32, as on BF16 hardware (matmul.h).
  __device__ static float X(float x) { return round_to_bf16(x); }
};

using F16 = Bits16<F16Conv>;
using BF16 = Bits16<BF16Conv>;

// f32 storage; kRound: tf32 (inputs rounded to a 10-bit mantissa) or plain f32.
template <bool kRound>
struct F32Rows {
  static constexpr int kHeader = 0, kVecAlign = 16;
  __device__ static void Load8(const uint8_t* c, int64_t u, bool vec, float* w) {
    const float* p = reinterpret_cast<const float*>(c) + 8 * u;
    if (vec) {
      const float4 a = __ldg(reinterpret_cast<const float4*>(p));
      const float4 b = __ldg(reinterpret_cast<const float4*>(p) + 1);
      w[0] = a.x, w[1] = a.y, w[2] = a.z, w[3] = a.w, w[4] = b.x, w[5] = b.y, w[6] = b.z;
      w[7] = b.w;
    } else {
#pragma unroll
      for (int k = 0; k < 8; ++k) w[k] = __ldg(p + k);
    }
  }
  __device__ static float Load1(const uint8_t* c, int64_t i) {
    return __ldg(reinterpret_cast<const float*>(c) + i);
  }
  __device__ static float X(float x) {
    return kRound ? round_to_tf32(x) : x;
  }
};

// fp8 rows: f32 scale (any alignment), then one byte per weight.
template <bool kE4M3>
struct Fp8 {
  static constexpr int kHeader = 4, kVecAlign = 8;
  __device__ static float Decode(uint32_t b) {
    return kE4M3 ? fp8_e4m3_to_f32(b) : fp8_e5m2_to_f32(b);
  }
  __device__ static void Load8(const uint8_t* c, int64_t u, bool vec, float* w) {
    const uint8_t* p = c + 8 * u;
    uint32_t lo, hi;
    if (vec) {
      const uint2 q = __ldg(reinterpret_cast<const uint2*>(p));
      lo = q.x, hi = q.y;
    } else {
      lo = load_u32_a1(p), hi = load_u32_a1(p + 4);
    }
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      w[k] = Decode((lo >> (8 * k)) & 0xffu);
      w[4 + k] = Decode((hi >> (8 * k)) & 0xffu);
    }
  }
  __device__ static float Load1(const uint8_t* c, int64_t i) {
    return Decode(__ldg(c + i));
  }
  __device__ static float X(float x) {
    return x;
  }
};

// block (32, kGemvRowsPerBlock); w (rows, row_bytes) packed, x (cols), y (rows).
template <class F>
__global__ void __launch_bounds__(kGemvThreads)
    gemv_float_kernel(const uint8_t* __restrict__ w, int64_t row_bytes, const float* __restrict__ x,
                      float* __restrict__ y, int64_t rows, int64_t cols) {
  const int lane = threadIdx.x;
  const int64_t r = int64_t(blockIdx.x) * kGemvRowsPerBlock + threadIdx.y;
  if (r >= rows) return;  // the whole warp leaves together
  const uint8_t* row = w + r * row_bytes;
  const uint8_t* codes = row + F::kHeader;
  const bool vec = Aligned(codes, F::kVecAlign);  // the same for the whole warp
  const bool xvec = Aligned(x, 16);

  float acc = 0.0f;
  const int64_t n8 = cols / 8;
  for (int64_t u = lane; u < n8; u += kWarp) {
    float wv[8], xv[8];
    F::Load8(codes, u, vec, wv);
    if (xvec) {
      const float4 a = __ldg(reinterpret_cast<const float4*>(x + 8 * u));
      const float4 b = __ldg(reinterpret_cast<const float4*>(x + 8 * u) + 1);
      xv[0] = a.x, xv[1] = a.y, xv[2] = a.z, xv[3] = a.w, xv[4] = b.x, xv[5] = b.y, xv[6] = b.z;
      xv[7] = b.w;
    } else {
#pragma unroll
      for (int k = 0; k < 8; ++k) xv[k] = __ldg(x + 8 * u + k);
    }
#pragma unroll
    for (int k = 0; k < 8; ++k) acc = fmaf(wv[k], F::X(xv[k]), acc);
  }
  for (int64_t c = 8 * n8 + lane; c < cols; c += kWarp) {
    acc = fmaf(F::Load1(codes, c), F::X(__ldg(x + c)), acc);
  }
  acc = warp_sum_f(acc);
  if (lane == 0) y[r] = F::kHeader == 4 ? acc * load_f32_a1(row) : acc;
}

template <class F>
absl::Status Launch(const GemvArgs& a, const char* name) {
  const int64_t blocks = (a.rows + kGemvRowsPerBlock - 1) / kGemvRowsPerBlock;
  gemv_float_kernel<F>
      <<<unsigned(blocks), dim3(kWarp, kGemvRowsPerBlock), 0,
         static_cast<cudaStream_t>(a.stream)>>>(a.w, a.row_bytes, a.x, a.y, a.rows, a.cols);
  return StatusFromCuda(cudaGetLastError(),
                        absl::StrCat(name, ": launch rows=", a.rows, " cols=", a.cols));
}

}  // namespace

absl::Status gemv_f32_cuda(const GemvArgs& a) {
  // Contiguous 4-byte-aligned rows: the dedicated f32 kernel (gemv_f32.cu).
  if (a.row_bytes == 4 * a.cols && (reinterpret_cast<uintptr_t>(a.w) & 3) == 0) {
    return cuda_gemv_f32(reinterpret_cast<const float*>(a.w), a.x, a.y, a.rows, a.cols, a.stream);
  }
  if ((reinterpret_cast<uintptr_t>(a.w) & 3) != 0 || a.row_bytes % 4 != 0) {
    return absl::InvalidArgumentError("gemv_f32_cuda: f32 rows must be 4-byte aligned");
  }
  return Launch<F32Rows<false>>(a, "gemv_f32_cuda");
}

absl::Status gemv_tf32_cuda(const GemvArgs& a) {
  if ((reinterpret_cast<uintptr_t>(a.w) & 3) != 0 || a.row_bytes % 4 != 0) {
    return absl::InvalidArgumentError("gemv_tf32_cuda: tf32 rows must be 4-byte aligned");
  }
  return Launch<F32Rows<true>>(a, "gemv_tf32_cuda");
}

absl::Status gemv_f16_cuda(const GemvArgs& a) {
  return Launch<F16>(a, "gemv_f16_cuda");
}
absl::Status gemv_bf16_cuda(const GemvArgs& a) {
  return Launch<BF16>(a, "gemv_bf16_cuda");
}
absl::Status gemv_fp8_e4m3_cuda(const GemvArgs& a) {
  return Launch<Fp8<true>>(a, "gemv_fp8_e4m3_cuda");
}
absl::Status gemv_fp8_e5m2_cuda(const GemvArgs& a) {
  return Launch<Fp8<false>>(a, "gemv_fp8_e5m2_cuda");
}

}  // namespace squeeze::cuda_internal
