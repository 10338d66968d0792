// Causal attention of one layer over its KV cache, with the model's mask (full, sliding
// window + sinks, block-sparse) and one of three kernels:
//   naive   — materializes the (n, context) score matrix of a batch per head, then softmax
//             and P·V: the textbook definition and the reference (with Isa::kRef, the oracle);
//   rowwise — one (token, head) at a time with a score row of the context (two passes);
//   flash   — tiles of queries (the query heads sharing a kv head, over several tokens)
//             against tiles of keys with an online softmax: extra memory independent of
//             the context, each key tile read once per tile of queries.
// Every kernel reads positions before the batch from the cache and the batch's own keys and
// values from the batch rows, so a ring cache of sinks + window positions suffices.
#pragma once

#include <cstdint>
#include <vector>

#include "model/model.h"
#include "squeeze/kernels/isa.h"
#include "util/thread_pool.h"

namespace squeeze {

// Quantized KV cache (KvCacheFormat other than kF32): each (position, kv head) is one row of
// KvRowBytes(f, head_dim) bytes, an f32 scale (absmax / 127 for int8, absmax / 448 for E4M3)
// followed by head_dim code bytes; value = scale * decode(code). kF32 rows are head_dim floats.
int64_t KvRowBytes(KvCacheFormat f, int64_t head_dim);
// Quantizes head_dim floats of x into one cache row (round to nearest; an all-zero vector
// gets scale 0 and zero codes).
void QuantizeKvRow(KvCacheFormat f, const float* x, uint8_t* row, int64_t head_dim);
// Unpacks one cache row into head_dim floats.
void DequantizeKvRow(KvCacheFormat f, const uint8_t* row, float* out, int64_t head_dim);

// Bytes of KV cache per position of context: keys and values of every layer (each layer's own
// kv head count), in the model's kv_cache format.
int64_t KvBytesPerPosition(const Model& m);
// Positions the engine's cache holds for a context of `context` positions: the context
// itself, or sinks + window with a sliding window (a ring buffer).
int64_t KvCachePositions(const AttentionSettings& a, int64_t context);

// A position range [begin, end).
struct PosRange {
  int64_t begin, end;
};
// The positions a query at position q sees under `a` (AttentionSettings in model.h), as
// ascending disjoint ranges (appended to *out after clearing it).
void VisibleRanges(const AttentionSettings& a, int64_t q, std::vector<PosRange>* out);
// Whether a query at q sees position k (the same rule, one pair at a time).
bool IsVisible(const AttentionSettings& a, int64_t q, int64_t k);

// Where the cache keeps a position: slot = position, or with a ring (ring > 0) positions
// below `sinks` in their own slots and the others in sinks + (p - sinks) % ring.
struct KvLayout {
  int64_t sinks = 0, ring = 0;
  int64_t Slot(int64_t p) const { return ring == 0 || p < sinks ? p : sinks + (p - sinks) % ring; }
};

// Keys and values in memory: the row of (position index i, kv head g) starts at
// k + i * pos_stride + g * head_stride (the same for v).
struct KvRegion {
  const uint8_t* k = nullptr;
  const uint8_t* v = nullptr;
  int64_t pos_stride = 0, head_stride = 0;
};

// The keys and values of one layer as attention reads them: positions below batch_pos from
// the cache (index = layout slot; the engine stores each kv head's positions contiguously),
// positions from batch_pos on from the batch (index p - batch_pos).
struct KvView {
  KvCacheFormat format = KvCacheFormat::kF32;
  KvRegion cache;
  KvLayout layout;
  int64_t batch_pos = 0;
  KvRegion batch;

