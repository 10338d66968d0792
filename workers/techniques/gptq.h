// GPTQ's core on one matrix (Frantar et al., "GPTQ: Accurate Post-Training Quantization for
// Generative Pre-trained Transformers", 2022): columns are quantized one at a time and each
// one's rounding error is spread over the columns not yet quantized, weighted by the inverse
// of the layer's input Hessian H = XᵀX, so that ‖W X − Q X‖ rather than ‖W − Q‖ is kept
// small. Internal to techniques/ (the `gptq` technique and its tests).
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "model/weight_tensor.h"
#include "techniques/int_grid.h"
#include "util/thread_pool.h"

namespace squeeze {

// A site's Hessian made ready for GPTQ: dead inputs found, damped, columns ordered, and the
// upper Cholesky factor U of its inverse (Uᵀ U = H⁻¹), in that column order.
struct GptqHessian {
  int64_t cols = 0;
  std::vector<uint8_t> dead;   // (cols) inputs never non-zero (H_ii == 0): weights set to 0
  std::vector<int64_t> order;  // (cols) position -> column; descending diag(H) with act_order
  std::vector<float> u;        // (cols * cols) U of the permuted, damped H, row-major
  bool act_order = false;
  double damping_used = 0;  // fraction of mean diag(H) finally added (raised on failure)
};

// Prepares `h` (cols x cols, symmetric, as InputStats::gram): dead columns get H_ii = 1,
// then damping * mean(diag H) is added to the diagonal. When the factorization fails the
// damping is raised tenfold (up to 3 times) before giving up with an error.
absl::StatusOr<GptqHessian> PrepareGptqHessian(const std::vector<double>& h, int64_t cols,
                                               double damping, bool act_order);

// Quantizes the row-major (rows x hs.cols) float matrix `w` with GPTQ on `grid`, in blocks of
// 128 columns with lazy updates of the later columns. Scales: per group, from the weights as
// they are when the group's first column comes up (or, with act_order or one scale per row,
// from the original weights up front, so the stored contiguous groups stay valid). Returns
// the packed tensor in grid.format; `values` (when not null) receives the decoded weights.
// `pool` may be null (one thread).
WeightTensor GptqQuantize(const float* w, int64_t rows, const GptqHessian& hs, const IntGrid& grid,
                          ThreadPool* pool, std::vector<float>* values = nullptr);

}  // namespace squeeze
