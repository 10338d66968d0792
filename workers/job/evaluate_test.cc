// Evaluate(): the in-memory caches a worker keeps (the model is loaded and the baseline is
// computed once for many configurations) change no figure, and cancellation stops it.
#include "job/evaluate.h"

#include <gtest/gtest.h>

#include "testutil/assets.h"
#include "testutil/fixtures.h"

namespace squeeze {
namespace {

EvaluateOptions Options(const testing::TinyModelFiles& f, const std::string& spec) {
  EvaluateOptions o;
  o.model = f.model;
  o.tokenizer = f.tokenizer;
  o.text = f.text;
  o.eval.context = 64;
  o.eval.max_tokens = 400;
  o.measure_latency = false;
  o.compare_to_loaded = true;
  if (!spec.empty()) o.apply = {spec};
  return o;
}

TEST(EvaluateTest, MemoryCacheComputesTheBaselineOnceAndChangesNoFigure) {
  const testing::TinyModelFiles f = testing::MakeTinyModelFiles(testing::TempDir("evaluate-cache"));
  EvalMemoryCache cache;
  EvaluateContext cached;
  cached.memory = &cache;
  const std::vector<std::string> specs = {"", "precision:format=f16", "rtn:bits=8,group=32",
                                          "rtn:bits=4,group=32"};
  for (size_t i = 0; i < specs.size(); ++i) {
    absl::StatusOr<EvalReport> with = Evaluate(Options(f, specs[i]), cached);
    absl::StatusOr<EvalReport> without = Evaluate(Options(f, specs[i]));
    ASSERT_TRUE(with.ok()) << with.status();
    ASSERT_TRUE(without.ok()) << without.status();
    EXPECT_EQ(with->baseline_from_cache, i > 0) << specs[i];
    EXPECT_FALSE(without->baseline_from_cache);
    EXPECT_EQ(with->accuracy->kld.mean, without->accuracy->kld.mean) << specs[i];
    EXPECT_EQ(with->accuracy->perplexity, without->accuracy->perplexity) << specs[i];
    EXPECT_EQ(with->accuracy->top1_agreement, without->accuracy->top1_agreement) << specs[i];
    EXPECT_EQ(with->size.bytes, without->size.bytes) << specs[i];
  }
  const EvalMemoryCache::Counters c = cache.counters();
  EXPECT_EQ(c.model_loads, 1);
  EXPECT_EQ(c.model_hits, 3);
  EXPECT_EQ(c.baselines_computed, 1);
  EXPECT_EQ(c.baseline_hits, 3);
}

TEST(EvaluateTest, TheBaselineJobComparesTheModelWithItself) {
  const testing::TinyModelFiles f = testing::MakeTinyModelFiles(testing::TempDir("evaluate-self"));
  absl::StatusOr<EvalReport> r = Evaluate(Options(f, ""));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->accuracy->kld.mean, 0.0);
  EXPECT_EQ(r->accuracy->top1_agreement, 1.0);
  EXPECT_EQ(r->size.ratio_to_baseline, 1.0);
  EXPECT_TRUE(r->techniques.empty());
}

TEST(EvaluateTest, CancellationStopsBeforeTheNextStage) {
  const testing::TinyModelFiles f = testing::MakeTinyModelFiles(testing::TempDir("evaluate-stop"));
  std::atomic<bool> cancel{false};
  std::vector<std::string> stages;
  EvaluateContext ctx;
  ctx.cancel = &cancel;
  ctx.stage = [&](const std::string& s) {
    stages.push_back(s);
    if (s == "apply") cancel = true;
  };
  absl::StatusOr<EvalReport> r = Evaluate(Options(f, "precision:format=f16"), ctx);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled) << r.status();
  EXPECT_EQ(stages, (std::vector<std::string>{"load", "apply"}));
}

}  // namespace
}  // namespace squeeze
