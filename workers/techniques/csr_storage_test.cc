// Unstructured sparsity stored CSR: the tensor holds exactly the nonzero weights and reports
// the bytes it allocated; the engine's CSR path (prefill and token-by-token decode) computes
// what the dense matrix with the same zeros computes; storage=auto picks CSR from the
// crossover on; the combinations with quantization, precision and saving behave as documented.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "absl/strings/str_cat.h"
#include "engine/engine.h"
#include "measure/size.h"
#include "model/loader.h"
#include "techniques/prune.h"
#include "techniques/registry.h"
#include "techniques/technique_testutil.h"

namespace squeeze {
namespace {

using ::testing::HasSubstr;
using namespace ::squeeze::testing;

std::vector<float> RandomSparse(int64_t rows, int64_t cols, double keep, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f), p(0.0f, 1.0f);
  std::vector<float> w(rows * cols, 0.0f);
  for (float& v : w)
    if (p(rng) < keep) v = u(rng);
  return w;
}

TEST(SparseWeightTensorTest, HoldsExactlyTheNonzerosAndCountsTheirBytes) {
  const int64_t rows = 9, cols = 301;
  std::vector<float> w = RandomSparse(rows, cols, 0.2, 1);
  w[5] = 1e-9f;  // rounds to zero in f16: kept in f32 only
  int64_t nonzero = 0;
  for (float v : w) nonzero += v != 0.0f;
  for (WeightFormat f : {WeightFormat::kF32, WeightFormat::kF16}) {
    SCOPED_TRACE(GetFormatTraits(f).name);
    const WeightTensor t = WeightTensor::SparseFromFloat(f, rows, cols, w.data());
    ASSERT_NE(t.sparse(), nullptr);
    const SparseRows& s = *t.sparse();
    const int64_t kept = nonzero - (f == WeightFormat::kF16 ? 1 : 0);
    EXPECT_EQ(int64_t(s.index.size()), kept);
    EXPECT_EQ(s.start.size(), size_t(rows + 1));
    // The reported size is the bytes of the three arrays.
    const int64_t allocated = int64_t(s.start.size() * sizeof(uint32_t) +
                                      s.index.size() * sizeof(uint16_t) + s.values.size());
    EXPECT_EQ(t.bytes(), allocated);
    EXPECT_EQ(t.bytes(), CsrBytes(f, rows, kept));
    EXPECT_EQ(t.StorageName(), f == WeightFormat::kF16 ? "csr_f16" : "csr_f32");
    // Unpacking gives the dense matrix back (f16: each value rounded to half).
    const WeightTensor dense = WeightTensor::FromFloat(f, rows, cols, w.data());
    EXPECT_EQ(t.ToFloat(), dense.ToFloat());
  }
}

// The engine on a CSR model equals the engine on the dense model holding the same zeros, in a
// long prefill (rows unpacked for the dense kernel), a short one (the CSR gemm) and
// token-by-token decode (the CSR gemv), for f32 and f16 values.
TEST(CsrStorageTest, EngineComputesLikeDense) {
  const Model base = SmallModel(2, 3);
  const std::vector<int32_t> text = TokenText(40, 1);
  for (const char* values : {"", "precision:format=f16"}) {
    SCOPED_TRACE(values);
    Model start = base;
    if (*values) start = Applied(base, values, {});
    const Model csr = Applied(start, "magnitude:sparsity=0.7,storage=csr", {});
    const Model dense = Applied(start, "magnitude:sparsity=0.7,storage=dense", {});
    for (const WeightTensor* t : LayerMatrixList(csr)) ASSERT_NE(t->sparse(), nullptr);
    for (const WeightTensor* t : LayerMatrixList(dense)) ASSERT_EQ(t->sparse(), nullptr);
    EXPECT_LT(MeanKld(dense, csr, text, 32), 1e-9);
    EXPECT_GT(MeanKld(base, csr, text, 32), 1e-4) << "pruning changed the model";
    auto ec = Engine::Create(csr);
    auto ed = Engine::Create(dense);
    ASSERT_TRUE(ec.ok() && ed.ok());
    const int64_t v = csr.config.vocab_size;
    // 5 tokens in one step: the CSR gemm.
    std::vector<float> bc(5 * v), bd(5 * v);
    ASSERT_TRUE((*ec)->Forward(std::span(text).first(5), bc.data(), true).ok());
    ASSERT_TRUE((*ed)->Forward(std::span(text).first(5), bd.data(), true).ok());
    for (int64_t j = 0; j < 5 * v; ++j) ASSERT_NEAR(bc[j], bd[j], 1e-4) << "logit " << j;
    (*ec)->Reset();
    (*ed)->Reset();
    std::vector<float> lc(v), ld(v);
    for (int i = 0; i < 12; ++i) {
      const int32_t tok[] = {text[i]};
      ASSERT_TRUE((*ec)->Forward(tok, lc.data()).ok());
      ASSERT_TRUE((*ed)->Forward(tok, ld.data()).ok());
      for (int64_t j = 0; j < v; ++j) ASSERT_NEAR(lc[j], ld[j], 1e-4) << "token " << i;
    }
    const SizeReport sc = MeasureSize(csr, nullptr), sd = MeasureSize(dense, nullptr);
    EXPECT_LT(sc.layer_matrix_bytes, sd.layer_matrix_bytes);
    EXPECT_GT(sc.bytes_by_format.count(*values ? "csr_f16" : "csr_f32"), 0u);
  }
}

TEST(CsrStorageTest, AutoStoresSparseFromTheCrossoverOn) {
  const Model base = SmallModel(2, 4);
  const double f32 = CsrCrossover(WeightFormat::kF32), f16 = CsrCrossover(WeightFormat::kF16);
  ASSERT_LT(f32, 0.95);
  ASSERT_LT(f16, 0.95);
  auto all_sparse = [](const Model& m) {
    for (const WeightTensor* t : LayerMatrixList(m))
      if (!t->sparse()) return false;
    return true;
  };
  auto none_sparse = [](const Model& m) {
    for (const WeightTensor* t : LayerMatrixList(m))
      if (t->sparse()) return false;
    return true;
  };
  const std::string below = absl::StrCat("magnitude:sparsity=", f32 - 0.05);
  const std::string above = absl::StrCat("magnitude:sparsity=", f32 + 0.02);
  EXPECT_TRUE(none_sparse(Applied(base, below, {})));
  EXPECT_TRUE(all_sparse(Applied(base, above, {})));
  EXPECT_TRUE(none_sparse(Applied(base, above + ",storage=dense", {})));
  EXPECT_TRUE(all_sparse(Applied(base, below + ",storage=csr", {})));
  const Model half = Applied(base, "precision:format=f16", {});
  EXPECT_TRUE(none_sparse(Applied(half, absl::StrCat("magnitude:sparsity=", f16 - 0.05), {})));
  EXPECT_TRUE(all_sparse(Applied(half, absl::StrCat("magnitude:sparsity=", f16 + 0.02), {})));
  // Global scope: matrices whose own share of zeros reaches the crossover go sparse.
  EXPECT_TRUE(all_sparse(Applied(base, "magnitude:sparsity=0.9,scope=global", {})));
}

// Structured pruning after CSR pruning keeps the matrices CSR (rows and columns removed from
// the sparse form) and computes what the same pipeline on dense storage computes.
TEST(CsrStorageTest, StructuredPruningKeepsCsr) {
  const Model base = SmallModel(2, 6);
  const std::vector<int32_t> text = TokenText(40, 3);
  for (const char* structured : {"head_prune:fraction=0.5", "ffn_prune:fraction=0.25"}) {
    SCOPED_TRACE(structured);
    const Model csr =
        Applied(Applied(base, "magnitude:sparsity=0.7,storage=csr", {}), structured, {});
    const Model dense =
        Applied(Applied(base, "magnitude:sparsity=0.7,storage=dense", {}), structured, {});
    for (const WeightTensor* t : LayerMatrixList(csr)) ASSERT_NE(t->sparse(), nullptr);
    EXPECT_LT(MeasureSize(csr, nullptr).layer_params, MeasureSize(base, nullptr).layer_params);
    EXPECT_LT(MeanKld(dense, csr, text, 32), 1e-9);
  }
}

TEST(CsrStorageTest, QuantizationPrecisionAndSaving) {
  const Model base = SmallModel(2, 5);
  const Model csr = Applied(base, "magnitude:sparsity=0.8", {});
  ASSERT_NE(csr.layers[0].wq.sparse(), nullptr);
  // Quantizing afterwards gives a dense quantized matrix with the zeros.
  const Model q = Applied(csr, "rtn:bits=8", {});
  EXPECT_EQ(q.layers[0].wq.sparse(), nullptr);
  EXPECT_EQ(q.layers[0].wq.format(), WeightFormat::kQ8G32);
  EXPECT_GE(LayerSparsity(LayerMatrixList(q)), 0.79);
  // precision f16 keeps the CSR storage and halves its values; bf16 has no CSR storage.
  const Model h = Applied(csr, "precision:format=f16", {});
  EXPECT_EQ(h.layers[1].w_down.StorageName(), "csr_f16");
  const Model b = Applied(csr, "precision:format=bf16", {});
  EXPECT_EQ(b.layers[1].w_down.StorageName(), "bf16");
  // storage=csr on a quantized matrix is refused naming it.
  Model m = Applied(base, "rtn:bits=4", {});
  auto pipe = MakePipeline({"magnitude:sparsity=0.8,storage=csr"});
  ASSERT_TRUE(pipe.ok());
  auto applied = ApplyPipeline(*pipe, m, {});
  ASSERT_FALSE(applied.ok());
  EXPECT_THAT(applied.status().message(), HasSubstr("layer 0 wq is q4_g32"));
  EXPECT_THAT(applied.status().message(), HasSubstr("storage=csr"));
  // A CSR model cannot be written as safetensors: the tensor is named.
  const std::string dir = ::testing::TempDir() + "/csr_save";
  const absl::Status saved = SaveHfModel(csr, dir);
  EXPECT_FALSE(saved.ok());
  EXPECT_THAT(saved.message(), HasSubstr("model.layers.0.self_attn.q_proj.weight"));
  EXPECT_THAT(saved.message(), HasSubstr("CSR"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace squeeze
