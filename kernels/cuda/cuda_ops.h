// Element-wise and attention kernels of a transformer decode step on the GPU (one token at a
// time), the device counterparts of squeeze/kernels/ops.h and the engine's decode attention.
// Plain C++ header (no CUDA types). All pointers are device pointers; `stream` is a
// cudaStream_t (null = the legacy default stream). Launchers check their arguments
// (kInvalidArgument, nothing launched), queue the work and return; errors while kernels run
// surface from CudaSynchronize().
#pragma once

#include <cstdint>

#include "absl/status/status.h"

namespace squeeze {

// x[i] += y[i], i in [0, n).
absl::Status cuda_add(float* x_dev, const float* y_dev, int64_t n, void* stream);

// gate[i] = silu(gate[i]) * up[i], i in [0, n) (as swiglu_ref: g / (1 + exp(-g)) * u).
absl::Status cuda_swiglu(float* gate_dev, const float* up_dev, int64_t n, void* stream);

// Rotary embedding of one token in place (as rope_ref, half-split layout): x holds n_heads
// heads of head_dim values; element i < head_dim / 2 pairs with i + head_dim / 2, rotated by
// (cos_dev[i], sin_dev[i]) — the token's row of the engine's host-computed tables.
absl::Status cuda_rope(float* x_dev, int64_t n_heads, int64_t head_dim, const float* cos_dev,
                       const float* sin_dev, void* stream);

// Which cached positions a query at position q sees (engine/attention.h, IsVisible): k <= q,
// and with window > 0 only k > q - window or k < sinks; with block > 0 (and no window) only
// blocks i - j < local_blocks or j % global_stride == 0.
struct CudaAttentionMask {
  int32_t window = 0, sinks = 0, block = 0, local_blocks = 0, global_stride = 0;
};

// Fused decode attention for one query token at position `pos` (one block per query head;
// scores, online softmax and the weighted sum of values in one pass over the cache):
//   out[h] = sum_j softmax_j(q[h] . k[j, g] / sqrt(head_dim)) v[j, g], g = kv_head_of[h],
// over the visible positions j <= pos. q (n_heads, head_dim); k_cache, v_cache
// (positions, n_kv_heads, head_dim): position j's keys at k_cache + j * n_kv_heads * head_dim;
// kv_head_of (n_heads) int32 on the device; out (n_heads, head_dim). head_dim <= 256.
absl::Status cuda_attention_decode(const float* q_dev, const float* k_cache_dev,
                                   const float* v_cache_dev, const int32_t* kv_head_of_dev,
                                   float* out_dev, int64_t n_heads, int64_t n_kv_heads,
                                   int64_t head_dim, int64_t pos, const CudaAttentionMask& mask,
                                   void* stream);

}  // namespace squeeze
