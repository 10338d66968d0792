// Pruning pieces shared by the `magnitude`, `wanda`, `sparsegpt` and `nm_sparse` techniques:
// the pattern, choosing which weights to remove from their scores, SparseGPT's one-shot
// reconstruction, and storing a pruned matrix. Internal to techniques/.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/model.h"
#include "model/weight_tensor.h"
#include "techniques/gptq.h"
#include "techniques/technique.h"
#include "util/thread_pool.h"

namespace squeeze {

// What to remove: a fraction of the weights (unstructured), or all but n of every m
// consecutive weights of a row (N:M, m > 0).
struct PrunePattern {
  double sparsity = 0;
  int n = 0, m = 0;
  // Storage of unstructured zeros: "dense" (the matrix's format, zeros included), "csr" (only
  // the kept weights, f32/f16 matrices) or "auto" (csr from kCsrCrossover on).
  std::string storage = "auto";
  bool nm() const { return m > 0; }
  // Weights removed from a row of `cols`: round(sparsity * cols), or m - n per whole group of
  // m (a last partial group of len weights loses max(0, len - n)).
  int64_t RemovedPerRow(int64_t cols) const;
  std::string Describe() const;  // "50% unstructured" or "2:4 (2 of every 4 kept)"
};

// Zeroes, in each row of w (rows x cols, row-major), the pattern's weights with the lowest
// scores (ties: the lower column goes first). Exactly RemovedPerRow(cols) per row.
void PruneRowsByScore(float* w, const float* score, int64_t rows, int64_t cols,
                      const PrunePattern& p);

// Zeroes the round(sparsity * total) weights of smallest magnitude among all the matrices
// together (ties: earlier matrix, then lower index first). Returns how many it zeroed.
int64_t PruneSmallest(const std::vector<std::vector<float>*>& matrices, double sparsity);

// SparseGPT (Frantar & Alistarh, "SparseGPT: Massive Language Models Can Be Accurately Pruned
// in One-Shot", 2023) on one row-major matrix w (rows x hs.cols): columns are visited in
// order in blocks of 128; the weights to remove are chosen per row by w² / [U]_cc² (U the
// Cholesky factor of the damped inverse Hessian in hs, which must be in natural column order)
// among each block (unstructured: the block's share of RemovedPerRow) or each group of m (N:M),
// and each column's change is fed back to the columns after it, as GPTQ does for rounding.
// Leaves exactly the pattern's zeros. `pool` may be null.
void SparseGptPrune(float* w, int64_t rows, const GptqHessian& hs, const PrunePattern& p,
                    ThreadPool* pool);

// Sparsity from which CSR storage decodes faster than the dense matrix of the same values'
// precision on the machine of README (README, "Pruning": squeeze bench of a 125m random-weight
// model on 2 threads, f32 even at 40-50% and f16 at ~70%, with a margin above both): CSR reads
// 6 (f32) or 4 (f16) bytes per kept weight and gathers its inputs, dense 4 or 2 per weight.
double CsrCrossover(WeightFormat values);

// The pruned float matrix w stored back into `t`'s place: unstructured patterns keep t's
// format, dense with its zeros or, as p.storage says, CSR with t's values' precision (auto:
// when t is f32 or f16 and w's sparsity reaches CsrCrossover; csr on a quantized matrix fails
// naming `technique` and `name`); N:M patterns take the sp24_*/sp48_* format holding values
// in `values` ("same": f32 or f16 as t is), or fail naming `technique` and `name`.
absl::StatusOr<WeightTensor> StorePruned(const WeightTensor& t, const std::vector<float>& w,
                                         const PrunePattern& p, const std::string& values,
                                         const std::string& technique, const std::string& name);

// Fraction of exact zeros among the matrices' weights (after to_float).
double LayerSparsity(const std::vector<const WeightTensor*>& matrices);

// The calibrated methods' walk: for each layer in order, collects its input statistics with
// Gram matrices XᵀX on `model` as it is then (the layers before already changed), and calls
// fn(layer, site, stats) for each of its sites. Errors name `technique`.
absl::Status ForEachLayerSite(
    Model& model, const TechniqueContext& ctx, const std::string& technique,
    const std::function<absl::Status(int, LinearSite, const InputStats&)>& fn);

}  // namespace squeeze
