// Tests of the CUDA backend against the CPU reference kernels (the oracle). Every test that
// needs a device skips with "no CUDA device: <reason>" on machines without a GPU or driver.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cuda/cuda_backend.h"
#include "cuda/cuda_test_util.h"
#include "gtest/gtest.h"
#include "squeeze/kernels/format.h"
#include "squeeze/kernels/matmul.h"
#include "squeeze/kernels/ops.h"

namespace squeeze {
namespace {

using namespace cuda_test;  // NOLINT: test helpers

// Error budgets (float accumulation on the device vs the double-accumulated reference).
// gemv: |y - ref| <= budget * sum_c |W[r][c] x[c]|. Each lane sums about cols/32 products in
// sequence, then 5 shuffle levels: worst case ~(cols/32 + 5) * 2^-24, 8e-6 for cols = 4097.
constexpr double kGemvF32RelBudget = 2e-5;
// rmsnorm: |out - ref| <= budget * |ref|. The sum of squares has only positive terms (relative
// error ~(n/256 + 8) * 2^-24), plus the square root, division and two products.
constexpr double kRmsNormRelBudget = 1e-5;

// ---- gemv ----

struct GemvCase {
  int64_t rows, cols;
  int64_t w_offset, x_offset;  // floats added to the W and x base pointers (alignment paths)
};

void PrintTo(const GemvCase& c, std::ostream* os) {
  *os << "rows=" << c.rows << " cols=" << c.cols << " w_offset=" << c.w_offset
      << " x_offset=" << c.x_offset;
}

std::string GemvName(const testing::TestParamInfo<GemvCase>& info) {
  const GemvCase& c = info.param;
  return absl::StrCat("r", c.rows, "_c", c.cols, "_w", c.w_offset, "_x", c.x_offset);
}

std::vector<GemvCase> GemvCases() {
  std::vector<GemvCase> cases;
  for (int64_t rows : {1, 5, 1000}) {
    for (int64_t cols : {1, 3, 172, 4097}) cases.push_back({rows, cols, 0, 0});
  }
  // cols % 4 == 0: every row aligned, the x-aligned float4 path throughout.
  cases.push_back({33, 4096, 0, 0});
  cases.push_back({7, 8, 0, 0});
  // Misaligned bases: scalar heads on every row, and W aligned while x is not.
  cases.push_back({9, 4096, 1, 0});
  cases.push_back({9, 4096, 0, 3});
  cases.push_back({17, 1031, 2, 1});
  cases.push_back({3, 2, 3, 3});
  return cases;
}

class CudaGemvF32 : public testing::TestWithParam<GemvCase> {};

TEST_P(CudaGemvF32, MatchesReference) {
  SQUEEZE_REQUIRE_CUDA();
  const GemvCase& c = GetParam();
  const std::vector<float> w = RandomFloats(c.rows * c.cols, 1234 + uint32_t(c.cols));
  const std::vector<float> x = RandomFloats(c.cols, 99 + uint32_t(c.rows));
  std::vector<float> want(c.rows);
  GetMatmulKernelsRef(WeightFormat::kF32)
      .gemv(w.data(), RowBytes(WeightFormat::kF32, c.cols), x.data(), want.data(), c.rows, c.cols);

  DeviceBuffer w_dev = ToDevice(w, c.w_offset);
  DeviceBuffer x_dev = ToDevice(x, c.x_offset);
  GuardedOutput y_dev = MakeGuardedOutput(c.rows);
  ASSERT_TRUE(cuda_gemv_f32(w_dev.as<float>() + c.w_offset, x_dev.as<float>() + c.x_offset,
                            y_dev.out(), c.rows, c.cols, nullptr)
                  .ok());
  ASSERT_TRUE(CudaSynchronize(nullptr).ok());
  const std::vector<float> got = ReadGuardedOutput(y_dev, c.rows);

  double worst = 0;
  for (int64_t r = 0; r < c.rows; ++r) {
    double mag = 0;
    for (int64_t k = 0; k < c.cols; ++k) mag += std::fabs(double(w[r * c.cols + k]) * x[k]);
    const double err = std::fabs(double(got[r]) - want[r]) / std::max(mag, 1e-30);
    worst = std::max(worst, err);
    ASSERT_LE(err, kGemvF32RelBudget) << "row " << r << ": got " << got[r] << " want " << want[r];
  }
  RecordProperty("worst_rel_error", std::to_string(worst));
}

INSTANTIATE_TEST_SUITE_P(Shapes, CudaGemvF32, testing::ValuesIn(GemvCases()), GemvName);

// ---- rmsnorm ----

struct RmsNormCase {
  int64_t n_rows, n;
  float eps;
};

void PrintTo(const RmsNormCase& c, std::ostream* os) {
  *os << "n_rows=" << c.n_rows << " n=" << c.n << " eps=" << c.eps;
}

std::string RmsNormName(const testing::TestParamInfo<RmsNormCase>& info) {
  return absl::StrCat("rows", info.param.n_rows, "_n", info.param.n,
                      info.param.eps == 0.0f ? "_eps0" : "");
}

std::vector<RmsNormCase> RmsNormCases() {
  std::vector<RmsNormCase> cases;
  for (int64_t rows : {1, 5, 1000}) {
    for (int64_t n : {1, 3, 172, 4097}) cases.push_back({rows, n, 1e-5f});
  }
  cases.push_back({4, 256, 0.0f});
  return cases;
}

// Reference output, row by row.
std::vector<float> RmsNormRef(const std::vector<float>& x, const std::vector<float>& w,
                              const RmsNormCase& c) {
  std::vector<float> want(x.size());
  for (int64_t r = 0; r < c.n_rows; ++r) {
    rmsnorm_ref(want.data() + r * c.n, x.data() + r * c.n, w.data(), c.n, c.eps);
  }
  return want;
}

void ExpectRmsNormClose(const std::vector<float>& got, const std::vector<float>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::fabs(double(got[i]) - want[i]);
    ASSERT_LE(err, kRmsNormRelBudget * std::fabs(want[i]) + 1e-30)
        << "element " << i << ": got " << got[i] << " want " << want[i];
  }
}

class CudaRmsNorm : public testing::TestWithParam<RmsNormCase> {};

TEST_P(CudaRmsNorm, MatchesReference) {
  SQUEEZE_REQUIRE_CUDA();
  const RmsNormCase& c = GetParam();
  const std::vector<float> x = RandomFloats(c.n_rows * c.n, 7 + uint32_t(c.n), -3.0f, 3.0f);
  const std::vector<float> w = RandomFloats(c.n, 11, 0.5f, 1.5f);
  const std::vector<float> want = RmsNormRef(x, w, c);

  DeviceBuffer x_dev = ToDevice(x, 0), w_dev = ToDevice(w, 0);
  GuardedOutput out_dev = MakeGuardedOutput(c.n_rows * c.n);
  ASSERT_TRUE(cuda_rmsnorm(out_dev.out(), x_dev.as<float>(), w_dev.as<float>(), c.n_rows, c.n,
                           c.eps, nullptr)
                  .ok());
  ASSERT_TRUE(CudaSynchronize(nullptr).ok());
  ExpectRmsNormClose(ReadGuardedOutput(out_dev, c.n_rows * c.n), want);
}

TEST_P(CudaRmsNorm, InPlace) {
  SQUEEZE_REQUIRE_CUDA();
  const RmsNormCase& c = GetParam();
  const std::vector<float> x = RandomFloats(c.n_rows * c.n, 21 + uint32_t(c.n), -3.0f, 3.0f);
  const std::vector<float> w = RandomFloats(c.n, 5, 0.5f, 1.5f);
  const std::vector<float> want = RmsNormRef(x, w, c);

  DeviceBuffer x_dev = ToDevice(x, 0), w_dev = ToDevice(w, 0);
  ASSERT_TRUE(cuda_rmsnorm(x_dev.as<float>(), x_dev.as<float>(), w_dev.as<float>(), c.n_rows, c.n,
                           c.eps, nullptr)
                  .ok());
  ASSERT_TRUE(CudaSynchronize(nullptr).ok());
  std::vector<float> got(x.size());
  ASSERT_TRUE(x_dev.CopyToHost(got.data(), got.size() * sizeof(float)).ok());
  ExpectRmsNormClose(got, want);
}

INSTANTIATE_TEST_SUITE_P(Shapes, CudaRmsNorm, testing::ValuesIn(RmsNormCases()), RmsNormName);

// ---- device layer and argument checks ----

// Runs everywhere: without a device every call must fail with a status, never crash.
TEST(CudaDevice, AvailabilityAgreesWithAllocation) {
  std::string why;
  const bool available = CudaAvailable(&why);
  absl::StatusOr<DeviceBuffer> buf = DeviceBuffer::Create(4096);
  if (available) {
    ASSERT_TRUE(buf.ok()) << buf.status();
    EXPECT_NE(buf->data(), nullptr);
    EXPECT_EQ(buf->size(), 4096u);
    EXPECT_EQ(CudaDeviceName().rfind("no CUDA device", 0), std::string::npos);
  } else {
    EXPECT_FALSE(why.empty());
    EXPECT_FALSE(buf.ok());
    EXPECT_FALSE(buf.status().message().empty());
    EXPECT_EQ(CudaDeviceName(), "no CUDA device: " + why);
  }
}

// Argument checks happen before any CUDA call, so they run without a device too.
TEST(CudaDevice, LaunchersRejectBadArguments) {
  float* fake = reinterpret_cast<float*>(uintptr_t{256});  // never dereferenced
  EXPECT_EQ(cuda_gemv_f32(fake, fake, fake, -1, 4, nullptr).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cuda_gemv_f32(fake, fake, fake, 4, -1, nullptr).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cuda_gemv_f32(nullptr, fake, fake, 4, 4, nullptr).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(cuda_gemv_f32(nullptr, nullptr, nullptr, 0, 4, nullptr).ok());  // nothing to do
  const float* odd = reinterpret_cast<const float*>(uintptr_t{258});
  EXPECT_EQ(cuda_gemv_f32(odd, fake, fake, 4, 4, nullptr).code(),
            absl::StatusCode::kInvalidArgument);

  EXPECT_EQ(cuda_rmsnorm(fake, fake, fake, 2, 0, 1e-5f, nullptr).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cuda_rmsnorm(fake, fake, fake, -1, 8, 1e-5f, nullptr).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cuda_rmsnorm(fake, fake, fake, 2, 8, -1.0f, nullptr).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cuda_rmsnorm(fake, fake, fake, 2, 8, std::nanf(""), nullptr).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cuda_rmsnorm(fake, nullptr, fake, 2, 8, 1e-5f, nullptr).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(cuda_rmsnorm(nullptr, nullptr, nullptr, 0, 8, 1e-5f, nullptr).ok());
}

TEST(CudaDevice, CopiesAreBoundsChecked) {
  SQUEEZE_REQUIRE_CUDA();
  absl::StatusOr<DeviceBuffer> buf = DeviceBuffer::Create(64);
  ASSERT_TRUE(buf.ok()) << buf.status();
  std::vector<uint8_t> host(128, 7), back(64, 0);
  EXPECT_EQ(buf->CopyFromHost(host.data(), 65).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(buf->CopyFromHost(host.data(), 8, 60).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(buf->CopyToHost(back.data(), 1, 64).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(buf->CopyFromHost(host.data(), 64).ok());
  ASSERT_TRUE(buf->CopyToHost(back.data(), 64).ok());
  EXPECT_EQ(back, std::vector<uint8_t>(64, 7));

  DeviceBuffer moved = std::move(*buf);
  EXPECT_EQ(buf->data(), nullptr);
  EXPECT_EQ(moved.size(), 64u);
}

}  // namespace
}  // namespace squeeze
