// Activation-outlier techniques: split-column tensors (storage, unpacking, the two-part
// product), LLM.int8() and SmoothQuant against plain W8A8 on a layer with outlier input
// columns (through the engine's real kernels), the llm_int8 / smoothquant / kv_cache
// techniques on random models, and their parameter and calibration errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <set>

#include "engine/engine.h"
#include "engine/linear.h"
#include "model/loader.h"
#include "techniques/builtin.h"
#include "techniques/outliers.h"
#include "techniques/registry.h"

namespace squeeze {
namespace {

using ::testing::HasSubstr;

std::vector<float> Normal(int64_t n, float sd, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, sd);
  std::vector<float> v(n);
  for (float& x : v) x = nd(rng);
  return v;
}

// y = x · Wᵀ in double: x (n, cols), w (rows, cols).
std::vector<double> FloatProduct(const std::vector<float>& x, const std::vector<float>& w,
                                 int64_t n, int64_t rows, int64_t cols) {
  std::vector<double> y(n * rows);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t r = 0; r < rows; ++r) {
      double acc = 0;
      for (int64_t c = 0; c < cols; ++c) acc += double(x[t * cols + c]) * w[r * cols + c];
      y[t * rows + r] = acc;
    }
  return y;
}

// ||got - want|| / ||want||.
double RelError(const std::vector<float>& got, const std::vector<double>& want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    num += (got[i] - want[i]) * (got[i] - want[i]);
    den += want[i] * want[i];
  }
  return std::sqrt(num / den);
}

std::vector<float> RunLinear(Isa isa, const WeightTensor& w, const std::vector<float>& x,
                             int64_t n) {
  ThreadPool pool(2);
  std::vector<float> y(n * w.rows());
  Linear(pool, isa, w, x.data(), n, y.data());
  return y;
}

std::vector<Isa> Isas() {
  std::vector<Isa> out = {Isa::kRef};
  if (ActiveIsa() != Isa::kRef) out.push_back(ActiveIsa());
  return out;
}

// A linear layer with outlier input features: 256 x 512 weights, 64 tokens whose columns
// kOutliers are 20-50x larger than the rest (the pattern LLM.int8() and SmoothQuant target).
struct OutlierLayer {
  static constexpr int64_t kRows = 256, kCols = 512, kTokens = 64;
  const std::vector<int32_t> outliers = {7, 100, 101, 333, 480};
  std::vector<float> w = Normal(kRows * kCols, 1.0f / std::sqrt(float(kCols)), 1);
  std::vector<float> x = Normal(kTokens * kCols, 1.0f, 2);
  OutlierLayer() {
    const float gain[] = {20.0f, 35.0f, 50.0f, 25.0f, 40.0f};
    for (int64_t t = 0; t < kTokens; ++t)
      for (size_t i = 0; i < outliers.size(); ++i) x[t * kCols + outliers[i]] *= gain[i];
  }
  std::vector<float> ActAbsMax() const {
    std::vector<float> m(kCols, 0.0f);
    AccumulateColumnAbsMax(x.data(), kTokens, kCols, m);
    return m;
  }
};

