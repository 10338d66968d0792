// Reference TF32 rounding and the reference W8A8 and TF32 kernels (see quant_act.h). Scalar
// and simple on purpose: these define the semantics the SIMD kernels are tested against.
#include "ref/quant_act.h"

#include <cstring>
#include <vector>

#include "ref/quant_int.h"

namespace squeeze {

float Tf32Round(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7f800000u) != 0x7f800000u) {  // finite: round to nearest even at bit 13
    u += 0xfffu + ((u >> 13) & 1u);
    u &= ~0x1fffu;
  }
  float r;
  std::memcpy(&r, &u, 4);
  return r;
}

void quantize_row_tf32_ref(const float* x, void* y, int64_t n) {
  float* out = static_cast<float*>(y);
  for (int64_t i = 0; i < n; ++i) out[i] = Tf32Round(x[i]);
}

void dequantize_row_tf32(const void* x, float* y, int64_t n) {
  std::memcpy(y, x, size_t(n) * 4);
}

void gemv_w8a8_ref(const void* w, int64_t row_bytes, const float* x, float* y, int64_t rows,
                   int64_t cols) {
  // The input quantized exactly like a q8_channel weight row: f32 scale, then codes.
  std::vector<uint8_t> xq(size_t(4 + cols));
  quantize_row_q8_channel_ref(x, xq.data(), cols);
  float sx;
  std::memcpy(&sx, xq.data(), 4);
  const int8_t* qx = reinterpret_cast<const int8_t*>(xq.data() + 4);
  const uint8_t* p = static_cast<const uint8_t*>(w);
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* row = p + r * row_bytes;
    float sw;
    std::memcpy(&sw, row, 4);
    const int8_t* qw = reinterpret_cast<const int8_t*>(row + 4);
    int64_t dot = 0;
    for (int64_t c = 0; c < cols; ++c) dot += int64_t(qw[c]) * int64_t(qx[c]);
    y[r] = float(double(sw) * double(sx) * double(dot));
  }
}

void gemm_w8a8_ref(const void* w, int64_t row_bytes, const float* x, int64_t n, float* y,
                   int64_t ldy, int64_t rows, int64_t cols) {
  std::vector<float> out(rows);
  for (int64_t t = 0; t < n; ++t) {
    gemv_w8a8_ref(w, row_bytes, x + t * cols, out.data(), rows, cols);
    for (int64_t r = 0; r < rows; ++r) y[t * ldy + r] = out[r];
  }
}

void gemv_tf32_ref(const void* w, int64_t row_bytes, const float* x, float* y, int64_t rows,
                   int64_t cols) {
  std::vector<float> xr(cols), row(cols);
  for (int64_t c = 0; c < cols; ++c) xr[c] = Tf32Round(x[c]);
  const uint8_t* p = static_cast<const uint8_t*>(w);
  for (int64_t r = 0; r < rows; ++r) {
    dequantize_row_tf32(p + r * row_bytes, row.data(), cols);
    double acc = 0;
    for (int64_t c = 0; c < cols; ++c) acc += double(row[c]) * double(xr[c]);
    y[r] = float(acc);
  }
}

void gemm_tf32_ref(const void* w, int64_t row_bytes, const float* x, int64_t n, float* y,
                   int64_t ldy, int64_t rows, int64_t cols) {
  std::vector<float> out(rows);
  for (int64_t t = 0; t < n; ++t) {
    gemv_tf32_ref(w, row_bytes, x + t * cols, out.data(), rows, cols);
    for (int64_t r = 0; r < rows; ++r) y[t * ldy + r] = out[r];
  }
}

}  // namespace squeeze
