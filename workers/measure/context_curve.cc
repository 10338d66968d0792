// The context-length curve (context_curve.h).
#include "measure/context_curve.h"

#include <malloc.h>

#include <cstdio>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "engine/generate.h"
#include "measure/latency.h"
#include "util/status_macros.h"

namespace squeeze {
absl::StatusOr<std::vector<int64_t>> ParseContexts(const std::string& list) {
  std::vector<int64_t> out;
  for (absl::string_view item : absl::StrSplit(list, ',')) {
    absl::string_view v = absl::StripAsciiWhitespace(item);
    int64_t mult = 1;
    if (absl::ConsumeSuffix(&v, "k") || absl::ConsumeSuffix(&v, "K")) mult = 1024;
    int64_t n = 0;
    if (!absl::SimpleAtoi(v, &n) || n < 1 || n > (int64_t(1) << 22)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "context \"", std::string(item), "\" is not a positive count (like 256, 1k, 16k)"));
    }
    out.push_back(n * mult);
  }
  return out;
}

absl::StatusOr<ContextCurveChoice> ParseContextCurve(const std::string& choice) {
  ContextCurveChoice c;
  if (choice == "auto") return c;
  if (choice == "none") {
    c.contexts.clear();
    return c;
  }
  absl::string_view list = choice;
  c.automatic = absl::ConsumePrefix(&list, "auto:");
  absl::StatusOr<std::vector<int64_t>> contexts = ParseContexts(std::string(list));
  if (!contexts.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        contexts.status().message(), " (the curve is auto, auto:<contexts>, none or <contexts>)"));
  }
  c.contexts = *std::move(contexts);
  return c;
}

bool ResetPeakRss() {
  malloc_trim(0);
  FILE* f = std::fopen("/proc/self/clear_refs", "w");
  if (!f) return false;
  const bool ok = std::fputs("5", f) >= 0;
  return std::fclose(f) == 0 && ok;
}

absl::StatusOr<ContextPoint> MeasureContextPoint(const Model& model, int64_t context,
                                                 const ContextCurveSettings& settings) {
  if (settings.generate < 1 || settings.repeats < 1)
    return absl::InvalidArgumentError("context curve: generate and repeats must be >= 1");
  const bool rss = ResetPeakRss();
  EngineOptions o;
  o.threads = settings.threads;
  o.isa = settings.isa;
  o.max_batch = settings.max_batch;
  o.max_context = int(context + settings.generate);
  ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, Engine::Create(model, o));
  const int32_t vocab = engine->vocab_size();
  std::vector<int32_t> prompt(context);
  uint64_t state = 0x9e3779b97f4a7c15ull;
  for (int32_t& t : prompt) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    t = int32_t((state >> 33) % uint64_t(vocab));
  }
  std::vector<float> logits(vocab);
  std::vector<double> prefill, decode;
  for (int rep = 0; rep < settings.repeats; ++rep) {
    engine->Reset();
    const double t0 = NowMs();
    RETURN_IF_ERROR(engine->Forward(prompt, logits.data()));
    const double t1 = NowMs();
    // One decode step first (not timed): the first touch of the batch-of-1 path.
    int32_t next = Argmax(logits.data(), vocab);
    RETURN_IF_ERROR(engine->Forward(std::span<const int32_t>(&next, 1), logits.data()));
    const double t2 = NowMs();
    for (int g = 1; g < settings.generate; ++g) {
      next = Argmax(logits.data(), vocab);
      RETURN_IF_ERROR(engine->Forward(std::span<const int32_t>(&next, 1), logits.data()));
    }
    const double t3 = NowMs();
    prefill.push_back(double(context) / ((t1 - t0) / 1000.0));
    decode.push_back(settings.generate > 1 ? (t3 - t2) / (settings.generate - 1) : t2 - t1);
  }
  ContextPoint p;
  p.context = context;
  p.prefill_tokens_per_s = ComputeStats(prefill).median;
  p.decode_ms_per_token = ComputeStats(decode).median;
  p.kv_cache_bytes = engine->kv_cache_bytes();
  p.attention_scratch_bytes = engine->attention_scratch_bytes();
  p.kernel_prefill = AttentionKernelName(
      engine->ResolvedAttentionKernel(std::min<int64_t>(context, settings.max_batch)));
  p.kernel_decode = AttentionKernelName(engine->ResolvedAttentionKernel(1));
  p.peak_rss_bytes = rss ? PeakRssBytes() : 0;
  return p;
}

absl::StatusOr<std::vector<ContextPoint>> MeasureContextCurve(
    const Model& model, const ContextCurveSettings& settings) {
  std::vector<ContextPoint> out;
  for (int64_t c : settings.contexts) {
    ASSIGN_OR_RETURN(ContextPoint p, MeasureContextPoint(model, c, settings));
    out.push_back(p);
  }
  return out;
}

}  // namespace squeeze
