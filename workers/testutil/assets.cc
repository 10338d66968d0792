// Locating shared test assets and scratch folders.
#include "testutil/assets.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

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

std::string TempDir(const std::string& name) {
  const char* base = std::getenv("TMPDIR");
  std::filesystem::path p = std::filesystem::path(base && *base ? base : "/tmp") /
                            ("squeeze-test-" + std::to_string(::getpid()) + "-" + name);
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p.string();
}

}  // namespace squeeze::testing
