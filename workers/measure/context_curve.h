// Latency and memory as a function of context length: for each context C, from an empty
// cache, a prompt of C pseudo-random tokens is prefilled and G tokens are decoded greedily;
// prefill tokens/s, decode ms/token, the KV cache and attention scratch the engine allocated
// for that context, and the process's peak resident memory during the point.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/engine.h"

namespace squeeze {

struct ContextCurveSettings {
  std::vector<int64_t> contexts = {256, 1024, 4096, 16384};
  int generate = 16;  // decoded tokens per point
  int repeats = 1;    // measured runs per point (medians reported), after one warm-up decode
  int threads = 0;
  int max_batch = 128;  // engine prefill batch
  Isa isa = ActiveIsa();
};

struct ContextPoint {
  int64_t context = 0;
  double prefill_tokens_per_s = 0;  // median over repeats
  double decode_ms_per_token = 0;   // median over repeats
  int64_t kv_cache_bytes = 0;       // allocated for a context of context + generate
  int64_t attention_scratch_bytes = 0;
  std::string kernel_prefill, kernel_decode;  // the attention kernels that ran
  int64_t peak_rss_bytes = 0;  // peak during this point (reset before it), 0 when unknown
};

// Parses "256,1k,4k,16k" (a k suffix multiplies by 1024). Errors name the bad item.
absl::StatusOr<std::vector<int64_t>> ParseContexts(const std::string& list);

// Which evaluations record a context curve, and at which contexts: "auto" (those applying an
// attention or kv_cache technique, at the default contexts), "auto:512,2k" (those, at these
// contexts), "none", or a list like "512,2k" (every evaluation).
struct ContextCurveChoice {
  bool automatic = true;  // only attention and kv_cache variants
  std::vector<int64_t> contexts = ContextCurveSettings().contexts;  // empty: none
};
absl::StatusOr<ContextCurveChoice> ParseContextCurve(const std::string& choice);

// One point of the curve for `model` (an engine is created for it and destroyed after).
absl::StatusOr<ContextPoint> MeasureContextPoint(const Model& model, int64_t context,
                                                 const ContextCurveSettings& settings);

// Every context of settings.contexts in turn.
absl::StatusOr<std::vector<ContextPoint>> MeasureContextCurve(const Model& model,
                                                              const ContextCurveSettings& settings);

// Resets the process's peak resident memory to the current one (Linux clear_refs), after
// returning freed heap memory to the system. Returns false where that is not possible.
bool ResetPeakRss();

}  // namespace squeeze
