// `squeeze eval`: size, accuracy (against an optional baseline) and latency of one model.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "absl/strings/str_format.h"
#include "calibration/calibration.h"
#include "engine/engine.h"
#include "measure/baseline_cache.h"
#include "measure/context_curve.h"
#include "measure/report.h"
#include "service/cli/commands.h"
#include "service/cli/common.h"
#include "techniques/registry.h"
#include "util/hash.h"
#include "util/mapped_file.h"
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

void Log(const EvalArgs& a, const std::string& msg) {
  if (!a.quiet) std::fprintf(stderr, "%s\n", msg.c_str());
}

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

// The contexts of the latency-vs-context curve: --context-curve auto measures it when latency
// is measured and a technique of the attention or kv_cache family is applied.
absl::StatusOr<ContextCurveSettings> CurveSettings(const EvalArgs& a, const EngineOptions& eo) {
  ContextCurveSettings c;
  c.threads = eo.threads;
  c.isa = eo.isa;
  if (a.context_curve == "none") {
    c.contexts.clear();
  } else if (a.context_curve == "auto") {
    bool attention = false;
    for (const std::string& spec : a.apply) {
      absl::StatusOr<std::pair<std::string, ParamMap>> parsed = ParseApplySpec(spec);
      const TechniqueInfo* info = parsed.ok() ? FindTechnique(parsed->first) : nullptr;
      attention |= info && (info->family == "attention" || info->family == "kv_cache");
    }
    if (!attention || a.no_latency) c.contexts.clear();
  } else {
    absl::StatusOr<std::vector<int64_t>> list = ParseContexts(a.context_curve);
    if (!list.ok())
      return absl::InvalidArgumentError("--context-curve: " + std::string(list.status().message()));
    c.contexts = *list;
  }
  return c;
}

