// The rowwise attention kernel (one (token, head) pair at a time, a score row of the
// visible context, over an f32 or a quantized cache), the quantized cache rows, and the
// choice of kernel.
#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstring>

#include "engine/attention.h"
#include "squeeze/kernels/attention.h"
#include "squeeze/kernels/format.h"

namespace squeeze {
namespace {

// The cache rows are laid out exactly like one row of a weight format: q8_channel (f32 scale
// absmax / 127, int8 codes) or fp8_e4m3 (f32 scale absmax / 448, E4M3 bytes), so the
// formats' reference quantizers fill them.
WeightFormat RowFormat(KvCacheFormat f) {
  return f == KvCacheFormat::kInt8 ? WeightFormat::kQ8Channel : WeightFormat::kFp8E4M3;
}

// Value of every E4M3 byte (scale 1), from the format's own decoder.
const std::array<float, 256>& E4m3Table() {
  static const std::array<float, 256> table = [] {
    std::array<float, 256> t;
    const FormatTraits& tr = GetFormatTraits(WeightFormat::kFp8E4M3);
    uint8_t row[5];
    const float one = 1.0f;
    std::memcpy(row, &one, 4);
    for (int b = 0; b < 256; ++b) {
      row[4] = uint8_t(b);
      tr.to_float(row, &t[b], 1);
    }
    return t;
  }();
  return table;
}

float RowScale(const uint8_t* row) {
  float s;
  std::memcpy(&s, row, 4);
  return s;
}

// A run of `run` cache rows `stride` bytes apart: Scores sets s[j] = scale * (q · k_j), and
// Accumulate adds sum_j p[j] * v_j to o.

// f32 rows: the tile kernels with one query row (the output row stays in registers over the
// run; a dot and an axpy call per row before, ~8% of 125m decode at context 16-48).
struct F32Rows {
  const AttentionTileKernels& tk;
  void Scores(const float* q, const uint8_t* k, int64_t stride, int64_t run, int64_t hd,
              float scale, float* s) const {
    tk.scores(q, hd, reinterpret_cast<const float*>(k), stride / int64_t(sizeof(float)), 1, run, hd,
              scale, s, run);
  }
  void Accumulate(float* o, const float* p, const uint8_t* v, int64_t stride, int64_t run,
                  int64_t hd) const {
    tk.accumulate(p, run, reinterpret_cast<const float*>(v), stride / int64_t(sizeof(float)), 1,
                  run, hd, o, hd);
  }
};

// Quantized rows: score = scale * (q · codes), out += p * scale * codes.
template <class Decode>
struct CodeRows {
  Decode decode;
  void Scores(const float* q, const uint8_t* k, int64_t stride, int64_t run, int64_t hd,
              float scale, float* s) const {
    for (int64_t j = 0; j < run; ++j) {
      const uint8_t* row = k + j * stride;
      const uint8_t* codes = row + 4;
      float acc = 0.0f;
      for (int64_t d = 0; d < hd; ++d) acc += q[d] * decode(codes[d]);
      s[j] = acc * RowScale(row) * scale;
    }
  }
  void Accumulate(float* o, const float* p, const uint8_t* v, int64_t stride, int64_t run,
                  int64_t hd) const {
    for (int64_t j = 0; j < run; ++j) {
      const uint8_t* row = v + j * stride;
      const uint8_t* codes = row + 4;
      const float w = p[j] * RowScale(row);
      for (int64_t d = 0; d < hd; ++d) o[d] += w * decode(codes[d]);
    }
  }
};
struct Int8Codes {
  float operator()(uint8_t b) const { return float(int8_t(b)); }
};
struct E4m3Codes {
  const float* table;
  float operator()(uint8_t b) const { return table[b]; }
};

// Calls fn(run, keys, values, stride) for the visible positions of `ranges` split into runs
// of consecutive rows `stride` bytes apart; keys and values point at kv head g's first row.
template <class Fn>
void ForEachRun(const KvView& kv, const std::vector<PosRange>& ranges, int64_t g, Fn&& fn) {
  for (const PosRange& r : ranges) {
    for (int64_t p = r.begin; p < r.end;) {
      const int64_t run = kv.RunLength(p, r.end);
      fn(run, kv.Keys(p, g), kv.Values(p, g), kv.RegionOf(p).pos_stride);
      p += run;
    }
  }
}

template <class Rows>
void Rowwise(ThreadPool& pool, Isa isa, const AttentionSettings& a, const AttentionShape& s,
             const KvView& kv, const float* q, int64_t n, float* out, float* scratch,
             int64_t scratch_floats, const Rows& rows) {
  const int64_t hd = s.head_dim, q_dim = int64_t(s.n_heads) * hd;
  const float scale = 1.0f / std::sqrt(float(hd));
  const AttentionTileKernels& tk = GetAttentionTileKernels(isa);
  const int64_t pairs = n * s.n_heads;
  // Query row i = (token t, head h), with thread `thread`'s score row.
  auto pair = [&](int thread, int64_t i) {
    float* att = scratch + thread * scratch_floats;
    thread_local std::vector<PosRange> ranges;
    const int64_t t = i / s.n_heads, h = i % s.n_heads;
    const int64_t g = s.KvHead(int32_t(h));
    const float* qh = q + t * q_dim + h * hd;
    VisibleRanges(a, kv.batch_pos + t, &ranges);
    int64_t len = 0;
    ForEachRun(kv, ranges, g, [&](int64_t run, const uint8_t* k, const uint8_t*, int64_t stride) {
      rows.Scores(qh, k, stride, run, hd, scale, att + len);
      len += run;
    });
    float m = att[0];
    for (int64_t j = 1; j < len; ++j) m = std::max(m, att[j]);
    const float inv = 1.0f / tk.exp_sum(att, len, m);
    float* o = out + t * q_dim + h * hd;
    std::memset(o, 0, hd * sizeof(float));
    int64_t idx = 0;
    ForEachRun(kv, ranges, g, [&](int64_t run, const uint8_t*, const uint8_t* v, int64_t stride) {
      rows.Accumulate(o, att + idx, v, stride, run, hd);
      idx += run;
    });
    for (int64_t d = 0; d < hd; ++d) o[d] *= inv;
  };
  if (n == 1) {
    // One token's rows (decode) cost the same: contiguous shares per thread, without the shared
    // counter below, whose cache line passed between the threads once per head (decode of the
    // 125m model ~5% faster).
    pool.ParallelForThreads(pairs, [&](int thread, int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) pair(thread, i);
    });
    return;
  }
  // Later tokens see more positions: rows are handed out in small chunks as threads free up.
  const int64_t chunk = std::max<int64_t>(1, pairs / (int64_t(pool.size()) * 8));
  std::atomic<int64_t> next{0};
  pool.Run([&](int thread) {
    for (int64_t b = next.fetch_add(chunk); b < pairs; b = next.fetch_add(chunk)) {
      for (int64_t i = b; i < std::min(pairs, b + chunk); ++i) pair(thread, i);
    }
  });
}

}  // namespace