  const KvRegion& RegionOf(int64_t p) const { return p >= batch_pos ? batch : cache; }
  int64_t IndexOf(int64_t p) const { return p >= batch_pos ? p - batch_pos : layout.Slot(p); }
  const uint8_t* Keys(int64_t p, int64_t g) const {
    const KvRegion& r = RegionOf(p);
    return r.k + IndexOf(p) * r.pos_stride + g * r.head_stride;
  }
  const uint8_t* Values(int64_t p, int64_t g) const {
    const KvRegion& r = RegionOf(p);
    return r.v + IndexOf(p) * r.pos_stride + g * r.head_stride;
  }
  // How many positions from p on (at most end - p) lie in consecutive rows (pos_stride apart).
  int64_t RunLength(int64_t p, int64_t end) const;
  // Whether position p (below the batch) is still held by the cache.
  bool Holds(int64_t p) const {
    return p >= batch_pos || layout.ring == 0 || p < layout.sinks || p >= batch_pos - layout.ring;
  }
};

// One layer's heads.
struct AttentionShape {
  int32_t n_heads = 0, n_kv_heads = 0, head_dim = 0;
  const int32_t* kv_head_of = nullptr;  // (n_heads); null: h / (n_heads / n_kv_heads)
  int32_t KvHead(int32_t h) const {
    return kv_head_of ? kv_head_of[h] : h / (n_heads / n_kv_heads);
  }
};

// The kernel `requested` resolves to for a batch of n tokens over a cache in format f: kAuto
// picks the one measured faster on this machine (README, "Attention"): flash when a tile has
// several query rows (prefill, or decode with 4+ query heads per kv head) or the cache is
// quantized (flash decodes each key tile once), rowwise otherwise; the others are returned as
// they are.
AttentionKernel ResolveAttentionKernel(AttentionKernel requested, const AttentionShape& s,
                                       int64_t n, KvCacheFormat f);

// Floats of scratch per thread that `kernel` needs for n queries that see at most `context`
// positions (flash: independent of both apart from the tile sizes).
int64_t AttentionScratchFloats(AttentionKernel kernel, const AttentionSettings& a,
                               const AttentionShape& s, int64_t n, int64_t context);

// Attention of n new tokens at positions [kv.batch_pos, kv.batch_pos + n): q is
// (n, n_heads * head_dim) with RoPE applied, out is (n, n_heads * head_dim). `kernel` must be
// resolved (not kAuto). Thread i uses scratch[i * scratch_floats, (i + 1) * scratch_floats),
// where scratch_floats >= AttentionScratchFloats(kernel, a, s, n, kv.batch_pos + n) (for
// rowwise, the number of positions a query sees suffices).
// isa picks the micro-kernels (squeeze/kernels/attention.h, ops.h).
void Attention(ThreadPool& pool, Isa isa, AttentionKernel kernel, const AttentionSettings& a,
               const AttentionShape& s, const KvView& kv, const float* q, int64_t n, float* out,
               float* scratch, int64_t scratch_floats);

// The kernels themselves (attention.cc, attention_flash.cc, attention_naive.cc).
void AttentionRowwise(ThreadPool& pool, Isa isa, const AttentionSettings& a,
                      const AttentionShape& s, const KvView& kv, const float* q, int64_t n,
                      float* out, float* scratch, int64_t scratch_floats);
void AttentionFlash(ThreadPool& pool, Isa isa, const AttentionSettings& a, const AttentionShape& s,
                    const KvView& kv, const float* q, int64_t n, float* out, float* scratch,
                    int64_t scratch_floats);
void AttentionNaive(ThreadPool& pool, Isa isa, const AttentionSettings& a, const AttentionShape& s,
                    const KvView& kv, const float* q, int64_t n, float* out, float* scratch,
                    int64_t scratch_floats);
int64_t FlashScratchFloats(const AttentionSettings& a, const AttentionShape& s);
int64_t NaiveScratchFloats(const AttentionShape& s, int64_t n, int64_t context);

// Flash tiles when the settings leave them at 0.
inline constexpr int32_t kDefaultTileQ = 32;
inline constexpr int32_t kDefaultTileK = 64;

}  // namespace squeeze
