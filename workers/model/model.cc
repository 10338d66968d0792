// Model tensor listing and shape validation.
#include "model/model.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace squeeze {
namespace {

template <typename M, typename T>
std::vector<std::pair<std::string, T*>> ListMatrices(M& m) {
  std::vector<std::pair<std::string, T*>> out;
  out.emplace_back("model.embed_tokens.weight", &m.embedding);
  for (size_t i = 0; i < m.layers.size(); ++i) {
    auto& l = m.layers[i];
    const std::string p = absl::StrCat("model.layers.", i, ".");
    out.emplace_back(p + "self_attn.q_proj.weight", &l.wq);
    out.emplace_back(p + "self_attn.k_proj.weight", &l.wk);
    out.emplace_back(p + "self_attn.v_proj.weight", &l.wv);
    out.emplace_back(p + "self_attn.o_proj.weight", &l.wo);
    out.emplace_back(p + "mlp.gate_proj.weight", &l.w_gate);
    out.emplace_back(p + "mlp.up_proj.weight", &l.w_up);
    out.emplace_back(p + "mlp.down_proj.weight", &l.w_down);
  }
  if (m.lm_head) out.emplace_back("lm_head.weight", &*m.lm_head);
  return out;
}

absl::Status CheckMatrix(const WeightTensor& t, const std::string& name, int64_t rows, int64_t cols,
                         const std::string& origin) {
  if (t.empty()) return absl::InvalidArgumentError(absl::StrCat(origin, ": missing tensor ", name));
  if (t.rows() != rows || t.cols() != cols) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": tensor ", name, " has shape [",
                                                   t.rows(), ", ", t.cols(), "], expected [", rows,
                                                   ", ", cols, "] from the config"));
  }
  return absl::OkStatus();
}

absl::Status CheckVector(const std::vector<float>& v, const std::string& name, int64_t n,
                         const std::string& origin) {
  if (int64_t(v.size()) != n) {
    return absl::InvalidArgumentError(
        absl::StrCat(origin, ": tensor ", name, " has ", v.size(), " values, expected ", n));
  }
  return absl::OkStatus();
}

}  // namespace

const char* KvCacheFormatName(KvCacheFormat f) {
  switch (f) {
    case KvCacheFormat::kF32:
      return "f32";
    case KvCacheFormat::kInt8:
      return "int8";
    case KvCacheFormat::kFp8E4M3:
      return "fp8_e4m3";
  }
  return "?";
}

const char* AttentionKernelName(AttentionKernel k) {
  switch (k) {
    case AttentionKernel::kAuto:
      return "auto";
    case AttentionKernel::kNaive:
      return "naive";
    case AttentionKernel::kRowwise:
      return "rowwise";
    case AttentionKernel::kFlash:
      return "flash";
  }
  return "?";
}

std::string AttentionSummary(const AttentionSettings& a) {
  std::string mask = "full causal";
  if (a.window > 0) {
    mask = absl::StrCat("window ", a.window);
    if (a.sinks > 0) absl::StrAppend(&mask, " + ", a.sinks, " sinks");
  } else if (a.block > 0) {
    mask = absl::StrCat("block-sparse (blocks of ", a.block, ", ", a.local_blocks, " local, every ",
                        a.global_stride, "th global)");
  }
  std::string kernel = AttentionKernelName(a.kernel);
  if (a.tile_q > 0 || a.tile_k > 0)
    absl::StrAppend(&kernel, " (tiles ", a.tile_q, "x", a.tile_k, ")");
  return absl::StrCat(mask, ", kernel ", kernel);
}

bool LayerShape::one_kv_head_per_query_head() const {
  if (n_heads != n_kv_heads) return false;
  for (int32_t h = 0; h < n_heads; ++h) {
    if (kv_head_of[h] != h) return false;
  }
  return true;
}

