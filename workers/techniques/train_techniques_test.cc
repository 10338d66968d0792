// The training techniques: their schemas, QAT's fake quantization equal to the packed values,
// QAT beating RTN at 3 bits on stories260K, recovery fine-tuning with adapters kept apart
// (bytes counted, products run by the engine) or merged (the same function), zeros kept by
// full fine-tuning, and distillation checkpoints.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "engine/engine.h"
#include "measure/accuracy.h"
#include "measure/size.h"
#include "model/loader.h"
#include "techniques/int_grid.h"
#include "techniques/registry.h"
#include "testutil/assets.h"
#include "util/rng.h"

namespace squeeze {
namespace {

using ::testing::HasSubstr;

std::string MakeError(const std::string& spec) {
  auto p = MakePipeline({spec});
  return p.ok() ? "" : std::string(p.status().message());
}

TEST(TrainTechniquesTest, RegisteredWithSchemas) {
  for (const char* name : {"distill", "qat", "finetune"}) ASSERT_NE(FindTechnique(name), nullptr);
  EXPECT_EQ(MakeError("qat:bits=3,steps=10"), "");
  EXPECT_THAT(MakeError("qat:bits=5"), HasSubstr("qat.bits: 5 is not one of"));
  EXPECT_THAT(MakeError("distill:steps=100,checkpoints=50/150"),
              HasSubstr("distill.checkpoints: \"150\" is not a step in [1, 100]"));
  EXPECT_THAT(MakeError("distill:mode=blackbox,text=a.txt"), HasSubstr("distill.text"));
  EXPECT_THAT(MakeError("finetune:merge=true"), HasSubstr("finetune.merge"));
  EXPECT_THAT(MakeError("finetune:lora_rank=-1"), HasSubstr("finetune.lora_rank"));
  // The canonical spec parses back (text=teacher stands for sampled text).
  auto p = MakePipeline({"distill:layers=2"});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(MakeError(p->steps[0]->Describe().substr(0, p->steps[0]->Describe().find(": "))), "");
}

TEST(TrainTechniquesTest, FakeQuantizationIsWhatTheFormatPacks) {
  Rng rng(1);
  std::vector<float> row(200), fake(200), packed(200);
  for (float& v : row) v = float(rng.Normal() * 0.1);
  row[7] = 0.9f;  // an outlier in the first group
  for (const char* name :
       {"q2_g32", "q3_g32", "q3_g64_asym", "q4_g128", "q4_g32_asym", "q8_g32", "q8_channel"}) {
    WeightFormat f;
    ASSERT_TRUE(FormatFromName(name, &f)) << name;
    absl::StatusOr<IntGrid> g = IntGridFor(f);
    ASSERT_TRUE(g.ok());
    FakeQuantizeRow(*g, row.data(), fake.data(), 200);  // 200: a short last group
    const WeightTensor t = WeightTensor::FromFloat(f, 1, 200, row.data());
    t.RowToFloat(0, packed.data());
    EXPECT_EQ(fake, packed) << name;
  }
}

// Mean KL(base || model) over the second half of the stories text (by lines), and that half.
double KldOnHeldOutHalf(const Model& base, const Model& model, const Tokenizer& tok,
                        const std::string& held_out) {
  EvalSettings s;
  s.context = 128;
  s.max_tokens = 6000;
  const std::vector<int32_t> tokens = tok.Encode(held_out, false);
  auto eb = Engine::Create(base);
  auto em = Engine::Create(model);
  EXPECT_TRUE(eb.ok() && em.ok());
  auto lb = ComputeLogProbs(**eb, tokens, s, tok.bos_id());
  auto lm = ComputeLogProbs(**em, tokens, s, tok.bos_id());
  EXPECT_TRUE(lb.ok() && lm.ok());
  return CompareLogProbs(*lm, &*lb).kld.mean;
}

struct StoriesHalves {
  std::string train_path, held_out;
};

// The first half of tinystories-valid-100.noeot.txt (by lines) in a file to train on, the
// second half to evaluate: training text and evaluation text are disjoint.
StoriesHalves SplitStories(const std::string& text_path, const std::string& dir) {
  std::ifstream in(text_path);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l + "\n");
  StoriesHalves h;
  std::string first;
  for (size_t i = 0; i < lines.size(); ++i) (i < lines.size() / 2 ? first : h.held_out) += lines[i];
  h.train_path = dir + "/train-half.txt";
  std::ofstream(h.train_path) << first;
  return h;
}

TEST(TrainTechniquesTest, Qat3BitBeatsRtn3BitOnStories260K) {
  SQUEEZE_REQUIRE_ASSET(model_path, "models/stories260K/stories260K.bin");
  SQUEEZE_REQUIRE_ASSET(tok_path, "models/stories260K/tok512.bin");
  SQUEEZE_REQUIRE_ASSET(text_path, "text/tinystories-valid-100.noeot.txt");
  const StoriesHalves halves = SplitStories(text_path, testing::TempDir("qat"));
  absl::StatusOr<Model> base = LoadModel(model_path);
  ASSERT_TRUE(base.ok());
  auto tok = LoadTokenizer(tok_path);
  ASSERT_TRUE(tok.ok());
  TechniqueContext ctx;
  ctx.threads = 2;
  ctx.tokenizer = tok->get();
  Model rtn = *base, qat = *base;
  auto p_rtn = MakePipeline({"rtn:bits=3,group=32"});
  auto p_qat = MakePipeline({"qat:bits=3,group=32,steps=60,text=" + halves.train_path});
  ASSERT_TRUE(p_rtn.ok() && p_qat.ok());
  ASSERT_TRUE(ApplyPipeline(*p_rtn, rtn, ctx).ok());
  absl::StatusOr<std::vector<std::string>> applied = ApplyPipeline(*p_qat, qat, ctx);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(GetFormatTraits(qat.layers[0].wq.format()).name, std::string("q3_g32"));
  EXPECT_EQ(MeasureSize(qat, nullptr).bytes, MeasureSize(rtn, nullptr).bytes);
  const double kld_rtn = KldOnHeldOutHalf(*base, rtn, **tok, halves.held_out);
  const double kld_qat = KldOnHeldOutHalf(*base, qat, **tok, halves.held_out);
  std::printf("3-bit g32 mean KLD on held-out text: rtn %.4f, qat %.4f\n", kld_rtn, kld_qat);
  EXPECT_LT(kld_qat, 0.8 * kld_rtn);  // at least a fifth lower
}

Model SmallRandomModel() {
  RandomModelOptions o;
  o.config.dim = 32, o.config.hidden_dim = 48, o.config.n_layers = 2, o.config.n_heads = 4;
  o.config.n_kv_heads = 2, o.config.vocab_size = 50, o.config.max_seq_len = 64;
  o.config.bos_id = 1, o.config.eos_id = 2;
  return MakeRandomModel(o);
}

// A text file of the small model's tokens is not needed: the techniques sample their text
// from the model (data-free) when no file is given.
TEST(TrainTechniquesTest, AdaptersKeptApartCountTheirBytesAndEqualTheMergedModel) {
  const Model m = SmallRandomModel();
  TechniqueContext ctx;
  ctx.threads = 2;
  ctx.original = &m;
  const std::string common = "steps=20,lr=0.01,batch=4,seq=32,samples=16,lora_rank=4";
  Model kept = m, merged = m;
  auto pk = MakePipeline({"finetune:" + common});
  auto pm = MakePipeline({"finetune:" + common + ",merge=true"});
  ASSERT_TRUE(pk.ok() && pm.ok());
  ASSERT_TRUE(ApplyPipeline(*pk, kept, ctx).ok());
  ASSERT_TRUE(ApplyPipeline(*pm, merged, ctx).ok());
  ASSERT_NE(kept.layers[0].wq.adapter(), nullptr);
  EXPECT_EQ(merged.layers[0].wq.adapter(), nullptr);
  // Per layer: 7 adapters of rank 4, A (4 x cols) and B (rows x 4) in f32.
  const ModelConfig& c = m.config;
  const int64_t q = int64_t(c.n_heads) * c.head_dim(), kv = c.kv_dim();
  const int64_t per_layer = 4 * 4 *
                            ((c.dim + q) + 2 * (c.dim + kv) + (q + c.dim) +
                             2 * (c.dim + c.hidden_dim) + (c.hidden_dim + c.dim));
  EXPECT_EQ(MeasureSize(kept, nullptr).bytes - MeasureSize(m, nullptr).bytes,
            c.n_layers * per_layer);
  EXPECT_EQ(MeasureSize(merged, nullptr).bytes, MeasureSize(m, nullptr).bytes);
  // The engine's separate adapter products compute the merged model's function, and the
  // training moved it away from the original.
  std::vector<int32_t> tokens = {1, 5, 9, 13, 40, 2, 7};
  std::vector<float> a(7 * 50), b(7 * 50), o(7 * 50);
  for (auto [model, out] :
       {std::pair<const Model*, std::vector<float>*>{&kept, &a}, {&merged, &b}, {&m, &o}}) {
    auto e = Engine::Create(*model);
    ASSERT_TRUE(e.ok());
    ASSERT_TRUE((*e)->Forward(tokens, out->data(), true).ok());
  }
  double diff = 0, moved = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, double(std::fabs(a[i] - b[i])));
    moved = std::max(moved, double(std::fabs(a[i] - o[i])));
  }
  EXPECT_LT(diff, 1e-4);  // f32 sums in another order
  EXPECT_GT(moved, 1e-2);
  // An unmerged adapter cannot be written to safetensors: the error says so.
  const absl::Status s = SaveHfModel(kept, testing::TempDir("ft") + "/m");
  EXPECT_THAT(std::string(s.message()), HasSubstr("low-rank adapter"));
}

