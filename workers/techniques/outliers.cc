// Outlier columns, the LLM.int8() decomposition and SmoothQuant scales (see outliers.h).
#include "techniques/outliers.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "util/status_macros.h"

namespace squeeze {

std::vector<int32_t> OutlierColumns(std::span<const float> act_absmax, float threshold) {
  std::vector<int32_t> out;
  for (size_t c = 0; c < act_absmax.size(); ++c) {
    if (act_absmax[c] > threshold) out.push_back(int32_t(c));
  }
  return out;
}

WeightTensor DecomposeOutliers(const float* w, int64_t rows, int64_t cols,
                               const std::vector<int32_t>& outlier_cols, WeightFormat main,
                               WeightFormat dense) {
  if (outlier_cols.empty()) return WeightTensor::FromFloat(main, rows, cols, w);
  const int64_t k = int64_t(outlier_cols.size());
  std::vector<float> rest(w, w + rows * cols), apart(rows * k);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < k; ++i) {
      float& v = rest[r * cols + outlier_cols[i]];
      apart[r * k + i] = v;
      v = 0.0f;
    }
  }
  SplitColumns split;
  split.cols = outlier_cols;
  split.dense =
      std::make_shared<const WeightTensor>(WeightTensor::FromFloat(dense, rows, k, apart.data()));
  return WeightTensor::FromFloat(main, rows, cols, rest.data()).WithSplit(std::move(split));
}

void AccumulateColumnAbsMax(const float* w, int64_t rows, int64_t cols, std::vector<float>& acc) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) acc[c] = std::max(acc[c], std::fabs(w[r * cols + c]));
  }
}

std::vector<float> SmoothingScales(std::span<const float> act_absmax,
                                   std::span<const float> weight_absmax, double alpha) {
  std::vector<float> s(act_absmax.size(), 1.0f);
  for (size_t c = 0; c < s.size() && c < weight_absmax.size(); ++c) {
    const double a = act_absmax[c], w = weight_absmax[c];
    if (!(a > 0) || !(w > 0) || !std::isfinite(a) || !std::isfinite(w)) continue;
    const double v = std::pow(a, alpha) / std::pow(w, 1.0 - alpha);
    s[c] = float(std::clamp(v, 1e-5, 1e5));
  }
  return s;
}

absl::StatusOr<std::shared_ptr<const std::vector<LayerStats>>> LayerInputStats(
    const Model& model, const TechniqueContext& ctx, const std::string& technique) {
  ASSIGN_OR_RETURN(const CalibrationSet* set, RequireCalibration(ctx, technique));
  std::shared_ptr<const std::vector<LayerStats>> stats;
  if (ctx.stats) {
    ASSIGN_OR_RETURN(stats, ctx.stats->Get(model, *set, ctx.threads, ctx.isa));
  } else {
    CollectOptions o;
    o.threads = ctx.threads;
    o.isa = ctx.isa;
    ASSIGN_OR_RETURN(std::vector<LayerStats> collected, CollectInputStats(model, *set, o));
    stats = std::make_shared<const std::vector<LayerStats>>(std::move(collected));
  }
  if (int64_t(stats->size()) != model.config.n_layers) {
    return absl::InternalError(absl::StrCat(technique, ": calibration statistics cover ",
                                            stats->size(), " layers, the model has ",
                                            model.config.n_layers));
  }
  return stats;
}

}  // namespace squeeze
