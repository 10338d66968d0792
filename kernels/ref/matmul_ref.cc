// Scalar reference matrix products for every format: dequantize a row, then a plain dot
// product accumulated in double (W8A8 and TF32, which also transform the inputs, have their own
// in ref/quant_act.cc). Slow on purpose; this is the oracle. The integer formats first round
// the activations to int8 blocks and bf16 rounds them to bf16 (matmul.h, "Activation
// rounding").
#include <algorithm>
#include <cmath>
#include <vector>

#include "ref/quant_act.h"
#include "squeeze/kernels/format.h"
#include "squeeze/kernels/fp16.h"
#include "squeeze/kernels/matmul.h"

namespace squeeze {
namespace {

// The activations as the kernels of format F use them: x itself, or for the integer formats
// d * q per block of kActivationBlock values (d = absmax / 127 and q = nearbyint(x * (127 /
// absmax)), both in f32; d * q is kept exact in double).
template <WeightFormat F>
std::vector<double> ActivationsFor(const float* x, int64_t cols) {
  std::vector<double> xa(x, x + cols);
  if constexpr (F == WeightFormat::kBF16) {
    for (int64_t c = 0; c < cols; ++c) xa[c] = bf16_to_fp32(fp32_to_bf16(x[c]));
    return xa;
  }
  if (!QuantizesActivations(F)) return xa;
  for (int64_t b = 0; b < cols; b += kActivationBlock) {
    const int64_t e = std::min<int64_t>(cols, b + kActivationBlock);
    float amax = 0;
    for (int64_t c = b; c < e; ++c) amax = std::max(amax, std::fabs(x[c]));
    const float d = amax / 127.0f, id = amax > 0 ? 127.0f / amax : 0.0f;
    for (int64_t c = b; c < e; ++c) xa[c] = double(d) * double(std::nearbyint(x[c] * id));
  }
  return xa;
}

template <WeightFormat F>
void gemv_ref(const void* w, int64_t row_bytes, const float* x, float* y, int64_t rows,
              int64_t cols) {
  const FormatTraits& t = GetFormatTraits(F);
  const std::vector<double> xa = ActivationsFor<F>(x, cols);
  std::vector<float> row(cols);
  const uint8_t* p = static_cast<const uint8_t*>(w);
  for (int64_t r = 0; r < rows; ++r) {
    t.to_float(p + r * row_bytes, row.data(), cols);
    double acc = 0;
    for (int64_t c = 0; c < cols; ++c) acc += double(row[c]) * xa[c];
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

// W8A8 and TF32 also transform the inputs: their own kernels (ref/quant_act.h).
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
    {gemv_w8a8_ref, gemm_w8a8_ref},  {gemv_tf32_ref, gemm_tf32_ref},
    Ref<WeightFormat::kSp24F32>(),   Ref<WeightFormat::kSp24F16>(),
    Ref<WeightFormat::kSp48F32>(),   Ref<WeightFormat::kSp48F16>(),
};
static_assert(sizeof(kRefKernels) / sizeof(kRefKernels[0]) == kWeightFormatCount);

}  // namespace

bool QuantizesActivations(WeightFormat f) {
  const int i = static_cast<int>(f);
  return (i >= int(WeightFormat::kQ8Channel) && i <= int(WeightFormat::kQ4G128Asym)) ||
         (i >= int(WeightFormat::kQ3G32) && i <= int(WeightFormat::kQ2G128Asym));
}

const MatmulKernels& GetMatmulKernelsRef(WeightFormat f) {
  return kRefKernels[static_cast<int>(f)];
}

}  // namespace squeeze
