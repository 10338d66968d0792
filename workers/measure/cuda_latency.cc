// GPU latency with CUDA events (see cuda_latency.h).
#include "measure/cuda_latency.h"

#include <algorithm>
#include <vector>

#include "cuda/cuda_backend.h"

namespace squeeze {

absl::StatusOr<CudaLatencyReport> MeasureCudaLatency(CudaEngine& engine,
                                                     const LatencySettings& settings,
                                                     std::span<const int32_t> prompt_tokens,
                                                     int32_t vocab_size) {
  if (settings.prompt <= 0 || settings.generate < 0 || settings.repeats <= 0 ||
      settings.warmup < 0 || vocab_size <= 0) {
    return absl::InvalidArgumentError("cuda latency: prompt and repeats must be > 0");
  }
  if (settings.prompt + settings.generate > engine.max_context()) {
    return absl::InvalidArgumentError("cuda latency: prompt + generate exceeds max_context");
  }
  std::vector<int32_t> prompt(size_t(settings.prompt));
  for (size_t i = 0; i < prompt.size(); ++i) {
    prompt[i] = prompt_tokens.empty() ? int32_t((i * 7919 + 17) % size_t(vocab_size))
                                      : prompt_tokens[i % prompt_tokens.size()];
  }
  absl::StatusOr<CudaEventTimer> timer = CudaEventTimer::Create();
  if (!timer.ok()) return timer.status();
  std::vector<float> logits(static_cast<size_t>(vocab_size));
  std::vector<double> prefill_ms, prefill_tps, decode_ms;
  for (int run = 0; run < settings.warmup + settings.repeats; ++run) {
    const bool record = run >= settings.warmup;
    engine.Reset();
    if (absl::Status s = timer->Start(); !s.ok()) return s;
    if (absl::Status s = engine.Forward(prompt, logits.data()); !s.ok()) return s;
    absl::StatusOr<double> ms = timer->ElapsedMs();
    if (!ms.ok()) return ms.status();
    if (record) {
      prefill_ms.push_back(*ms);
      prefill_tps.push_back(*ms > 0 ? settings.prompt / (*ms * 1e-3) : 0);
    }
    for (int g = 0; g < settings.generate; ++g) {
      const int32_t next = int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
      if (absl::Status s = timer->Start(); !s.ok()) return s;
      if (absl::Status s = engine.Forward({&next, 1}, logits.data()); !s.ok()) return s;
      absl::StatusOr<double> step = timer->ElapsedMs();
      if (!step.ok()) return step.status();
      if (record) decode_ms.push_back(*step);
    }
  }
  CudaLatencyReport r;
  LatencyReport& l = r.latency;
  l.prompt_tokens = settings.prompt;
  l.generated_tokens = settings.generate;
  l.repeats = settings.repeats;
  l.threads = 0;
  l.isa = "cuda";
  l.prefill_ms = ComputeStats(prefill_ms);
  l.prefill_tokens_per_s = ComputeStats(prefill_tps);
  l.decode_ms_per_token = ComputeStats(decode_ms);
  l.peak_rss_bytes = PeakRssBytes();
  r.device = CudaDeviceName();
  r.engine_bytes = engine.device_bytes();
  absl::StatusOr<int64_t> used = CudaMemoryUsedBytes();
  if (used.ok()) r.device_used_bytes = *used;
  return r;
}

}  // namespace squeeze
