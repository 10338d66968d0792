// Validation and expansion of a sweep on the coordinator: every field checked (paths resolved
// under the data root and present, technique parameters against their schemas, value lists
// expanded as cartesian products), all problems listed by field path, then one job
// configuration per combination, the baseline first.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "squeeze/v1/sweep.pb.h"

namespace squeeze::sweep {

struct ExpandOptions {
  std::string data_root;            // every path must resolve inside it (must exist)
  int max_configurations = 100000;  // per sweep, the baseline included
  int default_max_attempts = 3;
};

struct ExpandedSweep {
  std::string name;
  // Resolved settings shared by every job: paths relative to the data root, defaults filled
  // in; no pipeline and no target.
  v1::JobSpec settings;
  std::vector<std::string> targets;
  // Configurations in order; [0] is the baseline (empty). Each is the canonical spec of
  // every step ("rtn:bits=4,group=32,symmetric=true,embeddings=false").
  std::vector<std::vector<std::string>> configs;
  int duplicates = 0;  // configurations dropped as identical to an earlier one
  int max_attempts = 3;
};

// Checks and expands `spec`. On any problem: InvalidArgument whose message lists every
// problem on its own line as "field.path: what is wrong", e.g.
// "configs[3].rtn.bits: 5 is not one of 2, 3, 4, 8" or
// "model: ../m.bin is outside the data root /data".
absl::StatusOr<ExpandedSweep> ExpandSweep(const v1::SweepSpec& spec, const ExpandOptions& options);

// The metrics label of a configuration: "baseline", the technique's name, or "pipeline".
std::string TechniqueLabel(const std::vector<std::string>& config);

// Resolves `path` (relative to `data_root`, or absolute) and checks that it lies inside the
// root once symbolic links and ".." are resolved, and that it exists. Returns the path
// relative to the root. Errors name `field` and the path.
absl::StatusOr<std::string> ResolveUnderRoot(const std::string& data_root, const std::string& path,
                                             const std::string& field);

}  // namespace squeeze::sweep
