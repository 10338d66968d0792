// Structured pruning and attention-variant techniques: head_prune / ffn_prune remove exactly
// the requested number of heads / channels and the shrunk model equals the original with
// those heads / channels zeroed; they compose with quantizers and survive a save and load;
// gqa with G = n_heads changes nothing, mqa shrinks the KV cache; the attention techniques set
// the model's settings and their schemas reject bad values by name.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>

#include "absl/strings/str_cat.h"
#include "engine/engine.h"
#include "measure/size.h"
#include "model/loader.h"
#include "techniques/registry.h"
#include "testutil/assets.h"

namespace squeeze {
namespace {

using ::testing::HasSubstr;

Model TestModel(int32_t heads, int32_t kv_heads, int32_t hidden = 96) {
  RandomModelOptions o;
  o.config.dim = 64, o.config.hidden_dim = hidden, o.config.n_layers = 3;
  o.config.n_heads = heads, o.config.n_kv_heads = kv_heads;
  o.config.vocab_size = 60, o.config.max_seq_len = 64;
  o.config.tied_embeddings = false;
  o.seed = 11;
  return MakeRandomModel(o);
}

std::vector<int32_t> Tokens(int n) {
  std::vector<int32_t> t;
  for (int i = 0; i < n; ++i) t.push_back(3 + (i * 11 + i / 3) % 55);
  return t;
}

std::vector<float> Logits(const Model& m, int n = 40) {
  auto engine = Engine::Create(m);
  EXPECT_TRUE(engine.ok()) << engine.status();
  std::vector<float> out(size_t(n) * m.config.vocab_size);
  EXPECT_TRUE((*engine)->Forward(Tokens(n), out.data(), true).ok());
  return out;
}

void ExpectClose(const std::vector<float>& got, const std::vector<float>& want, double tol,
                 const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], want[i], tol * (1 + std::abs(want[i]))) << what << " at " << i;
}

absl::StatusOr<Model> Apply(const Model& base, const std::vector<std::string>& specs,
                            const TechniqueContext& ctx = {}) {
  Model m = base;
  absl::StatusOr<Pipeline> p = MakePipeline(specs);
  if (!p.ok()) return p.status();
  absl::StatusOr<std::vector<std::string>> applied = ApplyPipeline(*p, m, ctx);
  if (!applied.ok()) return applied.status();
  return m;
}

// Zeroes the columns of `t` (an f32 matrix) for which drop(c) holds.
void ZeroColumns(WeightTensor& t, const std::function<bool(int64_t)>& drop) {
  std::vector<float> v = t.ToFloat();
  for (int64_t r = 0; r < t.rows(); ++r) {
    for (int64_t c = 0; c < t.cols(); ++c) {
      if (drop(c)) v[r * t.cols() + c] = 0.0f;
    }
  }
  t = WeightTensor::FromFloat(t.format(), t.rows(), t.cols(), v.data());
}

// The heads a pruned layer kept: rows of its wq found among the original's head blocks.
std::vector<int64_t> KeptHeads(const LayerWeights& orig, const LayerWeights& pruned, int64_t hd) {
  const std::vector<float> a = orig.wq.ToFloat(), b = pruned.wq.ToFloat();
  const int64_t cols = orig.wq.cols();
  std::vector<int64_t> kept;
  for (int64_t i = 0; i < pruned.wq.rows() / hd; ++i) {
    for (int64_t h = 0; h < orig.wq.rows() / hd; ++h) {
      if (std::equal(b.begin() + i * hd * cols, b.begin() + (i + 1) * hd * cols,
                     a.begin() + h * hd * cols)) {
        kept.push_back(h);
        break;
      }
    }
  }
  return kept;
}

