// The training loop: batches of windows cut at random from a token stream (each window starts
// with BOS, as squeeze eval's windows do), forward, loss (cross-entropy, or distillation
// against a teacher's logits), backward, clipping, AdamW with warm-up and cosine decay;
// progress and checkpoints through callbacks.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "train/loss.h"
#include "train/model_grad.h"
#include "train/optimizer.h"
#include "train/param_layout.h"

namespace squeeze {

struct TrainerOptions {
  int64_t steps = 1000;
  int batch = 16;  // windows per step
  int seq = 128;   // tokens per window (BOS included)
  LrSchedule lr;   // lr.total is set to steps
  AdamWOptions adamw;
  uint64_t seed = 1;
  int64_t eval_every = 0;            // 0: no periodic validation
  int eval_windows = 16;             // windows of the validation stream per evaluation
  std::vector<int64_t> checkpoints;  // steps (1-based, after the update) to report
};

struct StepInfo {
  int64_t step = 0, steps = 0;  // step is 1-based
  LossValue loss;
  double lr = 0, grad_norm = 0;
  double tokens_per_s = 0;  // tokens through the model per second, over the run so far
  double elapsed_s = 0, eta_s = 0;
  double valid_loss = -1;  // mean cross-entropy on the validation stream; -1 when not run
};

// Teacher logits (B * T, vocab) for windows (B * T tokens) of B sequences of T tokens.
using TeacherFn =
    std::function<absl::Status(const int32_t* tokens, int64_t B, int64_t T, float* logits)>;

class Trainer {
 public:
  // params: layout.total values to start from (random init, a loaded model, ...).
  Trainer(const ParamLayout& layout, std::vector<float> params, const TrainOps& ops,
          const TrainerOptions& opts);

  // Distillation instead of plain cross-entropy.
  void SetTeacher(TeacherFn teacher, const DistillSettings& settings);
  // QAT: layer matrices go through `t` in the forward pass (straight-through gradient).
  void SetWeightTransform(WeightTransform<float> t) { grad_.set_weight_transform(std::move(t)); }
  // Values that are exactly zero now stay zero (a pruned model keeps its sparsity).
  void KeepZeros();

  std::function<void(const StepInfo&)> on_step;
  // Called after the update of each step listed in options.checkpoints (and only those).
  std::function<absl::Status(int64_t step, const std::vector<float>& params)> on_checkpoint;

  // Trains on windows of `train` (a token stream without BOS; needs at least seq tokens).
  // `valid`, when not empty, is scored every eval_every steps. Errors: a stream too short,
  // a token outside the vocabulary, a teacher error, a checkpoint callback error.
  absl::Status Run(const std::vector<int32_t>& train, const std::vector<int32_t>& valid);

  // Mean cross-entropy of the model on up to `windows` consecutive windows of `tokens`.
  double EvalLoss(const std::vector<int32_t>& tokens, int windows);

  const std::vector<float>& params() const { return params_; }
  const ParamLayout& layout() const { return layout_; }

 private:
  // Fills inputs and targets (batch * seq each) from random windows of `stream`.
  void SampleBatch(const std::vector<int32_t>& stream, std::vector<int32_t>* inputs,
                   std::vector<int32_t>* targets);

  const ParamLayout& layout_;
  std::vector<float> params_, grads_;
  TrainOps ops_;
  TrainerOptions opts_;
  ModelGrad<float> grad_;
  AdamW adamw_;
  uint64_t rng_state_;
  TeacherFn teacher_;
  DistillSettings distill_;
  std::vector<int64_t> zeros_;  // indices kept at zero
};

}  // namespace squeeze