TEST(SplitColumnsTest, BytesUnpackingAndProductOfASplitTensor) {
  const int64_t rows = 32, cols = 48;
  const std::vector<float> w = Normal(rows * cols, 1.0f, 3);
  const std::vector<int32_t> cols_apart = {0, 5, 47};
  const WeightTensor t =
      DecomposeOutliers(w.data(), rows, cols, cols_apart, WeightFormat::kQ8Channel);
  ASSERT_NE(t.split(), nullptr);
  EXPECT_EQ(t.split()->cols, cols_apart);
  EXPECT_EQ(t.format(), WeightFormat::kQ8Channel);
  EXPECT_EQ(t.split()->dense->format(), WeightFormat::kF16);
  // main: per row an f32 scale + 48 int8 codes; dense: 32 x 3 halves; indices: 3 int32.
  EXPECT_EQ(t.bytes(), rows * (4 + cols) + rows * 3 * 2 + 3 * 4);

  const std::vector<float> back = t.ToFloat();
  for (int64_t r = 0; r < rows; ++r) {
    float amax = 0;  // the int8 part's scale comes from the other columns only
    for (int64_t c = 0; c < cols; ++c) {
      if (c != 0 && c != 5 && c != 47) amax = std::max(amax, std::abs(w[r * cols + c]));
    }
    for (int64_t c = 0; c < cols; ++c) {
      const float v = w[r * cols + c], got = back[r * cols + c];
      if (c == 0 || c == 5 || c == 47) {
        EXPECT_LE(std::abs(got - v), std::abs(v) * 0x1p-11f) << r << "," << c;  // f16
      } else {
        EXPECT_LE(std::abs(got - v), amax / 127.0f * 0.5001f) << r << "," << c;
      }
    }
  }
  // The product of the two parts (main in f32 here, so that only the split is tested)
  // equals the product with the unpacked matrix, and x's split columns reach only the
  // dense part.
  const WeightTensor tf =
      DecomposeOutliers(w.data(), rows, cols, cols_apart, WeightFormat::kF32, WeightFormat::kF16);
  const std::vector<float> x = Normal(5 * cols, 1.0f, 4);
  const std::vector<double> want = FloatProduct(x, tf.ToFloat(), 5, rows, cols);
  for (Isa isa : Isas()) {
    EXPECT_LT(RelError(RunLinear(isa, tf, x, 5), want), 1e-6) << IsaName(isa);
    // One token (the gemv path) gives the first row of the batch.
    const std::vector<float> x1(x.begin(), x.begin() + cols);
    const std::vector<float> y1 = RunLinear(isa, t, x1, 1);
    const std::vector<float> y5 = RunLinear(isa, t, x, 5);
    for (int64_t r = 0; r < rows; ++r) EXPECT_NEAR(y1[r], y5[r], 1e-5) << r;
  }
}

TEST(SplitColumnsTest, NoOutlierColumnsGivesAPlainTensor) {
  const std::vector<float> w = Normal(8 * 16, 1.0f, 5);
  const WeightTensor t = DecomposeOutliers(w.data(), 8, 16, {}, WeightFormat::kW8A8);
  EXPECT_EQ(t.split(), nullptr);
  EXPECT_EQ(t.bytes(), 8 * (4 + 16));
}

TEST(SplitColumnsDeathTest, MalformedSplitsStopLoudly) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const std::vector<float> w = Normal(4 * 8, 1.0f, 6);
  const WeightTensor main = WeightTensor::FromFloat(WeightFormat::kF32, 4, 8, w.data());
  auto dense = [&](int64_t rows, int64_t cols) {
    std::vector<float> d(rows * cols, 1.0f);
    return std::make_shared<const WeightTensor>(
        WeightTensor::FromFloat(WeightFormat::kF16, rows, cols, d.data()));
  };
  EXPECT_DEATH(main.WithSplit({{1, 1}, dense(4, 2)}), "not sorted and distinct");
  EXPECT_DEATH(main.WithSplit({{3, 1}, dense(4, 2)}), "not sorted and distinct");
  EXPECT_DEATH(main.WithSplit({{1, 8}, dense(4, 2)}), "column 8 is outside");
  EXPECT_DEATH(main.WithSplit({{-1}, dense(4, 1)}), "column -1 is outside");
  EXPECT_DEATH(main.WithSplit({{1, 2}, dense(3, 2)}), "3 rows");
  EXPECT_DEATH(main.WithSplit({{1, 2}, dense(4, 3)}), "3 columns for 2");
  EXPECT_DEATH(main.WithSplit({{1}, nullptr}), "no dense part");
}

