// The evaluation shared by `squeeze eval` and the sweep worker (see evaluate.h).
#include "job/evaluate.h"

#include <memory>
#include <optional>

#include "absl/strings/str_format.h"
#include "job/inputs.h"
#include "model/loader.h"
#include "techniques/registry.h"
#include "util/hash.h"
#include "util/mapped_file.h"
#include "util/status_macros.h"

namespace squeeze {
namespace {

// The contexts of the latency-vs-context curve (EvaluateOptions::context_curve); none when
// it is not measured.
absl::StatusOr<ContextCurveSettings> CurveSettings(const EvaluateOptions& o) {
  ContextCurveSettings c;
  c.threads = o.engine.threads;
  c.isa = o.engine.isa;
  absl::StatusOr<ContextCurveChoice> choice = ParseContextCurve(o.context_curve);
  if (!choice.ok()) {
    return absl::InvalidArgumentError("context curve: " + std::string(choice.status().message()));
  }
  c.contexts = choice->contexts;
  if (choice->automatic) {
    bool attention = false;
    for (const std::string& spec : o.apply) {
      absl::StatusOr<std::pair<std::string, ParamMap>> parsed = ParseApplySpec(spec);
      const TechniqueInfo* info = parsed.ok() ? FindTechnique(parsed->first) : nullptr;
      attention |= info && (info->family == "attention" || info->family == "kv_cache");
    }
    if (!attention || !o.measure_latency) c.contexts.clear();
  }
  return c;
}

class Run {
 public:
  Run(const EvaluateOptions& o, const EvaluateContext& ctx) : o_(o), ctx_(ctx) {}

  void Log(const std::string& msg) const {
    if (ctx_.log) ctx_.log(msg);
  }

  // Enters a stage: reports it, and stops when the evaluation was cancelled.
  absl::Status Stage(const std::string& name) const {
    if (ctx_.cancel && ctx_.cancel->load()) {
      return absl::CancelledError("evaluation cancelled before stage " + name);
    }
    if (ctx_.stage) ctx_.stage(name);
    return absl::OkStatus();
  }

  absl::StatusOr<std::shared_ptr<const Model>> Load(const std::string& path) const {
    std::shared_ptr<const Model> m;
    if (ctx_.memory) {
      ASSIGN_OR_RETURN(m, ctx_.memory->GetModel(path));
    } else {
      ASSIGN_OR_RETURN(Model loaded, LoadModel(path));
      m = std::make_shared<const Model>(std::move(loaded));
    }
    Log(absl::StrFormat("loaded %s (%s)", path, ConfigSummary(m->config)));
    return m;
  }

  // Baseline log-probabilities, from a cache when an entry for exactly these inputs exists.
  absl::StatusOr<std::shared_ptr<const LogProbs>> BaselineLogProbs(
      const Model& base, const std::vector<int32_t>& tokens, int32_t bos, bool* from_cache) const {
    ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, Engine::Create(base, o_.engine));
    const int context = std::min(o_.eval.context, engine->max_context());
    const std::string key =
        BaselineCacheKey(base.content_hash, tokens, o_.eval, context, bos, IsaName(engine->isa()));
    if (ctx_.memory) {
      if (std::shared_ptr<const LogProbs> hit = ctx_.memory->FindBaseline(key)) {
        Log("baseline log-probabilities: cached (in memory)");
        *from_cache = true;
        return hit;
      }
    }
    if (ctx_.disk_cache) {
      if (std::optional<LogProbs> hit = ctx_.disk_cache->Load(key)) {
        Log("baseline log-probabilities: cached (" + ctx_.disk_cache->PathFor(key) + ")");
        *from_cache = true;
        auto lp = std::make_shared<const LogProbs>(*std::move(hit));
        if (ctx_.memory) ctx_.memory->StoreBaseline(key, lp);
        return lp;
      }
    }
    Log("baseline log-probabilities: computing");
    ASSIGN_OR_RETURN(LogProbs computed, ComputeLogProbs(*engine, tokens, o_.eval, bos));
    auto lp = std::make_shared<const LogProbs>(std::move(computed));
    if (ctx_.disk_cache) {
      if (absl::Status s = ctx_.disk_cache->Store(key, *lp); !s.ok())
        Log("warning: baseline cache not written: " + std::string(s.message()));
    }
    if (ctx_.memory) ctx_.memory->StoreBaseline(key, lp);
    *from_cache = false;
    return lp;
  }

