// WeightTensor storage: owned bytes or a view into a mapped file.
#include "model/weight_tensor.h"

#include <cassert>

namespace squeeze {

WeightTensor WeightTensor::Owned(WeightFormat format, int64_t rows, int64_t cols,
                                 std::vector<uint8_t> bytes) {
  auto owner = std::make_shared<std::vector<uint8_t>>(std::move(bytes));
  WeightTensor t;
  t.format_ = format;
  t.rows_ = rows;
  t.cols_ = cols;
  t.row_bytes_ = RowBytes(format, cols);
  assert(int64_t(owner->size()) == rows * t.row_bytes_);
  t.data_ = owner->data();
  t.keepalive_ = std::move(owner);
  return t;
}

WeightTensor WeightTensor::View(WeightFormat format, int64_t rows, int64_t cols,
                                const uint8_t* data, std::shared_ptr<const void> keepalive) {
  WeightTensor t;
  t.format_ = format;
  t.rows_ = rows;
  t.cols_ = cols;
  t.row_bytes_ = RowBytes(format, cols);
  t.data_ = data;
  t.keepalive_ = std::move(keepalive);
  return t;
}

WeightTensor WeightTensor::FromFloat(WeightFormat format, int64_t rows, int64_t cols,
                                     const float* values) {
  const int64_t rb = RowBytes(format, cols);
  std::vector<uint8_t> bytes(rows * rb);
  const FormatTraits& t = GetFormatTraits(format);
  for (int64_t r = 0; r < rows; ++r)
    t.from_float_ref(values + r * cols, bytes.data() + r * rb, cols);
  return Owned(format, rows, cols, std::move(bytes));
}

int64_t WeightTensor::bytes() const {
  int64_t b = rows_ * row_bytes_;
  if (split_) b += split_->dense->bytes() + int64_t(split_->cols.size()) * int64_t(sizeof(int32_t));
  return b;
}

// TODO(llm_int8): WithSplit, and RowToFloat adding the split columns.

void WeightTensor::RowToFloat(int64_t r, float* out) const {
  GetFormatTraits(format_).to_float(row(r), out, cols_);
}

std::vector<float> WeightTensor::ToFloat() const {
  std::vector<float> out(rows_ * cols_);
  for (int64_t r = 0; r < rows_; ++r) RowToFloat(r, out.data() + r * cols_);
  return out;
}

}  // namespace squeeze
