// Benchmarks of the CUDA kernels: GB/s of the F32 gemv and of the packed-format gemv kernels
// (packed weight bytes + x + y per second) with their share of the device's peak memory
// bandwidth, timed with CUDA events after a warm-up launch, next to a device-to-device copy as
// the roofline. Prints a message and exits 0 on machines without a GPU.
#include <benchmark/benchmark.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "cuda/cuda_backend.h"
#include "cuda/cuda_gemv.h"
#include "squeeze/kernels/format.h"

namespace squeeze {
namespace {

// Rotate over copies of W totalling at least this many bytes so each launch reads W from
// device memory, not from L2 (50 MB on H100/H200; one 4096x4096 F32 matrix is 64 MiB).
constexpr size_t kRotateBytes = size_t{256} << 20;

// Peak DRAM bandwidth of the current device in GB/s from its memory clock and bus width
// (2 transfers per clock), or 0 when the attributes are unavailable.
double PeakBandwidthGBs() {
  int dev = 0, clock_khz = 0, bus_bits = 0;
  if (cudaGetDevice(&dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, dev) != cudaSuccess) {
    return 0;
  }
  return 2.0 * double(clock_khz) * 1e3 * double(bus_bits) / 8.0 / 1e9;
}

// Times `launch` with CUDA events around each iteration; reports GB/s of `bytes` per launch.
template <typename Launch>
void TimeWithEvents(benchmark::State& state, double bytes, Launch launch) {
  cudaEvent_t start = nullptr, stop = nullptr;
  if (cudaEventCreate(&start) != cudaSuccess || cudaEventCreate(&stop) != cudaSuccess) {
    state.SkipWithError("cudaEventCreate failed");
    return;
  }
  int64_t i = 0;
  absl::Status st = launch(i++);  // warm-up
  double total_s = 0;
  for (auto _ : state) {
    if (!st.ok()) break;
    cudaEventRecord(start, nullptr);
    st = launch(i++);
    cudaEventRecord(stop, nullptr);
    cudaEventSynchronize(stop);
    float ms = 0;
    cudaEventElapsedTime(&ms, start, stop);
    state.SetIterationTime(ms * 1e-3);
    total_s += ms * 1e-3;
  }
  if (st.ok()) st = CudaSynchronize(nullptr);
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  if (!st.ok()) {
    state.SkipWithError(std::string(st.message()).c_str());
    return;
  }
  // Computed here: Google Benchmark's rate counters divide by CPU time, not the event time.
  const double gbs = total_s > 0 ? bytes * double(state.iterations()) / total_s / 1e9 : 0;
  state.counters["GB/s"] = gbs;
  static const double peak = PeakBandwidthGBs();
  if (peak > 0) state.counters["bw_share"] = gbs / peak;
}

// Allocates `count` device buffers of `bytes`, each filled with small floats.
bool AllocFilled(benchmark::State& state, size_t bytes, int count, std::vector<DeviceBuffer>* out) {
  std::vector<float> host(bytes / sizeof(float), 0.001f);
  for (int k = 0; k < count; ++k) {
    absl::StatusOr<DeviceBuffer> buf = DeviceBuffer::Create(bytes);
    absl::Status st = buf.ok() ? buf->CopyFromHost(host.data(), bytes) : buf.status();
    if (!st.ok()) {
      state.SkipWithError(std::string(st.message()).c_str());
      return false;
    }
    out->push_back(std::move(*buf));
  }
  return true;
}

void BM_CudaGemvF32(benchmark::State& state) {
  const int64_t rows = state.range(0), cols = state.range(0);
  const size_t w_bytes = size_t(rows * cols) * sizeof(float);
  const int copies = int((kRotateBytes + w_bytes - 1) / w_bytes);
  std::vector<DeviceBuffer> w, x, y;
  if (!AllocFilled(state, w_bytes, copies, &w) || !AllocFilled(state, cols * 4, 1, &x) ||
      !AllocFilled(state, rows * 4, 1, &y)) {
    return;
  }
  TimeWithEvents(state, double(w_bytes + (rows + cols) * 4), [&](int64_t i) {
    return cuda_gemv_f32(w[i % copies].as<float>(), x[0].as<float>(), y[0].as<float>(), rows, cols,
                         nullptr);
  });
}
BENCHMARK(BM_CudaGemvF32)->Arg(4096)->Arg(8192)->UseManualTime()->Unit(benchmark::kMicrosecond);

// Packed-format gemv (cuda_gemv) on a rows x cols matrix of random weights packed by the
// reference quantizer; bytes = packed weights + x + y (the activation scratch is not counted).
void BM_CudaGemvPacked(benchmark::State& state, WeightFormat f) {
  const int64_t rows = state.range(0), cols = state.range(1);
  const int64_t row_bytes = RowBytes(f, cols);
  const size_t w_bytes = size_t(rows * row_bytes);
  const int copies = int((kRotateBytes + w_bytes - 1) / w_bytes);
  std::vector<uint8_t> packed(w_bytes);
  std::vector<float> row(cols);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) row[c] = float((r * 31 + c * 17) % 97) / 97.0f - 0.5f;
    GetFormatTraits(f).from_float_ref(row.data(), packed.data() + r * row_bytes, cols);
  }
  std::vector<DeviceBuffer> w, x, y, scratch;
  for (int k = 0; k < copies; ++k) {
    absl::StatusOr<DeviceBuffer> buf = DeviceBuffer::Create(w_bytes);
    absl::Status st = buf.ok() ? buf->CopyFromHost(packed.data(), w_bytes) : buf.status();
    if (!st.ok()) {
      state.SkipWithError(std::string(st.message()).c_str());
      return;
    }
    w.push_back(std::move(*buf));
  }
  const size_t scratch_bytes = size_t(std::max<int64_t>(CudaGemvScratchBytes(f, cols), 16));
  if (!AllocFilled(state, cols * 4, 1, &x) || !AllocFilled(state, rows * 4, 1, &y) ||
      !AllocFilled(state, (scratch_bytes + 3) / 4 * 4, 1, &scratch)) {
    return;
  }
  TimeWithEvents(state, double(w_bytes + (rows + cols) * 4), [&](int64_t i) {
    return cuda_gemv(f, w[i % copies].data(), row_bytes, x[0].as<float>(), y[0].as<float>(), rows,
                     cols, scratch[0].data(), nullptr);
  });
}

