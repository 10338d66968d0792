// A loaded model as a teacher: its logits on training windows (white-box distillation, QAT
// against the unquantized model) and text sampled from it (black-box distillation and
// data-free training text), both through the inference engine with its real kernels.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/engine.h"
#include "train/trainer.h"

namespace squeeze {

// Logits of each window from an empty KV cache (the engine must outlive the function).
TeacherFn EngineTeacher(Engine& engine);

struct SampleOptions {
  int sequences = 64;        // independent samples, each from BOS
  int length = 128;          // tokens per sample (fewer when EOS comes first)
  float temperature = 1.0f;  // 0: greedy
  int top_k = 0;             // 0: the whole vocabulary
  uint64_t seed = 1;
};

// Samples from the engine's model and returns the samples concatenated without BOS/EOS (a
// token stream for Trainer::Run). Errors: bad options, engine errors.
absl::StatusOr<std::vector<int32_t>> SampleStream(Engine& engine, int32_t bos, int32_t eos,
                                                  const SampleOptions& opts);

}  // namespace squeeze
