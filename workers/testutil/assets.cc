// Locating shared test assets and scratch folders.
#include "testutil/assets.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <vector>

namespace squeeze::testing {

std::string AssetsDir() {
  const char* env = std::getenv("SQUEEZE_ASSETS");
  std::string dir = env && *env ? env : SQUEEZE_DEFAULT_ASSETS_DIR;
  std::error_code ec;
  return std::filesystem::is_directory(dir, ec) ? dir : std::string();
}

std::string AssetPath(const std::string& relative) {
  const std::string dir = AssetsDir();
  if (dir.empty()) return "";
  const std::string p = dir + "/" + relative;
  std::error_code ec;
  return std::filesystem::exists(p, ec) ? p : std::string();
}

namespace {

// The directories TempDir made, removed when the process that made them exits (a forked child
// that exits normally must not take its parent's folders with it).
class MadeDirs {
 public:
  void Add(const std::filesystem::path& p) {
    std::lock_guard<std::mutex> lock(mu_);
    dirs_.push_back(p);
  }
  ~MadeDirs() {
    const char* keep = std::getenv("SQUEEZE_KEEP_TEST_DIRS");
    if ((keep && *keep) || ::getpid() != owner_) return;
    std::error_code ec;
    for (const std::filesystem::path& p : dirs_) std::filesystem::remove_all(p, ec);
  }

 private:
  const pid_t owner_ = ::getpid();
  std::mutex mu_;
  std::vector<std::filesystem::path> dirs_;
};

}  // namespace

std::string TempDir(const std::string& name) {
  static MadeDirs made;
  const char* base = std::getenv("TMPDIR");
  std::filesystem::path p = std::filesystem::path(base && *base ? base : "/tmp") /
                            ("squeeze-test-" + std::to_string(::getpid()) + "-" + name);
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  made.Add(p);
  return p.string();
}

}  // namespace squeeze::testing
