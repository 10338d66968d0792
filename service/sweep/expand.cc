// Sweep validation and expansion (see expand.h).
#include "service/sweep/expand.h"

#include <algorithm>
#include <filesystem>
#include <set>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "measure/context_curve.h"
#include "model/tokenizer.h"
#include "techniques/registry.h"

namespace squeeze::sweep {
namespace {

namespace fs = std::filesystem;

constexpr const char* kTargets[] = {"cpu", "cuda"};

class Expander {
 public:
  Expander(const v1::SweepSpec& spec, const ExpandOptions& o) : spec_(spec), o_(o) {}

  absl::StatusOr<ExpandedSweep> Run() {
    ExpandedSweep out;
    out.name = spec_.name().empty() ? fs::path(spec_.model()).stem().string() : spec_.name();
    Settings(&out.settings);
    Targets(&out.targets);
    out.max_attempts = spec_.has_max_attempts() ? spec_.max_attempts() : o_.default_max_attempts;
    if (out.max_attempts < 1 || out.max_attempts > 100) {
      Error("max_attempts", absl::StrCat(out.max_attempts, " is not in 1..100"));
    }
    Configs(&out);
    if (!errors_.empty()) return absl::InvalidArgumentError(absl::StrJoin(errors_, "\n"));
    return out;
  }

 private:
  void Error(const std::string& path, const std::string& msg) {
    Line(absl::StrCat(path, ": ", msg));
  }
  void Line(const std::string& line) {
    if (seen_.insert(line).second) errors_.push_back(line);
  }
  // Technique errors that concern a parameter start with "name.param: ..." (ValidateParams):
  // they become "configs[3].rtn.bits: ...".
  void TechniqueError(const std::string& path, const TechniqueInfo& info, const absl::Status& s) {
    const std::string msg(s.message());
    if (msg.rfind(info.name + ".", 0) == 0) {
      Line(absl::StrCat(path, ".", msg));
    } else if (msg.rfind(info.name + ": ", 0) == 0) {  // "rtn: unknown parameter ..."
      Error(path + "." + info.name, msg.substr(info.name.size() + 2));
    } else {
      Error(path + "." + info.name, msg);
    }
  }

  void Range(const std::string& path, int64_t v, int64_t lo, int64_t hi) {
    if (v < lo || v > hi) Error(path, absl::StrCat(v, " is not in ", lo, "..", hi));
  }

  // Resolves an optional path; "" stays "".
  std::string Path(const std::string& field, const std::string& path) {
    if (path.empty()) return "";
    absl::StatusOr<std::string> r = ResolveUnderRoot(o_.data_root, path, field);
    if (!r.ok()) {
      Line(std::string(r.status().message()));
      return "";
    }
    return *r;
  }

  void Settings(v1::JobSpec* s) {
    if (spec_.model().empty()) {
      Error("model", "required (a Hugging Face folder or a llama2.c .bin under the data root)");
    }
    s->set_model(Path("model", spec_.model()));
    s->set_tokenizer(Path("tokenizer", spec_.tokenizer()));
    const v1::EvalSpec& e = spec_.eval();
    s->set_eval_text(Path("eval.text", e.text()));
    s->set_context(e.has_context() ? e.context() : 256);
    s->set_max_tokens(e.has_max_tokens() ? e.max_tokens() : 0);
    Range("eval.context", s->context(), 2, 1 << 20);
    Range("eval.max_tokens", s->max_tokens(), 0, 1 << 30);
    const v1::CalibrationSpec& c = spec_.calibration();
    s->set_calibration_text(Path("calibration.text", c.text()));
    s->set_calibration_samples(c.has_samples() ? c.samples() : 16);
    s->set_calibration_context(c.has_context() ? c.context() : 128);
    Range("calibration.samples", s->calibration_samples(), 1, 1 << 20);
    Range("calibration.context", s->calibration_context(), 2, 1 << 20);
    const v1::LatencySpec& l = spec_.latency();
    s->set_latency(l.has_enabled() ? l.enabled() : true);
    s->set_prompt(l.has_prompt() ? l.prompt() : 128);
    s->set_generate(l.has_generate() ? l.generate() : 64);
    s->set_repeats(l.has_repeats() ? l.repeats() : 5);
    s->set_warmup(l.has_warmup() ? l.warmup() : 1);
    s->set_threads(l.has_threads() ? l.threads() : 0);
    s->set_context_curve(l.has_context_curve() ? l.context_curve() : "auto");
    if (absl::Status c = ParseContextCurve(s->context_curve()).status(); !c.ok()) {
      Error("latency.context_curve", std::string(c.message()));
    }
    Range("latency.prompt", s->prompt(), 1, 1 << 20);
    Range("latency.generate", s->generate(), 1, 1 << 20);
    Range("latency.repeats", s->repeats(), 1, 10000);
    Range("latency.warmup", s->warmup(), 0, 10000);
    Range("latency.threads", s->threads(), 0, 4096);
    if (e.text().empty() && !s->latency()) {
      Error("eval.text", "nothing to measure: give an evaluation text or enable latency");
    }
    // Without a tokenizer path, the one beside the model must exist when text is tokenized.
    const bool needs_tokenizer = !e.text().empty() || !c.text().empty();
    if (needs_tokenizer && spec_.tokenizer().empty() && !s->model().empty()) {
      absl::StatusOr<std::string> found =
          FindTokenizerFor((fs::path(o_.data_root) / s->model()).string());
      if (!found.ok()) {
        Error("tokenizer", absl::StrCat("none given, and none found beside the model: ",
                                        found.status().message()));
      }
    }
  }

