// Wall-clock latency measurement of prefill and decode.
#include "measure/latency.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/generate.h"
#include "util/status_macros.h"

namespace squeeze {

double NowMs() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

double QuantileOfSorted(std::span<const double> sorted, double q) {
  if (sorted.empty()) return 0;
  const double idx = q * double(sorted.size() - 1);
  const size_t lo = size_t(std::floor(idx)), hi = size_t(std::ceil(idx));
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (idx - double(lo));
}

Stats ComputeStats(std::span<const double> samples) {
  Stats s;
  if (samples.empty()) return s;
  std::vector<double> v(samples.begin(), samples.end());
  std::sort(v.begin(), v.end());
  s.median = QuantileOfSorted(v, 0.5);
  s.p90 = QuantileOfSorted(v, 0.9);
  s.min = v.front();
  s.max = v.back();
  double sum = 0;
  for (double x : v) sum += x;
  s.mean = sum / double(v.size());
  double var = 0;
  for (double x : v) var += (x - s.mean) * (x - s.mean);
  s.cv = v.size() > 1 && s.mean != 0 ? std::sqrt(var / double(v.size() - 1)) / s.mean : 0;
  return s;
}

int64_t PeakRssBytes() {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  int64_t kb = 0;
  while (std::fgets(line, sizeof(line), f)) {
    if (std::strncmp(line, "VmHWM:", 6) == 0) {
      kb = std::strtoll(line + 6, nullptr, 10);
      break;
    }
  }
  std::fclose(f);
  return kb * 1024;
}

absl::StatusOr<LatencyReport> MeasureLatency(Engine& engine, const LatencySettings& settings,
                                             std::span<const int32_t> prompt_tokens) {
  if (settings.prompt < 1 || settings.generate < 1 || settings.repeats < 1 || settings.warmup < 0)
    return absl::InvalidArgumentError("latency: prompt, generate and repeats must be >= 1");
  if (settings.prompt + settings.generate > engine.max_context()) {
    return absl::InvalidArgumentError(
        absl::StrCat("latency: prompt (", settings.prompt, ") + generate (", settings.generate,
                     ") exceeds the context of ", engine.max_context(), " tokens"));
  }
  const int32_t vocab = engine.vocab_size();
  std::vector<int32_t> prompt(settings.prompt);
  uint64_t state = 0x9e3779b97f4a7c15ull;
  for (int i = 0; i < settings.prompt; ++i) {
    if (!prompt_tokens.empty()) {
      prompt[i] = prompt_tokens[i % prompt_tokens.size()];
    } else {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      prompt[i] = int32_t((state >> 33) % uint64_t(vocab));
    }
  }
  std::vector<float> logits(vocab);
  std::vector<double> prefill_ms, decode_ms;
  for (int rep = 0; rep < settings.warmup + settings.repeats; ++rep) {
    engine.Reset();
    const double t0 = NowMs();
    RETURN_IF_ERROR(engine.Forward(prompt, logits.data()));
    const double t1 = NowMs();
    for (int g = 0; g < settings.generate; ++g) {
      const int32_t next = Argmax(logits.data(), vocab);
      RETURN_IF_ERROR(engine.Forward(std::span<const int32_t>(&next, 1), logits.data()));
    }
    const double t2 = NowMs();
    if (rep < settings.warmup) continue;
    prefill_ms.push_back(t1 - t0);
    decode_ms.push_back((t2 - t1) / settings.generate);
  }
  LatencyReport r;
  r.prompt_tokens = settings.prompt;
  r.generated_tokens = settings.generate;
  r.repeats = settings.repeats;
  r.threads = engine.threads();
  r.isa = IsaName(engine.isa());
  r.prefill_ms = ComputeStats(prefill_ms);
  std::vector<double> tps;
  for (double ms : prefill_ms) tps.push_back(settings.prompt / (ms / 1000.0));
  r.prefill_tokens_per_s = ComputeStats(tps);
  r.decode_ms_per_token = ComputeStats(decode_ms);
  r.kv_bytes_per_token = engine.kv_bytes_per_token();
  r.peak_rss_bytes = PeakRssBytes();
  return r;
}

}  // namespace squeeze
