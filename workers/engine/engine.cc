// Llama-family forward pass: RMSNorm → attention (RoPE, GQA, KV cache) → residual →
// RMSNorm → SwiGLU MLP → residual, then final norm and classifier.
#include "engine/engine.h"

#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "engine/attention.h"
#include "engine/linear.h"
#include "squeeze/kernels/ops.h"

namespace squeeze {

const char* LinearSiteName(LinearSite s) {
  switch (s) {
    case LinearSite::kQkv:
      return "qkv";
    case LinearSite::kWo:
      return "wo";
    case LinearSite::kGateUp:
      return "gate_up";
    case LinearSite::kDown:
      return "down";
  }
  return "?";
}

absl::StatusOr<std::unique_ptr<Engine>> Engine::Create(const Model& model,
                                                       const EngineOptions& opts) {
  if (absl::Status s = ValidateModel(model, model.source.empty() ? "model" : model.source); !s.ok())
    return s;
  int ctx = model.config.max_seq_len;
  if (opts.max_context > 0) ctx = opts.max_context;
  if (ctx <= 0) return absl::InvalidArgumentError("engine: max_context must be positive");
  if (opts.max_batch <= 0) return absl::InvalidArgumentError("engine: max_batch must be positive");
  if (opts.last_layer >= model.config.n_layers) {
    return absl::InvalidArgumentError(absl::StrCat(
        "engine: last_layer ", opts.last_layer, " is not below n_layers ", model.config.n_layers));
  }
  if (!IsaSupported(opts.isa)) {
    return absl::InvalidArgumentError(
        absl::StrCat("engine: instruction set ", IsaName(opts.isa), " is not supported here"));
  }
  return std::unique_ptr<Engine>(new Engine(model, opts, ctx));
}

Engine::Engine(const Model& model, const EngineOptions& opts, int max_context)
    : model_(model),
      opts_(opts),
      max_context_(max_context),
      pool_(opts.threads),
      kv_format_(model.kv_cache) {
  const ModelConfig& c = model.config;
  const int64_t kv_dim = c.kv_dim(), hd = c.head_dim(), half = hd / 2;
  if (kv_format_ == KvCacheFormat::kF32) {
    k_cache_.assign(c.n_layers, std::vector<float>(int64_t(max_context) * kv_dim));
    v_cache_.assign(c.n_layers, std::vector<float>(int64_t(max_context) * kv_dim));
  } else {
    const int64_t bytes = int64_t(max_context) * c.n_kv_heads * KvRowBytes(kv_format_, hd);
    kq_cache_.assign(c.n_layers, std::vector<uint8_t>(bytes));
    vq_cache_.assign(c.n_layers, std::vector<uint8_t>(bytes));
  }
  rope_cos_.resize(int64_t(max_context) * half);
  rope_sin_.resize(int64_t(max_context) * half);
  for (int64_t p = 0; p < max_context; ++p) {
    for (int64_t i = 0; i < half; ++i) {
      const double angle =
          double(p) * std::pow(double(c.rope_theta), -2.0 * double(i) / double(hd));
      rope_cos_[p * half + i] = float(std::cos(angle));
      rope_sin_[p * half + i] = float(std::sin(angle));
    }
  }
  const int64_t b = opts.max_batch, q_dim = int64_t(c.n_heads) * hd;
  x_.resize(b * c.dim);
  xb_.resize(b * std::max<int64_t>(c.dim, q_dim));
  q_.resize(b * q_dim);
  k_.resize(b * kv_dim);
  v_.resize(b * kv_dim);
  att_.resize(b * q_dim);
  hb_.resize(b * c.hidden_dim);
  hb2_.resize(b * c.hidden_dim);
  scores_.resize(int64_t(pool_.size()) * max_context);
}

int64_t Engine::kv_bytes_per_token() const {
  const ModelConfig& c = model_.config;
  return int64_t(c.n_layers) * 2 * c.n_kv_heads * KvRowBytes(kv_format_, c.head_dim());
}

absl::Status Engine::Forward(std::span<const int32_t> tokens, float* logits, bool all_logits) {
  const int64_t n = int64_t(tokens.size());
  if (n == 0) return absl::InvalidArgumentError("engine: no tokens to run");
  for (int64_t i = 0; i < n; ++i) {
    if (tokens[i] < 0 || tokens[i] >= model_.config.vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat("engine: token id ", tokens[i], " at index ",
                                                     i, " is outside the vocabulary [0, ",
                                                     model_.config.vocab_size, ")"));
    }
  }
  if (logits && opts_.last_layer >= 0) {
    return absl::InvalidArgumentError("engine: no logits when stopping after last_layer");
  }
  if (pos_ + n > max_context_) {
    return absl::OutOfRangeError(absl::StrCat("engine: context of ", pos_ + n,
                                              " tokens exceeds max_context ", max_context_));
  }
  const int64_t vocab = model_.config.vocab_size;
  for (int64_t b = 0; b < n; b += opts_.max_batch) {
    const int64_t m = std::min<int64_t>(opts_.max_batch, n - b);
    const bool last = b + m == n;
    float* out = nullptr;
    if (logits && all_logits) out = logits + b * vocab;
    if (logits && !all_logits && last) out = logits;
    ForwardBatch(tokens.data() + b, m, out, all_logits);
  }
  return absl::OkStatus();
}

