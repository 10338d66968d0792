// Internal to train/matmul.cc: the single-threaded block kernels it hands tasks to.
#pragma once

#include <cstdint>

namespace squeeze::train_internal {

// C(M, N) (+)= A(M, K) · B(K, N): A(i, p) = a[i * a_row + p * a_col]; B and C row-major with
// leading dimensions ldb, ldc. accumulate = false overwrites C. (matmul_avx2.cc; only called
// on CPUs with AVX2 and FMA.)
void GemmBlockAvx2(const float* a, int64_t a_row, int64_t a_col, const float* b, int64_t ldb,
                   float* c, int64_t ldc, int64_t M, int64_t N, int64_t K, bool accumulate);

}  // namespace squeeze::train_internal
