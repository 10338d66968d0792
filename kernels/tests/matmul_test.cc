// One harness comparing every optimized matrix kernel (format x ISA level) with the reference:
// random shapes, a named error budget per format, NaN/Inf checks, sentinels around outputs and
// guard pages after the inputs to catch out-of-bounds reads and writes.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "cpu/cpu_kernels.h"
#include "gtest/gtest.h"
#include "squeeze/kernels/format.h"
#include "squeeze/kernels/matmul.h"

namespace squeeze {
namespace {

// Normalized MSE budget, sum((y - y_ref)^2) / sum(y_ref^2), per format. Widening F16/BF16 to
// f32 is exact, so every format only pays for f32 accumulation in a different order than the
// reference's double sum: about 1e-14 for these sizes. 1e-10 leaves margin and still fails a
// kernel that drops or misplaces a single term (or, for f32/f16, rounds x to bf16: ~1e-6; bf16
// itself multiplies by x rounded to bf16 in the reference and every kernel, see matmul.h).
// The integer kernels dequantize to the very floats the reference's to_float gives (d * q is
// exact in f32 and fma(q, d, m) rounds once, like d * q + m; MatmulIntTest.OneHotInputs checks
// that bit for bit), so they too only pay for summation order. Their shape list has many 1-row
// cases, whose single output can cancel: the largest seen was 1.3e-10 (q8_g32_asym 1x64; f32
// reaches 3e-11 in the same way), hence 1e-8. A wrong nibble, scale or block costs ~1e-3.
// The 3- and 2-bit formats use the same path with coarser codes, hence the same budget.
// W8A8: the integer dot products are exact in every kernel, only the final scaling rounds
// differently (a few ulps, nmse ~1e-14), while one input code off by one costs ~1e-6.
// TF32: products of two 11-bit significands are exact in f32, so only the summation order
// differs from the reference, as for f32 (with the 1-row shapes of the integer formats).
// N:M sparse: the kept values (f32, or f16 widened exactly) times their inputs, summed in f32:
// summation order only, with the same 1-row shapes; one input gathered from the wrong column
// costs ~1e-2.
// nf4/fp4 have a bound per output instead (FixedPointBounds below); their entries are unused.
struct FormatBudget {
  WeightFormat format;
  double nmse;
};
constexpr FormatBudget kBudgets[] = {
    {WeightFormat::kF32, 1e-10},      {WeightFormat::kF16, 1e-10},
    {WeightFormat::kBF16, 1e-10},     {WeightFormat::kQ8Channel, 1e-8},
    {WeightFormat::kQ8G32, 1e-8},     {WeightFormat::kQ8G64, 1e-8},
    {WeightFormat::kQ8G128, 1e-8},    {WeightFormat::kQ8G32Asym, 1e-8},
    {WeightFormat::kQ8G64Asym, 1e-8}, {WeightFormat::kQ8G128Asym, 1e-8},
    {WeightFormat::kQ4G32, 1e-8},     {WeightFormat::kQ4G64, 1e-8},
    {WeightFormat::kQ4G128, 1e-8},    {WeightFormat::kQ4G32Asym, 1e-8},
    {WeightFormat::kQ4G64Asym, 1e-8}, {WeightFormat::kQ4G128Asym, 1e-8},
    {WeightFormat::kNf4, 0},          {WeightFormat::kFp4, 0},
    {WeightFormat::kFp8E4M3, 1e-8},   {WeightFormat::kFp8E5M2, 1e-8},
    {WeightFormat::kQ3G32, 1e-8},     {WeightFormat::kQ3G64, 1e-8},
    {WeightFormat::kQ3G128, 1e-8},    {WeightFormat::kQ3G32Asym, 1e-8},
    {WeightFormat::kQ3G64Asym, 1e-8}, {WeightFormat::kQ3G128Asym, 1e-8},
    {WeightFormat::kQ2G32, 1e-8},     {WeightFormat::kQ2G64, 1e-8},
    {WeightFormat::kQ2G128, 1e-8},    {WeightFormat::kQ2G32Asym, 1e-8},
    {WeightFormat::kQ2G64Asym, 1e-8}, {WeightFormat::kQ2G128Asym, 1e-8},
    {WeightFormat::kW8A8, 1e-12},     {WeightFormat::kTf32, 1e-8},
    {WeightFormat::kSp24F32, 1e-8},   {WeightFormat::kSp24F16, 1e-8},
    {WeightFormat::kSp48F32, 1e-8},   {WeightFormat::kSp48F16, 1e-8},
};
static_assert(sizeof(kBudgets) / sizeof(kBudgets[0]) == kWeightFormatCount);

double Budget(WeightFormat f) {
  for (const FormatBudget& b : kBudgets)
    if (b.format == f) return b.nmse;
  return 0;
}

// A read-only-after-fill buffer whose last byte sits just before an inaccessible page, so a
// kernel reading past the end faults instead of silently reading garbage.
class GuardedBuffer {
 public:
  explicit GuardedBuffer(size_t bytes) : bytes_(bytes) {
    const size_t page = size_t(sysconf(_SC_PAGESIZE));
    data_pages_ = (bytes + page - 1) / page * page;
    map_bytes_ = data_pages_ + page;
    void* m = mmap(nullptr, map_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return;
    base_ = static_cast<uint8_t*>(m);
    mprotect(base_ + data_pages_, page, PROT_NONE);
  }
  ~GuardedBuffer() {
    if (base_) munmap(base_, map_bytes_);
  }
  GuardedBuffer(const GuardedBuffer&) = delete;
  GuardedBuffer& operator=(const GuardedBuffer&) = delete;

  bool ok() const { return base_ != nullptr; }
  // Start of the `bytes` usable bytes, which end right at the guard page.
  uint8_t* data() { return base_ + data_pages_ - bytes_; }

 private:
  size_t bytes_ = 0, data_pages_ = 0, map_bytes_ = 0;
  uint8_t* base_ = nullptr;
};

// Sentinel written around and between outputs; a kernel never produces this bit pattern from
// finite inputs (it is a NaN with a payload).
constexpr uint32_t kSentinelBits = 0x7fbadbadu;
float Sentinel() {
  float f;
  std::memcpy(&f, &kSentinelBits, 4);
  return f;
}
bool IsSentinel(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u == kSentinelBits;
}

// Normalized MSE of `got` against `want`; also counts non-finite values in `got`.
double Nmse(const std::vector<float>& got, const std::vector<float>& want, int64_t* non_finite) {
  double err = 0, ref = 0;
  *non_finite = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    if (!std::isfinite(got[i])) ++*non_finite;
    const double d = double(got[i]) - double(want[i]);
    err += d * d;
    ref += double(want[i]) * double(want[i]);
  }
  return err / (ref + 1e-30);
}

// The nf4/fp4 kernels work in fixed point (cpu/matmul_table4_avx2.cc, _avx512.cc): table
// values within 2^-14 of the block's scale d, inputs within 2^-15 of their block's absmax
// (blocks of 64 columns). Their budget is a bound per output rather than an NMSE, since one output
// can cancel to near 0: |y - y_ref| <= 2^-13 * sum over blocks b of n_b * d_b * amax_b(x), with n_b
// the block's columns and d_b its largest |weight| (the block's absmax gets code +-1 exactly). That
// covers both roundings and the f32 sums with room; the reference's exact sums meet it too. A
// misplaced code costs ~0.1 * d_b * |x_c| (OneHotInputs).
bool FixedPointTable(WeightFormat f) {
  return f == WeightFormat::kNf4 || f == WeightFormat::kFp4;
}

// Bounds for rows x n tokens (x: n rows of `cols`), in token-major order; empty for the other
// formats.
std::vector<double> FixedPointBounds(WeightFormat f, const uint8_t* w, int64_t row_bytes,
                                     int64_t rows, int64_t cols, const float* x, int64_t n) {
  if (!FixedPointTable(f)) return {};
  std::vector<double> bounds(size_t(n * rows), 0.0);
  std::vector<float> deq(cols);
  for (int64_t r = 0; r < rows; ++r) {
    GetFormatTraits(f).to_float(w + r * row_bytes, deq.data(), cols);
    for (int64_t b = 0; b < cols; b += 64) {
      const int64_t e = std::min(cols, b + 64);
      double d = 0;
      for (int64_t c = b; c < e; ++c) d = std::max(d, double(std::fabs(deq[c])));
      for (int64_t j = 0; j < n; ++j) {
        double amax = 0;
        for (int64_t c = b; c < e; ++c) amax = std::max(amax, double(std::fabs(x[j * cols + c])));
        bounds[j * rows + r] += std::ldexp(double(e - b) * d * amax, -13);
      }
    }
  }
  return bounds;
}

// `got` against `want` within the format's budget: the NMSE, or for nf4/fp4 the bound of each
// output (`bounds`, from FixedPointBounds); and no NaN/Inf.
void ExpectWithinBudget(WeightFormat f, const std::vector<float>& got,
                        const std::vector<float>& want, const std::vector<double>& bounds,
                        const std::string& what) {
  int64_t non_finite = 0;
  const double nmse = Nmse(got, want, &non_finite);
  if (FixedPointTable(f)) {
    ASSERT_EQ(bounds.size(), want.size()) << what;
    for (size_t i = 0; i < want.size(); ++i)
      EXPECT_LE(std::fabs(double(got[i]) - double(want[i])), bounds[i]) << what << " output " << i;
  } else {
    EXPECT_LE(nmse, Budget(f)) << what;
  }
  EXPECT_EQ(non_finite, 0) << what << " produced NaN/Inf";
}

using Params = std::tuple<WeightFormat, Isa, int64_t /*rows*/, int64_t /*cols*/>;

class MatmulTest : public ::testing::TestWithParam<Params> {};

TEST_P(MatmulTest, MatchesReference) {
  const auto [format, isa, rows, cols] = GetParam();
  if (!IsaSupported(isa)) GTEST_SKIP() << IsaName(isa) << " is not supported by this CPU";
  const MatmulKernels& kernels = GetMatmulKernels(format, isa);
  const MatmulKernels& ref = GetMatmulKernelsRef(format);
  const FormatTraits& traits = GetFormatTraits(format);

  std::mt19937 rng(uint32_t(rows * 7919 + cols * 31 + int(format) * 3 + int(isa)));
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);

