// Static file resolution for the dashboard: traversal attempts, hidden names, symbolic links
// out of the root, index.html for folders, and content types.
#include "service/http/static_files.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "testutil/assets.h"

namespace squeeze {
namespace {
namespace fs = std::filesystem;

class StaticFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::TempDir("static_files");
    root_ = dir_ + "/dist";
    fs::create_directories(root_ + "/assets");
    Write(root_ + "/index.html");
    Write(root_ + "/assets/app.js");
    Write(root_ + "/.hidden");
    Write(dir_ + "/secret.txt");
    fs::create_symlink(dir_ + "/secret.txt", root_ + "/link.txt");
  }
  static void Write(const std::string& path) { std::ofstream(path) << "x"; }
  std::string dir_, root_;
};

TEST_F(StaticFilesTest, ServesFilesUnderTheRoot) {
  const std::string canon = fs::canonical(root_).string();
  EXPECT_EQ(ResolveStaticPath(root_, "/").value(), canon + "/index.html");
  EXPECT_EQ(ResolveStaticPath(root_, "/index.html").value(), canon + "/index.html");
  EXPECT_EQ(ResolveStaticPath(root_, "/assets/app.js").value(), canon + "/assets/app.js");
}

TEST_F(StaticFilesTest, RefusesEverythingElse) {
  for (const char* uri :
       {"/../secret.txt", "/assets/../../secret.txt", "/..", "/assets/..", "/./index.html",
        "//etc/passwd", "/.hidden", "/link.txt", "/missing.js", "/assets", "/assets/",
        "/a\\..\\secret.txt", "relative", "", "/index.html\n"}) {
    absl::StatusOr<std::string> r = ResolveStaticPath(root_, uri);
    EXPECT_FALSE(r.ok()) << "'" << uri << "' resolved to " << *r;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
    }
  }
  absl::StatusOr<std::string> r = ResolveStaticPath(root_, "/../secret.txt");
  EXPECT_NE(r.status().message().find("/../secret.txt"), std::string::npos) << r.status().message();
}

TEST_F(StaticFilesTest, MissingRootIsNamed) {
  absl::StatusOr<std::string> r = ResolveStaticPath(dir_ + "/nope", "/");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("nope"), std::string::npos) << r.status().message();
}

TEST(ContentTypeTest, ByExtension) {
  EXPECT_EQ(ContentTypeFor("/x/index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("app.JS"), "text/javascript; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("a.css"), "text/css; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("a.svg"), "image/svg+xml");
  EXPECT_EQ(ContentTypeFor("a.png"), "image/png");
  EXPECT_EQ(ContentTypeFor("dir.v2/file"), "application/octet-stream");
  EXPECT_EQ(ContentTypeFor("noext"), "application/octet-stream");
}

}  // namespace
}  // namespace squeeze
