// Deterministic random models for tests and speed work: splitmix64 + Box-Muller normals (our
// own, so the weights are identical on every standard library), std 1/sqrt(fan_in).
#include <cmath>

#include "absl/strings/str_cat.h"
#include "model/loader.h"
#include "util/hash.h"
#include "util/rng.h"

namespace squeeze {
namespace {

WeightTensor RandomMatrix(Rng& rng, WeightFormat format, int64_t rows, int64_t cols, double std) {
  std::vector<float> v(rows * cols);
  for (float& x : v) x = float(rng.Normal() * std);
  return WeightTensor::FromFloat(format, rows, cols, v.data());
}

}  // namespace

Model MakeRandomModel(const RandomModelOptions& opts) {
  const ModelConfig& c = opts.config;
  Rng rng(opts.seed);
  Model m;
  m.config = c;
  const int64_t q_dim = int64_t(c.n_heads) * c.head_dim(), kv_dim = c.kv_dim();
  const double s_dim = 1.0 / std::sqrt(double(c.dim));
  m.embedding = RandomMatrix(rng, opts.format, c.vocab_size, c.dim, 1.0);
  m.layers.resize(c.n_layers);
  for (LayerWeights& l : m.layers) {
    l.attn_norm.assign(c.dim, 1.0f);
    l.wq = RandomMatrix(rng, opts.format, q_dim, c.dim, s_dim);
    l.wk = RandomMatrix(rng, opts.format, kv_dim, c.dim, s_dim);
    l.wv = RandomMatrix(rng, opts.format, kv_dim, c.dim, s_dim);
    l.wo = RandomMatrix(rng, opts.format, c.dim, q_dim, 1.0 / std::sqrt(double(q_dim)));
    l.ffn_norm.assign(c.dim, 1.0f);
    l.w_gate = RandomMatrix(rng, opts.format, c.hidden_dim, c.dim, s_dim);
    l.w_up = RandomMatrix(rng, opts.format, c.hidden_dim, c.dim, s_dim);
    l.w_down =
        RandomMatrix(rng, opts.format, c.dim, c.hidden_dim, 1.0 / std::sqrt(double(c.hidden_dim)));
  }
  m.final_norm.assign(c.dim, 1.0f);
  if (!c.tied_embeddings) m.lm_head = RandomMatrix(rng, opts.format, c.vocab_size, c.dim, s_dim);

  m.source = absl::StrCat("random:seed=", opts.seed);
  Hasher h;
  h.Field("random-model-v1");
  h.Field(HfConfigJson(c));
  h.Field(GetFormatTraits(opts.format).name);
  h.Field(absl::StrCat(opts.seed));
  m.content_hash = h.Hex();
  return m;
}

}  // namespace squeeze
