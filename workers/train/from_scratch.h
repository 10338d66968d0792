// Training a model from scratch, end to end: text (a file, or the built-in story corpus),
// a tokenizer trained on it (byte-level BPE, or plain bytes), a preset shape, the training
// run, the checkpoint folder, and the held-out perplexity next to the unigram baseline's.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "train/trainer.h"

namespace squeeze {

// Shapes and settings of the presets; 0 / empty fields of ScratchOptions take these.
struct ScratchPreset {
  std::string name;
  ModelConfig config;  // vocab_size: the BPE vocabulary to train
  int64_t steps;
  int batch, seq;
  double lr;
};
// "tiny" (~1.8M parameters, the default: a few minutes on 2 cores) or "small" (~11M
// parameters); an error lists the names.
absl::StatusOr<ScratchPreset> FindPreset(const std::string& name);

struct ScratchOptions {
  std::string preset = "tiny";
  std::string text_path;          // empty: the story corpus (story_corpus.h)
  std::string tokenizer = "bpe";  // "bpe" or "byte"
  int32_t vocab = 0;              // BPE vocabulary (0: the preset's)
  int64_t steps = 0;              // 0: the preset's
  int batch = 0, seq = 0;         // 0: the preset's
  double lr = 0;                  // peak learning rate (0: the preset's)
  int threads = 0;                // 0: all cores
  uint64_t seed = 1;
  int64_t eval_every = 0;  // 0: about 10 validations over the run
  std::string out;         // checkpoint folder (required)
};

struct ScratchResult {
  ModelConfig config;
  int64_t params = 0;
  int64_t train_tokens = 0, valid_tokens = 0;
  double unigram_perplexity = 0;  // of the validation split, from training-split frequencies
  double valid_perplexity = 0;    // of the saved checkpoint, by the engine (eval's protocol)
  int64_t scored_tokens = 0;
  double train_seconds = 0, tokens_per_s = 0, total_seconds = 0;
  std::string valid_path;  // the held-out text, written beside the checkpoint
};

// Runs everything and writes out/{config.json, model.safetensors, tokenizer.json, valid.txt}.
// `log` receives one-line progress messages, `on_step` every training step.
absl::StatusOr<ScratchResult> TrainFromScratch(const ScratchOptions& opts,
                                               const std::function<void(const std::string&)>& log,
                                               const std::function<void(const StepInfo&)>& on_step);

}  // namespace squeeze
