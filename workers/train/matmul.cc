// Training matrix products: reference loops, and f32 products split into tasks of kMc rows x
// kNc columns over the thread pool, each run by the AVX2 block kernel (matmul_avx2.cc). A
// task's rows of A (kMc x 256 values per K block) stay in L2 while the kernel's column strips
// pass over them.
#include "train/matmul.h"

#include <algorithm>
#include <vector>

#include "train/matmul_kernels.h"

namespace squeeze {
namespace {

constexpr int64_t kMc = 96;   // rows of C per task (a multiple of the kernel's 6)
constexpr int64_t kNc = 256;  // columns of C per task (a multiple of 16)

// A growing buffer owned by the calling thread.
float* Scratch(int64_t floats) {
  thread_local std::vector<float> buf;
  if (int64_t(buf.size()) < floats) buf.resize(size_t(floats));
  return buf.data();
}

}  // namespace

void ForRange(const TrainOps& ops, int64_t n, const std::function<void(int64_t, int64_t)>& fn,
              int64_t align, int64_t cost_per_item) {
  if (n <= 0) return;
  if (ops.pool == nullptr || ops.pool->size() == 1 || n * cost_per_item < (int64_t(1) << 15)) {
    fn(0, n);
  } else {
    ops.pool->ParallelFor(n, fn, align);
  }
}

void Transpose(const TrainOps& ops, const float* in, float* out, int64_t rows, int64_t cols) {
  constexpr int64_t kTile = 32;
  const int64_t row_tiles = (rows + kTile - 1) / kTile;
  ForRange(
      ops, row_tiles,
      [&](int64_t b, int64_t e) {
        for (int64_t r0 = b * kTile; r0 < std::min(rows, e * kTile); r0 += kTile) {
          const int64_t r1 = std::min(rows, r0 + kTile);
          for (int64_t c0 = 0; c0 < cols; c0 += kTile) {
            const int64_t c1 = std::min(cols, c0 + kTile);
            for (int64_t r = r0; r < r1; ++r)
              for (int64_t c = c0; c < c1; ++c) out[c * rows + r] = in[r * cols + c];
          }
        }
      },
      1, kTile * cols);
}

template <class Real>
void Gemm_ref(const Real* a, int64_t a_row, int64_t a_col, const Real* b, int64_t ldb, Real* c,
              int64_t ldc, int64_t M, int64_t N, int64_t K, bool accumulate) {
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) {
      Real s = 0;
      for (int64_t p = 0; p < K; ++p) s += a[i * a_row + p * a_col] * b[p * ldb + j];
      c[i * ldc + j] = accumulate ? c[i * ldc + j] + s : s;
    }
  }
}

template <class Real>
void MatMulNT_ref(const Real* x, const Real* w, Real* y, int64_t n, int64_t m, int64_t k,
                  bool accumulate) {
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t r = 0; r < m; ++r) {
      Real s = 0;
      for (int64_t c = 0; c < k; ++c) s += x[t * k + c] * w[r * k + c];
      y[t * m + r] = accumulate ? y[t * m + r] + s : s;
    }
  }
}

template <class Real>
void MatMulNN_ref(const Real* dy, const Real* w, Real* dx, int64_t n, int64_t m, int64_t k,
                  bool accumulate) {
  Gemm_ref(dy, m, int64_t(1), w, k, dx, k, n, k, m, accumulate);
}

template <class Real>
void MatMulTN_ref(const Real* dy, const Real* x, Real* dw, int64_t n, int64_t m, int64_t k,
                  bool accumulate) {
  Gemm_ref(dy, int64_t(1), m, x, k, dw, k, m, k, n, accumulate);
}

#define SQUEEZE_MATMUL_REF_INSTANTIATE(Real)                                                    \
  template void Gemm_ref(const Real*, int64_t, int64_t, const Real*, int64_t, Real*, int64_t,   \
                         int64_t, int64_t, int64_t, bool);                                      \
  template void MatMulNT_ref(const Real*, const Real*, Real*, int64_t, int64_t, int64_t, bool); \
  template void MatMulNN_ref(const Real*, const Real*, Real*, int64_t, int64_t, int64_t, bool); \
  template void MatMulTN_ref(const Real*, const Real*, Real*, int64_t, int64_t, int64_t, bool);
SQUEEZE_MATMUL_REF_INSTANTIATE(float)
SQUEEZE_MATMUL_REF_INSTANTIATE(double)

void Gemm(const TrainOps& ops, const float* a, int64_t a_row, int64_t a_col, const float* b,
          int64_t ldb, float* c, int64_t ldc, int64_t M, int64_t N, int64_t K, bool accumulate) {
  if (ops.isa == Isa::kRef) {
    // The reference is the naive triple loop: split over rows only.
    ForRange(
        ops, M,
        [&](int64_t i0, int64_t i1) {
          Gemm_ref(a + i0 * a_row, a_row, a_col, b, ldb, c + i0 * ldc, ldc, i1 - i0, N, K,
                   accumulate);
        },
        1, 2 * N * K);
    return;
  }
  const int64_t mt = (M + kMc - 1) / kMc, nt = (N + kNc - 1) / kNc;
  ForRange(
      ops, mt * nt,
      [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
          const int64_t i0 = (t / nt) * kMc, j0 = (t % nt) * kNc;
          train_internal::GemmBlockAvx2(a + i0 * a_row, a_row, a_col, b + j0, ldb,
                                        c + i0 * ldc + j0, ldc, std::min(kMc, M - i0),
                                        std::min(kNc, N - j0), K, accumulate);
        }
      },
      1, 2 * std::min(kMc, M) * std::min(kNc, N) * K);
}

void MatMulNT(const TrainOps& ops, const float* x, const float* w, float* y, int64_t n, int64_t m,
              int64_t k, bool accumulate) {
  float* wt = Scratch(m * k);  // (k, m)
  Transpose(ops, w, wt, m, k);
  Gemm(ops, x, k, 1, wt, m, y, m, n, m, k, accumulate);
}

void MatMulNN(const TrainOps& ops, const float* dy, const float* w, float* dx, int64_t n, int64_t m,
              int64_t k, bool accumulate) {
  Gemm(ops, dy, m, 1, w, k, dx, k, n, k, m, accumulate);
}

void MatMulTN(const TrainOps& ops, const float* dy, const float* x, float* dw, int64_t n, int64_t m,
              int64_t k, bool accumulate) {
  Gemm(ops, dy, 1, m, x, k, dw, k, m, k, n, accumulate);
}

}  // namespace squeeze
