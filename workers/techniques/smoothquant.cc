// `smoothquant`: SmoothQuant (Xiao et al. 2023). Per layer and input site, per-column scales
// s = max|X|^α / max|W|^(1-α) move activation outliers into the weights: the preceding
// operation (a norm's gain, or the rows of up / v) is divided by s, the matrices' columns
// multiplied by s, and then every layer matrix is W8A8 (per-row int8 weights, per-token int8
// activations).
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "techniques/builtin.h"
#include "techniques/outliers.h"
#include "util/status_macros.h"

namespace squeeze {
namespace {

// A layer matrix as row-major floats.
struct Dense {
  int64_t rows = 0, cols = 0;
  std::vector<float> v;
  explicit Dense(const WeightTensor& t) : rows(t.rows()), cols(t.cols()), v(t.ToFloat()) {}
  void ScaleColumns(const std::vector<float>& s) {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) v[r * cols + c] *= s[c];
  }
  void DivideRows(const std::vector<float>& s) {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) v[r * cols + c] /= s[r];
  }
  WeightTensor Pack() const {
    return WeightTensor::FromFloat(WeightFormat::kW8A8, rows, cols, v.data());
  }
};

class SmoothQuantTechnique : public Technique {
 public:
  SmoothQuantTechnique(std::string spec, double alpha) : spec_(std::move(spec)), alpha_(alpha) {}

  absl::Status Apply(Model& model, const TechniqueContext& ctx) const override {
    RETURN_IF_ERROR(RejectSparseLayers(model, "smoothquant"));
    ASSIGN_OR_RETURN(std::shared_ptr<const std::vector<LayerStats>> stats,
                     LayerInputStats(model, ctx, "smoothquant"));
    for (int64_t l = 0; l < model.config.n_layers; ++l) {
      const bool smooth_wo = model.Shape(l).one_kv_head_per_query_head();
      LayerWeights& w = model.layers[l];
      const LayerStats& st = (*stats)[l];
      Dense wq(w.wq), wk(w.wk), wv(w.wv), wo(w.wo), wg(w.w_gate), wu(w.w_up), wd(w.w_down);
      // Scales of every site from the layer's original weights and activations.
      auto scales = [&](LinearSite site, std::initializer_list<const Dense*> mats,
                        std::vector<float>* s) -> absl::Status {
        const InputStats& in = st.at(site);
        const int64_t cols = (*mats.begin())->cols;
        if (in.cols != cols || int64_t(in.abs_max.size()) != cols) {
          return absl::InternalError(absl::StrCat("smoothquant: layer ", l, " site ",
                                                  LinearSiteName(site), ": statistics of ", in.cols,
                                                  " columns for a matrix of ", cols));
        }
        std::vector<float> wmax(cols, 0.0f);
        for (const Dense* m : mats) AccumulateColumnAbsMax(m->v.data(), m->rows, m->cols, wmax);
        *s = SmoothingScales(in.abs_max, wmax, alpha_);
        return absl::OkStatus();
      };
      std::vector<float> s_qkv, s_gu, s_down, s_wo;
      RETURN_IF_ERROR(scales(LinearSite::kQkv, {&wq, &wk, &wv}, &s_qkv));
      RETURN_IF_ERROR(scales(LinearSite::kGateUp, {&wg, &wu}, &s_gu));
      RETURN_IF_ERROR(scales(LinearSite::kDown, {&wd}, &s_down));
      if (smooth_wo) RETURN_IF_ERROR(scales(LinearSite::kWo, {&wo}, &s_wo));

      // x / s comes out of the preceding operation; W · diag(s) reads it.
      for (size_t c = 0; c < w.attn_norm.size(); ++c) w.attn_norm[c] /= s_qkv[c];
      for (size_t c = 0; c < w.ffn_norm.size(); ++c) w.ffn_norm[c] /= s_gu[c];
      for (Dense* m : {&wq, &wk, &wv}) m->ScaleColumns(s_qkv);
      for (Dense* m : {&wg, &wu}) m->ScaleColumns(s_gu);
      wu.DivideRows(s_down);  // SwiGLU output channel c = silu(gate_c) · up_c
      wd.ScaleColumns(s_down);
      if (smooth_wo) {
        wv.DivideRows(s_wo);  // attention output channel c mixes value channel c only
        wo.ScaleColumns(s_wo);
      }
      w.wq = wq.Pack(), w.wk = wk.Pack(), w.wv = wv.Pack(), w.wo = wo.Pack();
      w.w_gate = wg.Pack(), w.w_up = wu.Pack(), w.w_down = wd.Pack();
    }
    return absl::OkStatus();
  }

  bool uses_calibration() const override { return true; }

  std::string Describe() const override {
    return absl::StrCat(
        spec_, ": SmoothQuant with alpha ", absl::StrFormat("%g", alpha_),
        ": per layer and input (qkv, o, gate/up, down), input column c scaled by s_c = "
        "max|X_c|^alpha / max|W_c|^(1-alpha) (calibration maxima), 1/s folded into the "
        "attention and FFN norms, the rows of up (for down) and of v (for o, only without "
        "grouped-query attention), then every layer matrix W8A8 (per-row int8 weights, "
        "per-token int8 activations, format w8a8); embedding and classifier kept in their "
        "formats");
  }

 private:
  std::string spec_;
  double alpha_;
};

}  // namespace

TechniqueInfo SmoothQuantTechniqueInfo() {
  TechniqueInfo info;
  info.name = "smoothquant";
  info.family = "quantization";
  info.summary =
      "SmoothQuant: moves activation outliers into the weights with per-input-column scales "
      "folded into the preceding operation, then W8A8 layer matrices (int8 weights and "
      "per-token int8 activations); needs calibration text.";
  info.needs_calibration = true;
  ParamSpec alpha;
  alpha.name = "alpha";
  alpha.type = ParamType::kFloat;
  alpha.default_value = "0.5";
  alpha.min = 0.0;
  alpha.max = 1.0;
  alpha.help =
      "migration strength: s = max|X|^alpha / max|W|^(1-alpha); 0 equalizes the weight "
      "columns, 1 the activation columns";
  info.params = {alpha};
  info.factory = [](const Params& p) -> absl::StatusOr<std::unique_ptr<Technique>> {
    return std::make_unique<SmoothQuantTechnique>(p.ToSpec(), p.GetFloat("alpha"));
  };
  return info;
}

}  // namespace squeeze
