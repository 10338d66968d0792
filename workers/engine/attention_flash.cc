// Flash attention: a tile of query rows (the query heads of one kv head, over consecutive
// tokens of the batch) against tiles of keys, with an online softmax (running maximum and
// sum per row, the output rescaled when the maximum grows). Extra memory per thread is the
// tiles only, whatever the context; each key and value tile is read once per query tile.
// Tiles entirely outside a row's mask are skipped; partial ones are masked element-wise.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>

#include "engine/attention.h"
#include "squeeze/kernels/attention.h"

namespace squeeze {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

int64_t TileQ(const AttentionSettings& a) {
  return a.tile_q > 0 ? a.tile_q : kDefaultTileQ;
}
int64_t TileK(const AttentionSettings& a) {
  return a.tile_k > 0 ? a.tile_k : kDefaultTileK;
}

// The query heads of each kv head, in order.
std::vector<std::vector<int32_t>> HeadsByKvHead(const AttentionShape& s) {
  std::vector<std::vector<int32_t>> out(s.n_kv_heads);
  for (int32_t h = 0; h < s.n_heads; ++h) out[s.KvHead(h)].push_back(h);
  return out;
}

int64_t MaxRows(const AttentionSettings& a, const AttentionShape& s) {
  int64_t group = 0;
  for (const auto& heads : HeadsByKvHead(s)) group = std::max<int64_t>(group, heads.size());
  return std::max(TileQ(a), group);
}

enum class Cover { kNone, kPartial, kFull };

// How much of [k0, k1) the sorted ranges cover.
Cover Coverage(const std::vector<PosRange>& ranges, int64_t k0, int64_t k1) {
  int64_t covered = 0;
  for (const PosRange& r : ranges) {
    if (r.begin >= k1) break;
    const int64_t b = std::max(r.begin, k0), e = std::min(r.end, k1);
    if (b < e) covered += e - b;
  }
  return covered == 0 ? Cover::kNone : covered == k1 - k0 ? Cover::kFull : Cover::kPartial;
}

bool InRanges(const std::vector<PosRange>& ranges, int64_t k) {
  for (const PosRange& r : ranges) {
    if (k < r.begin) return false;
    if (k < r.end) return true;
  }
  return false;
}

// One item: kv head g, tokens [t0, t1) of the batch.
struct Item {
  int32_t g;
  int64_t t0, t1;
};

// Per-thread tiles, carved out of the thread's scratch.
struct Tiles {
  float *q, *o, *s, *m, *l, *kbuf, *vbuf;
};

Tiles CarveTiles(float* p, int64_t rows, int64_t tk, int64_t hd) {
  Tiles t;
  t.q = p, p += rows * hd;
  t.o = p, p += rows * hd;
  t.s = p, p += rows * tk;
  t.m = p, p += rows;
  t.l = p, p += rows;
  t.kbuf = p, p += tk * hd;
  t.vbuf = p;
  return t;
}

}  // namespace

int64_t FlashScratchFloats(const AttentionSettings& a, const AttentionShape& s) {
  const int64_t rows = MaxRows(a, s), tk = TileK(a), hd = s.head_dim;
  return rows * hd * 2 + rows * tk + rows * 2 + tk * hd * 2;
}

