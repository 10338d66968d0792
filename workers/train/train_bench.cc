// Training throughput: one full step (forward, cross-entropy, backward, AdamW) of the tiny
// and small presets on all cores, in tokens/s and model FLOP/s, next to the F32 matrix
// product rate of the engine's gemm kernel (the one kernels_bench measures) on one core:
// "share" = training FLOP/s / (threads x that rate). Model FLOPs of a step: 6 x tokens x
// matrix weights (classifier included) + 6 x B x heads x T^2 x head_dim x layers (causal
// attention: forward 2, backward 4; the recomputed scores are not counted).
// Usage: train_bench [--benchmark_filter=tiny] (build/workers/train_bench)
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <vector>

#include "squeeze/kernels/matmul.h"
#include "train/from_scratch.h"
#include "train/loss.h"
#include "train/model_grad.h"
#include "train/optimizer.h"
#include "util/rng.h"

namespace squeeze {
namespace {

double CpuSeconds(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}
double ProcessCpuSeconds() {
  return CpuSeconds(CLOCK_PROCESS_CPUTIME_ID);
}

// F32 gemm FLOP/s of the engine's kernel per second of this thread's CPU time (best of 5, so
// a busy machine does not lower it), at the shape kernels_bench reports for in-cache
// matrices (288 x 768, 16 tokens).
double GemmRate() {
  static const double rate = [] {
    const Isa isa = ActiveIsa();
    const int64_t rows = 288, cols = 768, n = 16;
    std::vector<float> w(rows * cols, 0.01f), x(n * cols, 0.5f), y(n * rows);
    const MatmulKernels& k = GetMatmulKernels(WeightFormat::kF32, isa);
    double best = 0;
    for (int rep = 0; rep < 5; ++rep) {
      const double t0 = CpuSeconds(CLOCK_THREAD_CPUTIME_ID);
      for (int i = 0; i < 200; ++i)
        k.gemm(w.data(), cols * 4, x.data(), n, y.data(), rows, rows, cols);
      const double s = CpuSeconds(CLOCK_THREAD_CPUTIME_ID) - t0;
      best = std::max(best, 200.0 * 2 * rows * cols * n / s);
    }
    benchmark::DoNotOptimize(y.data());
    return best;
  }();
  return rate;
}

void BM_TrainStep(benchmark::State& state, const char* preset_name) {
  absl::StatusOr<ScratchPreset> preset = FindPreset(preset_name);
  if (!preset.ok()) {
    state.SkipWithError("no such preset");
    return;
  }
  const ModelConfig& c = preset->config;
  const ParamLayout layout = ParamLayout::For(c);
  std::vector<float> params(size_t(layout.total)), grads(size_t(layout.total));
  InitParams(layout, 1, params.data());
  ThreadPool pool(0);
  const TrainOps ops{&pool, ActiveIsa()};
  ModelGrad<float> grad(layout, ops);
  AdamW adamw(layout, {});
  const int64_t B = preset->batch, T = preset->seq, n = B * T;
  Rng rng(2);
  std::vector<int32_t> tokens(static_cast<size_t>(n)), targets(static_cast<size_t>(n));
  for (int32_t& t : tokens) t = int32_t(rng.Below(uint64_t(c.vocab_size)));
  for (int32_t& t : targets) t = int32_t(rng.Below(uint64_t(c.vocab_size)));
  std::vector<float> dlogits(size_t(n * c.vocab_size));
  const double cpu0 = ProcessCpuSeconds();
  const auto wall0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    const float* logits = grad.Forward(params.data(), tokens.data(), B, T);
    CrossEntropyLoss(ops, logits, targets.data(), n, c.vocab_size, dlogits.data());
    std::fill(grads.begin(), grads.end(), 0.0f);
    grad.Backward(params.data(), dlogits.data(), grads.data());
    adamw.Step(ops, params.data(), grads.data(), 1e-4);
  }
  const double cpu = ProcessCpuSeconds() - cpu0;
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  int64_t matrix_weights = 0;
  for (const ParamTensor& t : layout.tensors) matrix_weights += t.matrix ? t.size() : 0;
  const double flops = 6.0 * double(n) * double(matrix_weights) +
                       6.0 * double(B) * c.n_heads * double(T) * T * c.head_dim() * c.n_layers;
  const double total = flops * double(state.iterations());
  // Rates per second of real time; the shares compare the step's FLOP rate with the gemm
  // kernel's on every thread: per second of real time (all threads counted as busy), and per
  // second of CPU time the process got (robust on a shared machine; idle pool threads that spin
  // count as busy, so it errs low).
  state.counters["tokens/s"] =
      benchmark::Counter(double(n), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["FLOP/s"] =
      benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["gemm_FLOP/s_per_thread"] = GemmRate();
  state.counters["threads"] = pool.size();
  state.counters["share_wall"] = total / (wall * pool.size() * GemmRate());
  state.counters["share_cpu"] = total / (cpu * GemmRate());
}

// One training product on one thread, at the tiny preset's FFN shape (2048 tokens, 512 x 192):
// y = x Wᵀ (NT), dx = dy W (NN), dW = dyᵀ x (TN).
void BM_Product(benchmark::State& state, char which) {
  const int64_t n = 2048, m = 512, k = 192;
  Rng rng(3);
  std::vector<float> x(n * k), w(m * k), dy(n * m), out(std::max(n * k, n * m));
  for (std::vector<float>* v : {&x, &w, &dy})
    for (float& f : *v) f = float(rng.Normal());
  const TrainOps ops{nullptr, ActiveIsa()};
  for (auto _ : state) {
    if (which == 'T') MatMulNT(ops, x.data(), w.data(), out.data(), n, m, k);
    if (which == 'N') MatMulNN(ops, dy.data(), w.data(), out.data(), n, m, k);
    if (which == 'W') MatMulTN(ops, dy.data(), x.data(), out.data(), n, m, k);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["FLOP/s"] =
      benchmark::Counter(2.0 * n * m * k, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["gemm_FLOP/s_per_thread"] = GemmRate();
}
BENCHMARK_CAPTURE(BM_Product, NT, 'T');
BENCHMARK_CAPTURE(BM_Product, NN, 'N');
BENCHMARK_CAPTURE(BM_Product, TN, 'W');

BENCHMARK_CAPTURE(BM_TrainStep, tiny, "tiny")
    ->UseRealTime()
    ->MeasureProcessCPUTime()
    ->MinTime(5)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_TrainStep, small, "small")
    ->UseRealTime()
    ->MeasureProcessCPUTime()
    ->MinTime(10)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace squeeze

BENCHMARK_MAIN();