  // Weights: rows packed back to back, the last row ending at a guard page.
  const int64_t row_bytes = RowBytes(format, cols);
  GuardedBuffer w(size_t(rows * row_bytes));
  ASSERT_TRUE(w.ok());
  std::vector<float> row(cols);
  for (int64_t r = 0; r < rows; ++r) {
    for (float& v : row) v = dist(rng);
    traits.from_float_ref(row.data(), w.data() + r * row_bytes, cols);
  }

  constexpr int64_t kMaxTokens = 9;
  GuardedBuffer x(size_t(kMaxTokens * cols) * sizeof(float));
  ASSERT_TRUE(x.ok());
  float* xf = reinterpret_cast<float*>(x.data());
  for (int64_t i = 0; i < kMaxTokens * cols; ++i) xf[i] = dist(rng);

  // gemv: y has `rows` values with a band of sentinels on both sides.
  constexpr int64_t kPad = 16;
  {
    std::vector<float> want(rows);
    ref.gemv(w.data(), row_bytes, xf, want.data(), rows, cols);
    std::vector<float> y(rows + 2 * kPad, Sentinel());
    kernels.gemv(w.data(), row_bytes, xf, y.data() + kPad, rows, cols);
    for (int64_t i = 0; i < kPad; ++i) {
      EXPECT_TRUE(IsSentinel(y[i])) << "gemv wrote before y at offset " << i - kPad;
      EXPECT_TRUE(IsSentinel(y[kPad + rows + i])) << "gemv wrote past y[" << rows + i << "]";
    }
    std::vector<float> got(y.begin() + kPad, y.begin() + kPad + rows);
    ExpectWithinBudget(format, got, want,
                       FixedPointBounds(format, w.data(), row_bytes, rows, cols, xf, 1), "gemv");
  }

