// `awq`: activation-aware weight quantization (Lin et al., "AWQ: Activation-aware Weight
// Quantization for LLM Compression and Acceleration", 2023). Input channels that carry large
// activations are scaled up before round-to-nearest (s_c = mean|x_c|^α, α searched per site)
// and the inverse scale is folded into the operation that produces the input, so the model
// computes the same function with a smaller quantization error where it matters.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

#include "absl/strings/str_cat.h"
#include "techniques/builtin.h"
#include "techniques/int_grid.h"
#include "util/status_macros.h"
#include "util/thread_pool.h"

namespace squeeze {
namespace {

constexpr int kAlphaGrid = 20;  // α in {0, 1/20, ..., 19/20}
constexpr int kClipSteps = 10;  // clip ratios {1, 0.95, ..., 0.5}

// A layer matrix as row-major floats.
struct FloatMatrix {
  int64_t rows = 0, cols = 0;
  std::vector<float> v;
};

FloatMatrix ToFloatMatrix(const WeightTensor& t) {
  return {t.rows(), t.cols(), t.ToFloat()};
}

// Σ_rows Δᵀ H Δ with Δ = Q(W·diag(s))·diag(1/s) − W: the site's output error (summed over the
// calibration tokens) of round-to-nearest quantization of the scaled matrix on `format`.
double ScaledRoundingError(const FloatMatrix& m, const std::vector<float>& s,
                           const std::vector<double>& h, WeightFormat format, ThreadPool& pool) {
  const int64_t cols = m.cols, rb = RowBytes(format, cols);
  const FormatTraits& f = GetFormatTraits(format);
  std::vector<double> per_row(m.rows, 0.0);
  pool.ParallelFor(m.rows, [&](int64_t begin, int64_t end) {
    std::vector<float> ws(cols), q(cols);
    std::vector<uint8_t> packed(rb);
    std::vector<double> d(cols);
    for (int64_t r = begin; r < end; ++r) {
      const float* w = m.v.data() + r * cols;
      for (int64_t c = 0; c < cols; ++c) ws[c] = w[c] * s[c];
      f.from_float_ref(ws.data(), packed.data(), cols);
      f.to_float(packed.data(), q.data(), cols);
      for (int64_t c = 0; c < cols; ++c) d[c] = double(q[c]) / s[c] - double(w[c]);
      double e = 0;
      for (int64_t i = 0; i < cols; ++i) {
        if (d[i] == 0.0) continue;
        const double* hi = h.data() + i * cols;
        double t = 0;
        for (int64_t j = 0; j < cols; ++j) t += hi[j] * d[j];
        e += d[i] * t;
      }
      per_row[r] = e;
    }
  });
  double total = 0;
  for (double e : per_row) total += e;
  return total;
}

// The per-input-channel scales of one site: mean|x_c|^α normalised by sqrt(max · min), with α
// on the grid minimising the summed output error of the site's matrices (α = 0, all ones, is
// plain round to nearest, so the choice never does worse than it on this measure).
std::vector<float> SearchScales(const InputStats& in, const std::vector<const FloatMatrix*>& ms,
                                WeightFormat format, ThreadPool& pool, double* best_alpha) {
  const int64_t cols = in.cols;
  float top = 0.0f;
  for (float a : in.abs_mean) top = std::max(top, a);
  const float floor = std::max(top * 1e-5f, std::numeric_limits<float>::min());
  std::vector<float> best(cols, 1.0f), s(cols);
  double best_err = std::numeric_limits<double>::infinity();
  *best_alpha = 0;
  for (int i = 0; i < kAlphaGrid; ++i) {
    const double alpha = double(i) / kAlphaGrid;
    float lo = std::numeric_limits<float>::max(), hi = 0.0f;
    for (int64_t c = 0; c < cols; ++c) {
      s[c] = float(std::pow(double(std::max(in.abs_mean[c], floor)), alpha));
      lo = std::min(lo, s[c]);
      hi = std::max(hi, s[c]);
    }
    const float norm = float(std::sqrt(double(lo) * double(hi)));
    for (float& v : s) v /= norm;
    double err = 0;
    for (const FloatMatrix* m : ms) err += ScaledRoundingError(*m, s, in.gram, format, pool);
    if (err < best_err) {
      best_err = err;
      best = s;
      *best_alpha = alpha;
    }
  }
  return best;
}

void ScaleColumns(FloatMatrix& m, const std::vector<float>& s) {
  for (int64_t r = 0; r < m.rows; ++r)
    for (int64_t c = 0; c < m.cols; ++c) m.v[r * m.cols + c] *= s[c];
}

void DivideRows(FloatMatrix& m, const std::vector<float>& s) {
  for (int64_t r = 0; r < m.rows; ++r)
    for (int64_t c = 0; c < m.cols; ++c) m.v[r * m.cols + c] /= s[r];
}

// AWQ's weight clipping: per row and group of the scaled matrix, the weights are clamped to
// ±r·max|w| with r on {1, 0.95, ..., 0.5} chosen for the least output error of the rounded
// group, Δᵀ H Δ over the group's inputs (x/s after scaling; cross-group terms left out).
void ClipGroups(FloatMatrix& m, const std::vector<float>& s, const std::vector<double>& h,
                const IntGrid& grid, ThreadPool& pool) {
  const int64_t cols = m.cols, gs = grid.group == 0 ? cols : grid.group;
  pool.ParallelFor(m.rows, [&](int64_t begin, int64_t end) {
    std::vector<float> clipped(gs);
    std::vector<double> d(gs);
    for (int64_t r = begin; r < end; ++r) {
      for (int64_t c0 = 0; c0 < cols; c0 += gs) {
        float* w = m.v.data() + r * cols + c0;
        const int64_t n = std::min(gs, cols - c0);
        float amax = 0.0f;
        for (int64_t k = 0; k < n; ++k) amax = std::max(amax, std::fabs(w[k]));
        if (amax == 0.0f) continue;
        double best_err = std::numeric_limits<double>::infinity();
        float best_limit = amax;
        for (int i = 0; i <= kClipSteps; ++i) {
          const float limit = amax * (1.0f - 0.5f * float(i) / kClipSteps);
          for (int64_t k = 0; k < n; ++k) clipped[k] = std::clamp(w[k], -limit, limit);
          const GroupScale sc = ComputeGroupScale(grid, clipped.data(), n);
          for (int64_t k = 0; k < n; ++k) {
            const float q = CodeValue(sc, QuantizeToCode(grid, sc, clipped[k]));
            d[k] = (double(q) - double(w[k])) / s[c0 + k];
          }
          double err = 0;
          for (int64_t a = 0; a < n; ++a) {
            if (d[a] == 0.0) continue;
            const double* ha = h.data() + (c0 + a) * cols + c0;
            double t = 0;
            for (int64_t b = 0; b < n; ++b) t += ha[b] * d[b];
            err += d[a] * t;
          }
          if (err < best_err) best_err = err, best_limit = limit;
        }
        for (int64_t k = 0; k < n; ++k) w[k] = std::clamp(w[k], -best_limit, best_limit);
      }
    }
  });
}

WeightTensor Pack(const FloatMatrix& m, WeightFormat format) {
  return WeightTensor::FromFloat(format, m.rows, m.cols, m.v.data());
}

class AwqTechnique : public Technique {
 public:
  AwqTechnique(std::string spec, IntQuant q, bool clip)
      : spec_(std::move(spec)), q_(std::move(q)), clip_(clip) {}

