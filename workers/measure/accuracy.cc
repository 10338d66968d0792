// Perplexity, KL divergence and top-1 agreement over evaluation windows.
#include "measure/accuracy.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "engine/generate.h"
#include "measure/latency.h"
#include "squeeze/kernels/ops.h"
#include "util/status_macros.h"

namespace squeeze {
std::vector<std::vector<int32_t>> MakeWindows(std::span<const int32_t> text_tokens, int context,
                                              int32_t bos_id) {
  std::vector<std::vector<int32_t>> windows;
  const int64_t per = bos_id >= 0 ? context - 1 : context;
  for (int64_t b = 0; b < int64_t(text_tokens.size()); b += per) {
    const int64_t e = std::min<int64_t>(b + per, text_tokens.size());
    std::vector<int32_t> w;
    if (bos_id >= 0) w.push_back(bos_id);
    w.insert(w.end(), text_tokens.begin() + b, text_tokens.begin() + e);
    if (w.size() >= 2) windows.push_back(std::move(w));
  }
  return windows;
}

absl::StatusOr<LogProbs> ComputeLogProbs(Engine& engine, std::span<const int32_t> text_tokens,
                                         const EvalSettings& settings, int32_t bos_id) {
  const int context = std::min(settings.context, engine.max_context());
  if (context < 2) return absl::InvalidArgumentError("eval: context must be at least 2 tokens");
  std::span<const int32_t> toks = text_tokens;
  if (settings.max_tokens > 0 && int64_t(toks.size()) > settings.max_tokens)
    toks = toks.first(settings.max_tokens);
  LogProbs out;
  out.vocab = engine.vocab_size();
  const int64_t vocab = out.vocab;
  std::vector<float> logits;
  for (const std::vector<int32_t>& w : MakeWindows(toks, context, bos_id)) {
    engine.Reset();
    logits.resize(w.size() * vocab);
    RETURN_IF_ERROR(engine.Forward(w, logits.data(), /*all_logits=*/true));
    for (size_t i = 0; i + 1 < w.size(); ++i) {
      out.targets.push_back(w[i + 1]);
      const size_t row = out.values.size();
      out.values.resize(row + vocab);
      log_softmax_ref(out.values.data() + row, logits.data() + i * vocab, vocab);
    }
  }
  if (out.targets.empty())
    return absl::InvalidArgumentError("eval: the text has no tokens to score");
  return out;
}

AccuracyReport CompareLogProbs(const LogProbs& model, const LogProbs* baseline) {
  AccuracyReport r;
  const int64_t n = int64_t(model.targets.size()), vocab = model.vocab;
  r.tokens_scored = n;
  double nll = 0;
  for (int64_t i = 0; i < n; ++i) nll -= model.values[i * vocab + model.targets[i]];
  r.nll_mean = n ? nll / double(n) : 0;
  r.perplexity = std::exp(r.nll_mean);
  if (!baseline) return r;
  r.has_baseline = true;
  double base_nll = 0;
  for (int64_t i = 0; i < n; ++i) base_nll -= baseline->values[i * vocab + baseline->targets[i]];
  r.baseline_perplexity = std::exp(n ? base_nll / double(n) : 0);
  r.perplexity_ratio = r.perplexity / r.baseline_perplexity;
  std::vector<double> kl(n);
  int64_t agree = 0;
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float* p = baseline->values.data() + i * vocab;
    const float* q = model.values.data() + i * vocab;
    double d = 0;
    for (int64_t v = 0; v < vocab; ++v) d += std::exp(double(p[v])) * (double(p[v]) - double(q[v]));
    kl[i] = std::max(0.0, d);  // rounding can give -1e-12 for identical distributions
    sum += kl[i];
    if (Argmax(p, vocab) == Argmax(q, vocab)) ++agree;
  }
  r.kld.mean = n ? sum / double(n) : 0;
  std::sort(kl.begin(), kl.end());
  r.kld.median = QuantileOfSorted(kl, 0.5);
  r.kld.p90 = QuantileOfSorted(kl, 0.9);
  r.kld.p99 = QuantileOfSorted(kl, 0.99);
  r.kld.max = kl.empty() ? 0 : kl.back();
  r.top1_agreement = n ? double(agree) / double(n) : 0;
  return r;
}

absl::StatusOr<AccuracyReport> MeasureAccuracy(Engine& engine, std::span<const int32_t> text_tokens,
                                               const EvalSettings& settings, int32_t bos_id,
                                               const LogProbs* baseline) {
  ASSIGN_OR_RETURN(LogProbs lp, ComputeLogProbs(engine, text_tokens, settings, bos_id));
  if (baseline && (baseline->targets != lp.targets || baseline->vocab != lp.vocab)) {
    return absl::InvalidArgumentError(
        absl::StrCat("eval: baseline and model score different tokens (vocab ", baseline->vocab,
                     " vs ", lp.vocab, ", ", baseline->targets.size(), " vs ", lp.targets.size(),
                     " positions): they need the same tokenizer and settings"));
  }
  AccuracyReport r = CompareLogProbs(lp, baseline);
  r.context = std::min(settings.context, engine.max_context());
  return r;
}

}  // namespace squeeze
