// Pruning techniques: `magnitude` (by |W|, per matrix or over all layer matrices), `wanda`
// (by |W| times the input norm, per output row; Sun et al., "A Simple and Effective Pruning
// Approach for Large Language Models", 2023), `sparsegpt` (one-shot with error feedback;
// prune_core.cc) and `nm_sparse` (an N:M pattern chosen by any of the three criteria, stored
// in the sp24_* / sp48_* formats whose kernels skip the zeros). Unstructured zeros stay in the
// matrix's dense format or, past the sparsity where the CSR kernel wins (storage=auto), are
// stored CSR (prune_core.cc, StorePruned).
#include <cmath>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "techniques/builtin.h"
#include "techniques/prune.h"
#include "util/status_macros.h"

namespace squeeze {
namespace {

const char* const kMatrixNames[] = {"wq", "wk", "wv", "wo", "w_gate", "w_up", "w_down"};

std::vector<std::pair<std::string, WeightTensor*>> LayerMatrices(Model& model) {
  std::vector<std::pair<std::string, WeightTensor*>> out;
  for (size_t l = 0; l < model.layers.size(); ++l) {
    LayerWeights& w = model.layers[l];
    WeightTensor* ts[] = {&w.wq, &w.wk, &w.wv, &w.wo, &w.w_gate, &w.w_up, &w.w_down};
    for (int i = 0; i < 7; ++i)
      out.emplace_back(absl::StrCat("layer ", l, " ", kMatrixNames[i]), ts[i]);
  }
  return out;
}

// Scores of the magnitude criterion: |w|.
std::vector<float> Magnitudes(const std::vector<float>& w) {
  std::vector<float> s(w.size());
  for (size_t i = 0; i < w.size(); ++i) s[i] = std::fabs(w[i]);
  return s;
}

// Scores of the Wanda criterion: |w_rc| * ‖x_c‖, with ‖x_c‖² the Gram diagonal of the input.
std::vector<float> WandaScores(const std::vector<float>& w, int64_t cols, const InputStats& in) {
  std::vector<float> s(w.size());
  for (size_t i = 0; i < w.size(); ++i) {
    const int64_t c = int64_t(i) % cols;
    s[i] = std::fabs(w[i]) * float(std::sqrt(in.gram[c * cols + c]));
  }
  return s;
}

// Prunes every matrix of `site` in layer l by `criterion` (magnitude, wanda, sparsegpt) and
// stores it (prune.h, StorePruned).
absl::Status PruneSite(Model& model, int l, LinearSite site, const InputStats& in,
                       const std::string& criterion, const PrunePattern& p, double damping,
                       const std::string& values, const std::string& technique, ThreadPool& pool) {
  std::optional<GptqHessian> hs;
  if (criterion == "sparsegpt") {
    absl::StatusOr<GptqHessian> h = PrepareGptqHessian(in.gram, in.cols, damping, false);
    if (!h.ok()) {
      return absl::Status(h.status().code(),
                          absl::StrCat(technique, ": layer ", l, " ", LinearSiteName(site),
                                       " input: ", h.status().message()));
    }
    hs = *std::move(h);
  }
  for (WeightTensor* t : SiteMatrices(model.layers[l], site)) {
    std::vector<float> w = t->ToFloat();
    if (hs) {
      SparseGptPrune(w.data(), t->rows(), *hs, p, &pool);
    } else {
      const std::vector<float> score =
          criterion == "wanda" ? WandaScores(w, t->cols(), in) : Magnitudes(w);
      PruneRowsByScore(w.data(), score.data(), t->rows(), t->cols(), p);
    }
    ASSIGN_OR_RETURN(*t, StorePruned(*t, w, p, values, technique,
                                     absl::StrCat("layer ", l, " ", LinearSiteName(site))));
  }
  return absl::OkStatus();
}

class PruneTechnique : public Technique {
 public:
  PruneTechnique(std::string name, std::string spec, std::string criterion, PrunePattern p,
                 std::string scope, double damping, std::string values)
      : name_(std::move(name)),
        spec_(std::move(spec)),
        criterion_(std::move(criterion)),
        p_(p),
        scope_(std::move(scope)),
        damping_(damping),
        values_(std::move(values)) {}

