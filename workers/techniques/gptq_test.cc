// GPTQ and AWQ: the integer grid split into scale / code / pack steps reproduces the formats'
// reference quantizer byte for byte; GPTQ lowers the Hessian-weighted error ΔwᵀHΔw below
// round-to-nearest and equals it for H = I; AWQ's folded scales keep the model's function;
// and on stories260K both beat RTN in KL divergence on text they were not calibrated on.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "calibration/calibration.h"
#include "measure/accuracy.h"
#include "model/loader.h"
#include "model/tokenizer.h"
#include "techniques/gptq.h"
#include "techniques/int_grid.h"
#include "techniques/registry.h"
#include "techniques/technique_testutil.h"
#include "testutil/assets.h"

namespace squeeze {
namespace {

using ::testing::HasSubstr;
using namespace ::squeeze::testing;

WeightFormat Format(const std::string& name) {
  WeightFormat f = WeightFormat::kF32;
  EXPECT_TRUE(FormatFromName(name, &f)) << name;
  return f;
}

IntGrid Grid(const std::string& name) {
  absl::StatusOr<IntGrid> g = IntGridFor(Format(name));
  EXPECT_TRUE(g.ok()) << g.status();
  return *g;
}

std::vector<float> RandomWeights(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 0.05f);
  std::vector<float> w(n);
  for (float& v : w) v = nd(rng);
  return w;
}

// Round to nearest with the format's reference quantizer: the decoded matrix.
std::vector<float> RtnValues(const std::vector<float>& w, int64_t rows, int64_t cols,
                             WeightFormat f) {
  return WeightTensor::FromFloat(f, rows, cols, w.data()).ToFloat();
}

// Σ_rows (q - w)ᵀ H (q - w).
double HessianError(const std::vector<float>& w, const std::vector<float>& q, int64_t rows,
                    int64_t cols, const std::vector<double>& h) {
  double total = 0;
  std::vector<double> d(cols);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) d[c] = double(q[r * cols + c]) - w[r * cols + c];
    for (int64_t i = 0; i < cols; ++i)
      for (int64_t j = 0; j < cols; ++j) total += d[i] * h[i * cols + j] * d[j];
  }
  return total;
}

// XᵀX of `tokens` random inputs whose channels are correlated and of uneven size, like a
// layer's activations.
std::vector<double> RandomHessian(int64_t cols, int64_t tokens, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> nd;
  std::vector<double> mix(cols * cols), gain(cols);
  for (double& v : mix) v = nd(rng) * 0.3;
  for (int64_t c = 0; c < cols; ++c) gain[c] = std::exp(nd(rng));
  std::vector<double> h(cols * cols, 0.0), z(cols), x(cols);
  for (int64_t t = 0; t < tokens; ++t) {
    for (double& v : z) v = nd(rng);
    for (int64_t i = 0; i < cols; ++i) {
      double s = z[i];
      for (int64_t k = 0; k < cols; ++k) s += mix[i * cols + k] * z[k];
      x[i] = s * gain[i];
    }
    for (int64_t i = 0; i < cols; ++i)
      for (int64_t j = 0; j < cols; ++j) h[i * cols + j] += x[i] * x[j];
  }
  return h;
}

TEST(IntGridTest, ScalesCodesAndPackingReproduceTheReferenceQuantizer) {
  std::vector<std::string> names = {"q8_channel"};
  for (int b : {2, 3, 4, 8})
    for (int g : {32, 64, 128})
      for (bool sym : {true, false}) names.push_back(IntFormatName(b, g, sym));
  const int64_t cols = 200;  // not a multiple of any group: a padded tail block
  for (const std::string& name : names) {
    SCOPED_TRACE(name);
    const WeightFormat f = Format(name);
    const IntGrid grid = Grid(name);
    const FormatTraits& t = GetFormatTraits(f);
    for (uint32_t seed = 0; seed < 4; ++seed) {
      std::vector<float> w = RandomWeights(cols, seed);
      if (seed == 1) std::fill(w.begin(), w.begin() + 70, 0.0f);  // all-zero groups
      if (seed == 2)
        for (float& v : w) v = std::fabs(v) + 0.01f;  // positive only: m > 0
      const int64_t groups = GroupsPerRow(grid, cols);
      const int64_t gs = grid.group == 0 ? cols : grid.group;
      std::vector<GroupScale> scales(groups);
      std::vector<int> codes(cols);
      for (int64_t g = 0; g < groups; ++g)
        scales[g] = ComputeGroupScale(grid, w.data() + g * gs, std::min(gs, cols - g * gs));
      std::vector<float> expect(cols);
      for (int64_t c = 0; c < cols; ++c) {
        codes[c] = QuantizeToCode(grid, scales[c / gs], w[c]);
        ASSERT_GE(codes[c], grid.min_code);
        ASSERT_LE(codes[c], grid.max_code);
        expect[c] = CodeValue(scales[c / gs], codes[c]);
      }
      std::vector<uint8_t> mine(RowBytes(f, cols)), ref(RowBytes(f, cols));
      PackIntRow(grid, scales.data(), codes.data(), cols, mine.data());
      t.from_float_ref(w.data(), ref.data(), cols);
      EXPECT_EQ(mine, ref) << "seed " << seed;
      std::vector<float> back(cols);
      t.to_float(mine.data(), back.data(), cols);
      for (int64_t c = 0; c < cols; ++c) EXPECT_EQ(back[c], expect[c]) << c;
    }
  }
  EXPECT_FALSE(IntGridFor(WeightFormat::kNf4).ok());
}

