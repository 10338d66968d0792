// Benchmarks of the CUDA kernels: GB/s of the F32 gemv (weights + x + y bytes per second),
// timed with CUDA events, next to a device-to-device copy of the same bytes as the roofline.
// Prints a message and exits 0 on machines without a GPU.
#include <benchmark/benchmark.h>
#include <cuda_runtime_api.h>

#include <cstdio>
#include <string>
#include <vector>

#include "cuda/cuda_backend.h"

namespace squeeze {
namespace {

// Rotate over copies of W totalling at least this many bytes so each launch reads W from
// device memory, not from L2 (50 MB on H100/H200; one 4096x4096 F32 matrix is 64 MiB).
constexpr size_t kRotateBytes = size_t{256} << 20;

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
  state.counters["GB/s"] = total_s > 0 ? bytes * double(state.iterations()) / total_s / 1e9 : 0;
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
