// YAML -> SweepSpec (see yaml_spec.h). Shape and types only; content is checked by the
// coordinator.
#include "service/sweep/yaml_spec.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <functional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "util/mapped_file.h"

namespace squeeze::sweep {
namespace {

class Parser {
 public:
  explicit Parser(std::string source) : source_(std::move(source)) {}

  void Error(const YAML::Node& n, const std::string& path, const std::string& msg) {
    std::string where = source_;
    if (n.IsDefined() && n.Mark().line >= 0)
      absl::StrAppend(&where, ":", n.Mark().line + 1, ":", n.Mark().column + 1);
    errors_.push_back(path.empty() ? absl::StrCat(where, ": ", msg)
                                   : absl::StrCat(where, ": ", path, ": ", msg));
  }

  bool Scalar(const YAML::Node& n, const std::string& path, std::string* out) {
    if (!n.IsScalar()) {
      Error(n, path, "expected a single value");
      return false;
    }
    *out = n.Scalar();
    return true;
  }

  void Int(const YAML::Node& n, const std::string& path, const std::function<void(int32_t)>& set) {
    if (!n.IsScalar()) return Error(n, path, "expected an integer");
    int32_t v;
    if (!YAML::convert<int32_t>::decode(n, v))
      return Error(n, path, absl::StrCat("\"", n.Scalar(), "\" is not an integer"));
    set(v);
  }

  void Bool(const YAML::Node& n, const std::string& path, const std::function<void(bool)>& set) {
    bool v;
    if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v))
      return Error(n, path, "expected true or false");
    set(v);
  }

  // latency.context_curve: a string ("auto", "none", "auto:256,1k", "256,1k") or a list of
  // contexts ([256, 1k]), kept as the string form (checked when the sweep is expanded).
  void ContextCurve(const YAML::Node& n, v1::LatencySpec* ls) {
    const std::string path = "latency.context_curve";
    if (n.IsScalar()) return ls->set_context_curve(n.Scalar());
    if (!n.IsSequence() || n.size() == 0)
      return Error(n, path, "expected auto, none or contexts like [256, 1k]");
    std::string joined;
    for (size_t i = 0; i < n.size(); ++i) {
      std::string item;
      if (!Scalar(n[i], absl::StrCat(path, "[", i, "]"), &item)) return;
      absl::StrAppend(&joined, i ? "," : "", item);
    }
    ls->set_context_curve(joined);
  }

