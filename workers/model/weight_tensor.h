// A weight matrix as held for inference: format, logical shape and packed bytes. Its byte
// count is the size squeeze reports; nothing is ever counted from a float copy.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "squeeze/kernels/format.h"

namespace squeeze {

class WeightTensor;

// Input columns of a matrix computed apart, in another format (LLM.int8() keeps outlier
// columns in 16 bits): y = main · x' + dense · x[cols], where x' is x with `cols` zeroed.
// The main tensor holds zeros in those columns.
struct SplitColumns {
  std::vector<int32_t> cols;                  // sorted, distinct input column indices
  std::shared_ptr<const WeightTensor> dense;  // (rows, cols.size())
};

// A low-rank adapter kept beside a matrix (LoRA, unmerged): y = W x + scale * B (A x). The
// engine runs the two small products after the main one, so their bytes and time are real.
struct LowRankAdapter {
  std::shared_ptr<const WeightTensor> a;  // (rank, cols)
  std::shared_ptr<const WeightTensor> b;  // (rows, rank)
  float scale = 1.0f;
};

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
  // Bytes held for inference: the packed rows (scales and zero points are inside them), plus
  // a split part's dense bytes and its int32 column indices, plus an adapter's bytes.
  int64_t bytes() const;
  // Identity of the storage (two tensors sharing bytes, like a tied classifier, compare equal).
  const void* storage_id() const { return data_; }

  // The columns computed apart, or null (see SplitColumns).
  const SplitColumns* split() const { return split_.get(); }
  // This tensor with `split` attached (it must have rows() rows and valid column indices).
  WeightTensor WithSplit(SplitColumns split) const;

  // The low-rank adapter, or null (see LowRankAdapter).
  const LowRankAdapter* adapter() const { return adapter_.get(); }
  // This tensor with `adapter` attached (A must be (rank, cols()), B (rows(), rank), neither
  // with a split or an adapter of its own).
  WeightTensor WithAdapter(LowRankAdapter adapter) const;

  // Unpacks row r into out[0, cols) (a split part's columns and an adapter's low-rank term
  // included: the values the engine's product effectively multiplies by).
  void RowToFloat(int64_t r, float* out) const;
  // Unpacks the whole matrix (rows * cols floats, row-major).
  std::vector<float> ToFloat() const;

 private:
  WeightFormat format_ = WeightFormat::kF32;
  int64_t rows_ = 0, cols_ = 0, row_bytes_ = 0;
  const uint8_t* data_ = nullptr;
  std::shared_ptr<const void> keepalive_;
  std::shared_ptr<const SplitColumns> split_;
  std::shared_ptr<const LowRankAdapter> adapter_;
};

}  // namespace squeeze
