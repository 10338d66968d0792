// `gptq`: GPTQ quantization of every layer matrix into the integer group formats, layer by
// layer on the calibration set: layer l's input Hessians are collected on the model whose
// layers < l are already quantized, so each layer corrects for the errors before it.
#include "techniques/gptq.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "techniques/builtin.h"
#include "techniques/linalg.h"
#include "util/status_macros.h"

namespace squeeze {
namespace {

constexpr int64_t kBlock = 128;   // columns per lazy-update block
constexpr int64_t kRowTile = 16;  // rows quantized together (U's rows are reused across them)

// Quantizes rows [r0, r1) of w; see GptqQuantize.
void QuantizeRows(const float* w, int64_t r0, int64_t r1, const GptqHessian& hs,
                  const IntGrid& grid, uint8_t* packed, int64_t row_bytes, float* values) {
  const int64_t cols = hs.cols, n = r1 - r0;
  const int64_t groups = GroupsPerRow(grid, cols);
  const int64_t gsize = grid.group == 0 ? cols : grid.group;
  // Scales fixed up front: act_order (static groups) and one scale per row.
  const bool static_scales = hs.act_order || grid.group == 0;
  std::vector<float> wp(n * cols);  // working rows, in position order (columns permuted)
  std::vector<GroupScale> scales(n * groups);
  std::vector<int> codes(n * cols);
  std::vector<float> err(n * kBlock);
  std::vector<float> orig(cols);
  for (int64_t r = 0; r < n; ++r) {
    const float* src = w + (r0 + r) * cols;
    for (int64_t c = 0; c < cols; ++c) orig[c] = hs.dead[c] ? 0.0f : src[c];
    for (int64_t p = 0; p < cols; ++p) wp[r * cols + p] = orig[hs.order[p]];
    if (static_scales) {
      for (int64_t g = 0; g < groups; ++g) {
        const int64_t c0 = g * gsize, len = std::min(gsize, cols - c0);
        scales[r * groups + g] = ComputeGroupScale(grid, orig.data() + c0, len);
      }
    }
  }
  const float* u = hs.u.data();
  for (int64_t b0 = 0; b0 < cols; b0 += kBlock) {
    const int64_t b1 = std::min(cols, b0 + kBlock);
    for (int64_t p = b0; p < b1; ++p) {
      const int64_t c = hs.order[p];
      const float* up = u + p * cols;
      const float diag = up[p];
      for (int64_t r = 0; r < n; ++r) {
        float* row = wp.data() + r * cols;
        // Natural order: p == c. A group never straddles a block (its size divides 128), so
        // its weights here already have every update from the columns before it.
        if (!static_scales && c % gsize == 0) {
          scales[r * groups + c / gsize] =
              ComputeGroupScale(grid, row + p, std::min(gsize, cols - c));
        }
        const GroupScale& s = scales[r * groups + c / gsize];
        const int q = QuantizeToCode(grid, s, row[p]);
        codes[r * cols + c] = q;
        const float v = CodeValue(s, q);
        if (values) values[(r0 + r) * cols + c] = v;
        const float e = (row[p] - v) / diag;
        err[r * kBlock + (p - b0)] = e;
        if (e == 0.0f) continue;
        for (int64_t j = p + 1; j < b1; ++j) row[j] -= e * up[j];
      }
    }
    if (b1 == cols) break;
    // Lazy update of the columns after the block: W[:, b1:] -= E · U[b0:b1, b1:].
    for (int64_t r = 0; r < n; ++r) {
      float* row = wp.data() + r * cols;
      for (int64_t k = 0; k < b1 - b0; ++k) {
        const float e = err[r * kBlock + k];
        if (e == 0.0f) continue;
        const float* uk = u + (b0 + k) * cols;
        for (int64_t j = b1; j < cols; ++j) row[j] -= e * uk[j];
      }
    }
  }
  for (int64_t r = 0; r < n; ++r) {
    PackIntRow(grid, scales.data() + r * groups, codes.data() + r * cols, cols,
               packed + (r0 + r) * row_bytes);
  }
}

class GptqTechnique : public Technique {
 public:
  GptqTechnique(std::string spec, IntQuant q, double damping, bool act_order)
      : spec_(std::move(spec)), q_(std::move(q)), damping_(damping), act_order_(act_order) {}

  absl::Status Apply(Model& model, const TechniqueContext& ctx) const override {
    RETURN_IF_ERROR(RejectSparseLayers(model, "gptq"));
    ASSIGN_OR_RETURN(const CalibrationSet* set, RequireCalibration(ctx, "gptq"));
    ASSIGN_OR_RETURN(const WeightFormat format, LookUpFormat("gptq", q_.format));
    ASSIGN_OR_RETURN(const IntGrid grid, IntGridFor(format));
    ThreadPool pool(ctx.threads);
    for (int l = 0; l < model.config.n_layers; ++l) {
      CollectOptions o;
      o.first_layer = o.last_layer = l;
      o.gram = true;
      o.threads = ctx.threads;
      o.isa = ctx.isa;
      ASSIGN_OR_RETURN(std::vector<LayerStats> stats, CollectInputStats(model, *set, o));
      for (int s = 0; s < kLinearSiteCount; ++s) {
        const LinearSite site = LinearSite(s);
        const InputStats& in = stats[0].at(site);
        absl::StatusOr<GptqHessian> hs = PrepareGptqHessian(in.gram, in.cols, damping_, act_order_);
        if (!hs.ok()) {
          return absl::Status(hs.status().code(),
                              absl::StrCat("gptq: layer ", l, " ", LinearSiteName(site),
                                           " input: ", hs.status().message()));
        }
        for (WeightTensor* t : SiteMatrices(model.layers[l], site)) {
          const std::vector<float> w = t->ToFloat();
          *t = GptqQuantize(w.data(), t->rows(), *hs, grid, &pool);
        }
      }
    }
    // No Hessian for the token lookup: round to nearest, as rtn does.
    if (q_.embeddings) ConvertEmbeddings(model, format);
    return absl::OkStatus();
  }