TEST(HeadPruneTest, RemovesExactlyTheRequestedHeadsAndEqualsTheMaskedModel) {
  for (auto [heads, kv] : {std::pair{8, 8}, std::pair{8, 2}}) {
    SCOPED_TRACE(absl::StrCat(heads, "/", kv));
    const Model base = TestModel(heads, kv);
    for (auto [fraction, global] :
         {std::pair{0.25, false}, std::pair{0.5, true}, std::pair{0.4, false}}) {
      const std::string spec =
          absl::StrCat("head_prune:fraction=", fraction, global ? ",scope=global" : "");
      SCOPED_TRACE(spec);
      absl::StatusOr<Model> pruned = Apply(base, {spec});
      ASSERT_TRUE(pruned.ok()) << pruned.status();
      int64_t removed = 0;
      Model masked = base;
      for (int64_t l = 0; l < base.config.n_layers; ++l) {
        const LayerShape s = pruned->Shape(l);
        if (!global) {
          EXPECT_EQ(8 - s.n_heads, std::llround(fraction * 8)) << "layer " << l;
        }
        EXPECT_GE(s.n_heads, 1);
        removed += 8 - s.n_heads;
        EXPECT_EQ(pruned->layers[l].wq.rows(), s.n_heads * 8);
        EXPECT_EQ(pruned->layers[l].wo.cols(), s.n_heads * 8);
        // Every kv head left is read by some query head.
        std::vector<bool> used(s.n_kv_heads, false);
        for (int32_t h : s.kv_head_of) used[h] = true;
        for (bool u : used) EXPECT_TRUE(u);
        const std::vector<int64_t> kept = KeptHeads(base.layers[l], pruned->layers[l], 8);
        ASSERT_EQ(int64_t(kept.size()), s.n_heads);
        ZeroColumns(masked.layers[l].wo, [&](int64_t c) {
          return std::find(kept.begin(), kept.end(), c / 8) == kept.end();
        });
      }
      EXPECT_EQ(removed, global ? std::llround(fraction * 8 * base.config.n_layers)
                                : base.config.n_layers * std::llround(fraction * 8));
      ASSERT_TRUE(ValidateModel(*pruned, "pruned").ok());
      // Sums over fewer columns in another order: 1e-5 relative.
      ExpectClose(Logits(*pruned), Logits(masked), 1e-5, spec);
      EXPECT_LT(MeasureSize(*pruned, nullptr).bytes, MeasureSize(base, nullptr).bytes);
    }
  }
}

TEST(FfnPruneTest, RemovesExactlyTheRequestedChannelsAndEqualsTheMaskedModel) {
  const Model base = TestModel(4, 2, 100);
  absl::StatusOr<Model> pruned = Apply(base, {"ffn_prune:fraction=0.25"});
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  // Every layer keeps 75 of 100 channels: the config says so, no per-layer sizes remain.
  EXPECT_EQ(pruned->config.hidden_dim, 75);
  EXPECT_FALSE(pruned->has_layer_shapes());
  Model masked = base;
  for (int64_t l = 0; l < base.config.n_layers; ++l) {
    const LayerWeights& p = pruned->layers[l];
    EXPECT_EQ(p.w_gate.rows(), 75);
    EXPECT_EQ(p.w_up.rows(), 75);
    EXPECT_EQ(p.w_down.cols(), 75);
    // The kept channels: gate rows found in the original.
    const std::vector<float> a = base.layers[l].w_gate.ToFloat(), b = p.w_gate.ToFloat();
    std::vector<bool> kept(100, false);
    for (int64_t i = 0; i < 75; ++i) {
      for (int64_t j = 0; j < 100; ++j) {
        if (std::equal(b.begin() + i * 64, b.begin() + (i + 1) * 64, a.begin() + j * 64))
          kept[j] = true;
      }
    }
    EXPECT_EQ(std::count(kept.begin(), kept.end(), true), 75);
    ZeroColumns(masked.layers[l].w_down, [&](int64_t c) { return !kept[c]; });
  }
  ExpectClose(Logits(*pruned), Logits(masked), 1e-5, "ffn_prune");
  // Global scope: 25% of all 300 channels, layers may differ.
  absl::StatusOr<Model> global = Apply(base, {"ffn_prune:fraction=0.25,scope=global"});
  ASSERT_TRUE(global.ok());
  int64_t kept_total = 0;
  for (int64_t l = 0; l < 3; ++l) kept_total += global->Shape(l).hidden_dim;
  EXPECT_EQ(kept_total, 225);
}

