// `squeeze eval`: size, accuracy (against an optional baseline) and latency of one model.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "absl/strings/str_format.h"
#include "calibration/calibration.h"
#include "engine/engine.h"
#include "measure/baseline_cache.h"
#include "measure/report.h"
#include "model/loader.h"
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
  std::vector<std::string> apply;  // technique specs, applied in order
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

// --- Checkpoints written by training techniques (distill) -----------------------------------
// Each checkpoint folder is measured as its own configuration (size, accuracy against the
// same baseline, latency), one report per checkpoint.

absl::StatusOr<std::vector<EvalReport>> MeasureCheckpoints(
    const EvalArgs& a, const std::vector<CheckpointRecord>& checkpoints, const Model* base,
    const EngineOptions& eo, const std::vector<int32_t>& tokens, int32_t bos,
    const LogProbs* base_lp, const EvalReport& main) {
  std::vector<EvalReport> out;
  for (const CheckpointRecord& c : checkpoints) {
    Log(a, absl::StrFormat("checkpoint: %s step %d (%s)", c.technique, c.step, c.path));
    ASSIGN_OR_RETURN(Model m, LoadModel(c.path));
    EvalReport r;
    r.model_path = c.path;
    r.model_hash = m.content_hash;
    r.baseline_path = main.baseline_path;
    r.text_path = main.text_path;
    r.text_hash = main.text_hash;
    r.tokenizer_path = main.tokenizer_path;
    r.techniques = {absl::StrFormat("%s checkpoint at step %d", c.technique, c.step)};
    r.config_summary = ConfigSummary(m.config);
    r.size = MeasureSize(m, base);
    ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, Engine::Create(m, eo));
    if (!tokens.empty()) {
      ASSIGN_OR_RETURN(r.accuracy, MeasureAccuracy(*engine, tokens, a.eval, bos, base_lp));
    }
    if (!a.no_latency) {
      ASSIGN_OR_RETURN(r.latency, MeasureLatency(*engine, a.latency, tokens));
    }
    r.env = main.env;
    out.push_back(std::move(r));
  }
  return out;
}

// The report, then one row (table) or object (JSON "checkpoints") per checkpoint.
std::string FormatWithCheckpoints(bool json, const EvalReport& main,
                                  const std::vector<CheckpointRecord>& checkpoints,
                                  const std::vector<EvalReport>& rows) {
  if (json) {
    nlohmann::json j = nlohmann::json::parse(FormatReportJson(main));
    if (!rows.empty()) {
      j["checkpoints"] = nlohmann::json::array();
      for (size_t i = 0; i < rows.size(); ++i) {
        nlohmann::json c = nlohmann::json::parse(FormatReportJson(rows[i]));
        c["step"] = checkpoints[i].step;
        j["checkpoints"].push_back(std::move(c));
      }
    }
    return j.dump(2) + "\n";
  }
  std::string o = FormatReportTable(main);
  if (rows.empty()) return o;
  o += "checkpoints (each measured like the model above, against the same baseline)\n";
  o += absl::StrFormat("  %-6s %10s %12s %7s %11s %10s %7s %9s  %s\n", "step", "params", "bytes",
                       "bits/w", "perplexity", "KLD mean", "top-1", "ms/token", "path");
  for (size_t i = 0; i < rows.size(); ++i) {
    const EvalReport& r = rows[i];
    const bool acc = r.accuracy.has_value(), lat = r.latency.has_value();
    o += absl::StrFormat(
        "  %-6d %10d %12d %7.3f %11s %10s %7s %9s  %s\n", checkpoints[i].step, r.size.params,
        r.size.bytes, r.size.bits_per_weight,
        acc ? absl::StrFormat("%.4f", r.accuracy->perplexity) : "-",
        acc && r.accuracy->has_baseline ? absl::StrFormat("%.6f", r.accuracy->kld.mean) : "-",
        acc && r.accuracy->has_baseline
            ? absl::StrFormat("%.2f%%", 100 * r.accuracy->top1_agreement)
            : "-",
        lat ? absl::StrFormat("%.3f", r.latency->decode_ms_per_token.median) : "-", r.model_path);
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
  // Training techniques: the evaluation's tokenizer for their text, the loaded model as the
  // original, and the checkpoints they write (measured after the model below).
  std::vector<CheckpointRecord> checkpoints;
  const Model original = model;
  std::unique_ptr<Tokenizer> technique_tok;
  if (!a.apply.empty()) {
    if (auto t = LoadTokenizerFor(a.tokenizer, model, nullptr); t.ok())
      technique_tok = *std::move(t);
    ctx.tokenizer = technique_tok.get();
    ctx.original = &original;
    ctx.checkpoints = &checkpoints;
  }
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
  r.size = MeasureSize(model, base ? &*base : nullptr);

  ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, Engine::Create(model, eo));
  std::vector<int32_t> tokens;
  std::optional<LogProbs> base_lp;
  int32_t bos = -1;
  if (!a.text.empty()) {
    ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tok,
                     LoadTokenizerFor(a.tokenizer, model, &r.tokenizer_path));
    ASSIGN_OR_RETURN(std::string text, ReadFileToString(a.text));
    r.text_path = a.text;
    r.text_hash = HashHex(text);
    tokens = tok->Encode(text, /*add_bos=*/false);
    bos = tok->bos_id();
    const int64_t used = a.eval.max_tokens > 0 ? std::min<int64_t>(a.eval.max_tokens, tokens.size())
                                               : int64_t(tokens.size());
    if (used * int64_t(model.config.vocab_size) * 4 > (int64_t(3) << 30)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "--max-tokens: %d tokens x %d vocabulary needs over 3 GiB of log-probabilities; "
          "pass a smaller --max-tokens",
          used, model.config.vocab_size));
    }
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
  r.env = CaptureEnvironment(IsaName(engine->isa()), engine->threads());
  std::vector<EvalReport> rows;
  if (!checkpoints.empty()) {
    ASSIGN_OR_RETURN(rows, MeasureCheckpoints(a, checkpoints, base ? &*base : nullptr, eo, tokens,
                                              bos, base_lp ? &*base_lp : nullptr, r));
  }
  std::fputs(FormatWithCheckpoints(a.json, r, checkpoints, rows).c_str(), stdout);
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