int64_t KvRowBytes(KvCacheFormat f, int64_t head_dim) {
  return f == KvCacheFormat::kF32 ? head_dim * int64_t(sizeof(float))
                                  : RowBytes(RowFormat(f), head_dim);
}

void QuantizeKvRow(KvCacheFormat f, const float* x, uint8_t* row, int64_t head_dim) {
  GetFormatTraits(RowFormat(f)).from_float_ref(x, row, head_dim);
}

void DequantizeKvRow(KvCacheFormat f, const uint8_t* row, float* out, int64_t head_dim) {
  if (f == KvCacheFormat::kF32) {
    std::memcpy(out, row, head_dim * sizeof(float));
    return;
  }
  GetFormatTraits(RowFormat(f)).to_float(row, out, head_dim);
}

void AttentionRowwise(ThreadPool& pool, Isa isa, const AttentionSettings& a,
                      const AttentionShape& s, const KvView& kv, const float* q, int64_t n,
                      float* out, float* scratch, int64_t scratch_floats) {
  switch (kv.format) {
    case KvCacheFormat::kF32:
      Rowwise(pool, isa, a, s, kv, q, n, out, scratch, scratch_floats,
              F32Rows{GetAttentionTileKernels(isa)});
      break;
    case KvCacheFormat::kInt8:
      Rowwise(pool, isa, a, s, kv, q, n, out, scratch, scratch_floats,
              CodeRows<Int8Codes>{Int8Codes{}});
      break;
    case KvCacheFormat::kFp8E4M3:
      Rowwise(pool, isa, a, s, kv, q, n, out, scratch, scratch_floats,
              CodeRows<E4m3Codes>{E4m3Codes{E4m3Table().data()}});
      break;
  }
}

AttentionKernel ResolveAttentionKernel(AttentionKernel requested, const AttentionShape& s,
                                       int64_t n, KvCacheFormat f) {
  if (requested != AttentionKernel::kAuto) return requested;
  if (f != KvCacheFormat::kF32) return AttentionKernel::kFlash;
  // Query rows that share a kv head in one token: the flash tile of a decode step.
  const int64_t group = s.n_kv_heads > 0 ? s.n_heads / s.n_kv_heads : 1;
  return n * group >= 4 ? AttentionKernel::kFlash : AttentionKernel::kRowwise;
}

int64_t AttentionScratchFloats(AttentionKernel kernel, const AttentionSettings& a,
                               const AttentionShape& s, int64_t n, int64_t context) {
  switch (kernel) {
    case AttentionKernel::kNaive:
      return NaiveScratchFloats(s, n, context);
    case AttentionKernel::kFlash:
      return FlashScratchFloats(a, s);
    default:
      return context;
  }
}

void Attention(ThreadPool& pool, Isa isa, AttentionKernel kernel, const AttentionSettings& a,
               const AttentionShape& s, const KvView& kv, const float* q, int64_t n, float* out,
               float* scratch, int64_t floats) {
  switch (kernel) {
    case AttentionKernel::kNaive:
      AttentionNaive(pool, isa, a, s, kv, q, n, out, scratch, floats);
      break;
    case AttentionKernel::kFlash:
      AttentionFlash(pool, isa, a, s, kv, q, n, out, scratch, floats);
      break;
    default:
      AttentionRowwise(pool, isa, a, s, kv, q, n, out, scratch, floats);
      break;
  }
}

}  // namespace squeeze