  bool uses_calibration() const override { return true; }

  std::string Describe() const override {
    return absl::StrCat(
        spec_, ": GPTQ ", DescribeIntQuant(q_),
        " on every layer matrix (q, k, v, o, gate, up, down), layer by layer with Hessians "
        "XᵀX of the calibration inputs as the quantized layers before produce them; columns "
        "quantized in ",
        act_order_ ? "order of descending Hessian diagonal (static groups)" : "order",
        " with error feedback, damping ", damping_, " of the mean diagonal; ",
        q_.embeddings ? "embedding and classifier rounded to nearest"
                      : "embedding and classifier kept in their formats");
  }

 private:
  std::string spec_;
  IntQuant q_;
  double damping_;
  bool act_order_;
};

}  // namespace

absl::StatusOr<GptqHessian> PrepareGptqHessian(const std::vector<double>& h, int64_t cols,
                                               double damping, bool act_order) {
  if (cols <= 0 || int64_t(h.size()) != cols * cols) {
    return absl::InvalidArgumentError(
        absl::StrCat("Hessian of ", h.size(), " values does not match ", cols, " columns"));
  }
  GptqHessian hs;
  hs.cols = cols;
  hs.act_order = act_order;
  hs.dead.assign(cols, 0);
  std::vector<double> base = h;
  double mean_diag = 0;
  for (int64_t i = 0; i < cols; ++i) {
    double& d = base[i * cols + i];
    if (d == 0.0) {
      hs.dead[i] = 1;
      d = 1.0;
    }
    mean_diag += d;
  }
  mean_diag /= double(cols);
  hs.order.resize(cols);
  std::iota(hs.order.begin(), hs.order.end(), 0);
  if (act_order) {
    std::stable_sort(hs.order.begin(), hs.order.end(),
                     [&](int64_t a, int64_t b) { return base[a * cols + a] > base[b * cols + b]; });
  }
  std::vector<double> perm(cols * cols);
  for (int64_t i = 0; i < cols; ++i)
    for (int64_t j = 0; j < cols; ++j) perm[i * cols + j] = base[hs.order[i] * cols + hs.order[j]];
  double damp = damping;
  absl::Status last;
  for (int attempt = 0; attempt < 4; ++attempt, damp = std::max(damp * 10.0, 1e-4)) {
    std::vector<double> a = perm;
    for (int64_t i = 0; i < cols; ++i) a[i * cols + i] += damp * mean_diag;
    absl::StatusOr<std::vector<double>> u = UpperCholeskyOfInverse(a.data(), cols);
    if (u.ok()) {
      hs.u.assign(u->begin(), u->end());
      hs.damping_used = damp;
      return hs;
    }
    last = u.status();
  }
  return absl::Status(last.code(), absl::StrCat(last.message(), " even with damping ", damp / 10.0,
                                                " of the mean diagonal"));
}

WeightTensor GptqQuantize(const float* w, int64_t rows, const GptqHessian& hs, const IntGrid& grid,
                          ThreadPool* pool, std::vector<float>* values) {
  const int64_t cols = hs.cols, row_bytes = RowBytes(grid.format, cols);
  std::vector<uint8_t> packed(rows * row_bytes);
  if (values) values->assign(rows * cols, 0.0f);
  float* v = values ? values->data() : nullptr;
  auto run = [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; r += kRowTile) {
      QuantizeRows(w, r, std::min(end, r + kRowTile), hs, grid, packed.data(), row_bytes, v);
    }
  };
  if (pool && pool->size() > 1 && rows > kRowTile) {
    pool->ParallelFor(rows, run, kRowTile);
  } else {
    run(0, rows);
  }
  return WeightTensor::Owned(grid.format, rows, cols, std::move(packed));
}

TechniqueInfo GptqTechniqueInfo() {
  TechniqueInfo info;
  info.name = "gptq";
  info.family = "quantization";
  info.summary =
      "GPTQ: integer quantization of every layer matrix column by column, each column's "
      "rounding error compensated on the columns not yet quantized through the inverse "
      "Hessian of the layer's calibration inputs (needs calibration text).";
  info.needs_calibration = true;
  ParamSpec damping = MakeParam("damping", ParamType::kFloat, "0.01", {},
                                "fraction of the mean Hessian diagonal added to the diagonal");
  damping.min = 0, damping.max = 1;
  info.params = IntQuantParams();
  info.params.push_back(damping);
  info.params.push_back(
      MakeParam("act_order", ParamType::kBool, "false", {},
                "quantize columns by descending Hessian diagonal (scales fixed up front)"));
  info.params.push_back(EmbeddingsParam("also round the embedding and the classifier to nearest"));
  info.factory = [](const Params& p) -> absl::StatusOr<std::unique_ptr<Technique>> {
    ASSIGN_OR_RETURN(IntQuant q, ResolveIntQuant("gptq", p));
    return std::make_unique<GptqTechnique>(p.ToSpec(), std::move(q), p.GetFloat("damping"),
                                           p.GetBool("act_order"));
  };
  return info;
}

}  // namespace squeeze
