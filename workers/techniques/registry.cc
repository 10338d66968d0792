// The registry of built-in techniques, the CLI spec parser and pipelines.
#include "techniques/registry.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "techniques/builtin.h"
#include "util/hash.h"

namespace squeeze {

const std::vector<TechniqueInfo>& AllTechniques() {
  static const std::vector<TechniqueInfo>* const kAll = [] {
    auto* v = new std::vector<TechniqueInfo>{
        PrecisionTechniqueInfo(), RtnTechniqueInfo(),     Nf4TechniqueInfo(),
        Fp4TechniqueInfo(),       GptqTechniqueInfo(),    AwqTechniqueInfo(),
        KvCacheTechniqueInfo(),   LlmInt8TechniqueInfo(), SmoothQuantTechniqueInfo(),
        MagnitudeTechniqueInfo(), WandaTechniqueInfo(),   SparseGptTechniqueInfo(),
        NmSparseTechniqueInfo(),  DistillTechniqueInfo(), QatTechniqueInfo(),
        FinetuneTechniqueInfo()};
    // Attention variants and structured pruning.
    for (TechniqueInfo (*info)() :
         {GqaTechniqueInfo, MqaTechniqueInfo, SlidingWindowTechniqueInfo, SinksTechniqueInfo,
          BlockSparseTechniqueInfo, FlashTechniqueInfo, AttentionKernelTechniqueInfo,
          HeadPruneTechniqueInfo, FfnPruneTechniqueInfo})
      v->push_back(info());
    std::sort(v->begin(), v->end(),
              [](const TechniqueInfo& a, const TechniqueInfo& b) { return a.name < b.name; });
    return v;
  }();
  return *kAll;
}

const TechniqueInfo* FindTechnique(std::string_view name) {
  for (const TechniqueInfo& t : AllTechniques()) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

absl::StatusOr<std::unique_ptr<Technique>> MakeTechnique(std::string_view name,
                                                         const ParamMap& params) {
  const TechniqueInfo* info = FindTechnique(name);
  if (info == nullptr) {
    std::vector<std::string> names;
    for (const TechniqueInfo& t : AllTechniques()) names.push_back(t.name);
    return absl::InvalidArgumentError(absl::StrCat("unknown technique \"", std::string(name),
                                                   "\" (known: ", absl::StrJoin(names, ", "), ")"));
  }
  absl::StatusOr<Params> p = ValidateParams(*info, params);
  if (!p.ok()) return p.status();
  return info->factory(*p);
}

absl::StatusOr<std::pair<std::string, ParamMap>> ParseApplySpec(std::string_view spec_view) {
  // Abseil's string_view is not std::string_view in every build: work on a std::string.
  const std::string spec(spec_view);
  auto error = [&](const std::string& what) {
    return absl::InvalidArgumentError(
        absl::StrCat("spec \"", spec, "\": ", what, " (syntax: name or name:key=value,...)"));
  };
  const size_t colon = spec.find(':');
  const std::string name(absl::StripAsciiWhitespace(absl::string_view(spec).substr(0, colon)));
  if (name.empty()) return error(spec.empty() ? "empty" : "no technique name");
  for (char c : name) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_')) {
      return error(absl::StrCat("technique name \"", name, "\" may only contain a-z, 0-9 and _"));
    }
  }
  ParamMap params;
  if (colon == std::string::npos) return std::make_pair(name, params);
  const absl::string_view rest = absl::string_view(spec).substr(colon + 1);
  if (absl::StripAsciiWhitespace(rest).empty()) return error("no parameters after ':'");
  for (absl::string_view item : absl::StrSplit(rest, ',')) {
    const size_t eq = item.find('=');
    if (eq == absl::string_view::npos) {
      return error(absl::StrCat("\"", absl::StripAsciiWhitespace(item), "\" is not key=value"));
    }
    const std::string key(absl::StripAsciiWhitespace(item.substr(0, eq)));
    const std::string value(absl::StripAsciiWhitespace(item.substr(eq + 1)));
    if (key.empty()) return error(absl::StrCat("\"", item, "\" has no key before '='"));
    if (value.empty()) return error(absl::StrCat("parameter ", key, " has no value"));
    if (!params.emplace(key, value).second) {
      return error(absl::StrCat("parameter ", key, " is given twice"));
    }
  }
  return std::make_pair(name, std::move(params));
}

absl::StatusOr<Pipeline> MakePipeline(const std::vector<std::string>& specs) {
  Pipeline p;
  for (const std::string& spec : specs) {
    absl::StatusOr<std::pair<std::string, ParamMap>> parsed = ParseApplySpec(spec);
    if (!parsed.ok()) return parsed.status();  // already names the spec
    absl::StatusOr<std::unique_ptr<Technique>> t = MakeTechnique(parsed->first, parsed->second);
    if (!t.ok()) {
      return absl::Status(t.status().code(), absl::StrCat(spec, ": ", t.status().message()));
    }
    p.specs.push_back(spec);
    p.steps.push_back(*std::move(t));
  }
  return p;
}

absl::StatusOr<std::vector<std::string>> ApplyPipeline(const Pipeline& pipeline, Model& model,
                                                       const TechniqueContext& ctx) {
  std::vector<std::string> applied;
  Hasher h;
  h.Field(model.content_hash);
  for (size_t i = 0; i < pipeline.steps.size(); ++i) {
    const Technique& step = *pipeline.steps[i];
    if (absl::Status s = step.Apply(model, ctx); !s.ok()) {
      const std::string spec = i < pipeline.specs.size() ? pipeline.specs[i] : step.Describe();
      return absl::Status(s.code(), absl::StrCat(spec, ": ", s.message()));
    }
    // After Apply: a description may report what the step found (llm_int8's outliers).
    std::string what = step.Describe();
    h.Field(what);
    if (step.uses_calibration() && ctx.calibration) h.Field(ctx.calibration->key);
    applied.push_back(std::move(what));
    // Updated after every step: calibration statistics cached by content hash (StatsCache)
    // must never be those of the model before an earlier step.
    model.content_hash = h.Hex();
  }
  return applied;
}

absl::StatusOr<const CalibrationSet*> RequireCalibration(const TechniqueContext& ctx,
                                                         const std::string& technique) {
  if (ctx.calibration) return ctx.calibration;
  return absl::FailedPreconditionError(
      absl::StrCat(technique, ": needs calibration text (give one with --calib-text FILE)"));
}

}  // namespace squeeze
