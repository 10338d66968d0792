// Activation-outlier handling shared by `llm_int8` (outlier input columns kept in 16 bits
// beside a W8A8 main part) and `smoothquant` (outliers moved from the activations into the
// weights by per-column scales). Exposed so that tests use exactly what the techniques use.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "calibration/calibration.h"
#include "model/weight_tensor.h"
#include "techniques/technique.h"

namespace squeeze {

// The input columns c with act_absmax[c] > threshold (LLM.int8()'s outlier features), sorted.
std::vector<int32_t> OutlierColumns(std::span<const float> act_absmax, float threshold);

// LLM.int8() decomposition of the row-major (rows, cols) float matrix w: the columns `cols`
// (sorted, distinct) go to a dense part in `dense` format, the rest to a `main` tensor whose
// outlier columns are zero (see SplitColumns). No columns: just w packed in `main`.
WeightTensor DecomposeOutliers(const float* w, int64_t rows, int64_t cols,
                               const std::vector<int32_t>& outlier_cols,
                               WeightFormat main = WeightFormat::kW8A8,
                               WeightFormat dense = WeightFormat::kF16);

// Raises acc[c] (size cols) to max over rows of |w[r][c]| for the (rows, cols) matrix w.
void AccumulateColumnAbsMax(const float* w, int64_t rows, int64_t cols, std::vector<float>& acc);

// SmoothQuant's per-input-column scales s_c = act_absmax[c]^alpha / weight_absmax[c]^(1-alpha)
// (Xiao et al. 2023): the product becomes (x / s) · (diag(s) W). A column whose activation or
// weight maximum is zero (or not finite) keeps s_c = 1; the others are clamped to
// [1e-5, 1e5]. Both spans have the same length.
std::vector<float> SmoothingScales(std::span<const float> act_absmax,
                                   std::span<const float> weight_absmax, double alpha);

// Input statistics of every layer for a technique that needs calibration: from ctx.stats
// when set (shared with other techniques), else collected now. Errors name `technique` and
// --calib-text when ctx has no calibration set; the result has one entry per layer.
absl::StatusOr<std::shared_ptr<const std::vector<LayerStats>>> LayerInputStats(
    const Model& model, const TechniqueContext& ctx, const std::string& technique);

}  // namespace squeeze
