// One evaluation's full record (size, accuracy, latency, environment and how each figure
// was measured), as a readable table or as JSON.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "measure/accuracy.h"
#include "measure/context_curve.h"
#include "measure/environment.h"
#include "measure/latency.h"
#include "measure/size.h"

namespace squeeze {

struct EvalReport {
  std::string model_path;
  std::string model_hash;
  std::string baseline_path;  // empty without a baseline
  std::string text_path;
  std::string text_hash;
  std::string tokenizer_path;
  std::string config_summary;  // "dim=64 layers=5 heads=8/4 vocab=512 ctx=512"
  std::string attention;       // AttentionSummary of the model measured
  std::string layer_shapes;    // per-layer heads / kv heads / FFN width when layers differ
  // Techniques applied to the loaded model, in order (each step's Describe(): canonical spec,
  // then what it did); empty when the model was measured as loaded.
  std::vector<std::string> techniques;
  // The calibration set the techniques used ("file: 16 sequences x 128 tokens"); empty when
  // none was given.
  std::string calibration;
  SizeReport size;
  std::optional<AccuracyReport> accuracy;
  bool baseline_from_cache = false;
  std::optional<LatencyReport> latency;
  // Latency and memory against context length (measured on the model as evaluated, random
  // prompts; contexts may exceed the one it was trained for); empty when not measured.
  std::vector<ContextPoint> context_curve;
  Environment env;
  // Models written by training techniques (distill checkpoints), each measured like this one
  // against the same baseline and text; `checkpoint_step` is the training step it was
  // written after (-1 for the report of the evaluated model itself).
  int64_t checkpoint_step = -1;
  std::vector<EvalReport> checkpoints;
};

// Human-readable table with units and a line on how each figure was measured.
std::string FormatReportTable(const EvalReport& r);
// JSON object with the same content (machine-readable; stable field names).
std::string FormatReportJson(const EvalReport& r);

}  // namespace squeeze
