// The training forward pass of a Llama-family model (the engine's math: RMSNorm with the
// config's eps, half-split RoPE with its theta, grouped-query attention, SwiGLU, tied or
// separate classifier) keeping the activations a backward pass needs, and that backward pass:
// gradients of every parameter of a ParamLayout, low-rank adapters included.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "train/layers.h"
#include "train/matmul.h"
#include "train/param_layout.h"

namespace squeeze {

// Replaces a layer matrix by transform(w) in the forward pass (rows x cols values, row-major;
// rows are independent, as with per-row quantization groups). The gradient passes straight
// through to w (straight-through estimator): quantization-aware training.
template <class Real>
using WeightTransform = std::function<void(const Real* w, Real* out, int64_t rows, int64_t cols)>;

template <class Real>
class ModelGrad {
 public:
  ModelGrad(const ParamLayout& layout, const TrainOps& ops);

  void set_weight_transform(WeightTransform<Real> t) { transform_ = std::move(t); }

  // Runs B sequences of T tokens (row-major, each sequence at positions 0..T-1) and returns
  // the logits (B * T, vocab), valid until the next Forward. Keeps what Backward needs.
  // T must not exceed the config's max_seq_len; tokens must lie in the vocabulary.
  const Real* Forward(const Real* params, const int32_t* tokens, int64_t B, int64_t T);

  // Adds the gradients of the loss whose logits gradient is dlogits (B * T, vocab) to grads
  // (layout.total values). Frozen tensors get no gradient. Needs the last Forward's params.
  void Backward(const Real* params, const Real* dlogits, Real* grads);

 private:
  struct LayerActs {
    std::vector<Real> x_in, rms1, xn1, qkv, lse, att, x_mid, rms2, xn2, gu, h;
    std::vector<Real> lora_t[7];  // (n, rank): A x of each adapter
  };
  // A stack of adjacent layer matrices that share an input (q/k/v, gate/up) or one matrix.
  struct Stack {
    int first;      // tensor index of the first matrix
    int count;      // matrices in the stack
    int lora_slot;  // index of the first matrix in LayerParams::lora
  };
  void Resize(int64_t n);
  const Real* Weights(int tensor, const Real* params) const;
  void LinearForward(const LayerParams& lp, Stack s, const Real* params, const Real* x, Real* y,
                     LayerActs& a);
  void LinearBackward(const LayerParams& lp, Stack s, const Real* params, const Real* x,
                      const Real* dy, Real* dx, Real* grads, const LayerActs& a);

  const ParamLayout& layout_;
  TrainOps ops_;
  WeightTransform<Real> transform_;
  RopeTable<Real> rope_;
  int64_t B_ = 0, T_ = 0, n_ = 0;
  std::vector<int32_t> tokens_;
  std::vector<LayerActs> acts_;
  std::vector<Real> x_fin_, rmsf_, xnf_, logits_;
  std::vector<Real> weff_;  // transformed layer matrices (layout offsets), when transform_
  // Backward scratch.
  std::vector<Real> dx_, dxn_, dqkv_, datt_, dgu_, dh_, tmp_, tmp2_;
};

extern template class ModelGrad<float>;
extern template class ModelGrad<double>;

}  // namespace squeeze
