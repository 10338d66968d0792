// Table and JSON rendering of an EvalReport.
#include "measure/report.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_format.h"

namespace squeeze {
namespace {

std::string Bytes(int64_t b) {
  if (b >= (int64_t(1) << 30)) return absl::StrFormat("%.2f GiB", double(b) / (1 << 30));
  if (b >= (int64_t(1) << 20)) return absl::StrFormat("%.2f MiB", double(b) / (1 << 20));
  if (b >= 1024) return absl::StrFormat("%.1f KiB", double(b) / 1024);
  return absl::StrFormat("%d B", b);
}

nlohmann::json StatsJson(const Stats& s) {
  return {{"median", s.median}, {"p90", s.p90}, {"mean", s.mean},
          {"min", s.min},       {"max", s.max}, {"cv", s.cv}};
}

}  // namespace

namespace {

// One row per training checkpoint, each measured like the evaluated model.
std::string FormatCheckpointRows(const std::vector<EvalReport>& rows) {
  std::string o = "checkpoints (each measured like the model above, against the same baseline)\n";
  o += absl::StrFormat("  %-6s %10s %12s %7s %11s %10s %7s %9s  %s\n", "step", "params", "bytes",
                       "bits/w", "perplexity", "KLD mean", "top-1", "ms/token", "path");
  for (const EvalReport& r : rows) {
    const bool acc = r.accuracy.has_value(), lat = r.latency.has_value();
    const bool kld = acc && r.accuracy->has_baseline;
    o += absl::StrFormat("  %-6d %10d %12d %7.3f %11s %10s %7s %9s  %s\n", r.checkpoint_step,
                         r.size.params, r.size.bytes, r.size.bits_per_weight,
                         acc ? absl::StrFormat("%.4f", r.accuracy->perplexity) : "-",
                         kld ? absl::StrFormat("%.6f", r.accuracy->kld.mean) : "-",
                         kld ? absl::StrFormat("%.2f%%", 100 * r.accuracy->top1_agreement) : "-",
                         lat ? absl::StrFormat("%.3f", r.latency->decode_ms_per_token.median) : "-",
                         r.model_path);
  }
  return o;
}

}  // namespace

std::string FormatReportTable(const EvalReport& r) {
  std::string o;
  auto row = [&](const std::string& k, const std::string& v) {
    o += absl::StrFormat("  %-26s %s\n", k, v);
  };
  o += "model\n";
  row("path", r.model_path);
  row("shape", r.config_summary);
  if (!r.layer_shapes.empty()) row("layers", r.layer_shapes);
  if (!r.attention.empty()) row("attention", r.attention);
  for (size_t i = 0; i < r.techniques.size(); ++i)
    row(absl::StrFormat("applied (%d of %d)", i + 1, r.techniques.size()), r.techniques[i]);
  if (!r.calibration.empty()) row("calibration", r.calibration);
  if (!r.baseline_path.empty()) row("baseline", r.baseline_path);
  o += "size (weights as held for inference)\n";
  row("bytes", absl::StrFormat("%d (%s)", r.size.bytes, Bytes(r.size.bytes)));
  row("parameters", absl::StrFormat("%d", r.size.params));
  row("bits per weight", absl::StrFormat("%.3f", r.size.bits_per_weight));
  row("layer bits per weight",
      absl::StrFormat("%.3f (q, k, v, o, gate, up, down)", r.size.layer_bits_per_weight));
  for (const auto& [fmt, b] : r.size.bytes_by_format)
    row("  matrices in " + fmt, absl::StrFormat("%d (%s)", b, Bytes(b)));
  if (r.size.bytes_by_format.count("tf32")) {
    row("  note",
        "tf32 is an emulation on CPU (weights and inputs rounded to 10-bit mantissas, "
        "f32 arithmetic): its accuracy is TF32's, its speed is not");
  }
  if (r.size.ratio_to_baseline > 0)
    row("size / baseline", absl::StrFormat("%.4f", r.size.ratio_to_baseline));
  row("KV cache per token",
      absl::StrFormat("%s (%s)", Bytes(r.size.kv_bytes_per_token), r.size.kv_cache_format));
  if (r.size.kv_max_positions > 0) {
    row("KV cache bound",
        absl::StrFormat("%d positions: %s at any context", r.size.kv_max_positions,
                        Bytes(r.size.kv_max_positions * r.size.kv_bytes_per_token)));
  }
  if (r.accuracy) {
    const AccuracyReport& a = *r.accuracy;
    o += absl::StrFormat("accuracy (%s, context %d, BOS + window, every token scored once)\n",
                         r.text_path, a.context);
    row("tokens scored", absl::StrFormat("%d", a.tokens_scored));
    row("perplexity", absl::StrFormat("%.4f", a.perplexity));
    row("mean NLL (nats/token)", absl::StrFormat("%.5f", a.nll_mean));
    if (a.has_baseline) {
      row("baseline perplexity", absl::StrFormat("%.4f%s", a.baseline_perplexity,
                                                 r.baseline_from_cache ? " (cached)" : ""));
      row("perplexity ratio", absl::StrFormat("%.5f", a.perplexity_ratio));
      row("KLD mean (nats)", absl::StrFormat("%.6f", a.kld.mean));
      row("KLD median / p90", absl::StrFormat("%.6f / %.6f", a.kld.median, a.kld.p90));
      row("KLD p99 / max", absl::StrFormat("%.6f / %.6f", a.kld.p99, a.kld.max));
      row("top-1 agreement", absl::StrFormat("%.2f%%", 100.0 * a.top1_agreement));
    }
  }
  if (r.latency) {
    const LatencyReport& l = *r.latency;
    o += absl::StrFormat(
        "latency (prompt %d, generate %d, %d repeats after warm-up, %d threads, %s)\n",
        l.prompt_tokens, l.generated_tokens, l.repeats, l.threads, l.isa);
    row("prefill tokens/s",
        absl::StrFormat("median %.1f  p90 %.1f  cv %.1f%%", l.prefill_tokens_per_s.median,
                        l.prefill_tokens_per_s.p90, 100 * l.prefill_tokens_per_s.cv));
    row("decode ms/token",
        absl::StrFormat("median %.3f  p90 %.3f  cv %.1f%%", l.decode_ms_per_token.median,
                        l.decode_ms_per_token.p90, 100 * l.decode_ms_per_token.cv));
    row("peak RSS", Bytes(l.peak_rss_bytes));
  }
  if (!r.context_curve.empty()) {
    o += "context length (random prompt, prefill then decode; KV cache and attention scratch as "
         "allocated)\n";
    o += absl::StrFormat("  %8s %12s %12s %12s %12s %12s  %s\n", "context", "prefill tok/s",
                         "decode ms", "KV cache", "attn scratch", "peak RSS", "kernels");
    for (const ContextPoint& p : r.context_curve) {
      o += absl::StrFormat("  %8d %12.1f %12.3f %12s %12s %12s  %s / %s\n", p.context,
                           p.prefill_tokens_per_s, p.decode_ms_per_token, Bytes(p.kv_cache_bytes),
                           Bytes(p.attention_scratch_bytes), Bytes(p.peak_rss_bytes),
                           p.kernel_prefill, p.kernel_decode);
    }
  }
  o += "environment\n";
  row("cpu", r.env.cpu);
  row("kernels",
      absl::StrFormat("%s, %d threads of %d CPUs", r.env.isa, r.env.threads, r.env.online_cpus));
  row("build", r.env.build);
  if (!r.checkpoints.empty()) o += FormatCheckpointRows(r.checkpoints);
  return o;
}

std::string FormatReportJson(const EvalReport& r) {
  nlohmann::json j;
  j["model"] = {{"path", r.model_path},
                {"hash", r.model_hash},
                {"shape", r.config_summary},
                {"attention", r.attention}};
  if (!r.layer_shapes.empty()) j["model"]["layers"] = r.layer_shapes;
  j["techniques"] = r.techniques;  // [] when measured as loaded
  if (!r.calibration.empty()) j["calibration"] = r.calibration;
  if (!r.baseline_path.empty()) j["baseline"] = {{"path", r.baseline_path}};
  nlohmann::json by_format = nlohmann::json::object();
  for (const auto& [fmt, b] : r.size.bytes_by_format) by_format[fmt] = b;
  j["size"] = {{"bytes", r.size.bytes},
               {"matrix_bytes", r.size.matrix_bytes},
               {"params", r.size.params},
               {"bits_per_weight", r.size.bits_per_weight},
               {"layer_bits_per_weight", r.size.layer_bits_per_weight},
               {"kv_cache_format", r.size.kv_cache_format},
               {"kv_bytes_per_token", r.size.kv_bytes_per_token},
               {"kv_max_positions", r.size.kv_max_positions},
               {"bytes_by_format", by_format}};
  if (r.size.ratio_to_baseline > 0) j["size"]["ratio_to_baseline"] = r.size.ratio_to_baseline;
  if (r.size.bytes_by_format.count("tf32")) j["size"]["emulated"] = {"tf32"};
  if (r.accuracy) {
    const AccuracyReport& a = *r.accuracy;
    nlohmann::json acc = {{"text", {{"path", r.text_path}, {"hash", r.text_hash}}},
                          {"tokenizer", r.tokenizer_path},
                          {"protocol",
                           "windows of context-1 text tokens after BOS, empty KV "
                           "cache per window, every text token scored once"},
                          {"context", a.context},
                          {"tokens_scored", a.tokens_scored},
                          {"nll_mean", a.nll_mean},
                          {"perplexity", a.perplexity}};
    if (a.has_baseline) {
      acc["baseline_perplexity"] = a.baseline_perplexity;
      acc["baseline_from_cache"] = r.baseline_from_cache;
      acc["perplexity_ratio"] = a.perplexity_ratio;
      acc["kld"] = {{"mean", a.kld.mean},
                    {"median", a.kld.median},
                    {"p90", a.kld.p90},
                    {"p99", a.kld.p99},
                    {"max", a.kld.max}};
      acc["top1_agreement"] = a.top1_agreement;
    }
    j["accuracy"] = acc;
  }
  if (r.latency) {
    const LatencyReport& l = *r.latency;
    j["latency"] = {{"prompt_tokens", l.prompt_tokens},
                    {"generated_tokens", l.generated_tokens},
                    {"repeats", l.repeats},
                    {"threads", l.threads},
                    {"isa", l.isa},
                    {"prefill_tokens_per_s", StatsJson(l.prefill_tokens_per_s)},
                    {"prefill_ms", StatsJson(l.prefill_ms)},
                    {"decode_ms_per_token", StatsJson(l.decode_ms_per_token)},
                    {"kv_bytes_per_token", l.kv_bytes_per_token},
                    {"peak_rss_bytes", l.peak_rss_bytes}};
  }
  if (!r.context_curve.empty()) {
    nlohmann::json curve = nlohmann::json::array();
    for (const ContextPoint& p : r.context_curve) {
      curve.push_back({{"context", p.context},
                       {"prefill_tokens_per_s", p.prefill_tokens_per_s},
                       {"decode_ms_per_token", p.decode_ms_per_token},
                       {"kv_cache_bytes", p.kv_cache_bytes},
                       {"attention_scratch_bytes", p.attention_scratch_bytes},
                       {"peak_rss_bytes", p.peak_rss_bytes},
                       {"kernel_prefill", p.kernel_prefill},
                       {"kernel_decode", p.kernel_decode}});
    }
    j["context_curve"] = curve;
  }
  j["environment"] = {{"cpu", r.env.cpu},         {"isa", r.env.isa},
                      {"threads", r.env.threads}, {"online_cpus", r.env.online_cpus},
                      {"build", r.env.build},     {"hostname", r.env.hostname}};
  if (r.checkpoint_step >= 0) j["step"] = r.checkpoint_step;
  if (!r.checkpoints.empty()) {
    j["checkpoints"] = nlohmann::json::array();
    for (const EvalReport& c : r.checkpoints)
      j["checkpoints"].push_back(nlohmann::json::parse(FormatReportJson(c)));
  }
  return j.dump(2);
}

}  // namespace squeeze
