// Row-parallel dispatch of the format's matrix kernels, and the two-part product of a
// tensor with split columns (LLM.int8()).
#include "engine/linear.h"

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

void LinearMain(ThreadPool& pool, Isa isa, const WeightTensor& w, const float* x, int64_t n,
                float* y) {
  const MatmulKernels& k = GetMatmulKernels(w.format(), isa);
  const int64_t rows = w.rows(), cols = w.cols(), rb = w.row_bytes();
  // Chunks of 16 rows keep each thread's output on whole cache lines.
  const PreparedGemv* prepared = n == 1 ? GetPreparedGemv(w.format(), isa) : nullptr;
  void* buf = prepared ? PreparedBuffer(prepared->bytes(cols)) : nullptr;
  if (buf != nullptr) {
    // The activations are rounded once here, not once per chunk.
    prepared->prepare(x, cols, buf);
    pool.ParallelFor(
        rows,
        [&](int64_t r0, int64_t r1) { prepared->gemv(w.row(r0), rb, buf, y + r0, r1 - r0, cols); },
        16);
  } else if (n == 1) {
    pool.ParallelFor(
        rows, [&](int64_t r0, int64_t r1) { k.gemv(w.row(r0), rb, x, y + r0, r1 - r0, cols); }, 16);
  } else {
    pool.ParallelFor(
        rows,
        [&](int64_t r0, int64_t r1) { k.gemm(w.row(r0), rb, x, n, y + r0, rows, r1 - r0, cols); },
        16);
  }
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

}  // namespace

void Linear(ThreadPool& pool, Isa isa, const WeightTensor& w, const float* x, int64_t n, float* y) {
  if (w.split()) {
    LinearSplit(pool, isa, w, x, n, y);
  } else {
    LinearMain(pool, isa, w, x, n, y);
  }
}

}  // namespace squeeze
