// Naive causal attention, parallel over (token, head) pairs.
#include "engine/attention.h"

#include <cmath>
#include <cstring>

#include "squeeze/kernels/ops.h"

namespace squeeze {

void CausalAttention(ThreadPool& pool, const AttentionShape& s, const float* q,
                     const float* k_cache, const float* v_cache, int64_t pos, int64_t n, float* out,
                     float* scratch) {
  const int64_t hd = s.head_dim, q_dim = int64_t(s.n_heads) * hd,
                kv_dim = int64_t(s.n_kv_heads) * hd;
  const int64_t group = s.n_heads / s.n_kv_heads;
  const float scale = 1.0f / std::sqrt(float(hd));
  const int64_t ctx = pos + n;
  const int64_t pairs = n * s.n_heads;
  pool.Run([&](int thread) {
    float* att = scratch + thread * ctx;
    const int64_t b = pairs * thread / pool.size(), e = pairs * (thread + 1) / pool.size();
    for (int64_t i = b; i < e; ++i) {
      const int64_t t = i / s.n_heads, h = i % s.n_heads, kvh = h / group;
      const int64_t len = pos + t + 1;
      const float* qh = q + t * q_dim + h * hd;
      for (int64_t j = 0; j < len; ++j)
        att[j] = dot_ref(qh, k_cache + j * kv_dim + kvh * hd, hd) * scale;
      softmax_ref(att, len);
      float* o = out + t * q_dim + h * hd;
      std::memset(o, 0, hd * sizeof(float));
      for (int64_t j = 0; j < len; ++j) axpy_ref(o, att[j], v_cache + j * kv_dim + kvh * hd, hd);
    }
  });
}

}  // namespace squeeze
