// Techniques and their registry: schema errors name the parameter and what it accepts, the
// spec syntax parses as documented, and applied techniques change formats, bytes and logits
// as they should (checked against counts from the config and an unmodified copy).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <tuple>

#include "engine/engine.h"
#include "measure/accuracy.h"
#include "measure/size.h"
#include "model/loader.h"
#include "techniques/registry.h"

namespace squeeze {
namespace {

using ::testing::HasSubstr;

Model RandomModel(bool tied, uint64_t seed = 7) {
  RandomModelOptions o;
  o.config.dim = 64, o.config.hidden_dim = 96, o.config.n_layers = 2, o.config.n_heads = 4;
  o.config.n_kv_heads = 2, o.config.vocab_size = 60, o.config.max_seq_len = 64;
  o.config.tied_embeddings = tied;
  o.seed = seed;
  Model m = MakeRandomModel(o);
  // Random weights give nearly uniform next-token distributions, between which every KL
  // divergence is tiny; a larger final norm sharpens them so that differences show. (With a
  // tied classifier the residual stream, dominated by the input token's embedding, makes
  // every random model predict that token: accuracy checks use untied models.)
  for (float& g : m.final_norm) g *= 3.0f;
  return m;
}

std::vector<int32_t> Text(int n) {
  std::vector<int32_t> t;
  for (int i = 0; i < n; ++i) t.push_back(3 + (i * 11 + i / 3) % 55);
  return t;
}

// Mean KL(base || model) over 60 scored positions.
double MeanKld(const Model& base, const Model& model) {
  EvalSettings s;
  s.context = 32;
  auto eb = Engine::Create(base);
  auto em = Engine::Create(model);
  EXPECT_TRUE(eb.ok() && em.ok());
  auto lb = ComputeLogProbs(**eb, Text(60), s, 1);
  auto lm = ComputeLogProbs(**em, Text(60), s, 1);
  EXPECT_TRUE(lb.ok() && lm.ok());
  return CompareLogProbs(*lm, &*lb).kld.mean;
}

TEST(TestModelTest, UnrelatedModelsDisagreeClearly) {
  // The yardstick the tests below compare against: two random models differ by > 1 nat.
  EXPECT_GT(MeanKld(RandomModel(false), RandomModel(false, 99)), 1.0);
}

std::string FormatName(const WeightTensor& t) {
  return GetFormatTraits(t.format()).name;
}

// The error message of MakeTechnique(name, params); empty when it succeeds.
std::string MakeError(const std::string& name, const ParamMap& params) {
  absl::StatusOr<std::unique_ptr<Technique>> t = MakeTechnique(name, params);
  return t.ok() ? "" : std::string(t.status().message());
}

TEST(RegistryTest, ListsPrecisionAndRtnSortedWithFamilies) {
  const std::vector<TechniqueInfo>& all = AllTechniques();
  ASSERT_GE(all.size(), 2u);
  for (size_t i = 1; i < all.size(); ++i) EXPECT_LT(all[i - 1].name, all[i].name);
  ASSERT_NE(FindTechnique("precision"), nullptr);
  ASSERT_NE(FindTechnique("rtn"), nullptr);
  EXPECT_EQ(FindTechnique("precision")->family, "precision");
  EXPECT_EQ(FindTechnique("rtn")->family, "quantization");
  EXPECT_EQ(FindTechnique("gptq9"), nullptr);
  // The integer formats never show up as precision targets; the float ones always do.
  const ParamSpec& f = FindTechnique("precision")->params.at(0);
  EXPECT_EQ(f.name, "format");
  for (const char* name : {"f32", "f16", "bf16"})
    EXPECT_NE(std::find(f.allowed.begin(), f.allowed.end(), name), f.allowed.end()) << name;
  for (const std::string& name : f.allowed) EXPECT_NE(name[0], 'q') << name;
}

TEST(RegistryTest, UnknownTechniqueListsTheKnownOnes) {
  const std::string e = MakeError("rnt", {});
  EXPECT_THAT(e, HasSubstr("rnt"));
  EXPECT_THAT(e, HasSubstr("precision"));
  EXPECT_THAT(e, HasSubstr("rtn"));
}

TEST(RegistryTest, UnknownParameterIsNamedWithTheValidOnes) {
  const std::string e = MakeError("rtn", {{"bitz", "4"}});
  EXPECT_THAT(e, HasSubstr("\"bitz\""));
  for (const char* p : {"bits", "group", "symmetric", "embeddings"}) EXPECT_THAT(e, HasSubstr(p));
  EXPECT_THAT(MakeError("precision", {{"format", "f16"}, {"bits", "4"}}),
              HasSubstr("unknown parameter \"bits\" (valid: format)"));
}

TEST(RegistryTest, ValuesOutsideTheSchemaNameTheParameterAndTheAllowedValues) {
  EXPECT_EQ(MakeError("rtn", {{"bits", "5"}}), "rtn.bits: 5 is not one of 2, 3, 4, 8");
  EXPECT_THAT(MakeError("rtn", {{"bits", "four"}}), HasSubstr("rtn.bits: \"four\" is not an"));
  EXPECT_THAT(MakeError("rtn", {{"bits", "4.5"}}), HasSubstr("rtn.bits"));
  EXPECT_EQ(MakeError("rtn", {{"group", "16"}}), "rtn.group: 16 is not one of 0, 32, 64, 128");
  EXPECT_THAT(MakeError("rtn", {{"symmetric", "maybe"}}),
              HasSubstr("rtn.symmetric: \"maybe\" is not true or false"));
  EXPECT_THAT(MakeError("rtn", {{"embeddings", "yes"}}), HasSubstr("rtn.embeddings"));
  // group=0 (per output channel) exists for 8 bits only.
  const std::string g0 = MakeError("rtn", {{"bits", "4"}, {"group", "0"}});
  EXPECT_THAT(g0, HasSubstr("rtn.group"));
  EXPECT_THAT(g0, HasSubstr("bits=8"));
  const std::string fmt = MakeError("precision", {{"format", "q4_g32"}});
  EXPECT_THAT(fmt, HasSubstr("precision.format: q4_g32 is not one of "));
  for (const char* f : {"f32", "f16", "bf16"}) EXPECT_THAT(fmt, HasSubstr(f));
  const std::string missing = MakeError("precision", {});
  EXPECT_THAT(missing, HasSubstr("precision.format: required"));
  EXPECT_THAT(missing, HasSubstr("f16"));
}

TEST(RegistryTest, SchemaChecksFloatsRangesStringsAndDefaults) {
  TechniqueInfo info;
  info.name = "demo";
  auto param = [](const char* name, ParamType type, const char* default_value) {
    ParamSpec p;
    p.name = name;
    p.type = type;
    p.default_value = default_value;
    return p;
  };
  info.params = {param("alpha", ParamType::kFloat, "0.5"), param("steps", ParamType::kInt, "10"),
                 param("pattern", ParamType::kString, "2:4"),
                 param("on", ParamType::kBool, "false")};
  info.params[0].min = 0, info.params[0].max = 1;
  info.params[1].min = 1;
  absl::StatusOr<Params> d = ValidateParams(info, {});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->GetFloat("alpha"), 0.5);
  EXPECT_EQ(d->GetInt("steps"), 10);
  EXPECT_EQ(d->GetString("pattern"), "2:4");
  EXPECT_FALSE(d->GetBool("on"));
  EXPECT_EQ(d->ToSpec(), "demo:alpha=0.5,steps=10,pattern=2:4,on=false");

