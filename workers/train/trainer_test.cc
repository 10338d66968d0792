// The training loop learns: a tiny model overfits one fixed batch, a student's KL divergence
// to its teacher falls across checkpoints, and a checkpoint loads back with the same logits
// (a truncated one gives an error naming the file).
#include "train/trainer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "engine/engine.h"
#include "model/loader.h"
#include "testutil/assets.h"
#include "train/checkpoint.h"
#include "train/teacher.h"
#include "util/rng.h"

namespace squeeze {
namespace {

ModelConfig Small(int vocab) {
  ModelConfig c;
  c.dim = 32, c.hidden_dim = 64, c.n_layers = 2, c.n_heads = 4, c.n_kv_heads = 2;
  c.vocab_size = vocab, c.max_seq_len = 64, c.bos_id = 0, c.eos_id = 1;
  return c;
}

std::vector<int32_t> RandomTokens(int64_t n, int32_t lo, int32_t hi, uint64_t seed) {
  Rng rng(seed);
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (int32_t& x : t) x = lo + int32_t(rng.Below(uint64_t(hi - lo)));
  return t;
}

TEST(TrainerTest, TinyModelOverfitsAFixedBatch) {
  // A stream of exactly one window: every batch is the same 4 copies of 32 random tokens
  // (log 30 = 3.4 nats of entropy each). Memorizing them takes the loss below 0.05 nats.
  const ParamLayout layout = ParamLayout::For(Small(32));
  std::vector<float> p(size_t(layout.total));
  InitParams(layout, 1, p.data());
  TrainerOptions o;
  o.steps = 150, o.batch = 4, o.seq = 32;
  o.lr.peak = 1e-2, o.lr.warmup = 10, o.adamw.weight_decay = 0;
  ThreadPool pool(2);
  Trainer t(layout, p, {&pool, ActiveIsa()}, o);
  double first = -1, last = -1;
  t.on_step = [&](const StepInfo& s) {
    if (s.step == 1) first = s.loss.loss;
    last = s.loss.loss;
  };
  ASSERT_TRUE(t.Run(RandomTokens(32, 2, 32, 5), {}).ok());
  EXPECT_GT(first, 3.0);
  EXPECT_LT(last, 0.05);
}

TEST(TrainerTest, CheckpointLoadsBackWithTheSameLogits) {
  const ParamLayout layout = ParamLayout::For(Small(40));
  std::vector<float> p(size_t(layout.total));
  InitParams(layout, 2, p.data());
  for (float& v : p) v *= 5;  // far from uniform predictions
  const std::string dir = testing::TempDir("train-ckpt") + "/ckpt";
  ASSERT_TRUE(WriteCheckpoint(layout, p.data(), dir, "").ok());
  absl::StatusOr<Model> loaded = LoadModel(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const Model direct = ModelFromParams(layout, p.data());
  const std::vector<int32_t> tokens = RandomTokens(20, 0, 40, 3);
  std::vector<float> a(20 * 40), b(20 * 40);
  auto ea = Engine::Create(*loaded), eb = Engine::Create(direct);
  ASSERT_TRUE(ea.ok() && eb.ok());
  ASSERT_TRUE((*ea)->Forward(tokens, a.data(), true).ok());
  ASSERT_TRUE((*eb)->Forward(tokens, b.data(), true).ok());
  EXPECT_EQ(a, b);  // the same f32 weights: bit-identical logits

  // A truncated safetensors file is refused with its name in the error.
  const std::string st = dir + "/model.safetensors";
  std::filesystem::resize_file(st, std::filesystem::file_size(st) / 2);
  absl::StatusOr<Model> bad = LoadModel(dir);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("model.safetensors"), std::string::npos) << bad.status();
}

TEST(TrainerTest, DistilledStudentKlFallsAcrossCheckpoints) {
  // Teacher: a random model with sharp predictions. Student: half as wide, trained on the
  // teacher's logits over random text. The KL to the teacher (measured by the trainer on the
  // training batches) must fall from checkpoint to checkpoint.
  RandomModelOptions to;
  to.config = Small(40);
  to.config.dim = 48, to.config.hidden_dim = 96, to.config.tied_embeddings = false;
  Model teacher = MakeRandomModel(to);
  for (float& g : teacher.final_norm) g *= 4.0f;
  auto engine = Engine::Create(teacher);
  ASSERT_TRUE(engine.ok());
  const ParamLayout layout = ParamLayout::For(Small(40));
  std::vector<float> p(size_t(layout.total));
  InitParams(layout, 3, p.data());
  TrainerOptions o;
  o.steps = 120, o.batch = 4, o.seq = 32, o.lr.peak = 5e-3, o.lr.warmup = 10;
  o.checkpoints = {40, 80, 120};
  ThreadPool pool(2);
  Trainer t(layout, p, {&pool, ActiveIsa()}, o);
  t.SetTeacher(EngineTeacher(**engine), {1.0f, 1.0f});
  std::vector<double> kl;  // mean KL over the 10 steps before each checkpoint
  double sum = 0;
  t.on_step = [&](const StepInfo& s) {
    if (s.step == 1) kl.push_back(s.loss.kl);
    if (s.step % 40 > 30 || s.step % 40 == 0) sum += s.loss.kl;
    if (s.step % 40 == 0) kl.push_back(sum / 10), sum = 0;
  };
  int checkpoints = 0;
  t.on_checkpoint = [&](int64_t, const std::vector<float>&) {
    ++checkpoints;
    return absl::OkStatus();
  };
  ASSERT_TRUE(t.Run(RandomTokens(4000, 2, 40, 4), {}).ok());
  EXPECT_EQ(checkpoints, 3);
  ASSERT_EQ(kl.size(), 4u);
  for (size_t i = 1; i < kl.size(); ++i) EXPECT_LT(kl[i], kl[i - 1]) << "checkpoint " << i;
}

}  // namespace
}  // namespace squeeze
