// Baseline log-prob cache files: "SQZLP001", key (32 hex), n, vocab, targets, values.
#include "measure/baseline_cache.h"

#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "util/hash.h"
#include "util/mapped_file.h"

namespace squeeze {
namespace {

constexpr char kMagic[8] = {'S', 'Q', 'Z', 'L', 'P', '0', '0', '1'};
constexpr size_t kKeyLen = 32;

}  // namespace

std::string BaselineCacheKey(const std::string& model_hash, std::span<const int32_t> text_tokens,
                             const EvalSettings& settings, int context, int32_t bos_id,
                             const std::string& isa_name) {
  Hasher h;
  h.Field("squeeze-baseline-logprobs-v1");
  h.Field(model_hash);
  h.Field(absl::StrCat(context, ",", settings.max_tokens, ",", bos_id, ",", isa_name));
  h.Update(text_tokens.data(), text_tokens.size() * sizeof(int32_t));
  return h.Hex();
}

std::string DefaultCacheDir() {
  if (const char* d = std::getenv("SQUEEZE_CACHE_DIR"); d && *d) return d;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return absl::StrCat(x, "/squeeze");
  if (const char* home = std::getenv("HOME"); home && *home)
    return absl::StrCat(home, "/.cache/squeeze");
  return "/tmp/squeeze-cache";
}

std::string BaselineCache::PathFor(const std::string& key) const {
  return absl::StrCat(dir_, "/baseline-", key, ".logprobs");
}

std::optional<LogProbs> BaselineCache::Load(const std::string& key) const {
  auto file = MappedFile::Open(PathFor(key));
  if (!file.ok()) return std::nullopt;
  const uint8_t* p = (*file)->data();
  const uint64_t size = (*file)->size();
  const uint64_t head = sizeof(kMagic) + kKeyLen + 8 + 4;
  if (size < head || std::memcmp(p, kMagic, sizeof(kMagic)) != 0) return std::nullopt;
  if (std::memcmp(p + sizeof(kMagic), key.data(), kKeyLen) != 0 || key.size() != kKeyLen)
    return std::nullopt;
  uint64_t n;
  int32_t vocab;
  std::memcpy(&n, p + sizeof(kMagic) + kKeyLen, 8);
  std::memcpy(&vocab, p + sizeof(kMagic) + kKeyLen + 8, 4);
  if (vocab <= 0 || n > (size - head) / 4) return std::nullopt;
  if (size != head + n * 4 + n * uint64_t(vocab) * 4) return std::nullopt;
  LogProbs lp;
  lp.vocab = vocab;
  lp.targets.resize(n);
  lp.values.resize(n * vocab);
  std::memcpy(lp.targets.data(), p + head, n * 4);
  std::memcpy(lp.values.data(), p + head + n * 4, n * uint64_t(vocab) * 4);
  return lp;
}

absl::Status BaselineCache::Store(const std::string& key, const LogProbs& lp) const {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat(dir_, ": cannot create: ", ec.message()));
  std::string buf;
  const uint64_t n = lp.targets.size();
  buf.append(kMagic, sizeof(kMagic));
  buf.append(key);
  buf.append(reinterpret_cast<const char*>(&n), 8);
  buf.append(reinterpret_cast<const char*>(&lp.vocab), 4);
  buf.append(reinterpret_cast<const char*>(lp.targets.data()), n * 4);
  buf.append(reinterpret_cast<const char*>(lp.values.data()), lp.values.size() * 4);
  return WriteFileAtomic(PathFor(key), buf.data(), buf.size());
}

}  // namespace squeeze
