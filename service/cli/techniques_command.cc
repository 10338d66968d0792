// `squeeze techniques`: every registered technique with its family, parameters, defaults and
// allowed values (the same schema that validates `eval --apply` and sweep specs).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "service/cli/commands.h"
#include "service/cli/common.h"
#include "techniques/registry.h"

namespace squeeze::cli {
namespace {

std::string Bound(const ParamSpec& p, double v) {
  return p.type == ParamType::kInt ? absl::StrCat(int64_t(v)) : absl::StrFormat("%g", v);
}

// "one of 2, 3, 4, 8", "1 to 100", "true or false", "any text".
std::string Accepted(const ParamSpec& p) {
  if (!p.allowed.empty()) return "one of " + absl::StrJoin(p.allowed, ", ");
  if (p.type == ParamType::kBool) return "true or false";
  if (p.min && p.max) return absl::StrCat(Bound(p, *p.min), " to ", Bound(p, *p.max));
  if (p.min) return absl::StrCat(">= ", Bound(p, *p.min));
  if (p.max) return absl::StrCat("<= ", Bound(p, *p.max));
  return p.type == ParamType::kString ? "any text" : absl::StrCat("any ", ParamTypeName(p.type));
}

std::string Table() {
  std::string o =
      "Techniques for `squeeze eval --apply name:key=value,...` (repeatable, applied in order)\n";
  for (const TechniqueInfo& t : AllTechniques()) {
    o += absl::StrFormat("\n%s (%s)\n  %s\n", t.name, t.family, t.summary);
    for (const ParamSpec& p : t.params) {
      const std::string def = p.default_value ? "default " + *p.default_value : "required";
      o += absl::StrFormat("    %-12s %-6s %-18s %s\n", p.name, ParamTypeName(p.type), def,
                           Accepted(p));
      if (!p.help.empty()) o += absl::StrFormat("    %-12s %s\n", "", p.help);
    }
  }
  return o;
}

std::string Json() {
  nlohmann::json all = nlohmann::json::array();
  for (const TechniqueInfo& t : AllTechniques()) {
    nlohmann::json params = nlohmann::json::array();
    for (const ParamSpec& p : t.params) {
      nlohmann::json j = {{"name", p.name},
                          {"type", ParamTypeName(p.type)},
                          {"required", !p.default_value.has_value()},
                          {"help", p.help}};
      if (p.default_value) j["default"] = *p.default_value;
      if (!p.allowed.empty()) j["allowed"] = p.allowed;
      if (p.min) j["min"] = *p.min;
      if (p.max) j["max"] = *p.max;
      params.push_back(j);
    }
    all.push_back(
        {{"name", t.name}, {"family", t.family}, {"summary", t.summary}, {"params", params}});
  }
  return all.dump(2);
}

}  // namespace

void AddTechniquesCommand(CLI::App& app, int* exit_code) {
  auto json = std::make_shared<bool>(false);
  CLI::App* c = app.add_subcommand(
      "techniques", "List the techniques for `eval --apply`: parameters, defaults, allowed values");
  c->add_flag("--json", *json, "print JSON instead of text");
  c->callback([json, exit_code] {
    const std::string out = *json ? Json() + "\n" : Table();
    std::fputs(out.c_str(), stdout);
    *exit_code = kExitOk;
  });
}

}  // namespace squeeze::cli
