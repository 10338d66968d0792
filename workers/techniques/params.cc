// Parameter schema checks: raw `key=value` text to typed, validated Params.
#include <cassert>
#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "techniques/technique.h"

namespace squeeze {
namespace {

std::string FloatText(double v) {
  std::string s = absl::StrFormat("%.6g", v);
  double back = 0;
  if (absl::SimpleAtod(s, &back) && back == v) return s;
  return absl::StrFormat("%.17g", v);
}

std::string ValueText(const ParamValue& v) {
  if (const auto* i = std::get_if<int64_t>(&v)) return absl::StrCat(*i);
  if (const auto* d = std::get_if<double>(&v)) return FloatText(*d);
  if (const auto* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  return std::get<std::string>(v);
}

std::string RangeText(const ParamSpec& p) {
  auto bound = [&](const std::optional<double>& b, const char* inf) {
    if (!b) return std::string(inf);
    return p.type == ParamType::kInt ? absl::StrCat(int64_t(*b)) : FloatText(*b);
  };
  return absl::StrCat("[", bound(p.min, "-inf"), ", ", bound(p.max, "inf"), "]");
}

// What the parameter accepts, for error messages ("one of 2, 3, 4, 8").
std::string AcceptedText(const ParamSpec& p) {
  if (!p.allowed.empty()) return "one of " + absl::StrJoin(p.allowed, ", ");
  switch (p.type) {
    case ParamType::kBool:
      return "true or false";
    case ParamType::kInt:
      return p.min || p.max ? "an integer in " + RangeText(p) : "an integer";
    case ParamType::kFloat:
      return p.min || p.max ? "a number in " + RangeText(p) : "a number";
    default:
      return "any text";
  }
}

// Parses one value of `p` from text; errors are prefixed with "technique.param: ".
absl::StatusOr<ParamValue> ParseValue(const std::string& prefix, const ParamSpec& p,
                                      const std::string& text) {
  auto not_accepted = [&](const std::string& what) {
    return absl::InvalidArgumentError(
        absl::StrCat(prefix, ": ", what, " is not ", AcceptedText(p)));
  };
  auto out_of_range = [&]() {
    return absl::InvalidArgumentError(
        absl::StrCat(prefix, ": ", text, " is outside ", RangeText(p)));
  };
  ParamValue v;
  switch (p.type) {
    case ParamType::kInt: {
      int64_t i = 0;
      if (!absl::SimpleAtoi(text, &i)) {
        return absl::InvalidArgumentError(absl::StrCat(
            prefix, ": \"", text, "\" is not an integer (expected ", AcceptedText(p), ")"));
      }
      if ((p.min && double(i) < *p.min) || (p.max && double(i) > *p.max)) return out_of_range();
      v = i;
      break;
    }
    case ParamType::kFloat: {
      double d = 0;
      if (!absl::SimpleAtod(text, &d) || !std::isfinite(d)) {
        return absl::InvalidArgumentError(absl::StrCat(
            prefix, ": \"", text, "\" is not a finite number (expected ", AcceptedText(p), ")"));
      }
      if ((p.min && d < *p.min) || (p.max && d > *p.max)) return out_of_range();
      v = d;
      break;
    }
    case ParamType::kBool:
      if (text == "true" || text == "1") {
        v = true;
      } else if (text == "false" || text == "0") {
        v = false;
      } else {
        return not_accepted("\"" + text + "\"");
      }
      break;
    case ParamType::kString:
    case ParamType::kEnum:
      v = text;
      break;
  }
  if (!p.allowed.empty()) {
    const std::string canonical = ValueText(v);
    bool found = false;
    for (const std::string& a : p.allowed) found |= (a == canonical);
    if (!found) return not_accepted(text);
  }
  return v;
}

}  // namespace

const char* ParamTypeName(ParamType t) {
  switch (t) {
    case ParamType::kInt:
      return "int";
    case ParamType::kFloat:
      return "float";
    case ParamType::kBool:
      return "bool";
    case ParamType::kString:
      return "string";
    case ParamType::kEnum:
      return "enum";
  }
  return "?";
}

const ParamValue* Params::Find(std::string_view name) const {
  for (const auto& [k, v] : values_) {
    if (k == name) return &v;
  }
  return nullptr;
}

int64_t Params::GetInt(std::string_view name) const {
  const ParamValue* v = Find(name);
  assert(v && std::holds_alternative<int64_t>(*v));
  return v && std::holds_alternative<int64_t>(*v) ? std::get<int64_t>(*v) : 0;
}

double Params::GetFloat(std::string_view name) const {
  const ParamValue* v = Find(name);
  assert(v && std::holds_alternative<double>(*v));
  return v && std::holds_alternative<double>(*v) ? std::get<double>(*v) : 0.0;
}

bool Params::GetBool(std::string_view name) const {
  const ParamValue* v = Find(name);
  assert(v && std::holds_alternative<bool>(*v));
  return v && std::holds_alternative<bool>(*v) ? std::get<bool>(*v) : false;
}

const std::string& Params::GetString(std::string_view name) const {
  static const std::string kEmpty;
  const ParamValue* v = Find(name);
  assert(v && std::holds_alternative<std::string>(*v));
  return v && std::holds_alternative<std::string>(*v) ? std::get<std::string>(*v) : kEmpty;
}

std::string Params::ToSpec() const {
  if (values_.empty()) return technique_;
  std::vector<std::string> kv;
  for (const auto& [k, v] : values_) kv.push_back(k + "=" + ValueText(v));
  return technique_ + ":" + absl::StrJoin(kv, ",");
}

absl::StatusOr<Params> ValidateParams(const TechniqueInfo& info, const ParamMap& raw) {
  for (const auto& [key, value] : raw) {
    bool known = false;
    for (const ParamSpec& p : info.params) known |= (p.name == key);
    if (!known) {
      std::vector<std::string> names;
      for (const ParamSpec& p : info.params) names.push_back(p.name);
      return absl::InvalidArgumentError(absl::StrCat(
          info.name, ": unknown parameter \"", key,
          "\" (valid: ", names.empty() ? std::string("none") : absl::StrJoin(names, ", "), ")"));
    }
  }
  std::vector<std::pair<std::string, ParamValue>> values;
  for (const ParamSpec& p : info.params) {
    const std::string prefix = info.name + "." + p.name;
    auto it = raw.find(p.name);
    if (it == raw.end() && !p.default_value) {
      return absl::InvalidArgumentError(
          absl::StrCat(prefix, ": required, give ", p.name, "=<", AcceptedText(p), ">"));
    }
    const std::string& text = it != raw.end() ? it->second : *p.default_value;
    absl::StatusOr<ParamValue> v = ParseValue(prefix, p, text);
    if (!v.ok()) return v.status();
    values.emplace_back(p.name, *std::move(v));
  }
  return Params(info.name, std::move(values));
}

}  // namespace squeeze
