// Hugging Face folders: config.json + model.safetensors, or shards listed in
// model.safetensors.index.json. F32/F16/BF16 matrices are used in place (views of the mapped
// files); norms are converted to float. Errors name the file and the tensor.
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "model/loader.h"
#include "model/safetensors.h"
#include "squeeze/kernels/fp16.h"
#include "util/hash.h"
#include "util/mapped_file.h"
#include "util/status_macros.h"

namespace squeeze {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// The opened safetensors files of a checkpoint and where each tensor lives.
struct Checkpoint {
  std::vector<SafetensorsFile> shards;
  std::map<std::string, size_t> shard_of;  // tensor name -> index in shards
};

absl::StatusOr<Checkpoint> OpenSingle(const std::string& path) {
  Checkpoint ck;
  ASSIGN_OR_RETURN(SafetensorsFile f, OpenSafetensors(path));
  for (const auto& [name, t] : f.tensors) ck.shard_of[name] = 0;
  ck.shards.push_back(std::move(f));
  return ck;
}

absl::StatusOr<Checkpoint> OpenSharded(const std::string& dir, const std::string& index_path) {
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(index_path));
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(index_path, ": bad JSON: ", e.what()));
  }
  if (!j.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(index_path, ": expected a JSON object"));
  }
  auto wm = j.find("weight_map");
  if (wm == j.end() || !wm->is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(index_path, ": field weight_map is missing or not an object"));
  }
  Checkpoint ck;
  std::map<std::string, size_t> shard_index;  // file name -> index in ck.shards
  for (const auto& [name, v] : wm->items()) {
    if (!v.is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat(index_path, ": weight_map entry of tensor ", name, " is not a file name"));
    }
    const std::string file = v.get<std::string>();
    const fs::path rel(file);
    if (file.empty() || rel.is_absolute() ||
        std::any_of(rel.begin(), rel.end(), [](const fs::path& p) { return p == ".."; })) {
      return absl::InvalidArgumentError(absl::StrCat(index_path, ": weight_map entry of tensor ",
                                                     name, ": shard name \"", file,
                                                     "\" must be a file inside the model folder"));
    }
    auto [it, inserted] = shard_index.emplace(file, ck.shards.size());
    if (inserted) {
      const std::string shard_path = (fs::path(dir) / rel).string();
      auto f = OpenSafetensors(shard_path);
      if (!f.ok()) {
        return absl::Status(f.status().code(),
                            absl::StrCat(index_path, ": shard ", file, " (of tensor ", name,
                                         "): ", f.status().message()));
      }
      ck.shards.push_back(*std::move(f));
    }
    if (!ck.shards[it->second].tensors.contains(name)) {
      return absl::InvalidArgumentError(absl::StrCat(index_path, ": tensor ", name,
                                                     " is listed in shard ", file,
                                                     ", which does not contain it"));
    }
    ck.shard_of[name] = it->second;
  }
  return ck;
}

// Fills a Model from a checkpoint, checking each tensor as it is taken.
class Builder {
 public:
  Builder(const Checkpoint& ck, const std::string& dir) : ck_(ck), dir_(dir) {}

  absl::Status Matrix(const std::string& name, int64_t rows, int64_t cols, WeightTensor* out) {
    const StTensor* t = nullptr;
    const SafetensorsFile* f = nullptr;
    RETURN_IF_ERROR(Find(name, &t, &f));
    ASSIGN_OR_RETURN(WeightFormat format, FormatOf(*t, name, *f));
    if (t->shape.size() != 2 || t->shape[0] != rows || t->shape[1] != cols) {
      return absl::InvalidArgumentError(
          absl::StrCat(f->file->path(), ": tensor ", name, " has shape ", ShapeStr(t->shape),
                       ", expected [", rows, ", ", cols, "] from the config"));
    }
    const int elem = StDtypeSize(t->dtype);
    if (reinterpret_cast<uintptr_t>(t->data) % elem == 0) {
      *out = WeightTensor::View(format, rows, cols, t->data, f->file);
    } else {
      *out = WeightTensor::Owned(format, rows, cols,
                                 std::vector<uint8_t>(t->data, t->data + t->bytes));
    }
    return absl::OkStatus();
  }

  absl::Status Vector(const std::string& name, int64_t n, std::vector<float>* out) {
    const StTensor* t = nullptr;
    const SafetensorsFile* f = nullptr;
    RETURN_IF_ERROR(Find(name, &t, &f));
    ASSIGN_OR_RETURN(WeightFormat format, FormatOf(*t, name, *f));
    if (t->shape.size() != 1 || t->shape[0] != n) {
      return absl::InvalidArgumentError(absl::StrCat(f->file->path(), ": tensor ", name,
                                                     " has shape ", ShapeStr(t->shape),
                                                     ", expected [", n, "] from the config"));
    }
    out->resize(n);
    if (n > 0) GetFormatTraits(format).to_float(t->data, out->data(), n);
    return absl::OkStatus();
  }

  bool Has(const std::string& name) const { return ck_.shard_of.contains(name); }

 private:
  absl::Status Find(const std::string& name, const StTensor** t, const SafetensorsFile** f) {
    auto it = ck_.shard_of.find(name);
    if (it == ck_.shard_of.end()) {
      const std::string where = ck_.shards.size() == 1 ? ck_.shards[0].file->path() : dir_;
      return absl::InvalidArgumentError(absl::StrCat(where, ": missing tensor ", name));
    }
    *f = &ck_.shards[it->second];
    *t = &(*f)->tensors.at(name);
    return absl::OkStatus();
  }

