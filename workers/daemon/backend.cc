// Backend checks of the worker (see backend.h). The CUDA parts compile only in builds with
// the CUDA backend (SQUEEZE_HAVE_CUDA), so CPU-only builds are unaffected.
#include "daemon/backend.h"

#include "absl/strings/str_cat.h"
#include "measure/environment.h"

#ifdef SQUEEZE_HAVE_CUDA
#include "cuda/cuda_backend.h"
#endif

namespace squeeze {

absl::StatusOr<std::string> CheckBackend(const std::string& backend) {
  if (backend == "cpu") return CaptureEnvironment("", 0).cpu;
  if (backend != "cuda") {
    return absl::InvalidArgumentError(
        absl::StrCat("--backend ", backend, ": unknown backend (cpu or cuda)"));
  }
#ifdef SQUEEZE_HAVE_CUDA
  std::string why;
  if (!CudaAvailable(&why)) {
    return absl::FailedPreconditionError(absl::StrCat("--backend cuda: no CUDA device: ", why));
  }
  return CudaDeviceName();
#else
  return absl::FailedPreconditionError(
      "--backend cuda: this build has no CUDA backend (configured with -DSQUEEZE_CUDA=OFF, or "
      "nvcc was not found); rebuild where nvcc exists");
#endif
}

}  // namespace squeeze
