// Picks the tokenizer reader by file name, and finds the tokenizer that goes with a model.
#include "model/tokenizer.h"

#include <algorithm>
#include <filesystem>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "model/tokenizer_hf.h"
#include "model/tokenizer_llama2c.h"
#include "util/status_macros.h"

namespace squeeze {

namespace fs = std::filesystem;

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::string& path) {
  if (absl::EndsWithIgnoreCase(path, ".json")) {
    ASSIGN_OR_RETURN(std::unique_ptr<HfTokenizer> tok, HfTokenizer::Load(path));
    return std::unique_ptr<Tokenizer>(std::move(tok));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Llama2cTokenizer> tok, Llama2cTokenizer::Load(path));
  return std::unique_ptr<Tokenizer>(std::move(tok));
}

absl::StatusOr<std::string> FindTokenizerFor(const std::string& model_path) {
  std::error_code ec;
  const fs::path model(model_path);
  const auto is_file = [](const fs::path& p) {
    std::error_code e;
    return fs::is_regular_file(p, e);
  };
  if (fs::is_directory(model, ec)) {
    const fs::path json = model / "tokenizer.json";
    if (is_file(json)) return json.string();
    // A llama2.c tokenizer copied into the folder (a model trained from a llama2.c teacher).
    if (is_file(model / "tokenizer.bin")) return (model / "tokenizer.bin").string();
    return absl::NotFoundError(
        absl::StrCat(model_path,
                     ": no tokenizer.json (or llama2.c tokenizer.bin) in this model folder; "
                     "pass the tokenizer explicitly"));
  }
  if (!fs::exists(model, ec)) {
    return absl::NotFoundError(absl::StrCat(model_path, ": no such model file or folder"));
  }
  const fs::path dir = model.has_parent_path() ? model.parent_path() : fs::path(".");
  const std::string ext = model.extension().string();
  if (absl::EqualsIgnoreCase(ext, ".safetensors") || absl::EqualsIgnoreCase(ext, ".json")) {
    const fs::path json = dir / "tokenizer.json";
    if (is_file(json)) return json.string();
    return absl::NotFoundError(
        absl::StrCat(model_path, ": no tokenizer.json beside it in ", dir.string()));
  }
  // A llama2.c checkpoint: tokenizer.bin, else the one tok*.bin beside it.
  const fs::path bin = dir / "tokenizer.bin";
  if (is_file(bin)) return bin.string();
  std::vector<std::string> candidates;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (absl::StartsWith(name, "tok") && absl::EndsWith(name, ".bin") &&
        it->path().filename() != model.filename() && is_file(it->path())) {
      candidates.push_back(it->path().string());
    }
  }
  std::sort(candidates.begin(), candidates.end());
  if (candidates.size() == 1) return candidates[0];
  if (candidates.empty()) {
    return absl::NotFoundError(absl::StrCat(model_path, ": no tokenizer found: looked for ",
                                            bin.string(), " and tok*.bin in ", dir.string()));
  }
  return absl::FailedPreconditionError(
      absl::StrCat(model_path, ": no tokenizer.bin and several tok*.bin beside it (",
                   absl::StrJoin(candidates, ", "), "); pass the tokenizer explicitly"));
}

}  // namespace squeeze
