// Calibration: token sequences cut from a user's text and the statistics of every layer
// matrix's input over them (per-channel absolute max and mean, and optionally the Gram
// matrix XᵀX that GPTQ and AWQ use as a Hessian). Statistics of one (model, calibration set,
// settings) are collected once and shared by every technique that needs them (StatsCache).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/engine.h"
#include "model/model.h"
#include "model/tokenizer.h"

namespace squeeze {

struct CalibrationOptions {
  int sequences = 16;  // sequences taken from the text (fewer when the text is short)
  int context = 128;   // tokens per sequence, BOS included
};

// Token sequences for calibration, each starting with BOS.
struct CalibrationSet {
  std::string source;  // the text file they came from (for messages)
  CalibrationOptions options;
  std::vector<std::vector<int32_t>> sequences;
  std::string key;  // hex hash of the tokens and options: identifies the set in caches
};

// Tokenizes `text` and cuts consecutive sequences of options.context tokens (BOS + context-1
// text tokens), spread evenly over the text. Errors name `source` when the text gives fewer
// than `context` tokens or the options are not positive.
absl::StatusOr<CalibrationSet> MakeCalibrationSet(const Tokenizer& tokenizer,
                                                  const std::string& text,
                                                  const std::string& source,
                                                  const CalibrationOptions& options);

// Statistics of one site's input (see LinearSite) over every calibration token.
struct InputStats {
  int64_t cols = 0;
  int64_t tokens = 0;           // rows of X seen
  std::vector<float> abs_max;   // (cols) max over tokens of |x_c|
  std::vector<float> abs_mean;  // (cols) mean over tokens of |x_c|
  std::vector<double> gram;     // (cols * cols) sum over tokens of x xᵀ; empty unless asked
};

struct LayerStats {
  InputStats site[kLinearSiteCount];  // indexed by LinearSite
  const InputStats& at(LinearSite s) const { return site[int(s)]; }
};

struct CollectOptions {
  int first_layer = 0;  // layers [first_layer, last_layer] are kept; the forward pass stops
  int last_layer = -1;  // after last_layer (-1: the last layer of the model)
  bool gram = false;    // also accumulate XᵀX (cols² doubles per site: ask per layer for big
                        // models)
  int threads = 0;
  Isa isa = ActiveIsa();
};

// Runs `model` over every sequence of `set` and accumulates the input statistics of layers
// [first_layer, last_layer]. result[i] is layer first_layer + i.
absl::StatusOr<std::vector<LayerStats>> CollectInputStats(const Model& model,
                                                          const CalibrationSet& set,
                                                          const CollectOptions& options);

// Statistics of every layer without Gram matrices, cached per (model content hash,
// calibration key): the first call collects, later calls with the same model and set return
// the same object. Thread-safe.
class StatsCache {
 public:
  absl::StatusOr<std::shared_ptr<const std::vector<LayerStats>>> Get(const Model& model,
                                                                     const CalibrationSet& set,
                                                                     int threads, Isa isa);
  int collections() const;  // how many times statistics were actually collected

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<const std::vector<LayerStats>>> entries_;
  int collections_ = 0;
};

}  // namespace squeeze
