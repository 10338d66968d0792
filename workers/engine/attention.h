// Causal multi-head / grouped-query attention over the KV cache (naive reference kernel:
// scores for every cached position, softmax, weighted sum of values).
#pragma once

#include <cstdint>

#include "model/model.h"
#include "squeeze/kernels/isa.h"
#include "util/thread_pool.h"

namespace squeeze {

struct AttentionShape {
  int32_t n_heads;
  int32_t n_kv_heads;
  int32_t head_dim;
};

// For n new tokens at positions [pos, pos + n): q is (n, n_heads * head_dim); the caches
// k_cache / v_cache are (>= pos + n, n_kv_heads * head_dim) and already hold the new tokens.
// Writes out (n, n_heads * head_dim). Token t attends to positions [0, pos + t].
// scratch must hold pool.size() * (pos + n) floats.
// isa picks the vector kernels (ops.h, GetVecKernels).
void CausalAttention(ThreadPool& pool, Isa isa, const AttentionShape& s, const float* q,
                     const float* k_cache, const float* v_cache, int64_t pos, int64_t n, float* out,
                     float* scratch);

// Quantized KV cache (KvCacheFormat other than kF32): each (position, kv head) is one row of
// KvRowBytes(f, head_dim) bytes, an f32 scale (absmax / 127 for int8, absmax / 448 for E4M3)
// followed by head_dim code bytes; value = scale * decode(code). A cache holds
// n_kv_heads rows per position, position after position.
int64_t KvRowBytes(KvCacheFormat f, int64_t head_dim);
// Quantizes head_dim floats of x into one cache row (round to nearest; an all-zero vector
// gets scale 0 and zero codes).
void QuantizeKvRow(KvCacheFormat f, const float* x, uint8_t* row, int64_t head_dim);
// Unpacks one cache row into head_dim floats.
void DequantizeKvRow(KvCacheFormat f, const uint8_t* row, float* out, int64_t head_dim);

// CausalAttention over a quantized cache (format f, not kF32): keys and values are decoded
// on the fly, score = k_scale * (q · k_codes) and out += p * v_scale * v_codes.
void CausalAttentionQuantized(ThreadPool& pool, const AttentionShape& s, KvCacheFormat f,
                              const float* q, const uint8_t* k_cache, const uint8_t* v_cache,
                              int64_t pos, int64_t n, float* out, float* scratch);

}  // namespace squeeze