void PackedShapes(benchmark::internal::Benchmark* b) {
  b->Args({4096, 4096})->Args({11008, 4096})->Args({4096, 11008});
  b->UseManualTime()->Unit(benchmark::kMicrosecond);
}

BENCHMARK_CAPTURE(BM_CudaGemvPacked, f16, WeightFormat::kF16)->Apply(PackedShapes);
BENCHMARK_CAPTURE(BM_CudaGemvPacked, bf16, WeightFormat::kBF16)->Apply(PackedShapes);
BENCHMARK_CAPTURE(BM_CudaGemvPacked, fp8_e4m3, WeightFormat::kFp8E4M3)->Apply(PackedShapes);
BENCHMARK_CAPTURE(BM_CudaGemvPacked, q8_channel, WeightFormat::kQ8Channel)->Apply(PackedShapes);
BENCHMARK_CAPTURE(BM_CudaGemvPacked, q8_g32, WeightFormat::kQ8G32)->Apply(PackedShapes);
BENCHMARK_CAPTURE(BM_CudaGemvPacked, q4_g32, WeightFormat::kQ4G32)->Apply(PackedShapes);
BENCHMARK_CAPTURE(BM_CudaGemvPacked, q4_g128, WeightFormat::kQ4G128)->Apply(PackedShapes);
BENCHMARK_CAPTURE(BM_CudaGemvPacked, q4_g32_asym, WeightFormat::kQ4G32Asym)->Apply(PackedShapes);
BENCHMARK_CAPTURE(BM_CudaGemvPacked, nf4, WeightFormat::kNf4)->Apply(PackedShapes);
BENCHMARK_CAPTURE(BM_CudaGemvPacked, w8a8, WeightFormat::kW8A8)->Apply(PackedShapes);

// Roofline reference: a device-to-device copy of the gemv's weight bytes (read + write).
void BM_CudaCopy(benchmark::State& state) {
  const size_t bytes = size_t(state.range(0) * state.range(0)) * sizeof(float);
  std::vector<DeviceBuffer> bufs;
  if (!AllocFilled(state, bytes, 2, &bufs)) return;
  TimeWithEvents(state, 2.0 * double(bytes), [&](int64_t) {
    return absl::Status(cudaMemcpyAsync(bufs[1].data(), bufs[0].data(), bytes,
                                        cudaMemcpyDeviceToDevice, nullptr) == cudaSuccess
                            ? absl::OkStatus()
                            : absl::InternalError("cudaMemcpyAsync failed"));
  });
}
BENCHMARK(BM_CudaCopy)->Arg(4096)->Arg(8192)->UseManualTime()->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace squeeze

int main(int argc, char** argv) {
  std::string why;
  if (!squeeze::CudaAvailable(&why)) {
    std::printf("cuda_bench: no CUDA device: %s; nothing to measure.\n", why.c_str());
    return 0;
  }
  benchmark::AddCustomContext("cuda_device", squeeze::CudaDeviceName());
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
