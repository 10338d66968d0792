// The training products against their scalar references: shapes that are not multiples of
// the kernel tiles (4 rows x 3 tokens, 8 lanes) or of the task blocks (64 x 96), with and
// without accumulation, on one thread and on a pool, at every instruction set this CPU has.
#include "train/matmul.h"

#include <gtest/gtest.h>

#include <cmath>
#include <tuple>
#include <vector>

#include "util/rng.h"

namespace squeeze {
namespace {

std::vector<float> Random(int64_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = float(rng.Normal());
  return v;
}

// Normalized squared error: sum (a - b)^2 / sum b^2.
double Nmse(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += double(a[i] - b[i]) * (a[i] - b[i]);
    den += double(b[i]) * b[i];
  }
  return num / std::max(den, 1e-30);
}

class TrainMatmulTest : public ::testing::TestWithParam<std::tuple<int64_t, int64_t, int64_t>> {};

TEST_P(TrainMatmulTest, ProductsMatchReference) {
  const auto [n, m, k] = GetParam();
  ThreadPool pool(3);
  for (Isa isa : {Isa::kRef, Isa::kAvx2, Isa::kAvx512}) {
    if (!IsaSupported(isa)) continue;
    for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
      const TrainOps ops{p, isa};
      for (bool acc : {false, true}) {
        SCOPED_TRACE(testing::Message()
                     << IsaName(isa) << (p ? " pool" : " serial") << (acc ? " accumulate" : ""));
        const std::vector<float> x = Random(n * k, 1), w = Random(m * k, 2), dy = Random(n * m, 3);
        // f32 sums of up to a few hundred products in another order: relative error ~1e-6;
        // 1e-10 of normalized squared error leaves room and catches any wrong element.
        std::vector<float> y = Random(n * m, 4), y_ref = y;
        MatMulNT(ops, x.data(), w.data(), y.data(), n, m, k, acc);
        MatMulNT_ref(x.data(), w.data(), y_ref.data(), n, m, k, acc);
        EXPECT_LT(Nmse(y, y_ref), 1e-10);
        std::vector<float> dx = Random(n * k, 5), dx_ref = dx;
        MatMulNN(ops, dy.data(), w.data(), dx.data(), n, m, k, acc);
        MatMulNN_ref(dy.data(), w.data(), dx_ref.data(), n, m, k, acc);
        EXPECT_LT(Nmse(dx, dx_ref), 1e-10);
        std::vector<float> dw = Random(m * k, 6), dw_ref = dw;
        MatMulTN(ops, dy.data(), x.data(), dw.data(), n, m, k, acc);
        MatMulTN_ref(dy.data(), x.data(), dw_ref.data(), n, m, k, acc);
        EXPECT_LT(Nmse(dw, dw_ref), 1e-10);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, TrainMatmulTest,
                         ::testing::Values(std::make_tuple(1, 1, 1), std::make_tuple(7, 5, 3),
                                           std::make_tuple(13, 67, 33),
                                           std::make_tuple(100, 130, 70),
                                           std::make_tuple(200, 64, 96)));

TEST(TrainMatmulTest, GeneralProductReadsStridedViews) {
  // A (M x K) stored with padded rows (a_row = K + 3) and as a transposed view (a_row = 1),
  // C with a leading dimension wider than N; shapes off the 6 x 16 tiles and the 256 K block.
  const int64_t M = 17, N = 37, K = 300, lda = K + 3, ldc = N + 5;
  ThreadPool pool(2);
  const std::vector<float> a = Random(M * lda, 11), at = Random(K * M, 12), b = Random(K * N, 13);
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
    if (!IsaSupported(isa)) continue;
    for (bool acc : {false, true}) {
      std::vector<float> c = Random(M * ldc, 14), c_ref = c;
      Gemm({&pool, isa}, a.data(), lda, 1, b.data(), N, c.data(), ldc, M, N, K, acc);
      Gemm_ref(a.data(), lda, int64_t(1), b.data(), N, c_ref.data(), ldc, M, N, K, acc);
      EXPECT_LT(Nmse(c, c_ref), 1e-10);
      c = c_ref = Random(M * ldc, 15);
      Gemm({&pool, isa}, at.data(), 1, M, b.data(), N, c.data(), ldc, M, N, K, acc);
      Gemm_ref(at.data(), int64_t(1), M, b.data(), N, c_ref.data(), ldc, M, N, K, acc);
      EXPECT_LT(Nmse(c, c_ref), 1e-10);
    }
  }
}

TEST(TrainMatmulTest, TransposeIsExact) {
  ThreadPool pool(2);
  const std::vector<float> a = Random(37 * 70, 9);
  std::vector<float> t(a.size());
  Transpose({&pool, Isa::kRef}, a.data(), t.data(), 37, 70);
  for (int64_t r = 0; r < 37; ++r)
    for (int64_t c = 0; c < 70; ++c) ASSERT_EQ(t[c * 37 + r], a[r * 70 + c]);
}

}  // namespace
}  // namespace squeeze
