// Pruning: each method removes exactly the requested share or pattern; N:M matrices are stored
// in the sparse formats and compute what the dense matrix with the same zeros computes;
// SparseGPT lowers the Hessian-weighted error below magnitude pruning; sparse matrices refuse
// quantization with a clear error; and on stories260K at 50% Wanda and SparseGPT beat
// magnitude pruning in KL divergence on text they were not calibrated on.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"
#include "engine/engine.h"
#include "measure/accuracy.h"
#include "model/loader.h"
#include "model/tokenizer.h"
#include "techniques/prune.h"
#include "techniques/registry.h"
#include "techniques/technique_testutil.h"
#include "testutil/assets.h"

namespace squeeze {
namespace {

using ::testing::HasSubstr;
using namespace ::squeeze::testing;

int64_t Zeros(const std::vector<float>& v) {
  int64_t z = 0;
  for (float x : v) z += x == 0.0f;
  return z;
}

TEST(PrunePatternTest, RemovedPerRow) {
  PrunePattern half;
  half.sparsity = 0.5;
  EXPECT_EQ(half.RemovedPerRow(172), 86);
  PrunePattern nm;
  nm.n = 2, nm.m = 4;
  EXPECT_EQ(nm.RemovedPerRow(172), 86);
  EXPECT_EQ(nm.RemovedPerRow(7), 2 + 1);  // one whole group, then 3 of which 2 stay
  nm.n = 4, nm.m = 8;
  EXPECT_EQ(nm.RemovedPerRow(172), 21 * 4);  // the last 4 weights all stay
}

// Every method, unstructured: each row (Wanda, SparseGPT), matrix (magnitude) or the set of
// layer matrices (magnitude, global) loses exactly round(sparsity * n) weights.
TEST(PruneTechniqueTest, ExactSparsity) {
  const CalibrationSet set = SmallCalibration();
  TechniqueContext ctx;
  ctx.calibration = &set;
  ctx.threads = 2;
  const Model base = SmallModel(2, 5);
  for (const std::string spec : {"magnitude:sparsity=0.3", "magnitude:sparsity=0.6,scope=global",
                                 "wanda:sparsity=0.5", "sparsegpt:sparsity=0.5"}) {
    SCOPED_TRACE(spec);
    const Model m = Applied(base, spec, ctx);
    const double s = spec.find("0.3") != std::string::npos   ? 0.3
                     : spec.find("0.6") != std::string::npos ? 0.6
                                                             : 0.5;
    int64_t total = 0, zeros = 0;
    for (const WeightTensor* t : LayerMatrixList(m)) {
      EXPECT_EQ(t->format(), WeightFormat::kF32) << "stored dense";
      const std::vector<float> v = t->ToFloat();
      total += int64_t(v.size());
      zeros += Zeros(v);
      if (spec.starts_with("wanda") || spec.starts_with("sparsegpt")) {
        for (int64_t r = 0; r < t->rows(); ++r) {
          const std::vector<float> row(v.begin() + r * t->cols(), v.begin() + (r + 1) * t->cols());
          ASSERT_EQ(Zeros(row), std::llround(s * double(t->cols()))) << "row " << r;
        }
      } else if (spec.find("global") == std::string::npos) {
        EXPECT_EQ(Zeros(v), std::llround(s * double(v.size())));
      }
    }
    if (spec.find("global") != std::string::npos) {
      EXPECT_EQ(zeros, std::llround(s * double(total)));
    }
    EXPECT_EQ(m.embedding.storage_id(), base.embedding.storage_id()) << "embedding untouched";
  }
}

// N:M: every group of m keeps n weights; the matrices are stored in the sparse formats (f32
// or f16 values as they were, or as asked); the engine's output equals that of the dense
// model holding the same zeros (the sparse kernels skip exactly the zeros).
TEST(PruneTechniqueTest, NmPatternsStoredSparseComputeLikeDense) {
  const CalibrationSet set = SmallCalibration();
  TechniqueContext ctx;
  ctx.calibration = &set;
  ctx.threads = 2;
  const Model base = SmallModel(4, 6);
  const std::vector<int32_t> text = TokenText(48, 2);
  struct Case {
    std::string spec;
    int n, m;
    WeightFormat format;
  };
  for (const Case& c :
       {Case{"nm_sparse", 2, 4, WeightFormat::kSp24F32},
        Case{"nm_sparse:pattern=4:8,criterion=wanda", 4, 8, WeightFormat::kSp48F32},
        Case{"nm_sparse:criterion=sparsegpt,values=f16", 2, 4, WeightFormat::kSp24F16}}) {
    SCOPED_TRACE(c.spec);
    const Model m = Applied(base, c.spec, ctx);
    Model dense = m;
    for (const WeightTensor* t : LayerMatrixList(m)) {
      ASSERT_EQ(t->format(), c.format);
      const std::vector<float> v = t->ToFloat();
      for (int64_t r = 0; r < t->rows(); ++r)
        for (int64_t g = 0; g + c.m <= t->cols(); g += c.m) {
          int64_t kept = 0;
          for (int i = 0; i < c.m; ++i) kept += v[r * t->cols() + g + i] != 0.0f;
          ASSERT_LE(kept, c.n) << "row " << r << " group " << g;
        }
    }
    for (auto& [name, t] : dense.MutableMatrices())
      *t = WeightTensor::FromFloat(WeightFormat::kF32, t->rows(), t->cols(), t->ToFloat().data());
    EXPECT_LT(MeanKld(dense, m, text, 32), 1e-9);
    EXPECT_GT(MeanKld(base, m, text, 32), 1e-4) << "pruning changed the model";
  }
}

// SparseGPT's reconstruction: at the same 50% (and 2:4) the Hessian-weighted error
// Σ_rows ΔwᵀHΔw is lower than magnitude pruning's on a random correlated input.
TEST(SparseGptPruneTest, LowerHessianErrorThanMagnitude) {
  const int64_t rows = 24, cols = 64, tokens = 256;
  std::mt19937 rng(9);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(tokens * cols), w(rows * cols);
  for (int64_t t = 0; t < tokens; ++t) {
    const float shared = nd(rng);
    for (int64_t c = 0; c < cols; ++c) x[t * cols + c] = nd(rng) * (1.0f + c % 5) + shared;
  }
  for (float& v : w) v = nd(rng);
  std::vector<double> h(cols * cols, 0.0);
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t i = 0; i < cols; ++i)
      for (int64_t j = 0; j < cols; ++j)
        h[i * cols + j] += double(x[t * cols + i]) * x[t * cols + j];
  auto error = [&](const std::vector<float>& q) {
    double e = 0;
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t i = 0; i < cols; ++i) {
        const double di = double(q[r * cols + i]) - w[r * cols + i];
        for (int64_t j = 0; j < cols; ++j)
          e += di * h[i * cols + j] * (double(q[r * cols + j]) - w[r * cols + j]);
      }
    }
    return e;
  };
  absl::StatusOr<GptqHessian> hs = PrepareGptqHessian(h, cols, 0.01, false);
  ASSERT_TRUE(hs.ok()) << hs.status();
  PrunePattern half, two_four;
  half.sparsity = 0.5;
  two_four.n = 2, two_four.m = 4;
  for (const PrunePattern& p : {half, two_four}) {
    SCOPED_TRACE(p.Describe());
    std::vector<float> sg = w, mag = w;
    SparseGptPrune(sg.data(), rows, *hs, p, nullptr);
    std::vector<float> score(w.size());
    for (size_t i = 0; i < w.size(); ++i) score[i] = std::fabs(w[i]);
    PruneRowsByScore(mag.data(), score.data(), rows, cols, p);
    EXPECT_EQ(Zeros(sg), rows * p.RemovedPerRow(cols));
    EXPECT_EQ(Zeros(mag), rows * p.RemovedPerRow(cols));
    EXPECT_LT(error(sg), 0.8 * error(mag));
  }
}

