// The cost of one parallel loop: ParallelFor over 768 rows in chunks of 16 (a decode matrix of
// the 125m model) with a given amount of work per row, against the same work on one thread.
// Decode runs about 73 such loops per token (README, "On an AVX-512 machine").
#include <benchmark/benchmark.h>

#include "util/thread_pool.h"

namespace squeeze {
namespace {

constexpr int64_t kRows = 768;

// About `iters` dependent multiply-adds: work that neither memory nor the compiler shortens.
double Work(int64_t iters) {
  double a = 1.0;
  for (int64_t i = 0; i < iters; ++i) a = a * 0.9999999 + 1e-9;
  return a;
}

// range(0): multiply-adds per row (0: an empty loop, the hand-off alone).
void BM_ParallelFor(benchmark::State& state) {
  ThreadPool pool(int(state.range(1)));
  const int64_t per_row = state.range(0);
  for (auto _ : state) {
    pool.ParallelFor(
        kRows, [&](int64_t b, int64_t e) { benchmark::DoNotOptimize(Work((e - b) * per_row)); },
        16);
  }
}
BENCHMARK(BM_ParallelFor)
    ->ArgNames({"work", "threads"})
    ->ArgsProduct({{0, 10}, {1, 2}})
    ->UseRealTime();

}  // namespace
}  // namespace squeeze

BENCHMARK_MAIN();
