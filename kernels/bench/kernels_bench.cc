// Google Benchmark of the CPU matrix kernels (gemv/gemm per format x ISA level) on one
// thread, next to a plain memory-read benchmark: a gemv larger than L3 is memory-bound, so its
// weight bytes/s should approach the read bandwidth. The memory read and the gemv of shapes
// larger than L3 also run on 2 threads at once (names ending /real_time/threads:2; each thread
// reads its own copies; bytes/s counts both, and the time is wall time over both threads'
// calls), against the bandwidth of the whole machine rather than of one core. Usage: kernels_bench
// --benchmark_filter=... (scripts/bench-kernels.sh).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "squeeze/kernels/csr.h"
#include "squeeze/kernels/format.h"
#include "squeeze/kernels/fp16.h"
#include "squeeze/kernels/matmul.h"

namespace squeeze {
namespace {

struct Shape {
  int64_t rows, cols;
  bool in_cache;  // small enough that the reference kernel is worth timing
};
// 4096x4096 is an attention projection of a 7B model, 4096x11008 the FFN down projection
// (larger than L3 in every format), 288x768 the FFN of stories15M (in cache).
constexpr Shape kShapes[] = {{4096, 4096, false}, {4096, 11008, false}, {288, 768, true}};
constexpr int64_t kGemmTokens = 16;
constexpr int64_t kLongGemmTokens = 64;

// Packed random weights (rows, cols) of a format and n random input vectors.
struct Data {
  std::vector<uint8_t> w;
  std::vector<float> x;
  int64_t row_bytes;
};

Data MakeData(WeightFormat f, int64_t rows, int64_t cols, int64_t n) {
  Data d;
  d.row_bytes = RowBytes(f, cols);
  d.w.resize(size_t(rows * d.row_bytes));
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> row(cols);
  for (int64_t r = 0; r < rows; ++r) {
    for (float& v : row) v = dist(rng);
    GetFormatTraits(f).from_float_ref(row.data(), d.w.data() + r * d.row_bytes, cols);
  }
  d.x.resize(size_t(n * cols));
  for (float& v : d.x) v = dist(rng);
  return d;
}

// Google Benchmark sums a counter over the threads and multiplies it by the iterations of all
// threads; averaging over the threads leaves the bytes (or FLOP) of every thread per second.
const benchmark::Counter::Flags kPerSecond =
    benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kAvgThreads;

void SetCounters(benchmark::State& state, int64_t weight_bytes, int64_t flops) {
  state.counters["bytes/s"] =
      benchmark::Counter(double(weight_bytes), kPerSecond, benchmark::Counter::kIs1024);
  state.counters["FLOP/s"] = benchmark::Counter(double(flops), kPerSecond);
}

void BM_Gemv(benchmark::State& state, WeightFormat f, Isa isa, Shape s) {
  if (!IsaSupported(isa)) {
    state.SkipWithError("ISA not supported by this CPU");
    return;
  }
  const MatmulKernels& k = isa == Isa::kRef ? GetMatmulKernelsRef(f) : GetMatmulKernels(f, isa);
  Data d = MakeData(f, s.rows, s.cols, 1);
  // Shapes not meant to stay in cache cycle through copies of the matrix, at least 256 MiB
  // in all, so that each call reads its weights from memory whatever the format's size
  // (4096 x 11008 in q2 is 14 MB, less than many L3 caches).
  const size_t bytes = d.w.size();
  const size_t copies =
      s.in_cache ? 1 : std::max<size_t>(1, ((size_t(256) << 20) + bytes - 1) / bytes);
  std::vector<uint8_t> pool(copies * bytes);
  for (size_t c = 0; c < copies; ++c) std::memcpy(pool.data() + c * bytes, d.w.data(), bytes);
  std::vector<float> y(s.rows);
  size_t next = 0;
  for (auto _ : state) {
    k.gemv(pool.data() + next * bytes, d.row_bytes, d.x.data(), y.data(), s.rows, s.cols);
    next = next + 1 == copies ? 0 : next + 1;
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, s.rows * d.row_bytes, 2 * s.rows * s.cols);
}

void BM_Gemm(benchmark::State& state, WeightFormat f, Isa isa, Shape s, int64_t n) {
  if (!IsaSupported(isa)) {
    state.SkipWithError("ISA not supported by this CPU");
    return;
  }
  const MatmulKernels& k = isa == Isa::kRef ? GetMatmulKernelsRef(f) : GetMatmulKernels(f, isa);
  Data d = MakeData(f, s.rows, s.cols, n);
  std::vector<float> y(n * s.rows);
  for (auto _ : state) {
    k.gemm(d.w.data(), d.row_bytes, d.x.data(), n, y.data(), s.rows, s.rows, s.cols);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, s.rows * d.row_bytes, 2 * n * s.rows * s.cols);
}

// Read bandwidth: sums a 1 GiB buffer split into state.range(0) equal parts read side by side
// (gemv reads 8 rows side by side, and several streams keep more hardware prefetchers busy than
// one), with 8 lanes of 64-bit accumulators per part; with state.range(1) == 1 it also
// prefetches 2 KiB ahead in each part, as the kernels do (tile_loops.h, PrefetchAhead).
template <int kStreams, bool kPrefetch>
uint64_t SumStreams(const uint64_t* buf, size_t words) {
  const size_t part = words / kStreams;
  uint64_t acc[kStreams][8] = {};
  for (size_t i = 0; i < part; i += 8)
    for (int s = 0; s < kStreams; ++s) {
      if (kPrefetch) __builtin_prefetch(buf + s * part + i + 256);
      for (int k = 0; k < 8; ++k) acc[s][k] += buf[s * part + i + k];
    }
  uint64_t total = 0;
  for (const auto& a : acc)
    for (uint64_t v : a) total += v;
  return total;
}

void BM_MemoryRead(benchmark::State& state) {
  const size_t bytes = size_t(1) << 30;
  const size_t words = bytes / sizeof(uint64_t);
  std::unique_ptr<uint64_t[]> buf(new uint64_t[words]);
  for (size_t i = 0; i < words; ++i) buf[i] = i;
  for (auto _ : state) {
    const bool one = state.range(0) == 1, prefetch = state.range(1) == 1;
    const uint64_t total = one ? (prefetch ? SumStreams<1, true>(buf.get(), words)
                                           : SumStreams<1, false>(buf.get(), words))
                               : (prefetch ? SumStreams<8, true>(buf.get(), words)
                                           : SumStreams<8, false>(buf.get(), words));
    benchmark::DoNotOptimize(total);
  }
  state.counters["bytes/s"] =
      benchmark::Counter(double(bytes), kPerSecond, benchmark::Counter::kIs1024);
}

// Unstructured sparsity: the CSR matrix-vector kernel (squeeze/kernels/csr.h: f32 or f16
// values and 16-bit column indices, 6 or 4 bytes per kept weight) on 4096 x 11008, to compare
// with the dense gemv of the same matrix (BM_Gemv/f32|f16/avx2/4096x11008) and find the
// sparsity from which storing the kept weights' positions pays (README, "Pruning").
// state.range(0) is the sparsity in percent, range(1) 16 for f16 values (else f32); the kept
// weights of each row are spread uniformly at random.
void BM_CsrGemv(benchmark::State& state) {
  const int64_t rows = 4096, cols = 11008;
  const double sparsity = double(state.range(0)) / 100.0;
  const bool half = state.range(1) == 16;
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  const int64_t keep = cols - int64_t(sparsity * double(cols) + 0.5);
  std::vector<float> f32(rows * keep), x(cols), y(rows);
  std::vector<uint16_t> f16(rows * keep), index(rows * keep), all(cols);
  std::vector<uint32_t> start(rows + 1);
  for (int64_t c = 0; c < cols; ++c) all[c] = uint16_t(c);
  for (int64_t r = 0; r < rows; ++r) {
    std::shuffle(all.begin(), all.end(), rng);
    std::sort(all.begin(), all.begin() + keep);
    for (int64_t k = 0; k < keep; ++k) {
      index[r * keep + k] = all[k];
      f32[r * keep + k] = dist(rng);
      f16[r * keep + k] = fp32_to_fp16(f32[r * keep + k]);
    }
    start[r + 1] = uint32_t((r + 1) * keep);
  }
  for (float& v : x) v = dist(rng);
  const WeightFormat vf = half ? WeightFormat::kF16 : WeightFormat::kF32;
  const CsrView view = {start.data(), index.data(),
                        half ? static_cast<const void*>(f16.data()) : f32.data(), vf};
  const CsrKernels& k = GetCsrKernels(vf, Isa::kAvx2);
  for (auto _ : state) {
    k.gemv(view, x.data(), y.data(), 0, rows);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.counters["bytes/s"] = benchmark::Counter(double(CsrBytes(vf, rows, rows * keep)),
                                                 benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1024);
}

std::string ShapeName(Shape s) {
  return std::to_string(s.rows) + "x" + std::to_string(s.cols);
}

bool RegisterAll() {
  benchmark::RegisterBenchmark("BM_CsrGemv/4096x11008", BM_CsrGemv)
      ->ArgNames({"sparsity%", "bits"})
      ->ArgsProduct({{50, 60, 70, 75, 80, 90, 95}, {32, 16}})
      ->Unit(benchmark::kMicrosecond);
  for (int threads : {1, 2}) {
    benchmark::internal::Benchmark* b =
        benchmark::RegisterBenchmark("BM_MemoryRead/1GiB", BM_MemoryRead)
            ->ArgNames({"streams", "prefetch"})
            ->ArgsProduct({{1, 8}, {0, 1}})
            ->Unit(benchmark::kMillisecond);
    if (threads > 1) b->Threads(threads)->UseRealTime();
  }
  for (int fi = 0; fi < kWeightFormatCount; ++fi) {
    const WeightFormat f = static_cast<WeightFormat>(fi);
    const std::string fname = GetFormatTraits(f).name;
    for (Isa isa : {Isa::kRef, Isa::kAvx2, Isa::kAvx512}) {
      for (const Shape& s : kShapes) {
        if (isa == Isa::kRef && !s.in_cache) continue;  // the oracle is too slow to matter
        const std::string suffix = "/" + fname + "/" + IsaName(isa) + "/" + ShapeName(s);
        benchmark::RegisterBenchmark(("BM_Gemv" + suffix).c_str(), BM_Gemv, f, isa, s)
            ->Unit(benchmark::kMicrosecond);
        if (isa != Isa::kRef && !s.in_cache) {
          benchmark::RegisterBenchmark(("BM_Gemv" + suffix).c_str(), BM_Gemv, f, isa, s)
              ->Threads(2)
              ->UseRealTime()
              ->Unit(benchmark::kMicrosecond);
        }
        benchmark::RegisterBenchmark(
            ("BM_Gemm" + suffix + "/n" + std::to_string(kGemmTokens)).c_str(), BM_Gemm, f, isa, s,
            kGemmTokens)
            ->Unit(benchmark::kMicrosecond);
        // A longer prefill on the attention shape (more tokens per weight row loaded).
        if (isa == Isa::kRef || &s != &kShapes[0]) continue;
        benchmark::RegisterBenchmark(
            ("BM_Gemm" + suffix + "/n" + std::to_string(kLongGemmTokens)).c_str(), BM_Gemm, f, isa,
            s, kLongGemmTokens)
            ->Unit(benchmark::kMicrosecond);
      }
    }
  }
  return true;
}

const bool kRegistered = RegisterAll();

}  // namespace
}  // namespace squeeze

BENCHMARK_MAIN();
