// CUDA event timing and device memory use (see cuda_backend.h). Host code only.
#include <cuda_runtime_api.h>

#include <utility>

#include "cuda/cuda_backend.h"
#include "cuda/cuda_status.h"

namespace squeeze {

using cuda_internal::StatusFromCuda;

absl::StatusOr<CudaEventTimer> CudaEventTimer::Create() {
  CudaEventTimer t;
  cudaEvent_t a = nullptr, b = nullptr;
  if (absl::Status s = StatusFromCuda(cudaEventCreate(&a), "cudaEventCreate"); !s.ok()) return s;
  t.start_ = a;
  if (absl::Status s = StatusFromCuda(cudaEventCreate(&b), "cudaEventCreate"); !s.ok()) return s;
  t.stop_ = b;
  return t;
}

CudaEventTimer::CudaEventTimer(CudaEventTimer&& other) noexcept
    : start_(std::exchange(other.start_, nullptr)), stop_(std::exchange(other.stop_, nullptr)) {}

CudaEventTimer& CudaEventTimer::operator=(CudaEventTimer&& other) noexcept {
  if (this != &other) {
    this->~CudaEventTimer();
    start_ = std::exchange(other.start_, nullptr);
    stop_ = std::exchange(other.stop_, nullptr);
  }
  return *this;
}

CudaEventTimer::~CudaEventTimer() {
  if (start_ != nullptr) (void)cudaEventDestroy(static_cast<cudaEvent_t>(start_));
  if (stop_ != nullptr) (void)cudaEventDestroy(static_cast<cudaEvent_t>(stop_));
  start_ = stop_ = nullptr;
}

absl::Status CudaEventTimer::Start() {
  if (start_ == nullptr) return absl::FailedPreconditionError("CudaEventTimer: not created");
  return StatusFromCuda(cudaEventRecord(static_cast<cudaEvent_t>(start_), nullptr),
                        "cudaEventRecord");
}

absl::StatusOr<double> CudaEventTimer::ElapsedMs() {
  if (stop_ == nullptr) return absl::FailedPreconditionError("CudaEventTimer: not created");
  cudaEvent_t stop = static_cast<cudaEvent_t>(stop_);
  if (absl::Status s = StatusFromCuda(cudaEventRecord(stop, nullptr), "cudaEventRecord"); !s.ok()) {
    return s;
  }
  if (absl::Status s = StatusFromCuda(cudaEventSynchronize(stop), "cudaEventSynchronize");
      !s.ok()) {
    return s;
  }
  float ms = 0;
  if (absl::Status s =
          StatusFromCuda(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start_), stop),
                         "cudaEventElapsedTime");
      !s.ok()) {
    return s;
  }
  return double(ms);
}

absl::StatusOr<int64_t> CudaMemoryUsedBytes() {
  size_t free_b = 0, total_b = 0;
  if (absl::Status s = StatusFromCuda(cudaMemGetInfo(&free_b, &total_b), "cudaMemGetInfo");
      !s.ok()) {
    return s;
  }
  return int64_t(total_b - free_b);
}

}  // namespace squeeze
