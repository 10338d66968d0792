// The dashboard's static files (web/dist, built by npm) served by the coordinator's HTTP
// port: request paths are mapped onto one folder and nothing outside it is ever read.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace squeeze {

// Maps a decoded request path ("/", "/assets/app.js") to a regular file under `root`. "/" and
// paths ending in "/" mean their index.html. Refuses (NotFound, naming the request) paths with
// "..", ".", empty segments after the first, backslashes or control characters, hidden names
// (a segment starting with "."), and anything that resolves (symbolic links included) outside
// the canonical root or to something other than a regular file.
absl::StatusOr<std::string> ResolveStaticPath(const std::string& root, std::string_view uri);

// The Content-Type for a file name, by extension (text types with charset=utf-8);
// "application/octet-stream" for unknown ones.
std::string_view ContentTypeFor(std::string_view path);

}  // namespace squeeze