  absl::StatusOr<Params> g =
      ValidateParams(info, {{"alpha", "0.125"}, {"steps", "3"}, {"on", "1"}});
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->GetFloat("alpha"), 0.125);
  EXPECT_EQ(g->GetInt("steps"), 3);
  EXPECT_TRUE(g->GetBool("on"));

  auto err = [&](const ParamMap& m) {
    absl::StatusOr<Params> p = ValidateParams(info, m);
    return p.ok() ? std::string() : std::string(p.status().message());
  };
  EXPECT_EQ(err({{"alpha", "1.5"}}), "demo.alpha: 1.5 is outside [0, 1]");
  EXPECT_EQ(err({{"alpha", "-0.1"}}), "demo.alpha: -0.1 is outside [0, 1]");
  EXPECT_THAT(err({{"alpha", "nan"}}), HasSubstr("demo.alpha: \"nan\" is not a finite number"));
  EXPECT_THAT(err({{"alpha", "x"}}), HasSubstr("a number in [0, 1]"));
  EXPECT_EQ(err({{"steps", "0"}}), "demo.steps: 0 is outside [1, inf]");
  EXPECT_THAT(err({{"steps", "99999999999999999999"}}), HasSubstr("demo.steps"));
}

TEST(ParseApplySpecTest, AcceptsBareNamesAndKeyValueLists) {
  auto bare = ParseApplySpec("rtn");
  ASSERT_TRUE(bare.ok()) << bare.status();
  EXPECT_EQ(bare->first, "rtn");
  EXPECT_TRUE(bare->second.empty());

  auto full = ParseApplySpec(" rtn : bits=4, group = 128 ,symmetric=false");
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_EQ(full->first, "rtn");
  EXPECT_EQ(full->second, (ParamMap{{"bits", "4"}, {"group", "128"}, {"symmetric", "false"}}));

  // Only the first ':' separates the name; values may contain ':'.
  auto colon = ParseApplySpec("nm_sparse:pattern=2:4");
  ASSERT_TRUE(colon.ok()) << colon.status();
  EXPECT_EQ(colon->first, "nm_sparse");
  EXPECT_EQ(colon->second.at("pattern"), "2:4");
}

