// Model loading entry point (picks the Hugging Face or llama2.c reader from the path) and the
// Hugging Face folder writer used to export models and to make test checkpoints.
#include "model/loader.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "model/safetensors.h"
#include "util/mapped_file.h"
#include "util/status_macros.h"

namespace squeeze {
namespace {

namespace fs = std::filesystem;

absl::StatusOr<StDtype> DtypeOf(WeightFormat f, const std::string& name) {
  switch (f) {
    case WeightFormat::kF32:
      return StDtype::kF32;
    case WeightFormat::kF16:
      return StDtype::kF16;
    case WeightFormat::kBF16:
      return StDtype::kBF16;
    default:
      break;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("tensor ", name, ": format ", GetFormatTraits(f).name,
                   " cannot be written to safetensors (only f32, f16, bf16)"));
}

}  // namespace

absl::StatusOr<Model> LoadModel(const std::string& path) {
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) {
    return absl::NotFoundError(absl::StrCat(path, ": no such file or directory"));
  }
  if (fs::is_directory(st)) return LoadHfModel(path);
  const std::string name = fs::path(path).filename().string();
  if (name == "config.json") {
    const std::string parent = fs::path(path).parent_path().string();
    return LoadHfModel(parent.empty() ? "." : parent);
  }
  if (name.ends_with(".safetensors") || name.ends_with(".json")) {
    return absl::InvalidArgumentError(
        absl::StrCat(path,
                     ": a Hugging Face model is loaded from its folder; pass the folder "
                     "that holds config.json (and the .safetensors files) instead"));
  }
  if (!fs::is_regular_file(st)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a regular file or a folder"));
  }
  return LoadLlama2cModel(path);
}

absl::Status SaveHfModel(const Model& m, const std::string& dir) {
  RETURN_IF_ERROR(ValidateModel(m, "model to save"));
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat(dir, ": cannot create: ", ec.message()));

  std::vector<StWriteTensor> tensors;
  auto add_matrix = [&](const std::string& name, const WeightTensor& t) -> absl::Status {
    if (t.split()) {
      return absl::InvalidArgumentError(
          absl::StrCat(dir, ": tensor ", name, " has ", t.split()->cols.size(),
                       " input columns kept apart in another format (LLM.int8() outliers): not "
                       "representable in safetensors"));
    }
    if (t.adapter()) {
      return absl::InvalidArgumentError(
          absl::StrCat(dir, ": tensor ", name,
                       " has an unmerged low-rank adapter: merge it first (finetune merge=true)"));
    }
    if (t.sparse()) {
      return absl::InvalidArgumentError(absl::StrCat(
          dir, ": tensor ", name,
          " is stored sparse (CSR): not representable in safetensors; prune with storage=dense "
          "to save it"));
    }
    ASSIGN_OR_RETURN(StDtype dtype, DtypeOf(t.format(), name));
    tensors.push_back({name, dtype, {t.rows(), t.cols()}, t.data(), uint64_t(t.bytes())});
    return absl::OkStatus();
  };
  auto add_vector = [&](const std::string& name, const std::vector<float>& v) {
    tensors.push_back(
        {name, StDtype::kF32, {int64_t(v.size())}, v.data(), uint64_t(v.size() * sizeof(float))});
  };
  RETURN_IF_ERROR(add_matrix("model.embed_tokens.weight", m.embedding));
  for (size_t i = 0; i < m.layers.size(); ++i) {
    const LayerWeights& l = m.layers[i];
    const std::string p = absl::StrCat("model.layers.", i, ".");
    add_vector(p + "input_layernorm.weight", l.attn_norm);
    RETURN_IF_ERROR(add_matrix(p + "self_attn.q_proj.weight", l.wq));
    RETURN_IF_ERROR(add_matrix(p + "self_attn.k_proj.weight", l.wk));
    RETURN_IF_ERROR(add_matrix(p + "self_attn.v_proj.weight", l.wv));
    RETURN_IF_ERROR(add_matrix(p + "self_attn.o_proj.weight", l.wo));
    add_vector(p + "post_attention_layernorm.weight", l.ffn_norm);
    RETURN_IF_ERROR(add_matrix(p + "mlp.gate_proj.weight", l.w_gate));
    RETURN_IF_ERROR(add_matrix(p + "mlp.up_proj.weight", l.w_up));
    RETURN_IF_ERROR(add_matrix(p + "mlp.down_proj.weight", l.w_down));
  }
  add_vector("model.norm.weight", m.final_norm);
  // The config says whether the classifier is tied; a separate lm_head is written only then.
  if (m.lm_head) RETURN_IF_ERROR(add_matrix("lm_head.weight", *m.lm_head));

  // Widest elements first, so that every tensor starts aligned to its element size and the
  // loader can use it in place.
  std::stable_sort(tensors.begin(), tensors.end(), [](const auto& a, const auto& b) {
    return StDtypeSize(a.dtype) > StDtypeSize(b.dtype);
  });
  const std::string st_path = (fs::path(dir) / "model.safetensors").string();
  RETURN_IF_ERROR(WriteSafetensors(st_path, tensors, {{"format", "pt"}}));
  const std::string config_json = HfConfigJsonFor(m);
  return WriteFileAtomic((fs::path(dir) / "config.json").string(), config_json.data(),
                         config_json.size());
}

}  // namespace squeeze
