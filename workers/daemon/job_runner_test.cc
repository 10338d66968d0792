// A job's resolved settings reach the evaluation the worker runs: paths under the data root,
// the pipeline in order, latency and context-curve settings.
#include "daemon/job_runner.h"

#include "gtest/gtest.h"

namespace squeeze {
namespace {

TEST(JobRunner, SpecSettingsReachTheEvaluation) {
  v1::JobSpec s;
  s.set_model("m/model.bin");
  s.set_eval_text("text/eval.txt");
  s.set_context(64);
  s.set_latency(true);
  s.set_prompt(8);
  s.set_generate(4);
  s.add_pipeline("mqa");
  s.add_pipeline("kv_cache:format=int8");
  s.set_context_curve("auto:256,1k");
  const EvaluateOptions o = OptionsForJob(s, "/data");
  EXPECT_EQ(o.model, "/data/m/model.bin");
  EXPECT_EQ(o.text, "/data/text/eval.txt");
  EXPECT_EQ(o.eval.context, 64);
  EXPECT_EQ(o.latency.prompt, 8);
  EXPECT_EQ(o.latency.generate, 4);
  EXPECT_EQ(o.apply, (std::vector<std::string>{"mqa", "kv_cache:format=int8"}));
  EXPECT_EQ(o.context_curve, "auto:256,1k");
  // A job from a coordinator that does not set the field gets the default.
  s.clear_context_curve();
  EXPECT_EQ(OptionsForJob(s, "/data").context_curve, "auto");
}

}  // namespace
}  // namespace squeeze
