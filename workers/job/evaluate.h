// One evaluation, exactly as `squeeze eval` and the sweep worker run it: load the model,
// apply a technique pipeline (calibrating when a technique needs it), then measure size,
// accuracy on a text against a baseline, and latency, into an EvalReport.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "calibration/calibration.h"
#include "engine/engine.h"
#include "job/eval_cache.h"
#include "measure/accuracy.h"
#include "measure/baseline_cache.h"
#include "measure/context_curve.h"
#include "measure/latency.h"
#include "measure/report.h"

namespace squeeze {

struct EvaluateOptions {
  std::string model;      // Hugging Face folder or llama2.c .bin
  std::string tokenizer;  // empty: the one beside the model
  std::string text;       // evaluation text; empty: no accuracy figures
  // Reference model for KL divergence, top-1 agreement and the perplexity ratio. Empty: the
  // model as loaded, when techniques are applied or compare_to_loaded is set; else none.
  std::string baseline;
  bool compare_to_loaded = false;
  std::vector<std::string> apply;  // technique specs ("rtn:bits=4,group=32"), applied in order
  std::string calib_text;          // calibration text for the techniques that need one
  CalibrationOptions calib;
  EvalSettings eval;
  bool measure_latency = true;
  LatencySettings latency;
  // Latency and memory against context length (measure/context_curve.h, ParseContextCurve):
  // "auto" measures 256, 1k, 4k and 16k when latency is measured and a technique of the
  // attention or kv_cache family is applied, "auto:512,2k" those contexts in the same cases;
  // "none"; or a list of contexts ("512,2k") for every evaluation.
  std::string context_curve = "auto";
  EngineOptions engine;  // threads and instruction set
};

// Where an evaluation reports and what it may reuse. Every member is optional.
struct EvaluateContext {
  EvalMemoryCache* memory = nullptr;              // models, calibration statistics, baselines
  const BaselineCache* disk_cache = nullptr;      // baseline log-probabilities on disk
  std::function<void(const std::string&)> log;    // progress messages
  std::function<void(const std::string&)> stage;  // "load", "calibrate", "apply", ...
  const std::atomic<bool>* cancel = nullptr;      // checked between stages: Cancelled error
};

// Runs the evaluation. Errors: bad technique specs (InvalidArgument naming the parameter), a
// technique that needs calibration without calib_text, unreadable or malformed files (naming
// the file), a baseline whose vocabulary differs, an evaluation too large for memory, or
// Cancelled when ctx.cancel was set.
absl::StatusOr<EvalReport> Evaluate(const EvaluateOptions& options,
                                    const EvaluateContext& ctx = {});

}  // namespace squeeze
