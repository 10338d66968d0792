// Attention variants: gqa / mqa (key and value heads mean-pooled into G groups, so the KV
// cache shrinks), sliding_window and sinks (a bounded ring cache), block_sparse (local plus
// strided global blocks), and the kernel choices flash and attention_kernel. Each sets what
// the engine runs: the layers' kv heads or the model's attention settings (model.h).
#include <functional>
#include <memory>

#include "absl/strings/str_cat.h"
#include "techniques/builtin.h"

namespace squeeze {
namespace {

// An integer parameter in [min, max]; default_value null: required.
ParamSpec IntParam(const char* name, const char* default_value, double min, double max,
                   const char* help) {
  ParamSpec p = MakeParam(name, ParamType::kInt, "0", {}, help);
  if (default_value) {
    p.default_value = default_value;
  } else {
    p.default_value.reset();
  }
  p.min = min;
  p.max = max;
  return p;
}

// Mean of `count` consecutive blocks of hd rows starting at block `first`, as floats.
std::vector<float> MeanOfHeads(const WeightTensor& t, int64_t first, int64_t count, int64_t hd) {
  const int64_t cols = t.cols();
  std::vector<float> out(hd * cols, 0.0f), row(cols);
  for (int64_t h = first; h < first + count; ++h) {
    for (int64_t r = 0; r < hd; ++r) {
      t.RowToFloat(h * hd + r, row.data());
      for (int64_t c = 0; c < cols; ++c) out[r * cols + c] += row[c] / float(count);
    }
  }
  return out;
}

// `t` with its kv heads (blocks of hd rows) mean-pooled into `groups` heads, in t's format.
WeightTensor PoolHeads(const WeightTensor& t, int64_t kv_heads, int64_t groups, int64_t hd) {
  const int64_t per = kv_heads / groups, cols = t.cols();
  std::vector<float> all(groups * hd * cols);
  for (int64_t g = 0; g < groups; ++g) {
    const std::vector<float> m = MeanOfHeads(t, g * per, per, hd);
    std::copy(m.begin(), m.end(), all.begin() + g * hd * cols);
  }
  return WeightTensor::FromFloat(t.format(), groups * hd, cols, all.data());
}

class GqaTechnique : public Technique {
 public:
  GqaTechnique(std::string spec, int64_t groups) : spec_(std::move(spec)), groups_(groups) {}

  absl::Status Apply(Model& model, const TechniqueContext&) const override {
    const std::string name = groups_ == 1 ? "mqa" : "gqa.groups";
    if (absl::Status s = RejectRepackedLayouts(model, groups_ == 1 ? "mqa" : "gqa"); !s.ok())
      return s;
    for (int64_t l = 0; l < model.config.n_layers; ++l) {
      const LayerShape s = model.Shape(l);
      if (s.n_kv_heads % groups_ != 0) {
        return absl::InvalidArgumentError(absl::StrCat(name, ": ", groups_,
                                                       " groups do not divide layer ", l, "'s ",
                                                       s.n_kv_heads, " kv heads"));
      }
    }
    for (int64_t l = 0; l < model.config.n_layers; ++l) {
      const LayerShape s = model.Shape(l);
      if (s.n_kv_heads == groups_) continue;
      LayerWeights& w = model.layers[l];
      if (w.wk.split() || w.wv.split()) {
        return absl::InvalidArgumentError(
            absl::StrCat(name, ": layer ", l,
                         "'s k/v projections have columns kept apart (llm_int8): apply "
                         "gqa before llm_int8"));
      }
      const int64_t per = s.n_kv_heads / groups_;
      w.wk = PoolHeads(w.wk, s.n_kv_heads, groups_, s.head_dim);
      w.wv = PoolHeads(w.wv, s.n_kv_heads, groups_, s.head_dim);
      std::vector<int32_t> map(s.n_heads);
      for (int32_t h = 0; h < s.n_heads; ++h) map[h] = int32_t(s.kv_head_of[h] / per);
      w.n_heads = s.n_heads;
      w.n_kv_heads = int32_t(groups_);
      w.kv_head_of = map;
    }
    NormalizeLayerShapes(model);
    return absl::OkStatus();
  }

  std::string Describe() const override {
    return absl::StrCat(spec_, ": key and value heads mean-pooled into ", groups_,
                        groups_ == 1 ? " head shared by every query head" : " groups per layer",
                        " (the GQA paper's conversion); the KV cache shrinks accordingly");
  }

