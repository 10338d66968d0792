// Greedy decoding loop.
#include "engine/generate.h"

#include "util/status_macros.h"

namespace squeeze {

int32_t Argmax(const float* v, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (v[i] > v[best]) best = i;
  return int32_t(best);
}

absl::StatusOr<std::vector<int32_t>> GenerateGreedy(Engine& engine, std::span<const int32_t> prompt,
                                                    int steps, int32_t eos_id,
                                                    const std::function<void(int32_t)>& on_token) {
  if (prompt.empty()) return absl::InvalidArgumentError("generate: empty prompt");
  engine.Reset();
  std::vector<float> logits(engine.vocab_size());
  RETURN_IF_ERROR(engine.Forward(prompt, logits.data()));
  std::vector<int32_t> out;
  for (int i = 0; i < steps; ++i) {
    const int32_t next = Argmax(logits.data(), engine.vocab_size());
    if (next == eos_id) break;
    out.push_back(next);
    if (on_token) on_token(next);
    if (engine.pos() >= engine.max_context() || i + 1 == steps) break;
    RETURN_IF_ERROR(engine.Forward(std::span<const int32_t>(&next, 1), logits.data()));
  }
  return out;
}

}  // namespace squeeze
