// Google Benchmark of one layer's attention per kernel (naive, rowwise, flash), mask and
// context: a decode step (1 token) or a prefill batch over a full head-major f32 cache, on
// all threads. Counters: attention scratch bytes per thread, and keys per second.
// Usage: attention_bench --benchmark_filter=... (README, "Attention").
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <vector>

#include "engine/attention.h"

namespace squeeze {
namespace {

// The benchmark arguments: kernel, heads, kv heads, head_dim, context, batch tokens, window.
void BM_Attention(benchmark::State& state) {
  const AttentionKernel kernel = static_cast<AttentionKernel>(state.range(0));
  const AttentionShape s{int32_t(state.range(1)), int32_t(state.range(2)), int32_t(state.range(3)),
                         nullptr};
  const int64_t ctx = state.range(4), n = state.range(5);
  AttentionSettings a;
  a.window = int32_t(state.range(6));
  const int64_t pos = ctx - n, hd = s.head_dim, rb = hd * 4;
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> q(n * s.n_heads * hd), cache(2 * ctx * s.n_kv_heads * hd),
      batch(2 * n * s.n_kv_heads * hd), out(n * s.n_heads * hd);
  for (auto* v : {&q, &cache, &batch})
    for (float& x : *v) x = nd(rng);
  KvView kv;
  const auto* c = reinterpret_cast<const uint8_t*>(cache.data());
  const auto* b = reinterpret_cast<const uint8_t*>(batch.data());
  kv.cache = {c, c + cache.size() * 2, rb, ctx * rb};  // k then v, head-major
  kv.batch_pos = pos;
  kv.batch = {b, b + batch.size() * 2, rb * s.n_kv_heads, rb};
  ThreadPool pool(0);
  const int64_t floats = AttentionScratchFloats(kernel, a, s, n, ctx);
  std::vector<float> scratch(pool.size() * floats);
  for (auto _ : state) {
    Attention(pool, ActiveIsa(), kernel, a, s, kv, q.data(), n, out.data(), scratch.data(), floats);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["scratch_bytes_per_thread"] = double(floats * 4);
  state.counters["tokens_per_s"] =
      benchmark::Counter(double(n), benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(AttentionKernelName(kernel));
}

void Args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"kernel", "heads", "kv", "hd", "ctx", "n", "window"});
  for (int64_t k : {1, 2, 3}) {  // naive, rowwise, flash
    for (int64_t ctx : {256, 1024, 4096, 16384}) {
      b->Args({k, 4, 4, 64, ctx, 1, 0});     // decode, multi-head
      b->Args({k, 8, 2, 64, ctx, 1, 0});     // decode, 4 query heads per kv head
      b->Args({k, 4, 4, 64, ctx, 128, 0});   // the last prefill batch of the context
      b->Args({k, 4, 4, 64, ctx, 1, 1024});  // decode with a window of 1024
    }
    b->Args({k, 4, 4, 64, 8192, 8192, 0});  // an 8k prompt in one batch
  }
  b->UseRealTime()->Unit(benchmark::kMillisecond);
}

BENCHMARK(BM_Attention)->Apply(Args);

}  // namespace
}  // namespace squeeze

BENCHMARK_MAIN();
