// Unstructured sparse matrices in compressed sparse row (CSR) form: the kept weights of each
// row, their column indices and where each row starts. Unlike the formats of format.h a row's
// bytes depend on how many of its weights are kept, so these matrices have their own kernels.
// Values are f32 or f16, column indices 16-bit (at most kCsrMaxCols columns).
#pragma once

#include <cstdint>

#include "squeeze/kernels/format.h"
#include "squeeze/kernels/isa.h"

namespace squeeze {

inline constexpr int64_t kCsrMaxCols = 65536;

// A view of a CSR matrix. Row r keeps start[r + 1] - start[r] weights, at positions start[r]
// onward of `index` (columns, ascending within a row) and `values`.
struct CsrView {
  const uint32_t* start = nullptr;  // rows + 1 offsets, start[0] == 0
  const uint16_t* index = nullptr;
  const void* values = nullptr;  // float or uint16_t (IEEE half), as `value_format` says
  WeightFormat value_format = WeightFormat::kF32;  // kF32 or kF16
};

// Whether CSR storage can hold values of format f (f32 or f16).
bool CsrHoldsValues(WeightFormat f);

// Bytes of a CSR matrix: values, 16-bit indices and the rows + 1 32-bit row starts.
int64_t CsrBytes(WeightFormat value_format, int64_t rows, int64_t kept);

struct CsrKernels {
  // y[r - r0] = sum over row r's kept weights of value * x[column], for r in [r0, r1).
  void (*gemv)(const CsrView& w, const float* x, float* y, int64_t r0, int64_t r1);
  // Many tokens at once, on the inputs transposed: xt is (cols, n) row-major (xt[c * n + t] is
  // column c of token t). y[t * ldy + (r - r0)] for t in [0, n), r in [r0, r1); writes only
  // those elements.
  void (*gemm)(const CsrView& w, const float* xt, int64_t n, float* y, int64_t ldy, int64_t r0,
               int64_t r1);
};

// The kernels for CSR values of format f (f32 or f16) on an instruction set (falls back to
// the reference where a level has none).
const CsrKernels& GetCsrKernels(WeightFormat values, Isa isa);
// The scalar reference (sums in double), the oracle of the optimized kernels.
const CsrKernels& GetCsrKernelsRef(WeightFormat values);

}  // namespace squeeze