TEST(OutlierLayerTest, LlmInt8DecompositionBeatsPlainW8A8) {
  const OutlierLayer L;
  const int64_t n = L.kTokens, rows = L.kRows, cols = L.kCols;
  const std::vector<double> want = FloatProduct(L.x, L.w, n, rows, cols);
  // The threshold finds exactly the injected columns (the others stay below |x| = 6).
  const std::vector<int32_t> found = OutlierColumns(L.ActAbsMax(), 6.0f);
  EXPECT_EQ(found, L.outliers);
  const WeightTensor plain = WeightTensor::FromFloat(WeightFormat::kW8A8, rows, cols, L.w.data());
  const WeightTensor split = DecomposeOutliers(L.w.data(), rows, cols, found);
  EXPECT_EQ(split.format(), WeightFormat::kW8A8);
  for (Isa isa : Isas()) {
    const double e_plain = RelError(RunLinear(isa, plain, L.x, n), want);
    const double e_split = RelError(RunLinear(isa, split, L.x, n), want);
    // Plain W8A8: each token's int8 step is set by its outliers (~50x the other values),
    // which leaves the ordinary features a few levels. Kept apart, they get all 127.
    EXPECT_LT(e_split, 0.25 * e_plain) << IsaName(isa) << ": " << e_split << " vs " << e_plain;
    EXPECT_LT(e_split, 0.02) << IsaName(isa);
  }
}

TEST(OutlierLayerTest, SmoothQuantScalesBeatNaiveW8A8) {
  const OutlierLayer L;
  const int64_t n = L.kTokens, rows = L.kRows, cols = L.kCols;
  const std::vector<double> want = FloatProduct(L.x, L.w, n, rows, cols);
  std::vector<float> wmax(cols, 0.0f);
  AccumulateColumnAbsMax(L.w.data(), rows, cols, wmax);
  const std::vector<float> s = SmoothingScales(L.ActAbsMax(), wmax, 0.5);
  ASSERT_EQ(int64_t(s.size()), cols);
  // x / s and W · diag(s): the same product in exact arithmetic.
  std::vector<float> xs = L.x, ws = L.w;
  for (int64_t t = 0; t < n; ++t)
    for (int64_t c = 0; c < cols; ++c) xs[t * cols + c] /= s[c];
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) ws[r * cols + c] *= s[c];
  const std::vector<double> same = FloatProduct(xs, ws, n, rows, cols);
  EXPECT_LT(RelError(std::vector<float>(same.begin(), same.end()), want), 1e-5);
  const WeightTensor plain = WeightTensor::FromFloat(WeightFormat::kW8A8, rows, cols, L.w.data());
  const WeightTensor smooth = WeightTensor::FromFloat(WeightFormat::kW8A8, rows, cols, ws.data());
  for (Isa isa : Isas()) {
    const double e_plain = RelError(RunLinear(isa, plain, L.x, n), want);
    const double e_smooth = RelError(RunLinear(isa, smooth, xs, n), want);
    EXPECT_LT(e_smooth, 0.5 * e_plain) << IsaName(isa) << ": " << e_smooth << " vs " << e_plain;
  }
}

TEST(OutlierLayerTest, SmoothingScalesFollowTheFormulaAndGuardZeros) {
  const std::vector<float> act = {4.0f, 0.0f, 9.0f, 1.0f};
  const std::vector<float> w = {1.0f, 2.0f, 0.0f, 0.25f};
  const std::vector<float> s = SmoothingScales(act, w, 0.5);
  EXPECT_FLOAT_EQ(s[0], 2.0f);  // sqrt(4) / sqrt(1)
  EXPECT_EQ(s[1], 1.0f);        // no activation: left alone
  EXPECT_EQ(s[2], 1.0f);        // no weight: left alone
  EXPECT_FLOAT_EQ(s[3], 2.0f);  // sqrt(1) / sqrt(0.25)
  const std::vector<float> s1 = SmoothingScales(act, w, 1.0);
  EXPECT_FLOAT_EQ(s1[0], 4.0f);
  EXPECT_FLOAT_EQ(s1[3], 1.0f);
  const std::vector<float> s0 = SmoothingScales(act, w, 0.0);
  EXPECT_FLOAT_EQ(s0[3], 4.0f);  // 1 / 0.25
}

