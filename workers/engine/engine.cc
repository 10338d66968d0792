// Llama-family forward pass: RMSNorm → attention (RoPE, GQA, KV cache) → residual →
// RMSNorm → SwiGLU MLP → residual, then final norm and classifier.
#include "engine/engine.h"

#include <algorithm>
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
      kv_format_(model.kv_cache),
      kernel_(opts.attention_kernel != AttentionKernel::kAuto ? opts.attention_kernel
                                                              : model.attention.kernel) {
  const ModelConfig& c = model.config;
  const AttentionSettings& a = model.attention;
  const int64_t hd = c.head_dim(), half = hd / 2, b = opts.max_batch;
  for (int64_t l = 0; l < c.n_layers; ++l) shapes_.push_back(model.Shape(l));
  // A sliding window keeps sinks + window positions in a ring; the batch's own keys are read
  // from the batch rows, so the ring never needs more.
  kv_positions_ = opts.ring_cache ? KvCachePositions(a, max_context) : max_context;
  if (kv_positions_ < max_context) layout_ = KvLayout{a.sinks, a.window};
  int64_t q_dim = 0, kv_dim = 0, hidden = 0;
  for (const LayerShape& s : shapes_) {
    const int64_t rb = KvRowBytes(kv_format_, hd) * s.n_kv_heads;
    k_cache_.emplace_back(kv_positions_ * rb);
    v_cache_.emplace_back(kv_positions_ * rb);
    q_dim = std::max(q_dim, s.q_dim());
    kv_dim = std::max(kv_dim, s.kv_dim());
    hidden = std::max<int64_t>(hidden, s.hidden_dim);
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
  x_.resize(b * c.dim);
  xb_.resize(b * std::max<int64_t>(c.dim, q_dim));
  q_.resize(b * q_dim);
  k_.resize(b * kv_dim);
  v_.resize(b * kv_dim);
  att_.resize(b * q_dim);
  hb_.resize(b * hidden);
  hb2_.resize(b * hidden);
  if (kv_format_ != KvCacheFormat::kF32) {
    int64_t kv_heads = 0;
    for (const LayerShape& s : shapes_) kv_heads = std::max<int64_t>(kv_heads, s.n_kv_heads);
    kq_.resize(b * kv_heads * KvRowBytes(kv_format_, hd));
    vq_.resize(kq_.size());
  }
  // Scratch for the kernels a batch of 1 (decode) to max_batch tokens can resolve to. A query
  // sees at most the positions the cache holds plus the batch; the naive kernel's matrix
  // spans every position up to the last of the batch.
  int64_t per_thread = 0;
  for (const LayerShape& s : shapes_) {
    const AttentionShape as{s.n_heads, s.n_kv_heads, s.head_dim, s.kv_head_of.data()};
    for (int64_t n : {int64_t(1), b}) {
      for (AttentionKernel k : {ResolveAttentionKernel(kernel_, as, n, kv_format_),
                                ResolveAttentionKernel(kernel_, as, 1, kv_format_)}) {
        const int64_t context = k == AttentionKernel::kNaive
                                    ? max_context
                                    : std::min<int64_t>(max_context, kv_positions_ + n);
        per_thread = std::max(per_thread, AttentionScratchFloats(k, a, as, n, context));
      }
    }
  }
  scratch_per_thread_ = per_thread;
  scratch_.resize(per_thread * pool_.size());
}

int64_t Engine::kv_bytes_per_token() const {
  return KvBytesPerPosition(model_);
}

AttentionKernel Engine::ResolvedAttentionKernel(int64_t n) const {
  const LayerShape& s = shapes_.front();
  return ResolveAttentionKernel(
      kernel_, AttentionShape{s.n_heads, s.n_kv_heads, s.head_dim, s.kv_head_of.data()}, n,
      kv_format_);
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

KvView Engine::View(int64_t l, int64_t pos) const {
  const LayerShape& s = shapes_[l];
  const int64_t rb = KvRowBytes(kv_format_, s.head_dim);
  const bool f32 = kv_format_ == KvCacheFormat::kF32;
  KvView kv;
  kv.format = kv_format_;
  // The cache: kv head after kv head, each its kv_positions_ rows in slot order.
  kv.cache = {k_cache_[l].data(), v_cache_[l].data(), rb, kv_positions_ * rb};
  kv.layout = layout_;
  kv.batch_pos = pos;
  // The batch: token after token, each its kv heads' rows.
  kv.batch = {f32 ? reinterpret_cast<const uint8_t*>(k_.data()) : kq_.data(),
              f32 ? reinterpret_cast<const uint8_t*>(v_.data()) : vq_.data(), rb * s.n_kv_heads,
              rb};
  return kv;
}

void Engine::StoreBatch(int64_t l, int64_t pos, int64_t n) {
  const LayerShape& s = shapes_[l];
  const KvView kv = View(l, pos);
  const int64_t rb = KvRowBytes(kv_format_, s.head_dim);
  for (int64_t t = 0; t < n; ++t) {
    const int64_t p = pos + t;
    // In a ring, only the sinks and the last `ring` positions of the batch stay.
    if (layout_.ring > 0 && p >= layout_.sinks && p < pos + n - layout_.ring) continue;
    const int64_t slot = layout_.Slot(p);
    for (int64_t g = 0; g < s.n_kv_heads; ++g) {
      const int64_t at = slot * kv.cache.pos_stride + g * kv.cache.head_stride;
      std::memcpy(k_cache_[l].data() + at, kv.Keys(p, g), rb);
      std::memcpy(v_cache_[l].data() + at, kv.Values(p, g), rb);
    }
  }
}

void Engine::ForwardBatch(const int32_t* tokens, int64_t n, float* logits, bool all_logits) {
  const ModelConfig& c = model_.config;
  const int64_t dim = c.dim, hd = c.head_dim(), half = hd / 2;
  const Isa isa = opts_.isa;
  const VecKernels& vec = GetVecKernels(isa);
  const int64_t pos = pos_;

  for (int64_t t = 0; t < n; ++t) model_.embedding.RowToFloat(tokens[t], x_.data() + t * dim);

  const int64_t layers = opts_.last_layer >= 0 ? opts_.last_layer + 1 : c.n_layers;
  auto observe = [&](int64_t l, LinearSite site, const float* in, int64_t cols) {
    if (opts_.observer) opts_.observer(int(l), site, in, n, cols);
  };
  for (int64_t l = 0; l < layers; ++l) {
    const LayerWeights& w = model_.layers[l];
    const LayerShape& s = shapes_[l];
    const int64_t q_dim = s.q_dim(), kv_dim = s.kv_dim(), hidden = s.hidden_dim;
    for (int64_t t = 0; t < n; ++t)
      vec.rmsnorm(xb_.data() + t * dim, x_.data() + t * dim, w.attn_norm.data(), dim, c.norm_eps);
    observe(l, LinearSite::kQkv, xb_.data(), dim);
    const WeightTensor* qkv[] = {&w.wq, &w.wk, &w.wv};
    float* qkv_out[] = {q_.data(), k_.data(), v_.data()};
    LinearGroup(pool_, isa, qkv, xb_.data(), n, qkv_out);

    // RoPE (half-split layout) on queries and keys; a quantized cache format rounds the
    // batch's keys and values now, so that they read the same within the batch and later.
    const bool f32_cache = kv_format_ == KvCacheFormat::kF32;
    const int64_t rb = KvRowBytes(kv_format_, hd);
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
      rotate(q_.data() + t * q_dim, s.n_heads);
      rotate(k_.data() + t * kv_dim, s.n_kv_heads);
      if (!f32_cache) {
        for (int64_t h = 0; h < s.n_kv_heads; ++h) {
          const int64_t at = (t * s.n_kv_heads + h) * rb;
          QuantizeKvRow(kv_format_, k_.data() + t * kv_dim + h * hd, kq_.data() + at, hd);
          QuantizeKvRow(kv_format_, v_.data() + t * kv_dim + h * hd, vq_.data() + at, hd);
        }
      }
    }
    const KvView kv = View(l, pos);
    const AttentionShape shape{s.n_heads, s.n_kv_heads, s.head_dim, s.kv_head_of.data()};
    Attention(pool_, isa, ResolveAttentionKernel(kernel_, shape, n, kv_format_), model_.attention,
              shape, kv, q_.data(), n, att_.data(), scratch_.data(), scratch_per_thread_);
    StoreBatch(l, pos, n);
    observe(l, LinearSite::kWo, att_.data(), q_dim);
    Linear(pool_, isa, w.wo, att_.data(), n, xb_.data());
    for (int64_t i = 0; i < n * dim; ++i) x_[i] += xb_[i];

    for (int64_t t = 0; t < n; ++t)
      vec.rmsnorm(xb_.data() + t * dim, x_.data() + t * dim, w.ffn_norm.data(), dim, c.norm_eps);
    observe(l, LinearSite::kGateUp, xb_.data(), dim);
    const WeightTensor* gate_up[] = {&w.w_gate, &w.w_up};
    float* gate_up_out[] = {hb_.data(), hb2_.data()};
    LinearGroup(pool_, isa, gate_up, xb_.data(), n, gate_up_out);
    vec.swiglu(hb_.data(), hb2_.data(), n * hidden);
    observe(l, LinearSite::kDown, hb_.data(), hidden);
    Linear(pool_, isa, w.w_down, hb_.data(), n, xb_.data());
    for (int64_t i = 0; i < n * dim; ++i) x_[i] += xb_[i];
  }
  pos_ += int(n);
  if (!logits || layers < c.n_layers) return;
  const int64_t first = all_logits ? 0 : n - 1;
  for (int64_t t = first; t < n; ++t)
    vec.rmsnorm(x_.data() + t * dim, x_.data() + t * dim, model_.final_norm.data(), dim,
                c.norm_eps);
  Linear(pool_, isa, model_.classifier(), x_.data() + first * dim, n - first, logits);
}

}  // namespace squeeze
