// Calibration: sequences are cut from the text as documented, input statistics equal an
// independent computation (layer 0's qkv input is rmsnorm(embedding row)), Gram matrices are
// symmetric sums of x xᵀ, the cache collects once per (model, set), and errors name the source.
#include "calibration/calibration.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>

#include "model/loader.h"

namespace squeeze {
namespace {

using ::testing::HasSubstr;

// One token per byte: id = 3 + byte % 50; BOS 1, EOS 2.
class ByteTokenizer : public Tokenizer {
 public:
  std::vector<int32_t> Encode(std::string_view text, bool add_bos) const override {
    std::vector<int32_t> ids;
    if (add_bos) ids.push_back(1);
    for (unsigned char c : text) ids.push_back(3 + c % 50);
    return ids;
  }
  absl::StatusOr<std::string> Decode(std::span<const int32_t>) const override { return ""; }
  int32_t vocab_size() const override { return 60; }
  int32_t bos_id() const override { return 1; }
  int32_t eos_id() const override { return 2; }
  std::string_view kind() const override { return "test"; }
};

std::string SomeText(int n, uint32_t seed = 5) {
  std::mt19937 rng(seed);
  std::string s;
  for (int i = 0; i < n; ++i) s.push_back(char('a' + rng() % 26));
  return s;
}

Model TinyModel(uint64_t seed = 3) {
  RandomModelOptions o;
  o.config.dim = 72;  // more than one 64-wide Gram tile, the last one partial
  o.config.hidden_dim = 100, o.config.n_layers = 3, o.config.n_heads = 4;
  o.config.n_kv_heads = 2, o.config.vocab_size = 60, o.config.max_seq_len = 64;
  o.seed = seed;
  Model m = MakeRandomModel(o);
  std::mt19937 rng(uint32_t(seed) + 11);
  std::uniform_real_distribution<float> u(0.5f, 1.5f);
  for (LayerWeights& l : m.layers) {
    for (float& g : l.attn_norm) g = u(rng);
    for (float& g : l.ffn_norm) g = u(rng);
  }
  return m;
}

CalibrationSet MakeSet(int sequences, int context, uint32_t seed = 5) {
  ByteTokenizer tok;
  CalibrationOptions o;
  o.sequences = sequences;
  o.context = context;
  absl::StatusOr<CalibrationSet> s = MakeCalibrationSet(tok, SomeText(400, seed), "t.txt", o);
  EXPECT_TRUE(s.ok()) << s.status();
  return *s;
}

TEST(MakeCalibrationSetTest, CutsEvenlySpreadSequencesStartingWithBos) {
  ByteTokenizer tok;
  const std::string text = SomeText(400);
  const std::vector<int32_t> all = tok.Encode(text, false);
  CalibrationOptions o;
  o.sequences = 4;
  o.context = 33;
  absl::StatusOr<CalibrationSet> s = MakeCalibrationSet(tok, text, "a.txt", o);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->source, "a.txt");
  ASSERT_EQ(s->sequences.size(), 4u);
  std::vector<int64_t> starts;
  for (const std::vector<int32_t>& q : s->sequences) {
    ASSERT_EQ(q.size(), 33u);
    EXPECT_EQ(q[0], 1);
    // The 32 text tokens are a contiguous run of the text's tokens.
    auto it = std::search(all.begin(), all.end(), q.begin() + 1, q.end());
    ASSERT_NE(it, all.end());
    starts.push_back(it - all.begin());
  }
  EXPECT_EQ(starts.front(), 0);
  EXPECT_EQ(starts.back(), int64_t(all.size()) - 32);  // spread to the end of the text
  for (size_t i = 1; i < starts.size(); ++i) EXPECT_GE(starts[i] - starts[i - 1], 32);
  EXPECT_EQ(s->key.size(), 32u);

  // Fewer sequences when the text is short: 400 tokens hold 12 runs of 32.
  o.sequences = 100;
  absl::StatusOr<CalibrationSet> many = MakeCalibrationSet(tok, text, "a.txt", o);
  ASSERT_TRUE(many.ok());
  EXPECT_EQ(many->sequences.size(), 12u);
  EXPECT_NE(many->key, s->key);
  // The key follows the tokens.
  o.sequences = 4;
  absl::StatusOr<CalibrationSet> other = MakeCalibrationSet(tok, SomeText(400, 9), "a.txt", o);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->key, s->key);
  absl::StatusOr<CalibrationSet> same = MakeCalibrationSet(tok, text, "b.txt", o);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->key, s->key);
}

