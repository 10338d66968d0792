// Forward and backward of the Llama block's layers other than the matrix products: RMSNorm,
// RoPE (half-split layout), causal attention with grouped-query heads, SwiGLU, and the
// embedding look-up. Templates over the element type: float for training, double for the
// gradient checks against finite differences. Every backward *adds* into its outputs' gradient
// buffers unless it says it writes them.
//
// Batches are B sequences of T tokens, row-major (n = B * T rows); token t of a sequence sits
// at position t (every sequence starts at position 0).
#pragma once

#include <cstdint>
#include <vector>

#include "train/matmul.h"

namespace squeeze {

// y[t] = x[t] * g / sqrt(mean(x[t]^2) + eps); inv_rms[t] receives 1 / sqrt(...).
template <class Real>
void RmsNormForward(const TrainOps& ops, const Real* x, const Real* g, Real* y, Real* inv_rms,
                    int64_t n, int64_t dim, float eps);
// dx += d/dx, dg += d/dg, given dy and the forward's x and inv_rms.
template <class Real>
void RmsNormBackward(const TrainOps& ops, const Real* dy, const Real* x, const Real* g,
                     const Real* inv_rms, Real* dx, Real* dg, int64_t n, int64_t dim);

// cos / sin of the rotation angles, (T, head_dim / 2) each: angle(p, i) = p *
// theta^(-2i/head_dim), computed in double and rounded once, as the engine does.
template <class Real>
struct RopeTable {
  int64_t positions = 0, half = 0;
  std::vector<Real> cos, sin;
};
template <class Real>
RopeTable<Real> MakeRopeTable(int64_t positions, int64_t head_dim, float theta);

// Rotates `heads` heads of head_dim values starting at column `col` of each row of x (rows of
// `stride` values; row r is at position r % T). inverse: rotate back (the backward pass).
template <class Real>
void RopeApply(const TrainOps& ops, const RopeTable<Real>& rope, Real* x, int64_t n, int64_t T,
               int64_t stride, int64_t col, int64_t heads, int64_t head_dim, bool inverse);

struct AttentionDims {
  int64_t batch, seq, heads, kv_heads, head_dim;
  int64_t q_dim() const { return heads * head_dim; }
  int64_t kv_dim() const { return kv_heads * head_dim; }
  int64_t qkv_dim() const { return q_dim() + 2 * kv_dim(); }
};

// Causal attention. qkv rows are [q (heads*hd) | k (kv_heads*hd) | v (kv_heads*hd)]; query
// head h reads kv head h / (heads / kv_heads). out is (n, heads*hd); lse (n, heads) receives
// each softmax row's log-sum-exp of the scaled scores (the backward recomputes the
// probabilities from it instead of storing them).
template <class Real>
void AttentionForward(const TrainOps& ops, const AttentionDims& d, const Real* qkv, Real* out,
                      Real* lse);
// Writes dqkv (n, qkv_dim) from dout, given the forward's qkv, out and lse.
template <class Real>
void AttentionBackward(const TrainOps& ops, const AttentionDims& d, const Real* qkv,
                       const Real* out, const Real* lse, const Real* dout, Real* dqkv);

// gate_up rows are [g (hidden) | u (hidden)]; h = silu(g) * u, (n, hidden).
template <class Real>
void SwiGluForward(const TrainOps& ops, const Real* gate_up, Real* h, int64_t n, int64_t hidden);
// Writes dgate_up (n, 2 * hidden) from dh.
template <class Real>
void SwiGluBackward(const TrainOps& ops, const Real* gate_up, const Real* dh, Real* dgate_up,
                    int64_t n, int64_t hidden);

// x[t] = table[tokens[t]] and its backward dtable[tokens[t]] += dx[t].
template <class Real>
void EmbeddingForward(const Real* table, const int32_t* tokens, Real* x, int64_t n, int64_t dim);
template <class Real>
void EmbeddingBackward(const Real* dx, const int32_t* tokens, Real* dtable, int64_t n, int64_t dim);

}  // namespace squeeze