TEST(GptqQuantizeTest, LowersTheHessianWeightedErrorBelowRoundToNearest) {
  const int64_t rows = 24, cols = 160;  // two lazy-update blocks, the second partial
  const std::vector<double> h = RandomHessian(cols, 400, 1);
  const std::vector<float> w = RandomWeights(rows * cols, 2);
  for (const std::string name : {"q4_g32", "q3_g32", "q4_g64_asym", "q2_g128", "q8_channel"}) {
    for (bool act_order : {false, true}) {
      SCOPED_TRACE(name + (act_order ? " act_order" : ""));
      const IntGrid grid = Grid(name);
      absl::StatusOr<GptqHessian> hs = PrepareGptqHessian(h, cols, 0.01, act_order);
      ASSERT_TRUE(hs.ok()) << hs.status();
      std::vector<float> values;
      ThreadPool pool(2);
      const WeightTensor q = GptqQuantize(w.data(), rows, *hs, grid, &pool, &values);
      EXPECT_EQ(q.format(), grid.format);
      // The packed tensor decodes to exactly the values GPTQ chose.
      EXPECT_EQ(q.ToFloat(), values);
      const double gptq = HessianError(w, values, rows, cols, h);
      const double rtn = HessianError(w, RtnValues(w, rows, cols, grid.format), rows, cols, h);
      // Three levels (2 bits) leave the error feedback less room.
      const double ratio = grid.bits == 2 ? 0.9 : 0.8;
      EXPECT_LT(gptq, ratio * rtn) << "gptq " << gptq << " rtn " << rtn;
      // One thread gives the same result.
      std::vector<float> single;
      GptqQuantize(w.data(), rows, *hs, grid, nullptr, &single);
      EXPECT_EQ(single, values);
    }
  }
}

TEST(GptqQuantizeTest, IdentityHessianGivesRoundToNearestExactly) {
  const int64_t rows = 10, cols = 150;
  std::vector<double> h(cols * cols, 0.0);
  for (int64_t i = 0; i < cols; ++i) h[i * cols + i] = 1.0;
  const std::vector<float> w = RandomWeights(rows * cols, 4);
  for (const std::string name : {"q4_g32", "q3_g64_asym", "q8_channel"}) {
    for (bool act_order : {false, true}) {
      SCOPED_TRACE(name);
      const IntGrid grid = Grid(name);
      absl::StatusOr<GptqHessian> hs = PrepareGptqHessian(h, cols, 0.01, act_order);
      ASSERT_TRUE(hs.ok());
      const WeightTensor q = GptqQuantize(w.data(), rows, *hs, grid, nullptr);
      const WeightTensor rtn = WeightTensor::FromFloat(grid.format, rows, cols, w.data());
      ASSERT_EQ(q.bytes(), rtn.bytes());
      EXPECT_EQ(0, std::memcmp(q.data(), rtn.data(), size_t(rtn.bytes())));
    }
  }
}

TEST(GptqQuantizeTest, DeadInputsGetZeroWeights) {
  const int64_t rows = 4, cols = 64;
  std::vector<double> h = RandomHessian(cols, 200, 5);
  for (int64_t k = 0; k < cols; ++k) h[7 * cols + k] = h[k * cols + 7] = 0.0;  // input 7 never set
  const std::vector<float> w = RandomWeights(rows * cols, 6);
  absl::StatusOr<GptqHessian> hs = PrepareGptqHessian(h, cols, 0.01, false);
  ASSERT_TRUE(hs.ok());
  EXPECT_TRUE(hs->dead[7]);
  EXPECT_FALSE(hs->dead[8]);
  std::vector<float> values;
  GptqQuantize(w.data(), rows, *hs, Grid("q4_g32"), nullptr, &values);
  for (int64_t r = 0; r < rows; ++r) EXPECT_EQ(values[r * cols + 7], 0.0f);
  // A Hessian of the wrong size is an error, not a crash.
  EXPECT_FALSE(PrepareGptqHessian(h, cols + 1, 0.01, false).ok());
}

std::string MakeError(const std::string& name, const ParamMap& params) {
  absl::StatusOr<std::unique_ptr<Technique>> t = MakeTechnique(name, params);
  return t.ok() ? "" : std::string(t.status().message());
}