// ----- The techniques on random models ---------------------------------------------------

constexpr int kVocab = 60;

// Multiplies input column c of the row-major f32 matrix t by f.
void ScaleColumn(WeightTensor& t, int64_t c, float f) {
  std::vector<float> w = t.ToFloat();
  for (int64_t r = 0; r < t.rows(); ++r) w[r * t.cols() + c] *= f;
  t = WeightTensor::FromFloat(WeightFormat::kF32, t.rows(), t.cols(), w.data());
}

// A random model with activation outliers, as in large trained models: a few input columns
// of the qkv and gate/up sites are 30x larger than the others (norm gains x30), and the
// weights reading them are 30x smaller, so that the model computes the same function as
// without them (and quantization errors, not the outliers' weight, decide the results).
Model OutlierModel(int kv_heads = 2, bool outliers = true) {
  RandomModelOptions o;
  o.config.dim = 64, o.config.hidden_dim = 96, o.config.n_layers = 2, o.config.n_heads = 4;
  o.config.n_kv_heads = kv_heads, o.config.vocab_size = kVocab, o.config.max_seq_len = 64;
  o.config.tied_embeddings = false;
  o.seed = 13;
  Model m = MakeRandomModel(o);
  for (float& g : m.final_norm) g *= 3.0f;
  if (!outliers) return m;
  for (LayerWeights& l : m.layers) {
    for (int c : {3, 17, 40}) {
      l.attn_norm[c] *= 30.0f;
      for (WeightTensor* t : {&l.wq, &l.wk, &l.wv}) ScaleColumn(*t, c, 1.0f / 30.0f);
    }
    for (int c : {9, 50}) {
      l.ffn_norm[c] *= 30.0f;
      for (WeightTensor* t : {&l.w_gate, &l.w_up}) ScaleColumn(*t, c, 1.0f / 30.0f);
    }
  }
  return m;
}

CalibrationSet Calibration() {
  CalibrationSet set;
  set.source = "test-calibration";
  set.key = "test";
  for (int s = 0; s < 4; ++s) {
    std::vector<int32_t> seq = {1};
    for (int i = 0; i < 31; ++i) seq.push_back(3 + (i * 7 + s * 13) % (kVocab - 3));
    set.sequences.push_back(seq);
  }
  return set;
}

std::vector<float> Logits(const Model& m) {
  auto e = Engine::Create(m);
  EXPECT_TRUE(e.ok()) << e.status();
  std::vector<int32_t> toks;
  for (int i = 0; i < 40; ++i) toks.push_back(3 + (i * 11 + i / 3) % 55);
  std::vector<float> out(toks.size() * kVocab);
  EXPECT_TRUE((*e)->Forward(toks, out.data(), true).ok());
  return out;
}

double LogitError(const std::vector<float>& got, const std::vector<float>& want) {
  return RelError(got, std::vector<double>(want.begin(), want.end()));
}

absl::StatusOr<std::vector<std::string>> Apply(const std::string& spec, Model& m,
                                               const CalibrationSet* set) {
  auto p = MakePipeline({spec});
  if (!p.ok()) return p.status();
  TechniqueContext ctx;
  ctx.calibration = set;
  return ApplyPipeline(*p, m, ctx);
}

