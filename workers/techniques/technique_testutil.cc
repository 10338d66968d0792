// Helpers of the techniques' tests (technique_testutil.h).
#include "techniques/technique_testutil.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "engine/engine.h"
#include "measure/accuracy.h"
#include "model/loader.h"
#include "model/tokenizer.h"
#include "techniques/registry.h"

namespace squeeze::testing {

Model SmallModel(int n_kv_heads, uint64_t seed) {
  RandomModelOptions o;
  o.config.dim = 64, o.config.hidden_dim = 96, o.config.n_layers = 2, o.config.n_heads = 4;
  o.config.n_kv_heads = n_kv_heads, o.config.vocab_size = 60, o.config.max_seq_len = 64;
  o.seed = seed;
  Model m = MakeRandomModel(o);
  for (float& g : m.final_norm) g *= 3.0f;  // sharper distributions (see techniques_test)
  return m;
}

std::vector<int32_t> TokenText(int n, int salt) {
  std::vector<int32_t> t;
  for (int i = 0; i < n; ++i) t.push_back(3 + (i * 11 + i / 3 + salt) % 55);
  return t;
}

CalibrationSet SmallCalibration() {
  CalibrationSet set;
  set.source = "test";
  set.key = "test-set";
  for (int s = 0; s < 4; ++s) {
    std::vector<int32_t> seq = {1};
    for (int32_t id : TokenText(40, 7 * s + 1)) seq.push_back(id);
    set.sequences.push_back(seq);
  }
  return set;
}

std::vector<const WeightTensor*> LayerMatrixList(const Model& m) {
  std::vector<const WeightTensor*> out;
  for (const LayerWeights& l : m.layers)
    for (const WeightTensor* t : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down})
      out.push_back(t);
  return out;
}

double MeanKld(const Model& base, const Model& model, const std::vector<int32_t>& text,
               int context) {
  EvalSettings s;
  s.context = context;
  auto eb = Engine::Create(base);
  auto em = Engine::Create(model);
  EXPECT_TRUE(eb.ok() && em.ok());
  auto lb = ComputeLogProbs(**eb, text, s, 1);
  auto lm = ComputeLogProbs(**em, text, s, 1);
  EXPECT_TRUE(lb.ok() && lm.ok());
  return CompareLogProbs(*lm, &*lb).kld.mean;
}

// Applies `spec` to a copy of `base`; empty optional on failure (after a test failure).
Model Applied(const Model& base, const std::string& spec, const TechniqueContext& ctx) {
  Model m = base;
  auto p = MakePipeline({spec});
  EXPECT_TRUE(p.ok()) << p.status();
  auto applied = ApplyPipeline(*p, m, ctx);
  EXPECT_TRUE(applied.ok()) << spec << ": " << applied.status();
  return m;
}

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool StoriesBench::Load(const std::string& model_path, const std::string& tok_path,
                        const std::string& calib_path, const std::string& eval_path) {
  absl::StatusOr<Model> base = LoadModel(model_path);
  EXPECT_TRUE(base.ok()) << base.status();
  absl::StatusOr<std::unique_ptr<Tokenizer>> tok = LoadTokenizer(tok_path);
  EXPECT_TRUE(tok.ok()) << tok.status();
  if (!base.ok() || !tok.ok()) return false;
  base_ = *std::move(base);
  bos_ = (*tok)->bos_id();
  const std::string calib_text = ReadAll(calib_path), eval_text = ReadAll(eval_path);
  absl::StatusOr<CalibrationSet> set =
      MakeCalibrationSet(**tok, calib_text.substr(0, calib_text.size() / 2),
                         calib_path + " (first half)", CalibrationOptions{});  // 16 x 128
  EXPECT_TRUE(set.ok()) << set.status();
  if (!set.ok()) return false;
  set_ = *std::move(set);
  text_ = (*tok)->Encode(eval_text.substr(eval_text.size() / 2), false);
  if (text_.size() > 8192) text_.resize(8192);
  auto engine = Engine::Create(base_);
  EXPECT_TRUE(engine.ok());
  if (!engine.ok()) return false;
  absl::StatusOr<LogProbs> lp = ComputeLogProbs(**engine, text_, Settings(), bos_);
  EXPECT_TRUE(lp.ok()) << lp.status();
  if (!lp.ok()) return false;
  base_lp_ = *std::move(lp);
  return true;
}

EvalSettings StoriesBench::Settings() {
  EvalSettings es;
  es.context = 256;
  return es;
}

double StoriesBench::Kld(const std::string& spec) {
  TechniqueContext ctx;
  ctx.calibration = &set_;
  ctx.stats = &cache_;
  ctx.threads = 2;
  const Model m = Applied(base_, spec, ctx);
  auto e = Engine::Create(m);
  EXPECT_TRUE(e.ok());
  if (!e.ok()) return 0;
  absl::StatusOr<LogProbs> lp = ComputeLogProbs(**e, text_, Settings(), bos_);
  EXPECT_TRUE(lp.ok()) << lp.status();
  if (!lp.ok()) return 0;
  return CompareLogProbs(*lp, &base_lp_).kld.mean;
}

}  // namespace squeeze::testing
