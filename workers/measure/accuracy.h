// Accuracy over a text: perplexity, and against a baseline model in the same pass, KL
// divergence per scored token, top-1 agreement and the perplexity ratio.
//
// Protocol (documented in README): the text is tokenized once without BOS and cut to
// max_tokens. It is split into consecutive windows of (context - 1) text tokens; each window
// is run from an empty KV cache as [BOS, window...], and every text token is scored exactly
// once, predicted from BOS and the window tokens before it. Without a BOS id the windows are
// `context` tokens and their first token is not scored.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/engine.h"

namespace squeeze {

struct EvalSettings {
  int context = 256;   // tokens per window, BOS included; capped by the engine's max_context
  int max_tokens = 0;  // text tokens used (0: all)
};

// Log-probabilities of every scored position (rows) over the vocabulary (columns).
struct LogProbs {
  int32_t vocab = 0;
  std::vector<int32_t> targets;  // the scored tokens, in text order
  std::vector<float> values;     // (targets.size(), vocab), natural log
};

struct KlStats {
  double mean = 0, median = 0, p90 = 0, p99 = 0, max = 0;
};

struct AccuracyReport {
  int64_t tokens_scored = 0;
  int context = 0;
  double nll_mean = 0;    // mean negative log-likelihood (nats per token)
  double perplexity = 0;  // exp(nll_mean)
  bool has_baseline = false;
  double baseline_perplexity = 0;
  double perplexity_ratio = 0;  // perplexity / baseline_perplexity
  KlStats kld;                  // KL(baseline || model) per scored token, nats
  double top1_agreement = 0;    // share of positions with the same most likely token
};

// Splits tokens into the protocol's windows; each window includes BOS when bos_id >= 0.
std::vector<std::vector<int32_t>> MakeWindows(std::span<const int32_t> text_tokens, int context,
                                              int32_t bos_id);

// Runs the engine over the windows and returns the log-probabilities of every scored token.
absl::StatusOr<LogProbs> ComputeLogProbs(Engine& engine, std::span<const int32_t> text_tokens,
                                         const EvalSettings& settings, int32_t bos_id);

// Perplexity of the engine's model, and, when baseline is not null, KLD / top-1 / ratio
// against it (baseline must come from ComputeLogProbs on the same tokens and settings).
absl::StatusOr<AccuracyReport> MeasureAccuracy(Engine& engine, std::span<const int32_t> text_tokens,
                                               const EvalSettings& settings, int32_t bos_id,
                                               const LogProbs* baseline);

// Perplexity, KLD and top-1 from two sets of log-probabilities over the same positions.
AccuracyReport CompareLogProbs(const LogProbs& model, const LogProbs* baseline);

}  // namespace squeeze
