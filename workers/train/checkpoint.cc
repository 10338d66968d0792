// Checkpoint folders (see checkpoint.h).
#include "train/checkpoint.h"

#include <filesystem>
#include <fstream>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "model/loader.h"

namespace squeeze {

absl::Status WriteTextFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(text.data(), std::streamsize(text.size()));
  out.close();
  if (!out) return absl::InvalidArgumentError(absl::StrCat(path, ": cannot write"));
  return absl::OkStatus();
}

absl::Status WriteCheckpoint(const ParamLayout& layout, const float* params, const std::string& dir,
                             const std::string& tokenizer_json) {
  Model m = ModelFromParams(layout, params);
  m.source = dir;
  if (absl::Status s = SaveHfModel(m, dir); !s.ok()) return s;
  if (tokenizer_json.empty()) return absl::OkStatus();
  return WriteTextFile((std::filesystem::path(dir) / "tokenizer.json").string(), tokenizer_json);
}

absl::Status CopyTokenizer(const std::string& tokenizer_path, const std::string& dir) {
  namespace fs = std::filesystem;
  const bool json = fs::path(tokenizer_path).extension() == ".json";
  const fs::path to = fs::path(dir) / (json ? "tokenizer.json" : "tokenizer.bin");
  std::error_code ec;
  fs::create_directories(dir, ec);
  fs::copy_file(tokenizer_path, to, fs::copy_options::overwrite_existing, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat(tokenizer_path, ": cannot copy to ", to.string(), ": ", ec.message()));
  }
  return absl::OkStatus();
}

}  // namespace squeeze
