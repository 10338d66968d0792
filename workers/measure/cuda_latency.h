// Latency of the GPU forward pass (built only with the CUDA backend): prefill and decode times
// measured with CUDA events on the device after warm-up runs, median and p90 over the repeats,
// with the device memory the engine holds and the GPU (name, compute capability, driver) named.
// CPU builds do not compile this file.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "engine/cuda_engine.h"
#include "measure/latency.h"

namespace squeeze {

struct CudaLatencyReport {
  // prompt/generated tokens, repeats, prefill tokens/s and ms, decode ms/token (median, p90,
  // cv); threads = 0 and isa = "cuda"; peak_rss_bytes of the host process.
  LatencyReport latency;
  std::string device;             // CudaDeviceName(): GPU, sm_XY, memory, driver and runtime
  int64_t engine_bytes = 0;       // device memory the engine holds (weights, KV cache, scratch)
  int64_t device_used_bytes = 0;  // device memory in use after the runs (all processes)
};

// Runs settings.warmup + settings.repeats times: Reset, prefill of P prompt tokens, G greedy
// decode steps; times the prefill and every decode step with CUDA events (the warm-up runs are
// not recorded). prompt_tokens as in MeasureLatency.
absl::StatusOr<CudaLatencyReport> MeasureCudaLatency(CudaEngine& engine,
                                                     const LatencySettings& settings,
                                                     std::span<const int32_t> prompt_tokens,
                                                     int32_t vocab_size);

}  // namespace squeeze