TEST(TrainTechniquesTest, FullFineTuningKeepsZerosAndFormats) {
  Model m = SmallRandomModel();
  // "Prune": zero every other weight of wq in layer 0, and 3 of 4 of layer 1's wo stored CSR;
  // store layer 1's w_up in f16.
  std::vector<float> wo = m.layers[1].wo.ToFloat();
  for (size_t i = 0; i < wo.size(); ++i)
    if (i % 4 != 0) wo[i] = 0;
  m.layers[1].wo = WeightTensor::SparseFromFloat(WeightFormat::kF32, m.layers[1].wo.rows(),
                                                 m.layers[1].wo.cols(), wo.data());
  std::vector<float> w = m.layers[0].wq.ToFloat();
  for (size_t i = 0; i < w.size(); i += 2) w[i] = 0;
  m.layers[0].wq = WeightTensor::FromFloat(WeightFormat::kF32, m.layers[0].wq.rows(),
                                           m.layers[0].wq.cols(), w.data());
  m.layers[1].w_up =
      WeightTensor::FromFloat(WeightFormat::kF16, m.layers[1].w_up.rows(), m.layers[1].w_up.cols(),
                              m.layers[1].w_up.ToFloat().data());
  TechniqueContext ctx;
  ctx.threads = 2;
  Model tuned = m;
  auto p = MakePipeline({"finetune:steps=10,lr=0.01,batch=4,seq=32,samples=16"});
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(ApplyPipeline(*p, tuned, ctx).ok());
  const std::vector<float> after = tuned.layers[0].wq.ToFloat();
  int changed = 0;
  for (size_t i = 0; i < after.size(); ++i) {
    if (i % 2 == 0) {
      ASSERT_EQ(after[i], 0.0f) << i;
    }
    changed += after[i] != w[i];
  }
  EXPECT_GT(changed, int(after.size()) / 4);
  EXPECT_EQ(tuned.layers[1].w_up.format(), WeightFormat::kF16);
  ASSERT_NE(tuned.layers[1].wo.sparse(), nullptr) << "CSR storage kept";
  EXPECT_EQ(tuned.layers[1].wo.sparse()->index.size(), m.layers[1].wo.sparse()->index.size());
  EXPECT_NE(tuned.layers[1].wo.ToFloat(), wo) << "its kept weights were trained";
}

}  // namespace
}  // namespace squeeze
