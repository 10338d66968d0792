// Teacher logits and sampling through the engine.
#include "train/teacher.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "util/rng.h"

namespace squeeze {

TeacherFn EngineTeacher(Engine& engine) {
  return [&engine](const int32_t* tokens, int64_t B, int64_t T, float* logits) -> absl::Status {
    const int64_t V = engine.vocab_size();
    for (int64_t b = 0; b < B; ++b) {
      engine.Reset();
      absl::Status s = engine.Forward(std::span<const int32_t>(tokens + b * T, size_t(T)),
                                      logits + b * T * V, /*all_logits=*/true);
      if (!s.ok()) return s;
    }
    engine.Reset();
    return absl::OkStatus();
  };
}

absl::StatusOr<std::vector<int32_t>> SampleStream(Engine& engine, int32_t bos, int32_t eos,
                                                  const SampleOptions& opts) {
  if (opts.sequences <= 0 || opts.length <= 0 || opts.temperature < 0 || opts.top_k < 0) {
    return absl::InvalidArgumentError(
        "sampling: sequences and length must be positive, "
        "temperature and top_k not negative");
  }
  if (bos < 0) return absl::InvalidArgumentError("sampling: the tokenizer has no BOS token");
  const int64_t V = engine.vocab_size();
  const int length = std::min(opts.length, engine.max_context() - 1);
  std::vector<float> logits(static_cast<size_t>(V));
  std::vector<int32_t> order(static_cast<size_t>(V)), out;
  std::vector<double> p(static_cast<size_t>(V));
  Rng rng(opts.seed);
  for (int s = 0; s < opts.sequences; ++s) {
    engine.Reset();
    int32_t tok = bos;
    for (int i = 0; i < length; ++i) {
      if (absl::Status st = engine.Forward(std::span<const int32_t>(&tok, 1), logits.data());
          !st.ok())
        return st;
      std::iota(order.begin(), order.end(), 0);
      const int64_t k = opts.top_k > 0 ? std::min<int64_t>(opts.top_k, V) : V;
      std::partial_sort(order.begin(), order.begin() + k, order.end(),
                        [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
      if (opts.temperature == 0) {
        tok = order[0];
      } else {
        double sum = 0;
        for (int64_t j = 0; j < k; ++j)
          sum += p[j] = std::exp(double(logits[order[j]] - logits[order[0]]) / opts.temperature);
        double u = rng.Uniform() * sum;
        int64_t j = 0;
        while (j + 1 < k && (u -= p[j]) > 0) ++j;
        tok = order[j];
      }
      if (tok == eos || tok == bos) break;
      out.push_back(tok);
    }
  }
  engine.Reset();
  return out;
}

}  // namespace squeeze