void Engine::ForwardBatch(const int32_t* tokens, int64_t n, float* logits, bool all_logits) {
  const ModelConfig& c = model_.config;
  const int64_t dim = c.dim, hd = c.head_dim(), half = hd / 2, kv_dim = c.kv_dim();
  const int64_t q_dim = int64_t(c.n_heads) * hd, hidden = c.hidden_dim;
  const Isa isa = opts_.isa;
  const int64_t pos = pos_;

  for (int64_t t = 0; t < n; ++t) model_.embedding.RowToFloat(tokens[t], x_.data() + t * dim);

  const int64_t layers = opts_.last_layer >= 0 ? opts_.last_layer + 1 : c.n_layers;
  auto observe = [&](int64_t l, LinearSite site, const float* in, int64_t cols) {
    if (opts_.observer) opts_.observer(int(l), site, in, n, cols);
  };
  for (int64_t l = 0; l < layers; ++l) {
    const LayerWeights& w = model_.layers[l];
    for (int64_t t = 0; t < n; ++t)
      rmsnorm_ref(xb_.data() + t * dim, x_.data() + t * dim, w.attn_norm.data(), dim, c.norm_eps);
    observe(l, LinearSite::kQkv, xb_.data(), dim);
    const WeightTensor* qkv[] = {&w.wq, &w.wk, &w.wv};
    float* qkv_out[] = {q_.data(), k_.data(), v_.data()};
    LinearGroup(pool_, isa, qkv, xb_.data(), n, qkv_out);

    // RoPE (half-split layout) on queries and keys, then append keys/values to the cache.
    const bool f32_cache = kv_format_ == KvCacheFormat::kF32;
    float* kc = f32_cache ? k_cache_[l].data() : nullptr;
    float* vc = f32_cache ? v_cache_[l].data() : nullptr;
    for (int64_t t = 0; t < n; ++t) {
      const float* cs = rope_cos_.data() + (pos + t) * half;
      const float* sn = rope_sin_.data() + (pos + t) * half;
      auto rotate = [&](float* v, int64_t heads) {
        for (int64_t h = 0; h < heads; ++h) {
          float* p = v + h * hd;
          for (int64_t i = 0; i < half; ++i) {
            const float a = p[i], b = p[i + half];
            p[i] = a * cs[i] - b * sn[i];
            p[i + half] = a * sn[i] + b * cs[i];
          }
        }
      };
      rotate(q_.data() + t * q_dim, c.n_heads);
      rotate(k_.data() + t * kv_dim, c.n_kv_heads);
      if (f32_cache) {
        std::memcpy(kc + (pos + t) * kv_dim, k_.data() + t * kv_dim, kv_dim * sizeof(float));
        std::memcpy(vc + (pos + t) * kv_dim, v_.data() + t * kv_dim, kv_dim * sizeof(float));
      } else {
        const int64_t rb = KvRowBytes(kv_format_, hd);
        for (int64_t h = 0; h < c.n_kv_heads; ++h) {
          const int64_t at = ((pos + t) * c.n_kv_heads + h) * rb;
          QuantizeKvRow(kv_format_, k_.data() + t * kv_dim + h * hd, kq_cache_[l].data() + at, hd);
          QuantizeKvRow(kv_format_, v_.data() + t * kv_dim + h * hd, vq_cache_[l].data() + at, hd);
        }
      }
    }
    const AttentionShape shape{c.n_heads, c.n_kv_heads, int32_t(hd)};
    if (f32_cache) {
      CausalAttention(pool_, isa, shape, q_.data(), kc, vc, pos, n, att_.data(), scores_.data());
    } else {
      CausalAttentionQuantized(pool_, shape, kv_format_, q_.data(), kq_cache_[l].data(),
                               vq_cache_[l].data(), pos, n, att_.data(), scores_.data());
    }
    observe(l, LinearSite::kWo, att_.data(), q_dim);
    Linear(pool_, isa, w.wo, att_.data(), n, xb_.data());
    for (int64_t i = 0; i < n * dim; ++i) x_[i] += xb_[i];

    for (int64_t t = 0; t < n; ++t)
      rmsnorm_ref(xb_.data() + t * dim, x_.data() + t * dim, w.ffn_norm.data(), dim, c.norm_eps);
    observe(l, LinearSite::kGateUp, xb_.data(), dim);
    const WeightTensor* gate_up[] = {&w.w_gate, &w.w_up};
    float* gate_up_out[] = {hb_.data(), hb2_.data()};
    LinearGroup(pool_, isa, gate_up, xb_.data(), n, gate_up_out);
    swiglu_ref(hb_.data(), hb2_.data(), n * hidden);
    observe(l, LinearSite::kDown, hb_.data(), hidden);
    Linear(pool_, isa, w.w_down, hb_.data(), n, xb_.data());
    for (int64_t i = 0; i < n * dim; ++i) x_[i] += xb_[i];
  }
  pos_ += int(n);
  if (!logits || layers < c.n_layers) return;
  const int64_t first = all_logits ? 0 : n - 1;
  for (int64_t t = first; t < n; ++t)
    rmsnorm_ref(x_.data() + t * dim, x_.data() + t * dim, model_.final_norm.data(), dim,
                c.norm_eps);
  Linear(pool_, isa, model_.classifier(), x_.data() + first * dim, n - first, logits);
}

}  // namespace squeeze