LayerShape Model::Shape(int64_t l) const {
  const LayerWeights& w = layers[l];
  LayerShape s;
  s.n_heads = w.n_heads > 0 ? w.n_heads : config.n_heads;
  s.n_kv_heads = w.n_kv_heads > 0 ? w.n_kv_heads : config.n_kv_heads;
  s.head_dim = config.head_dim();
  s.hidden_dim = w.hidden_dim > 0 ? w.hidden_dim : config.hidden_dim;
  if (!w.kv_head_of.empty()) {
    s.kv_head_of = w.kv_head_of;
  } else {
    const int32_t group = s.n_kv_heads > 0 ? std::max(1, s.n_heads / s.n_kv_heads) : 1;
    for (int32_t h = 0; h < s.n_heads; ++h) s.kv_head_of.push_back(h / group);
  }
  return s;
}

std::string LayerShapesSummary(const Model& m) {
  if (!m.has_layer_shapes()) return "";
  std::string out;
  for (size_t l = 0; l < m.layers.size(); ++l) {
    const LayerShape s = m.Shape(int64_t(l));
    absl::StrAppend(&out, l ? ", " : "", "L", l, " ", s.n_heads, "/", s.n_kv_heads, " ",
                    s.hidden_dim);
  }
  return out;
}

bool Model::has_layer_shapes() const {
  for (const LayerWeights& w : layers) {
    if (w.n_heads > 0 || w.n_kv_heads > 0 || w.hidden_dim > 0 || !w.kv_head_of.empty()) return true;
  }
  return false;
}

namespace {

// True when `map` is the grouping h / (n_heads / n_kv_heads).
bool StandardMap(const std::vector<int32_t>& map, int32_t n_heads, int32_t n_kv_heads) {
  if (n_kv_heads <= 0 || n_heads % n_kv_heads != 0) return false;
  for (int32_t h = 0; h < n_heads; ++h) {
    if (map[h] != h / (n_heads / n_kv_heads)) return false;
  }
  return true;
}

}  // namespace

void NormalizeLayerShapes(Model& m) {
  if (m.layers.empty()) return;
  ModelConfig& c = m.config;
  std::vector<LayerShape> shapes;
  for (size_t l = 0; l < m.layers.size(); ++l) shapes.push_back(m.Shape(int64_t(l)));
  bool same_hidden = true, same_heads = true;
  for (const LayerShape& s : shapes) {
    same_hidden &= s.hidden_dim == shapes[0].hidden_dim;
    same_heads &= s.n_heads == c.n_heads && s.n_kv_heads == shapes[0].n_kv_heads &&
                  StandardMap(s.kv_head_of, s.n_heads, s.n_kv_heads);
  }
  if (same_hidden) c.hidden_dim = shapes[0].hidden_dim;
  if (same_heads) c.n_kv_heads = shapes[0].n_kv_heads;
  for (size_t l = 0; l < m.layers.size(); ++l) {
    const LayerShape& s = shapes[l];
    LayerWeights& w = m.layers[l];
    w.hidden_dim = s.hidden_dim == c.hidden_dim ? 0 : s.hidden_dim;
    w.n_heads = s.n_heads == c.n_heads ? 0 : s.n_heads;
    w.n_kv_heads = s.n_kv_heads == c.n_kv_heads ? 0 : s.n_kv_heads;
    w.kv_head_of =
        StandardMap(s.kv_head_of, s.n_heads, s.n_kv_heads) ? std::vector<int32_t>{} : s.kv_head_of;
  }
}

std::vector<std::pair<std::string, const WeightTensor*>> Model::Matrices() const {
  return ListMatrices<const Model, const WeightTensor>(*this);
}

std::vector<std::pair<std::string, WeightTensor*>> Model::MutableMatrices() {
  return ListMatrices<Model, WeightTensor>(*this);
}