  // gemm for every token count 1..9 into a strided output (ldy > rows): the gaps between
  // tokens must keep their sentinels.
  const int64_t ldy = rows + 3;
  for (int64_t n = 1; n <= kMaxTokens; ++n) {
    SCOPED_TRACE("gemm n=" + std::to_string(n));
    std::vector<float> want_strided(n * ldy, 0.0f);
    ref.gemm(w.data(), row_bytes, xf, n, want_strided.data(), ldy, rows, cols);
    std::vector<float> y(n * ldy + 2 * kPad, Sentinel());
    kernels.gemm(w.data(), row_bytes, xf, n, y.data() + kPad, ldy, rows, cols);
    std::vector<float> got, want;
    for (int64_t i = -kPad; i < n * ldy + kPad; ++i) {
      const float v = y[kPad + i];
      const bool written = i >= 0 && i < n * ldy && i % ldy < rows;
      if (written) {
        got.push_back(v);
        want.push_back(want_strided[i]);
      } else {
        ASSERT_TRUE(IsSentinel(v)) << "gemm wrote outside its outputs at y[" << i << "]";
      }
    }
    ExpectWithinBudget(format, got, want,
                       FixedPointBounds(format, w.data(), row_bytes, rows, cols, xf, n), "gemm");
  }
}

std::string ParamName(const ::testing::TestParamInfo<Params>& info) {
  return std::string(GetFormatTraits(std::get<0>(info.param)).name) + "_" +
         IsaName(std::get<1>(info.param)) + "_" + std::to_string(std::get<2>(info.param)) + "x" +
         std::to_string(std::get<3>(info.param));
}

constexpr int64_t kSizes[] = {1, 3, 16, 17, 64, 172, 257, 1000};

INSTANTIATE_TEST_SUITE_P(AllKernels, MatmulTest,
                         ::testing::Combine(::testing::Values(WeightFormat::kF32,
                                                              WeightFormat::kF16,
                                                              WeightFormat::kBF16),
                                            ::testing::Values(Isa::kAvx2, Isa::kAvx512),
                                            ::testing::ValuesIn(kSizes),
                                            ::testing::ValuesIn(kSizes)),
                         ParamName);

constexpr WeightFormat kIntFormats[] = {
    WeightFormat::kQ8Channel,  WeightFormat::kQ8G32,     WeightFormat::kQ8G64,
    WeightFormat::kQ8G128,     WeightFormat::kQ8G32Asym, WeightFormat::kQ8G64Asym,
    WeightFormat::kQ8G128Asym, WeightFormat::kQ4G32,     WeightFormat::kQ4G64,
    WeightFormat::kQ4G128,     WeightFormat::kQ4G32Asym, WeightFormat::kQ4G64Asym,
    WeightFormat::kQ4G128Asym, WeightFormat::kQ3G32,     WeightFormat::kQ3G64,
    WeightFormat::kQ3G128,     WeightFormat::kQ3G32Asym, WeightFormat::kQ3G64Asym,
    WeightFormat::kQ3G128Asym, WeightFormat::kQ2G32,     WeightFormat::kQ2G64,
    WeightFormat::kQ2G128,     WeightFormat::kQ2G32Asym, WeightFormat::kQ2G64Asym,
    WeightFormat::kQ2G128Asym,
};
// Low-bit float formats: nf4/fp4 look codes up in a 16-entry table and scale by their block's
// d (the very float the reference gives); fp8 looks bytes up and applies the row scale at the
// end, like q8_channel.
constexpr WeightFormat kFloat8Formats[] = {
    WeightFormat::kNf4,
    WeightFormat::kFp4,
    WeightFormat::kFp8E4M3,
    WeightFormat::kFp8E5M2,
};
// Formats whose kernels also transform the inputs (ref/quant_act.h).
constexpr WeightFormat kActFormats[] = {WeightFormat::kW8A8, WeightFormat::kTf32};
// N:M sparse formats (ref/quant_sparse.h).
constexpr WeightFormat kSparseFormats[] = {WeightFormat::kSp24F32, WeightFormat::kSp24F16,
                                           WeightFormat::kSp48F32, WeightFormat::kSp48F16};
static_assert(3 + sizeof(kIntFormats) / sizeof(kIntFormats[0]) +
                  sizeof(kFloat8Formats) / sizeof(kFloat8Formats[0]) +
                  sizeof(kActFormats) / sizeof(kActFormats[0]) +
                  sizeof(kSparseFormats) / sizeof(kSparseFormats[0]) ==
              kWeightFormatCount);

// Integer formats: row lengths around the group sizes (32, 64, 128), the 16/8-lane vector
// widths, 172 (a real hidden size that leaves a partial block) and a long row; row counts that
// leave row tails after 8-row and 6-/4-row tiles.
constexpr int64_t kIntRows[] = {1, 7, 13, 64};
constexpr int64_t kIntCols[] = {1, 3, 16, 17, 31, 32, 33, 48, 64, 100, 127, 128, 129, 172, 1000};

INSTANTIATE_TEST_SUITE_P(IntKernels, MatmulTest,
                         ::testing::Combine(::testing::ValuesIn(kIntFormats),
                                            ::testing::Values(Isa::kAvx2, Isa::kAvx512),
                                            ::testing::ValuesIn(kIntRows),
                                            ::testing::ValuesIn(kIntCols)),
                         ParamName);

INSTANTIATE_TEST_SUITE_P(Float8Kernels, MatmulTest,
                         ::testing::Combine(::testing::ValuesIn(kFloat8Formats),
                                            ::testing::Values(Isa::kAvx2, Isa::kAvx512),
                                            ::testing::ValuesIn(kIntRows),
                                            ::testing::ValuesIn(kIntCols)),
                         ParamName);

INSTANTIATE_TEST_SUITE_P(SparseKernels, MatmulTest,
                         ::testing::Combine(::testing::ValuesIn(kSparseFormats),
                                            ::testing::Values(Isa::kAvx2, Isa::kAvx512),
                                            ::testing::ValuesIn(kIntRows),
                                            ::testing::ValuesIn(kIntCols)),
                         ParamName);

INSTANTIATE_TEST_SUITE_P(ActKernels, MatmulTest,
                         ::testing::Combine(::testing::ValuesIn(kActFormats),
                                            ::testing::Values(Isa::kAvx2, Isa::kAvx512),
                                            ::testing::ValuesIn(kIntRows),
                                            ::testing::ValuesIn(kIntCols)),
                         ParamName);

std::vector<WeightFormat> AllFormats() {
  std::vector<WeightFormat> v;
  for (int i = 0; i < kWeightFormatCount; ++i) v.push_back(static_cast<WeightFormat>(i));
  return v;
}

// Row lengths around the vector widths (8, 16) and long rows with a 1-element tail (4097),
// for gemv and a 5-token gemm; 13 rows cover full row groups plus row tails of both levels.
class MatmulRowLengthTest : public ::testing::TestWithParam<std::tuple<WeightFormat, Isa>> {};

TEST_P(MatmulRowLengthTest, OddRowLengths) {
  const auto [format, isa] = GetParam();
  if (!IsaSupported(isa)) GTEST_SKIP() << IsaName(isa) << " is not supported by this CPU";
  const MatmulKernels& kernels = GetMatmulKernels(format, isa);
  const MatmulKernels& ref = GetMatmulKernelsRef(format);
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (int64_t cols : {1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 2049, 4097}) {
    SCOPED_TRACE("cols=" + std::to_string(cols));
    const int64_t rows = 13, n = 5;
    const int64_t row_bytes = RowBytes(format, cols);
    GuardedBuffer w(size_t(rows * row_bytes));
    GuardedBuffer x(size_t(n * cols) * sizeof(float));
    ASSERT_TRUE(w.ok() && x.ok());
    std::vector<float> row(cols);
    for (int64_t r = 0; r < rows; ++r) {
      for (float& v : row) v = dist(rng);
      GetFormatTraits(format).from_float_ref(row.data(), w.data() + r * row_bytes, cols);
    }
    float* xf = reinterpret_cast<float*>(x.data());
    for (int64_t i = 0; i < n * cols; ++i) xf[i] = dist(rng);

    std::vector<float> want(rows), got(rows);
    ref.gemv(w.data(), row_bytes, xf, want.data(), rows, cols);
    kernels.gemv(w.data(), row_bytes, xf, got.data(), rows, cols);
    ExpectWithinBudget(format, got, want,
                       FixedPointBounds(format, w.data(), row_bytes, rows, cols, xf, 1), "gemv");

    std::vector<float> want_n(n * rows), got_n(n * rows, Sentinel());
    ref.gemm(w.data(), row_bytes, xf, n, want_n.data(), rows, rows, cols);
    kernels.gemm(w.data(), row_bytes, xf, n, got_n.data(), rows, rows, cols);
    ExpectWithinBudget(format, got_n, want_n,
                       FixedPointBounds(format, w.data(), row_bytes, rows, cols, xf, n),
                       "gemm (a NaN may be an unwritten sentinel)");
  }
}

INSTANTIATE_TEST_SUITE_P(AllKernels, MatmulRowLengthTest,
                         ::testing::Combine(::testing::ValuesIn(AllFormats()),
                                            ::testing::Values(Isa::kAvx2, Isa::kAvx512)),
                         [](const auto& info) {
                           return std::string(GetFormatTraits(std::get<0>(info.param)).name) + "_" +
                                  IsaName(std::get<1>(info.param));
                         });

// Integer kernels with one-hot inputs x = e_c: y[r] must be exactly the reference's dequantized
// W[r][c] (one non-zero term, so summation order cannot matter), for every column c of a row
// with a partial last block. Catches a misplaced code, nibble, scale or block bit for bit.
// (Formats that round x, and nf4/fp4 in fixed point, within their rounding.)
class MatmulIntTest : public ::testing::TestWithParam<std::tuple<WeightFormat, Isa>> {};

TEST_P(MatmulIntTest, OneHotInputs) {
  const auto [format, isa] = GetParam();
  if (!IsaSupported(isa)) GTEST_SKIP() << IsaName(isa) << " is not supported by this CPU";
  const MatmulKernels& kernels = GetMatmulKernels(format, isa);
  const FormatTraits& traits = GetFormatTraits(format);
  const int64_t rows = 9, cols = 172;
  const int64_t row_bytes = RowBytes(format, cols);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-2.0f, 1.0f);
  GuardedBuffer w(size_t(rows * row_bytes));
  ASSERT_TRUE(w.ok());
  std::vector<float> deq(rows * cols), row(cols);
  for (int64_t r = 0; r < rows; ++r) {
    for (float& v : row) v = dist(rng);
    traits.from_float_ref(row.data(), w.data() + r * row_bytes, cols);
    traits.to_float(w.data() + r * row_bytes, deq.data() + r * cols, cols);
  }
  std::vector<float> row_max(rows, 0.0f);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      row_max[r] = std::max(row_max[r], std::fabs(deq[r * cols + c]));
  std::vector<float> x(cols, 0.0f), y(rows), y2(2 * rows);
  std::vector<float> x2(2 * cols, 0.0f);
  for (int64_t c = 0; c < cols; ++c) {
    x.assign(cols, 0.0f);
    x[c] = 1.0f;
    kernels.gemv(w.data(), row_bytes, x.data(), y.data(), rows, cols);
    // gemm with two tokens: e_c and 2 * e_c.
    x2.assign(2 * cols, 0.0f);
    x2[c] = 1.0f;
    x2[cols + c] = 2.0f;
    kernels.gemm(w.data(), row_bytes, x2.data(), 2, y2.data(), rows, rows, cols);
    for (int64_t r = 0; r < rows; ++r) {
      if (QuantizesActivations(format)) {
        // x rounds to d * 127 with d = 1 / 127 in f32 (matmul.h); the kernels may round
        // d_w * d_x once more than the reference, so allow a few ulps of the row's scale,
        // far below one code step (absmax / 127 at 8 bits).
        const float want = float(double(deq[r * cols + c]) * double(1.0f / 127.0f) * 127.0);
        const float tol = 4e-6f * row_max[r];
        ASSERT_NEAR(y[r], want, tol) << "gemv row " << r << " col " << c;
        ASSERT_NEAR(y2[r], want, tol) << "gemm row " << r << " col " << c;
        ASSERT_NEAR(y2[rows + r], 2.0f * want, 2 * tol) << "gemm token 1 row " << r << " col " << c;
        continue;
      }
      if (FixedPointTable(format)) {
        // Within the table's rounding (FixedPointBounds), far below the gap between codes.
        float d = 0;
        for (int64_t k = c / 64 * 64; k < std::min(cols, c / 64 * 64 + 64); ++k)
          d = std::max(d, std::fabs(deq[r * cols + k]));
        const float want = deq[r * cols + c], tol = std::ldexp(d, -13);
        ASSERT_NEAR(y[r], want, tol) << "gemv row " << r << " col " << c;
        ASSERT_NEAR(y2[r], want, tol) << "gemm row " << r << " col " << c;
        ASSERT_NEAR(y2[rows + r], 2.0f * want, 2 * tol) << "gemm token 1 row " << r << " col " << c;
        continue;
      }
      ASSERT_EQ(y[r], deq[r * cols + c]) << "gemv row " << r << " col " << c;
      ASSERT_EQ(y2[r], deq[r * cols + c]) << "gemm row " << r << " col " << c;
      ASSERT_EQ(y2[rows + r], 2.0f * deq[r * cols + c]) << "gemm token 1 row " << r << " col " << c;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(IntKernels, MatmulIntTest,
                         ::testing::Combine(::testing::ValuesIn(kIntFormats),
                                            ::testing::Values(Isa::kAvx2, Isa::kAvx512)),
                         [](const auto& info) {
                           return std::string(GetFormatTraits(std::get<0>(info.param)).name) + "_" +
                                  IsaName(std::get<1>(info.param));
                         });

INSTANTIATE_TEST_SUITE_P(SparseKernels, MatmulIntTest,
                         ::testing::Combine(::testing::ValuesIn(kSparseFormats),
                                            ::testing::Values(Isa::kAvx2, Isa::kAvx512)),
                         [](const auto& info) {
                           return std::string(GetFormatTraits(std::get<0>(info.param)).name) + "_" +
                                  IsaName(std::get<1>(info.param));
                         });

INSTANTIATE_TEST_SUITE_P(Float8Kernels, MatmulIntTest,
                         ::testing::Combine(::testing::ValuesIn(kFloat8Formats),
                                            ::testing::Values(Isa::kAvx2, Isa::kAvx512)),
                         [](const auto& info) {
                           return std::string(GetFormatTraits(std::get<0>(info.param)).name) + "_" +
                                  IsaName(std::get<1>(info.param));
                         });

// The reference's activation rounding (matmul.h) on hand-picked inputs: per 32-value block
// d = absmax / 127 and q = nearbyint(x / d) with halves to even, worked out by hand here.
TEST(MatmulRefTest, IntegerFormatsRoundActivationsPerBlock) {
  const int64_t cols = 40;
  std::vector<float> x(cols, 0.0f), xr(cols, 0.0f);
  // Block 0: absmax 127, so d = 1 and q = x rounded half to even.
  x[0] = 127.0f, xr[0] = 127.0f;
  x[1] = 63.5f, xr[1] = 64.0f;
  x[2] = 0.5f, xr[2] = 0.0f;
  x[3] = -1.5f, xr[3] = -2.0f;
  x[4] = 2.4f, xr[4] = 2.0f;
  // Block 1 (8 values): absmax 7.9375 = 127 / 16, so d = 1 / 16.
  x[32] = -7.9375f, xr[32] = -7.9375f;
  x[33] = 0.03125f, xr[33] = 0.0f;      // 0.5 / 16: half, to even
  x[34] = 0.09375f, xr[34] = 0.125f;    // 1.5 / 16
  x[35] = -0.15625f, xr[35] = -0.125f;  // -2.5 / 16
  x[36] = 1.0f, xr[36] = 1.0f;
  // Weights: a q8_channel matrix; the expectation uses its dequantized values.
  const int64_t rows = 3;
  const WeightFormat f = WeightFormat::kQ8Channel;
  const int64_t rb = RowBytes(f, cols);
  std::vector<uint8_t> w(rows * rb);
  std::vector<float> deq(rows * cols), row(cols);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) row[c] = float((c * (r + 3)) % 7) - 3.0f;
    GetFormatTraits(f).from_float_ref(row.data(), w.data() + r * rb, cols);
    GetFormatTraits(f).to_float(w.data() + r * rb, deq.data() + r * cols, cols);
  }
  std::vector<float> y(rows), y_exact(rows);
  GetMatmulKernelsRef(f).gemv(w.data(), rb, x.data(), y.data(), rows, cols);
  for (int64_t r = 0; r < rows; ++r) {
    double want = 0, unrounded = 0;
    for (int64_t c = 0; c < cols; ++c) {
      want += double(deq[r * cols + c]) * xr[c];
      unrounded += double(deq[r * cols + c]) * x[c];
    }
    EXPECT_NEAR(y[r], want, 1e-6 * std::fabs(want)) << "row " << r;
    EXPECT_GT(std::fabs(want - unrounded), 1e-3) << "row " << r << ": example does not round";
  }
  // The float formats use x as given.
  EXPECT_FALSE(QuantizesActivations(WeightFormat::kF32));
  EXPECT_FALSE(QuantizesActivations(WeightFormat::kNf4));
  EXPECT_FALSE(QuantizesActivations(WeightFormat::kFp8E4M3));
  EXPECT_TRUE(QuantizesActivations(WeightFormat::kQ4G32));
  EXPECT_TRUE(QuantizesActivations(WeightFormat::kQ2G128Asym));
}

// Kernels of one table that dispatch does not hand out on this CPU (a faster table replaces
// them) against the reference: gemv and gemm on a few widths.
void ExpectMatchesReference(const MatmulKernels& k, WeightFormat f) {
  const MatmulKernels& ref = GetMatmulKernelsRef(f);
  SCOPED_TRACE(GetFormatTraits(f).name);
  ASSERT_NE(k.gemv, nullptr);
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (int64_t cols : {17, 100, 300}) {
    const int64_t rows = 11, n = 6, rb = RowBytes(f, cols);
    GuardedBuffer w(size_t(rows * rb));
    ASSERT_TRUE(w.ok());
    std::vector<float> row(cols), x(n * cols);
    for (int64_t r = 0; r < rows; ++r) {
      for (float& v : row) v = dist(rng);
      GetFormatTraits(f).from_float_ref(row.data(), w.data() + r * rb, cols);
    }
    for (float& v : x) v = dist(rng);
    std::vector<float> want(n * rows), got(n * rows);
    ref.gemv(w.data(), rb, x.data(), want.data(), rows, cols);
    k.gemv(w.data(), rb, x.data(), got.data(), rows, cols);
    ExpectWithinBudget(f, std::vector<float>(got.begin(), got.begin() + rows),
                       std::vector<float>(want.begin(), want.begin() + rows),
                       FixedPointBounds(f, w.data(), rb, rows, cols, x.data(), 1),
                       "gemv cols " + std::to_string(cols));
    ref.gemm(w.data(), rb, x.data(), n, want.data(), rows, rows, cols);
    k.gemm(w.data(), rb, x.data(), n, got.data(), rows, rows, cols);
    ExpectWithinBudget(f, got, want, FixedPointBounds(f, w.data(), rb, rows, cols, x.data(), n),
                       "gemm cols " + std::to_string(cols));
  }
}

// On CPUs with AVX512-VNNI the q8/q4 formats get the VNNI kernels at the AVX-512 level, so the
// harness above does not reach the plain AVX-512 ones (which round x and use float tiles):
// check those directly against the reference.
TEST(MatmulIntAvx512Test, PlainKernelsMatchReference) {
  if (!IsaSupported(Isa::kAvx512)) GTEST_SKIP() << "avx512 is not supported by this CPU";
  for (WeightFormat f : kIntFormats) ExpectMatchesReference(cpu::kMatmulIntAvx512[int(f)], f);
}

// bf16 multiplies by x rounded to bf16 (matmul.h) at every level: with weights 1 and every
// input 1 + 2^-8 + 2^-10 (nearest bf16: 1 + 2^-7), each output is exactly cols * (1 + 2^-7).
TEST(MatmulBf16Test, EveryLevelRoundsTheInputsToBf16) {
  const int64_t rows = 5, cols = 37, n = 3, rb = RowBytes(WeightFormat::kBF16, cols);
  std::vector<uint8_t> w(rows * rb);
  const std::vector<float> ones(cols, 1.0f);
  for (int64_t r = 0; r < rows; ++r)
    GetFormatTraits(WeightFormat::kBF16).from_float_ref(ones.data(), w.data() + r * rb, cols);
  const std::vector<float> x(n * cols, 1.0f + 0x1p-8f + 0x1p-10f);
  const float want = float(cols) * (1.0f + 0x1p-7f);
  for (Isa isa : {Isa::kRef, Isa::kAvx2, Isa::kAvx512}) {
    if (!IsaSupported(isa)) continue;
    const MatmulKernels& k = GetMatmulKernels(WeightFormat::kBF16, isa);
    std::vector<float> y(n * rows);
    k.gemv(w.data(), rb, x.data(), y.data(), rows, cols);
    for (int64_t r = 0; r < rows; ++r) EXPECT_EQ(y[r], want) << IsaName(isa) << " gemv row " << r;
    k.gemm(w.data(), rb, x.data(), n, y.data(), rows, rows, cols);
    for (int64_t i = 0; i < n * rows; ++i) EXPECT_EQ(y[i], want) << IsaName(isa) << " gemm " << i;
  }
}

// Where the CPU has AVX512-BF16, bf16 gets the vdpbf16ps kernels at the AVX-512 level; the
// plain AVX-512 bf16 kernels are then checked directly.
TEST(MatmulBf16Test, DotProductInstructionKernelsServeBf16WherePresent) {
  if (!IsaSupported(Isa::kAvx512)) GTEST_SKIP() << "avx512 is not supported by this CPU";
  ExpectMatchesReference(cpu::kMatmulAvx512[int(WeightFormat::kBF16)], WeightFormat::kBF16);
  if (!cpu::HasAvx512Bf16()) GTEST_SKIP() << "no AVX512-BF16 on this CPU";
  EXPECT_EQ(GetMatmulKernels(WeightFormat::kBF16, Isa::kAvx512).gemv,
            cpu::kMatmulBf16Avx512[int(WeightFormat::kBF16)].gemv);
}

// Where the CPU has AVX512-VNNI, the q8 formats (and q4 where it lacks AVX512-VBMI) must get
// the VNNI kernels (otherwise the harness would silently test the slower ones); the q4 rows the
// VBMI kernels replace are checked directly.
TEST(MatmulDispatchTest, VnniKernelsServeQ8AndQ4) {
  if (!IsaSupported(Isa::kAvx512) || !cpu::HasAvx512Vnni())
    GTEST_SKIP() << "no AVX512-VNNI on this CPU";
  for (WeightFormat f : kIntFormats) {
    const bool bits8or4 = int(f) <= int(WeightFormat::kQ4G128Asym);
    const bool bits4 = bits8or4 && int(f) >= int(WeightFormat::kQ4G32);
    EXPECT_EQ(cpu::kMatmulIntVnni512[int(f)].gemv != nullptr, bits8or4) << GetFormatTraits(f).name;
    if (bits8or4 && !(bits4 && cpu::HasAvx512Vbmi())) {
      EXPECT_EQ(GetMatmulKernels(f, Isa::kAvx512).gemv, cpu::kMatmulIntVnni512[int(f)].gemv);
    } else if (bits4) {
      SCOPED_TRACE("vnni512, not dispatched");
      ExpectMatchesReference(cpu::kMatmulIntVnni512[int(f)], f);
    }
  }
}

// Where the CPU has AVX512-VBMI and -VNNI, the q4/q3/q2 formats must get the vpermt2b kernels.
TEST(MatmulDispatchTest, VbmiKernelsServeQ4Q3AndQ2) {
  if (!IsaSupported(Isa::kAvx512) || !cpu::HasAvx512Vnni() || !cpu::HasAvx512Vbmi())
    GTEST_SKIP() << "no AVX512-VBMI and AVX512-VNNI on this CPU";
  for (WeightFormat f : kIntFormats) {
    const bool lowbit = int(f) >= int(WeightFormat::kQ4G32);
    EXPECT_EQ(cpu::kMatmulLowbitVbmi512[int(f)].gemv != nullptr, lowbit) << GetFormatTraits(f).name;
    if (lowbit) {
      EXPECT_EQ(GetMatmulKernels(f, Isa::kAvx512).gemv, cpu::kMatmulLowbitVbmi512[int(f)].gemv);
      EXPECT_EQ(GetPreparedGemv(f, Isa::kAvx512), &cpu::kPreparedLowbitVbmi512[int(f)]);
    }
  }
}

// The prepared-activation gemv (matmul.h, PreparedGemv) against the plain gemv (bit for bit)
// and the reference, over row counts and widths that cover whole 128-column steps, 64- and
// 32-column tails and row tails; and null where the kernels have no prepared path. The AVX2
// level has one for every integer format, nf4/fp4, w8a8 and bf16; the AVX-512 level for the q8 and
// q4 formats and w8a8 on CPUs with AVX512-VNNI, and for q3/q2 where they also have AVX512-VBMI
// (the q4 ones then come from the VBMI kernels).
void CheckPrepared(WeightFormat f, Isa isa) {
  const PreparedGemv* p = GetPreparedGemv(f, isa);
  ASSERT_NE(p, nullptr);
  const MatmulKernels& k = GetMatmulKernels(f, isa);
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (int64_t cols : {17, 96, 128, 160, 300, 640, 1000}) {
    const int64_t rows = 13, rb = RowBytes(f, cols);
    GuardedBuffer w(size_t(rows * rb));
    ASSERT_TRUE(w.ok());
    std::vector<float> row(cols), x(cols);
    for (int64_t r = 0; r < rows; ++r) {
      for (float& v : row) v = dist(rng);
      GetFormatTraits(f).from_float_ref(row.data(), w.data() + r * rb, cols);
    }
    for (float& v : x) v = dist(rng);
    void* buf = std::aligned_alloc(64, size_t((p->bytes(cols) + 63) / 64 * 64));
    ASSERT_NE(buf, nullptr);
    p->prepare(x.data(), cols, buf);
    std::vector<float> want(rows), plain(rows), got(rows);
    GetMatmulKernelsRef(f).gemv(w.data(), rb, x.data(), want.data(), rows, cols);
    k.gemv(w.data(), rb, x.data(), plain.data(), rows, cols);
    // Split as a caller would: rows [0, 5) and [5, rows) from the same prepared buffer.
    p->gemv(w.data(), rb, buf, got.data(), 5, cols);
    p->gemv(w.data() + 5 * rb, rb, buf, got.data() + 5, rows - 5, cols);
    std::free(buf);
    for (int64_t r = 0; r < rows; ++r)
      ASSERT_EQ(got[r], plain[r]) << "cols " << cols << " row " << r;
    ExpectWithinBudget(f, got, want, FixedPointBounds(f, w.data(), rb, rows, cols, x.data(), 1),
                       "cols " + std::to_string(cols));
  }
}

TEST(MatmulPreparedTest, MatchesGemvExactlyAndReference) {
  EXPECT_EQ(GetPreparedGemv(WeightFormat::kQ4G32, Isa::kRef), nullptr);
  EXPECT_EQ(GetPreparedGemv(WeightFormat::kF32, Isa::kAvx2), nullptr);
  EXPECT_EQ(GetPreparedGemv(WeightFormat::kF32, Isa::kAvx512), nullptr);
  bool tested = false;
  if (IsaSupported(Isa::kAvx2)) {
    std::vector<WeightFormat> formats(std::begin(kIntFormats), std::end(kIntFormats));
    formats.push_back(WeightFormat::kNf4);
    formats.push_back(WeightFormat::kFp4);
    formats.push_back(WeightFormat::kW8A8);
    formats.push_back(WeightFormat::kBF16);
    for (WeightFormat f : formats) {
      SCOPED_TRACE(std::string("avx2 ") + GetFormatTraits(f).name);
      CheckPrepared(f, Isa::kAvx2);
    }
    tested = true;
  }
  if (IsaSupported(Isa::kAvx512) && cpu::HasAvx512Vnni()) {
    for (WeightFormat f : kIntFormats) {
      const bool prepared = int(f) <= int(WeightFormat::kQ4G128Asym) || cpu::HasAvx512Vbmi();
      SCOPED_TRACE(std::string("avx512 ") + GetFormatTraits(f).name);
      ASSERT_EQ(GetPreparedGemv(f, Isa::kAvx512) != nullptr, prepared);
      if (prepared) CheckPrepared(f, Isa::kAvx512);
    }
    SCOPED_TRACE("avx512 w8a8");
    EXPECT_EQ(GetPreparedGemv(WeightFormat::kW8A8, Isa::kAvx512),
              &cpu::kPreparedW8a8Avx512[int(WeightFormat::kW8A8)]);
    CheckPrepared(WeightFormat::kW8A8, Isa::kAvx512);
    for (WeightFormat f : {WeightFormat::kNf4, WeightFormat::kFp4}) {
      SCOPED_TRACE(std::string("avx512 ") + GetFormatTraits(f).name);
      EXPECT_EQ(GetPreparedGemv(f, Isa::kAvx512), &cpu::kPreparedTable4Vnni512[int(f)]);
      CheckPrepared(f, Isa::kAvx512);
    }
    tested = true;
  }
  if (!tested) GTEST_SKIP() << "neither AVX2 nor AVX-512 on this CPU";
}

// The reference itself against a direct double-precision sum over the unpacked F32 matrix.
TEST(MatmulRefTest, F32MatchesDirectDoubleSum) {
  const int64_t rows = 5, cols = 37;
  std::vector<float> w(rows * cols), x(cols), y(rows);
  for (int64_t i = 0; i < rows * cols; ++i) w[i] = float(i % 11) - 5.0f;
  for (int64_t c = 0; c < cols; ++c) x[c] = 0.25f * float(c % 7) - 0.5f;
  GetMatmulKernelsRef(WeightFormat::kF32).gemv(w.data(), cols * 4, x.data(), y.data(), rows, cols);
  for (int64_t r = 0; r < rows; ++r) {
    double want = 0;
    for (int64_t c = 0; c < cols; ++c) want += double(w[r * cols + c]) * x[c];
    EXPECT_EQ(y[r], float(want)) << "row " << r;  // small integers times quarters: exact
  }
}

// On a CPU that has an ISA level, every format must have a real kernel there (not the silent
// fallback to a lower level), or the harness above would be testing the wrong code.
TEST(MatmulDispatchTest, EveryFormatHasKernelsAtEverySupportedLevel) {
  for (int i = 0; i < kWeightFormatCount; ++i) {
    const WeightFormat f = static_cast<WeightFormat>(i);
    const char* name = GetFormatTraits(f).name;
    for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
      SCOPED_TRACE(IsaName(isa));
      const MatmulKernels& k = cpu::KernelsAtLevel(f, isa);
      EXPECT_NE(k.gemv, nullptr) << name;
      EXPECT_NE(k.gemm, nullptr) << name;
      EXPECT_NE(k.gemv, GetMatmulKernelsRef(f).gemv) << name;
      if (IsaSupported(isa)) {
        EXPECT_EQ(GetMatmulKernels(f, isa).gemv, k.gemv) << name;
        EXPECT_EQ(GetMatmulKernels(f, isa).gemm, k.gemm) << name;
      }
    }
    // A format has real kernels in exactly one table of each level.
    EXPECT_EQ(int(cpu::kMatmulAvx512[i].gemv != nullptr) +
                  int(cpu::kMatmulSparseAvx2[i].gemv != nullptr) +
                  int(cpu::kMatmulIntAvx512[i].gemv != nullptr) +
                  int(cpu::kMatmulFloat8Avx512[i].gemv != nullptr) +
                  int(cpu::kMatmulTable4Vnni512[i].gemv != nullptr) +
                  int(cpu::kMatmulW8a8Avx512[i].gemv != nullptr) +
                  int(cpu::kMatmulTf32Avx512[i].gemv != nullptr),
              1)
        << name;
    EXPECT_EQ(int(cpu::kMatmulAvx2[i].gemv != nullptr) +
                  int(cpu::kMatmulSparseAvx2[i].gemv != nullptr) +
                  int(cpu::kMatmulIntAvx2[i].gemv != nullptr) +
                  int(cpu::kMatmulFloat8Avx2[i].gemv != nullptr) +
                  int(cpu::kMatmulTable4Avx2[i].gemv != nullptr) +
                  int(cpu::kMatmulW8a8Avx2[i].gemv != nullptr) +
                  int(cpu::kMatmulTf32Avx2[i].gemv != nullptr),
              1)
        << name;
    EXPECT_EQ(GetMatmulKernels(f, Isa::kRef).gemv, GetMatmulKernelsRef(f).gemv) << name;
  }
}

}  // namespace
}  // namespace squeeze
