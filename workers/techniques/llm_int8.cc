// `llm_int8`: LLM.int8() (Dettmers et al. 2022) mixed-precision decomposition. Input columns
// whose calibration activations exceed a magnitude threshold stay in f16 (a dense part,
// SplitColumns); the rest of every layer matrix is W8A8 (per-row int8 weights, per-token
// int8 activations: the paper's vector-wise quantization) with those columns zeroed.
#include <array>
#include <memory>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "techniques/builtin.h"
#include "techniques/outliers.h"
#include "util/status_macros.h"

namespace squeeze {
namespace {

class LlmInt8Technique : public Technique {
 public:
  LlmInt8Technique(std::string spec, double threshold)
      : spec_(std::move(spec)), threshold_(threshold) {}

  absl::Status Apply(Model& model, const TechniqueContext& ctx) const override {
    RETURN_IF_ERROR(RejectSparseLayers(model, "llm_int8"));
    ASSIGN_OR_RETURN(std::shared_ptr<const std::vector<LayerStats>> stats,
                     LayerInputStats(model, ctx, "llm_int8"));
    std::array<int64_t, kLinearSiteCount> found{};
    for (int64_t l = 0; l < model.config.n_layers; ++l) {
      for (int s = 0; s < kLinearSiteCount; ++s) {
        const LinearSite site = static_cast<LinearSite>(s);
        const InputStats& st = (*stats)[l].at(site);
        const std::vector<WeightTensor*> mats = SiteMatrices(model.layers[l], site);
        if (st.cols != mats[0]->cols() || int64_t(st.abs_max.size()) != st.cols) {
          return absl::InternalError(absl::StrCat("llm_int8: layer ", l, " site ",
                                                  LinearSiteName(site), ": statistics of ", st.cols,
                                                  " columns for a matrix of ", mats[0]->cols()));
        }
        const std::vector<int32_t> cols = OutlierColumns(st.abs_max, float(threshold_));
        found[s] += int64_t(cols.size());
        for (WeightTensor* t : mats) {
          const std::vector<float> w = t->ToFloat();
          *t = DecomposeOutliers(w.data(), t->rows(), t->cols(), cols);
        }
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    found_ = found;
    applied_ = true;
    return absl::OkStatus();
  }

  bool uses_calibration() const override { return true; }

  std::string Describe() const override {
    std::string out = absl::StrCat(
        spec_,
        ": LLM.int8() on every layer matrix (q, k, v, o, gate, up, down): input columns whose "
        "calibration activations exceed |x| > ",
        absl::StrFormat("%g", threshold_),
        " kept in f16 apart, the rest W8A8 (per-row int8 weights, per-token int8 activations, "
        "format w8a8) with those columns zeroed; embedding and classifier kept in their "
        "formats");
    std::lock_guard<std::mutex> lock(mu_);
    if (applied_) {
      int64_t total = 0;
      std::string per_site;
      for (int s = 0; s < kLinearSiteCount; ++s) {
        total += found_[s];
        absl::StrAppend(&per_site, s ? ", " : "", LinearSiteName(static_cast<LinearSite>(s)), " ",
                        found_[s]);
      }
      absl::StrAppend(&out, "; ", total, " outlier columns found over all layers (", per_site, ")");
    }
    return out;
  }

 private:
  std::string spec_;
  double threshold_;
  // What the last Apply found, for Describe (outlier columns per site, summed over layers).
  mutable std::mutex mu_;
  mutable std::array<int64_t, kLinearSiteCount> found_{};
  mutable bool applied_ = false;
};

}  // namespace

TechniqueInfo LlmInt8TechniqueInfo() {
  TechniqueInfo info;
  info.name = "llm_int8";
  info.family = "quantization";
  info.summary =
      "LLM.int8(): W8A8 layer matrices (per-row int8 weights, per-token int8 activations) "
      "with the input columns whose calibration activations exceed the threshold kept in f16; "
      "needs calibration text.";
  info.needs_calibration = true;
  ParamSpec threshold;
  threshold.name = "threshold";
  threshold.type = ParamType::kFloat;
  threshold.default_value = "6.0";
  threshold.min = 0.0;  // and not 0 itself: checked by the factory
  threshold.help =
      "activation magnitude (> 0) above which an input column is an outlier kept in f16";
  info.params = {threshold};
  info.factory = [](const Params& p) -> absl::StatusOr<std::unique_ptr<Technique>> {
    const double t = p.GetFloat("threshold");
    if (!(t > 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("llm_int8.threshold: ", absl::StrFormat("%g", t), " must be > 0"));
    }
    return std::make_unique<LlmInt8Technique>(p.ToSpec(), t);
  };
  return info;
}

}  // namespace squeeze
