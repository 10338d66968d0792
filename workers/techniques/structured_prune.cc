// Structured pruning: head_prune removes attention heads, ffn_prune removes FFN channels, by
// an importance score; the matrices physically shrink (rows of q / gate / up, columns of o /
// down, and the k / v rows of kv heads no query head reads any more), so every later
// product, the KV cache and the reported size are smaller. The layers keep their own sizes
// (LayerWeights::n_heads, hidden_dim, kv_head_of); layers that agree go back to the config.
#include <algorithm>
#include <cmath>
#include <memory>
#include <mutex>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/engine.h"
#include "techniques/builtin.h"
#include "util/status_macros.h"

namespace squeeze {
namespace {

enum class Unit { kHeads, kChannels };

const char* TechniqueName(Unit u) {
  return u == Unit::kHeads ? "head_prune" : "ffn_prune";
}

// Rows `keep` of t (in order), bytes copied as they are: exact in every format (a CSR tensor's
// rows are unpacked and packed again, as exact).
WeightTensor KeepRows(const WeightTensor& t, const std::vector<int64_t>& keep) {
  if (t.sparse()) {
    std::vector<float> out(keep.size() * t.cols());
    for (size_t i = 0; i < keep.size(); ++i) t.RowToFloat(keep[i], out.data() + i * t.cols());
    return t.Repacked(int64_t(keep.size()), t.cols(), out.data());
  }
  std::vector<uint8_t> bytes(keep.size() * t.row_bytes());
  for (size_t i = 0; i < keep.size(); ++i)
    std::copy(t.row(keep[i]), t.row(keep[i]) + t.row_bytes(), bytes.begin() + i * t.row_bytes());
  return WeightTensor::Owned(t.format(), int64_t(keep.size()), t.cols(), std::move(bytes));
}

// Columns `keep` of t, repacked as t is stored (exact for f32/f16/bf16 and CSR; a
// block-quantized tensor is re-rounded with its format's quantizer).
WeightTensor KeepCols(const WeightTensor& t, const std::vector<int64_t>& keep) {
  const int64_t cols = int64_t(keep.size());
  std::vector<float> row(t.cols()), out(t.rows() * cols);
  for (int64_t r = 0; r < t.rows(); ++r) {
    t.RowToFloat(r, row.data());
    for (int64_t c = 0; c < cols; ++c) out[r * cols + c] = row[keep[c]];
  }
  return t.Repacked(t.rows(), cols, out.data());
}

// Squared L2 norm of each column of t.
std::vector<double> ColumnSquares(const WeightTensor& t) {
  std::vector<double> out(t.cols(), 0.0);
  std::vector<float> row(t.cols());
  for (int64_t r = 0; r < t.rows(); ++r) {
    t.RowToFloat(r, row.data());
    for (int64_t c = 0; c < t.cols(); ++c) out[c] += double(row[c]) * row[c];
  }
  return out;
}

// Squared L2 norm of each row of t.
std::vector<double> RowSquares(const WeightTensor& t) {
  std::vector<double> out(t.rows(), 0.0);
  std::vector<float> row(t.cols());
  for (int64_t r = 0; r < t.rows(); ++r) {
    t.RowToFloat(r, row.data());
    for (float v : row) out[r] += double(v) * v;
  }
  return out;
}

// Mean of x_c² over every calibration token, per layer, for the input of o (unit kHeads:
// the heads' outputs) or of down (kChannels: the SwiGLU outputs).
absl::StatusOr<std::vector<std::vector<double>>> InputEnergy(const Model& model,
                                                             const CalibrationSet& set,
                                                             const TechniqueContext& ctx,
                                                             Unit unit) {
  const LinearSite site = unit == Unit::kHeads ? LinearSite::kWo : LinearSite::kDown;
  std::vector<std::vector<double>> sums(model.config.n_layers);
  int64_t tokens = 0;
  EngineOptions o;
  o.threads = ctx.threads;
  o.isa = ctx.isa;
  o.observer = [&](int layer, LinearSite s, const float* x, int64_t n, int64_t cols) {
    if (s != site) return;
    std::vector<double>& acc = sums[layer];
    acc.resize(cols, 0.0);
    for (int64_t t = 0; t < n; ++t) {
      for (int64_t c = 0; c < cols; ++c) acc[c] += double(x[t * cols + c]) * x[t * cols + c];
    }
    if (layer == 0) tokens += n;
  };
  ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, Engine::Create(model, o));
  for (const std::vector<int32_t>& seq : set.sequences) {
    engine->Reset();
    RETURN_IF_ERROR(engine->Forward(seq, nullptr));
  }
  for (std::vector<double>& acc : sums) {
    for (double& v : acc) v /= double(std::max<int64_t>(1, tokens));
  }
  return sums;
}

// Importance of each unit (head or channel) of every layer; higher is kept first.
//   magnitude:  heads ‖Wo[:, head]‖² · ‖Wv[kv head]‖², channels ‖gate_j‖ · ‖up_j‖ · ‖down[:, j]‖;
//   activation: Σ over the unit's input columns c of o / down of E[x_c²] · ‖W[:, c]‖², the
//               expected energy the unit adds to the layer's output (Wanda's |W|·‖X‖, squared,
//               summed over a head's columns).
absl::StatusOr<std::vector<std::vector<double>>> Scores(const Model& model, Unit unit,
                                                        bool activation,
                                                        const TechniqueContext& ctx) {
  std::vector<std::vector<double>> energy;
  if (activation) {
    ASSIGN_OR_RETURN(const CalibrationSet* set, RequireCalibration(ctx, TechniqueName(unit)));
    ASSIGN_OR_RETURN(energy, InputEnergy(model, *set, ctx, unit));
  }
  std::vector<std::vector<double>> out(model.config.n_layers);
  for (int64_t l = 0; l < model.config.n_layers; ++l) {
    const LayerWeights& w = model.layers[l];
    const LayerShape s = model.Shape(l);
    if (unit == Unit::kHeads) {
      const std::vector<double> wo = ColumnSquares(w.wo);
      const std::vector<double> wv = RowSquares(w.wv);
      for (int32_t h = 0; h < s.n_heads; ++h) {
        double score = 0, v = 0;
        for (int64_t d = 0; d < s.head_dim; ++d) {
          const int64_t c = h * s.head_dim + d;
          score += activation ? energy[l][c] * wo[c] : wo[c];
          v += wv[s.kv_head_of[h] * s.head_dim + d];
        }
        out[l].push_back(activation ? score : score * v);
      }
    } else {
      const std::vector<double> down = ColumnSquares(w.w_down);
      const std::vector<double> gate = RowSquares(w.w_gate), up = RowSquares(w.w_up);
      for (int64_t j = 0; j < s.hidden_dim; ++j) {
        out[l].push_back(activation ? energy[l][j] * down[j]
                                    : std::sqrt(gate[j] * up[j] * down[j]));
      }
    }
  }
  return out;
}

// Which units each layer keeps (ascending indices): the lowest-scoring `fraction` removed
// per layer, or over all layers (global) with at least one unit left in every layer.
absl::StatusOr<std::vector<std::vector<int64_t>>> Keep(
    const std::vector<std::vector<double>>& scores, double fraction, bool global, Unit unit) {
  const std::string name = TechniqueName(unit);
  const char* what = unit == Unit::kHeads ? "heads" : "channels";
  std::vector<std::vector<int64_t>> keep(scores.size());
  std::vector<std::vector<bool>> removed(scores.size());
  for (size_t l = 0; l < scores.size(); ++l) removed[l].assign(scores[l].size(), false);
  if (!global) {
    for (size_t l = 0; l < scores.size(); ++l) {
      const int64_t n = int64_t(scores[l].size()), k = std::llround(fraction * double(n));
      if (k >= n) {
        return absl::InvalidArgumentError(absl::StrCat(name, ".fraction: ", fraction, " of layer ",
                                                       l, "'s ", n, " ", what,
                                                       " removes all of them"));
      }
      std::vector<int64_t> order(n);
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(),
                       [&](int64_t a, int64_t b) { return scores[l][a] < scores[l][b]; });
      for (int64_t i = 0; i < k; ++i) removed[l][order[i]] = true;
    }
  } else {
    std::vector<std::pair<double, std::pair<size_t, int64_t>>> all;
    int64_t total = 0;
    for (size_t l = 0; l < scores.size(); ++l) {
      total += int64_t(scores[l].size());
      for (size_t u = 0; u < scores[l].size(); ++u) all.push_back({scores[l][u], {l, int64_t(u)}});
    }
    const int64_t k = std::llround(fraction * double(total));
    if (k > total - int64_t(scores.size())) {
      return absl::InvalidArgumentError(absl::StrCat(name, ".fraction: ", fraction, " of ", total,
                                                     " ", what,
                                                     " leaves fewer than one per layer"));
    }
    std::stable_sort(all.begin(), all.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<int64_t> left(scores.size());
    for (size_t l = 0; l < scores.size(); ++l) left[l] = int64_t(scores[l].size());
    int64_t taken = 0;
    for (const auto& [score, where] : all) {
      if (taken == k) break;
      if (left[where.first] == 1) continue;  // the layer's last unit stays
      removed[where.first][where.second] = true;
      --left[where.first];
      ++taken;
    }
  }
  for (size_t l = 0; l < scores.size(); ++l) {
    for (size_t u = 0; u < scores[l].size(); ++u) {
      if (!removed[l][u]) keep[l].push_back(int64_t(u));
    }
  }
  return keep;
}

void PruneHeads(Model& model, int64_t l, const std::vector<int64_t>& heads) {
  LayerWeights& w = model.layers[l];
  const LayerShape s = model.Shape(l);
  const int64_t hd = s.head_dim;
  // The kv heads the kept query heads read, in order, and the new map onto them.
  std::vector<int64_t> kv;
  for (int64_t h : heads) kv.push_back(s.kv_head_of[h]);
  std::sort(kv.begin(), kv.end());
  kv.erase(std::unique(kv.begin(), kv.end()), kv.end());
  std::vector<int32_t> map;
  for (int64_t h : heads)
    map.push_back(int32_t(std::lower_bound(kv.begin(), kv.end(), s.kv_head_of[h]) - kv.begin()));
  auto dims = [&](const std::vector<int64_t>& units) {
    std::vector<int64_t> out;
    for (int64_t u : units) {
      for (int64_t d = 0; d < hd; ++d) out.push_back(u * hd + d);
    }
    return out;
  };
  w.wq = KeepRows(w.wq, dims(heads));
  w.wk = KeepRows(w.wk, dims(kv));
  w.wv = KeepRows(w.wv, dims(kv));
  w.wo = KeepCols(w.wo, dims(heads));
  w.n_heads = int32_t(heads.size());
  w.n_kv_heads = int32_t(kv.size());
  w.kv_head_of = map;
}

void PruneChannels(Model& model, int64_t l, const std::vector<int64_t>& channels) {
  LayerWeights& w = model.layers[l];
  w.w_gate = KeepRows(w.w_gate, channels);
  w.w_up = KeepRows(w.w_up, channels);
  w.w_down = KeepCols(w.w_down, channels);
  w.hidden_dim = int32_t(channels.size());
}

class StructuredPruneTechnique : public Technique {
 public:
  StructuredPruneTechnique(std::string spec, Unit unit, double fraction, bool activation,
                           bool global)
      : spec_(std::move(spec)),
        unit_(unit),
        fraction_(fraction),
        activation_(activation),
        global_(global) {}