  absl::Status Apply(Model& model, const TechniqueContext& ctx) const override {
    if (criterion_ == "magnitude" && !p_.nm() && scope_ == "global") {
      std::vector<std::vector<float>> ws;
      const auto mats = LayerMatrices(model);
      for (const auto& [name, t] : mats) ws.push_back(t->ToFloat());
      std::vector<std::vector<float>*> ptrs;
      for (auto& w : ws) ptrs.push_back(&w);
      PruneSmallest(ptrs, p_.sparsity);
      for (size_t i = 0; i < mats.size(); ++i) {
        WeightTensor* t = mats[i].second;
        ASSIGN_OR_RETURN(*t, StorePruned(*t, ws[i], p_, values_, name_, mats[i].first));
      }
      return absl::OkStatus();
    }
    if (criterion_ == "magnitude") {
      for (const auto& [name, t] : LayerMatrices(model)) {
        std::vector<float> w = t->ToFloat();
        if (p_.nm()) {
          const std::vector<float> score = Magnitudes(w);
          PruneRowsByScore(w.data(), score.data(), t->rows(), t->cols(), p_);
        } else {
          PruneSmallest({&w}, p_.sparsity);
        }
        ASSIGN_OR_RETURN(*t, StorePruned(*t, w, p_, values_, name_, name));
      }
      return absl::OkStatus();
    }
    ThreadPool pool(ctx.threads);
    return ForEachLayerSite(model, ctx, name_, [&](int l, LinearSite site, const InputStats& in) {
      return PruneSite(model, l, site, in, criterion_, p_, damping_, values_, name_, pool);
    });
  }

  bool uses_calibration() const override { return criterion_ != "magnitude"; }

  std::string Describe() const override {
    std::string how;
    if (criterion_ == "magnitude") {
      how = p_.nm()              ? "smallest |W| in each group"
            : scope_ == "global" ? "smallest |W| over all layer matrices together"
                                 : "smallest |W| of each matrix";
    } else if (criterion_ == "wanda") {
      how = "smallest |W| x input norm in each row (calibration inputs, layer by layer)";
    } else {
      how =
          "SparseGPT: by w^2 / [H^-1]_cc^2 with each removal's error fed back to the later "
          "columns (calibration Hessians, layer by layer, damping " +
          absl::StrCat(damping_) + ")";
    }
    std::string storage = "zeros kept in each matrix's dense format";
    if (p_.storage == "csr") storage = "stored sparse (CSR: kept weights and their columns)";
    if (p_.storage == "auto")
      storage = absl::StrFormat(
          "f32 matrices from %g%% and f16 from %g%% zeros stored sparse (CSR: kept weights and "
          "their columns), the others dense with their zeros",
          100 * CsrCrossover(WeightFormat::kF32), 100 * CsrCrossover(WeightFormat::kF16));
    if (p_.nm())
      storage = "stored in the " + std::to_string(p_.n) + ":" + std::to_string(p_.m) +
                " sparse format (kept values and their positions)";
    return absl::StrCat(spec_, ": ", p_.Describe(),
                        " of every layer matrix (q, k, v, o, gate, "
                        "up, down), removing the ",
                        how, "; ", storage, "; embedding and classifier kept");
  }

