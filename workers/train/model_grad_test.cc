// The training forward pass computes the engine's function: for the same weights its logits
// equal the engine's (random models with grouped-query attention, tied and separate
// classifiers, and stories260K when the shared assets are present).
#include "train/model_grad.h"

#include <gtest/gtest.h>

#include <cmath>

#include "engine/engine.h"
#include "model/loader.h"
#include "testutil/assets.h"
#include "util/rng.h"

namespace squeeze {
namespace {

// Max |training logits - engine logits| over B windows of T tokens, and max |engine logit|.
std::pair<double, double> CompareWithEngine(const Model& model, int64_t B, int64_t T) {
  const ParamLayout layout = ParamLayout::For(model.config);
  std::vector<float> params(size_t(layout.total));
  ParamsFromModel(model, layout, params.data());
  ThreadPool pool(2);
  ModelGrad<float> grad(layout, {&pool, ActiveIsa()});
  Rng rng(3);
  std::vector<int32_t> tokens(size_t(B * T));
  for (int32_t& t : tokens) t = int32_t(rng.Below(uint64_t(model.config.vocab_size)));
  const float* logits = grad.Forward(params.data(), tokens.data(), B, T);
  auto engine = Engine::Create(model);
  EXPECT_TRUE(engine.ok()) << engine.status();
  const int64_t V = model.config.vocab_size;
  std::vector<float> ref(size_t(T * V));
  double diff = 0, scale = 0;
  for (int64_t b = 0; b < B; ++b) {
    (*engine)->Reset();
    EXPECT_TRUE((*engine)->Forward(std::span(tokens).subspan(b * T, T), ref.data(), true).ok());
    for (int64_t i = 0; i < T * V; ++i) {
      diff = std::max(diff, double(std::fabs(logits[b * T * V + i] - ref[i])));
      scale = std::max(scale, double(std::fabs(ref[i])));
    }
  }
  return {diff, scale};
}

// Both passes are f32 with sums in different orders; over these depths the logits agree to
// a few 1e-6 of their scale. 1e-4 of the largest logit is the stated bound.
constexpr double kRelTol = 1e-4;

TEST(TrainForwardTest, MatchesEngineOnRandomModels) {
  for (bool tied : {true, false}) {
    RandomModelOptions o;
    o.config.dim = 48, o.config.hidden_dim = 80, o.config.n_layers = 3, o.config.n_heads = 6;
    o.config.n_kv_heads = 2, o.config.vocab_size = 97, o.config.max_seq_len = 64;
    o.config.tied_embeddings = tied;
    o.config.rope_theta = 5000.0f, o.config.norm_eps = 1e-6f;
    const Model m = MakeRandomModel(o);
    const auto [diff, scale] = CompareWithEngine(m, 3, 50);
    EXPECT_GT(scale, 0.1);
    EXPECT_LE(diff, kRelTol * scale) << (tied ? "tied" : "untied");
  }
}

TEST(TrainForwardTest, MatchesEngineOnStories260K) {
  SQUEEZE_REQUIRE_ASSET(path, "models/stories260K/stories260K.bin");
  absl::StatusOr<Model> m = LoadModel(path);
  ASSERT_TRUE(m.ok()) << m.status();
  const auto [diff, scale] = CompareWithEngine(*m, 2, 100);
  EXPECT_LE(diff, kRelTol * scale);
}

TEST(TrainForwardTest, ParamsRoundTripThroughModel) {
  RandomModelOptions o;
  o.config.dim = 16, o.config.hidden_dim = 24, o.config.n_layers = 2, o.config.n_heads = 2;
  o.config.n_kv_heads = 1, o.config.vocab_size = 20, o.config.max_seq_len = 16;
  o.config.tied_embeddings = false;
  const Model m = MakeRandomModel(o);
  const ParamLayout layout = ParamLayout::For(m.config);
  std::vector<float> p(size_t(layout.total));
  ParamsFromModel(m, layout, p.data());
  const Model back = ModelFromParams(layout, p.data());
  const auto a = m.Matrices(), b = back.Matrices();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first);
    EXPECT_EQ(a[i].second->ToFloat(), b[i].second->ToFloat()) << a[i].first;
  }
  EXPECT_EQ(back.final_norm, m.final_norm);
}

}  // namespace
}  // namespace squeeze
