// Helpers of the techniques' tests: small random models, token text and calibration sets,
// applying a spec, and KL divergence between two models on a text.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "calibration/calibration.h"
#include "model/model.h"
#include "techniques/technique.h"

namespace squeeze::testing {

// A 2-layer random model (dim 64, hidden 96, 4 heads, vocabulary 60, context 64) with a
// sharpened final norm.
Model SmallModel(int n_kv_heads, uint64_t seed);
// n deterministic token ids in [3, 58).
std::vector<int32_t> TokenText(int n, int salt);
// 4 BOS-led sequences of 40 TokenText tokens.
CalibrationSet SmallCalibration();
// Mean KL divergence KL(base || model) per position on `text` (windows of `context`).
double MeanKld(const Model& base, const Model& model, const std::vector<int32_t>& text,
               int context);
// `spec` applied to a copy of `base` (a test failure, and the copy as far as it got, on error).
Model Applied(const Model& base, const std::string& spec, const TechniqueContext& ctx);
// The bytes of a file ("" when unreadable).
std::string ReadAll(const std::string& path);

}  // namespace squeeze::testing
