// The worker's backend checks: cpu always starts; cuda refuses to start, naming the reason, in
// a build without CUDA or on a machine without a usable GPU (this runs on every machine).
#include "daemon/backend.h"

#include "daemon/worker.h"
#include "gtest/gtest.h"

#ifdef SQUEEZE_HAVE_CUDA
#include "cuda/cuda_backend.h"
#endif

namespace squeeze {
namespace {

bool GpuPresent() {
#ifdef SQUEEZE_HAVE_CUDA
  return CudaAvailable(nullptr);
#else
  return false;
#endif
}

TEST(WorkerBackend, CpuAlwaysStarts) {
  absl::StatusOr<std::string> device = CheckBackend("cpu");
  ASSERT_TRUE(device.ok()) << device.status();
  EXPECT_FALSE(device->empty());
}

TEST(WorkerBackend, UnknownBackendIsRejected) {
  absl::StatusOr<std::string> device = CheckBackend("tpu");
  EXPECT_EQ(device.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(device.status().message().find("tpu"), std::string::npos);
}

TEST(WorkerBackend, CudaRefusesWithoutAGpu) {
  if (GpuPresent()) GTEST_SKIP() << "a GPU is present: this checks the refusal without one";
  absl::StatusOr<std::string> device = CheckBackend("cuda");
  ASSERT_EQ(device.status().code(), absl::StatusCode::kFailedPrecondition) << device.status();
#ifdef SQUEEZE_HAVE_CUDA
  EXPECT_NE(device.status().message().find("no CUDA device: "), std::string::npos)
      << device.status();
#else
  EXPECT_NE(device.status().message().find("no CUDA backend"), std::string::npos)
      << device.status();
#endif

  // The worker itself refuses before connecting anywhere.
  WorkerOptions o;
  o.backend = "cuda";
  o.data_root = "/nonexistent";
  absl::StatusOr<std::unique_ptr<Worker>> w = Worker::Create(o);
  EXPECT_EQ(w.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(w.status().message(), device.status().message());
}

}  // namespace
}  // namespace squeeze
