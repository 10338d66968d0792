// The matrix products of training, on row-major matrices:
//   NT  y(n, m)  = x(n, k) · w(m, k)ᵀ     forward of a linear layer (x · Wᵀ)
//   NN  dx(n, k) = dy(n, m) · w(m, k)     input gradient           (dY · W)
//   TN  dw(m, k) = dy(n, m)ᵀ · x(n, k)    weight gradient          (dYᵀ · X)
// each optionally accumulating into its output, and the general product they all reduce to,
// C(M, N) (+)= A(M, K) · B(K, N) with A read through two strides (a transposed view costs
// nothing). The f32 versions run blocked AVX2 kernels (train/matmul_avx2.cc: 6 x 16 register
// tiles, K in blocks of 256, tasks of 96 rows x 256 columns over the thread pool); NT
// transposes w once (weights are small next to activations). The *_ref functions are the
// scalar definitions (naive loops, sums in the element type) that tests compare against;
// they also serve ISA kRef and the double-precision gradient checks.
#pragma once

#include <cstdint>
#include <functional>

#include "squeeze/kernels/isa.h"
#include "util/thread_pool.h"

namespace squeeze {

// How the training math runs: threads (null: the calling thread alone) and kernel level.
struct TrainOps {
  ThreadPool* pool = nullptr;
  Isa isa = Isa::kRef;
};

template <class Real>
void Gemm_ref(const Real* a, int64_t a_row, int64_t a_col, const Real* b, int64_t ldb, Real* c,
              int64_t ldc, int64_t M, int64_t N, int64_t K, bool accumulate);
template <class Real>
void MatMulNT_ref(const Real* x, const Real* w, Real* y, int64_t n, int64_t m, int64_t k,
                  bool accumulate);
template <class Real>
void MatMulNN_ref(const Real* dy, const Real* w, Real* dx, int64_t n, int64_t m, int64_t k,
                  bool accumulate);
template <class Real>
void MatMulTN_ref(const Real* dy, const Real* x, Real* dw, int64_t n, int64_t m, int64_t k,
                  bool accumulate);

// Blocked, multithreaded f32 products (same contracts as the _ref functions; sums may run in
// another order). Outputs must not alias inputs. Scratch buffers belong to the calling thread.
void Gemm(const TrainOps& ops, const float* a, int64_t a_row, int64_t a_col, const float* b,
          int64_t ldb, float* c, int64_t ldc, int64_t M, int64_t N, int64_t K, bool accumulate);
void MatMulNT(const TrainOps& ops, const float* x, const float* w, float* y, int64_t n, int64_t m,
              int64_t k, bool accumulate = false);
void MatMulNN(const TrainOps& ops, const float* dy, const float* w, float* dx, int64_t n, int64_t m,
              int64_t k, bool accumulate = false);
void MatMulTN(const TrainOps& ops, const float* dy, const float* x, float* dw, int64_t n, int64_t m,
              int64_t k, bool accumulate = false);

// Double precision (gradient checks): the reference loops.
inline void Gemm(const TrainOps&, const double* a, int64_t a_row, int64_t a_col, const double* b,
                 int64_t ldb, double* c, int64_t ldc, int64_t M, int64_t N, int64_t K,
                 bool accumulate) {
  Gemm_ref(a, a_row, a_col, b, ldb, c, ldc, M, N, K, accumulate);
}
inline void MatMulNT(const TrainOps&, const double* x, const double* w, double* y, int64_t n,
                     int64_t m, int64_t k, bool accumulate = false) {
  MatMulNT_ref(x, w, y, n, m, k, accumulate);
}
inline void MatMulNN(const TrainOps&, const double* dy, const double* w, double* dx, int64_t n,
                     int64_t m, int64_t k, bool accumulate = false) {
  MatMulNN_ref(dy, w, dx, n, m, k, accumulate);
}
inline void MatMulTN(const TrainOps&, const double* dy, const double* x, double* dw, int64_t n,
                     int64_t m, int64_t k, bool accumulate = false) {
  MatMulTN_ref(dy, x, dw, n, m, k, accumulate);
}

// out(cols, rows) = in(rows, cols)ᵀ, blocked, over the pool when there is one.
void Transpose(const TrainOps& ops, const float* in, float* out, int64_t rows, int64_t cols);

// Runs fn(begin, end) over [0, n) on the pool, or inline without one or when the whole loop is
// small (n * cost_per_item below about 30k operations: not worth waking the threads).
void ForRange(const TrainOps& ops, int64_t n, const std::function<void(int64_t, int64_t)>& fn,
              int64_t align = 1, int64_t cost_per_item = 1 << 15);

}  // namespace squeeze
