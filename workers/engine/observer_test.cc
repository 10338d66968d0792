// The calibration hooks of the engine: the observer sees each layer matrix's real input,
// and last_layer stops the forward pass after that layer.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "engine/engine.h"
#include "model/loader.h"
#include "squeeze/kernels/ops.h"

namespace squeeze {
namespace {

Model ObservedModel() {
  RandomModelOptions o;
  o.config.dim = 32, o.config.hidden_dim = 48, o.config.n_layers = 3, o.config.n_heads = 4;
  o.config.n_kv_heads = 2, o.config.vocab_size = 50, o.config.max_seq_len = 64;
  o.seed = 9;
  return MakeRandomModel(o);
}

struct Call {
  int layer;
  LinearSite site;
  int64_t n, cols;
  std::vector<float> x;
};

TEST(EngineObserverTest, SeesEveryLayerInputInOrderWithItsShape) {
  const Model m = ObservedModel();
  std::vector<Call> calls;
  EngineOptions o;
  o.observer = [&](int layer, LinearSite site, const float* x, int64_t n, int64_t cols) {
    calls.push_back({layer, site, n, cols, std::vector<float>(x, x + n * cols)});
  };
  auto engine = Engine::Create(m, o);
  ASSERT_TRUE(engine.ok()) << engine.status();
  const std::vector<int32_t> toks = {1, 7, 3, 42, 5};
  std::vector<float> logits(50);
  ASSERT_TRUE((*engine)->Forward(toks, logits.data()).ok());
  const ModelConfig& c = m.config;
  ASSERT_EQ(calls.size(), size_t(c.n_layers * kLinearSiteCount));
  const int64_t cols[] = {c.dim, int64_t(c.n_heads) * c.head_dim(), c.dim, c.hidden_dim};
  for (size_t i = 0; i < calls.size(); ++i) {
    EXPECT_EQ(calls[i].layer, int(i / kLinearSiteCount));
    EXPECT_EQ(int(calls[i].site), int(i % kLinearSiteCount));
    EXPECT_EQ(calls[i].n, 5);
    EXPECT_EQ(calls[i].cols, cols[i % kLinearSiteCount]);
  }
  // Layer 0's q/k/v input is the RMS-normed token embedding, computed here independently.
  std::vector<float> row(c.dim);
  for (size_t t = 0; t < toks.size(); ++t) {
    m.embedding.RowToFloat(toks[t], row.data());
    double ss = 0;
    for (float v : row) ss += double(v) * v;
    const double inv = 1.0 / std::sqrt(ss / c.dim + c.norm_eps);
    for (int64_t i = 0; i < c.dim; ++i) {
      EXPECT_NEAR(calls[0].x[t * c.dim + i], row[i] * inv * m.layers[0].attn_norm[i], 1e-5)
          << "token " << t << " column " << i;
    }
  }
}

TEST(EngineObserverTest, LastLayerStopsTheForwardPassAndRefusesLogits) {
  const Model m = ObservedModel();
  int max_layer = -1, count = 0;
  EngineOptions o;
  o.last_layer = 1;
  o.observer = [&](int layer, LinearSite, const float*, int64_t, int64_t) {
    max_layer = std::max(max_layer, layer);
    ++count;
  };
  auto engine = Engine::Create(m, o);
  ASSERT_TRUE(engine.ok()) << engine.status();
  const std::vector<int32_t> toks = {1, 2, 3};
  ASSERT_TRUE((*engine)->Forward(toks, nullptr).ok());
  EXPECT_EQ(max_layer, 1);
  EXPECT_EQ(count, 2 * kLinearSiteCount);
  std::vector<float> logits(50);
  const absl::Status s = (*engine)->Forward(toks, logits.data());
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("last_layer"), std::string::npos) << s;

  o.last_layer = 3;  // the model has 3 layers: 0..2
  auto bad = Engine::Create(m, o);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("last_layer 3"), std::string::npos) << bad.status();
}

}  // namespace
}  // namespace squeeze
