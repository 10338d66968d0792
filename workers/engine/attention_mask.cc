// Which positions a query sees (full causal, sliding window + sinks, block-sparse), where the
// cache keeps them, and how much cache a model needs.
#include <algorithm>

#include "engine/attention.h"

namespace squeeze {
namespace {

// Appends [b, e) to *out, merging it with the last range when they touch.
void Append(std::vector<PosRange>* out, int64_t b, int64_t e) {
  if (b >= e) return;
  if (!out->empty() && out->back().end >= b) {
    out->back().end = std::max(out->back().end, e);
  } else {
    out->push_back({b, e});
  }
}

}  // namespace

void VisibleRanges(const AttentionSettings& a, int64_t q, std::vector<PosRange>* out) {
  out->clear();
  if (a.window > 0) {
    const int64_t lo = std::max<int64_t>(0, q - a.window + 1);
    Append(out, 0, std::min<int64_t>(a.sinks, lo));
    Append(out, lo, q + 1);
  } else if (a.block > 0) {
    const int64_t i = q / a.block;
    const int64_t local_first = std::max<int64_t>(0, i - a.local_blocks + 1);
    for (int64_t j = 0; j < local_first; j += a.global_stride)
      Append(out, j * a.block, (j + 1) * a.block);
    Append(out, local_first * a.block, q + 1);
  } else {
    out->push_back({0, q + 1});
  }
}

bool IsVisible(const AttentionSettings& a, int64_t q, int64_t k) {
  if (k > q || k < 0) return false;
  if (a.window > 0) return k > q - a.window || k < a.sinks;
  if (a.block > 0) {
    const int64_t i = q / a.block, j = k / a.block;
    return i - j < a.local_blocks || j % a.global_stride == 0;
  }
  return true;
}

int64_t KvView::RunLength(int64_t p, int64_t end) const {
  if (p >= batch_pos) return end - p;
  const int64_t limit = std::min(end, batch_pos);
  if (layout.ring == 0) return limit - p;
  if (p < layout.sinks) return std::min(limit, layout.sinks) - p;
  const int64_t slots_left = layout.sinks + layout.ring - layout.Slot(p);
  return std::min(limit - p, slots_left);
}

int64_t KvCachePositions(const AttentionSettings& a, int64_t context) {
  if (a.window > 0) return std::min<int64_t>(context, int64_t(a.sinks) + a.window);
  return context;
}

int64_t KvBytesPerPosition(const Model& m) {
  int64_t bytes = 0;
  for (size_t l = 0; l < m.layers.size(); ++l) {
    const LayerShape s = m.Shape(int64_t(l));
    bytes += 2 * int64_t(s.n_kv_heads) * KvRowBytes(m.kv_cache, s.head_dim);
  }
  return bytes;
}

}  // namespace squeeze
