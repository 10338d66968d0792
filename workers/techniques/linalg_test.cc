// Linear algebra helpers against naive references: L Lᵀ reproduces the matrix, L⁻¹ L = I,
// A⁻¹ A = I, and the upper factor of the inverse satisfies Uᵀ U · A = I.
#include "techniques/linalg.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

namespace squeeze {
namespace {

// A random symmetric positive definite n x n matrix: B Bᵀ + n·I·0.1.
std::vector<double> RandomSpd(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> nd;
  std::vector<double> b(n * n), a(n * n, 0.0);
  for (double& v : b) v = nd(rng);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t k = 0; k < n; ++k) s += b[i * n + k] * b[j * n + k];
      a[i * n + j] = s + (i == j ? 0.1 * n : 0.0);
    }
  return a;
}

// c = a · b (n x n, naive).
std::vector<double> MatMul(const std::vector<double>& a, const std::vector<double>& b, int64_t n) {
  std::vector<double> c(n * n, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < n; ++k)
      for (int64_t j = 0; j < n; ++j) c[i * n + j] += a[i * n + k] * b[k * n + j];
  return c;
}

std::vector<double> Transpose(const std::vector<double>& a, int64_t n) {
  std::vector<double> t(n * n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) t[j * n + i] = a[i * n + j];
  return t;
}

void ExpectIdentity(const std::vector<double>& m, int64_t n, double tol) {
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      EXPECT_NEAR(m[i * n + j], i == j ? 1.0 : 0.0, tol) << i << "," << j;
}

TEST(LinalgTest, CholeskyReproducesTheMatrixAndIsLowerTriangular) {
  for (int64_t n : {1, 2, 7, 40}) {
    const std::vector<double> a = RandomSpd(n, uint32_t(n));
    std::vector<double> l = a;
    ASSERT_TRUE(CholeskyLower(l.data(), n).ok());
    for (int64_t i = 0; i < n; ++i) {
      EXPECT_GT(l[i * n + i], 0.0);
      for (int64_t j = i + 1; j < n; ++j) EXPECT_EQ(l[i * n + j], 0.0);
    }
    const std::vector<double> llt = MatMul(l, Transpose(l, n), n);
    for (int64_t i = 0; i < n * n; ++i) EXPECT_NEAR(llt[i], a[i], 1e-9 * (1 + std::fabs(a[i])));
  }
}

TEST(LinalgTest, CholeskyRejectsIndefiniteMatrices) {
  std::vector<double> a = {1, 2, 2, 1};  // eigenvalues 3 and -1
  const absl::Status s = CholeskyLower(a.data(), 2);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), ::testing::HasSubstr("not positive definite"));
  std::vector<double> z = {0.0};
  EXPECT_FALSE(CholeskyLower(z.data(), 1).ok());
}

TEST(LinalgTest, TriangularInverseTimesMatrixIsIdentity) {
  const int64_t n = 30;
  std::vector<double> l = RandomSpd(n, 3);
  ASSERT_TRUE(CholeskyLower(l.data(), n).ok());
  std::vector<double> x = l;
  InvertLowerTriangular(x.data(), n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) EXPECT_EQ(x[i * n + j], 0.0);
  ExpectIdentity(MatMul(x, l, n), n, 1e-10);
}

TEST(LinalgTest, InverseAndUpperFactorOfTheInverse) {
  const int64_t n = 50;
  const std::vector<double> a = RandomSpd(n, 9);
  absl::StatusOr<std::vector<double>> inv = InverseSpd(a.data(), n);
  ASSERT_TRUE(inv.ok());
  ExpectIdentity(MatMul(*inv, a, n), n, 1e-9);
  absl::StatusOr<std::vector<double>> u = UpperCholeskyOfInverse(a.data(), n);
  ASSERT_TRUE(u.ok());
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_GT((*u)[i * n + i], 0.0);
    for (int64_t j = 0; j < i; ++j) EXPECT_EQ((*u)[i * n + j], 0.0);
  }
  ExpectIdentity(MatMul(MatMul(Transpose(*u, n), *u, n), a, n), n, 1e-9);
  // The error-feedback meaning of U's last diagonal: 1/U_nn² = A_nn for the last column
  // (the Schur complement of a 1x1 trailing block is the block itself).
  const double un = (*u)[(n - 1) * n + n - 1];
  EXPECT_NEAR(1.0 / (un * un), a[(n - 1) * n + n - 1], 1e-8 * a[(n - 1) * n + n - 1]);
}

}  // namespace
}  // namespace squeeze
