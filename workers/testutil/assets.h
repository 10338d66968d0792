// Where tests find ../shared/assets (real models and text). Tests that need them skip with a
// clear message when the folder is absent, so a fresh clone still passes.
#pragma once

#include <string>

namespace squeeze::testing {

// The assets folder: $SQUEEZE_ASSETS, else the one configured at build time
// (<source>/../shared/assets). Empty when it does not exist.
std::string AssetsDir();

// Full path of a file under the assets folder, or empty when the folder or file is missing.
std::string AssetPath(const std::string& relative);

// A fresh temporary directory for one test ($TMPDIR or /tmp, squeeze-test-<pid>-<name>),
// removed with everything in it when the test process exits, unless SQUEEZE_KEEP_TEST_DIRS is
// set (to look at what a failing test wrote).
std::string TempDir(const std::string& name);

}  // namespace squeeze::testing

// Skips the current test when an asset is missing: SQUEEZE_REQUIRE_ASSET(path_var, "rel").
#define SQUEEZE_REQUIRE_ASSET(var, rel)                                             \
  const std::string var = ::squeeze::testing::AssetPath(rel);                       \
  if (var.empty()) {                                                                \
    GTEST_SKIP() << "asset " << (rel) << " not found (../shared/assets is absent; " \
                 << "set SQUEEZE_ASSETS to its folder to run this test)";           \
  }
