// AdamW over the trainable segments of the flat parameter buffer, in parallel chunks.
#include "train/optimizer.h"

#include <cmath>

namespace squeeze {

double LrSchedule::At(int64_t step) const {
  if (warmup > 0 && step < warmup) return peak * double(step + 1) / double(warmup);
  const double floor = peak * min_ratio;
  if (total <= warmup) return peak;
  const double p = std::min(1.0, double(step - warmup) / double(total - warmup));
  return floor + (peak - floor) * 0.5 * (1.0 + std::cos(3.141592653589793 * p));
}

AdamW::AdamW(const ParamLayout& layout, const AdamWOptions& opts) : opts_(opts) {
  for (const ParamTensor& t : layout.tensors) {
    if (t.trainable) segments_.push_back({t.offset, t.size(), t.matrix});
  }
  m_.assign(size_t(layout.total), 0.0f);
  v_.assign(size_t(layout.total), 0.0f);
}

double AdamW::Step(const TrainOps& ops, float* params, float* grads, double lr) {
  double sq = 0;
  for (const Segment& s : segments_) {
    for (int64_t i = s.offset; i < s.offset + s.size; ++i) sq += double(grads[i]) * grads[i];
  }
  const double norm = std::sqrt(sq);
  const double clip = opts_.clip_norm > 0 && norm > opts_.clip_norm ? opts_.clip_norm / norm : 1.0;
  ++t_;
  const double b1 = opts_.beta1, b2 = opts_.beta2;
  const double c1 = 1.0 / (1.0 - std::pow(b1, double(t_)));
  const double c2 = 1.0 / (1.0 - std::pow(b2, double(t_)));
  for (const Segment& s : segments_) {
    const float decay = s.decay ? float(1.0 - lr * opts_.weight_decay) : 1.0f;
    ForRange(
        ops, s.size,
        [&](int64_t b, int64_t e) {
          for (int64_t i = s.offset + b; i < s.offset + e; ++i) {
            const float g = float(grads[i] * clip);
            m_[i] = float(b1) * m_[i] + float(1 - b1) * g;
            v_[i] = float(b2) * v_[i] + float(1 - b2) * g * g;
            const float mh = float(m_[i] * c1), vh = float(v_[i] * c2);
            params[i] = params[i] * decay - float(lr) * mh / (std::sqrt(vh) + float(opts_.eps));
          }
        },
        4096, 12);
  }
  return norm;
}

}  // namespace squeeze