TEST(ParseApplySpecTest, MalformedSpecsSayWhatIsWrong) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "empty"},
      {":bits=4", "no technique name"},
      {"RTN", "may only contain"},
      {"rt-n:bits=4", "may only contain"},
      {"rtn:", "no parameters after ':'"},
      {"rtn:  ", "no parameters after ':'"},
      {"rtn:bits", "\"bits\" is not key=value"},
      {"rtn:bits=4,,group=32", "\"\" is not key=value"},
      {"rtn:bits=4,", "\"\" is not key=value"},
      {"rtn:=4", "has no key"},
      {"rtn:bits=", "parameter bits has no value"},
      {"rtn:bits=4,bits=8", "parameter bits is given twice"},
  };
  for (const auto& [spec, want] : cases) {
    auto r = ParseApplySpec(spec);
    ASSERT_FALSE(r.ok()) << spec;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(want)) << spec;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr("\"" + spec + "\"")) << spec;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(PipelineTest, ErrorsNameTheSpecAndNothingIsBuilt) {
  auto p = MakePipeline({"precision:format=f16", "rtn:bits=5"});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(), "rtn:bits=5: rtn.bits: 5 is not one of 2, 3, 4, 8");
}

TEST(PrecisionTest, F16HalvesMatrixBytesAndKeepsLogitsClose) {
  for (bool tied : {true, false}) {
    SCOPED_TRACE(tied ? "tied" : "untied");
    const Model original = RandomModel(tied);
    Model m = original;  // shares storage; Apply must replace tensors, not write into them
    auto p = MakePipeline({"precision:format=f16"});
    ASSERT_TRUE(p.ok()) << p.status();
    auto applied = ApplyPipeline(*p, m);
    ASSERT_TRUE(applied.ok()) << applied.status();
    ASSERT_EQ(applied->size(), 1u);
    EXPECT_THAT((*applied)[0], HasSubstr("precision:format=f16"));
    EXPECT_NE(m.content_hash, original.content_hash);

    for (const auto& [name, t] : m.Matrices()) EXPECT_EQ(FormatName(*t), "f16") << name;
    for (const auto& [name, t] : original.Matrices()) EXPECT_EQ(FormatName(*t), "f32") << name;
    const ModelConfig& c = m.config;
    const int64_t weights =
        int64_t(c.vocab_size) * c.dim * (tied ? 1 : 2) +
        c.n_layers * (2 * int64_t(c.dim) * c.dim + 2 * int64_t(c.kv_dim()) * c.dim +
                      3 * int64_t(c.dim) * c.hidden_dim);
    const SizeReport before = MeasureSize(original, nullptr);
    const SizeReport after = MeasureSize(m, &original);
    EXPECT_EQ(before.matrix_bytes, 4 * weights);
    EXPECT_EQ(after.matrix_bytes, 2 * weights);
    EXPECT_EQ(after.bytes_by_format.at("f16"), 2 * weights);

    // f16 keeps 11 significant bits: a tiny but nonzero change in the output distribution,
    // far below what a different model gives.
    if (!tied) {
      const double kld = MeanKld(original, m);
      EXPECT_GT(kld, 0.0);
      EXPECT_LT(kld, 1e-4 * MeanKld(original, RandomModel(tied, 99)));
    }
    // Each weight is its f16 rounding: relative error at most 2^-11.
    const std::vector<float> w0 = original.layers[1].w_down.ToFloat();
    const std::vector<float> w1 = m.layers[1].w_down.ToFloat();
    for (size_t i = 0; i < w0.size(); ++i)
      ASSERT_LE(std::abs(w1[i] - w0[i]), std::abs(w0[i]) * 0x1p-11f + 1e-7f) << i;
  }
}