TEST(LlmInt8Test, SplitsTheOutlierColumnsAndCountsTheirBytes) {
  const Model original = OutlierModel();
  Model m = original;
  const CalibrationSet set = Calibration();
  auto applied = Apply("llm_int8", m, &set);
  ASSERT_TRUE(applied.ok()) << applied.status();
  ASSERT_EQ(applied->size(), 1u);
  const std::string& what = (*applied)[0];
  EXPECT_THAT(what, HasSubstr("llm_int8:threshold=6"));

  // The injected columns are outliers in every layer; others may be too, the qkv split
  // shares one column set over q, k and v.
  const ModelConfig& c = m.config;
  int64_t total_cols = 0;
  for (int l = 0; l < c.n_layers; ++l) {
    const LayerWeights& w = m.layers[l];
    for (const WeightTensor* t : {&w.wq, &w.wk, &w.wv, &w.wo, &w.w_gate, &w.w_up, &w.w_down})
      EXPECT_EQ(t->format(), WeightFormat::kW8A8);
    ASSERT_NE(w.wq.split(), nullptr);
    ASSERT_NE(w.w_gate.split(), nullptr);
    const std::set<int32_t> qkv(w.wq.split()->cols.begin(), w.wq.split()->cols.end());
    for (int col : {3, 17, 40}) EXPECT_TRUE(qkv.count(col)) << "layer " << l << " col " << col;
    const std::set<int32_t> gu(w.w_gate.split()->cols.begin(), w.w_gate.split()->cols.end());
    for (int col : {9, 50}) EXPECT_TRUE(gu.count(col)) << "layer " << l << " col " << col;
    EXPECT_EQ(w.wk.split()->cols, w.wq.split()->cols);
    EXPECT_EQ(w.w_up.split()->cols, w.w_gate.split()->cols);
    total_cols += int64_t(w.wq.split()->cols.size() + w.w_gate.split()->cols.size());
    if (w.wo.split()) total_cols += int64_t(w.wo.split()->cols.size());
    if (w.w_down.split()) total_cols += int64_t(w.w_down.split()->cols.size());

    // Reported bytes: main W8A8 rows + f16 dense part + int32 indices.
    for (const WeightTensor* t : {&w.wq, &w.wv, &w.w_gate, &w.w_down}) {
      const int64_t k = t->split() ? int64_t(t->split()->cols.size()) : 0;
      EXPECT_EQ(t->bytes(), t->rows() * (4 + t->cols()) + t->rows() * k * 2 + k * 4);
      if (t->split()) {
        EXPECT_EQ(t->split()->dense->bytes(), t->rows() * k * 2);
      }
    }
  }
  EXPECT_THAT(what, HasSubstr(absl::StrCat(total_cols, " outlier columns found")));
  // Embedding and classifier untouched.
  EXPECT_EQ(m.embedding.storage_id(), original.embedding.storage_id());
  EXPECT_EQ(m.lm_head->storage_id(), original.lm_head->storage_id());

  // The decomposition keeps the outputs far closer than plain W8A8 of the whole matrices.
  Model plain = original;
  ConvertLayerMatrices(plain, WeightFormat::kW8A8, /*embeddings=*/false);
  const std::vector<float> ref = Logits(original);
  const double e_split = LogitError(Logits(m), ref), e_plain = LogitError(Logits(plain), ref);
  EXPECT_GT(e_split, 0.0);
  EXPECT_LT(e_split, 0.25 * e_plain) << e_split << " vs " << e_plain;

  // Not representable in a safetensors file: the error names the tensor.
  const std::string dir =
      (std::filesystem::temp_directory_path() / "squeeze_llm_int8_save").string();
  absl::Status s = SaveHfModel(m, dir);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("model.layers.0.self_attn.q_proj.weight"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("not representable in safetensors"));
  std::filesystem::remove_all(dir);
}

