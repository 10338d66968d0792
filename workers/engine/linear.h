// Matrix products of the engine: y = x · Wᵀ for one or many tokens, dispatched on the weight
// tensor's format through the kernel table and split by rows across the thread pool.
#pragma once

#include <cstdint>
#include <span>

#include "model/weight_tensor.h"
#include "squeeze/kernels/matmul.h"
#include "util/thread_pool.h"

namespace squeeze {

// x: (n, w.cols()) row-major; y: (n, w.rows()) row-major. n == 1 takes the gemv path.
void Linear(ThreadPool& pool, Isa isa, const WeightTensor& w, const float* x, int64_t n, float* y);

// The products of several matrices with the same input (the q, k and v projections; gate and
// up): ys[i] = x · ws[i]ᵀ, each (n, ws[i]->rows()). When the matrices share format and width
// and none has split columns, an adapter or sparse storage, one parallel loop runs over all their
// rows (one synchronization of the pool instead of one per matrix, and for n == 1 the activations
// are prepared once); otherwise they run one after another. Results are the same either way.
void LinearGroup(ThreadPool& pool, Isa isa, std::span<const WeightTensor* const> ws, const float* x,
                 int64_t n, std::span<float* const> ys);

}  // namespace squeeze
