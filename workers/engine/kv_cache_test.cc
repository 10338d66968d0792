// Quantized KV cache (int8 and fp8_e4m3 codes with one f32 scale per token and kv head):
// row round trips, attention over codes equals attention over the decoded cache, logits stay
// close to the f32 cache without being equal, and the bytes per token are the real ones.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "engine/attention.h"
#include "engine/engine.h"
#include "model/loader.h"

namespace squeeze {
namespace {

Model KvModel(KvCacheFormat kv, int dim = 64, int heads = 4, int kv_heads = 2) {
  RandomModelOptions o;
  o.config.dim = dim, o.config.hidden_dim = 172, o.config.n_layers = 2, o.config.n_heads = heads;
  o.config.n_kv_heads = kv_heads, o.config.vocab_size = 100, o.config.max_seq_len = 300;
  o.seed = 3;
  Model m = MakeRandomModel(o);
  m.kv_cache = kv;
  return m;
}

std::vector<int32_t> Tokens(int n) {
  std::vector<int32_t> t;
  for (int i = 0; i < n; ++i) t.push_back((i * 37 + 11) % 100);
  return t;
}

std::vector<float> AllLogits(const Model& m, int n, int threads = 0) {
  EngineOptions o;
  o.threads = threads;
  auto engine = Engine::Create(m, o);
  EXPECT_TRUE(engine.ok()) << engine.status();
  std::vector<float> out(size_t(n) * 100);
  EXPECT_TRUE((*engine)->Forward(Tokens(n), out.data(), true).ok());
  return out;
}

TEST(KvCacheTest, FormatNames) {
  EXPECT_STREQ(KvCacheFormatName(KvCacheFormat::kF32), "f32");
  EXPECT_STREQ(KvCacheFormatName(KvCacheFormat::kInt8), "int8");
  EXPECT_STREQ(KvCacheFormatName(KvCacheFormat::kFp8E4M3), "fp8_e4m3");
}

TEST(KvCacheTest, RowsRoundTripWithinHalfAStep) {
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.0f, 2.0f);
  const int64_t hd = 64;
  std::vector<float> x(hd), back(hd);
  for (float& v : x) v = nd(rng);
  float amax = 0;
  for (float v : x) amax = std::max(amax, std::abs(v));
  std::vector<uint8_t> row(KvRowBytes(KvCacheFormat::kInt8, hd));
  ASSERT_EQ(row.size(), size_t(4 + hd));
  QuantizeKvRow(KvCacheFormat::kInt8, x.data(), row.data(), hd);
  float scale;
  std::memcpy(&scale, row.data(), 4);
  EXPECT_FLOAT_EQ(scale, amax / 127.0f);
  DequantizeKvRow(KvCacheFormat::kInt8, row.data(), back.data(), hd);
  for (int64_t i = 0; i < hd; ++i) EXPECT_LE(std::abs(back[i] - x[i]), 0.5f * scale * 1.0001f);