  static absl::StatusOr<WeightFormat> FormatOf(const StTensor& t, const std::string& name,
                                               const SafetensorsFile& f) {
    switch (t.dtype) {
      case StDtype::kF32:
        return WeightFormat::kF32;
      case StDtype::kF16:
        return WeightFormat::kF16;
      case StDtype::kBF16:
        return WeightFormat::kBF16;
      default:
        return absl::InvalidArgumentError(absl::StrCat(f.file->path(), ": tensor ", name,
                                                       ": dtype ", StDtypeName(t.dtype),
                                                       " is not supported (F32, F16, BF16)"));
    }
  }

  static std::string ShapeStr(const std::vector<int64_t>& s) {
    std::string out = "[";
    for (size_t i = 0; i < s.size(); ++i) absl::StrAppend(&out, i ? ", " : "", s[i]);
    return out + "]";
  }

  const Checkpoint& ck_;
  std::string dir_;
};

}  // namespace

absl::StatusOr<Model> LoadHfModel(const std::string& dir) {
  const std::string config_path = (fs::path(dir) / "config.json").string();
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat(dir, ": no such folder"));
  }
  if (!fs::exists(config_path, ec)) {
    return absl::NotFoundError(absl::StrCat(config_path,
                                            ": no such file (a Hugging Face model "
                                            "folder needs config.json)"));
  }
  ASSIGN_OR_RETURN(std::string config_text, ReadFileToString(config_path));
  ASSIGN_OR_RETURN(ModelConfig c, ParseHfConfig(config_text, config_path));

  const std::string single = (fs::path(dir) / "model.safetensors").string();
  const std::string index = (fs::path(dir) / "model.safetensors.index.json").string();
  Checkpoint ck;
  if (fs::exists(single, ec)) {
    ASSIGN_OR_RETURN(ck, OpenSingle(single));
  } else if (fs::exists(index, ec)) {
    ASSIGN_OR_RETURN(ck, OpenSharded(dir, index));
  } else {
    return absl::NotFoundError(
        absl::StrCat(dir, ": no model.safetensors or model.safetensors.index.json in the folder"));
  }
  for (const auto& [name, shard] : ck.shard_of) {
    if (name.ends_with(".bias")) {
      return absl::InvalidArgumentError(
          absl::StrCat(ck.shards[shard].file->path(), ": tensor ", name,
                       ": biases are not supported by the Llama architecture of ", config_path));
    }
  }

  Model m;
  m.config = c;
  m.source = dir;
  // Per-layer sizes (structured pruning) and attention settings written by SaveHfModel.
  RETURN_IF_ERROR(ParseModelExtras(config_text, config_path, &m));
  Builder b(ck, dir);
  RETURN_IF_ERROR(b.Matrix("model.embed_tokens.weight", c.vocab_size, c.dim, &m.embedding));
  for (int32_t i = 0; i < c.n_layers; ++i) {
    LayerWeights& l = m.layers[i];
    const std::string p = absl::StrCat("model.layers.", i, ".");
    const LayerShape s = m.Shape(i);
    const int64_t q_dim = s.q_dim(), kv_dim = s.kv_dim(), hidden = s.hidden_dim;
    RETURN_IF_ERROR(b.Vector(p + "input_layernorm.weight", c.dim, &l.attn_norm));
    RETURN_IF_ERROR(b.Matrix(p + "self_attn.q_proj.weight", q_dim, c.dim, &l.wq));
    RETURN_IF_ERROR(b.Matrix(p + "self_attn.k_proj.weight", kv_dim, c.dim, &l.wk));
    RETURN_IF_ERROR(b.Matrix(p + "self_attn.v_proj.weight", kv_dim, c.dim, &l.wv));
    RETURN_IF_ERROR(b.Matrix(p + "self_attn.o_proj.weight", c.dim, q_dim, &l.wo));
    RETURN_IF_ERROR(b.Vector(p + "post_attention_layernorm.weight", c.dim, &l.ffn_norm));
    RETURN_IF_ERROR(b.Matrix(p + "mlp.gate_proj.weight", hidden, c.dim, &l.w_gate));
    RETURN_IF_ERROR(b.Matrix(p + "mlp.up_proj.weight", hidden, c.dim, &l.w_up));
    RETURN_IF_ERROR(b.Matrix(p + "mlp.down_proj.weight", c.dim, hidden, &l.w_down));
  }
  RETURN_IF_ERROR(b.Vector("model.norm.weight", c.dim, &m.final_norm));
  // A tied model may still carry lm_head.weight (a copy of the embedding): it is not used.
  if (!c.tied_embeddings) {
    WeightTensor head;
    RETURN_IF_ERROR(b.Matrix("lm_head.weight", c.vocab_size, c.dim, &head));
    m.lm_head = std::move(head);
  }
  RETURN_IF_ERROR(ValidateModel(m, dir));

  // Hash of everything that defines the weights: config.json and every safetensors file.
  Hasher h;
  h.Field(config_text);
  std::vector<const SafetensorsFile*> files;
  for (const SafetensorsFile& f : ck.shards) files.push_back(&f);
  std::sort(files.begin(), files.end(),
            [](const auto* a, const auto* b) { return a->file->path() < b->file->path(); });
  for (const SafetensorsFile* f : files) {
    h.Field(fs::path(f->file->path()).filename().string());
    h.Update(f->file->data(), f->file->size());
  }
  m.content_hash = h.Hex();
  return m;
}

}  // namespace squeeze
