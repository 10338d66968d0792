// The packed-format CUDA gemv kernels (cuda_gemv) against the CPU reference kernels
// (GetMatmulKernelsRef), format by format, on random inputs: a named error budget per format,
// NaN checks and poisoned outputs between guards, odd shapes (rows and cols that are not
// multiples of the warp, the group or the vector width), misaligned bases and padded row
// strides. Device tests skip with "no CUDA device: <reason>" without a GPU; the argument checks
// run everywhere.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <ostream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cuda/cuda_backend.h"
#include "cuda/cuda_gemv.h"
#include "cuda/cuda_test_util.h"
#include "gtest/gtest.h"
#include "squeeze/kernels/format.h"
#include "squeeze/kernels/matmul.h"

namespace squeeze {
namespace {

using namespace cuda_test;  // NOLINT: test helpers

// Budget: |y - ref| <= rel * sum_c |W[r][c] * x[c]| for every row (W dequantized). The device
// accumulates in f32 where the reference uses double: each lane sums about cols/32 products in
// sequence (~(cols/32 + 5) * 2^-24 relative, 8e-6 at cols = 4100), and the packed formats add
// a few roundings per 32-weight unit (the scale products d * dx, the fp8 row scale applied
// once at the end instead of per weight). w8a8 sums exact integers: only the final
// (sw * sx) * dot rounds (3 roundings of |y|, 2e-7 relative).
struct FormatBudget {
  WeightFormat format;
  double rel;
};

constexpr double kFloatAccum = 2e-5;  // f32 accumulation over <= 4100 columns, see above
constexpr double kExactInt = 1e-6;    // w8a8: exact integer dot, final rounding only

const FormatBudget kBudgets[] = {
    {WeightFormat::kF32, kFloatAccum},        {WeightFormat::kTf32, kFloatAccum},
    {WeightFormat::kF16, kFloatAccum},        {WeightFormat::kBF16, kFloatAccum},
    {WeightFormat::kFp8E4M3, kFloatAccum},    {WeightFormat::kFp8E5M2, kFloatAccum},
    {WeightFormat::kNf4, kFloatAccum},        {WeightFormat::kFp4, kFloatAccum},
    {WeightFormat::kQ8Channel, kFloatAccum},  {WeightFormat::kQ8G32, kFloatAccum},
    {WeightFormat::kQ8G64, kFloatAccum},      {WeightFormat::kQ8G128, kFloatAccum},
    {WeightFormat::kQ8G32Asym, kFloatAccum},  {WeightFormat::kQ8G64Asym, kFloatAccum},
    {WeightFormat::kQ8G128Asym, kFloatAccum}, {WeightFormat::kQ4G32, kFloatAccum},
    {WeightFormat::kQ4G64, kFloatAccum},      {WeightFormat::kQ4G128, kFloatAccum},
    {WeightFormat::kQ4G32Asym, kFloatAccum},  {WeightFormat::kQ4G64Asym, kFloatAccum},
    {WeightFormat::kQ4G128Asym, kFloatAccum}, {WeightFormat::kW8A8, kExactInt},
};

struct Shape {
  int64_t rows, cols;
  int64_t w_offset;  // bytes added to W's base (a multiple of 4: every format's alignment)
  int64_t row_pad;   // bytes added to each row's stride beyond RowBytes (a multiple of 4)
  int64_t x_offset;  // floats added to x's base (misaligned x path)
};

const Shape kShapes[] = {
    {1, 1, 0, 0, 0},    {5, 31, 0, 0, 0},   {7, 33, 0, 0, 0},     {67, 100, 0, 0, 0},
    {33, 257, 0, 0, 0}, {3, 1000, 0, 0, 0}, {130, 4100, 0, 0, 0}, {16, 4096, 0, 0, 0},
    {9, 515, 4, 12, 1}, {4, 4100, 4, 0, 0}, {11, 4096, 0, 4, 3},  {1000, 64, 0, 0, 0},
};

using Param = std::tuple<FormatBudget, Shape>;

std::string ParamName(const testing::TestParamInfo<Param>& info) {
  const FormatBudget& f = std::get<0>(info.param);
  const Shape& s = std::get<1>(info.param);
  return absl::StrCat(GetFormatTraits(f.format).name, "_r", s.rows, "_c", s.cols, "_w", s.w_offset,
                      "_p", s.row_pad, "_x", s.x_offset);
}

class CudaGemvPacked : public testing::TestWithParam<Param> {};

TEST_P(CudaGemvPacked, MatchesReference) {
  SQUEEZE_REQUIRE_CUDA();
  const auto& [budget, s] = GetParam();
  const WeightFormat f = budget.format;
  const FormatTraits& t = GetFormatTraits(f);
  ASSERT_TRUE(CudaGemvSupports(f)) << t.name;

  // Random weights, packed row by row by the reference quantizer.
  const int64_t row_bytes = RowBytes(f, s.cols) + s.row_pad;
  const std::vector<float> w = RandomFloats(s.rows * s.cols, 17 + uint32_t(s.cols) * 31 + int(f));
  const std::vector<float> x = RandomFloats(s.cols, 5 + uint32_t(s.rows), -2.0f, 2.0f);
  std::vector<uint8_t> packed(size_t(s.rows * row_bytes), 0xa5);
  for (int64_t r = 0; r < s.rows; ++r) {
    t.from_float_ref(w.data() + r * s.cols, packed.data() + r * row_bytes, s.cols);
  }
  std::vector<float> want(s.rows);
  GetMatmulKernelsRef(f).gemv(packed.data(), row_bytes, x.data(), want.data(), s.rows, s.cols);

  DeviceBuffer w_dev = BytesToDevice(packed, s.w_offset);
  DeviceBuffer x_dev = ToDevice(x, s.x_offset);
  absl::StatusOr<DeviceBuffer> scratch =
      DeviceBuffer::Create(size_t(std::max<int64_t>(CudaGemvScratchBytes(f, s.cols), 16)));
  ASSERT_TRUE(scratch.ok()) << scratch.status();
  GuardedOutput y_dev = MakeGuardedOutput(s.rows);
  const absl::Status st =
      cuda_gemv(f, w_dev.as<uint8_t>() + s.w_offset, row_bytes, x_dev.as<float>() + s.x_offset,
                y_dev.out(), s.rows, s.cols, scratch->data(), nullptr);
  ASSERT_TRUE(st.ok()) << st;
  ASSERT_TRUE(CudaSynchronize(nullptr).ok());
  const std::vector<float> got = ReadGuardedOutput(y_dev, s.rows);

  std::vector<float> row(s.cols);
  double worst = 0;
  for (int64_t r = 0; r < s.rows; ++r) {
    t.to_float(packed.data() + r * row_bytes, row.data(), s.cols);
    double mag = 0;
    for (int64_t c = 0; c < s.cols; ++c) mag += std::fabs(double(row[c]) * x[c]);
    const double err = std::fabs(double(got[r]) - want[r]) / std::max(mag, 1e-30);
    worst = std::max(worst, err);
    ASSERT_LE(err, budget.rel) << t.name << " row " << r << ": got " << got[r] << " want "
                               << want[r] << " (magnitude " << mag << ")";
  }
  RecordProperty("worst_rel_error", std::to_string(worst));
}

INSTANTIATE_TEST_SUITE_P(Formats, CudaGemvPacked,
                         testing::Combine(testing::ValuesIn(kBudgets), testing::ValuesIn(kShapes)),
                         ParamName);

// ---- runs everywhere: the table and the argument checks (no CUDA call is made) ----

TEST(CudaGemvTable, EveryBudgetedFormatHasAKernel) {
  for (const FormatBudget& b : kBudgets) {
    EXPECT_TRUE(CudaGemvSupports(b.format)) << GetFormatTraits(b.format).name;
  }
  // Not built yet (README, "CUDA backend"): q3/q2 and the N:M sparse formats.
  EXPECT_FALSE(CudaGemvSupports(WeightFormat::kQ3G32));
  EXPECT_FALSE(CudaGemvSupports(WeightFormat::kSp24F16));
  EXPECT_FALSE(CudaGemvSupports(static_cast<WeightFormat>(200)));
}

TEST(CudaGemvTable, ScratchOnlyWhereActivationsAreRounded) {
  EXPECT_EQ(CudaGemvScratchBytes(WeightFormat::kF16, 4096), 0);
  EXPECT_EQ(CudaGemvScratchBytes(WeightFormat::kNf4, 4096), 0);
  // int8 codes padded to 128, then a float and an int per 32 values.
  EXPECT_EQ(CudaGemvScratchBytes(WeightFormat::kQ4G32, 100), 128 + 4 * 8);
  EXPECT_EQ(CudaGemvScratchBytes(WeightFormat::kQ8Channel, 4096), 4096 + 128 * 8);
  EXPECT_EQ(CudaGemvScratchBytes(WeightFormat::kW8A8, 100), 128 + 16);
}

TEST(CudaGemvTable, RejectsBadArguments) {
  uint8_t* fake = reinterpret_cast<uint8_t*>(uintptr_t{256});  // never dereferenced
  float* ffake = reinterpret_cast<float*>(fake);
  const int64_t rb = RowBytes(WeightFormat::kQ4G32, 64);
  EXPECT_EQ(cuda_gemv(WeightFormat::kQ3G32, fake, 64, ffake, ffake, 4, 64, fake, nullptr).code(),
            absl::StatusCode::kUnimplemented);
  EXPECT_EQ(
      cuda_gemv(WeightFormat::kQ4G32, fake, rb - 1, ffake, ffake, 4, 64, fake, nullptr).code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cuda_gemv(WeightFormat::kQ4G32, fake, rb, ffake, ffake, 4, 64, nullptr, nullptr).code(),
            absl::StatusCode::kInvalidArgument);  // needs scratch
  EXPECT_EQ(cuda_gemv(WeightFormat::kQ4G32, fake, rb, ffake, ffake, -1, 64, fake, nullptr).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      cuda_gemv(WeightFormat::kF16, fake + 1, 128, ffake, ffake, 4, 64, nullptr, nullptr).code(),
      absl::StatusCode::kInvalidArgument);  // f16 rows need 2-byte alignment
  EXPECT_EQ(
      cuda_gemv(WeightFormat::kF16, fake, 128, nullptr, ffake, 4, 64, nullptr, nullptr).code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(
      cuda_gemv(WeightFormat::kF16, nullptr, 128, nullptr, nullptr, 0, 64, nullptr, nullptr).ok());
}

}  // namespace
}  // namespace squeeze