 private:
  std::string spec_;
  int64_t groups_;
};

// Sets fields of the model's attention settings (mask or kernel).
class AttentionSettingTechnique : public Technique {
 public:
  using Setter = std::function<absl::Status(AttentionSettings&)>;
  AttentionSettingTechnique(std::string spec, std::string what, Setter set)
      : spec_(std::move(spec)), what_(std::move(what)), set_(std::move(set)) {}

  absl::Status Apply(Model& model, const TechniqueContext&) const override {
    AttentionSettings a = model.attention;
    if (absl::Status s = set_(a); !s.ok()) return s;
    model.attention = a;
    return absl::OkStatus();
  }

  std::string Describe() const override { return absl::StrCat(spec_, ": ", what_); }

 private:
  std::string spec_, what_;
  Setter set_;
};

absl::Status NoBlockSparse(const std::string& technique, const AttentionSettings& a) {
  if (a.block == 0) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(technique,
                   ": the model already has block-sparse attention; a window and block-sparse "
                   "attention do not combine"));
}

TechniqueInfo AttentionInfo(const char* name, const char* summary) {
  TechniqueInfo info;
  info.name = name;
  info.family = "attention";
  info.summary = summary;
  return info;
}

}  // namespace

TechniqueInfo GqaTechniqueInfo() {
  TechniqueInfo info = AttentionInfo(
      "gqa",
      "Grouped-query attention by conversion: the key and value heads of each of G groups are "
      "mean-pooled into one (Ainslie et al.), so the KV cache and decode's attention reads "
      "shrink by n_kv_heads / G.");
  info.params = {IntParam("groups", nullptr, 1, 4096,
                          "key/value groups G per layer; must divide every layer's kv heads")};
  info.factory = [](const Params& p) -> absl::StatusOr<std::unique_ptr<Technique>> {
    return std::make_unique<GqaTechnique>(p.ToSpec(), p.GetInt("groups"));
  };
  return info;
}

TechniqueInfo MqaTechniqueInfo() {
  TechniqueInfo info = AttentionInfo(
      "mqa",
      "Multi-query attention by conversion: every layer's key and value heads mean-pooled into "
      "one shared by all query heads (gqa with groups=1).");
  info.factory = [](const Params& p) -> absl::StatusOr<std::unique_ptr<Technique>> {
    return std::make_unique<GqaTechnique>(p.ToSpec(), 1);
  };
  return info;
}

TechniqueInfo SlidingWindowTechniqueInfo() {
  TechniqueInfo info = AttentionInfo(
      "sliding_window",
      "Each token attends to itself and the W - 1 tokens before it; the KV cache is a ring of W "
      "positions, so memory and decode time stop growing with the context.");
  info.params = {
      IntParam("window", "128", 1, 1 << 24, "positions each query sees, itself included")};
  info.factory = [](const Params& p) -> absl::StatusOr<std::unique_ptr<Technique>> {
    const int32_t w = int32_t(p.GetInt("window"));
    return std::make_unique<AttentionSettingTechnique>(
        p.ToSpec(),
        absl::StrCat("attention limited to the last ", w, " positions; KV cache a ring of ", w,
                     " positions"),
        [w](AttentionSettings& a) -> absl::Status {
          if (absl::Status s = NoBlockSparse("sliding_window", a); !s.ok()) return s;
          a.window = w;
          a.sinks = 0;
          return absl::OkStatus();
        });
  };
  return info;
}

TechniqueInfo SinksTechniqueInfo() {
  TechniqueInfo info = AttentionInfo(
      "sinks",
      "StreamingLLM: each token attends to the first S tokens (attention sinks) and a window of "
      "the last W; the KV cache holds S + W positions.");
  info.params = {IntParam("sinks", "4", 1, 1 << 20, "first positions that stay visible"),
                 IntParam("window", "124", 1, 1 << 24, "recent positions each query sees")};
  info.factory = [](const Params& p) -> absl::StatusOr<std::unique_ptr<Technique>> {
    const int32_t s = int32_t(p.GetInt("sinks")), w = int32_t(p.GetInt("window"));
    return std::make_unique<AttentionSettingTechnique>(
        p.ToSpec(),
        absl::StrCat("attention to the first ", s, " positions and the last ", w, "; KV cache of ",
                     s + w, " positions (sinks kept, the rest a ring)"),
        [s, w](AttentionSettings& a) -> absl::Status {
          if (absl::Status st = NoBlockSparse("sinks", a); !st.ok()) return st;
          a.window = w;
          a.sinks = s;
          return absl::OkStatus();
        });
  };
  return info;
}

