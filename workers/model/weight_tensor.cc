// WeightTensor storage: owned bytes or a view into a mapped file.
#include "model/weight_tensor.h"

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "squeeze/kernels/fp16.h"

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

WeightTensor WeightTensor::SparseFromFloat(WeightFormat values, int64_t rows, int64_t cols,
                                           const float* dense) {
  assert(CsrHoldsValues(values) && cols <= kCsrMaxCols);
  auto s = std::make_shared<SparseRows>();
  s->start.reserve(size_t(rows) + 1);
  s->start.push_back(0);
  const bool half = values == WeightFormat::kF16;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      const float v = dense[r * cols + c];
      uint8_t packed[4];
      if (half) {
        const uint16_t h = fp32_to_fp16(v);
        if ((h & 0x7fff) == 0) continue;
        std::memcpy(packed, &h, 2);
      } else {
        if (v == 0.0f) continue;
        std::memcpy(packed, &v, 4);
      }
      s->index.push_back(uint16_t(c));
      s->values.insert(s->values.end(), packed, packed + (half ? 2 : 4));
    }
    s->start.push_back(uint32_t(s->index.size()));
  }
  s->index.shrink_to_fit();
  s->values.shrink_to_fit();
  WeightTensor t;
  t.format_ = values;
  t.rows_ = rows;
  t.cols_ = cols;
  t.sparse_ = std::move(s);
  return t;
}

WeightTensor WeightTensor::Repacked(int64_t rows, int64_t cols, const float* values) const {
  return sparse_ ? SparseFromFloat(format_, rows, cols, values)
                 : FromFloat(format_, rows, cols, values);
}

CsrView WeightTensor::csr() const {
  if (!sparse_) return {};
  return {sparse_->start.data(), sparse_->index.data(), sparse_->values.data(), format_};
}

std::string WeightTensor::StorageName() const {
  const std::string name = GetFormatTraits(format_).name;
  return sparse_ ? "csr_" + name : name;
}

int64_t WeightTensor::main_bytes() const {
  if (sparse_) return CsrBytes(format_, rows_, int64_t(sparse_->index.size()));
  return rows_ * row_bytes_;
}

int64_t WeightTensor::bytes() const {
  int64_t b = main_bytes();
  if (split_) b += split_->dense->bytes() + int64_t(split_->cols.size()) * int64_t(sizeof(int32_t));
  if (adapter_) b += adapter_->a->bytes() + adapter_->b->bytes();
  return b;
}

namespace {

// A malformed split or adapter is a programming error of the technique that built it: stop
// loudly.
[[noreturn]] void Malformed(const std::string& what) {
  std::fprintf(stderr, "WeightTensor::%s\n", what.c_str());
  std::abort();
}

}  // namespace

WeightTensor WeightTensor::WithSplit(SplitColumns split) const {
  if (empty()) Malformed("WithSplit: the main tensor is empty");
  if (!split.dense) Malformed("WithSplit: no dense part");
  const WeightTensor& d = *split.dense;
  if (d.split()) Malformed("WithSplit: the dense part is itself split");
  if (d.rows() != rows_) {
    Malformed(absl::StrCat("WithSplit: dense part has ", d.rows(), " rows, the matrix ", rows_));
  }
  if (d.cols() != int64_t(split.cols.size())) {
    Malformed(absl::StrCat("WithSplit: dense part has ", d.cols(), " columns for ",
                           split.cols.size(), " split columns"));
  }
  for (size_t i = 0; i < split.cols.size(); ++i) {
    const int64_t c = split.cols[i];
    if (c < 0 || c >= cols_) {
      Malformed(absl::StrCat("WithSplit: column ", c, " is outside [0, ", cols_, ")"));
    }
    if (i > 0 && c <= split.cols[i - 1]) {
      Malformed(absl::StrCat("WithSplit: columns are not sorted and distinct at index ", i));
    }
  }
  WeightTensor t = *this;
  t.split_ = split.cols.empty() ? nullptr : std::make_shared<const SplitColumns>(std::move(split));
  return t;
}

WeightTensor WeightTensor::WithAdapter(LowRankAdapter adapter) const {
  if (empty()) Malformed("WithAdapter: the main tensor is empty");
  if (!adapter.a || !adapter.b) Malformed("WithAdapter: A or B is missing");
  const WeightTensor &a = *adapter.a, &b = *adapter.b;
  if (a.cols() != cols_ || b.rows() != rows_ || a.rows() != b.cols()) {
    Malformed(absl::StrCat("WithAdapter: A (", a.rows(), " x ", a.cols(), ") and B (", b.rows(),
                           " x ", b.cols(), ") do not fit a ", rows_, " x ", cols_, " matrix"));
  }
  if (a.split() || a.adapter() || b.split() || b.adapter()) {
    Malformed("WithAdapter: A and B must be plain tensors");
  }
  WeightTensor t = *this;
  t.adapter_ = std::make_shared<const LowRankAdapter>(std::move(adapter));
  return t;
}

void WeightTensor::RowToFloat(int64_t r, float* out) const {
  if (sparse_) {
    std::fill(out, out + cols_, 0.0f);
    const uint8_t* v = sparse_->values.data();
    const uint16_t* ix = sparse_->index.data();
    const uint32_t b = sparse_->start[r], e = sparse_->start[r + 1];
    if (format_ == WeightFormat::kF16) {
      for (uint32_t k = b; k < e; ++k) {
        uint16_t h;
        std::memcpy(&h, v + 2 * size_t(k), 2);
        out[ix[k]] = fp16_to_fp32(h);
      }
    } else {
      for (uint32_t k = b; k < e; ++k) std::memcpy(out + ix[k], v + 4 * size_t(k), 4);
    }
  } else {
    GetFormatTraits(format_).to_float(row(r), out, cols_);
  }
  if (split_) {
    // The product reads those columns from the dense part only (x is zeroed there for the
    // main part), so they take the dense values.
    const int64_t k = int64_t(split_->cols.size());
    std::vector<float> dense(k);
    split_->dense->RowToFloat(r, dense.data());
    for (int64_t i = 0; i < k; ++i) out[split_->cols[i]] = dense[i];
  }
  if (adapter_) {
    // + scale * sum_j B[r][j] A[j]
    const WeightTensor &a = *adapter_->a, &b = *adapter_->b;
    std::vector<float> brow(static_cast<size_t>(b.cols())), arow(static_cast<size_t>(cols_));
    b.RowToFloat(r, brow.data());
    for (int64_t j = 0; j < b.cols(); ++j) {
      a.RowToFloat(j, arow.data());
      const float s = adapter_->scale * brow[size_t(j)];
      for (int64_t c = 0; c < cols_; ++c) out[c] += s * arow[size_t(c)];
    }
  }
}

std::vector<float> WeightTensor::ToFloat() const {
  std::vector<float> out(rows_ * cols_);
  for (int64_t r = 0; r < rows_; ++r) RowToFloat(r, out.data() + r * cols_);
  return out;
}

}  // namespace squeeze
