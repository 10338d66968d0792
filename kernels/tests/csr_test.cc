// CSR kernels: the reference against a dense product of the same matrix, and the AVX2 kernels
// against the reference (f32 and f16 values; empty, full and odd-length rows; row ranges; token
// counts around the gemm's blocks of 8 and 32), with sentinels around every output.
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "squeeze/kernels/csr.h"
#include "squeeze/kernels/fp16.h"

namespace squeeze {
namespace {

constexpr float kSentinel = -12345.0f;

// A random CSR matrix and its dense twin (the values as the kernels see them).
struct Matrix {
  int64_t rows = 0, cols = 0;
  WeightFormat values = WeightFormat::kF32;
  std::vector<uint32_t> start;
  std::vector<uint16_t> index;
  std::vector<float> f32;
  std::vector<uint16_t> f16;
  std::vector<float> dense;
  CsrView View() const {
    return {start.data(), index.data(),
            values == WeightFormat::kF16 ? static_cast<const void*>(f16.data()) : f32.data(),
            values};
  }
};

Matrix Random(int64_t rows, int64_t cols, double keep, WeightFormat values, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f), p(0.0f, 1.0f);
  Matrix m;
  m.rows = rows;
  m.cols = cols;
  m.values = values;
  m.dense.assign(rows * cols, 0.0f);
  m.start.push_back(0);
  for (int64_t r = 0; r < rows; ++r) {
    // Row 0 is empty and row 1 full, whatever `keep` is.
    const double k = r == 0 ? 0.0 : r == 1 ? 1.0 : keep;
    for (int64_t c = 0; c < cols; ++c) {
      if (p(rng) >= k && k < 1.0) continue;
      float v = u(rng);
      if (values == WeightFormat::kF16) {
        m.f16.push_back(fp32_to_fp16(v));
        v = fp16_to_fp32(m.f16.back());
      } else {
        m.f32.push_back(v);
      }
      m.index.push_back(uint16_t(c));
      m.dense[r * cols + c] = v;
    }
    m.start.push_back(uint32_t(m.index.size()));
  }
  return m;
}

std::vector<float> RandomVector(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g;
  std::vector<float> v(n);
  for (float& x : v) x = g(rng);
  return v;
}

// Row r of the dense twin times x, and the error allowed to an f32 sum of the same terms:
// 1e-6 of the sum of their magnitudes (f32 summation in any order stays well inside it on these
// lengths; a term dropped or gathered from the wrong column costs ~1e-1).
struct Dot {
  double value, tolerance;
};
Dot DenseDot(const Matrix& m, int64_t r, const float* x) {
  double s = 0, a = 0;
  for (int64_t c = 0; c < m.cols; ++c) {
    const double term = double(m.dense[r * m.cols + c]) * double(x[c]);
    s += term;
    a += std::fabs(term);
  }
  return {s, 1e-6 * a + 1e-12};
}

class CsrTest : public ::testing::TestWithParam<std::tuple<WeightFormat, int64_t, double>> {};

TEST_P(CsrTest, GemvMatchesDenseAndReference) {
  const auto [values, cols, keep] = GetParam();
  const int64_t rows = 37;
  const Matrix m = Random(rows, cols, keep, values, uint32_t(cols));
  const std::vector<float> x = RandomVector(cols, 7);
  for (Isa isa : {Isa::kRef, Isa::kAvx2}) {
    if (isa == Isa::kAvx2 && !IsaSupported(Isa::kAvx2)) GTEST_SKIP() << "no AVX2 on this CPU";
    const CsrKernels& k = isa == Isa::kRef ? GetCsrKernelsRef(values) : GetCsrKernels(values, isa);
    // Rows [3, 30) of the matrix, with a sentinel on each side of the output.
    std::vector<float> y(27 + 2, kSentinel);
    k.gemv(m.View(), x.data(), y.data() + 1, 3, 30);
    EXPECT_EQ(y.front(), kSentinel);
    EXPECT_EQ(y.back(), kSentinel);
    for (int64_t r = 3; r < 30; ++r) {
      const Dot want = DenseDot(m, r, x.data());
      EXPECT_NEAR(y[r - 3 + 1], want.value, want.tolerance) << "isa " << int(isa) << " row " << r;
    }
  }
}

TEST_P(CsrTest, GemmMatchesGemvPerToken) {
  const auto [values, cols, keep] = GetParam();
  const int64_t rows = 21;
  const Matrix m = Random(rows, cols, keep, values, uint32_t(cols) + 1);
  if (!IsaSupported(Isa::kAvx2)) GTEST_SKIP() << "no AVX2 on this CPU";
  for (int64_t n : {1, 5, 8, 13, 32, 45}) {
    const std::vector<float> x = RandomVector(n * cols, uint32_t(n));
    std::vector<float> xt(cols * n);
    for (int64_t t = 0; t < n; ++t)
      for (int64_t c = 0; c < cols; ++c) xt[c * n + t] = x[t * cols + c];
    for (Isa isa : {Isa::kRef, Isa::kAvx2}) {
      const CsrKernels& k =
          isa == Isa::kRef ? GetCsrKernelsRef(values) : GetCsrKernels(values, isa);
      // Rows [2, 20) into a (n, ldy = 19) output whose last column is never written.
      const int64_t ldy = 19;
      std::vector<float> y(n * ldy + 1, kSentinel);
      k.gemm(m.View(), xt.data(), n, y.data(), ldy, 2, 20);
      EXPECT_EQ(y.back(), kSentinel);
      for (int64_t t = 0; t < n; ++t) {
        EXPECT_EQ(y[t * ldy + 18], kSentinel) << "n " << n << " token " << t;
        for (int64_t r = 2; r < 20; ++r) {
          const Dot want = DenseDot(m, r, x.data() + t * cols);
          EXPECT_NEAR(y[t * ldy + r - 2], want.value, want.tolerance)
              << "isa " << int(isa) << " n " << n << " token " << t << " row " << r;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, CsrTest,
    ::testing::Combine(::testing::Values(WeightFormat::kF32, WeightFormat::kF16),
                       ::testing::Values(int64_t(7), int64_t(64), int64_t(333), int64_t(4100)),
                       ::testing::Values(0.05, 0.3, 0.7)));

TEST(CsrBytesTest, CountsValuesIndicesAndRowStarts) {
  EXPECT_EQ(CsrBytes(WeightFormat::kF32, 10, 100), 100 * 4 + 100 * 2 + 11 * 4);
  EXPECT_EQ(CsrBytes(WeightFormat::kF16, 10, 100), 100 * 2 + 100 * 2 + 11 * 4);
  EXPECT_TRUE(CsrHoldsValues(WeightFormat::kF16));
  EXPECT_FALSE(CsrHoldsValues(WeightFormat::kQ4G32));
}

}  // namespace
}  // namespace squeeze
