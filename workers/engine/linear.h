// Matrix products of the engine: y = x · Wᵀ for one or many tokens, dispatched on the weight
// tensor's format through the kernel table and split by rows across the thread pool.
#pragma once

#include <cstdint>

#include "model/weight_tensor.h"
#include "squeeze/kernels/matmul.h"
#include "util/thread_pool.h"

namespace squeeze {

// x: (n, w.cols()) row-major; y: (n, w.rows()) row-major. n == 1 takes the gemv path.
void Linear(ThreadPool& pool, Isa isa, const WeightTensor& w, const float* x, int64_t n, float* y);

}  // namespace squeeze
