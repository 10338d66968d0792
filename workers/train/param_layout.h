// Where every trainable value of a Llama-family model lives in one flat f32 buffer (weights,
// their gradients and the optimizer's moments all use the same layout), and conversions
// between that buffer and an engine Model. A layer's q, k and v matrices are adjacent, as are
// gate and up, so each group is one stacked matrix for the products of a training step.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/model.h"

namespace squeeze {

struct ParamTensor {
  std::string name;  // Hugging Face name ("model.layers.0.self_attn.q_proj.weight")
  int64_t offset = 0, rows = 0, cols = 0;  // a vector has rows == 1
  bool matrix = false;                     // a 2-D weight (AdamW decays it)
  bool trainable = true;                   // false: frozen (no gradient is computed or applied)
  int64_t size() const { return rows * cols; }
};

// Low-rank adapter of a layer matrix W (rows, cols): W x + scale * B (A x), with A (rank,
// cols) and B (rows, rank) trainable tensors of the layout.
struct LoraAdapter {
  int a = -1, b = -1;  // tensor indices; -1: no adapter
  float scale = 0;     // alpha / rank
};

struct LayerParams {
  int attn_norm, wq, wk, wv, wo, ffn_norm, w_gate, w_up, w_down;  // tensor indices
  LoraAdapter lora[7];  // for wq, wk, wv, wo, w_gate, w_up, w_down (in that order)
};

struct ParamLayout {
  ModelConfig config;
  std::vector<ParamTensor> tensors;
  int embedding = -1, final_norm = -1;
  int lm_head = -1;  // -1: the classifier is the embedding (tied)
  std::vector<LayerParams> layers;
  int64_t total = 0;  // floats

  // The layout of a model of this shape (no adapters).
  static ParamLayout For(const ModelConfig& c);

  const ParamTensor& at(int index) const { return tensors[size_t(index)]; }
  int classifier() const { return lm_head >= 0 ? lm_head : embedding; }
  // The seven matrices of a layer, in LayerParams::lora order.
  static std::vector<int> LayerMatrices(const LayerParams& l) {
    return {l.wq, l.wk, l.wv, l.wo, l.w_gate, l.w_up, l.w_down};
  }

  // Appends a rank-`rank` adapter (A random, B zero: the model is unchanged at first) to
  // every layer matrix and freezes every other tensor. Returns the first new float's offset.
  int64_t AddLora(int rank, float alpha);
  bool has_lora() const { return !layers.empty() && layers[0].lora[0].a >= 0; }
};

// Small random values for a model trained from scratch: N(0, 0.02) for matrices (the
// residual projections o and down scaled by 1/sqrt(2 * layers)), norm gains 1.
void InitParams(const ParamLayout& layout, uint64_t seed, float* values);

// A's of the adapters random (kaiming-like, 1/sqrt(cols)), B's zero.
void InitLora(const ParamLayout& layout, uint64_t seed, float* values);

// Unpacks a model's weights (any format) into values (layout.total floats; adapters untouched).
void ParamsFromModel(const Model& model, const ParamLayout& layout, float* values);

// A model with F32 tensors holding copies of the values (adapters are not included: merge or
// attach them separately). source and content_hash are left empty for the caller to set.
Model ModelFromParams(const ParamLayout& layout, const float* values);

}  // namespace squeeze
