// CUDA device discovery and device memory (host code only: compiled by the C++ compiler and
// linked against the shared CUDA runtime). Safe to call without a GPU or a driver.
#include <cuda_runtime_api.h>

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cuda/cuda_backend.h"
#include "cuda/cuda_status.h"

namespace squeeze {

using cuda_internal::StatusFromCuda;

bool CudaAvailable(std::string* why) {
  // Without a driver cudaGetDeviceCount returns cudaErrorInsufficientDriver and leaves the
  // count unwritten: start from 0.
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();  // clear the error so later calls report their own
    if (why != nullptr) *why = std::string(StatusFromCuda(err, "cudaGetDeviceCount").message());
    return false;
  }
  if (count <= 0) {
    if (why != nullptr) *why = "cudaGetDeviceCount reports 0 devices";
    return false;
  }
  return true;
}

std::string CudaDeviceName() {
  std::string why;
  if (!CudaAvailable(&why)) return "no CUDA device: " + why;
  int dev = 0;
  cudaDeviceProp prop{};
  if (cudaError_t err = cudaGetDevice(&dev); err != cudaSuccess) {
    return std::string(StatusFromCuda(err, "cudaGetDevice").message());
  }
  if (cudaError_t err = cudaGetDeviceProperties(&prop, dev); err != cudaSuccess) {
    return std::string(StatusFromCuda(err, "cudaGetDeviceProperties").message());
  }
  int driver = 0, runtime = 0;
  (void)cudaDriverGetVersion(&driver);
  (void)cudaRuntimeGetVersion(&runtime);
  return absl::StrFormat("%s (sm_%d%d, %d SMs, %.1f GiB, driver %d.%d, runtime %d.%d)", prop.name,
                         prop.major, prop.minor, prop.multiProcessorCount,
                         double(prop.totalGlobalMem) / double(1ull << 30), driver / 1000,
                         (driver % 1000) / 10, runtime / 1000, (runtime % 1000) / 10);
}

absl::Status CudaSynchronize(void* stream) {
  return StatusFromCuda(cudaStreamSynchronize(static_cast<cudaStream_t>(stream)),
                        "cudaStreamSynchronize");
}

absl::StatusOr<DeviceBuffer> DeviceBuffer::Create(size_t bytes) {
  if (bytes == 0) return DeviceBuffer();
  void* ptr = nullptr;
  const cudaError_t err = cudaMalloc(&ptr, bytes);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    return StatusFromCuda(err, absl::StrCat("cudaMalloc(", bytes, " bytes)"));
  }
  return DeviceBuffer(ptr, bytes);
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : ptr_(std::exchange(other.ptr_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    if (ptr_ != nullptr) (void)cudaFree(ptr_);
    ptr_ = std::exchange(other.ptr_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

DeviceBuffer::~DeviceBuffer() {
  if (ptr_ != nullptr) (void)cudaFree(ptr_);
}

namespace {

absl::Status CheckRange(size_t offset, size_t bytes, size_t size, const char* op) {
  if (offset > size || bytes > size - offset) {
    return absl::InvalidArgumentError(absl::StrCat("DeviceBuffer::", op, ": range [", offset, ", ",
                                                   offset, " + ", bytes, ") runs past the end of ",
                                                   "the buffer (", size, " bytes)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status DeviceBuffer::CopyFromHost(const void* src, size_t bytes, size_t offset) {
  if (absl::Status s = CheckRange(offset, bytes, bytes_, "CopyFromHost"); !s.ok()) return s;
  if (bytes == 0) return absl::OkStatus();
  return StatusFromCuda(
      cudaMemcpy(static_cast<char*>(ptr_) + offset, src, bytes, cudaMemcpyHostToDevice),
      "DeviceBuffer::CopyFromHost: cudaMemcpy");
}

absl::Status DeviceBuffer::CopyToHost(void* dst, size_t bytes, size_t offset) const {
  if (absl::Status s = CheckRange(offset, bytes, bytes_, "CopyToHost"); !s.ok()) return s;
  if (bytes == 0) return absl::OkStatus();
  return StatusFromCuda(
      cudaMemcpy(dst, static_cast<const char*>(ptr_) + offset, bytes, cudaMemcpyDeviceToHost),
      "DeviceBuffer::CopyToHost: cudaMemcpy");
}

}  // namespace squeeze