TEST(StructuredPruneTest, ComposesWithQuantizationAndSurvivesSaveAndLoad) {
  const Model base = TestModel(8, 4);
  absl::StatusOr<Model> pruned =
      Apply(base, {"head_prune:fraction=0.25,scope=global", "ffn_prune:fraction=0.5"});
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_TRUE(pruned->has_layer_shapes() || pruned->config.n_heads == 8);
  // Saved and loaded: the per-layer sizes and maps come back, the logits are the same.
  const std::string dir = squeeze::testing::TempDir("pruned-model");
  ASSERT_TRUE(SaveHfModel(*pruned, dir).ok());
  absl::StatusOr<Model> loaded = LoadModel(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  for (int64_t l = 0; l < 3; ++l) {
    EXPECT_EQ(loaded->Shape(l).kv_head_of, pruned->Shape(l).kv_head_of);
    EXPECT_EQ(loaded->Shape(l).hidden_dim, pruned->Shape(l).hidden_dim);
  }
  EXPECT_EQ(Logits(*loaded), Logits(*pruned));
  // Then 4-bit: every layer matrix packed, sizes from the shrunk shapes.
  absl::StatusOr<Model> q4 = Apply(*pruned, {"rtn:bits=4,group=32"});
  ASSERT_TRUE(q4.ok()) << q4.status();
  int64_t layer_params = 0;
  for (int64_t l = 0; l < 3; ++l) {
    const LayerShape s = q4->Shape(l);
    EXPECT_EQ(q4->layers[l].w_down.format(), WeightFormat::kQ4G32);
    layer_params += 2 * s.q_dim() * 64 + 2 * s.kv_dim() * 64 + 3 * s.hidden_dim * 64;
  }
  EXPECT_EQ(MeasureSize(*q4, nullptr).layer_params, layer_params);
  const std::vector<float> a = Logits(*q4), b = Logits(*pruned);
  double diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff = std::max(diff, double(std::abs(a[i] - b[i])));
  EXPECT_GT(diff, 0.0);
  EXPECT_LT(diff, 1.0);
}

TEST(StructuredPruneTest, ErrorsNameTheParameter) {
  const Model base = TestModel(4, 2);
  auto err = [&](const std::vector<std::string>& specs, const TechniqueContext& ctx = {}) {
    absl::StatusOr<Model> m = Apply(base, specs, ctx);
    return m.ok() ? std::string() : std::string(m.status().message());
  };
  EXPECT_THAT(err({"head_prune:fraction=1.5"}), HasSubstr("head_prune.fraction: 1.5 is outside"));
  EXPECT_THAT(err({"head_prune:fraction=0.9"}), HasSubstr("removes all of them"));
  EXPECT_THAT(err({"ffn_prune:score=wanda"}),
              HasSubstr("ffn_prune.score: wanda is not one of magnitude, activation"));
  EXPECT_THAT(err({"head_prune:score=activation"}), HasSubstr("--calib-text"));
  EXPECT_THAT(err({"ffn_prune:ratio=0.1"}), HasSubstr("unknown parameter \"ratio\""));
  // Structure first: N:M groups would not survive removed columns.
  EXPECT_THAT(err({"nm_sparse:pattern=2:4", "ffn_prune"}),
              HasSubstr("ffn_prune: layer 0 is stored N:M sparse (nm_sparse); apply ffn_prune "
                        "before it"));
  EXPECT_THAT(err({"nm_sparse", "mqa"}), HasSubstr("mqa: layer 0 is stored N:M sparse"));
  // Training techniques need the config's shapes and full causal attention: they come first.
  EXPECT_THAT(err({"head_prune:fraction=0.5", "finetune"}),
              HasSubstr("finetune: the layers have shapes of their own"));
  EXPECT_THAT(err({"head_prune:fraction=0.25", "qat:bits=4"}),
              HasSubstr("qat: the layers have shapes"));
  EXPECT_THAT(err({"sliding_window:window=8", "distill"}),
              HasSubstr("distill: the model attends through a window 8"));
}

TEST(StructuredPruneTest, ActivationScoresUseCalibrationAndDifferFromMagnitude) {
  const Model base = TestModel(8, 8);
  CalibrationSet set;
  set.source = "test";
  set.key = "k";
  for (int s = 0; s < 3; ++s) {
    std::vector<int32_t> seq = {1};
    for (int i = 0; i < 30; ++i) seq.push_back(3 + (i * 7 + s * 13) % 55);
    set.sequences.push_back(seq);
  }
  TechniqueContext ctx;
  ctx.calibration = &set;
  absl::StatusOr<Model> act = Apply(base, {"ffn_prune:fraction=0.5,score=activation"}, ctx);
  absl::StatusOr<Model> mag = Apply(base, {"ffn_prune:fraction=0.5"}, ctx);
  ASSERT_TRUE(act.ok() && mag.ok());
  EXPECT_EQ(act->config.hidden_dim, 48);
  EXPECT_NE(act->content_hash, mag->content_hash);
  EXPECT_NE(Logits(*act), Logits(*mag));
}

TEST(GqaTest, GroupsEqualToHeadsLeaveTheLogitsUnchangedAndMqaShrinksTheCache) {
  const Model base = TestModel(8, 8);
  absl::StatusOr<Model> same = Apply(base, {"gqa:groups=8"});
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(Logits(*same), Logits(base));
  absl::StatusOr<Model> g2 = Apply(base, {"gqa:groups=2"});
  absl::StatusOr<Model> mqa = Apply(base, {"mqa"});
  ASSERT_TRUE(g2.ok() && mqa.ok());
  EXPECT_EQ(g2->config.n_kv_heads, 2);
  EXPECT_EQ(mqa->config.n_kv_heads, 1);
  EXPECT_EQ(g2->layers[0].wk.rows(), 16);
  EXPECT_EQ(KvBytesPerPosition(*g2) * 4, KvBytesPerPosition(base));
  EXPECT_EQ(KvBytesPerPosition(*mqa) * 8, KvBytesPerPosition(base));
  // Group 0's key projection is the mean of heads 0..3.
  const std::vector<float> k = base.layers[1].wk.ToFloat(), k2 = g2->layers[1].wk.ToFloat();
  for (int64_t c = 0; c < 64; c += 7) {
    const float mean = (k[c] + k[8 * 64 + c] + k[16 * 64 + c] + k[24 * 64 + c]) / 4;
    EXPECT_NEAR(k2[c], mean, 1e-6);
  }
  EXPECT_NE(Logits(*g2), Logits(base));
  // Groups must divide the kv heads; gqa on a pruned model keeps its map.
  absl::StatusOr<Model> bad = Apply(base, {"gqa:groups=3"});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("gqa.groups: 3 groups do not divide layer 0"));
  absl::StatusOr<Model> pruned_gqa =
      Apply(TestModel(8, 4), {"head_prune:fraction=0.25", "gqa:groups=1"});
  ASSERT_TRUE(pruned_gqa.ok()) << pruned_gqa.status();
  EXPECT_EQ(pruned_gqa->Shape(0).n_kv_heads, 1);
}

