// Row-parallel dispatch of the format's matrix kernels.
#include "engine/linear.h"

namespace squeeze {

void Linear(ThreadPool& pool, Isa isa, const WeightTensor& w, const float* x, int64_t n, float* y) {
  const MatmulKernels& k = GetMatmulKernels(w.format(), isa);
  const int64_t rows = w.rows(), cols = w.cols(), rb = w.row_bytes();
  // Chunks of 16 rows keep each thread's output on whole cache lines.
  if (n == 1) {
    pool.ParallelFor(
        rows, [&](int64_t r0, int64_t r1) { k.gemv(w.row(r0), rb, x, y + r0, r1 - r0, cols); }, 16);
  } else {
    pool.ParallelFor(
        rows,
        [&](int64_t r0, int64_t r1) { k.gemm(w.row(r0), rb, x, n, y + r0, rows, r1 - r0, cols); },
        16);
  }
}

}  // namespace squeeze
