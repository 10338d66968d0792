// Device helpers shared by the packed-format gemv kernels: launch geometry (one warp per output
// row), warp reductions, loads that need only 2-byte or 1-byte alignment (packed rows start
// anywhere a row's byte count puts them), and bit-exact f16/bf16/fp8/tf32 conversions that match
// the host definitions in squeeze/kernels/fp16.h, ref/quant_float.h and ref/quant_act.h.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/gemv_launch.h"

namespace squeeze::cuda_internal {

constexpr int kWarp = 32;
constexpr int kGemvThreads = kWarp * kGemvRowsPerBlock;

__device__ __forceinline__ float warp_sum_f(float v) {
#pragma unroll
  for (int off = kWarp / 2; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}

__device__ __forceinline__ float warp_max_f(float v) {
#pragma unroll
  for (int off = kWarp / 2; off > 0; off >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, off));
  return v;
}

__device__ __forceinline__ long long warp_sum_ll(long long v) {
#pragma unroll
  for (int off = kWarp / 2; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}

// Little-endian loads from addresses aligned to 2 bytes (u16 pieces) or to 1 byte.
__device__ __forceinline__ uint32_t load_u16(const uint8_t* p) {
  return __ldg(reinterpret_cast<const unsigned short*>(p));
}
__device__ __forceinline__ uint32_t load_u32_a2(const uint8_t* p) {
  return load_u16(p) | (load_u16(p + 2) << 16);
}
__device__ __forceinline__ uint32_t load_u32_a1(const uint8_t* p) {
  return uint32_t(__ldg(p)) | (uint32_t(__ldg(p + 1)) << 8) | (uint32_t(__ldg(p + 2)) << 16) |
         (uint32_t(__ldg(p + 3)) << 24);
}
__device__ __forceinline__ float load_f32_a1(const uint8_t* p) {
  return __uint_as_float(load_u32_a1(p));
}

// IEEE half to float, exact (subnormals, Inf and NaN included), as fp16_to_fp32.
__device__ __forceinline__ float f16_bits_to_f32(uint32_t h) {
  return __half2float(__ushort_as_half(static_cast<unsigned short>(h)));
}

__device__ __forceinline__ float bf16_bits_to_f32(uint32_t h) {
  return __uint_as_float(h << 16);
}

// Round to bf16 and back (nearest even; NaN stays a quiet NaN), as fp32_to_bf16.
__device__ __forceinline__ float round_to_bf16(float f) {
  uint32_t u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return __uint_as_float(((u >> 16) | 0x40u) << 16);
  u += 0x7fffu + ((u >> 16) & 1u);
  return __uint_as_float(u & 0xffff0000u);
}

// TF32 rounding (nearest even at bit 13; Inf and NaN unchanged), as Tf32Round.
__device__ __forceinline__ float round_to_tf32(float f) {
  uint32_t u = __float_as_uint(f);
  if ((u & 0x7f800000u) != 0x7f800000u) {
    u += 0xfffu + ((u >> 13) & 1u);
    u &= ~0x1fffu;
  }
  return __uint_as_float(u);
}

// OCP E4M3 ("fn": bias 7, no Inf, S.1111.111 is NaN), as fp8_e4m3_to_fp32.
__device__ __forceinline__ float fp8_e4m3_to_f32(uint32_t b) {
  const uint32_t sign = (b & 0x80u) << 24, exp = (b >> 3) & 0xfu, man = b & 7u;
  if (exp == 0) {
    const float v = float(man) * 0.001953125f;  // man * 2^-9, exact
    return sign ? -v : v;
  }
  if (exp == 15 && man == 7) return __uint_as_float(sign | 0x7fc00000u);
  return __uint_as_float(sign | ((exp + 120u) << 23) | (man << 20));
}

// E5M2 (bias 15, IEEE-like: exponent 31 is Inf/NaN), as fp8_e5m2_to_fp32.
__device__ __forceinline__ float fp8_e5m2_to_f32(uint32_t b) {
  const uint32_t sign = (b & 0x80u) << 24, exp = (b >> 2) & 0x1fu, man = b & 3u;
  if (exp == 0) {
    const float v = float(man) * 1.52587890625e-05f;  // man * 2^-16, exact
    return sign ? -v : v;
  }
  if (exp == 31) return __uint_as_float(sign | 0x7f800000u | (man << 21));
  return __uint_as_float(sign | ((exp + 112u) << 23) | (man << 21));
}

// int8 rows (q8_channel, w8a8): sum of codes[32u + k] * qx[32u + k] for k in [0, 32) with
// dp4a; `vec` when the codes of this row are 4-byte aligned. qx is 16-byte aligned scratch.
__device__ __forceinline__ int dot32_i8(const uint8_t* codes, int64_t u, bool vec,
                                        const int8_t* qx) {
  const int4* xa = reinterpret_cast<const int4*>(qx + 32 * u);
  const int4 x0 = xa[0], x1 = xa[1];
  const int xs[8] = {x0.x, x0.y, x0.z, x0.w, x1.x, x1.y, x1.z, x1.w};
  const uint8_t* p = codes + 32 * u;
  int isum = 0;
#pragma unroll
  for (int k = 0; k < 8; ++k) {
    const uint32_t v =
        vec ? __ldg(reinterpret_cast<const unsigned int*>(p) + k) : load_u32_a1(p + 4 * k);
    isum = __dp4a(int(v), xs[k], isum);
  }
  return isum;
}

// The same over columns [from, cols) (a partial last unit), one byte at a time.
__device__ __forceinline__ int dot_tail_i8(const uint8_t* codes, int64_t from, int64_t cols,
                                           const int8_t* qx) {
  int isum = 0;
  for (int64_t c = from; c < cols; ++c) isum += int(int8_t(__ldg(codes + c))) * int(qx[c]);
  return isum;
}

}  // namespace squeeze::cuda_internal