TEST(PrecisionTest, TiedClassifierStaysTied) {
  Model m = RandomModel(/*tied=*/true);
  ASSERT_FALSE(m.lm_head.has_value());
  auto p = MakePipeline({"precision:format=bf16"});
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE(ApplyPipeline(*p, m).ok());
  EXPECT_FALSE(m.lm_head.has_value());
  EXPECT_EQ(m.classifier().storage_id(), m.embedding.storage_id());
  EXPECT_EQ(FormatName(m.classifier()), "bf16");
  // Converting to the format a tensor already has keeps its storage.
  const void* before = m.layers[0].wq.storage_id();
  ASSERT_TRUE(ApplyPipeline(*p, m).ok());
  EXPECT_EQ(m.layers[0].wq.storage_id(), before);
}

// (bits, group, symmetric, embeddings) and the format name that must result.
using RtnCase = std::tuple<int, int, bool, bool>;

std::string ExpectedFormat(const RtnCase& c) {
  const auto [bits, group, sym, emb] = c;
  std::string name = "q" + std::to_string(bits) +
                     (group == 0 ? std::string("_channel") : "_g" + std::to_string(group));
  return sym ? name : name + "_asym";
}

class RtnTest : public ::testing::TestWithParam<RtnCase> {};

TEST_P(RtnTest, QuantizesEveryLayerMatrixAndChangesLogitsSlightly) {
  const auto [bits, group, sym, emb] = GetParam();
  const std::string want = ExpectedFormat(GetParam());
  WeightFormat f;
  if (!FormatFromName(want, &f)) GTEST_SKIP() << "format " << want << " is not registered yet";
  const std::string spec = "rtn:bits=" + std::to_string(bits) + ",group=" + std::to_string(group) +
                           ",symmetric=" + (sym ? "true" : "false") +
                           ",embeddings=" + (emb ? "true" : "false");
  for (bool tied : {true, false}) {
    SCOPED_TRACE(spec + (tied ? " tied" : " untied"));
    const Model original = RandomModel(tied);
    Model m = original;
    auto p = MakePipeline({spec});
    ASSERT_TRUE(p.ok()) << p.status();
    auto applied = ApplyPipeline(*p, m);
    ASSERT_TRUE(applied.ok()) << applied.status();
    EXPECT_THAT((*applied)[0], HasSubstr(want));
    EXPECT_THAT((*applied)[0], HasSubstr(emb ? "embedding and classifier quantized"
                                             : "embedding and classifier kept"));
    for (const LayerWeights& l : m.layers) {
      for (const WeightTensor* t : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down})
        EXPECT_EQ(FormatName(*t), want);
    }
    if (emb) {
      EXPECT_EQ(FormatName(m.embedding), want);
      EXPECT_EQ(FormatName(m.classifier()), want);
    } else {
      EXPECT_EQ(m.embedding.storage_id(), original.embedding.storage_id());
      EXPECT_EQ(m.classifier().storage_id(), original.classifier().storage_id());
    }
    if (tied) {
      EXPECT_EQ(m.classifier().storage_id(), m.embedding.storage_id());
    }
    EXPECT_LT(MeasureSize(m, nullptr).matrix_bytes, MeasureSize(original, nullptr).matrix_bytes);

    // Rounding to `bits` bits changes the outputs, but far less than swapping the model
    // (measured: 8 bits ~5e-5, 4 bits 1-3e-2 of the unrelated model's KLD).
    if (!tied) {
      const double kld = MeanKld(original, m);
      EXPECT_GT(kld, 0.0);
      EXPECT_LT(kld, MeanKld(original, RandomModel(tied, 99)) * (bits >= 8   ? 1e-3
                                                                 : bits >= 4 ? 0.1
                                                                             : 0.5));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Formats, RtnTest,
                         ::testing::Values(RtnCase{4, 32, true, false},
                                           RtnCase{4, 32, false, false},
                                           RtnCase{4, 128, true, true}, RtnCase{8, 32, true, false},
                                           RtnCase{8, 0, true, false}, RtnCase{3, 64, false, false},
                                           RtnCase{2, 32, true, false}),
                         [](const ::testing::TestParamInfo<RtnCase>& info) {
                           std::string n = ExpectedFormat(info.param);
                           return std::get<3>(info.param) ? n + "_embeddings" : n;
                         });

TEST(RtnTest, DefaultsAreFourBitGroupsOf32Symmetric) {
  auto t = MakeTechnique("rtn", {});
  WeightFormat f;
  if (!FormatFromName("q4_g32", &f)) {
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.status().message(), "rtn: format q4_g32 is not available in this build");
    GTEST_SKIP() << "format q4_g32 is not registered yet";
  }
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT((*t)->Describe(), HasSubstr("rtn:bits=4,group=32,symmetric=true,embeddings=false"));
}

