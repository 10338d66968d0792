// Dense symmetric linear algebra in double precision for the calibration-based techniques
// (GPTQ's inverse Hessian factor): Cholesky, triangular inverse, SPD inverse. Matrices are
// n x n, row-major; sizes are the layer widths (up to a few tens of thousands).
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace squeeze {

// Factors the symmetric positive definite `a` as L Lᵀ in place: the lower triangle becomes L,
// the strict upper triangle zero. Only the lower triangle of `a` is read. Fails (naming the
// pivot) when `a` is not numerically positive definite; `a` is then partly overwritten.
absl::Status CholeskyLower(double* a, int64_t n);

// Replaces the lower-triangular `l` (non-zero diagonal; the upper triangle must be zero) by
// its inverse, which is lower-triangular too.
void InvertLowerTriangular(double* l, int64_t n);

// The inverse of the symmetric positive definite `a` (via its Cholesky factor).
absl::StatusOr<std::vector<double>> InverseSpd(const double* a, int64_t n);

// The upper-triangular U with Uᵀ U = a⁻¹ (the Cholesky factor of the inverse, upper form, as
// GPTQ uses it: row i holds the error-feedback weights of column i on columns > i).
absl::StatusOr<std::vector<double>> UpperCholeskyOfInverse(const double* a, int64_t n);

}  // namespace squeeze
