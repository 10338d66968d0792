// `squeeze eval`: size, accuracy (against an optional baseline) and latency of one model.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "job/evaluate.h"
#include "service/cli/commands.h"
#include "service/cli/common.h"
#include "techniques/registry.h"
#include "util/status_macros.h"

namespace squeeze::cli {
namespace {

struct EvalArgs {
  std::string model, tokenizer, text, baseline, cache_dir, isa;
  std::string calib_text;  // calibration text for the techniques that need one
  CalibrationOptions calib;
  std::vector<std::string> apply;      // technique specs, applied in order
  std::string context_curve = "auto";  // auto, none, or a list of contexts
  bool json = false, no_latency = false, no_cache = false, quiet = false;
  int threads = 0;
  EvalSettings eval;
  LatencySettings latency;
};

absl::StatusOr<EngineOptions> MakeEngineOptions(const EvalArgs& a) {
  EngineOptions o;
  o.threads = a.threads;
  if (!a.isa.empty()) {
    if (!IsaFromName(a.isa.c_str(), &o.isa))
      return absl::InvalidArgumentError("--isa: " + a.isa + " is not one of ref, avx2, avx512");
    if (!IsaSupported(o.isa))
      return absl::InvalidArgumentError("--isa: " + a.isa + " is not supported by this CPU");
  }
  return o;
}

absl::Status RunEval(const EvalArgs& a) {
  if (a.text.empty() && a.no_latency)
    return absl::InvalidArgumentError("nothing to measure: give --text and/or drop --no-latency");
  if (!a.baseline.empty() && a.text.empty())
    return absl::InvalidArgumentError("--baseline needs --text to compare on");
  ASSIGN_OR_RETURN(EngineOptions eo, MakeEngineOptions(a));
  // Every spec is checked before anything is loaded or run.
  absl::StatusOr<Pipeline> pipeline = MakePipeline(a.apply);
  if (!pipeline.ok()) {
    return absl::Status(pipeline.status().code(),
                        "--apply " + std::string(pipeline.status().message()));
  }
  if (a.calib_text.empty()) {
    for (const std::string& spec : a.apply) {
      absl::StatusOr<std::pair<std::string, ParamMap>> parsed = ParseApplySpec(spec);
      const TechniqueInfo* info = parsed.ok() ? FindTechnique(parsed->first) : nullptr;
      if (info && info->needs_calibration) {
        absl::StatusOr<const CalibrationSet*> none = RequireCalibration({}, info->name);
        return absl::Status(none.status().code(),
                            "--apply " + spec + ": " + std::string(none.status().message()));
      }
    }
  }
  EvaluateOptions o;
  o.model = a.model;
  o.tokenizer = a.tokenizer;
  o.text = a.text;
  o.baseline = a.baseline;
  o.apply = a.apply;
  o.calib_text = a.calib_text;
  o.calib = a.calib;
  o.eval = a.eval;
  o.measure_latency = !a.no_latency;
  o.latency = a.latency;
  if (absl::Status s = ParseContextCurve(a.context_curve).status(); !s.ok())
    return absl::InvalidArgumentError("--context-curve: " + std::string(s.message()));
  o.context_curve = a.context_curve;
  o.engine = eo;
  const BaselineCache disk(a.cache_dir.empty() ? DefaultCacheDir() : a.cache_dir);
  EvaluateContext ctx;
  if (!a.no_cache) ctx.disk_cache = &disk;
  if (!a.quiet) ctx.log = [](const std::string& msg) { std::fprintf(stderr, "%s\n", msg.c_str()); };
  ASSIGN_OR_RETURN(const EvalReport r, Evaluate(o, ctx));
  const std::string out = a.json ? FormatReportJson(r) + "\n" : FormatReportTable(r);
  std::fputs(out.c_str(), stdout);
  return absl::OkStatus();
}

}  // namespace

void AddEvalCommand(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<EvalArgs>();
  CLI::App* c = app.add_subcommand(
      "eval", "Measure a model: size, accuracy on a text (against --baseline), latency");
  c->add_option("--model", a->model, "Hugging Face folder or llama2.c .bin checkpoint")->required();
  c->add_option("--tokenizer", a->tokenizer,
                "tokenizer.json or tokenizer.bin (default: found beside the model)");
  c->add_option("--text", a->text, "UTF-8 text file to measure perplexity on");
  c->add_option("--baseline", a->baseline,
                "reference model: adds KL divergence, top-1 agreement, perplexity ratio "
                "(with --apply, default: the model as loaded)");
  c->add_option("--apply", a->apply,
                "technique to apply to the model before measuring, as name or "
                "name:key=value,... (repeatable, applied in order; see `squeeze techniques`)")
      ->allow_extra_args(false);
  c->add_option("--calib-text", a->calib_text,
                "calibration text for techniques that need one (gptq, awq, ...)");
  c->add_option("--calib-sequences", a->calib.sequences,
                "calibration sequences cut from --calib-text (fewer when it is short)")
      ->default_val(16)
      ->check(CLI::PositiveNumber);
  c->add_option("--calib-context", a->calib.context,
                "tokens per calibration sequence, BOS included")
      ->default_val(128)
      ->check(CLI::Range(2, 1 << 20));
  c->add_option("--context", a->eval.context, "tokens per evaluation window, BOS included")
      ->default_val(256)
      ->check(CLI::Range(2, 1 << 20));
  c->add_option("--max-tokens", a->eval.max_tokens, "text tokens to score (0: all)")
      ->default_val(0)
      ->check(CLI::NonNegativeNumber);
  c->add_option("--threads", a->threads, "threads (0: all cores)")->default_val(0);
  c->add_option("--isa", a->isa, "kernel instruction set: ref, avx2, avx512 (default: best)");
  c->add_option("--prompt", a->latency.prompt, "latency: prompt tokens")
      ->default_val(128)
      ->check(CLI::PositiveNumber);
  c->add_option("--generate", a->latency.generate, "latency: generated tokens")
      ->default_val(64)
      ->check(CLI::PositiveNumber);
  c->add_option("--repeats", a->latency.repeats, "latency: measured repeats")
      ->default_val(5)
      ->check(CLI::PositiveNumber);
  c->add_option("--warmup", a->latency.warmup, "latency: warm-up runs")
      ->default_val(1)
      ->check(CLI::NonNegativeNumber);
  c->add_flag("--no-latency", a->no_latency, "skip the latency measurement");
  c->add_option("--context-curve", a->context_curve,
                "latency and memory against context length, on random prompts: auto (256, 1k, "
                "4k and 16k when an attention or kv_cache technique is applied and latency is "
                "measured), auto:512,2k (the same cases, those contexts), none, or a list like "
                "512,2k (always)")
      ->default_val("auto");
  c->add_option("--cache-dir", a->cache_dir, "baseline cache folder (default ~/.cache/squeeze)");
  c->add_flag("--no-cache", a->no_cache, "neither read nor write the baseline cache");
  c->add_flag("--json", a->json, "print JSON instead of a table");
  c->add_flag("-q,--quiet", a->quiet, "no progress messages on stderr");
  c->callback([a, exit_code] {
    const absl::Status s = RunEval(*a);
    *exit_code = s.ok() ? kExitOk : ReportError("eval", s);
  });
}

}  // namespace squeeze::cli