void AttentionFlash(ThreadPool& pool, Isa isa, const AttentionSettings& a, const AttentionShape& s,
                    const KvView& kv, const float* q, int64_t n, float* out, float* scratch,
                    int64_t scratch_floats) {
  const int64_t hd = s.head_dim, q_dim = int64_t(s.n_heads) * hd;
  const int64_t tk = TileK(a), tq = TileQ(a);
  const float scale = 1.0f / std::sqrt(float(hd));
  const AttentionTileKernels& kk = GetAttentionTileKernels(isa);
  const bool f32 = kv.format == KvCacheFormat::kF32;
  const std::vector<std::vector<int32_t>> heads = HeadsByKvHead(s);
  const int64_t max_rows = MaxRows(a, s);

  // Items from the last tokens (which see the most positions) to the first.
  std::vector<Item> items;
  for (int32_t g = 0; g < s.n_kv_heads; ++g) {
    const int64_t cnt = int64_t(heads[g].size());
    if (cnt == 0) continue;
    const int64_t bt = std::max<int64_t>(1, tq / cnt);
    for (int64_t t0 = 0; t0 < n; t0 += bt) items.push_back({g, t0, std::min(n, t0 + bt)});
  }
  std::sort(items.begin(), items.end(), [](const Item& x, const Item& y) { return x.t1 > y.t1; });

  std::atomic<int64_t> next{0};
  pool.Run([&](int thread) {
    const Tiles tl = CarveTiles(scratch + thread * scratch_floats, max_rows, tk, hd);
    thread_local std::vector<std::vector<PosRange>> token_ranges;
    thread_local std::vector<PosRange> all;
    thread_local std::vector<Cover> cover;
    for (int64_t it = next.fetch_add(1); it < int64_t(items.size()); it = next.fetch_add(1)) {
      const Item& item = items[it];
      const std::vector<int32_t>& hs = heads[item.g];
      const int64_t cnt = int64_t(hs.size()), tokens = item.t1 - item.t0, rows = tokens * cnt;
      for (int64_t t = 0; t < tokens; ++t) {
        for (int64_t i = 0; i < cnt; ++i)
          std::memcpy(tl.q + (t * cnt + i) * hd, q + (item.t0 + t) * q_dim + hs[i] * hd,
                      hd * sizeof(float));
      }
      std::memset(tl.o, 0, rows * hd * sizeof(float));
      std::fill(tl.m, tl.m + rows, kNegInf);
      std::fill(tl.l, tl.l + rows, 0.0f);
      // Each token's visible ranges, and their union (the key positions to visit).
      if (int64_t(token_ranges.size()) < tokens) token_ranges.resize(tokens);
      all.clear();
      for (int64_t t = 0; t < tokens; ++t) {
        VisibleRanges(a, kv.batch_pos + item.t0 + t, &token_ranges[t]);
        all.insert(all.end(), token_ranges[t].begin(), token_ranges[t].end());
      }
      std::sort(all.begin(), all.end(),
                [](const PosRange& x, const PosRange& y) { return x.begin < y.begin; });
      int64_t merged = 0;
      for (const PosRange& r : all) {
        if (merged > 0 && all[merged - 1].end >= r.begin) {
          all[merged - 1].end = std::max(all[merged - 1].end, r.end);
        } else {
          all[merged++] = r;
        }
      }
      all.resize(merged);
      cover.resize(tokens);

      for (const PosRange& r : all) {
        for (int64_t p = r.begin; p < r.end;) {
          const int64_t run = kv.RunLength(p, r.end);
          for (int64_t k0 = p; k0 < p + run; k0 += tk) {
            const int64_t kc = std::min(tk, p + run - k0);
            // Tokens that see part of the tile; outside [lo, hi) none does.
            int64_t lo = tokens, hi = 0;
            for (int64_t t = 0; t < tokens; ++t) {
              cover[t] = Coverage(token_ranges[t], k0, k0 + kc);
              if (cover[t] != Cover::kNone) lo = std::min(lo, t), hi = t + 1;
            }
            if (lo >= hi) continue;
            const float* kt;
            const float* vt;
            int64_t ld = hd;
            if (f32) {
              kt = reinterpret_cast<const float*>(kv.Keys(k0, item.g));
              vt = reinterpret_cast<const float*>(kv.Values(k0, item.g));
              ld = kv.RegionOf(k0).pos_stride / int64_t(sizeof(float));
            } else {
              for (int64_t j = 0; j < kc; ++j) {
                DequantizeKvRow(kv.format, kv.Keys(k0 + j, item.g), tl.kbuf + j * hd, hd);
                DequantizeKvRow(kv.format, kv.Values(k0 + j, item.g), tl.vbuf + j * hd, hd);
              }
              kt = tl.kbuf, vt = tl.vbuf;
            }
            const int64_t r0 = lo * cnt, r1 = hi * cnt;
            kk.scores(tl.q + r0 * hd, hd, kt, ld, r1 - r0, kc, hd, scale, tl.s + r0 * tk, tk);
            for (int64_t t = lo; t < hi; ++t) {
              for (int64_t i = t * cnt; i < (t + 1) * cnt; ++i) {
                float* srow = tl.s + i * tk;
                if (cover[t] == Cover::kNone) {
                  std::fill(srow, srow + kc, 0.0f);  // contributes nothing below
                  continue;
                }
                if (cover[t] == Cover::kPartial) {
                  for (int64_t j = 0; j < kc; ++j) {
                    if (!InRanges(token_ranges[t], k0 + j)) srow[j] = kNegInf;
                  }
                }
                float mt = srow[0];
                for (int64_t j = 1; j < kc; ++j) mt = std::max(mt, srow[j]);
                const float m_new = std::max(tl.m[i], mt);
                const float corr = tl.m[i] == kNegInf ? 0.0f : std::exp(tl.m[i] - m_new);
                if (corr != 1.0f) {
                  for (int64_t d = 0; d < hd; ++d) tl.o[i * hd + d] *= corr;
                }
                tl.l[i] = tl.l[i] * corr + kk.exp_sum(srow, kc, m_new);
                tl.m[i] = m_new;
              }
            }
            kk.accumulate(tl.s + r0 * tk, tk, vt, ld, r1 - r0, kc, hd, tl.o + r0 * hd, hd);
          }
          p += run;
        }
      }
      for (int64_t t = 0; t < tokens; ++t) {
        for (int64_t i = 0; i < cnt; ++i) {
          const int64_t row = t * cnt + i;
          const float inv = 1.0f / tl.l[row];
          float* o = out + (item.t0 + t) * q_dim + hs[i] * hd;
          for (int64_t d = 0; d < hd; ++d) o[d] = tl.o[row * hd + d] * inv;
        }
      }
    }
  });
}

}  // namespace squeeze
