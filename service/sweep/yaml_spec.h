// Sweep specifications as users write them (YAML, or JSON, which is YAML too) turned into
// the protobuf SweepSpec that the CLI sends. This checks the document's shape and types
// only; the coordinator validates the content (ExpandSweep).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "squeeze/v1/sweep.pb.h"

namespace squeeze::sweep {

// Parses a sweep document. `source` (the file name) prefixes every error, with the line and
// column when known: "sweep.yaml:4:3: configs[1]: expected a technique name or a map".
// Every problem is listed (one per line) in one InvalidArgument error.
absl::StatusOr<v1::SweepSpec> ParseSweepYaml(const std::string& text, const std::string& source);

// Reads and parses a sweep file; errors name the file.
absl::StatusOr<v1::SweepSpec> LoadSweepFile(const std::string& path);

}  // namespace squeeze::sweep