  void Targets(std::vector<std::string>* out) {
    for (int i = 0; i < spec_.targets_size(); ++i) {
      const std::string& t = spec_.targets(i);
      const std::string path = absl::StrCat("targets[", i, "]");
      if (std::find(std::begin(kTargets), std::end(kTargets), t) == std::end(kTargets)) {
        Error(path, absl::StrCat("\"", t, "\" is not one of cpu, cuda"));
      } else if (std::find(out->begin(), out->end(), t) != out->end()) {
        Error(path, absl::StrCat("\"", t, "\" is listed twice"));
      } else {
        out->push_back(t);
      }
    }
    if (out->empty() && spec_.targets_size() == 0) out->push_back("cpu");
  }

  // Every canonical spec of one step (its lists expanded), or empty after an error.
  std::vector<std::string> Step(const v1::TechniqueStep& step, const std::string& path,
                                bool has_calibration) {
    const TechniqueInfo* info = FindTechnique(step.technique());
    if (info == nullptr) {
      absl::StatusOr<std::unique_ptr<Technique>> t = MakeTechnique(step.technique(), {});
      Error(path, std::string(t.status().message()));
      return {};
    }
    if (info->needs_calibration && !has_calibration) {
      Error(path + "." + info->name, "needs calibration text: set calibration.text");
    }
    // Parameters in name order (protobuf maps have none).
    std::vector<std::pair<std::string, std::vector<std::string>>> params;
    int64_t combos = 1;
    bool ok = true;
    for (const auto& [name, values] : step.params()) {
      const std::string ppath = absl::StrCat(path, ".", info->name, ".", name);
      if (values.values_size() == 0) {
        Error(ppath, "empty list of values");
        ok = false;
      }
      for (const std::string& v : values.values()) {
        if (v.empty() || v.find_first_of(",\n\r\t") != std::string::npos) {
          Error(ppath, absl::StrCat("\"", v,
                                    "\" is not a valid value (empty, or holds a comma "
                                    "or a control character)"));
          ok = false;
        }
      }
      params.emplace_back(name,
                          std::vector<std::string>(values.values().begin(), values.values().end()));
      combos *= std::max(values.values_size(), 1);
      if (combos > o_.max_configurations) break;
    }
    std::sort(params.begin(), params.end());
    if (combos > o_.max_configurations) {
      Error(path, absl::StrCat("expands to more than ", o_.max_configurations,
                               " configurations, the most one sweep may hold"));
      return {};
    }
    if (!ok) return {};
    std::vector<std::string> specs;
    std::set<std::string> seen;
    std::vector<size_t> at(params.size(), 0);
    for (int64_t n = 0; n < combos; ++n) {
      ParamMap raw;
      for (size_t k = 0; k < params.size(); ++k) raw[params[k].first] = params[k].second[at[k]];
      absl::StatusOr<Params> p = ValidateParams(*info, raw);
      absl::Status s = p.status();
      if (p.ok()) s = info->factory(*p).status();
      if (!s.ok()) {
        TechniqueError(path, *info, s);
      } else if (std::string spec = p->ToSpec(); seen.insert(spec).second) {
        specs.push_back(std::move(spec));
      }
      for (size_t k = params.size(); k-- > 0;) {  // odometer over the value lists
        if (++at[k] < params[k].second.size()) break;
        at[k] = 0;
      }
    }
    return specs;
  }

