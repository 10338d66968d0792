// Model tensor listing and shape validation.
#include "model/model.h"

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
  const int64_t q_dim = int64_t(c.n_heads) * c.head_dim(), kv_dim = c.kv_dim();
  for (const auto& [name, t] : m.Matrices()) {
    int64_t rows = 0, cols = 0;
    if (name.ends_with("embed_tokens.weight") || name == "lm_head.weight") {
      rows = c.vocab_size, cols = c.dim;
    } else if (name.ends_with("q_proj.weight")) {
      rows = q_dim, cols = c.dim;
    } else if (name.ends_with("k_proj.weight") || name.ends_with("v_proj.weight")) {
      rows = kv_dim, cols = c.dim;
    } else if (name.ends_with("o_proj.weight")) {
      rows = c.dim, cols = q_dim;
    } else if (name.ends_with("gate_proj.weight") || name.ends_with("up_proj.weight")) {
      rows = c.hidden_dim, cols = c.dim;
    } else if (name.ends_with("down_proj.weight")) {
      rows = c.dim, cols = c.hidden_dim;
    }
    if (absl::Status s = CheckMatrix(*t, name, rows, cols, origin); !s.ok()) return s;
  }
  for (size_t i = 0; i < m.layers.size(); ++i) {
    const std::string p = absl::StrCat("model.layers.", i, ".");
    if (auto s = CheckVector(m.layers[i].attn_norm, p + "input_layernorm.weight", c.dim, origin);
        !s.ok())
      return s;
    if (auto s =
            CheckVector(m.layers[i].ffn_norm, p + "post_attention_layernorm.weight", c.dim, origin);
        !s.ok())
      return s;
  }
  return CheckVector(m.final_norm, "model.norm.weight", c.dim, origin);
}

}  // namespace squeeze
