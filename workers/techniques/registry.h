// The technique registry: every technique by name with its schema, the `name:key=value,...`
// spec syntax of the CLI, and pipelines (techniques applied in order).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/model.h"
#include "techniques/technique.h"

namespace squeeze {

// Every registered technique, sorted by name. Built once; the reference stays valid.
const std::vector<TechniqueInfo>& AllTechniques();

// The technique called `name`, or null.
const TechniqueInfo* FindTechnique(std::string_view name);

// Validates `params` against the technique's schema and builds it. Errors: an unknown
// technique (listing the known names), an unknown parameter (naming it and listing the valid
// ones), a value of the wrong type, not allowed or out of range (naming "technique.param" and
// what is accepted), or a combination the technique rejects.
absl::StatusOr<std::unique_ptr<Technique>> MakeTechnique(std::string_view name,
                                                         const ParamMap& params);

// Parses the CLI syntax "name" or "name:key=value,key=value" (spaces around names, keys and
// values are ignored; the value runs to the next comma, so it may contain ':' as in
// "pattern=2:4"). Errors name the spec and the problem: empty spec or name, a name with
// characters other than [a-z0-9_], an empty parameter list after ':', an item without '=',
// an empty key or value, a key given twice. Does not check the name or keys against the
// registry (MakeTechnique does).
absl::StatusOr<std::pair<std::string, ParamMap>> ParseApplySpec(std::string_view spec);

// A pipeline: the techniques of several specs, validated and built before anything runs.
struct Pipeline {
  std::vector<std::string> specs;  // as written, for error messages
  std::vector<std::unique_ptr<Technique>> steps;
};

// ParseApplySpec + MakeTechnique for each spec, in order; the error of the first bad spec
// is prefixed with the spec itself ("rtn:bits=5: rtn.bits: 5 is not one of 2, 3, 4, 8").
absl::StatusOr<Pipeline> MakePipeline(const std::vector<std::string>& specs);

// Applies the steps in order. After each step model.content_hash identifies the transformed
// weights (a hash of the old hash, every step's Describe() so far and, for steps that
// calibrate, the calibration set's key), so caches keyed by it never mix up the transformed
// and the original model, nor two stages of a pipeline. Returns each step's Describe(),
// taken after its Apply (so it may report what the step found).
absl::StatusOr<std::vector<std::string>> ApplyPipeline(const Pipeline& pipeline, Model& model,
                                                       const TechniqueContext& ctx = {});

}  // namespace squeeze