  absl::Status Apply(Model& model, const TechniqueContext& ctx) const override {
    RETURN_IF_ERROR(RejectSparseLayers(model, "awq"));
    ASSIGN_OR_RETURN(const CalibrationSet* set, RequireCalibration(ctx, "awq"));
    ASSIGN_OR_RETURN(const WeightFormat format, LookUpFormat("awq", q_.format));
    ASSIGN_OR_RETURN(const IntGrid grid, IntGridFor(format));
    ThreadPool pool(ctx.threads);
    for (int l = 0; l < model.config.n_layers; ++l) {
      const bool scale_wo = model.Shape(l).one_kv_head_per_query_head();
      CollectOptions o;
      o.first_layer = o.last_layer = l;
      o.gram = true;
      o.threads = ctx.threads;
      o.isa = ctx.isa;
      ASSIGN_OR_RETURN(std::vector<LayerStats> stats, CollectInputStats(model, *set, o));
      const LayerStats& st = stats[0];
      LayerWeights& w = model.layers[l];
      FloatMatrix wq = ToFloatMatrix(w.wq), wk = ToFloatMatrix(w.wk), wv = ToFloatMatrix(w.wv);
      FloatMatrix wo = ToFloatMatrix(w.wo), wg = ToFloatMatrix(w.w_gate);
      FloatMatrix wu = ToFloatMatrix(w.w_up), wd = ToFloatMatrix(w.w_down);
      // Every search sees the layer's original matrices and input statistics.
      double alpha = 0;
      const std::vector<float> s_qkv =
          SearchScales(st.at(LinearSite::kQkv), {&wq, &wk, &wv}, format, pool, &alpha);
      const std::vector<float> s_gu =
          SearchScales(st.at(LinearSite::kGateUp), {&wg, &wu}, format, pool, &alpha);
      const std::vector<float> s_down =
          SearchScales(st.at(LinearSite::kDown), {&wd}, format, pool, &alpha);
      std::vector<float> s_wo(wo.cols, 1.0f);
      if (scale_wo) s_wo = SearchScales(st.at(LinearSite::kWo), {&wo}, format, pool, &alpha);

      // Fold: W·diag(s) reads x·diag(1/s), produced by the preceding operation.
      for (int64_t c = 0; c < int64_t(w.attn_norm.size()); ++c) w.attn_norm[c] /= s_qkv[c];
      for (int64_t c = 0; c < int64_t(w.ffn_norm.size()); ++c) w.ffn_norm[c] /= s_gu[c];
      for (FloatMatrix* m : {&wq, &wk, &wv}) ScaleColumns(*m, s_qkv);
      for (FloatMatrix* m : {&wg, &wu}) ScaleColumns(*m, s_gu);
      ScaleColumns(wd, s_down);
      DivideRows(wu, s_down);  // SwiGLU output channel c = silu(gate_c) · up_c
      if (scale_wo) {
        ScaleColumns(wo, s_wo);
        DivideRows(wv, s_wo);  // attention output channel c mixes value channel c only
      }
      if (clip_) {
        for (FloatMatrix* m : {&wq, &wk, &wv})
          ClipGroups(*m, s_qkv, st.at(LinearSite::kQkv).gram, grid, pool);
        ClipGroups(wo, s_wo, st.at(LinearSite::kWo).gram, grid, pool);
        for (FloatMatrix* m : {&wg, &wu})
          ClipGroups(*m, s_gu, st.at(LinearSite::kGateUp).gram, grid, pool);
        ClipGroups(wd, s_down, st.at(LinearSite::kDown).gram, grid, pool);
      }
      w.wq = Pack(wq, format), w.wk = Pack(wk, format), w.wv = Pack(wv, format);
      w.wo = Pack(wo, format), w.w_gate = Pack(wg, format), w.w_up = Pack(wu, format);
      w.w_down = Pack(wd, format);
    }
    if (q_.embeddings) ConvertEmbeddings(model, format);
    return absl::OkStatus();
  }

