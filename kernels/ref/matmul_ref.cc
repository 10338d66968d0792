// Scalar reference matrix products for every format: dequantize a row, then a plain dot
// product accumulated in double. Slow on purpose; this is the oracle.
#include <vector>

#include "squeeze/kernels/format.h"
#include "squeeze/kernels/matmul.h"

namespace squeeze {
namespace {

template <WeightFormat F>
void gemv_ref(const void* w, int64_t row_bytes, const float* x, float* y, int64_t rows,
              int64_t cols) {
  const FormatTraits& t = GetFormatTraits(F);
  std::vector<float> row(cols);
  const uint8_t* p = static_cast<const uint8_t*>(w);
  for (int64_t r = 0; r < rows; ++r) {
    t.to_float(p + r * row_bytes, row.data(), cols);
    double acc = 0;
    for (int64_t c = 0; c < cols; ++c) acc += double(row[c]) * double(x[c]);
    y[r] = float(acc);
  }
}

template <WeightFormat F>
void gemm_ref(const void* w, int64_t row_bytes, const float* x, int64_t n, float* y, int64_t ldy,
              int64_t rows, int64_t cols) {
  for (int64_t t = 0; t < n; ++t) {
    std::vector<float> out(rows);
    gemv_ref<F>(w, row_bytes, x + t * cols, out.data(), rows, cols);
    for (int64_t r = 0; r < rows; ++r) y[t * ldy + r] = out[r];
  }
}

template <WeightFormat F>
constexpr MatmulKernels Ref() {
  return {gemv_ref<F>, gemm_ref<F>};
}

const MatmulKernels kRefKernels[kWeightFormatCount] = {
    Ref<WeightFormat::kF32>(),       Ref<WeightFormat::kF16>(),
    Ref<WeightFormat::kBF16>(),      Ref<WeightFormat::kQ8Channel>(),
    Ref<WeightFormat::kQ8G32>(),     Ref<WeightFormat::kQ8G64>(),
    Ref<WeightFormat::kQ8G128>(),    Ref<WeightFormat::kQ8G32Asym>(),
    Ref<WeightFormat::kQ8G64Asym>(), Ref<WeightFormat::kQ8G128Asym>(),
    Ref<WeightFormat::kQ4G32>(),     Ref<WeightFormat::kQ4G64>(),
    Ref<WeightFormat::kQ4G128>(),    Ref<WeightFormat::kQ4G32Asym>(),
    Ref<WeightFormat::kQ4G64Asym>(), Ref<WeightFormat::kQ4G128Asym>(),
    Ref<WeightFormat::kNf4>(),       Ref<WeightFormat::kFp4>(),
    Ref<WeightFormat::kFp8E4M3>(),   Ref<WeightFormat::kFp8E5M2>(),
    Ref<WeightFormat::kQ3G32>(),     Ref<WeightFormat::kQ3G64>(),
    Ref<WeightFormat::kQ3G128>(),    Ref<WeightFormat::kQ3G32Asym>(),
    Ref<WeightFormat::kQ3G64Asym>(), Ref<WeightFormat::kQ3G128Asym>(),
    Ref<WeightFormat::kQ2G32>(),     Ref<WeightFormat::kQ2G64>(),
    Ref<WeightFormat::kQ2G128>(),    Ref<WeightFormat::kQ2G32Asym>(),
    Ref<WeightFormat::kQ2G64Asym>(), Ref<WeightFormat::kQ2G128Asym>(),
};
static_assert(sizeof(kRefKernels) / sizeof(kRefKernels[0]) == kWeightFormatCount);

}  // namespace

const MatmulKernels& GetMatmulKernelsRef(WeightFormat f) {
  return kRefKernels[static_cast<int>(f)];
}

}  // namespace squeeze
