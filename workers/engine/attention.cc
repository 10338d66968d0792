// Naive causal attention, parallel over (token, head) pairs, over an f32 or a quantized
// (int8 / E4M3 codes with one scale per token and kv head) KV cache.
#include "engine/attention.h"

#include <array>
#include <cmath>
#include <cstring>

#include "squeeze/kernels/format.h"
#include "squeeze/kernels/ops.h"

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

struct Int8Codes {
  float operator()(uint8_t b) const { return float(int8_t(b)); }
};
struct E4m3Codes {
  const float* table;
  float operator()(uint8_t b) const { return table[b]; }
};

template <class Decode>
void AttendQuantized(ThreadPool& pool, const AttentionShape& s, Decode decode, int64_t rb,
                     const float* q, const uint8_t* k_cache, const uint8_t* v_cache, int64_t pos,
                     int64_t n, float* out, float* scratch) {
  const int64_t hd = s.head_dim, q_dim = int64_t(s.n_heads) * hd;
  const int64_t pos_bytes = int64_t(s.n_kv_heads) * rb;
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
      for (int64_t j = 0; j < len; ++j) {
        const uint8_t* row = k_cache + j * pos_bytes + kvh * rb;
        const uint8_t* codes = row + 4;
        float acc = 0.0f;
        for (int64_t d = 0; d < hd; ++d) acc += qh[d] * decode(codes[d]);
        att[j] = acc * RowScale(row) * scale;
      }
      softmax_ref(att, len);
      float* o = out + t * q_dim + h * hd;
      std::memset(o, 0, hd * sizeof(float));
      for (int64_t j = 0; j < len; ++j) {
        const uint8_t* row = v_cache + j * pos_bytes + kvh * rb;
        const uint8_t* codes = row + 4;
        const float p = att[j] * RowScale(row);
        for (int64_t d = 0; d < hd; ++d) o[d] += p * decode(codes[d]);
      }
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
  GetFormatTraits(RowFormat(f)).to_float(row, out, head_dim);
}

void CausalAttentionQuantized(ThreadPool& pool, const AttentionShape& s, KvCacheFormat f,
                              const float* q, const uint8_t* k_cache, const uint8_t* v_cache,
                              int64_t pos, int64_t n, float* out, float* scratch) {
  if (f == KvCacheFormat::kInt8) {
    AttendQuantized(pool, s, Int8Codes{}, KvRowBytes(f, s.head_dim), q, k_cache, v_cache, pos, n,
                    out, scratch);
  } else {
    AttendQuantized(pool, s, E4m3Codes{E4m3Table().data()}, KvRowBytes(f, s.head_dim), q, k_cache,
                    v_cache, pos, n, out, scratch);
  }
}

void CausalAttention(ThreadPool& pool, Isa isa, const AttentionShape& s, const float* q,
                     const float* k_cache, const float* v_cache, int64_t pos, int64_t n, float* out,
                     float* scratch) {
  const int64_t hd = s.head_dim, q_dim = int64_t(s.n_heads) * hd,
                kv_dim = int64_t(s.n_kv_heads) * hd;
  const int64_t group = s.n_heads / s.n_kv_heads;
  const float scale = 1.0f / std::sqrt(float(hd));
  const int64_t ctx = pos + n;
  const int64_t pairs = n * s.n_heads;
  const VecKernels& vk = GetVecKernels(isa);
  pool.Run([&](int thread) {
    float* att = scratch + thread * ctx;
    const int64_t b = pairs * thread / pool.size(), e = pairs * (thread + 1) / pool.size();
    for (int64_t i = b; i < e; ++i) {
      const int64_t t = i / s.n_heads, h = i % s.n_heads, kvh = h / group;
      const int64_t len = pos + t + 1;
      const float* qh = q + t * q_dim + h * hd;
      for (int64_t j = 0; j < len; ++j)
        att[j] = vk.dot(qh, k_cache + j * kv_dim + kvh * hd, hd) * scale;
      softmax_ref(att, len);
      float* o = out + t * q_dim + h * hd;
      std::memset(o, 0, hd * sizeof(float));
      for (int64_t j = 0; j < len; ++j) vk.axpy(o, att[j], v_cache + j * kv_dim + kvh * hd, hd);
    }
  });
}

}  // namespace squeeze