// Baseline log-probabilities, from the cache when an entry for exactly these inputs exists.
absl::StatusOr<LogProbs> BaselineLogProbs(const EvalArgs& a, const Model& base,
                                          const EngineOptions& eo,
                                          const std::vector<int32_t>& tokens, int32_t bos,
                                          bool* from_cache) {
  ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, Engine::Create(base, eo));
  const int context = std::min(a.eval.context, engine->max_context());
  const std::string key =
      BaselineCacheKey(base.content_hash, tokens, a.eval, context, bos, IsaName(engine->isa()));
  const BaselineCache cache(a.cache_dir.empty() ? DefaultCacheDir() : a.cache_dir);
  if (!a.no_cache) {
    if (std::optional<LogProbs> hit = cache.Load(key)) {
      Log(a, "baseline log-probabilities: cached (" + cache.PathFor(key) + ")");
      *from_cache = true;
      return *std::move(hit);
    }
  }
  Log(a, "baseline log-probabilities: computing");
  ASSIGN_OR_RETURN(LogProbs lp, ComputeLogProbs(*engine, tokens, a.eval, bos));
  if (!a.no_cache) {
    if (absl::Status s = cache.Store(key, lp); !s.ok())
      Log(a, "warning: baseline cache not written: " + std::string(s.message()));
  }
  *from_cache = false;
  return lp;
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
  ASSIGN_OR_RETURN(ContextCurveSettings curve, CurveSettings(a, eo));
  ASSIGN_OR_RETURN(Model model, LoadModelVerbose(a.model, a.quiet));
  EvalReport r;
  // Calibration sequences come from the tokenizer the evaluation uses.
  std::optional<CalibrationSet> calibration;
  if (!a.calib_text.empty()) {
    ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tok,
                     LoadTokenizerFor(a.tokenizer, model, &r.tokenizer_path));
    ASSIGN_OR_RETURN(std::string text, ReadFileToString(a.calib_text));
    ASSIGN_OR_RETURN(calibration, MakeCalibrationSet(*tok, text, a.calib_text, a.calib));
    r.calibration = absl::StrFormat("%s: %d sequences x %d tokens", a.calib_text,
                                    calibration->sequences.size(), a.calib.context);
    Log(a, "calibration: " + r.calibration);
  }
  StatsCache stats;
  TechniqueContext ctx;
  ctx.calibration = calibration ? &*calibration : nullptr;
  ctx.stats = &stats;
  ctx.threads = eo.threads;
  ctx.isa = eo.isa;
  std::optional<Model> base;
  std::vector<std::string> applied;
  if (!a.apply.empty()) {
    // Without --baseline the baseline is the model as loaded. The copy shares the loaded
    // storage; techniques replace tensors rather than write into them, so it stays intact.
    if (a.baseline.empty()) {
      base = model;
      Log(a, "baseline: " + a.model + " as loaded");
    }
    ASSIGN_OR_RETURN(applied, ApplyPipeline(*pipeline, model, ctx));
    for (const std::string& step : applied) Log(a, "applied " + step);
  }
  if (!a.baseline.empty()) {
    ASSIGN_OR_RETURN(base, LoadModelVerbose(a.baseline, a.quiet));
    if (base->config.vocab_size != model.config.vocab_size) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: vocabulary of %d tokens differs from the baseline's (%s: %d)",
                          a.model, model.config.vocab_size, a.baseline, base->config.vocab_size));
    }
  }
  r.model_path = a.model;
  r.model_hash = model.content_hash;
  r.baseline_path = !a.baseline.empty() ? a.baseline : base ? a.model : "";
  r.techniques = applied;
  r.config_summary = ConfigSummary(model.config);
  r.attention = AttentionSummary(model.attention);
  r.layer_shapes = LayerShapesSummary(model);
  r.size = MeasureSize(model, base ? &*base : nullptr);

  ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, Engine::Create(model, eo));
  const int threads = engine->threads();
  std::vector<int32_t> tokens;
  if (!a.text.empty()) {
    ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tok,
                     LoadTokenizerFor(a.tokenizer, model, &r.tokenizer_path));
    ASSIGN_OR_RETURN(std::string text, ReadFileToString(a.text));
    r.text_path = a.text;
    r.text_hash = HashHex(text);
    tokens = tok->Encode(text, /*add_bos=*/false);
    const int32_t bos = tok->bos_id();
    const int64_t used = a.eval.max_tokens > 0 ? std::min<int64_t>(a.eval.max_tokens, tokens.size())
                                               : int64_t(tokens.size());
    if (used * int64_t(model.config.vocab_size) * 4 > (int64_t(3) << 30)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "--max-tokens: %d tokens x %d vocabulary needs over 3 GiB of log-probabilities; "
          "pass a smaller --max-tokens",
          used, model.config.vocab_size));
    }
    std::optional<LogProbs> base_lp;
    if (base) {
      ASSIGN_OR_RETURN(base_lp,
                       BaselineLogProbs(a, *base, eo, tokens, bos, &r.baseline_from_cache));
    }
    Log(a, absl::StrFormat("accuracy: scoring %d tokens of %s", used, a.text));
    ASSIGN_OR_RETURN(r.accuracy,
                     MeasureAccuracy(*engine, tokens, a.eval, bos, base_lp ? &*base_lp : nullptr));
  }
  if (!a.no_latency) {
    Log(a, absl::StrFormat("latency: prompt %d, generate %d, %d repeats", a.latency.prompt,
                           a.latency.generate, a.latency.repeats));
    ASSIGN_OR_RETURN(r.latency, MeasureLatency(*engine, a.latency, tokens));
  }
  if (!curve.contexts.empty()) {
    engine.reset();  // its caches would count in the curve's memory
    Log(a, "context curve: " + a.context_curve + " (random prompts, " +
               std::to_string(curve.generate) + " decoded tokens each)");
    ASSIGN_OR_RETURN(r.context_curve, MeasureContextCurve(model, curve));
  }
  r.env = CaptureEnvironment(IsaName(eo.isa), threads);
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
                "measured), none, or a list like 512,2k")
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
