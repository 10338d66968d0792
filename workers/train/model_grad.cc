// Training forward and backward of the whole model (see model_grad.h). Per layer:
//   xn1 = rmsnorm(x_in) ; qkv = xn1 · [Wq;Wk;Wv]ᵀ ; rope(q, k) ; att = attention(qkv)
//   x_mid = x_in + att · Woᵀ ; xn2 = rmsnorm(x_mid) ; gu = xn2 · [Wg;Wu]ᵀ
//   h = silu(g) * u ; x_out = x_mid + h · Wdᵀ
// then logits = rmsnorm(x_final) · Wclsᵀ. The backward walks the same steps in reverse.
#include "train/model_grad.h"

#include <algorithm>
#include <cstring>

namespace squeeze {

template <class Real>
ModelGrad<Real>::ModelGrad(const ParamLayout& layout, const TrainOps& ops)
    : layout_(layout), ops_(ops) {
  const ModelConfig& c = layout.config;
  rope_ = MakeRopeTable<Real>(c.max_seq_len, c.head_dim(), c.rope_theta);
  acts_.resize(layout.layers.size());
}

template <class Real>
void ModelGrad<Real>::Resize(int64_t n) {
  if (n == n_) return;
  n_ = n;
  const ModelConfig& c = layout_.config;
  const int64_t d = c.dim, hid = c.hidden_dim, q = int64_t(c.n_heads) * c.head_dim();
  const int64_t qkv = q + 2 * int64_t(c.kv_dim());
  for (LayerActs& a : acts_) {
    a.x_in.resize(n * d), a.rms1.resize(n), a.xn1.resize(n * d), a.qkv.resize(n * qkv);
    a.lse.resize(n * c.n_heads), a.att.resize(n * q), a.x_mid.resize(n * d), a.rms2.resize(n);
    a.xn2.resize(n * d), a.gu.resize(n * 2 * hid), a.h.resize(n * hid);
  }
  x_fin_.resize(n * d), rmsf_.resize(n), xnf_.resize(n * d);
  logits_.resize(n * c.vocab_size);
  dx_.resize(n * d), dxn_.resize(n * std::max(d, q)), dqkv_.resize(n * qkv), datt_.resize(n * q);
  dgu_.resize(n * 2 * hid), dh_.resize(n * hid);
  tmp_.resize(n * std::max({d, q, 2 * hid, qkv}));
}

template <class Real>
const Real* ModelGrad<Real>::Weights(int tensor, const Real* params) const {
  const ParamTensor& t = layout_.at(tensor);
  const bool layer_matrix = transform_ && t.matrix && tensor != layout_.embedding &&
                            tensor != layout_.lm_head && !t.name.ends_with("lora_A.weight") &&
                            !t.name.ends_with("lora_B.weight");
  return (layer_matrix ? weff_.data() : params) + t.offset;
}

template <class Real>
void ModelGrad<Real>::LinearForward(const LayerParams& lp, Stack s, const Real* params,
                                    const Real* x, Real* y, LayerActs& a) {
  const ParamTensor& t0 = layout_.at(s.first);
  int64_t rows = 0;
  for (int k = 0; k < s.count; ++k) rows += layout_.at(s.first + k).rows;
  MatMulNT(ops_, x, Weights(s.first, params), y, n_, rows, t0.cols);
  int64_t off = 0;
  for (int k = 0; k < s.count; off += layout_.at(s.first + k).rows, ++k) {
    const LoraAdapter& ad = lp.lora[s.lora_slot + k];
    if (ad.a < 0) continue;
    const ParamTensor &ta = layout_.at(ad.a), &tb = layout_.at(ad.b);
    std::vector<Real>& t = a.lora_t[s.lora_slot + k];
    t.resize(n_ * ta.rows);
    MatMulNT(ops_, x, params + ta.offset, t.data(), n_, ta.rows, ta.cols);
    std::vector<Real> out(n_ * tb.rows);
    MatMulNT(ops_, t.data(), params + tb.offset, out.data(), n_, tb.rows, ta.rows);
    for (int64_t i = 0; i < n_; ++i)
      for (int64_t r = 0; r < tb.rows; ++r)
        y[i * rows + off + r] += Real(ad.scale) * out[i * tb.rows + r];
  }
}

template <class Real>
void ModelGrad<Real>::LinearBackward(const LayerParams& lp, Stack s, const Real* params,
                                     const Real* x, const Real* dy, Real* dx, Real* grads,
                                     const LayerActs& a) {
  const ParamTensor& t0 = layout_.at(s.first);
  int64_t rows = 0;
  for (int k = 0; k < s.count; ++k) rows += layout_.at(s.first + k).rows;
  MatMulNN(ops_, dy, Weights(s.first, params), dx, n_, rows, t0.cols);
  if (t0.trainable) MatMulTN(ops_, dy, x, grads + t0.offset, n_, rows, t0.cols, true);
  int64_t off = 0;
  for (int k = 0; k < s.count; off += layout_.at(s.first + k).rows, ++k) {
    const LoraAdapter& ad = lp.lora[s.lora_slot + k];
    if (ad.a < 0) continue;
    const ParamTensor &ta = layout_.at(ad.a), &tb = layout_.at(ad.b);
    const int64_t r = ta.rows, m = tb.rows;
    const Real sc = Real(ad.scale);
    const std::vector<Real>& t = a.lora_t[s.lora_slot + k];
    std::vector<Real> dys(n_ * m), db(m * r), dt(n_ * r);
    for (int64_t i = 0; i < n_; ++i)
      for (int64_t j = 0; j < m; ++j) dys[i * m + j] = dy[i * rows + off + j];
    // y += sc * t Bᵀ: dB += sc dysᵀ t, dt = sc dys B; t = x Aᵀ: dA += dtᵀ x, dx += dt A.
    MatMulTN(ops_, dys.data(), t.data(), db.data(), n_, m, r);
    for (int64_t i = 0; i < m * r; ++i) grads[tb.offset + i] += sc * db[i];
    MatMulNN(ops_, dys.data(), params + tb.offset, dt.data(), n_, m, r);
    for (Real& v : dt) v *= sc;
    MatMulTN(ops_, dt.data(), x, grads + ta.offset, n_, r, ta.cols, true);
    MatMulNN(ops_, dt.data(), params + ta.offset, dx, n_, r, ta.cols, true);
  }
}

template <class Real>
const Real* ModelGrad<Real>::Forward(const Real* params, const int32_t* tokens, int64_t B,
                                     int64_t T) {
  const ModelConfig& c = layout_.config;
  B_ = B, T_ = T;
  Resize(B * T);
  tokens_.assign(tokens, tokens + n_);
  const int64_t d = c.dim, hd = c.head_dim(), q = int64_t(c.n_heads) * hd, kv = c.kv_dim();
  const int64_t qkv = q + 2 * kv;
  if (transform_) {
    weff_.resize(size_t(layout_.total));
    for (const LayerParams& lp : layout_.layers) {
      for (int idx : ParamLayout::LayerMatrices(lp)) {
        const ParamTensor& t = layout_.at(idx);
        transform_(params + t.offset, weff_.data() + t.offset, t.rows, t.cols);
      }
    }
  }
  EmbeddingForward(params + layout_.at(layout_.embedding).offset, tokens,
                   acts_.empty() ? x_fin_.data() : acts_[0].x_in.data(), n_, d);
  const AttentionDims dims{B, T, c.n_heads, c.n_kv_heads, hd};
  for (size_t l = 0; l < layout_.layers.size(); ++l) {
    const LayerParams& lp = layout_.layers[l];
    LayerActs& a = acts_[l];
    RmsNormForward(ops_, a.x_in.data(), params + layout_.at(lp.attn_norm).offset, a.xn1.data(),
                   a.rms1.data(), n_, d, c.norm_eps);
    LinearForward(lp, {lp.wq, 3, 0}, params, a.xn1.data(), a.qkv.data(), a);
    RopeApply(ops_, rope_, a.qkv.data(), n_, T, qkv, 0, c.n_heads, hd, false);
    RopeApply(ops_, rope_, a.qkv.data(), n_, T, qkv, q, c.n_kv_heads, hd, false);
    AttentionForward(ops_, dims, a.qkv.data(), a.att.data(), a.lse.data());
    LinearForward(lp, {lp.wo, 1, 3}, params, a.att.data(), tmp_.data(), a);
    for (int64_t i = 0; i < n_ * d; ++i) a.x_mid[i] = a.x_in[i] + tmp_[i];
    RmsNormForward(ops_, a.x_mid.data(), params + layout_.at(lp.ffn_norm).offset, a.xn2.data(),
                   a.rms2.data(), n_, d, c.norm_eps);
    LinearForward(lp, {lp.w_gate, 2, 4}, params, a.xn2.data(), a.gu.data(), a);
    SwiGluForward(ops_, a.gu.data(), a.h.data(), n_, int64_t(c.hidden_dim));
    LinearForward(lp, {lp.w_down, 1, 6}, params, a.h.data(), tmp_.data(), a);
    Real* next = l + 1 < acts_.size() ? acts_[l + 1].x_in.data() : x_fin_.data();
    for (int64_t i = 0; i < n_ * d; ++i) next[i] = a.x_mid[i] + tmp_[i];
  }
  RmsNormForward(ops_, x_fin_.data(), params + layout_.at(layout_.final_norm).offset, xnf_.data(),
                 rmsf_.data(), n_, d, c.norm_eps);
  MatMulNT(ops_, xnf_.data(), params + layout_.at(layout_.classifier()).offset, logits_.data(), n_,
           c.vocab_size, d);
  return logits_.data();
}

template <class Real>
void ModelGrad<Real>::Backward(const Real* params, const Real* dlogits, Real* grads) {
  const ModelConfig& c = layout_.config;
  const int64_t d = c.dim, hd = c.head_dim(), q = int64_t(c.n_heads) * hd, kv = c.kv_dim();
  const int64_t qkv = q + 2 * kv, hid = c.hidden_dim;
  const ParamTensor& cls = layout_.at(layout_.classifier());
  MatMulNN(ops_, dlogits, params + cls.offset, dxn_.data(), n_, c.vocab_size, d);
  if (cls.trainable)
    MatMulTN(ops_, dlogits, xnf_.data(), grads + cls.offset, n_, c.vocab_size, d, true);
  std::fill(dx_.begin(), dx_.end(), Real(0));
  const ParamTensor& fn = layout_.at(layout_.final_norm);
  RmsNormBackward(ops_, dxn_.data(), x_fin_.data(), params + fn.offset, rmsf_.data(), dx_.data(),
                  grads + fn.offset, n_, d);
  const AttentionDims dims{B_, T_, c.n_heads, c.n_kv_heads, hd};
  for (size_t l = acts_.size(); l-- > 0;) {
    const LayerParams& lp = layout_.layers[l];
    const LayerActs& a = acts_[l];
    // dx: gradient of the layer's output, which is x_mid + down(h).
    LinearBackward(lp, {lp.w_down, 1, 6}, params, a.h.data(), dx_.data(), dh_.data(), grads, a);
    SwiGluBackward(ops_, a.gu.data(), dh_.data(), dgu_.data(), n_, hid);
    LinearBackward(lp, {lp.w_gate, 2, 4}, params, a.xn2.data(), dgu_.data(), dxn_.data(), grads, a);
    const ParamTensor& g2 = layout_.at(lp.ffn_norm);
    RmsNormBackward(ops_, dxn_.data(), a.x_mid.data(), params + g2.offset, a.rms2.data(),
                    dx_.data(), grads + g2.offset, n_, d);
    // dx: gradient of x_mid = x_in + o(att).
    LinearBackward(lp, {lp.wo, 1, 3}, params, a.att.data(), dx_.data(), datt_.data(), grads, a);
    AttentionBackward(ops_, dims, a.qkv.data(), a.att.data(), a.lse.data(), datt_.data(),
                      dqkv_.data());
    RopeApply(ops_, rope_, dqkv_.data(), n_, T_, qkv, 0, c.n_heads, hd, true);
    RopeApply(ops_, rope_, dqkv_.data(), n_, T_, qkv, q, c.n_kv_heads, hd, true);
    LinearBackward(lp, {lp.wq, 3, 0}, params, a.xn1.data(), dqkv_.data(), dxn_.data(), grads, a);
    const ParamTensor& g1 = layout_.at(lp.attn_norm);
    RmsNormBackward(ops_, dxn_.data(), a.x_in.data(), params + g1.offset, a.rms1.data(), dx_.data(),
                    grads + g1.offset, n_, d);
  }
  const ParamTensor& emb = layout_.at(layout_.embedding);
  if (emb.trainable) EmbeddingBackward(dx_.data(), tokens_.data(), grads + emb.offset, n_, d);
}

template class ModelGrad<float>;
template class ModelGrad<double>;

}  // namespace squeeze