  ASSERT_EQ(KvRowBytes(KvCacheFormat::kFp8E4M3, hd), 4 + hd);
  QuantizeKvRow(KvCacheFormat::kFp8E4M3, x.data(), row.data(), hd);
  std::memcpy(&scale, row.data(), 4);
  EXPECT_FLOAT_EQ(scale, amax / 448.0f);
  DequantizeKvRow(KvCacheFormat::kFp8E4M3, row.data(), back.data(), hd);
  for (int64_t i = 0; i < hd; ++i) {
    // E4M3 keeps 3 mantissa bits: relative rounding error at most 2^-4 for normal values
    // (|x| / scale >= 2^-6), absolute error at most half the subnormal step 2^-9 below.
    const float tol = std::max(std::abs(x[i]) / 16.0f, scale * std::ldexp(1.0f, -10)) * 1.0001f;
    EXPECT_LE(std::abs(back[i] - x[i]), tol) << i;
  }
  // An all-zero vector: scale 0, decodes to zeros.
  std::vector<float> zeros(hd, 0.0f);
  QuantizeKvRow(KvCacheFormat::kInt8, zeros.data(), row.data(), hd);
  DequantizeKvRow(KvCacheFormat::kInt8, row.data(), back.data(), hd);
  for (float v : back) EXPECT_EQ(v, 0.0f);
}

// Attention straight on the codes equals the f32 attention over the decoded cache.
TEST(KvCacheTest, AttentionOnCodesMatchesAttentionOnDecodedCache) {
  const AttentionShape s{4, 2, 32};
  const int64_t hd = s.head_dim, kv_dim = s.n_kv_heads * hd, q_dim = s.n_heads * hd;
  const int64_t pos = 5, n = 7, ctx = pos + n;
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> q(n * q_dim), k(ctx * kv_dim), v(ctx * kv_dim);
  for (float& x : q) x = nd(rng);
  for (float& x : k) x = nd(rng);
  for (float& x : v) x = 3.0f * nd(rng);
  ThreadPool pool(2);
  for (KvCacheFormat f : {KvCacheFormat::kInt8, KvCacheFormat::kFp8E4M3}) {
    const int64_t rb = KvRowBytes(f, hd);
    std::vector<uint8_t> kq(ctx * s.n_kv_heads * rb), vq(kq.size());
    std::vector<float> kd(k.size()), vd(v.size());
    for (int64_t r = 0; r < ctx * s.n_kv_heads; ++r) {
      QuantizeKvRow(f, k.data() + r * hd, kq.data() + r * rb, hd);
      QuantizeKvRow(f, v.data() + r * hd, vq.data() + r * rb, hd);
      DequantizeKvRow(f, kq.data() + r * rb, kd.data() + r * hd, hd);
      DequantizeKvRow(f, vq.data() + r * rb, vd.data() + r * hd, hd);
    }
    std::vector<float> want(n * q_dim), got(n * q_dim), exact(n * q_dim);
    const AttentionSettings full;
    const int64_t floats = AttentionScratchFloats(AttentionKernel::kRowwise, full, s, n, ctx);
    std::vector<float> scratch(pool.size() * floats);
    // Positions [0, pos) in the cache, the batch's own [pos, ctx) in the batch rows.
    auto view = [&](KvCacheFormat vf, const uint8_t* kc, const uint8_t* vc, int64_t pos_bytes) {
      const int64_t row = pos_bytes / s.n_kv_heads;
      KvView kv;
      kv.format = vf;
      kv.cache = {kc, vc, pos_bytes, row};
      kv.batch_pos = pos;
      kv.batch = {kc + pos * pos_bytes, vc + pos * pos_bytes, pos_bytes, row};
      return kv;
    };
    auto bytes = [](const std::vector<float>& x) {
      return reinterpret_cast<const uint8_t*>(x.data());
    };
    const int64_t f32_bytes = kv_dim * int64_t(sizeof(float));
    Attention(pool, Isa::kRef, AttentionKernel::kRowwise, full, s,
              view(KvCacheFormat::kF32, bytes(kd), bytes(vd), f32_bytes), q.data(), n, want.data(),
              scratch.data(), floats);
    Attention(pool, Isa::kRef, AttentionKernel::kRowwise, full, s,
              view(KvCacheFormat::kF32, bytes(k), bytes(v), f32_bytes), q.data(), n, exact.data(),
              scratch.data(), floats);
    Attention(pool, Isa::kRef, AttentionKernel::kRowwise, full, s,
              view(f, kq.data(), vq.data(), s.n_kv_heads * rb), q.data(), n, got.data(),
              scratch.data(), floats);
    double diff_exact = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_NEAR(got[i], want[i], 1e-4 * (1 + std::abs(want[i]))) << KvCacheFormatName(f) << i;
      diff_exact = std::max(diff_exact, double(std::abs(got[i] - exact[i])));
    }
    EXPECT_GT(diff_exact, 1e-4) << KvCacheFormatName(f) << ": quantization should show";
  }
}

