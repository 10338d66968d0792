// Scalar reference CSR kernels (sums in double): the oracle of cpu/matmul_csr_avx2.cc.
#include <vector>

#include "squeeze/kernels/csr.h"
#include "squeeze/kernels/fp16.h"

namespace squeeze {
namespace {

template <typename V>
double Value(const V* v, int64_t k) {
  if constexpr (sizeof(V) == 4) {
    return double(v[k]);
  } else {
    return double(fp16_to_fp32(v[k]));
  }
}

template <typename V>
void CsrGemvRef(const CsrView& w, const float* x, float* y, int64_t r0, int64_t r1) {
  const V* v = static_cast<const V*>(w.values);
  for (int64_t r = r0; r < r1; ++r) {
    double acc = 0;
    for (int64_t k = w.start[r]; k < int64_t(w.start[r + 1]); ++k)
      acc += Value(v, k) * double(x[w.index[k]]);
    y[r - r0] = float(acc);
  }
}

template <typename V>
void CsrGemmRef(const CsrView& w, const float* xt, int64_t n, float* y, int64_t ldy, int64_t r0,
                int64_t r1) {
  const V* v = static_cast<const V*>(w.values);
  std::vector<double> acc(static_cast<size_t>(n));
  for (int64_t r = r0; r < r1; ++r) {
    acc.assign(size_t(n), 0.0);
    for (int64_t k = w.start[r]; k < int64_t(w.start[r + 1]); ++k) {
      const double a = Value(v, k);
      const float* xc = xt + int64_t(w.index[k]) * n;
      for (int64_t t = 0; t < n; ++t) acc[size_t(t)] += a * double(xc[t]);
    }
    for (int64_t t = 0; t < n; ++t) y[t * ldy + (r - r0)] = float(acc[size_t(t)]);
  }
}

const CsrKernels kRefF32 = {CsrGemvRef<float>, CsrGemmRef<float>};
const CsrKernels kRefF16 = {CsrGemvRef<uint16_t>, CsrGemmRef<uint16_t>};

}  // namespace

bool CsrHoldsValues(WeightFormat f) {
  return f == WeightFormat::kF32 || f == WeightFormat::kF16;
}

int64_t CsrBytes(WeightFormat value_format, int64_t rows, int64_t kept) {
  const int64_t value_bytes = value_format == WeightFormat::kF16 ? 2 : 4;
  return kept * (value_bytes + int64_t(sizeof(uint16_t))) + (rows + 1) * int64_t(sizeof(uint32_t));
}

const CsrKernels& GetCsrKernelsRef(WeightFormat values) {
  return values == WeightFormat::kF16 ? kRefF16 : kRefF32;
}

}  // namespace squeeze