absl::Status ValidateModel(const Model& m, const std::string& origin) {
  const ModelConfig& c = m.config;
  if (int64_t(m.layers.size()) != c.n_layers) {
    return absl::InvalidArgumentError(
        absl::StrCat(origin, ": ", m.layers.size(), " layers, config says ", c.n_layers));
  }
  if (absl::Status s =
          CheckMatrix(m.embedding, "model.embed_tokens.weight", c.vocab_size, c.dim, origin);
      !s.ok())
    return s;
  if (m.lm_head) {
    if (auto s = CheckMatrix(*m.lm_head, "lm_head.weight", c.vocab_size, c.dim, origin); !s.ok())
      return s;
  }
  for (size_t i = 0; i < m.layers.size(); ++i) {
    const LayerWeights& w = m.layers[i];
    const std::string p = absl::StrCat("model.layers.", i, ".");
    if (w.n_heads < 0 || w.n_kv_heads < 0 || w.hidden_dim < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(origin, ": layer ", i, ": negative head count or hidden size"));
    }
    const LayerShape s = m.Shape(int64_t(i));
    if (s.n_heads <= 0 || s.n_kv_heads <= 0 || s.hidden_dim <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(origin, ": layer ", i, " has ", s.n_heads, " heads, ", s.n_kv_heads,
                       " kv heads and hidden size ", s.hidden_dim, " (each must be at least 1)"));
    }
    if (w.kv_head_of.empty() && s.n_heads % s.n_kv_heads != 0) {
      return absl::InvalidArgumentError(absl::StrCat(origin, ": layer ", i, ": ", s.n_heads,
                                                     " heads are not a multiple of ", s.n_kv_heads,
                                                     " kv heads, and no kv head map is given"));
    }
    if (int64_t(s.kv_head_of.size()) != s.n_heads) {
      return absl::InvalidArgumentError(absl::StrCat(origin, ": layer ", i, ": kv head map has ",
                                                     s.kv_head_of.size(), " entries for ",
                                                     s.n_heads, " heads"));
    }
    for (int32_t h = 0; h < s.n_heads; ++h) {
      if (s.kv_head_of[h] < 0 || s.kv_head_of[h] >= s.n_kv_heads) {
        return absl::InvalidArgumentError(absl::StrCat(origin, ": layer ", i, ": head ", h,
                                                       " maps to kv head ", s.kv_head_of[h],
                                                       ", outside [0, ", s.n_kv_heads, ")"));
      }
    }
    const int64_t q_dim = s.q_dim(), kv_dim = s.kv_dim(), dim = c.dim, hidden = s.hidden_dim;
    const struct {
      const WeightTensor* t;
      const char* name;
      int64_t rows, cols;
    } mats[] = {{&w.wq, "self_attn.q_proj.weight", q_dim, dim},
                {&w.wk, "self_attn.k_proj.weight", kv_dim, dim},
                {&w.wv, "self_attn.v_proj.weight", kv_dim, dim},
                {&w.wo, "self_attn.o_proj.weight", dim, q_dim},
                {&w.w_gate, "mlp.gate_proj.weight", hidden, dim},
                {&w.w_up, "mlp.up_proj.weight", hidden, dim},
                {&w.w_down, "mlp.down_proj.weight", dim, hidden}};
    for (const auto& mt : mats) {
      if (auto st = CheckMatrix(*mt.t, p + mt.name, mt.rows, mt.cols, origin); !st.ok()) return st;
    }
    if (auto st = CheckVector(w.attn_norm, p + "input_layernorm.weight", c.dim, origin); !st.ok())
      return st;
    if (auto st = CheckVector(w.ffn_norm, p + "post_attention_layernorm.weight", c.dim, origin);
        !st.ok())
      return st;
  }
  const AttentionSettings& a = m.attention;
  if (a.window < 0 || a.sinks < 0 || a.block < 0 || a.local_blocks < 0 || a.global_stride < 0 ||
      a.tile_q < 0 || a.tile_k < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        origin, ": attention settings must not be negative (", AttentionSummary(a), ")"));
  }
  if (a.sinks > 0 && a.window == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(origin, ": attention sinks need a window (sinks ", a.sinks, ")"));
  }
  if (a.window > 0 && a.block > 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(origin, ": attention window and block-sparse layout are exclusive"));
  }
  if (a.block > 0 && (a.local_blocks < 1 || a.global_stride < 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        origin, ": block-sparse attention needs local_blocks >= 1 and global_stride >= 1"));
  }
  return CheckVector(m.final_norm, "model.norm.weight", c.dim, origin);
}

}  // namespace squeeze