  bool uses_calibration() const override { return true; }

  std::string Describe() const override {
    return absl::StrCat(
        spec_, ": AWQ ", DescribeIntQuant(q_),
        " on every layer matrix (q, k, v, o, gate, up, down): input channels scaled by "
        "mean|x|^α before round-to-nearest, α searched per layer and input (qkv, o, gate/up, "
        "down) on 20 values in [0, 1) for the least output error XᵀX-weighted, inverse scales "
        "folded into the norms, v (o scaled only without grouped-query attention) and up; "
        "layer by layer, each layer's statistics collected on the model with the layers "
        "before it already quantized; ",
        clip_ ? "weights clipped per group to the ratio of max|w| in [0.5, 1] with the least "
                "XᵀX-weighted error; "
              : "no clipping; ",
        q_.embeddings ? "embedding and classifier rounded to nearest"
                      : "embedding and classifier kept in their formats");
  }

 private:
  std::string spec_;
  IntQuant q_;
  bool clip_;
};

}  // namespace

TechniqueInfo AwqTechniqueInfo() {
  TechniqueInfo info;
  info.name = "awq";
  info.family = "quantization";
  info.summary =
      "AWQ: round-to-nearest integer quantization of every layer matrix after scaling input "
      "channels by their calibration activation size (searched per layer, folded into the "
      "preceding norm or matrix; needs calibration text).";
  info.needs_calibration = true;
  info.params = IntQuantParams();
  info.params.push_back(MakeParam("clip", ParamType::kBool, "true", {},
                                  "search a clipping range per group of the scaled weights"));
  info.params.push_back(EmbeddingsParam("also round the embedding and the classifier to nearest"));
  info.factory = [](const Params& p) -> absl::StatusOr<std::unique_ptr<Technique>> {
    ASSIGN_OR_RETURN(IntQuant q, ResolveIntQuant("awq", p));
    return std::make_unique<AwqTechnique>(p.ToSpec(), std::move(q), p.GetBool("clip"));
  };
  return info;
}

}  // namespace squeeze
