// Path resolution and content types for the dashboard's static files (see static_files.h).
#include "service/http/static_files.h"

#include <filesystem>
#include <system_error>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace squeeze {
namespace fs = std::filesystem;

absl::StatusOr<std::string> ResolveStaticPath(const std::string& root, std::string_view uri) {
  const auto refuse = [&](const char* why) {
    return absl::NotFoundError(absl::StrCat("no such file: ", std::string(uri), " (", why, ")"));
  };
  if (uri.empty() || uri[0] != '/') return refuse("not an absolute path");
  for (char c : uri) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == '\\') {
      return refuse("bad character");
    }
  }
  std::string rel(uri.substr(1));
  if (rel.empty() || rel.back() == '/') rel += "index.html";
  for (const std::string& seg : std::vector<std::string>(absl::StrSplit(rel, '/'))) {
    if (seg.empty()) return refuse("empty path segment");
    if (seg[0] == '.') return refuse("dot segment or hidden name");
  }
  std::error_code ec;
  const fs::path base = fs::canonical(root, ec);
  if (ec) return absl::NotFoundError(absl::StrCat("web root ", root, ": ", ec.message()));
  const fs::path full = fs::canonical(base / rel, ec);
  if (ec) return refuse("not found");
  const fs::path inside = full.lexically_relative(base);
  if (inside.empty() || *inside.begin() == "..") return refuse("outside the web root");
  if (!fs::is_regular_file(full, ec)) return refuse("not a file");
  return full.string();
}

std::string_view ContentTypeFor(std::string_view path) {
  const size_t dot = path.rfind('.');
  const size_t slash = path.rfind('/');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) {
    return "application/octet-stream";
  }
  const std::string ext = absl::AsciiStrToLower(std::string(path.substr(dot + 1)));
  static const std::vector<std::pair<std::string_view, std::string_view>> kTypes = {
      {"html", "text/html; charset=utf-8"},
      {"js", "text/javascript; charset=utf-8"},
      {"mjs", "text/javascript; charset=utf-8"},
      {"css", "text/css; charset=utf-8"},
      {"json", "application/json"},
      {"map", "application/json"},
      {"svg", "image/svg+xml"},
      {"png", "image/png"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"ico", "image/x-icon"},
      {"woff2", "font/woff2"},
      {"txt", "text/plain; charset=utf-8"},
  };
  for (const auto& [e, type] : kTypes) {
    if (e == ext) return type;
  }
  return "application/octet-stream";
}

}  // namespace squeeze
