// The training loop (see trainer.h).
#include "train/trainer.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "util/rng.h"

namespace squeeze {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace

Trainer::Trainer(const ParamLayout& layout, std::vector<float> params, const TrainOps& ops,
                 const TrainerOptions& opts)
    : layout_(layout),
      params_(std::move(params)),
      grads_(size_t(layout.total)),
      ops_(ops),
      opts_(opts),
      grad_(layout, ops),
      adamw_(layout, opts.adamw),
      rng_state_(opts.seed) {
  opts_.lr.total = opts_.steps;
}

void Trainer::SetTeacher(TeacherFn teacher, const DistillSettings& settings) {
  teacher_ = std::move(teacher);
  distill_ = settings;
}

void Trainer::KeepZeros() {
  zeros_.clear();
  for (const ParamTensor& t : layout_.tensors) {
    if (!t.trainable || !t.matrix) continue;
    for (int64_t i = t.offset; i < t.offset + t.size(); ++i) {
      if (params_[size_t(i)] == 0.0f) zeros_.push_back(i);
    }
  }
}

void Trainer::SampleBatch(const std::vector<int32_t>& stream, std::vector<int32_t>* inputs,
                          std::vector<int32_t>* targets) {
  const int64_t T = opts_.seq, span = int64_t(stream.size()) - T + 1;  // span > 0 (checked)
  const int32_t bos = layout_.config.bos_id >= 0 ? layout_.config.bos_id : stream[0];
  Rng rng(rng_state_);
  rng_state_ = rng.Next();
  inputs->resize(size_t(opts_.batch * T));
  targets->resize(size_t(opts_.batch * T));
  for (int b = 0; b < opts_.batch; ++b) {
    const int64_t o = int64_t(rng.Below(uint64_t(span)));
    int32_t* x = inputs->data() + b * T;
    int32_t* y = targets->data() + b * T;
    // Window [BOS, s[o], ..., s[o+T-2]] predicting s[o], ..., s[o+T-1].
    x[0] = bos;
    for (int64_t t = 1; t < T; ++t) x[t] = stream[size_t(o + t - 1)];
    for (int64_t t = 0; t < T; ++t) y[t] = stream[size_t(o + t)];
  }
}

double Trainer::EvalLoss(const std::vector<int32_t>& tokens, int windows) {
  const int64_t T = opts_.seq;
  const int32_t bos = layout_.config.bos_id >= 0 ? layout_.config.bos_id : 0;
  std::vector<int32_t> x, y;
  for (int w = 0; w < windows && int64_t(w + 1) * T <= int64_t(tokens.size()); ++w) {
    x.push_back(bos);
    for (int64_t t = 0; t < T; ++t) {
      if (t + 1 < T) x.push_back(tokens[size_t(w * T + t)]);
      y.push_back(tokens[size_t(w * T + t)]);
    }
  }
  if (y.empty()) return -1;
  const int64_t B = int64_t(y.size()) / T;
  const float* logits = grad_.Forward(params_.data(), x.data(), B, T);
  std::vector<float> dl(y.size() * size_t(layout_.config.vocab_size));
  return CrossEntropyLoss(ops_, logits, y.data(), B * T, layout_.config.vocab_size, dl.data()).ce;
}

absl::Status Trainer::Run(const std::vector<int32_t>& train, const std::vector<int32_t>& valid) {
  const ModelConfig& c = layout_.config;
  const int64_t T = opts_.seq, n = int64_t(opts_.batch) * T, V = c.vocab_size;
  if (T < 2 || T > c.max_seq_len) {
    return absl::InvalidArgumentError(
        absl::StrCat("training window of ", T, " tokens: must lie in [2, ", c.max_seq_len, "]"));
  }
  if (int64_t(train.size()) < T) {
    return absl::InvalidArgumentError(
        absl::StrCat("training text has ", train.size(), " tokens, fewer than one window of ", T));
  }
  for (const std::vector<int32_t>* s : {&train, &valid}) {
    for (size_t i = 0; i < s->size(); ++i) {
      if ((*s)[i] < 0 || (*s)[i] >= V) {
        return absl::InvalidArgumentError(
            absl::StrCat("token id ", (*s)[i], " at index ", i, " is outside the vocabulary"));
      }
    }
  }
  std::vector<int32_t> x, y;
  std::vector<float> dlogits(size_t(n * V)), teacher;
  if (teacher_) teacher.resize(size_t(n * V));
  const Clock::time_point start = Clock::now();
  for (int64_t step = 0; step < opts_.steps; ++step) {
    SampleBatch(train, &x, &y);
    StepInfo info;
    if (teacher_) {
      if (absl::Status s = teacher_(x.data(), opts_.batch, T, teacher.data()); !s.ok()) return s;
    }
    const float* logits = grad_.Forward(params_.data(), x.data(), opts_.batch, T);
    info.loss = teacher_ ? DistillLoss(ops_, logits, teacher.data(), y.data(), n, V, distill_,
                                       dlogits.data())
                         : CrossEntropyLoss(ops_, logits, y.data(), n, V, dlogits.data());
    std::fill(grads_.begin(), grads_.end(), 0.0f);
    grad_.Backward(params_.data(), dlogits.data(), grads_.data());
    for (int64_t i : zeros_) grads_[size_t(i)] = 0.0f;
    info.lr = opts_.lr.At(step);
    info.grad_norm = adamw_.Step(ops_, params_.data(), grads_.data(), info.lr);
    for (int64_t i : zeros_) params_[size_t(i)] = 0.0f;
    info.step = step + 1;
    info.steps = opts_.steps;
    info.elapsed_s = Seconds(start, Clock::now());
    info.tokens_per_s = double(info.step * n) / std::max(1e-9, info.elapsed_s);
    info.eta_s = info.elapsed_s / double(info.step) * double(opts_.steps - info.step);
    const bool last = info.step == opts_.steps;
    if (!valid.empty() && opts_.eval_every > 0 && (info.step % opts_.eval_every == 0 || last)) {
      info.valid_loss = EvalLoss(valid, opts_.eval_windows);
    }
    if (on_step) on_step(info);
    if (on_checkpoint && std::find(opts_.checkpoints.begin(), opts_.checkpoints.end(), info.step) !=
                             opts_.checkpoints.end()) {
      if (absl::Status s = on_checkpoint(info.step, params_); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace squeeze