  absl::Status Apply(Model& model, const TechniqueContext& ctx) const override {
    RETURN_IF_ERROR(RejectRepackedLayouts(model, TechniqueName(unit_)));
    ASSIGN_OR_RETURN(const std::vector<std::vector<double>> scores,
                     Scores(model, unit_, activation_, ctx));
    ASSIGN_OR_RETURN(const std::vector<std::vector<int64_t>> keep,
                     Keep(scores, fraction_, global_, unit_));
    std::vector<std::string> counts;
    for (int64_t l = 0; l < model.config.n_layers; ++l) {
      const int64_t before = int64_t(scores[l].size());
      counts.push_back(absl::StrCat(before, "->", keep[l].size()));
      if (int64_t(keep[l].size()) == before) continue;
      if (unit_ == Unit::kHeads) {
        PruneHeads(model, l, keep[l]);
      } else {
        PruneChannels(model, l, keep[l]);
      }
    }
    NormalizeLayerShapes(model);
    std::lock_guard<std::mutex> lock(mu_);
    kept_ = absl::StrJoin(counts, " ");
    return absl::OkStatus();
  }

  bool uses_calibration() const override { return activation_; }

  std::string Describe() const override {
    const bool heads = unit_ == Unit::kHeads;
    std::string d = absl::StrCat(
        spec_, ": removes the lowest-scoring ", fraction_ * 100, "% of ",
        heads ? "attention heads" : "FFN channels", global_ ? " over all layers" : " per layer",
        " (score: ",
        activation_ ? "calibration input energy x squared weight norms"
                    : (heads ? "weight norms of o and v" : "weight norms of gate, up and down"),
        "); ",
        heads ? "q/o (and unused k/v) matrices shrink" : "gate/up rows and down columns shrink");
    std::lock_guard<std::mutex> lock(mu_);
    if (!kept_.empty()) absl::StrAppend(&d, "; per layer ", kept_);
    return d;
  }

