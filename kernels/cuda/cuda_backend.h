// CUDA backend: device discovery, device memory and host-callable kernel launchers.
// Plain C++ (no CUDA types): includable from g++ code. Every call reports failure as an
// absl::Status instead of aborting, and all of it works (returning errors) on machines without
// a GPU or a CUDA driver.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace squeeze {

// True when the CUDA runtime sees at least one device. Otherwise returns false and, when `why`
// is not null, stores the reason (e.g. "cudaGetDeviceCount: cudaErrorInsufficientDriver (CUDA
// driver version is insufficient for CUDA runtime version)" on a machine without a driver).
bool CudaAvailable(std::string* why);

// "<name> (sm_XY, N SMs, X GiB, driver A.B, runtime C.D)" for the current device, or
// "no CUDA device: <reason>" when CudaAvailable() is false.
std::string CudaDeviceName();

// Waits for all work queued on `stream` (a cudaStream_t; null = the legacy default stream) and
// returns the first asynchronous error queued work produced (e.g. an illegal address).
absl::Status CudaSynchronize(void* stream);

// Owns one cudaMalloc allocation (never managed memory). Move-only; frees on destruction.
// A zero-byte buffer holds a null pointer and no allocation.
class DeviceBuffer {
 public:
  // Allocates `bytes` of device memory (not initialised). Fails with kResourceExhausted when
  // the device is out of memory and kUnavailable when there is no usable device.
  static absl::StatusOr<DeviceBuffer> Create(size_t bytes);

  DeviceBuffer() = default;
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer();

  void* data() const { return ptr_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  size_t size() const { return bytes_; }

  // Synchronous copies of `bytes` between host memory and [offset, offset + bytes) of this
  // buffer. kInvalidArgument when the range runs past the end of the buffer.
  absl::Status CopyFromHost(const void* src, size_t bytes, size_t offset = 0);
  absl::Status CopyToHost(void* dst, size_t bytes, size_t offset = 0) const;

 private:
  DeviceBuffer(void* ptr, size_t bytes) : ptr_(ptr), bytes_(bytes) {}
  void* ptr_ = nullptr;  // device pointer from cudaMalloc, or null
  size_t bytes_ = 0;
};

// Times work queued on the legacy default stream with a pair of CUDA events: Start() records
// the first, ElapsedMs() records the second, waits for it and returns the milliseconds between
// them as the device measured them. Move-only; creating one fails without a device.
class CudaEventTimer {
 public:
  static absl::StatusOr<CudaEventTimer> Create();
  CudaEventTimer() = default;
  CudaEventTimer(CudaEventTimer&& other) noexcept;
  CudaEventTimer& operator=(CudaEventTimer&& other) noexcept;
  CudaEventTimer(const CudaEventTimer&) = delete;
  CudaEventTimer& operator=(const CudaEventTimer&) = delete;
  ~CudaEventTimer();

  absl::Status Start();
  absl::StatusOr<double> ElapsedMs();

 private:
  void* start_ = nullptr;  // cudaEvent_t
  void* stop_ = nullptr;   // cudaEvent_t
};

// Device memory in use on the current device (total - free, every process), or an error.
absl::StatusOr<int64_t> CudaMemoryUsedBytes();

// Launchers. All pointers are device pointers; `stream` is a cudaStream_t (null = the legacy
// default stream). They queue work and return without waiting: a non-OK status reports bad
// arguments (kInvalidArgument, nothing launched) or a launch failure; errors that happen while
// the kernel runs surface from CudaSynchronize(). Zero rows is a no-op.

// y = W x for row-major F32 W (rows, cols), x (cols), y (rows). Writes exactly `rows` floats.
// Accumulates in float. Rows need no alignment: float4 loads are used on the aligned part of
// each row, with scalar head and tail. Pointers must be 4-byte aligned (any float pointer is);
// x and y must not overlap W.
absl::Status cuda_gemv_f32(const float* w_dev, const float* x_dev, float* y_dev, int64_t rows,
                           int64_t cols, void* stream);

// For each of n_rows rows of n floats: out[i] = x[i] * w[i] / sqrt(mean(x^2) + eps).
// x, out (n_rows, n); w (n). out may alias x exactly. n must be > 0 and eps >= 0.
absl::Status cuda_rmsnorm(float* out_dev, const float* x_dev, const float* w_dev, int64_t n_rows,
                          int64_t n, float eps, void* stream);

}  // namespace squeeze
