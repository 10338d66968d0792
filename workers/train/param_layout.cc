// The flat parameter layout and its conversions to and from engine models.
#include "train/param_layout.h"

#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "util/rng.h"

namespace squeeze {
namespace {

int Add(ParamLayout& l, std::string name, int64_t rows, int64_t cols, bool matrix) {
  ParamTensor t;
  t.name = std::move(name);
  t.offset = l.total;
  t.rows = rows;
  t.cols = cols;
  t.matrix = matrix;
  l.total += rows * cols;
  l.tensors.push_back(std::move(t));
  return int(l.tensors.size() - 1);
}

void Fill(Rng& rng, float* v, int64_t n, double std) {
  for (int64_t i = 0; i < n; ++i) v[i] = float(rng.Normal() * std);
}

}  // namespace

ParamLayout ParamLayout::For(const ModelConfig& c) {
  ParamLayout l;
  l.config = c;
  const int64_t q_dim = int64_t(c.n_heads) * c.head_dim(), kv = c.kv_dim();
  l.embedding = Add(l, "model.embed_tokens.weight", c.vocab_size, c.dim, true);
  for (int i = 0; i < c.n_layers; ++i) {
    const std::string p = absl::StrCat("model.layers.", i, ".");
    LayerParams lp;
    lp.attn_norm = Add(l, p + "input_layernorm.weight", 1, c.dim, false);
    lp.wq = Add(l, p + "self_attn.q_proj.weight", q_dim, c.dim, true);
    lp.wk = Add(l, p + "self_attn.k_proj.weight", kv, c.dim, true);
    lp.wv = Add(l, p + "self_attn.v_proj.weight", kv, c.dim, true);
    lp.wo = Add(l, p + "self_attn.o_proj.weight", c.dim, q_dim, true);
    lp.ffn_norm = Add(l, p + "post_attention_layernorm.weight", 1, c.dim, false);
    lp.w_gate = Add(l, p + "mlp.gate_proj.weight", c.hidden_dim, c.dim, true);
    lp.w_up = Add(l, p + "mlp.up_proj.weight", c.hidden_dim, c.dim, true);
    lp.w_down = Add(l, p + "mlp.down_proj.weight", c.dim, c.hidden_dim, true);
    l.layers.push_back(lp);
  }
  l.final_norm = Add(l, "model.norm.weight", 1, c.dim, false);
  if (!c.tied_embeddings) l.lm_head = Add(l, "lm_head.weight", c.vocab_size, c.dim, true);
  return l;
}

int64_t ParamLayout::AddLora(int rank, float alpha) {
  const int64_t first = total;
  for (ParamTensor& t : tensors) t.trainable = false;
  for (size_t li = 0; li < layers.size(); ++li) {
    LayerParams& lp = layers[li];
    const std::vector<int> ms = LayerMatrices(lp);
    for (size_t k = 0; k < ms.size(); ++k) {
      const ParamTensor w = tensors[size_t(ms[k])];
      const std::string base = w.name.substr(0, w.name.size() - std::string(".weight").size());
      lp.lora[k].a = Add(*this, base + ".lora_A.weight", rank, w.cols, true);
      lp.lora[k].b = Add(*this, base + ".lora_B.weight", w.rows, rank, true);
      lp.lora[k].scale = alpha / float(rank);
    }
  }
  return first;
}

void InitParams(const ParamLayout& l, uint64_t seed, float* values) {
  Rng rng(seed);
  const double resid = 0.02 / std::sqrt(2.0 * std::max(1, l.config.n_layers));
  for (size_t i = 0; i < l.tensors.size(); ++i) {
    const ParamTensor& t = l.tensors[i];
    float* v = values + t.offset;
    if (!t.matrix) {
      std::fill(v, v + t.size(), 1.0f);
      continue;
    }
    const bool residual = t.name.ends_with("o_proj.weight") || t.name.ends_with("down_proj.weight");
    Fill(rng, v, t.size(), residual ? resid : 0.02);
  }
}

void InitLora(const ParamLayout& l, uint64_t seed, float* values) {
  Rng rng(seed);
  for (const LayerParams& lp : l.layers) {
    for (const LoraAdapter& a : lp.lora) {
      if (a.a < 0) continue;
      const ParamTensor &ta = l.at(a.a), &tb = l.at(a.b);
      Fill(rng, values + ta.offset, ta.size(), 1.0 / std::sqrt(double(ta.cols)));
      std::fill(values + tb.offset, values + tb.offset + tb.size(), 0.0f);
    }
  }
}

namespace {

// Calls f(tensor index, weight tensor or null, norm vector or null) for every base tensor.
template <class M, class F>
void ForEachBase(M& model, const ParamLayout& l, F f) {
  f(l.embedding, &model.embedding, nullptr);
  for (size_t i = 0; i < l.layers.size(); ++i) {
    auto& w = model.layers[i];
    const LayerParams& lp = l.layers[i];
    f(lp.attn_norm, nullptr, &w.attn_norm);
    f(lp.wq, &w.wq, nullptr);
    f(lp.wk, &w.wk, nullptr);
    f(lp.wv, &w.wv, nullptr);
    f(lp.wo, &w.wo, nullptr);
    f(lp.ffn_norm, nullptr, &w.ffn_norm);
    f(lp.w_gate, &w.w_gate, nullptr);
    f(lp.w_up, &w.w_up, nullptr);
    f(lp.w_down, &w.w_down, nullptr);
  }
  f(l.final_norm, nullptr, &model.final_norm);
  if (l.lm_head >= 0) f(l.lm_head, &*model.lm_head, nullptr);
}

}  // namespace

void ParamsFromModel(const Model& model, const ParamLayout& l, float* values) {
  ForEachBase(model, l, [&](int idx, const WeightTensor* w, const std::vector<float>* v) {
    float* out = values + l.at(idx).offset;
    if (w) {
      for (int64_t r = 0; r < w->rows(); ++r) w->RowToFloat(r, out + r * w->cols());
    } else {
      std::memcpy(out, v->data(), v->size() * sizeof(float));
    }
  });
}

Model ModelFromParams(const ParamLayout& l, const float* values) {
  Model m;
  m.config = l.config;
  m.layers.resize(l.layers.size());
  if (l.lm_head >= 0) m.lm_head.emplace();
  ForEachBase(m, l, [&](int idx, WeightTensor* w, std::vector<float>* v) {
    const ParamTensor& t = l.at(idx);
    const float* in = values + t.offset;
    if (w) {
      *w = WeightTensor::FromFloat(WeightFormat::kF32, t.rows, t.cols, in);
    } else {
      v->assign(in, in + t.size());
    }
  });
  return m;
}

}  // namespace squeeze
