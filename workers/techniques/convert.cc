// Helpers shared by the built-in techniques: format look-up and row-by-row repacking.
#include <vector>

#include "absl/strings/str_cat.h"
#include "techniques/builtin.h"

namespace squeeze {

std::vector<std::string> PrecisionFormatNames() {
  std::vector<std::string> out;
  for (int i = 0; i < kWeightFormatCount; ++i) {
    const FormatTraits& t = GetFormatTraits(static_cast<WeightFormat>(i));
    if (t.name == nullptr || t.block_weights != 1) continue;
    const std::string_view name = t.name;
    // Element-wise float formats only (tf32 too); w8a8 belongs to the smoothquant technique.
    if (name.starts_with("f") || name.starts_with("bf") || name == "tf32") out.emplace_back(name);
  }
  return out;
}

absl::StatusOr<WeightFormat> LookUpFormat(const std::string& technique, const std::string& name) {
  WeightFormat f;
  if (!FormatFromName(name, &f)) {
    return absl::InvalidArgumentError(
        absl::StrCat(technique, ": format ", name, " is not available in this build"));
  }
  return f;
}

WeightTensor ConvertWeightTensor(const WeightTensor& t, WeightFormat to) {
  const int64_t rows = t.rows(), cols = t.cols(), rb = RowBytes(to, cols);
  const FormatTraits& dst = GetFormatTraits(to);
  std::vector<uint8_t> bytes(rows * rb);
  std::vector<float> row(cols);
  for (int64_t r = 0; r < rows; ++r) {
    t.RowToFloat(r, row.data());
    dst.from_float_ref(row.data(), bytes.data() + r * rb, cols);
  }
  return WeightTensor::Owned(to, rows, cols, std::move(bytes));
}

void ConvertLayerMatrices(Model& model, WeightFormat to, bool embeddings) {
  auto convert = [&](WeightTensor& t) {
    if (t.format() != to) t = ConvertWeightTensor(t, to);
  };
  for (LayerWeights& l : model.layers) {
    for (WeightTensor* t : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) convert(*t);
  }
  if (embeddings) {
    convert(model.embedding);  // a tied classifier is the embedding: it stays tied
    if (model.lm_head) convert(*model.lm_head);
  }
}

}  // namespace squeeze
