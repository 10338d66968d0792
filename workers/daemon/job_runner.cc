// Jobs as evaluations (see job_runner.h).
#include "daemon/job_runner.h"

#include <filesystem>

namespace squeeze {

EvaluateOptions OptionsForJob(const v1::JobSpec& s, const std::string& data_root) {
  auto path = [&](const std::string& p) {
    return p.empty() ? std::string() : (std::filesystem::path(data_root) / p).string();
  };
  EvaluateOptions o;
  o.model = path(s.model());
  o.tokenizer = path(s.tokenizer());
  o.text = path(s.eval_text());
  o.compare_to_loaded = true;
  o.apply.assign(s.pipeline().begin(), s.pipeline().end());
  o.calib_text = path(s.calibration_text());
  o.calib.sequences = s.calibration_samples();
  o.calib.context = s.calibration_context();
  o.eval.context = s.context();
  o.eval.max_tokens = s.max_tokens();
  o.measure_latency = s.latency();
  o.latency.prompt = s.prompt();
  o.latency.generate = s.generate();
  o.latency.repeats = s.repeats();
  o.latency.warmup = s.warmup();
  o.engine.threads = s.threads();
  o.context_curve = s.context_curve().empty() ? "auto" : s.context_curve();
  return o;
}

namespace {

void SetMetrics(const EvalReport& r, v1::Metrics* m) {
  m->set_bits_per_weight(r.size.bits_per_weight);
  m->set_size_bytes(r.size.bytes);
  if (r.accuracy) {
    m->set_perplexity(r.accuracy->perplexity);
    if (r.accuracy->has_baseline) {
      m->set_kld_mean(r.accuracy->kld.mean);
      m->set_top1_agreement(r.accuracy->top1_agreement);
    }
  }
  if (r.latency) {
    m->set_decode_ms_per_token(r.latency->decode_ms_per_token.median);
    m->set_prefill_tokens_per_s(r.latency->prefill_tokens_per_s.median);
  }
}

}  // namespace

v1::JobResult ResultFromReport(const EvalReport& r) {
  v1::JobResult out;
  SetMetrics(r, out.mutable_metrics());
  out.set_report_json(FormatReportJson(r));
  out.set_baseline_from_cache(r.baseline_from_cache);
  for (const EvalReport& c : r.checkpoints) {
    v1::CheckpointResult cr;
    cr.set_step(c.checkpoint_step);
    SetMetrics(c, cr.mutable_metrics());
    // The last checkpoint of a pipeline that ends with training is the final model itself:
    // the same size and accuracy figures. It is stored once, as the job's own row.
    const v1::Metrics& a = cr.metrics();
    const v1::Metrics& f = out.metrics();
    if (&c == &r.checkpoints.back() && a.size_bytes() == f.size_bytes() &&
        a.perplexity() == f.perplexity() && a.kld_mean() == f.kld_mean())
      continue;
    cr.set_report_json(FormatReportJson(c));
    *out.add_checkpoints() = std::move(cr);
  }
  return out;
}

absl::StatusOr<v1::JobResult> RunJob(const v1::JobSpec& spec, const std::string& data_root,
                                     EvalMemoryCache* cache,
                                     const std::function<void(const std::string&)>& stage,
                                     const std::atomic<bool>* cancel) {
  EvaluateContext ctx;
  ctx.memory = cache;
  ctx.stage = stage;
  ctx.cancel = cancel;
  absl::StatusOr<EvalReport> r = Evaluate(OptionsForJob(spec, data_root), ctx);
  if (!r.ok()) return r.status();
  return ResultFromReport(*r);
}

}  // namespace squeeze
