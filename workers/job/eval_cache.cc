// In-memory LRU caches of models and baseline log-probabilities (see eval_cache.h).
#include "job/eval_cache.h"

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"
#include "model/loader.h"

namespace squeeze {
namespace {

namespace fs = std::filesystem;

void AddIdentity(const fs::path& p, std::string* key) {
  std::error_code ec;
  const auto size = fs::file_size(p, ec);
  const auto mtime = fs::last_write_time(p, ec);
  absl::StrAppend(key, "|", p.filename().string(), ":", ec ? 0 : size, ":",
                  ec ? 0 : mtime.time_since_epoch().count());
}

// path + the size and modification time of the files that make up the model.
std::string FileIdentity(const std::string& path) {
  std::string key = path;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(path, ec)) {
      const std::string name = e.path().filename().string();
      if (name == "config.json" || name.find(".safetensors") != std::string::npos)
        files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const fs::path& f : files) AddIdentity(f, &key);
  } else {
    AddIdentity(path, &key);
  }
  return key;
}

template <typename T>
std::shared_ptr<const T> Touch(std::list<std::pair<std::string, std::shared_ptr<const T>>>& lru,
                               const std::string& key) {
  for (auto it = lru.begin(); it != lru.end(); ++it) {
    if (it->first != key) continue;
    lru.splice(lru.begin(), lru, it);
    return lru.front().second;
  }
  return nullptr;
}

template <typename T>
void Insert(std::list<std::pair<std::string, std::shared_ptr<const T>>>& lru,
            const std::string& key, std::shared_ptr<const T> value, int max) {
  lru.emplace_front(key, std::move(value));
  while (int(lru.size()) > std::max(max, 1)) lru.pop_back();
}

}  // namespace

absl::StatusOr<std::shared_ptr<const Model>> EvalMemoryCache::GetModel(const std::string& path) {
  std::lock_guard<std::mutex> load_lock(load_mu_);
  const std::string key = FileIdentity(path);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (std::shared_ptr<const Model> hit = Touch(models_, key)) {
      ++counters_.model_hits;
      return hit;
    }
  }
  absl::StatusOr<Model> loaded = LoadModel(path);
  if (!loaded.ok()) return loaded.status();
  auto model = std::make_shared<const Model>(*std::move(loaded));
  std::lock_guard<std::mutex> lock(mu_);
  ++counters_.model_loads;
  Insert(models_, key, model, options_.max_models);
  return model;
}

std::shared_ptr<const LogProbs> EvalMemoryCache::FindBaseline(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  std::shared_ptr<const LogProbs> hit = Touch(baselines_, key);
  if (hit) ++counters_.baseline_hits;
  return hit;
}

void EvalMemoryCache::StoreBaseline(const std::string& key, std::shared_ptr<const LogProbs> lp) {
  std::lock_guard<std::mutex> lock(mu_);
  ++counters_.baselines_computed;
  Insert(baselines_, key, std::move(lp), options_.max_baselines);
}

EvalMemoryCache::Counters EvalMemoryCache::counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counters_;
}

}  // namespace squeeze