TEST(PruneTechniqueTest, SchemaErrorsAndCalibration) {
  for (const char* bad : {"magnitude:sparsity=1.5", "nm_sparse:pattern=1:4", "wanda:level=3",
                          "magnitude:scope=row"}) {
    auto p = MakePipeline({bad});
    EXPECT_FALSE(p.ok()) << bad;
  }
  auto p = MakePipeline({"nm_sparse:pattern=1:4"});
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.status().message(), HasSubstr("nm_sparse.pattern"));
  EXPECT_THAT(p.status().message(), HasSubstr("2:4"));
  for (const char* spec : {"wanda", "sparsegpt", "nm_sparse:criterion=wanda"}) {
    Model m = SmallModel(2, 1);
    auto pipe = MakePipeline({spec});
    ASSERT_TRUE(pipe.ok()) << spec;
    auto applied = ApplyPipeline(*pipe, m, {});
    ASSERT_FALSE(applied.ok()) << spec;
    EXPECT_THAT(applied.status().message(), HasSubstr("--calib-text"));
  }
}

// Sparse then quantized is refused naming the matrix and the format; so is N:M on a
// quantized matrix; precision changes only the kept values' precision.
TEST(PruneTechniqueTest, CompositionWithQuantization) {
  const Model base = SmallModel(2, 2);
  for (const char* q : {"rtn:bits=4", "nf4", "fp4"}) {
    Model m = base;
    auto pipe = MakePipeline({"nm_sparse", q});
    ASSERT_TRUE(pipe.ok());
    auto applied = ApplyPipeline(*pipe, m, {});
    ASSERT_FALSE(applied.ok()) << q;
    EXPECT_THAT(applied.status().message(), HasSubstr("layer 0 wq is N:M sparse (sp24_f32)"));
    EXPECT_THAT(applied.status().message(), HasSubstr("not supported"));
  }
  {
    Model m = base;
    auto pipe = MakePipeline({"rtn:bits=4", "nm_sparse"});
    ASSERT_TRUE(pipe.ok());
    auto applied = ApplyPipeline(*pipe, m, {});
    ASSERT_FALSE(applied.ok());
    EXPECT_THAT(applied.status().message(), HasSubstr("is q4_g32"));
  }
  {
    // Unstructured pruning then 4-bit: a real dense quantized model with (mostly) zero codes.
    const Model m = Applied(base, "magnitude:sparsity=0.5", {});
    Model q = Applied(m, "rtn:bits=8", {});
    EXPECT_EQ(q.layers[0].wq.format(), WeightFormat::kQ8G32);
    EXPECT_GE(LayerSparsity(LayerMatrixList(q)), 0.49);
  }
  Model m = Applied(base, "nm_sparse", {});
  Model h = Applied(m, "precision:format=f16", {});
  EXPECT_EQ(h.layers[1].w_down.format(), WeightFormat::kSp24F16);
  EXPECT_EQ(h.embedding.format(), WeightFormat::kF16);
  auto pipe = MakePipeline({"precision:format=bf16"});
  ASSERT_TRUE(pipe.ok());
  auto applied = ApplyPipeline(*pipe, m, {});
  ASSERT_FALSE(applied.ok());
  EXPECT_THAT(applied.status().message(), HasSubstr("f32 or f16, not bf16"));
}

