// In-memory caches shared by the evaluations of one process (the sweep worker's): loaded
// models, calibration statistics and baseline log-probabilities, so that a sweep of N
// configurations loads its model and computes its baseline once per worker.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "calibration/calibration.h"
#include "measure/accuracy.h"
#include "model/model.h"

namespace squeeze {

class EvalMemoryCache {
 public:
  struct Options {
    int max_models = 2;     // loaded models kept (least recently used dropped first)
    int max_baselines = 4;  // baseline log-probability sets kept
  };
  struct Counters {
    int64_t model_loads = 0;         // models actually read from disk
    int64_t model_hits = 0;          // models served from the cache
    int64_t baselines_computed = 0;  // baseline log-probability sets stored after computing
    int64_t baseline_hits = 0;       // baseline log-probability sets served from the cache
  };

  EvalMemoryCache() : EvalMemoryCache(Options{}) {}
  explicit EvalMemoryCache(const Options& options) : options_(options) {}

  // The model at `path`, loaded once per file identity: the path and the size and
  // modification time of the file (of config.json and every *.safetensors* file for a
  // Hugging Face folder), so a rewritten file is loaded again. The model carries its content
  // hash, which keys the other caches. Load errors are returned and not cached.
  absl::StatusOr<std::shared_ptr<const Model>> GetModel(const std::string& path);

  // Baseline log-probabilities stored under `key` (BaselineCacheKey: model content hash,
  // scored tokens, settings, instruction set), or null.
  std::shared_ptr<const LogProbs> FindBaseline(const std::string& key);
  void StoreBaseline(const std::string& key, std::shared_ptr<const LogProbs> lp);

  // Calibration statistics, keyed by model content hash and calibration set.
  StatsCache& stats() { return stats_; }

  Counters counters() const;

 private:
  template <typename T>
  using Lru = std::list<std::pair<std::string, std::shared_ptr<const T>>>;

  const Options options_;
  mutable std::mutex mu_;
  Lru<Model> models_;        // most recently used first; guarded by mu_
  Lru<LogProbs> baselines_;  // guarded by mu_
  Counters counters_;        // guarded by mu_
  std::mutex load_mu_;       // serializes model loads, so a model is never loaded twice at once
  StatsCache stats_;
};

}  // namespace squeeze