TEST(SmoothQuantTest, FoldsScalesAndBeatsPlainW8A8) {
  // With and without grouped-query attention (o is smoothed only without).
  for (int kv_heads : {4, 2}) {
    SCOPED_TRACE(absl::StrCat("kv_heads ", kv_heads));
    const Model original = OutlierModel(kv_heads);
    Model m = original;
    const CalibrationSet set = Calibration();
    auto applied = Apply("smoothquant", m, &set);
    ASSERT_TRUE(applied.ok()) << applied.status();
    EXPECT_THAT((*applied)[0], HasSubstr("smoothquant:alpha=0.5"));
    for (const LayerWeights& w : m.layers) {
      for (const WeightTensor* t : {&w.wq, &w.wk, &w.wv, &w.wo, &w.w_gate, &w.w_up, &w.w_down}) {
        EXPECT_EQ(t->format(), WeightFormat::kW8A8);
        EXPECT_EQ(t->split(), nullptr);
      }
    }
    // The outlier columns' norm gains were divided by their (large) scales.
    for (size_t l = 0; l < m.layers.size(); ++l) {
      EXPECT_LT(m.layers[l].attn_norm[17], original.layers[l].attn_norm[17] / 2) << l;
      EXPECT_LT(m.layers[l].ffn_norm[50], original.layers[l].ffn_norm[50] / 2) << l;
    }
    // o's input is smoothed (o's columns scaled, v's rows divided) only when n_heads ==
    // n_kv_heads; otherwise o is just rounded to int8 per row.
    bool o_only_rounded = true;
    for (size_t l = 0; l < m.layers.size(); ++l) {
      const WeightTensor& o0 = original.layers[l].wo;
      const std::vector<float> a = o0.ToFloat(), b = m.layers[l].wo.ToFloat();
      for (int64_t r = 0; r < o0.rows(); ++r) {
        float amax = 0;
        for (int64_t k = 0; k < o0.cols(); ++k)
          amax = std::max(amax, std::abs(a[r * o0.cols() + k]));
        for (int64_t k = 0; k < o0.cols(); ++k) {
          const int64_t i = r * o0.cols() + k;
          if (std::abs(a[i] - b[i]) > amax / 127.0f * 0.5001f) o_only_rounded = false;
        }
      }
    }
    EXPECT_EQ(o_only_rounded, kv_heads != 4);
    EXPECT_EQ(m.embedding.storage_id(), original.embedding.storage_id());

    Model plain = original;
    ConvertLayerMatrices(plain, WeightFormat::kW8A8, /*embeddings=*/false);
    const std::vector<float> ref = Logits(original);
    const double e_smooth = LogitError(Logits(m), ref), e_plain = LogitError(Logits(plain), ref);
    EXPECT_GT(e_smooth, 0.0);
    EXPECT_LT(e_smooth, 0.25 * e_plain) << e_smooth << " vs " << e_plain;
  }
}

TEST(SmoothQuantTest, EveryAlphaFoldsExactly) {
  // alpha 0 and 1 put all the range in the weights or in the activations; either way the
  // rewrite is exact before quantization, so the error stays near that of a model without
  // outliers in W8A8 (a scale folded on one side only would be far off).
  const Model original = OutlierModel(4);
  const CalibrationSet set = Calibration();
  const std::vector<float> ref = Logits(original);
  Model plain = original;
  ConvertLayerMatrices(plain, WeightFormat::kW8A8, /*embeddings=*/false);
  const double e_plain = LogitError(Logits(plain), ref);
  for (const char* spec : {"smoothquant:alpha=0", "smoothquant:alpha=1"}) {
    Model m = original;
    auto applied = Apply(spec, m, &set);
    ASSERT_TRUE(applied.ok()) << applied.status();
    EXPECT_LT(LogitError(Logits(m), ref), 0.25 * e_plain) << spec;
  }
}