TEST(KvCacheTest, QuantizedCacheLogitsAreCloseButNotIdentical) {
  const std::vector<float> ref = AllLogits(KvModel(KvCacheFormat::kF32), 40);
  double scale = 0;
  for (float v : ref) scale = std::max(scale, double(std::abs(v)));
  for (KvCacheFormat f : {KvCacheFormat::kInt8, KvCacheFormat::kFp8E4M3}) {
    const std::vector<float> got = AllLogits(KvModel(f), 40);
    double err = 0;
    for (size_t i = 0; i < got.size(); ++i) err = std::max(err, double(std::abs(got[i] - ref[i])));
    EXPECT_GT(err, 0.0) << KvCacheFormatName(f) << " should differ from the f32 cache";
    // int8 keeps ~7 bits per value, E4M3 ~4 significant bits.
    EXPECT_LT(err / scale, f == KvCacheFormat::kInt8 ? 1e-2 : 3e-2) << KvCacheFormatName(f);
  }
}

TEST(KvCacheTest, QuantizedCacheIsThreadCountIndependentAndPrefillMatchesDecode) {
  for (KvCacheFormat f : {KvCacheFormat::kInt8, KvCacheFormat::kFp8E4M3}) {
    const Model m = KvModel(f);
    const std::vector<float> one = AllLogits(m, 33, 1);
    EXPECT_EQ(one, AllLogits(m, 33, 2)) << KvCacheFormatName(f);
    EXPECT_EQ(one, AllLogits(m, 33, 3)) << KvCacheFormatName(f);
    // Token by token: every key and value is quantized alone, exactly as in the batch.
    auto engine = Engine::Create(m);
    ASSERT_TRUE(engine.ok());
    EXPECT_EQ((*engine)->kv_cache_format(), f);
    const std::vector<int32_t> toks = Tokens(33);
    std::vector<float> step(100);
    for (size_t i = 0; i < toks.size(); ++i) {
      ASSERT_TRUE((*engine)->Forward(std::span<const int32_t>(&toks[i], 1), step.data()).ok());
      for (int v = 0; v < 100; ++v)
        ASSERT_NEAR(step[v], one[i * 100 + v], 1e-4 * (1 + std::abs(step[v])))
            << KvCacheFormatName(f) << " token " << i << " logit " << v;
    }
  }
}

TEST(KvCacheTest, BytesPerTokenCountCodesAndScales) {
  // head_dim 64: 8 heads of 64 over dim 512, 2 kv heads (kv_dim 128).
  const Model f32 = KvModel(KvCacheFormat::kF32, 512, 8, 2);
  const int64_t layers = 2, kv_dim = 128, kv_heads = 2;
  const int64_t f32_bytes = (*Engine::Create(f32))->kv_bytes_per_token();
  EXPECT_EQ(f32_bytes, layers * 2 * kv_dim * 4);
  for (KvCacheFormat f : {KvCacheFormat::kInt8, KvCacheFormat::kFp8E4M3}) {
    const Model m = KvModel(f, 512, 8, 2);
    auto engine = Engine::Create(m);
    ASSERT_TRUE(engine.ok());
    const int64_t b = (*engine)->kv_bytes_per_token();
    EXPECT_EQ(b, layers * 2 * (kv_dim * 1 + kv_heads * 4)) << KvCacheFormatName(f);
    // 4 bytes per value become 1 byte plus 4 bytes per 64 values: 256 / 68 = 3.76x smaller.
    EXPECT_GT(double(f32_bytes) / double(b), 3.7) << KvCacheFormatName(f);
    EXPECT_LT(double(f32_bytes) / double(b), 4.0) << KvCacheFormatName(f);
  }
}

}  // namespace
}  // namespace squeeze