  // Reports keys of a map that are not in `known`; false when n is not a map.
  bool Map(const YAML::Node& n, const std::string& path, const std::vector<std::string>& known) {
    if (!n.IsMap()) {
      Error(n, path, "expected a map");
      return false;
    }
    for (const auto& kv : n) {
      const std::string key = kv.first.Scalar();
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        Error(kv.first, path.empty() ? key : path + "." + key,
              absl::StrCat("unknown field (known: ", absl::StrJoin(known, ", "), ")"));
      }
    }
    return true;
  }

  void Step(const YAML::Node& key, const YAML::Node& params, const std::string& path,
            v1::TechniqueStep* step) {
    step->set_technique(key.Scalar());
    const std::string base = path + "." + key.Scalar();
    if (params.IsNull()) return;  // `- nf4:` with no parameters
    if (!params.IsMap()) return Error(params, base, "expected a map of parameters");
    for (const auto& kv : params) {
      const std::string name = kv.first.Scalar();
      v1::ParamValues& values = (*step->mutable_params())[name];
      const std::string ppath = base + "." + name;
      if (kv.second.IsSequence()) {
        if (kv.second.size() == 0) Error(kv.second, ppath, "empty list of values");
        for (const auto& v : kv.second) {
          std::string s;
          if (Scalar(v, ppath, &s)) values.add_values(s);
        }
      } else {
        std::string s;
        if (Scalar(kv.second, ppath, &s)) values.add_values(s);
      }
    }
  }

  // One technique: "nf4" or {rtn: {bits: 4}}.
  bool Technique(const YAML::Node& n, const std::string& path, v1::TechniqueStep* step) {
    if (n.IsScalar()) {
      step->set_technique(n.Scalar());
      return true;
    }
    if (!n.IsMap() || n.size() != 1) {
      Error(n, path,
            "expected a technique name or a map with one technique (to compose several, "
            "use pipeline: [...])");
      return false;
    }
    const auto kv = *n.begin();
    Step(kv.first, kv.second, path, step);
    return true;
  }

  void Config(const YAML::Node& n, const std::string& path, v1::ConfigSpec* c) {
    if (n.IsMap() && n.size() == 1 && n.begin()->first.Scalar() == "pipeline") {
      c->set_pipeline(true);
      const YAML::Node steps = n.begin()->second;
      if (!steps.IsSequence() || steps.size() == 0) {
        return Error(steps, path + ".pipeline", "expected a non-empty list of techniques");
      }
      for (size_t j = 0; j < steps.size(); ++j) {
        Technique(steps[j], absl::StrCat(path, ".pipeline[", j, "]"), c->add_steps());
      }
      return;
    }
    Technique(n, path, c->add_steps());
  }

  absl::StatusOr<v1::SweepSpec> Parse(const std::string& text) {
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::ParserException& e) {
      return absl::InvalidArgumentError(absl::StrCat(
          source_, ":", e.mark.line + 1, ":", e.mark.column + 1, ": malformed YAML: ", e.msg));
    }
    v1::SweepSpec s;
    try {
      Fill(root, &s);
    } catch (const YAML::Exception& e) {  // conversions we did not guard
      errors_.push_back(absl::StrCat(source_, ": ", e.what()));
    }
    if (!errors_.empty()) return absl::InvalidArgumentError(absl::StrJoin(errors_, "\n"));
    return s;
  }

 private:
  void Fill(const YAML::Node& root, v1::SweepSpec* s) {
    if (!root.IsDefined() || root.IsNull()) {
      errors_.push_back(source_ + ": empty sweep specification");
      return;
    }
    if (!Map(root, "",
             {"name", "model", "tokenizer", "eval", "calibration", "latency", "targets", "configs",
              "max_attempts"})) {
      return;
    }
    std::string v;
    if (root["name"] && Scalar(root["name"], "name", &v)) s->set_name(v);
    if (!root["model"]) {
      errors_.push_back(source_ + ": model: required (the model file or folder)");
    } else if (Scalar(root["model"], "model", &v)) {
      s->set_model(v);
    }
    if (root["tokenizer"] && Scalar(root["tokenizer"], "tokenizer", &v)) s->set_tokenizer(v);
    if (const YAML::Node e = root["eval"]; e && Map(e, "eval", {"text", "context", "max_tokens"})) {
      v1::EvalSpec* es = s->mutable_eval();
      if (e["text"] && Scalar(e["text"], "eval.text", &v)) es->set_text(v);
      if (e["context"]) Int(e["context"], "eval.context", [&](int32_t x) { es->set_context(x); });
      if (e["max_tokens"])
        Int(e["max_tokens"], "eval.max_tokens", [&](int32_t x) { es->set_max_tokens(x); });
    }
    if (const YAML::Node c = root["calibration"];
        c && Map(c, "calibration", {"text", "samples", "context"})) {
      v1::CalibrationSpec* cs = s->mutable_calibration();
      if (c["text"] && Scalar(c["text"], "calibration.text", &v)) cs->set_text(v);
      if (c["samples"])
        Int(c["samples"], "calibration.samples", [&](int32_t x) { cs->set_samples(x); });
      if (c["context"])
        Int(c["context"], "calibration.context", [&](int32_t x) { cs->set_context(x); });
    }
    if (const YAML::Node l = root["latency"]; l) {
      v1::LatencySpec* ls = s->mutable_latency();
      if (l.IsScalar()) {  // latency: false
        Bool(l, "latency", [&](bool x) { ls->set_enabled(x); });
      } else if (Map(l, "latency",
                     {"enabled", "prompt", "generate", "repeats", "warmup", "threads",
                      "context_curve"})) {
        if (l["enabled"])
          Bool(l["enabled"], "latency.enabled", [&](bool x) { ls->set_enabled(x); });
        if (l["prompt"]) Int(l["prompt"], "latency.prompt", [&](int32_t x) { ls->set_prompt(x); });
        if (l["generate"])
          Int(l["generate"], "latency.generate", [&](int32_t x) { ls->set_generate(x); });
        if (l["repeats"])
          Int(l["repeats"], "latency.repeats", [&](int32_t x) { ls->set_repeats(x); });
        if (l["warmup"]) Int(l["warmup"], "latency.warmup", [&](int32_t x) { ls->set_warmup(x); });
        if (l["threads"])
          Int(l["threads"], "latency.threads", [&](int32_t x) { ls->set_threads(x); });
        if (const YAML::Node cc = l["context_curve"]; cc) ContextCurve(cc, ls);
      }
    }
    if (const YAML::Node t = root["targets"]; t) {
      if (t.IsScalar()) {
        s->add_targets(t.Scalar());
      } else if (t.IsSequence()) {
        for (size_t i = 0; i < t.size(); ++i) {
          if (Scalar(t[i], absl::StrCat("targets[", i, "]"), &v)) s->add_targets(v);
        }
      } else {
        Error(t, "targets", "expected a list such as [cpu]");
      }
    }
    if (root["max_attempts"])
      Int(root["max_attempts"], "max_attempts", [&](int32_t x) { s->set_max_attempts(x); });
    if (const YAML::Node c = root["configs"]; c && !c.IsNull()) {
      if (!c.IsSequence()) return Error(c, "configs", "expected a list of configurations");
      for (size_t i = 0; i < c.size(); ++i) {
        Config(c[i], absl::StrCat("configs[", i, "]"), s->add_configs());
      }
    }
  }

  std::string source_;
  std::vector<std::string> errors_;
};

}  // namespace

absl::StatusOr<v1::SweepSpec> ParseSweepYaml(const std::string& text, const std::string& source) {
  return Parser(source).Parse(text);
}

absl::StatusOr<v1::SweepSpec> LoadSweepFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  return ParseSweepYaml(*text, path);
}

}  // namespace squeeze::sweep
