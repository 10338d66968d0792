// Each reported number means what its name says: size = real packed bytes, KLD of a model
// against itself = 0, perplexity = exp(mean NLL) of the scored tokens, the cache is only
// used for the inputs it was written for.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "engine/engine.h"
#include "measure/accuracy.h"
#include "measure/baseline_cache.h"
#include "measure/latency.h"
#include "measure/size.h"
#include "model/loader.h"
#include "testutil/assets.h"

namespace squeeze {
namespace {

Model TinyModel(uint64_t seed, WeightFormat f = WeightFormat::kF32, bool tied = true) {
  RandomModelOptions o;
  o.config.dim = 32, o.config.hidden_dim = 60, o.config.n_layers = 2, o.config.n_heads = 4;
  o.config.n_kv_heads = 4, o.config.vocab_size = 50, o.config.max_seq_len = 64;
  o.config.tied_embeddings = tied;
  o.format = f;
  o.seed = seed;
  return MakeRandomModel(o);
}

std::vector<int32_t> Text(int n) {
  std::vector<int32_t> t;
  for (int i = 0; i < n; ++i) t.push_back(3 + (i * 7 + i / 5) % 45);
  return t;
}

TEST(SizeTest, BytesAreThePackedBytesOfEveryTensorOnce) {
  for (bool tied : {true, false}) {
    const Model f32 = TinyModel(1, WeightFormat::kF32, tied);
    const Model f16 = TinyModel(1, WeightFormat::kF16, tied);
    // Independent count from the config: matrices + norms.
    const ModelConfig& c = f32.config;
    const int64_t per_layer = 2 * int64_t(c.dim) * c.dim + 2 * int64_t(c.kv_dim()) * c.dim +
                              3 * int64_t(c.dim) * c.hidden_dim;
    const int64_t matrices =
        int64_t(c.vocab_size) * c.dim * (tied ? 1 : 2) + c.n_layers * per_layer;
    const int64_t norms = int64_t(c.dim) * (2 * c.n_layers + 1);
    const SizeReport s32 = MeasureSize(f32, nullptr);
    EXPECT_EQ(s32.params, matrices + norms);
    EXPECT_EQ(s32.bytes, 4 * (matrices + norms));
    EXPECT_DOUBLE_EQ(s32.bits_per_weight, 32.0);
    int64_t allocated = 0;  // what the tensors really hold
    for (const auto& [name, t] : f16.Matrices()) allocated += t->rows() * t->row_bytes();
    const SizeReport s16 = MeasureSize(f16, &f32);
    EXPECT_EQ(s16.matrix_bytes, allocated);
    EXPECT_EQ(s16.bytes, 2 * matrices + 4 * norms);
    EXPECT_NEAR(s16.ratio_to_baseline, double(s16.bytes) / double(s32.bytes), 1e-12);
    EXPECT_EQ(s16.bytes_by_format.at("f16"), 2 * matrices);
    EXPECT_EQ(s16.layer_params, c.n_layers * per_layer);
    EXPECT_EQ(s16.layer_matrix_bytes, 2 * c.n_layers * per_layer);
    EXPECT_DOUBLE_EQ(s16.layer_bits_per_weight, 16.0);
    // The KV cache: keys and values of every layer, f32 per element.
    EXPECT_EQ(s16.kv_cache_format, "f32");
    EXPECT_EQ(s16.kv_bytes_per_token, int64_t(c.n_layers) * 2 * c.kv_dim() * 4);
  }
}

TEST(SizeTest, KvBytesPerTokenAreWhatTheEngineAllocates) {
  for (KvCacheFormat f : {KvCacheFormat::kF32, KvCacheFormat::kInt8, KvCacheFormat::kFp8E4M3}) {
    Model m = TinyModel(2, WeightFormat::kF32, true);
    m.kv_cache = f;
    auto engine = Engine::Create(m);
    ASSERT_TRUE(engine.ok()) << engine.status();
    const SizeReport s = MeasureSize(m, nullptr);
    EXPECT_EQ(s.kv_cache_format, KvCacheFormatName(f));
    EXPECT_EQ(s.kv_bytes_per_token, (*engine)->kv_bytes_per_token()) << KvCacheFormatName(f);
  }
  Model m = TinyModel(2, WeightFormat::kF32, true);
  m.kv_cache = KvCacheFormat::kInt8;  // per (token, kv head): f32 scale + one byte per element
  EXPECT_EQ(MeasureSize(m, nullptr).kv_bytes_per_token,
            int64_t(m.config.n_layers) * 2 * m.config.n_kv_heads * (4 + m.config.head_dim()));
}

TEST(AccuracyTest, WindowsScoreEveryTextTokenOnce) {
  const std::vector<int32_t> text = Text(25);
  const auto windows = MakeWindows(text, 8, /*bos_id=*/1);
  std::vector<int32_t> scored;
  for (const auto& w : windows) {
    EXPECT_LE(w.size(), 8u);
    EXPECT_EQ(w[0], 1);
    scored.insert(scored.end(), w.begin() + 1, w.end());
  }
  EXPECT_EQ(scored, text);
}

TEST(AccuracyTest, KldOfModelAgainstItselfIsZeroAndTop1IsOne) {
  const Model m = TinyModel(2);
  auto engine = Engine::Create(m);
  ASSERT_TRUE(engine.ok());
  EvalSettings s;
  s.context = 16;
  auto base = ComputeLogProbs(**engine, Text(70), s, 1);
  ASSERT_TRUE(base.ok()) << base.status();
  auto r = MeasureAccuracy(**engine, Text(70), s, 1, &*base);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->tokens_scored, 70);
  EXPECT_EQ(r->kld.mean, 0.0);
  EXPECT_EQ(r->kld.max, 0.0);
  EXPECT_EQ(r->top1_agreement, 1.0);
  EXPECT_DOUBLE_EQ(r->perplexity_ratio, 1.0);
}

TEST(AccuracyTest, DifferentModelHasPositiveKld) {
  const Model a = TinyModel(2), b = TinyModel(3);
  auto ea = Engine::Create(a);
  auto eb = Engine::Create(b);
  EvalSettings s;
  s.context = 16;
  auto base = ComputeLogProbs(**ea, Text(40), s, 1);
  ASSERT_TRUE(base.ok());
  auto r = MeasureAccuracy(**eb, Text(40), s, 1, &*base);
  ASSERT_TRUE(r.ok());
  EXPECT_GT(r->kld.mean, 0.0);
  EXPECT_LE(r->kld.median, r->kld.p90);
  EXPECT_LE(r->kld.p90, r->kld.p99);
  EXPECT_LE(r->kld.p99, r->kld.max);
  EXPECT_LT(r->top1_agreement, 1.0);
}

TEST(AccuracyTest, PerplexityIsExpOfMeanNllOfTheScoredTokens) {
  const Model m = TinyModel(4);
  auto engine = Engine::Create(m);
  const std::vector<int32_t> text = Text(30);
  EvalSettings s;
  s.context = 11;  // windows of 10 text tokens
  auto r = MeasureAccuracy(**engine, text, s, 1, nullptr);
  ASSERT_TRUE(r.ok());
  // Independent: run each window, softmax in double, sum -log p(target).
  double nll = 0;
  int n = 0;
  std::vector<float> logits(11 * 50);
  for (int b = 0; b < 30; b += 10) {
    std::vector<int32_t> w = {1};
    w.insert(w.end(), text.begin() + b, text.begin() + b + 10);
    (*engine)->Reset();
    ASSERT_TRUE((*engine)->Forward(w, logits.data(), true).ok());
    for (int i = 0; i < 10; ++i, ++n) {
      double z = 0;
      for (int v = 0; v < 50; ++v) z += std::exp(double(logits[i * 50 + v]));
      nll -= std::log(std::exp(double(logits[i * 50 + w[i + 1]])) / z);
    }
  }
  EXPECT_EQ(r->tokens_scored, n);
  EXPECT_NEAR(r->perplexity, std::exp(nll / n), 1e-4 * std::exp(nll / n));
  // A random model over 50 tokens is near-uniform: perplexity on the order of the vocab.
  EXPECT_GT(r->perplexity, 5.0);
}

TEST(AccuracyTest, MismatchedBaselineIsAnError) {
  const Model m = TinyModel(2);
  auto engine = Engine::Create(m);
  EvalSettings s;
  s.context = 16;
  auto base = ComputeLogProbs(**engine, Text(40), s, 1);
  auto r = MeasureAccuracy(**engine, Text(41), s, 1, &*base);
  EXPECT_FALSE(r.ok());
}

TEST(BaselineCacheTest, RoundTripsAndIsUsedOnlyForItsOwnKey) {
  const std::string dir = testing::TempDir("cache");
  const BaselineCache cache(dir);
  LogProbs lp;
  lp.vocab = 3;
  lp.targets = {0, 2};
  lp.values = {-1.f, -2.f, -3.f, -0.5f, -1.5f, -2.5f};
  EvalSettings s;
  const std::vector<int32_t> toks = {5, 6, 7};
  const std::string key = BaselineCacheKey("model-a", toks, s, 256, 1, "avx512");
  ASSERT_TRUE(cache.Store(key, lp).ok());
  std::optional<LogProbs> back = cache.Load(key);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->targets, lp.targets);
  EXPECT_EQ(back->values, lp.values);
  // Every input changes the key.
  const std::vector<int32_t> other = {5, 6, 8};
  EvalSettings s2;
  s2.max_tokens = 2;
  for (const std::string& k : {BaselineCacheKey("model-b", toks, s, 256, 1, "avx512"),
                               BaselineCacheKey("model-a", other, s, 256, 1, "avx512"),
                               BaselineCacheKey("model-a", toks, s2, 256, 1, "avx512"),
                               BaselineCacheKey("model-a", toks, s, 128, 1, "avx512"),
                               BaselineCacheKey("model-a", toks, s, 256, -1, "avx512"),
                               BaselineCacheKey("model-a", toks, s, 256, 1, "ref")}) {
    EXPECT_NE(k, key);
    EXPECT_FALSE(cache.Load(k).has_value());
  }
  // An entry copied under another key's name is not used: the stored key must match.
  const std::string k2 = BaselineCacheKey("model-b", toks, s, 256, 1, "avx512");
  std::filesystem::copy_file(cache.PathFor(key), cache.PathFor(k2));
  EXPECT_FALSE(cache.Load(k2).has_value());
  // A truncated entry is ignored.
  std::filesystem::resize_file(cache.PathFor(key), 30);
  EXPECT_FALSE(cache.Load(key).has_value());
}