TEST(GptqAwqRegistryTest, SchemaAndParameterErrors) {
  for (const char* name : {"gptq", "awq"}) {
    const TechniqueInfo* info = FindTechnique(name);
    ASSERT_NE(info, nullptr) << name;
    EXPECT_EQ(info->family, "quantization");
    EXPECT_TRUE(info->needs_calibration);
    auto t = MakeTechnique(name, {});
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_TRUE((*t)->uses_calibration());
    const std::string n = name;
    EXPECT_EQ(MakeError(name, {{"bits", "5"}}), n + ".bits: 5 is not one of 2, 3, 4, 8");
    EXPECT_THAT(MakeError(name, {{"group", "16"}}), HasSubstr(n + ".group: 16"));
    EXPECT_THAT(MakeError(name, {{"bits", "4"}, {"group", "0"}}), HasSubstr(n + ".group"));
    EXPECT_THAT(MakeError(name, {{"symmetric", "x"}}), HasSubstr(n + ".symmetric"));
  }
  auto g = MakeTechnique("gptq", {});
  EXPECT_THAT((*g)->Describe(),
              HasSubstr("gptq:bits=4,group=32,symmetric=true,damping=0.01,act_order=false,"
                        "embeddings=false"));
  EXPECT_EQ(MakeError("gptq", {{"damping", "2"}}), "gptq.damping: 2 is outside [0, 1]");
  EXPECT_THAT(MakeError("gptq", {{"act_order", "maybe"}}), HasSubstr("gptq.act_order"));
  EXPECT_TRUE(MakeTechnique("gptq", {{"bits", "8"}, {"group", "0"}}).ok());
  EXPECT_THAT(MakeError("awq", {{"clip", "x"}}), HasSubstr("awq.clip"));
  auto a = MakeTechnique("awq", {{"bits", "3"}});
  ASSERT_TRUE(a.ok());
  EXPECT_THAT((*a)->Describe(),
              HasSubstr("awq:bits=3,group=32,symmetric=true,clip=true,embeddings=false"));
}

TEST(GptqAwqApplyTest, WithoutCalibrationTheErrorNamesCalibText) {
  for (const char* name : {"gptq", "awq"}) {
    Model m = SmallModel(2, 1);
    auto p = MakePipeline({name});
    ASSERT_TRUE(p.ok());
    auto applied = ApplyPipeline(*p, m, {});
    ASSERT_FALSE(applied.ok());
    EXPECT_THAT(applied.status().message(), HasSubstr("--calib-text"));
    EXPECT_THAT(applied.status().message(), HasSubstr(name));
  }
}

TEST(GptqAwqApplyTest, QuantizeEveryLayerMatrixAndKeepTheFunction) {
  // 8 bits: the folded AWQ scales and GPTQ's updates must leave the model nearly unchanged
  // (a wrongly folded scale changes it as much as a different model would).
  const CalibrationSet set = SmallCalibration();
  TechniqueContext ctx;
  ctx.calibration = &set;
  ctx.threads = 2;
  for (int kv : {4, 2}) {  // o scaled by AWQ only without grouped-query attention
    SCOPED_TRACE(kv);
    const Model base = SmallModel(kv, 3);
    const std::vector<int32_t> text = TokenText(64, 3);
    const double rtn = MeanKld(base, Applied(base, "rtn:bits=8", ctx), text, 32);
    for (const std::string spec : {"gptq:bits=8", "awq:bits=8", "gptq:bits=8,act_order=true"}) {
      SCOPED_TRACE(spec);
      const Model m = Applied(base, spec, ctx);
      for (const LayerWeights& l : m.layers) {
        for (const WeightTensor* t : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down})
          EXPECT_STREQ(GetFormatTraits(t->format()).name, "q8_g32");
      }
      EXPECT_EQ(m.embedding.storage_id(), base.embedding.storage_id());
      EXPECT_NE(m.content_hash, base.content_hash);
      EXPECT_LT(MeanKld(base, m, text, 32), 3 * rtn + 1e-4);
    }
  }
}

// stories260K: calibrated on the first half of the stories, measured on the second half.
TEST(GptqAwqStoriesTest, BeatRoundToNearestOnUnseenText) {
  SQUEEZE_REQUIRE_ASSET(model_path, "models/stories260K/stories260K.bin");
  SQUEEZE_REQUIRE_ASSET(tok_path, "models/stories260K/tok512.bin");
  SQUEEZE_REQUIRE_ASSET(calib_path, "text/tinystories-valid-100.txt");
  SQUEEZE_REQUIRE_ASSET(eval_path, "text/tinystories-valid-100.noeot.txt");
  StoriesBench bench;
  ASSERT_TRUE(bench.Load(model_path, tok_path, calib_path, eval_path));
  ASSERT_EQ(bench.calibration().sequences.size(), 16u);
  ASSERT_GT(bench.eval_tokens(), 4000u);
  auto kld = [&](const std::string& spec) { return bench.Kld(spec); };
  for (int bits : {4, 3}) {
    const std::string q = absl::StrCat(":bits=", bits, ",group=32");
    const double rtn = kld("rtn" + q);
    const double gptq = kld("gptq" + q);
    const double awq = kld("awq" + q);
    std::printf("stories260K %d-bit g32 mean KLD: rtn %.5f  gptq %.5f  awq %.5f\n", bits, rtn, gptq,
                awq);
    EXPECT_LT(gptq, rtn) << bits << " bits";
    EXPECT_LT(awq, rtn) << bits << " bits";
  }
}

}  // namespace
}  // namespace squeeze
