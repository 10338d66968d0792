// Which engine backend this worker may register with: "cpu" always; "cuda" only in a build with
// the CUDA backend (SQUEEZE_CUDA) on a machine where the CUDA runtime sees a device. A worker
// that cannot serve its backend refuses to start instead of registering and failing every job.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace squeeze {

// The device description a worker of `backend` registers with (the CPU model, or the GPU's
// name, compute capability, memory and driver). kInvalidArgument for an unknown backend;
// kFailedPrecondition, with the reason, for "cuda" in a build without CUDA or on a machine
// without a usable GPU (e.g. "--backend cuda: no CUDA device: cudaGetDeviceCount:
// cudaErrorInsufficientDriver (...)").
absl::StatusOr<std::string> CheckBackend(const std::string& backend);

}  // namespace squeeze