  void Configs(ExpandedSweep* out) {
    const bool has_calibration = !spec_.calibration().text().empty();
    std::set<std::string> seen = {""};
    out->configs.push_back({});  // the baseline
    for (int i = 0; i < spec_.configs_size(); ++i) {
      const v1::ConfigSpec& c = spec_.configs(i);
      const std::string path = absl::StrCat("configs[", i, "]");
      if (c.steps_size() == 0) {
        Error(path, "no technique");
        continue;
      }
      std::vector<std::vector<std::string>> steps;
      int64_t product = 1;
      for (int j = 0; j < c.steps_size(); ++j) {
        const std::string spath = c.pipeline() ? absl::StrCat(path, ".pipeline[", j, "]") : path;
        steps.push_back(Step(c.steps(j), spath, has_calibration));
        product *= int64_t(steps.back().size());
        if (product > o_.max_configurations) break;
      }
      if (product == 0 || int(steps.size()) != c.steps_size()) {
        if (product > o_.max_configurations) {
          Error(path, absl::StrCat("expands to more than ", o_.max_configurations,
                                   " configurations, the most one sweep may hold"));
        }
        continue;
      }
      if (int64_t(out->configs.size()) + product > o_.max_configurations) {
        Error(path, absl::StrCat("the sweep expands to more than ", o_.max_configurations,
                                 " configurations, the most one sweep may hold"));
        return;
      }
      std::vector<size_t> at(steps.size(), 0);
      for (int64_t n = 0; n < product; ++n) {
        std::vector<std::string> config;
        std::string key;
        for (size_t k = 0; k < steps.size(); ++k) {
          config.push_back(steps[k][at[k]]);
          absl::StrAppend(&key, steps[k][at[k]], "\n");
        }
        if (seen.insert(key).second) {
          out->configs.push_back(std::move(config));
        } else {
          ++out->duplicates;
        }
        for (size_t k = steps.size(); k-- > 0;) {
          if (++at[k] < steps[k].size()) break;
          at[k] = 0;
        }
      }
    }
  }

  const v1::SweepSpec& spec_;
  const ExpandOptions& o_;
  std::vector<std::string> errors_;
  std::set<std::string> seen_;
};

}  // namespace

std::string TechniqueLabel(const std::vector<std::string>& config) {
  if (config.empty()) return "baseline";
  if (config.size() > 1) return "pipeline";
  return config[0].substr(0, config[0].find(':'));
}

absl::StatusOr<std::string> ResolveUnderRoot(const std::string& data_root, const std::string& path,
                                             const std::string& field) {
  std::error_code ec;
  const fs::path root = fs::canonical(data_root, ec);
  if (ec) {
    return absl::FailedPreconditionError(absl::StrCat("data root ", data_root, ": ", ec.message()));
  }
  const fs::path given(path);
  const fs::path full = given.is_absolute() ? given : root / given;
  const fs::path resolved = fs::weakly_canonical(full, ec);
  const fs::path rel = ec ? fs::path() : resolved.lexically_relative(root);
  if (ec || rel.empty() || *rel.begin() == "..") {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", path, " is outside the data root ", root.string()));
  }
  if (!fs::exists(resolved, ec)) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", path,
                                                   ": no such file or directory (under the data "
                                                   "root ",
                                                   root.string(), ")"));
  }
  return rel.string();
}

absl::StatusOr<ExpandedSweep> ExpandSweep(const v1::SweepSpec& spec, const ExpandOptions& options) {
  return Expander(spec, options).Run();
}

}  // namespace squeeze::sweep