  absl::StatusOr<EvalReport> Go() {
    ASSIGN_OR_RETURN(Pipeline pipeline, MakePipeline(o_.apply));
    ASSIGN_OR_RETURN(const ContextCurveSettings curve, CurveSettings(o_));
    RETURN_IF_ERROR(Stage("load"));
    ASSIGN_OR_RETURN(std::shared_ptr<const Model> loaded, Load(o_.model));
    // The copy shares the loaded storage; techniques replace tensors rather than write into
    // them, so the loaded (and cached) model stays intact.
    Model model = *loaded;
    EvalReport r;
    // Calibration sequences come from the tokenizer the evaluation uses.
    std::optional<CalibrationSet> calibration;
    if (!o_.calib_text.empty()) {
      RETURN_IF_ERROR(Stage("calibrate"));
      ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tok,
                       LoadTokenizerFor(o_.tokenizer, model, &r.tokenizer_path));
      ASSIGN_OR_RETURN(std::string text, ReadFileToString(o_.calib_text));
      ASSIGN_OR_RETURN(calibration, MakeCalibrationSet(*tok, text, o_.calib_text, o_.calib));
      r.calibration = absl::StrFormat("%s: %d sequences x %d tokens", o_.calib_text,
                                      calibration->sequences.size(), o_.calib.context);
      Log("calibration: " + r.calibration);
    }
    StatsCache local_stats;
    TechniqueContext tctx;
    tctx.calibration = calibration ? &*calibration : nullptr;
    tctx.stats = ctx_.memory ? &ctx_.memory->stats() : &local_stats;
    tctx.threads = o_.engine.threads;
    tctx.isa = o_.engine.isa;
    // Training techniques: the evaluation's tokenizer for their text, the loaded model as the
    // original, and the checkpoints they write (each measured after the model below).
    std::vector<CheckpointRecord> checkpoints;
    std::unique_ptr<Tokenizer> technique_tok;
    if (!o_.apply.empty()) {
      if (auto t = LoadTokenizerFor(o_.tokenizer, model, nullptr); t.ok())
        technique_tok = *std::move(t);
      tctx.tokenizer = technique_tok.get();
      tctx.original = loaded.get();
      tctx.checkpoints = &checkpoints;
    }
    std::shared_ptr<const Model> base;
    std::vector<std::string> applied;
    if (o_.baseline.empty() && (!o_.apply.empty() || o_.compare_to_loaded)) {
      base = loaded;
      Log("baseline: " + o_.model + " as loaded");
    }
    if (!o_.apply.empty()) {
      RETURN_IF_ERROR(Stage("apply"));
      ASSIGN_OR_RETURN(applied, ApplyPipeline(pipeline, model, tctx));
      for (const std::string& step : applied) Log("applied " + step);
    }
    if (!o_.baseline.empty()) {
      ASSIGN_OR_RETURN(base, Load(o_.baseline));
      if (base->config.vocab_size != model.config.vocab_size) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "%s: vocabulary of %d tokens differs from the baseline's (%s: %d)", o_.model,
            model.config.vocab_size, o_.baseline, base->config.vocab_size));
      }
    }
    r.model_path = o_.model;
    r.model_hash = model.content_hash;
    r.baseline_path = !o_.baseline.empty() ? o_.baseline : base ? o_.model : "";
    r.techniques = applied;
    r.config_summary = ConfigSummary(model.config);
    r.attention = AttentionSummary(model.attention);
    r.layer_shapes = LayerShapesSummary(model);
    r.size = MeasureSize(model, base.get());

    ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, Engine::Create(model, o_.engine));
    std::vector<int32_t> tokens;
    int32_t bos = -1;
    std::shared_ptr<const LogProbs> base_lp;
    if (!o_.text.empty()) {
      ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tok,
                       LoadTokenizerFor(o_.tokenizer, model, &r.tokenizer_path));
      ASSIGN_OR_RETURN(std::string text, ReadFileToString(o_.text));
      r.text_path = o_.text;
      r.text_hash = HashHex(text);
      tokens = tok->Encode(text, /*add_bos=*/false);
      bos = tok->bos_id();
      const int64_t used = o_.eval.max_tokens > 0
                               ? std::min<int64_t>(o_.eval.max_tokens, tokens.size())
                               : int64_t(tokens.size());
      if (used * int64_t(model.config.vocab_size) * 4 > (int64_t(3) << 30)) {
        return absl::InvalidArgumentError(
            absl::StrFormat("%d tokens x %d vocabulary need over 3 GiB of log-probabilities; score "
                            "fewer tokens (--max-tokens; eval.max_tokens in a sweep)",
                            used, model.config.vocab_size));
      }
      if (base) {
        RETURN_IF_ERROR(Stage("baseline"));
        ASSIGN_OR_RETURN(base_lp, BaselineLogProbs(*base, tokens, bos, &r.baseline_from_cache));
      }
      RETURN_IF_ERROR(Stage("accuracy"));
      Log(absl::StrFormat("accuracy: scoring %d tokens of %s", used, o_.text));
      ASSIGN_OR_RETURN(r.accuracy, MeasureAccuracy(*engine, tokens, o_.eval, bos, base_lp.get()));
    }
    if (o_.measure_latency) {
      RETURN_IF_ERROR(Stage("latency"));
      Log(absl::StrFormat("latency: prompt %d, generate %d, %d repeats", o_.latency.prompt,
                          o_.latency.generate, o_.latency.repeats));
      ASSIGN_OR_RETURN(r.latency, MeasureLatency(*engine, o_.latency, tokens));
    }
    r.env = CaptureEnvironment(IsaName(engine->isa()), engine->threads());
    if (!curve.contexts.empty()) {
      RETURN_IF_ERROR(Stage("context curve"));
      engine.reset();  // its caches would count in the curve's memory
      Log(absl::StrFormat("context curve: %s (random prompts, %d decoded tokens each)",
                          o_.context_curve, curve.generate));
      ASSIGN_OR_RETURN(r.context_curve, MeasureContextCurve(model, curve));
    }
    for (const CheckpointRecord& c : checkpoints) {
      RETURN_IF_ERROR(Stage(absl::StrFormat("checkpoint %d", c.step)));
      ASSIGN_OR_RETURN(EvalReport cr,
                       MeasureCheckpoint(c, r, base.get(), tokens, bos, base_lp.get()));
      r.checkpoints.push_back(std::move(cr));
    }
    return r;
  }

  // A checkpoint folder measured like the evaluated model (size, accuracy against the same
  // baseline and tokens, latency); `main` gives the inputs' paths and the environment.
  absl::StatusOr<EvalReport> MeasureCheckpoint(const CheckpointRecord& c, const EvalReport& main,
                                               const Model* base,
                                               const std::vector<int32_t>& tokens, int32_t bos,
                                               const LogProbs* base_lp) const {
    Log(absl::StrFormat("checkpoint: %s step %d (%s)", c.technique, c.step, c.path));
    ASSIGN_OR_RETURN(Model m, LoadModel(c.path));
    EvalReport r;
    r.model_path = c.path;
    r.model_hash = m.content_hash;
    r.baseline_path = main.baseline_path;
    r.text_path = main.text_path;
    r.text_hash = main.text_hash;
    r.tokenizer_path = main.tokenizer_path;
    r.checkpoint_step = c.step;
    r.techniques = {absl::StrFormat("%s checkpoint at step %d", c.technique, c.step)};
    r.config_summary = ConfigSummary(m.config);
    r.attention = AttentionSummary(m.attention);
    r.size = MeasureSize(m, base);
    ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, Engine::Create(m, o_.engine));
    if (!tokens.empty()) {
      ASSIGN_OR_RETURN(r.accuracy, MeasureAccuracy(*engine, tokens, o_.eval, bos, base_lp));
    }
    if (o_.measure_latency) {
      ASSIGN_OR_RETURN(r.latency, MeasureLatency(*engine, o_.latency, tokens));
    }
    r.env = main.env;
    return r;
  }

 private:
  const EvaluateOptions& o_;
  const EvaluateContext& ctx_;
};

}  // namespace

absl::StatusOr<EvalReport> Evaluate(const EvaluateOptions& options, const EvaluateContext& ctx) {
  return Run(options, ctx).Go();
}

}  // namespace squeeze
