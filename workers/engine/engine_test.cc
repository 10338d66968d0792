// Engine behaviour: batched prefill equals token-by-token decode, results do not depend on
// the thread count, bad tokens and context overflow are errors, greedy text of stories260K.
#include "engine/engine.h"

#include <gtest/gtest.h>

#include <cmath>

#include "engine/generate.h"
#include "model/loader.h"
#include "model/tokenizer.h"
#include "testutil/assets.h"

namespace squeeze {
namespace {

Model SmallModel(WeightFormat format = WeightFormat::kF32) {
  RandomModelOptions o;
  o.config.dim = 64, o.config.hidden_dim = 172, o.config.n_layers = 2, o.config.n_heads = 4;
  o.config.n_kv_heads = 2, o.config.vocab_size = 100, o.config.max_seq_len = 300;
  o.format = format;
  o.seed = 3;
  return MakeRandomModel(o);
}

std::vector<int32_t> Tokens(int n, int vocab) {
  std::vector<int32_t> t;
  for (int i = 0; i < n; ++i) t.push_back((i * 37 + 11) % vocab);
  return t;
}

TEST(EngineTest, PrefillMatchesTokenByTokenDecode) {
  const Model model = SmallModel();
  EngineOptions o;
  o.max_batch = 16;  // 40 tokens: three prefill steps, the last one partial
  auto engine = Engine::Create(model, o);
  ASSERT_TRUE(engine.ok()) << engine.status();
  const std::vector<int32_t> toks = Tokens(40, 100);
  std::vector<float> batched(toks.size() * 100), step(100);
  ASSERT_TRUE((*engine)->Forward(toks, batched.data(), true).ok());
  EXPECT_EQ((*engine)->pos(), 40);
  (*engine)->Reset();
  for (size_t i = 0; i < toks.size(); ++i) {
    ASSERT_TRUE((*engine)->Forward(std::span<const int32_t>(&toks[i], 1), step.data()).ok());
    for (int v = 0; v < 100; ++v)
      ASSERT_NEAR(step[v], batched[i * 100 + v], 1e-4 * (1 + std::abs(step[v])))
          << "token " << i << " logit " << v;
  }
}

TEST(EngineTest, ResultsDoNotDependOnThreadCount) {
  const Model model = SmallModel();
  const std::vector<int32_t> toks = Tokens(33, 100);
  std::vector<std::vector<float>> out;
  for (int threads : {1, 2, 3}) {
    EngineOptions o;
    o.threads = threads;
    auto engine = Engine::Create(model, o);
    ASSERT_TRUE(engine.ok());
    EXPECT_EQ((*engine)->threads(), threads);
    out.emplace_back(toks.size() * 100);
    ASSERT_TRUE((*engine)->Forward(toks, out.back().data(), true).ok());
  }
  EXPECT_EQ(out[0], out[1]);
  EXPECT_EQ(out[0], out[2]);
}

TEST(EngineTest, HalfPrecisionWeightsGiveCloseLogits) {
  const Model f32 = SmallModel(WeightFormat::kF32);
  const std::vector<int32_t> toks = Tokens(12, 100);
  std::vector<float> ref(12 * 100);
  ASSERT_TRUE((*Engine::Create(f32))->Forward(toks, ref.data(), true).ok());
  for (WeightFormat f : {WeightFormat::kF16, WeightFormat::kBF16}) {
    const Model m = SmallModel(f);
    EXPECT_EQ(m.layers[0].wq.format(), f);
    std::vector<float> got(12 * 100);
    ASSERT_TRUE((*Engine::Create(m))->Forward(toks, got.data(), true).ok());
    double err = 0, scale = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      err = std::max(err, double(std::abs(got[i] - ref[i])));
      scale = std::max(scale, double(std::abs(ref[i])));
    }
    EXPECT_GT(err, 0.0) << GetFormatTraits(f).name << " should differ from f32 a little";
    EXPECT_LT(err / scale, f == WeightFormat::kF16 ? 5e-3 : 5e-2) << GetFormatTraits(f).name;
  }
}

TEST(EngineTest, RejectsOutOfRangeTokenAndKeepsCache) {
  const Model model = SmallModel();
  auto engine = Engine::Create(model);
  ASSERT_TRUE(engine.ok());
  std::vector<int32_t> toks = {1, 2, 100};
  absl::Status s = (*engine)->Forward(toks, nullptr);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("token id 100 at index 2"), std::string::npos) << s;
  EXPECT_EQ((*engine)->pos(), 0);
  toks = {-1};
  EXPECT_FALSE((*engine)->Forward(toks, nullptr).ok());
}

TEST(EngineTest, RejectsContextOverflow) {
  const Model model = SmallModel();
  EngineOptions o;
  o.max_context = 10;
  auto engine = Engine::Create(model, o);
  ASSERT_TRUE(engine.ok());
  const std::vector<int32_t> toks = Tokens(8, 100);
  ASSERT_TRUE((*engine)->Forward(toks, nullptr).ok());
  absl::Status s = (*engine)->Forward(toks, nullptr);
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ((*engine)->pos(), 8);
}

TEST(EngineTest, KvBytesPerTokenCountsKeysAndValuesOfEveryLayer) {
  const Model model = SmallModel();
  auto engine = Engine::Create(model);
  ASSERT_TRUE(engine.ok());
  // 2 layers x (K + V) x kv_dim (2 heads x 16) x 4 bytes
  EXPECT_EQ((*engine)->kv_bytes_per_token(), 2 * 2 * 32 * 4);
}

TEST(EngineTest, Stories260KGreedyTextFromBos) {
  SQUEEZE_REQUIRE_ASSET(model_path, "models/stories260K/stories260K.bin");
  SQUEEZE_REQUIRE_ASSET(tok_path, "models/stories260K/tok512.bin");
  absl::StatusOr<Model> model = LoadModel(model_path);
  ASSERT_TRUE(model.ok()) << model.status();
  auto tok = LoadTokenizer(tok_path);
  ASSERT_TRUE(tok.ok()) << tok.status();
  auto engine = Engine::Create(*model);
  ASSERT_TRUE(engine.ok());
  const std::vector<int32_t> bos = {1};
  auto out = GenerateGreedy(**engine, bos, 60, 2);
  ASSERT_TRUE(out.ok()) << out.status();
  std::vector<int32_t> all = {1};
  all.insert(all.end(), out->begin(), out->end());
  auto text = (*tok)->Decode(all);
  ASSERT_TRUE(text.ok());
  // Quoted in ../shared/assets/README.md.
  const std::string expected =
      "Once upon a time, there was a little girl named Lily. She loved to play outside in the "
      "park. One day, she saw a big, red ball.";
  EXPECT_EQ(text->substr(0, expected.size()), expected) << *text;
}

}  // namespace
}  // namespace squeeze
