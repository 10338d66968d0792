// Greedy (temperature 0) generation on top of the engine.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/engine.h"

namespace squeeze {

// Index of the largest value (the first one on ties).
int32_t Argmax(const float* v, int64_t n);

// Resets the engine, runs `prompt` and then generates up to `steps` tokens greedily,
// stopping early at eos_id (when >= 0; the EOS token is not included) or at the context
// limit. on_token, when set, is called with each new token as it is produced.
absl::StatusOr<std::vector<int32_t>> GenerateGreedy(
    Engine& engine, std::span<const int32_t> prompt, int steps, int32_t eos_id,
    const std::function<void(int32_t)>& on_token = nullptr);

}  // namespace squeeze
