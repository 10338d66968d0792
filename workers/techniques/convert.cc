// Helpers shared by the built-in techniques: format look-up, row-by-row repacking and the
// integer-grid parameters of rtn, gptq and awq.
#include <vector>

#include "absl/strings/str_cat.h"
#include "techniques/builtin.h"
#include "techniques/int_grid.h"
#include "util/status_macros.h"

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

std::vector<WeightTensor*> SiteMatrices(LayerWeights& l, LinearSite site) {
  switch (site) {
    case LinearSite::kQkv:
      return {&l.wq, &l.wk, &l.wv};
    case LinearSite::kWo:
      return {&l.wo};
    case LinearSite::kGateUp:
      return {&l.w_gate, &l.w_up};
    case LinearSite::kDown:
      return {&l.w_down};
  }
  return {};
}

bool IsSparseFormat(WeightFormat f) {
  return f == WeightFormat::kSp24F32 || f == WeightFormat::kSp24F16 ||
         f == WeightFormat::kSp48F32 || f == WeightFormat::kSp48F16;
}

absl::Status RejectSparseLayers(const Model& model, const std::string& technique) {
  for (size_t l = 0; l < model.layers.size(); ++l) {
    const LayerWeights& w = model.layers[l];
    const std::pair<const char*, const WeightTensor*> mats[] = {
        {"wq", &w.wq},         {"wk", &w.wk},     {"wv", &w.wv},        {"wo", &w.wo},
        {"w_gate", &w.w_gate}, {"w_up", &w.w_up}, {"w_down", &w.w_down}};
    for (const auto& [name, t] : mats) {
      if (!IsSparseFormat(t->format())) continue;
      return absl::InvalidArgumentError(absl::StrCat(
          technique, ": layer ", l, " ", name, " is N:M sparse (",
          GetFormatTraits(t->format()).name,
          "); quantizing a sparse matrix is not supported (no format is both sparse and "
          "quantized here, and a dense one would store its zeros): apply ",
          technique,
          " without nm_sparse, or use magnitude, wanda or sparsegpt, whose "
          "unstructured zeros a quantizer stores as zero codes"));
    }
  }
  return absl::OkStatus();
}

WeightTensor ConvertWeightTensor(const WeightTensor& t, WeightFormat to) {
  // CSR storage keeps its sparsity when only its values' precision changes.
  if (t.sparse() && CsrHoldsValues(to)) {
    const std::vector<float> dense = t.ToFloat();
    return WeightTensor::SparseFromFloat(to, t.rows(), t.cols(), dense.data());
  }
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
  if (embeddings) ConvertEmbeddings(model, to);
}

void ConvertEmbeddings(Model& model, WeightFormat to) {
  // A tied classifier is the embedding: it stays tied.
  for (WeightTensor* t : {&model.embedding, model.lm_head ? &*model.lm_head : nullptr}) {
    if (t && t->format() != to) *t = ConvertWeightTensor(*t, to);
  }
}

ParamSpec MakeParam(const char* name, ParamType type, const char* default_value,
                    std::vector<std::string> allowed, const char* help) {
  ParamSpec p;
  p.name = name;
  p.type = type;
  p.default_value = default_value;
  p.allowed = std::move(allowed);
  p.help = help;
  return p;
}

std::vector<ParamSpec> IntQuantParams() {
  return {
      MakeParam("bits", ParamType::kInt, "4", {"2", "3", "4", "8"},
                "bits per weight (before scales)"),
      MakeParam("group", ParamType::kInt, "32", {"0", "32", "64", "128"},
                "weights per scale along a row; 0: one scale per output channel (bits=8 only)"),
      MakeParam("symmetric", ParamType::kBool, "true", {},
                "true: scale only (zero maps to zero); false: scale and zero point"),
  };
}

ParamSpec EmbeddingsParam(const char* help) {
  return MakeParam("embeddings", ParamType::kBool, "false", {}, help);
}

absl::StatusOr<IntQuant> ResolveIntQuant(const std::string& technique, const Params& p) {
  IntQuant q;
  q.bits = p.GetInt("bits");
  q.group = p.GetInt("group");
  q.symmetric = p.GetBool("symmetric");
  q.embeddings = p.GetBool("embeddings");
  if (q.group == 0 && q.bits != 8) {
    return absl::InvalidArgumentError(absl::StrCat(
        technique, ".group: 0 (one scale per output channel) needs bits=8, not bits=", q.bits));
  }
  if (q.group == 0 && !q.symmetric) {
    return absl::InvalidArgumentError(
        absl::StrCat(technique, ".group: 0 (one scale per output channel) needs symmetric=true"));
  }
  q.format = IntFormatName(q.bits, q.group, q.symmetric);
  RETURN_IF_ERROR(LookUpFormat(technique, q.format).status());
  return q;
}

std::string DescribeIntQuant(const IntQuant& q) {
  const std::string scales = q.group == 0
                                 ? "one scale per output channel"
                                 : absl::StrCat("one scale per ", q.group, " weights of a row");
  return absl::StrCat(q.bits, "-bit ",
                      q.symmetric ? "symmetric integers" : "integers with a zero point", " (",
                      scales, ", format ", q.format, ")");
}

}  // namespace squeeze
