// Row-parallel dispatch of the format's matrix kernels (one matrix, or several with the same
// input in one parallel loop), the two-part product of a tensor with split columns
// (LLM.int8()), the low-rank term of a tensor with an adapter (unmerged LoRA), and the CSR
// kernels of a sparse tensor.
#include "engine/linear.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace squeeze {

namespace {

// This thread's buffer for prepared activations (64-byte aligned, kept between calls).
void* PreparedBuffer(int64_t bytes) {
  thread_local std::vector<uint8_t> storage;
  const size_t want = size_t(bytes) + 64;
  if (storage.size() < want) storage.resize(want);
  const uintptr_t p = reinterpret_cast<uintptr_t>(storage.data());
  return reinterpret_cast<void*>((p + 63) & ~uintptr_t(63));
}

// ys[i] = x · ws[i]ᵀ for matrices of one format and width, in one parallel loop over their
// concatenated rows. Chunks of 16 rows keep each thread's output on whole cache lines.
void LinearRows(ThreadPool& pool, Isa isa, std::span<const WeightTensor* const> ws, const float* x,
                int64_t n, std::span<float* const> ys) {
  const WeightFormat format = ws[0]->format();
  const int64_t cols = ws[0]->cols();
  const MatmulKernels& k = GetMatmulKernels(format, isa);
  const PreparedGemv* prepared = n == 1 ? GetPreparedGemv(format, isa) : nullptr;
  void* buf = prepared ? PreparedBuffer(prepared->bytes(cols)) : nullptr;
  // The activations are rounded once here, not once per chunk.
  if (buf != nullptr) prepared->prepare(x, cols, buf);
  int64_t total = 0;
  for (const WeightTensor* w : ws) total += w->rows();
  pool.ParallelFor(
      total,
      [&](int64_t b, int64_t e) {
        int64_t base = 0;
        for (size_t i = 0; i < ws.size(); base += ws[i]->rows(), ++i) {
          const WeightTensor& w = *ws[i];
          const int64_t r0 = std::max(b, base) - base, r1 = std::min(e, base + w.rows()) - base;
          if (r0 >= r1) continue;
          float* y = ys[i] + r0;
          if (buf != nullptr) {
            prepared->gemv(w.row(r0), w.row_bytes(), buf, y, r1 - r0, cols);
          } else if (n == 1) {
            k.gemv(w.row(r0), w.row_bytes(), x, y, r1 - r0, cols);
          } else {
            k.gemm(w.row(r0), w.row_bytes(), x, n, y, w.rows(), r1 - r0, cols);
          }
        }
      },
      16);
}

// Tokens from which a CSR product unpacks its rows, 16 at a time, and runs the dense f32
// kernel on them: the dense kernel reuses each input load across rows, the CSR one cannot, and
// with this many tokens unpacking costs little against the products (README, "Unstructured
// sparsity: CSR against dense").
constexpr int64_t kCsrDenseTokens = 16;

// Rows [b, e) of a CSR tensor times n tokens through the dense f32 gemm, 16 rows at a time.
void CsrRowsAsDense(Isa isa, const WeightTensor& w, const float* x, int64_t n, float* y, int64_t b,
                    int64_t e) {
  const int64_t cols = w.cols();
  const MatmulKernels& k = GetMatmulKernels(WeightFormat::kF32, isa);
  thread_local std::vector<float> dense;
  dense.resize(size_t(16 * cols));
  for (int64_t r0 = b; r0 < e; r0 += 16) {
    const int64_t r1 = std::min(e, r0 + 16);
    for (int64_t r = r0; r < r1; ++r) w.RowToFloat(r, dense.data() + (r - r0) * cols);
    k.gemm(dense.data(), cols * int64_t(sizeof(float)), x, n, y + r0, w.rows(), r1 - r0, cols);
  }
}

// y = x · Wᵀ for a CSR tensor: the gemv on x as it is; for a few tokens the CSR gemm on x
// transposed once here (each kept weight then meets all tokens' inputs in one contiguous run);
// for kCsrDenseTokens or more, CsrRowsAsDense.
void LinearSparse(ThreadPool& pool, Isa isa, const WeightTensor& w, const float* x, int64_t n,
                  float* y) {
  const CsrKernels& k = GetCsrKernels(w.format(), isa);
  const CsrView view = w.csr();
  const int64_t rows = w.rows(), cols = w.cols();
  if (n == 1) {
    pool.ParallelFor(
        rows, [&](int64_t b, int64_t e) { k.gemv(view, x, y + b, b, e); }, 16);
    return;
  }
  if (n >= kCsrDenseTokens) {
    pool.ParallelFor(
        rows, [&](int64_t b, int64_t e) { CsrRowsAsDense(isa, w, x, n, y, b, e); }, 16);
    return;
  }
  thread_local std::vector<float> xt;
  xt.resize(size_t(n * cols));
  for (int64_t t = 0; t < n; ++t)
    for (int64_t c = 0; c < cols; ++c) xt[size_t(c * n + t)] = x[t * cols + c];
  const float* xtp = xt.data();
  pool.ParallelFor(
      rows, [&](int64_t b, int64_t e) { k.gemm(view, xtp, n, y + b, rows, b, e); }, 16);
}

void LinearMain(ThreadPool& pool, Isa isa, const WeightTensor& w, const float* x, int64_t n,
                float* y) {
  if (w.sparse()) {
    LinearSparse(pool, isa, w, x, n, y);
    return;
  }
  const WeightTensor* ws[] = {&w};
  float* ys[] = {y};
  LinearRows(pool, isa, ws, x, n, ys);
}

// y = main · x' + dense · x[cols] (see SplitColumns): x' is x with the split columns zeroed,
// so that they do not enter the main part (nor, for W8A8, its per-token activation scale).
void LinearSplit(ThreadPool& pool, Isa isa, const WeightTensor& w, const float* x, int64_t n,
                 float* y) {
  const SplitColumns& s = *w.split();
  const int64_t rows = w.rows(), cols = w.cols(), k = int64_t(s.cols.size());
  thread_local std::vector<float> xz, xs, ys;
  xz.assign(x, x + n * cols);
  xs.resize(n * k);
  ys.resize(n * rows);
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t i = 0; i < k; ++i) {
      xs[t * k + i] = x[t * cols + s.cols[i]];
      xz[t * cols + s.cols[i]] = 0.0f;
    }
  }
  LinearMain(pool, isa, w, xz.data(), n, y);
  LinearMain(pool, isa, *s.dense, xs.data(), n, ys.data());
  for (int64_t i = 0; i < n * rows; ++i) y[i] += ys[i];
}