 private:
  std::string name_, spec_, criterion_;
  PrunePattern p_;
  std::string scope_;
  double damping_;
  std::string values_;
};

ParamSpec SparsityParam() {
  ParamSpec p = MakeParam("sparsity", ParamType::kFloat, "0.5", {},
                          "fraction of each layer matrix's weights removed");
  p.min = 0;
  p.max = 0.99;
  return p;
}

ParamSpec StorageParam() {
  ParamSpec p = MakeParam("storage", ParamType::kEnum, "auto", {"auto", "dense", "csr"}, "");
  p.help = absl::StrFormat(
      "where the zeros go: dense keeps them in the matrix's format; csr stores only the kept "
      "weights and their columns (f32 or f16 matrices); auto takes csr where it decodes faster "
      "(f32 from %g%%, f16 from %g%% zeros)",
      100 * CsrCrossover(WeightFormat::kF32), 100 * CsrCrossover(WeightFormat::kF16));
  return p;
}

// The unstructured pattern of a magnitude, wanda or sparsegpt spec.
PrunePattern Unstructured(const Params& p) {
  PrunePattern pat;
  pat.sparsity = p.GetFloat("sparsity");
  pat.storage = p.GetString("storage");
  return pat;
}

ParamSpec DampingParam() {
  ParamSpec p = MakeParam("damping", ParamType::kFloat, "0.01", {},
                          "fraction of the mean Hessian diagonal added to the diagonal");
  p.min = 0;
  p.max = 1;
  return p;
}

}  // namespace

TechniqueInfo MagnitudeTechniqueInfo() {
  TechniqueInfo info;
  info.name = "magnitude";
  info.family = "pruning";
  info.summary =
      "Unstructured magnitude pruning: removes the smallest |W| of every layer "
      "matrix (scope=layer) or of all of them together (scope=global).";
  info.params = {SparsityParam(),
                 MakeParam("scope", ParamType::kEnum, "layer", {"layer", "global"},
                           "layer: each matrix loses `sparsity` of its weights; global: the "
                           "threshold is shared by all layer matrices"),
                 StorageParam()};
  info.factory = [](const Params& p) -> absl::StatusOr<std::unique_ptr<Technique>> {
    const PrunePattern pat = Unstructured(p);
    return std::make_unique<PruneTechnique>("magnitude", p.ToSpec(), "magnitude", pat,
                                            p.GetString("scope"), 0.0, "same");
  };
  return info;
}

TechniqueInfo WandaTechniqueInfo() {
  TechniqueInfo info;
  info.name = "wanda";
  info.family = "pruning";
  info.summary =
      "Wanda: removes, in each output row, the weights with the smallest |W| x "
      "input norm over the calibration text (needs calibration text).";
  info.needs_calibration = true;
  info.params = {SparsityParam(), StorageParam()};
  info.factory = [](const Params& p) -> absl::StatusOr<std::unique_ptr<Technique>> {
    const PrunePattern pat = Unstructured(p);
    return std::make_unique<PruneTechnique>("wanda", p.ToSpec(), "wanda", pat, "row", 0.0, "same");
  };
  return info;
}

TechniqueInfo SparseGptTechniqueInfo() {
  TechniqueInfo info;
  info.name = "sparsegpt";
  info.family = "pruning";
  info.summary =
      "SparseGPT: one-shot pruning that removes weights block by block and feeds "
      "each removal's error back through the inverse Hessian of the calibration "
      "inputs (needs calibration text).";
  info.needs_calibration = true;
  info.params = {SparsityParam(), DampingParam(), StorageParam()};
  info.factory = [](const Params& p) -> absl::StatusOr<std::unique_ptr<Technique>> {
    const PrunePattern pat = Unstructured(p);
    return std::make_unique<PruneTechnique>("sparsegpt", p.ToSpec(), "sparsegpt", pat, "row",
                                            p.GetFloat("damping"), "same");
  };
  return info;
}

TechniqueInfo NmSparseTechniqueInfo() {
  TechniqueInfo info;
  info.name = "nm_sparse";
  info.family = "pruning";
  info.summary =
      "N:M semi-structured sparsity (2:4 or 4:8) chosen by magnitude, wanda or "
      "sparsegpt, stored as kept values plus positions for sparse kernels (wanda "
      "and sparsegpt need calibration text).";
  info.params = {MakeParam("pattern", ParamType::kEnum, "2:4", {"2:4", "4:8"},
                           "N:M: N of every M consecutive weights of a row are kept"),
                 MakeParam("criterion", ParamType::kEnum, "magnitude",
                           {"magnitude", "wanda", "sparsegpt"}, "which weights of each group go"),
                 DampingParam(),
                 MakeParam("values", ParamType::kEnum, "same", {"same", "f32", "f16"},
                           "precision of the kept values (same: f32 or f16 as the matrix is)")};
  info.factory = [](const Params& p) -> absl::StatusOr<std::unique_ptr<Technique>> {
    PrunePattern pat;
    const bool two_four = p.GetString("pattern") == "2:4";
    pat.n = two_four ? 2 : 4;
    pat.m = two_four ? 4 : 8;
    return std::make_unique<PruneTechnique>("nm_sparse", p.ToSpec(), p.GetString("criterion"), pat,
                                            "row", p.GetFloat("damping"), p.GetString("values"));
  };
  return info;
}

}  // namespace squeeze
