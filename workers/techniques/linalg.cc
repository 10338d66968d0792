// Cholesky factorization, triangular inverse and SPD inverse (see linalg.h). Loops run along
// rows (contiguous memory); every O(n³) step is a dot product or an axpy over row segments.
#include "techniques/linalg.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace squeeze {

absl::Status CholeskyLower(double* a, int64_t n) {
  // Row by row (Cholesky-Banachiewicz): L[i][j] = (A[i][j] - L[i][:j]·L[j][:j]) / L[j][j].
  for (int64_t i = 0; i < n; ++i) {
    double* li = a + i * n;
    for (int64_t j = 0; j <= i; ++j) {
      const double* lj = a + j * n;
      double s = li[j];
      for (int64_t k = 0; k < j; ++k) s -= li[k] * lj[k];
      if (j < i) {
        li[j] = s / lj[j];
      } else {
        if (!(s > 0.0) || !std::isfinite(s)) {
          return absl::FailedPreconditionError(absl::StrCat(
              "Cholesky: matrix is not positive definite (pivot ", i, " of ", n, " is ", s, ")"));
        }
        li[i] = std::sqrt(s);
      }
    }
    for (int64_t j = i + 1; j < n; ++j) li[j] = 0.0;
  }
  return absl::OkStatus();
}

void InvertLowerTriangular(double* l, int64_t n) {
  // Row i of X = L⁻¹ solves L[i][:i+1]·X[:i+1][:] = e_i: X[i] = (e_i - Σ_k<i L[i][k] X[k]) /
  // L[i][i]. Row i of L is read before it is overwritten, so a copy of it is kept.
  std::vector<double> row(n);
  for (int64_t i = 0; i < n; ++i) {
    double* xi = l + i * n;
    for (int64_t k = 0; k <= i; ++k) row[k] = xi[k];
    for (int64_t k = 0; k <= i; ++k) xi[k] = 0.0;
    xi[i] = 1.0;
    for (int64_t k = 0; k < i; ++k) {
      const double c = row[k];
      if (c == 0.0) continue;
      const double* xk = l + k * n;
      for (int64_t j = 0; j <= k; ++j) xi[j] -= c * xk[j];
    }
    const double inv = 1.0 / row[i];
    for (int64_t j = 0; j <= i; ++j) xi[j] *= inv;
  }
}

absl::StatusOr<std::vector<double>> InverseSpd(const double* a, int64_t n) {
  std::vector<double> l(a, a + n * n);
  if (absl::Status s = CholeskyLower(l.data(), n); !s.ok()) return s;
  InvertLowerTriangular(l.data(), n);  // X = L⁻¹, and a⁻¹ = Xᵀ X
  std::vector<double> inv(n * n, 0.0);
  // Xᵀ X = Σ_k X[k]ᵀ X[k] (row k of X is non-zero in columns 0..k): rank-one updates of the
  // lower triangle, then mirrored.
  for (int64_t k = 0; k < n; ++k) {
    const double* xk = l.data() + k * n;
    for (int64_t i = 0; i <= k; ++i) {
      const double c = xk[i];
      if (c == 0.0) continue;
      double* out = inv.data() + i * n;
      for (int64_t j = 0; j <= i; ++j) out[j] += c * xk[j];
    }
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) inv[i * n + j] = inv[j * n + i];
  return inv;
}

absl::StatusOr<std::vector<double>> UpperCholeskyOfInverse(const double* a, int64_t n) {
  absl::StatusOr<std::vector<double>> inv = InverseSpd(a, n);
  if (!inv.ok()) return inv.status();
  std::vector<double>& m = *inv;
  if (absl::Status s = CholeskyLower(m.data(), n); !s.ok()) return s;
  // a⁻¹ = L Lᵀ = Uᵀ U with U = Lᵀ.
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = i + 1; j < n; ++j) {
      m[i * n + j] = m[j * n + i];
      m[j * n + i] = 0.0;
    }
  }
  return inv;
}

}  // namespace squeeze
