// Training losses over logits (n positions x vocab): cross-entropy against target tokens, and
// the distillation loss alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * CE, where _T
// means softmax(logits / T). Each writes d(loss)/d(logits) of the mean over scored positions.
#pragma once

#include <cstdint>

#include "train/matmul.h"

namespace squeeze {

struct LossValue {
  double loss = 0;    // what is minimized (mean over scored positions)
  double ce = 0;      // mean cross-entropy against the targets (nats)
  double kl = 0;      // mean KL(teacher || student) at temperature 1 (distillation only)
  int64_t count = 0;  // scored positions (targets >= 0)
};

// targets[i] < 0: position i is not scored (its dlogits row is zero).
template <class Real>
LossValue CrossEntropyLoss(const TrainOps& ops, const Real* logits, const int32_t* targets,
                           int64_t n, int64_t vocab, Real* dlogits);

struct DistillSettings {
  float alpha = 0.5f;        // weight of the KL term
  float temperature = 1.0f;  // T
};
// teacher_logits (n, vocab) in f32; only positions with targets >= 0 are scored.
template <class Real>
LossValue DistillLoss(const TrainOps& ops, const Real* logits, const float* teacher_logits,
                      const int32_t* targets, int64_t n, int64_t vocab,
                      const DistillSettings& settings, Real* dlogits);

}  // namespace squeeze