// y += scale * B (A x) for a tensor with a low-rank adapter (see LowRankAdapter).
void LinearAdapter(ThreadPool& pool, Isa isa, const LowRankAdapter& ad, const float* x, int64_t n,
                   float* y) {
  const int64_t rank = ad.a->rows(), rows = ad.b->rows();
  thread_local std::vector<float> t, out;
  t.resize(n * rank);
  out.resize(n * rows);
  LinearMain(pool, isa, *ad.a, x, n, t.data());
  LinearMain(pool, isa, *ad.b, t.data(), n, out.data());
  for (int64_t i = 0; i < n * rows; ++i) y[i] += ad.scale * out[i];
}

}  // namespace

void Linear(ThreadPool& pool, Isa isa, const WeightTensor& w, const float* x, int64_t n, float* y) {
  if (w.split()) {
    LinearSplit(pool, isa, w, x, n, y);
  } else {
    LinearMain(pool, isa, w, x, n, y);
  }
  if (w.adapter()) LinearAdapter(pool, isa, *w.adapter(), x, n, y);
}

void LinearGroup(ThreadPool& pool, Isa isa, std::span<const WeightTensor* const> ws, const float* x,
                 int64_t n, std::span<float* const> ys) {
  bool together = true;
  for (const WeightTensor* w : ws) {
    together = together && !w->split() && !w->adapter() && !w->sparse() &&
               w->format() == ws[0]->format() && w->cols() == ws[0]->cols();
  }
  if (together) {
    LinearRows(pool, isa, ws, x, n, ys);
    return;
  }
  for (size_t i = 0; i < ws.size(); ++i) Linear(pool, isa, *ws[i], x, n, ys[i]);
}

}  // namespace squeeze