TEST(MakeCalibrationSetTest, ErrorsNameTheSource) {
  ByteTokenizer tok;
  CalibrationOptions o;
  o.context = 128;
  absl::StatusOr<CalibrationSet> s = MakeCalibrationSet(tok, SomeText(50), "short.txt", o);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr("short.txt"));
  EXPECT_THAT(s.status().message(), HasSubstr("50 tokens"));
  o.context = 0;
  s = MakeCalibrationSet(tok, SomeText(500), "c.txt", o);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr("c.txt"));
  EXPECT_THAT(s.status().message(), HasSubstr("context"));
  o.context = 16;
  o.sequences = -1;
  s = MakeCalibrationSet(tok, SomeText(500), "d.txt", o);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr("d.txt"));
  EXPECT_THAT(s.status().message(), HasSubstr("sequences"));
}

TEST(CollectInputStatsTest, LayerZeroQkvStatsEqualRmsnormOfEmbeddingRows) {
  const Model m = TinyModel();
  const CalibrationSet set = MakeSet(3, 40);
  CollectOptions o;
  o.gram = true;
  o.threads = 2;
  absl::StatusOr<std::vector<LayerStats>> st = CollectInputStats(m, set, o);
  ASSERT_TRUE(st.ok()) << st.status();
  ASSERT_EQ(st->size(), 3u);

  // Independent computation: x = attn_norm ⊙ e / rms(e) for every token's embedding row e.
  const int64_t dim = m.config.dim;
  std::vector<double> amax(dim, 0), asum(dim, 0), gram(dim * dim, 0);
  int64_t tokens = 0;
  std::vector<float> e(dim);
  for (const std::vector<int32_t>& seq : set.sequences) {
    for (int32_t id : seq) {
      m.embedding.RowToFloat(id, e.data());
      double ss = 0;
      for (float v : e) ss += double(v) * v;
      const double r = 1.0 / std::sqrt(ss / dim + m.config.norm_eps);
      std::vector<double> x(dim);
      for (int64_t c = 0; c < dim; ++c) x[c] = e[c] * r * m.layers[0].attn_norm[c];
      for (int64_t c = 0; c < dim; ++c) {
        amax[c] = std::max(amax[c], std::fabs(x[c]));
        asum[c] += std::fabs(x[c]);
        for (int64_t k = 0; k < dim; ++k) gram[c * dim + k] += x[c] * x[k];
      }
      ++tokens;
    }
  }
  const InputStats& q = (*st)[0].at(LinearSite::kQkv);
  EXPECT_EQ(q.cols, dim);
  EXPECT_EQ(q.tokens, tokens);
  ASSERT_EQ(q.abs_max.size(), size_t(dim));
  ASSERT_EQ(q.gram.size(), size_t(dim * dim));
  for (int64_t c = 0; c < dim; ++c) {
    EXPECT_NEAR(q.abs_max[c], amax[c], 1e-5 * (1 + amax[c])) << c;
    EXPECT_NEAR(q.abs_mean[c], asum[c] / tokens, 1e-5) << c;
    for (int64_t k = 0; k < dim; ++k)
      EXPECT_NEAR(q.gram[c * dim + k], gram[c * dim + k], 1e-4 * (1 + std::fabs(gram[c * dim + k])))
          << c << "," << k;
  }
  // Every site of every layer was seen with its own width.
  for (const LayerStats& l : *st) {
    EXPECT_EQ(l.at(LinearSite::kWo).cols, 4 * m.config.head_dim());
    EXPECT_EQ(l.at(LinearSite::kGateUp).cols, dim);
    EXPECT_EQ(l.at(LinearSite::kDown).cols, 100);
    for (int s = 0; s < kLinearSiteCount; ++s) EXPECT_EQ(l.site[s].tokens, tokens);
  }
}