TEST(LatencyTest, ReportsSaneStatistics) {
  const Model m = TinyModel(5);
  auto engine = Engine::Create(m);
  LatencySettings s;
  s.prompt = 8, s.generate = 4, s.repeats = 3;
  auto r = MeasureLatency(**engine, s, {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->repeats, 3);
  EXPECT_GT(r->decode_ms_per_token.median, 0);
  EXPECT_GT(r->prefill_tokens_per_s.median, 0);
  EXPECT_LE(r->decode_ms_per_token.min, r->decode_ms_per_token.median);
  EXPECT_LE(r->decode_ms_per_token.median, r->decode_ms_per_token.max);
  EXPECT_GT(r->peak_rss_bytes, 0);
  s.prompt = 60, s.generate = 10;  // exceeds max_seq_len 64
  EXPECT_FALSE(MeasureLatency(**engine, s, {}).ok());
}

TEST(StatsTest, MedianP90AndCv) {
  const std::vector<double> v = {1, 2, 3, 4, 10};
  const Stats s = ComputeStats(v);
  EXPECT_DOUBLE_EQ(s.median, 3);
  EXPECT_DOUBLE_EQ(s.p90, 4 + 0.6 * 6);
  EXPECT_DOUBLE_EQ(s.mean, 4);
  EXPECT_NEAR(s.cv, std::sqrt((9 + 4 + 1 + 0 + 36) / 4.0) / 4, 1e-12);
}

}  // namespace
}  // namespace squeeze
