// Decode-step kernels on the GPU (see cuda_ops.h): residual add, SwiGLU, RoPE, and the fused
// decode attention. The attention kernel gives each query head one block of kAttnWarps warps;
// each warp walks its share of the visible positions with an online softmax (running max m,
// running sum l, an accumulator of head_dim values spread over the lanes), then the warps'
// partial results are merged in shared memory. Single pass over the cache, no score buffer,
// so the context length is not limited by shared memory.
#include <cuda_runtime.h>

#include <climits>
#include <cmath>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "cuda/cuda_ops.h"
#include "cuda/cuda_status.h"
#include "cuda/gemv_common.cuh"

namespace squeeze {
namespace {

using cuda_internal::kWarp;
using cuda_internal::StatusFromCuda;
using cuda_internal::warp_sum_f;

constexpr int kThreads = 256;
constexpr int kAttnWarps = 4;
constexpr int kMaxHeadDim = 256;
constexpr int kPerLane = kMaxHeadDim / kWarp;  // accumulator values per lane

__global__ void add_kernel(float* x, const float* y, int64_t n) {
  const int64_t i = int64_t(blockIdx.x) * kThreads + threadIdx.x;
  if (i < n) x[i] += y[i];
}

__global__ void swiglu_kernel(float* gate, const float* up, int64_t n) {
  const int64_t i = int64_t(blockIdx.x) * kThreads + threadIdx.x;
  if (i < n) {
    const float g = gate[i];
    gate[i] = g / (1.0f + expf(-g)) * up[i];
  }
}

// grid (n_heads), block (kThreads).
__global__ void rope_kernel(float* x, int64_t head_dim, const float* cs, const float* sn) {
  float* p = x + int64_t(blockIdx.x) * head_dim;
  const int64_t half = head_dim / 2;
  for (int64_t i = threadIdx.x; i < half; i += kThreads) {
    const float a = p[i], b = p[i + half];
    p[i] = a * cs[i] - b * sn[i];
    p[i + half] = a * sn[i] + b * cs[i];
  }
}

__device__ bool Visible(const CudaAttentionMask& m, int64_t q, int64_t k) {
  if (k > q || k < 0) return false;
  if (m.window > 0) return k > q - m.window || k < m.sinks;
  if (m.block > 0) {
    const int64_t i = q / m.block, j = k / m.block;
    return i - j < m.local_blocks || j % m.global_stride == 0;
  }
  return true;
}

// grid (n_heads), block (32, kAttnWarps).
__global__ void __launch_bounds__(kWarp* kAttnWarps)
    attention_decode_kernel(const float* __restrict__ q, const float* __restrict__ k_cache,
                            const float* __restrict__ v_cache, const int32_t* __restrict__ kv_of,
                            float* __restrict__ out, int64_t n_kv_heads, int64_t hd, int64_t pos,
                            CudaAttentionMask mask, float scale) {
  __shared__ float s_m[kAttnWarps], s_l[kAttnWarps];
  __shared__ float s_acc[kAttnWarps][kMaxHeadDim];
  const int lane = threadIdx.x, warp = threadIdx.y;
  const int64_t h = blockIdx.x;
  const float* qh = q + h * hd;
  const int64_t kv_stride = n_kv_heads * hd;
  const int64_t g = kv_of[h];

  float qv[kPerLane], acc[kPerLane];
#pragma unroll
  for (int e = 0; e < kPerLane; ++e) {
    const int64_t i = lane + int64_t(e) * kWarp;
    qv[e] = i < hd ? qh[i] : 0.0f;
    acc[e] = 0.0f;
  }
  float m = -INFINITY, l = 0.0f;
  for (int64_t j = warp; j <= pos; j += kAttnWarps) {
    if (!Visible(mask, pos, j)) continue;  // the same j for the whole warp
    const float* kj = k_cache + j * kv_stride + g * hd;
    float s = 0.0f;
#pragma unroll
    for (int e = 0; e < kPerLane; ++e) {
      const int64_t i = lane + int64_t(e) * kWarp;
      if (i < hd) s = fmaf(qv[e], kj[i], s);
    }
    s = warp_sum_f(s) * scale;
    const float m_new = fmaxf(m, s);
    const float corr = expf(m - m_new);  // 0 on the first visible position (m = -inf)
    const float p = expf(s - m_new);
    l = l * corr + p;
    const float* vj = v_cache + j * kv_stride + g * hd;
#pragma unroll
    for (int e = 0; e < kPerLane; ++e) {
      const int64_t i = lane + int64_t(e) * kWarp;
      acc[e] = i < hd ? fmaf(p, vj[i], acc[e] * corr) : 0.0f;
    }
    m = m_new;
  }
  if (lane == 0) {
    s_m[warp] = m;
    s_l[warp] = l;
  }
#pragma unroll
  for (int e = 0; e < kPerLane; ++e) {
    const int64_t i = lane + int64_t(e) * kWarp;
    if (i < hd) s_acc[warp][i] = acc[e];
  }
  __syncthreads();
  // Merge the warps: weights exp(m_w - M); a warp that saw no position has m_w = -inf.
  float big = -INFINITY;
#pragma unroll
  for (int w = 0; w < kAttnWarps; ++w) big = fmaxf(big, s_m[w]);
  float total = 0.0f, wt[kAttnWarps];
#pragma unroll
  for (int w = 0; w < kAttnWarps; ++w) {
    wt[w] = s_m[w] == -INFINITY ? 0.0f : expf(s_m[w] - big);
    total += wt[w] * s_l[w];
  }
  const float inv = total > 0.0f ? 1.0f / total : 0.0f;
  for (int64_t i = int64_t(warp) * kWarp + lane; i < hd; i += kWarp * kAttnWarps) {
    float o = 0.0f;
#pragma unroll
    for (int w = 0; w < kAttnWarps; ++w) o = fmaf(wt[w], s_acc[w][i], o);
    out[h * hd + i] = o * inv;
  }
}

unsigned Blocks(int64_t n) {
  return unsigned((n + kThreads - 1) / kThreads);
}

absl::Status CheckN(int64_t n, const void* a, const void* b, const char* name) {
  if (n < 0 || (n + kThreads - 1) / kThreads > INT_MAX) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": bad length n=", n));
  }
  if (n > 0 && (a == nullptr || b == nullptr)) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": null device pointer"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status cuda_add(float* x_dev, const float* y_dev, int64_t n, void* stream) {
  if (absl::Status s = CheckN(n, x_dev, y_dev, "cuda_add"); !s.ok() || n == 0) return s;
  add_kernel<<<Blocks(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(x_dev, y_dev, n);
  return StatusFromCuda(cudaGetLastError(), "cuda_add: launch");
}

absl::Status cuda_swiglu(float* gate_dev, const float* up_dev, int64_t n, void* stream) {
  if (absl::Status s = CheckN(n, gate_dev, up_dev, "cuda_swiglu"); !s.ok() || n == 0) return s;
  swiglu_kernel<<<Blocks(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(gate_dev, up_dev, n);
  return StatusFromCuda(cudaGetLastError(), "cuda_swiglu: launch");
}

absl::Status cuda_rope(float* x_dev, int64_t n_heads, int64_t head_dim, const float* cos_dev,
                       const float* sin_dev, void* stream) {
  if (n_heads < 0 || n_heads > INT_MAX || head_dim <= 0 || head_dim % 2 != 0) {
    return absl::InvalidArgumentError(absl::StrCat("cuda_rope: need n_heads >= 0 and an even ",
                                                   "head_dim > 0; got ", n_heads, ", ", head_dim));
  }
  if (n_heads == 0) return absl::OkStatus();
  if (x_dev == nullptr || cos_dev == nullptr || sin_dev == nullptr) {
    return absl::InvalidArgumentError("cuda_rope: null device pointer");
  }
  rope_kernel<<<unsigned(n_heads), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      x_dev, head_dim, cos_dev, sin_dev);
  return StatusFromCuda(cudaGetLastError(), "cuda_rope: launch");
}

absl::Status cuda_attention_decode(const float* q_dev, const float* k_cache_dev,
                                   const float* v_cache_dev, const int32_t* kv_head_of_dev,
                                   float* out_dev, int64_t n_heads, int64_t n_kv_heads,
                                   int64_t head_dim, int64_t pos, const CudaAttentionMask& mask,
                                   void* stream) {
  if (n_heads < 0 || n_heads > INT_MAX || n_kv_heads <= 0 || head_dim <= 0 ||
      head_dim > kMaxHeadDim || pos < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cuda_attention_decode: need n_heads >= 0, n_kv_heads > 0, 0 < head_dim <= ", kMaxHeadDim,
        ", pos >= 0; got ", n_heads, ", ", n_kv_heads, ", ", head_dim, ", ", pos));
  }
  if (mask.window < 0 || mask.sinks < 0 || mask.block < 0 ||
      (mask.block > 0 && mask.global_stride <= 0)) {
    return absl::InvalidArgumentError("cuda_attention_decode: bad mask settings");
  }
  if (n_heads == 0) return absl::OkStatus();
  if (!q_dev || !k_cache_dev || !v_cache_dev || !kv_head_of_dev || !out_dev) {
    return absl::InvalidArgumentError("cuda_attention_decode: null device pointer");
  }
  const float scale = 1.0f / std::sqrt(float(head_dim));
  attention_decode_kernel<<<unsigned(n_heads), dim3(kWarp, kAttnWarps), 0,
                            static_cast<cudaStream_t>(stream)>>>(
      q_dev, k_cache_dev, v_cache_dev, kv_head_of_dev, out_dev, n_kv_heads, head_dim, pos, mask,
      scale);
  return StatusFromCuda(
      cudaGetLastError(),
      absl::StrCat("cuda_attention_decode: launch heads=", n_heads, " pos=", pos));
}

}  // namespace squeeze
