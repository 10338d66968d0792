// AdamW with decoupled weight decay on matrices, the learning-rate schedule (linear warm-up,
// then cosine decay to a floor), and gradient clipping by the global norm.
#pragma once

#include <cstdint>
#include <vector>

#include "train/matmul.h"
#include "train/param_layout.h"

namespace squeeze {

struct LrSchedule {
  double peak = 1e-3;
  double min_ratio = 0.1;  // the floor: peak * min_ratio
  int64_t warmup = 100;    // steps of linear warm-up from peak / warmup
  int64_t total = 1000;    // steps; cosine decay runs from warmup to total
  // The learning rate of step s (0-based).
  double At(int64_t step) const;
};

struct AdamWOptions {
  double beta1 = 0.9, beta2 = 0.95, eps = 1e-8;
  double weight_decay = 0.1;  // applied to matrices only (ParamTensor::matrix)
  double clip_norm = 1.0;     // global gradient norm bound; <= 0: no clipping
};

class AdamW {
 public:
  AdamW(const ParamLayout& layout, const AdamWOptions& opts);

  // Clips grads to the global norm bound (over trainable tensors), then updates the
  // trainable tensors of params with learning rate lr. Returns the norm before clipping.
  double Step(const TrainOps& ops, float* params, float* grads, double lr);

  int64_t steps() const { return t_; }

 private:
  struct Segment {
    int64_t offset, size;
    bool decay;
  };
  std::vector<Segment> segments_;
  AdamWOptions opts_;
  std::vector<float> m_, v_;
  int64_t t_ = 0;
};

}  // namespace squeeze