// stories260K at 50% unstructured sparsity, calibrated on the first half of the stories and
// measured on the second half: Wanda and SparseGPT each below magnitude pruning.
TEST(PruneStoriesTest, WandaAndSparseGptBeatMagnitude) {
  SQUEEZE_REQUIRE_ASSET(model_path, "models/stories260K/stories260K.bin");
  SQUEEZE_REQUIRE_ASSET(tok_path, "models/stories260K/tok512.bin");
  SQUEEZE_REQUIRE_ASSET(calib_path, "text/tinystories-valid-100.txt");
  SQUEEZE_REQUIRE_ASSET(eval_path, "text/tinystories-valid-100.noeot.txt");
  StoriesBench bench;
  ASSERT_TRUE(bench.Load(model_path, tok_path, calib_path, eval_path));
  auto kld = [&](const std::string& spec) { return bench.Kld(spec); };
  const double mag = kld("magnitude:sparsity=0.5"), wanda = kld("wanda:sparsity=0.5"),
               sgpt = kld("sparsegpt:sparsity=0.5");
  std::printf("stories260K 50%% mean KLD: magnitude %.4f  wanda %.4f  sparsegpt %.4f\n", mag, wanda,
              sgpt);
  EXPECT_LT(wanda, mag);
  EXPECT_LT(sgpt, mag);
}

}  // namespace
}  // namespace squeeze
