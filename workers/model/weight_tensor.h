// A weight matrix as held for inference: format, logical shape and packed bytes. Its byte
// count is the size squeeze reports; nothing is ever counted from a float copy.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "squeeze/kernels/csr.h"
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

// Unstructured sparse storage (CSR, squeeze/kernels/csr.h): only the kept weights of each row
// with their 16-bit column indices. The tensor's format() is the values' format (f32 or f16).
struct SparseRows {
  std::vector<uint32_t> start;  // rows + 1
  std::vector<uint16_t> index;
  std::vector<uint8_t> values;  // packed f32 or f16
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

  // Stores the nonzero weights of a row-major float matrix in CSR form with values of format
  // `values` (f32 or f16, see CsrHoldsValues; cols at most kCsrMaxCols). A weight whose value
  // rounds to zero in that format is not kept.
  static WeightTensor SparseFromFloat(WeightFormat values, int64_t rows, int64_t cols,
                                      const float* dense);

  // Row-major float values (rows x cols) packed the way this tensor is stored: in its format,
  // and in CSR form when it is sparse. For techniques that rewrite a matrix's values or shape.
  WeightTensor Repacked(int64_t rows, int64_t cols, const float* values) const;

  WeightFormat format() const { return format_; }
  int64_t rows() const { return rows_; }  // output features
  int64_t cols() const { return cols_; }  // input features
  // Dense tensors only (sparse() is null): bytes per packed row, the rows, row r.
  int64_t row_bytes() const { return row_bytes_; }
  const uint8_t* data() const { return data_; }
  const uint8_t* row(int64_t r) const { return data_ + r * row_bytes_; }
  bool empty() const { return data_ == nullptr && !sparse_; }

  // The CSR storage, or null for a dense tensor (see SparseRows).
  const SparseRows* sparse() const { return sparse_.get(); }
  CsrView csr() const;
  // "f16", or "csr_f16" for sparse storage: what results call the storage of this tensor.
  std::string StorageName() const;
  // Bytes of the main part alone: the packed rows, or the CSR arrays.
  int64_t main_bytes() const;
  // Bytes held for inference: the packed rows (scales and zero points are inside them), plus
  // a split part's dense bytes and its int32 column indices, plus an adapter's bytes.
  int64_t bytes() const;
  // Identity of the storage (two tensors sharing bytes, like a tied classifier, compare equal).
  const void* storage_id() const {
    return sparse_ ? static_cast<const void*>(sparse_.get()) : data_;
  }

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
  std::shared_ptr<const SparseRows> sparse_;
};

}  // namespace squeeze