TechniqueInfo BlockSparseTechniqueInfo() {
  TechniqueInfo info = AttentionInfo(
      "block_sparse",
      "Block-sparse attention: positions in blocks of B; a query sees its own block and the "
      "L - 1 before it (local) and every block whose index is a multiple of S (global).");
  info.params = {IntParam("block", "16", 1, 1 << 20, "positions per block"),
                 IntParam("local", "2", 1, 1 << 20, "local blocks, the query's own included"),
                 IntParam("stride", "4", 1, 1 << 20, "every stride-th block is global")};
  info.factory = [](const Params& p) -> absl::StatusOr<std::unique_ptr<Technique>> {
    const int32_t b = int32_t(p.GetInt("block")), l = int32_t(p.GetInt("local")),
                  st = int32_t(p.GetInt("stride"));
    return std::make_unique<AttentionSettingTechnique>(
        p.ToSpec(),
        absl::StrCat("attention to the query's block and the ", l - 1, " before it, and to every ",
                     st, "th block (blocks of ", b,
                     " positions); the KV cache keeps every position"),
        [b, l, st](AttentionSettings& a) -> absl::Status {
          if (a.window > 0) {
            return absl::InvalidArgumentError(
                "block_sparse: the model already has a sliding window; a window and "
                "block-sparse attention do not combine");
          }
          a.block = b, a.local_blocks = l, a.global_stride = st;
          return absl::OkStatus();
        });
  };
  return info;
}

TechniqueInfo FlashTechniqueInfo() {
  TechniqueInfo info = AttentionInfo(
      "flash",
      "Flash attention: tiles of queries against tiles of keys with an online softmax; memory "
      "independent of the context instead of a score matrix, the same output within f32 "
      "rounding.");
  info.params = {MakeParam("tile_q", ParamType::kInt, "32", {"8", "16", "32", "64", "128"},
                           "query rows per tile (query heads of a kv head x tokens)"),
                 MakeParam("tile_k", ParamType::kInt, "64", {"16", "32", "64", "128", "256"},
                           "keys per tile")};
  info.factory = [](const Params& p) -> absl::StatusOr<std::unique_ptr<Technique>> {
    const int32_t tq = int32_t(p.GetInt("tile_q")), tk = int32_t(p.GetInt("tile_k"));
    return std::make_unique<AttentionSettingTechnique>(
        p.ToSpec(),
        absl::StrCat("attention kernel flash for every batch, tiles of ", tq, " query rows x ", tk,
                     " keys"),
        [tq, tk](AttentionSettings& a) -> absl::Status {
          a.kernel = AttentionKernel::kFlash;
          a.tile_q = tq, a.tile_k = tk;
          return absl::OkStatus();
        });
  };
  return info;
}

TechniqueInfo AttentionKernelTechniqueInfo() {
  TechniqueInfo info = AttentionInfo(
      "attention_kernel",
      "Pins the attention kernel, for comparisons: naive (materializes the score matrix, the "
      "reference), rowwise (a score row per query), flash (tiles, online softmax) or auto.");
  ParamSpec kernel = MakeParam("kernel", ParamType::kEnum, "auto",
                               {"auto", "naive", "rowwise", "flash"}, "the kernel to run");
  kernel.default_value.reset();  // required
  info.params = {kernel};
  info.factory = [](const Params& p) -> absl::StatusOr<std::unique_ptr<Technique>> {
    const std::string k = p.GetString("kernel");
    AttentionKernel kernel = AttentionKernel::kAuto;
    for (AttentionKernel c :
         {AttentionKernel::kNaive, AttentionKernel::kRowwise, AttentionKernel::kFlash}) {
      if (k == AttentionKernelName(c)) kernel = c;
    }
    return std::make_unique<AttentionSettingTechnique>(
        p.ToSpec(), absl::StrCat("attention kernel ", k, "; mask and weights unchanged"),
        [kernel](AttentionSettings& a) -> absl::Status {
          a.kernel = kernel;
          return absl::OkStatus();
        });
  };
  return info;
}

}  // namespace squeeze