TEST(CollectInputStatsTest, GramIsTheSymmetricSumOfOuterProductsOfObservedRows) {
  const Model m = TinyModel(4);
  const CalibrationSet set = MakeSet(2, 50);
  // The rows of layer 1's down-projection input, captured by an observer of our own.
  std::vector<std::vector<float>> rows;
  EngineOptions eo;
  eo.observer = [&](int layer, LinearSite site, const float* x, int64_t n, int64_t cols) {
    if (layer != 1 || site != LinearSite::kDown) return;
    for (int64_t t = 0; t < n; ++t) rows.emplace_back(x + t * cols, x + (t + 1) * cols);
  };
  auto engine = Engine::Create(m, eo);
  ASSERT_TRUE(engine.ok());
  for (const auto& seq : set.sequences) {
    (*engine)->Reset();
    std::vector<float> logits(60);
    ASSERT_TRUE((*engine)->Forward(seq, logits.data()).ok());
  }
  ASSERT_EQ(rows.size(), 100u);

  CollectOptions o;
  o.first_layer = 1;
  o.last_layer = 1;
  o.gram = true;
  o.threads = 1;
  absl::StatusOr<std::vector<LayerStats>> st = CollectInputStats(m, set, o);
  ASSERT_TRUE(st.ok()) << st.status();
  ASSERT_EQ(st->size(), 1u);
  const InputStats& d = (*st)[0].at(LinearSite::kDown);
  const int64_t h = 100;
  ASSERT_EQ(d.gram.size(), size_t(h * h));
  for (int64_t i = 0; i < h; ++i) {
    for (int64_t j = 0; j < h; ++j) {
      EXPECT_EQ(d.gram[i * h + j], d.gram[j * h + i]);
      double want = 0;
      for (const auto& r : rows) want += double(r[i]) * r[j];
      EXPECT_NEAR(d.gram[i * h + j], want, 1e-6 * (1 + std::fabs(want))) << i << "," << j;
    }
  }
  // Without gram the matrix stays empty; the other statistics are the same.
  o.gram = false;
  absl::StatusOr<std::vector<LayerStats>> plain = CollectInputStats(m, set, o);
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE((*plain)[0].at(LinearSite::kDown).gram.empty());
  EXPECT_EQ((*plain)[0].at(LinearSite::kDown).abs_max, d.abs_max);
}

TEST(CollectInputStatsTest, BadLayerRangesAreErrors) {
  const Model m = TinyModel();
  const CalibrationSet set = MakeSet(1, 16);
  CollectOptions o;
  o.first_layer = 2;
  o.last_layer = 1;
  EXPECT_FALSE(CollectInputStats(m, set, o).ok());
  o.first_layer = 0;
  o.last_layer = 3;
  absl::StatusOr<std::vector<LayerStats>> st = CollectInputStats(m, set, o);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.status().message(), HasSubstr("3 layers"));
  const CalibrationSet longer = MakeSet(1, 100);  // the model's context is 64
  st = CollectInputStats(m, longer, {});
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.status().message(), HasSubstr("t.txt"));
}

TEST(StatsCacheTest, CollectsOncePerModelAndSet) {
  Model m = TinyModel();
  const CalibrationSet set = MakeSet(2, 20);
  StatsCache cache;
  auto a = cache.Get(m, set, 1, ActiveIsa());
  auto b = cache.Get(m, set, 1, ActiveIsa());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(cache.collections(), 1);
  EXPECT_EQ(a->get(), b->get());
  ASSERT_EQ((*a)->size(), 3u);
  EXPECT_TRUE((**a)[0].at(LinearSite::kQkv).gram.empty());
  EXPECT_GT((**a)[2].at(LinearSite::kDown).tokens, 0);
  // Another set, or the same model with other weights, collects again.
  ASSERT_TRUE(cache.Get(m, MakeSet(2, 20, 8), 1, ActiveIsa()).ok());
  EXPECT_EQ(cache.collections(), 2);
  m.content_hash += "x";
  ASSERT_TRUE(cache.Get(m, set, 1, ActiveIsa()).ok());
  EXPECT_EQ(cache.collections(), 3);
}

}  // namespace
}  // namespace squeeze