TEST(AttentionTechniqueTest, SetTheModelsAttentionAndRejectBadValues) {
  const Model base = TestModel(4, 2);
  absl::StatusOr<Model> m = Apply(base, {"sinks:sinks=2,window=10", "flash:tile_q=16"});
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->attention.window, 10);
  EXPECT_EQ(m->attention.sinks, 2);
  EXPECT_EQ(m->attention.kernel, AttentionKernel::kFlash);
  EXPECT_EQ(m->attention.tile_q, 16);
  EXPECT_NE(m->content_hash, base.content_hash);
  absl::StatusOr<Model> b = Apply(base, {"block_sparse:block=8,local=2,stride=3"});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->attention.block, 8);
  EXPECT_EQ(MakePipeline({"sliding_window:window=0"}).status().message(),
            "sliding_window:window=0: sliding_window.window: 0 is outside [1, 16777216]");
  EXPECT_THAT(std::string(MakePipeline({"flash:tile_q=12"}).status().message()),
              HasSubstr("flash.tile_q: 12 is not one of 8, 16, 32, 64, 128"));
  EXPECT_THAT(std::string(MakePipeline({"attention_kernel"}).status().message()),
              HasSubstr("attention_kernel.kernel: required"));
  EXPECT_THAT(std::string(MakePipeline({"gqa"}).status().message()),
              HasSubstr("gqa.groups: required"));
  absl::StatusOr<Model> both = Apply(base, {"sliding_window:window=8", "block_sparse"});
  ASSERT_FALSE(both.ok());
  EXPECT_THAT(both.status().message(), HasSubstr("do not combine"));
  // Saved and loaded, the settings come back.
  const std::string dir = squeeze::testing::TempDir("window-model");
  ASSERT_TRUE(SaveHfModel(*m, dir).ok());
  absl::StatusOr<Model> loaded = LoadModel(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->attention, m->attention);
}

}  // namespace
}  // namespace squeeze
