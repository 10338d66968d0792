// Causal multi-head / grouped-query attention over the KV cache (naive reference kernel:
// scores for every cached position, softmax, weighted sum of values).
#pragma once

#include <cstdint>

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
void CausalAttention(ThreadPool& pool, const AttentionShape& s, const float* q,
                     const float* k_cache, const float* v_cache, int64_t pos, int64_t n, float* out,
                     float* scratch);

}  // namespace squeeze