 private:
  std::string spec_;
  Unit unit_;
  double fraction_;
  bool activation_, global_;
  mutable std::mutex mu_;
  mutable std::string kept_;  // units per layer before and after Apply. Guarded by mu_
};

TechniqueInfo PruneInfo(Unit unit) {
  const bool heads = unit == Unit::kHeads;
  TechniqueInfo info;
  info.name = TechniqueName(unit);
  info.family = "pruning";
  info.summary = heads ? "Structured pruning of attention heads by an importance score: q, o "
                         "(and k, v of kv heads left unread) physically shrink."
                       : "Structured pruning of FFN channels by an importance score: gate and "
                         "up lose rows, down loses columns.";
  ParamSpec fraction =
      MakeParam("fraction", ParamType::kFloat, "0.25", {},
                heads ? "share of heads removed (rounded to whole heads)"
                      : "share of FFN channels removed (rounded to whole channels)");
  fraction.min = 0.0;
  fraction.max = 0.99;
  info.params = {fraction,
                 MakeParam("score", ParamType::kEnum, "magnitude", {"magnitude", "activation"},
                           "importance: weight norms, or calibration activations (needs "
                           "--calib-text)"),
                 MakeParam("scope", ParamType::kEnum, "layer", {"layer", "global"},
                           "the fraction of each layer, or of all layers together")};
  info.factory = [unit](const Params& p) -> absl::StatusOr<std::unique_ptr<Technique>> {
    return std::make_unique<StructuredPruneTechnique>(p.ToSpec(), unit, p.GetFloat("fraction"),
                                                      p.GetString("score") == "activation",
                                                      p.GetString("scope") == "global");
  };
  return info;
}

}  // namespace

absl::Status RejectRepackedLayouts(const Model& model, const std::string& technique) {
  for (int64_t l = 0; l < model.config.n_layers; ++l) {
    const LayerWeights& w = model.layers[l];
    for (const WeightTensor* t : {&w.wq, &w.wk, &w.wv, &w.wo, &w.w_gate, &w.w_up, &w.w_down}) {
      const char* what = t->split()                    ? "has columns kept apart (llm_int8)"
                         : IsSparseFormat(t->format()) ? "is stored N:M sparse (nm_sparse)"
                                                       : nullptr;
      if (what) {
        return absl::InvalidArgumentError(
            absl::StrCat(technique, ": layer ", l, " ", what, "; apply ", technique, " before it"));
      }
    }
  }
  return absl::OkStatus();
}

TechniqueInfo HeadPruneTechniqueInfo() {
  return PruneInfo(Unit::kHeads);
}
TechniqueInfo FfnPruneTechniqueInfo() {
  return PruneInfo(Unit::kChannels);
}

}  // namespace squeeze