// nf4 / fp4: every layer matrix in the 4-bit block format, bytes as the format packs them,
// outputs changed but far less than by swapping the model.
TEST(Bnb4Test, QuantizesEveryLayerMatrixToTheBlockFormat) {
  for (const std::string name : {"nf4", "fp4"}) {
    SCOPED_TRACE(name);
    WeightFormat f;
    ASSERT_TRUE(FormatFromName(name, &f));
    const Model original = RandomModel(/*tied=*/false);
    Model m = original;
    auto p = MakePipeline({name});
    ASSERT_TRUE(p.ok()) << p.status();
    auto applied = ApplyPipeline(*p, m);
    ASSERT_TRUE(applied.ok()) << applied.status();
    EXPECT_THAT((*applied)[0], HasSubstr("per 64 weights"));
    int64_t layer_bytes = 0;
    for (const LayerWeights& l : m.layers) {
      for (const WeightTensor* t : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) {
        EXPECT_EQ(FormatName(*t), name);
        // 64 weights per block: 32 bytes of codes + a 2-byte f16 scale.
        layer_bytes += t->rows() * ((t->cols() + 63) / 64) * 34;
        EXPECT_EQ(t->bytes(), t->rows() * ((t->cols() + 63) / 64) * 34);
      }
    }
    EXPECT_GT(layer_bytes, 0);
    EXPECT_EQ(m.embedding.storage_id(), original.embedding.storage_id());
    const double kld = MeanKld(original, m);
    EXPECT_GT(kld, 0.0);
    EXPECT_LT(kld, MeanKld(original, RandomModel(false, 99)) * 0.1);
  }
}

}  // namespace
}  // namespace squeeze
