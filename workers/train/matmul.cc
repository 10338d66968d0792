// Training matrix products: reference loops, and f32 products on the project's F32 gemm
// kernel over blocks of (weight rows x tokens) handed to the thread pool. A block of 64 rows
// and 96 tokens keeps its weight rows and inputs (k floats each) in L2 while the kernel's
// 4 x 3 register tiles walk it.
#include "train/matmul.h"

#include <algorithm>
#include <vector>

#include "squeeze/kernels/matmul.h"

namespace squeeze {
namespace {

constexpr int64_t kRowBlock = 64;    // weight rows per task (multiple of the kernel's 4)
constexpr int64_t kTokenBlock = 96;  // tokens per task (multiple of the kernel's 3)

// A growing buffer owned by the calling thread (index: which of the operands).
float* Scratch(int index, int64_t floats) {
  thread_local std::vector<float> buf[3];
  if (int64_t(buf[index].size()) < floats) buf[index].resize(size_t(floats));
  return buf[index].data();
}

// y(n, m) (+)= x(n, k) · w(m, k)ᵀ with y rows ldy apart.
void GemmBlocks(const TrainOps& ops, const float* x, const float* w, float* y, int64_t n, int64_t m,
                int64_t k, bool accumulate) {
  const MatmulKernels& kern = GetMatmulKernels(WeightFormat::kF32, ops.isa);
  const int64_t row_blocks = (m + kRowBlock - 1) / kRowBlock;
  const int64_t token_blocks = (n + kTokenBlock - 1) / kTokenBlock;
  // Accumulation needs the product apart: the kernel overwrites its output.
  float* out = accumulate ? Scratch(2, n * m) : y;
  ForRange(ops, row_blocks * token_blocks, [&](int64_t b, int64_t e) {
    for (int64_t task = b; task < e; ++task) {
      const int64_t r0 = (task % row_blocks) * kRowBlock, t0 = (task / row_blocks) * kTokenBlock;
      const int64_t rows = std::min(kRowBlock, m - r0), toks = std::min(kTokenBlock, n - t0);
      kern.gemm(w + r0 * k, k * int64_t(sizeof(float)), x + t0 * k, toks, out + t0 * m + r0, m,
                rows, k);
      if (accumulate) {
        for (int64_t t = t0; t < t0 + toks; ++t) {
          float* yt = y + t * m;
          const float* ot = out + t * m;
          for (int64_t r = r0; r < r0 + rows; ++r) yt[r] += ot[r];
        }
      }
    }
  });
}

}  // namespace

void ForRange(const TrainOps& ops, int64_t n, const std::function<void(int64_t, int64_t)>& fn,
              int64_t align) {
  if (n <= 0) return;
  if (ops.pool == nullptr) {
    fn(0, n);
  } else {
    ops.pool->ParallelFor(n, fn, align);
  }
}

void Transpose(const TrainOps& ops, const float* in, float* out, int64_t rows, int64_t cols) {
  constexpr int64_t kTile = 32;
  const int64_t row_tiles = (rows + kTile - 1) / kTile;
  ForRange(ops, row_tiles, [&](int64_t b, int64_t e) {
    for (int64_t r0 = b * kTile; r0 < std::min(rows, e * kTile); r0 += kTile) {
      const int64_t r1 = std::min(rows, r0 + kTile);
      for (int64_t c0 = 0; c0 < cols; c0 += kTile) {
        const int64_t c1 = std::min(cols, c0 + kTile);
        for (int64_t r = r0; r < r1; ++r)
          for (int64_t c = c0; c < c1; ++c) out[c * rows + r] = in[r * cols + c];
      }
    }
  });
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
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t c = 0; c < k; ++c) {
      Real s = 0;
      for (int64_t r = 0; r < m; ++r) s += dy[t * m + r] * w[r * k + c];
      dx[t * k + c] = accumulate ? dx[t * k + c] + s : s;
    }
  }
}

template <class Real>
void MatMulTN_ref(const Real* dy, const Real* x, Real* dw, int64_t n, int64_t m, int64_t k,
                  bool accumulate) {
  for (int64_t r = 0; r < m; ++r) {
    for (int64_t c = 0; c < k; ++c) {
      Real s = 0;
      for (int64_t t = 0; t < n; ++t) s += dy[t * m + r] * x[t * k + c];
      dw[r * k + c] = accumulate ? dw[r * k + c] + s : s;
    }
  }
}

template void MatMulNT_ref(const float*, const float*, float*, int64_t, int64_t, int64_t, bool);
template void MatMulNT_ref(const double*, const double*, double*, int64_t, int64_t, int64_t, bool);
template void MatMulNN_ref(const float*, const float*, float*, int64_t, int64_t, int64_t, bool);
template void MatMulNN_ref(const double*, const double*, double*, int64_t, int64_t, int64_t, bool);
template void MatMulTN_ref(const float*, const float*, float*, int64_t, int64_t, int64_t, bool);
template void MatMulTN_ref(const double*, const double*, double*, int64_t, int64_t, int64_t, bool);

void MatMulNT(const TrainOps& ops, const float* x, const float* w, float* y, int64_t n, int64_t m,
              int64_t k, bool accumulate) {
  GemmBlocks(ops, x, w, y, n, m, k, accumulate);
}

void MatMulNN(const TrainOps& ops, const float* dy, const float* w, float* dx, int64_t n, int64_t m,
              int64_t k, bool accumulate) {
  // dx(n, k) = dy(n, m) · (wᵀ)(k, m)ᵀ
  float* wt = Scratch(0, m * k);
  Transpose(ops, w, wt, m, k);
  GemmBlocks(ops, dy, wt, dx, n, k, m, accumulate);
}

void MatMulTN(const TrainOps& ops, const float* dy, const float* x, float* dw, int64_t n, int64_t m,
              int64_t k, bool accumulate) {
  // dw(m, k) = (dyᵀ)(m, n) · (xᵀ)(k, n)ᵀ
  float* dyt = Scratch(0, m * n);
  float* xt = Scratch(1, k * n);
  Transpose(ops, dy, dyt, n, m);
  Transpose(ops, x, xt, n, k);
  GemmBlocks(ops, dyt, xt, dw, m, k, n, accumulate);
}

}  // namespace squeeze
