// On-disk cache of a baseline's log-probabilities, keyed by a hash of everything they depend
// on (model weights, scored tokens, evaluation settings, kernel instruction set). An entry
// stores its full key and is used only when the key matches exactly.
#pragma once

#include <optional>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "measure/accuracy.h"

namespace squeeze {

// The cache key for a baseline evaluation.
std::string BaselineCacheKey(const std::string& model_hash, std::span<const int32_t> text_tokens,
                             const EvalSettings& settings, int context, int32_t bos_id,
                             const std::string& isa_name);

// Default folder: $SQUEEZE_CACHE_DIR, else $XDG_CACHE_HOME/squeeze, else ~/.cache/squeeze.
std::string DefaultCacheDir();

class BaselineCache {
 public:
  explicit BaselineCache(std::string dir) : dir_(std::move(dir)) {}

  // The entry for `key`, or nullopt when there is none (or it is unreadable, truncated or
  // written for another key: such an entry is ignored, never used).
  std::optional<LogProbs> Load(const std::string& key) const;
  // Stores an entry (atomically: temporary file + rename). Creates the folder.
  absl::Status Store(const std::string& key, const LogProbs& lp) const;
  std::string PathFor(const std::string& key) const;

 private:
  std::string dir_;
};

}  // namespace squeeze
