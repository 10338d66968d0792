// A weight matrix as held for inference: format, logical shape and packed bytes. Its byte
// count is the size squeeze reports; nothing is ever counted from a float copy.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "squeeze/kernels/format.h"

namespace squeeze {

class WeightTensor {
 public:
  WeightTensor() = default;

  // Takes ownership of packed bytes (rows * RowBytes(format, cols) of them).
  static WeightTensor Owned(WeightFormat format, int64_t rows, int64_t cols,
                            std::vector<uint8_t> bytes);
  // Refers to packed bytes owned by `keepalive` (a mapped file, say), without copying.
  static WeightTensor View(WeightFormat format, int64_t rows, int64_t cols, const uint8_t* data,
                           std::shared_ptr<const void> keepalive);
  // Packs a row-major float matrix with the format's reference quantizer.
  static WeightTensor FromFloat(WeightFormat format, int64_t rows, int64_t cols,
                                const float* values);

  WeightFormat format() const { return format_; }
  int64_t rows() const { return rows_; }  // output features
  int64_t cols() const { return cols_; }  // input features
  int64_t row_bytes() const { return row_bytes_; }
  const uint8_t* data() const { return data_; }
  const uint8_t* row(int64_t r) const { return data_ + r * row_bytes_; }
  bool empty() const { return data_ == nullptr; }
  // Bytes held for inference: the packed rows (scales and zero points are inside them).
  int64_t bytes() const { return rows_ * row_bytes_; }
  // Identity of the storage (two tensors sharing bytes, like a tied classifier, compare equal).
  const void* storage_id() const { return data_; }

  // Unpacks row r into out[0, cols).
  void RowToFloat(int64_t r, float* out) const;
  // Unpacks the whole matrix (rows * cols floats, row-major).
  std::vector<float> ToFloat() const;

 private:
  WeightFormat format_ = WeightFormat::kF32;
  int64_t rows_ = 0, cols_ = 0, row_bytes_ = 0;
  const uint8_t* data_ = nullptr;
  std::shared_ptr<const void> keepalive_;
};

}  // namespace squeeze