TEST(KvCacheTechniqueTest, SetsTheCacheFormatAndShrinksBytesPerToken) {
  const Model original = OutlierModel();
  const int64_t f32_bytes = (*Engine::Create(original))->kv_bytes_per_token();
  for (const auto& [spec, format] : std::vector<std::pair<std::string, KvCacheFormat>>{
           {"kv_cache", KvCacheFormat::kInt8},
           {"kv_cache:format=fp8_e4m3", KvCacheFormat::kFp8E4M3}}) {
    Model m = original;
    auto applied = Apply(spec, m, nullptr);
    ASSERT_TRUE(applied.ok()) << applied.status();
    EXPECT_EQ(m.kv_cache, format) << spec;
    EXPECT_NE(m.content_hash, original.content_hash);
    EXPECT_THAT((*applied)[0], HasSubstr(KvCacheFormatName(format)));
    const ModelConfig& c = m.config;
    auto e = Engine::Create(m);
    ASSERT_TRUE(e.ok());
    EXPECT_EQ((*e)->kv_bytes_per_token(),
              int64_t(c.n_layers) * 2 * (c.kv_dim() + int64_t(c.n_kv_heads) * 4));
    EXPECT_LT((*e)->kv_bytes_per_token() * 3, f32_bytes) << spec;
    // Weights untouched.
    EXPECT_EQ(m.layers[0].wq.storage_id(), original.layers[0].wq.storage_id());
  }
  EXPECT_EQ(original.kv_cache, KvCacheFormat::kF32);
}

TEST(OutlierTechniquesTest, ErrorsNameTheParameterOrTheMissingCalibration) {
  auto error = [](const std::string& spec) {
    auto p = MakePipeline({spec});
    return p.ok() ? std::string() : std::string(p.status().message());
  };
  EXPECT_THAT(error("smoothquant:alpha=1.5"), HasSubstr("smoothquant.alpha: 1.5 is outside"));
  EXPECT_THAT(error("smoothquant:alpha=-0.1"), HasSubstr("smoothquant.alpha"));
  EXPECT_THAT(error("llm_int8:threshold=0"), HasSubstr("llm_int8.threshold: 0 must be > 0"));
  EXPECT_THAT(error("llm_int8:threshold=-2"), HasSubstr("llm_int8.threshold"));
  EXPECT_THAT(error("kv_cache:format=int4"), HasSubstr("kv_cache.format"));
  EXPECT_EQ(error("llm_int8:threshold=0.5"), "");
  EXPECT_EQ(error("smoothquant:alpha=1"), "");

  ASSERT_NE(FindTechnique("llm_int8"), nullptr);
  EXPECT_TRUE(FindTechnique("llm_int8")->needs_calibration);
  EXPECT_TRUE(FindTechnique("smoothquant")->needs_calibration);
  EXPECT_FALSE(FindTechnique("kv_cache")->needs_calibration);
  for (const char* name : {"llm_int8", "smoothquant"}) {
    Model m = OutlierModel();
    auto applied = Apply(name, m, nullptr);
    ASSERT_FALSE(applied.ok()) << name;
    EXPECT_THAT(std::string(applied.status().message()), HasSubstr("--calib-text")) << name;
    EXPECT_THAT(std::string(applied.status().message()), HasSubstr(name));
  }
}

TEST(OutlierTechniquesTest, PipelineStepsShareStatisticsOfTheModelTheySee) {
  const Model original = OutlierModel();
  const CalibrationSet set = Calibration();
  StatsCache cache;
  TechniqueContext ctx;
  ctx.calibration = &set;
  ctx.stats = &cache;
  // Two steps that both need statistics: the second sees the smoothed model, so the cache
  // must collect again rather than hand back the first model's.
  auto p = MakePipeline({"smoothquant", "llm_int8"});
  ASSERT_TRUE(p.ok()) << p.status();
  Model m = original;
  auto applied = ApplyPipeline(*p, m, ctx);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(cache.collections(), 2);
  // Another technique on the original model: its statistics are already in the cache.
  Model m2 = original;
  auto again = MakePipeline({"llm_int8"});
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(ApplyPipeline(*again, m2, ctx).ok());
  EXPECT_EQ(cache.collections(), 2);
}

}  // namespace
}  // namespace squeeze
