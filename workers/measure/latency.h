// Latency: prefill tokens/s for a prompt of P tokens and decode ms/token over G generated
// tokens, from an empty KV cache, median and p90 over R repeats after warm-up, with the
// coefficient of variation so that a noisy machine shows.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "engine/engine.h"

namespace squeeze {

struct LatencySettings {
  int prompt = 128;   // P: prompt tokens
  int generate = 64;  // G: generated tokens (greedy; EOS does not stop it)
  int repeats = 5;    // R
  int warmup = 1;
};

struct Stats {
  double median = 0, p90 = 0, mean = 0, min = 0, max = 0;
  double cv = 0;  // standard deviation / mean
};

Stats ComputeStats(std::span<const double> samples);

// Milliseconds on the steady clock (for differences).
double NowMs();

// The q-quantile (q in [0, 1]) of ascending `sorted` values, interpolating linearly between
// neighbours; 0 for an empty list.
double QuantileOfSorted(std::span<const double> sorted, double q);

struct LatencyReport {
  int prompt_tokens = 0, generated_tokens = 0, repeats = 0, threads = 0;
  std::string isa;
  Stats prefill_tokens_per_s;
  Stats prefill_ms;
  Stats decode_ms_per_token;
  int64_t kv_bytes_per_token = 0;
  int64_t peak_rss_bytes = 0;  // of the whole process, after the runs
};

// prompt_tokens supplies the prompt (its first P tokens, repeated if shorter; a fixed
// pseudo-random sequence when empty).
absl::StatusOr<LatencyReport> MeasureLatency(Engine& engine, const LatencySettings& settings,
                                             std::span<const int32_t> prompt_tokens);

// Peak resident set size of this process (VmHWM), in bytes; 0 if unknown.
int64_t PeakRssBytes();

}  // namespace squeeze
