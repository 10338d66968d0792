// Naive attention, as textbooks define it: per head, the full (n, context) score matrix
// S = Q·Kᵀ / sqrt(head_dim) of the batch is materialized, masked (-inf where the mask hides a
// position), softmax is taken row by row, and O = softmax(S)·V. Its memory grows with
// n × context; it is the reference the other kernels are tested against (with Isa::kRef its
// micro-kernels are the scalar ones) and the baseline of the flash comparison.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>

#include "engine/attention.h"
#include "squeeze/kernels/attention.h"

namespace squeeze {
namespace {

constexpr int64_t kChunk = 64;  // keys gathered per step (scores and P·V)

}  // namespace

int64_t NaiveScratchFloats(const AttentionShape& s, int64_t n, int64_t context) {
  return n * context + 2 * kChunk * s.head_dim;
}

void AttentionNaive(ThreadPool& pool, Isa isa, const AttentionSettings& a, const AttentionShape& s,
                    const KvView& kv, const float* q, int64_t n, float* out, float* scratch,
                    int64_t scratch_floats) {
  const int64_t hd = s.head_dim, q_dim = int64_t(s.n_heads) * hd;
  const int64_t ctx = kv.batch_pos + n;
  const float scale = 1.0f / std::sqrt(float(hd));
  const AttentionTileKernels& kk = GetAttentionTileKernels(isa);
  std::atomic<int32_t> next{0};
  pool.Run([&](int thread) {
    float* sm = scratch + thread * scratch_floats;  // (n, ctx)
    float* kbuf = sm + n * ctx;                     // (kChunk, hd)
    float* vbuf = kbuf + kChunk * hd;
    // Rows of positions [c0, c0 + kc) of kv head g, as floats (positions the cache no longer
    // holds, never visible, as zeros).
    auto gather = [&](bool keys, int64_t c0, int64_t kc, int64_t g, float* buf) {
      for (int64_t j = 0; j < kc; ++j) {
        const int64_t p = c0 + j;
        if (!kv.Holds(p)) {
          std::memset(buf + j * hd, 0, hd * sizeof(float));
          continue;
        }
        const uint8_t* row = keys ? kv.Keys(p, g) : kv.Values(p, g);
        DequantizeKvRow(kv.format, row, buf + j * hd, hd);
      }
    };
    for (int32_t h = next.fetch_add(1); h < s.n_heads; h = next.fetch_add(1)) {
      const int64_t g = s.KvHead(h);
      for (int64_t c0 = 0; c0 < ctx; c0 += kChunk) {
        const int64_t kc = std::min(kChunk, ctx - c0);
        gather(true, c0, kc, g, kbuf);
        kk.scores(q + h * hd, q_dim, kbuf, hd, n, kc, hd, scale, sm + c0, ctx);
      }
      for (int64_t t = 0; t < n; ++t) {
        float* row = sm + t * ctx;
        for (int64_t p = 0; p < ctx; ++p) {
          if (!IsVisible(a, kv.batch_pos + t, p)) row[p] = -std::numeric_limits<float>::infinity();
        }
        float m = row[0];
        for (int64_t p = 1; p < ctx; ++p) m = std::max(m, row[p]);
        const float inv = 1.0f / kk.exp_sum(row, ctx, m);
        for (int64_t p = 0; p < ctx; ++p) row[p] *= inv;
        std::memset(out + t * q_dim + h * hd, 0, hd * sizeof(float));
      }
      for (int64_t c0 = 0; c0 < ctx; c0 += kChunk) {
        const int64_t kc = std::min(kChunk, ctx - c0);
        gather(false, c0, kc, g, vbuf);
        kk.accumulate(sm + c0, ctx, vbuf, hd, n, kc, hd, out + h * hd, q_dim);
      }
    }
  });
}

}  // namespace squeeze
