// What the training techniques (distill, qat, finetune) share: the parameters of a training
// run (steps, lr, batch, seq, text, samples, seed), the training text (a file, tokenized with
// the evaluation's tokenizer, or text sampled from a teacher: data-free), and writing trained
// values back into a model in each tensor's format. Internal to techniques/.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/engine.h"
#include "techniques/technique.h"
#include "train/param_layout.h"
#include "train/trainer.h"

namespace squeeze {

// The `text` value (and default) that means: sample the training text from the teacher.
inline constexpr char kTextFromTeacher[] = "teacher";

// steps, lr, batch, seq, text, samples, seed with the given defaults.
std::vector<ParamSpec> TrainingParams(const char* steps, const char* lr);

struct TrainingRun {
  int64_t steps = 0;
  double lr = 0;
  int batch = 8, seq = 128;
  std::string text;                 // empty: sampled from the teacher
  int samples = 0;                  // sequences sampled when text is empty
  float sample_temperature = 1.0f;  // sampling settings (distill sets them; 1 and all tokens
  int top_k = 0;                    // otherwise)
  uint64_t seed = 1;
};
TrainingRun ReadTrainingParams(const Params& p);

// Trainer settings of a run on a model of context max_seq_len: no weight decay (these runs
// start from trained weights), warm-up of a tenth of the steps (at most 50).
TrainerOptions MakeTrainerOptions(const TrainingRun& run, int max_seq_len);

// The training token stream: the run's text file tokenized (ctx.tokenizer, else the one beside
// model_source), or, without one, run.samples sequences sampled from `teacher` (data-free,
// so that the evaluation text is never trained on). Errors name the technique.
absl::StatusOr<std::vector<int32_t>> TrainingTokens(const std::string& technique,
                                                    const TrainingRun& run,
                                                    const TechniqueContext& ctx,
                                                    const std::string& model_source,
                                                    Engine& teacher);

// An error naming `technique` when the training code cannot represent `model`: layers with
// shapes of their own (head_prune, ffn_prune, gqa, mqa), columns kept apart (llm_int8) or an
// attention mask other than full causal (the training forward pass is full causal
// attention). Such techniques must come after the training technique in a pipeline.
absl::Status RequireTrainableModel(const Model& model, const std::string& technique);

// An engine for a teacher model with the context's threads and instruction set.
absl::StatusOr<std::unique_ptr<Engine>> TeacherEngine(const Model& teacher,
                                                      const TechniqueContext& ctx);

// Copies trained values into `model`: each weight tensor repacked from its f32 values into
// `format_of(original tensor)` with the format's reference quantizer (exact for f32), norms
// copied. Adapters of the layout are not applied.
void StoreParams(const ParamLayout& layout, const std::vector<float>& values, Model& model);

}  // namespace squeeze
