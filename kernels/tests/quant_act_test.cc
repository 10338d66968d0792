// Tests of the W8A8 and TF32 formats against independent expectations: TF32 rounding checked
// bit by bit and against a nearest-value search in double; W8A8 kernels (every ISA level)
// against a double-precision computation of the stated semantics with the inputs quantized
// here, including round-half-away ties, long rows whose dot products overflow int32, and
// all-zero inputs.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "cpu/cpu_kernels.h"
#include "gtest/gtest.h"
#include "ref/quant_act.h"
#include "squeeze/kernels/format.h"
#include "squeeze/kernels/matmul.h"

namespace squeeze {
namespace {

uint32_t BitsOf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float FromBits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// ---- TF32 rounding ----

// The TF32 value nearest to x found by comparing the two candidates around it in double;
// ties go to the candidate whose lowest kept bit (bit 13) is 0. Finite x only.
float NearestTf32(float x) {
  const uint32_t u = BitsOf(x);
  const uint32_t down = u & ~0x1fffu, up = down + 0x2000u;  // same sign; up may reach Inf
  const double dx = x, dd = FromBits(down);
  const double du = (up & 0x7f800000u) == 0x7f800000u
                        ? std::copysign(std::ldexp(1.0, 128), dx)  // Inf stands for 2^128
                        : double(FromBits(up));
  const double e_down = std::fabs(dx - dd), e_up = std::fabs(du - dx);
  if (e_down < e_up) return FromBits(down);
  if (e_up < e_down) return FromBits(up);
  return FromBits((down & 0x2000u) == 0 ? down : up);
}

TEST(Tf32Test, ExactValuesTiesAndCarries) {
  EXPECT_EQ(Tf32Round(1.0f), 1.0f);
  EXPECT_EQ(Tf32Round(-3.5f), -3.5f);
  EXPECT_EQ(Tf32Round(0.0f), 0.0f);
  EXPECT_EQ(BitsOf(Tf32Round(-0.0f)), 0x80000000u);
  // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: the even one is 1.
  EXPECT_EQ(Tf32Round(1.0f + std::ldexp(1.0f, -11)), 1.0f);
  // 1 + 3 * 2^-11 is halfway between 1 + 2^-10 (odd) and 1 + 2^-9 (even).
  EXPECT_EQ(Tf32Round(1.0f + 3 * std::ldexp(1.0f, -11)), 1.0f + std::ldexp(1.0f, -9));
  EXPECT_EQ(Tf32Round(-(1.0f + 3 * std::ldexp(1.0f, -11))), -(1.0f + std::ldexp(1.0f, -9)));
  // Just above a tie rounds up, just below rounds down.
  EXPECT_EQ(Tf32Round(1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -23)),
            1.0f + std::ldexp(1.0f, -10));
  EXPECT_EQ(Tf32Round(1.0f + std::ldexp(1.0f, -11) - std::ldexp(1.0f, -23)), 1.0f);
  // Carry into the exponent, and overflow of the largest float to Inf.
  EXPECT_EQ(Tf32Round(std::nextafter(2.0f, 0.0f)), 2.0f);
  EXPECT_EQ(Tf32Round(std::numeric_limits<float>::max()), std::numeric_limits<float>::infinity());
  // Inf and NaN (payload included) pass unchanged.
  for (uint32_t u : {0x7f800000u, 0xff800000u, 0x7fc00000u, 0x7f800001u, 0xffbadbadu})
    EXPECT_EQ(BitsOf(Tf32Round(FromBits(u))), u) << std::hex << u;
  // Subnormals round on the same bit grid.
  EXPECT_EQ(BitsOf(Tf32Round(FromBits(0x00001fffu))), 0x00002000u);
  EXPECT_EQ(BitsOf(Tf32Round(FromBits(0x00001000u))), 0x00000000u);  // tie to even (0)
  EXPECT_EQ(BitsOf(Tf32Round(FromBits(0x00003000u))), 0x00004000u);  // tie to even
}

TEST(Tf32Test, MatchesNearestEvenSearchAndClearsLowBits) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<uint32_t> bits;
  for (int i = 0; i < 200000; ++i) {
    uint32_t u = bits(rng);
    if (i % 4 == 0) u = (u & ~0x1fffu) | 0x1000u;  // many exact ties
    const float x = FromBits(u);
    if (!std::isfinite(x)) continue;
    const float r = Tf32Round(x);
    ASSERT_EQ(BitsOf(r) & 0x1fffu, 0u) << std::hex << u;
    ASSERT_EQ(BitsOf(r), BitsOf(NearestTf32(x))) << std::hex << u;
    if (std::isfinite(r) && std::fabs(x) >= std::numeric_limits<float>::min()) {
      ASSERT_LE(std::fabs(double(r) - double(x)), std::ldexp(std::fabs(double(x)), -11))
          << std::hex << u;
    }
  }
}

TEST(Tf32Test, TraitsRowRoundTrip) {
  const FormatTraits& t = GetFormatTraits(WeightFormat::kTf32);
  EXPECT_STREQ(t.name, "tf32");
  WeightFormat f;
  ASSERT_TRUE(FormatFromName("tf32", &f));
  EXPECT_EQ(f, WeightFormat::kTf32);
  for (int64_t cols : {1, 7, 33, 172, 4097}) {
    EXPECT_EQ(RowBytes(WeightFormat::kTf32, cols), 4 * cols);
    std::mt19937 rng{uint32_t(cols)};
    std::uniform_real_distribution<float> dist(-300.0f, 300.0f);
    std::vector<float> w(cols), back(cols);
    for (float& v : w) v = dist(rng);
    std::vector<uint8_t> packed(size_t(RowBytes(WeightFormat::kTf32, cols)) + 4, 0xa5);
    t.from_float_ref(w.data(), packed.data(), cols);
    for (size_t i = packed.size() - 4; i < packed.size(); ++i) ASSERT_EQ(packed[i], 0xa5);
    t.to_float(packed.data(), back.data(), cols);
    for (int64_t c = 0; c < cols; ++c) {
      ASSERT_EQ(BitsOf(back[c]) & 0x1fffu, 0u) << "column " << c;
      ASSERT_EQ(back[c], NearestTf32(w[c])) << "column " << c;
      ASSERT_LE(std::fabs(double(back[c]) - w[c]), std::ldexp(std::fabs(double(w[c])), -11));
    }
  }
}

// Kernels of a format at every supported level, named.
struct Level {
  std::string name;
  const MatmulKernels* k;
};
std::vector<Level> Levels(WeightFormat f) {
  std::vector<Level> out = {{"ref", &GetMatmulKernelsRef(f)}};
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512})
    if (IsaSupported(isa)) out.push_back({IsaName(isa), &GetMatmulKernels(f, isa)});
  // The W8A8 VNNI kernels directly (the AVX-512 level hands them out only with VNNI).
  if (f == WeightFormat::kW8A8 && IsaSupported(Isa::kAvx512) && cpu::HasAvx512Vnni())
    out.push_back({"avx512_vnni", &cpu::kMatmulW8a8Avx512[int(f)]});
  return out;
}

// An identity weight matrix makes y[r] = Tf32Round(x[r]) exactly (one non-zero term), so every
// level must round its inputs itself, bit for bit.
TEST(Tf32Test, KernelsRoundTheInputs) {
  const int64_t rows = 37, cols = 37, n = 5;
  std::vector<float> eye(rows * cols, 0.0f);
  for (int64_t r = 0; r < rows; ++r) eye[r * cols + r] = 1.0f;
  std::mt19937 rng(2);
  std::uniform_int_distribution<uint32_t> mant(0, 0x7fffff);
  std::vector<float> x(n * cols);
  for (float& v : x) v = FromBits(0x3f800000u | mant(rng)) * (mant(rng) % 2 ? 1.0f : -3.0f);
  x[3] = 1.0f + std::ldexp(1.0f, -11);  // a tie
  const int64_t rb = RowBytes(WeightFormat::kTf32, cols);
  std::vector<uint8_t> w(rows * rb);
  for (int64_t r = 0; r < rows; ++r)
    GetFormatTraits(WeightFormat::kTf32).from_float_ref(&eye[r * cols], &w[r * rb], cols);
  for (const Level& l : Levels(WeightFormat::kTf32)) {
    SCOPED_TRACE(l.name);
    std::vector<float> y(n * rows);
    l.k->gemv(w.data(), rb, x.data(), y.data(), rows, cols);
    for (int64_t r = 0; r < rows; ++r) ASSERT_EQ(y[r], Tf32Round(x[r])) << "gemv row " << r;
    l.k->gemm(w.data(), rb, x.data(), n, y.data(), rows, rows, cols);
    for (int64_t i = 0; i < n * rows; ++i) ASSERT_EQ(y[i], Tf32Round(x[i])) << "gemm " << i;
  }
}

// ---- W8A8 ----

// Per-token int8 quantization as format.h states it, written out here: s = absmax / 127 in
// f32, q = x / s rounded to nearest with ties away from zero.
struct QuantizedToken {
  float s;
  std::vector<int> q;
};
QuantizedToken QuantizeHere(const float* x, int64_t cols) {
  QuantizedToken out{0.0f, std::vector<int>(cols, 0)};
  float amax = 0;
  for (int64_t c = 0; c < cols; ++c) amax = std::fabs(x[c]) > amax ? std::fabs(x[c]) : amax;
  out.s = amax / 127.0f;
  if (out.s == 0) return out;
  for (int64_t c = 0; c < cols; ++c) {
    const float t = x[c] / out.s;
    const double a = std::floor(std::fabs(double(t)) + 0.5);  // exact: |t| <= 127
    out.q[c] = int(std::copysign(a, double(t)));
  }
  return out;
}

// y[t][r] = sw[r] * sx[t] * sum_c qw[r][c] * qx[t][c] in double, the codes of w read straight
// from the packed bytes (f32 scale, then int8 codes).
std::vector<double> W8a8Expected(const std::vector<uint8_t>& w, int64_t rb, const float* x,
                                 int64_t n, int64_t rows, int64_t cols) {
  std::vector<double> y(n * rows);
  for (int64_t t = 0; t < n; ++t) {
    const QuantizedToken qx = QuantizeHere(x + t * cols, cols);
    for (int64_t r = 0; r < rows; ++r) {
      float sw;
      std::memcpy(&sw, &w[r * rb], 4);
      int64_t dot = 0;
      for (int64_t c = 0; c < cols; ++c) dot += int64_t(int8_t(w[r * rb + 4 + c])) * qx.q[c];
      y[t * rows + r] = double(sw) * double(qx.s) * double(dot);
    }
  }
  return y;
}

// Checks gemv (token 0) and gemm (n tokens) of every level against the expectation: the kernels
// round the scale product, the dot product and the result to f32, each by half an ulp.
void CheckW8a8(const std::vector<float>& wf, const std::vector<float>& x, int64_t n, int64_t rows,
               int64_t cols) {
  const int64_t rb = RowBytes(WeightFormat::kW8A8, cols);
  std::vector<uint8_t> w(rows * rb);
  for (int64_t r = 0; r < rows; ++r)
    GetFormatTraits(WeightFormat::kW8A8).from_float_ref(&wf[r * cols], &w[r * rb], cols);
  const std::vector<double> want = W8a8Expected(w, rb, x.data(), n, rows, cols);
  const double tol = 4 * std::ldexp(1.0, -24);
  for (const Level& l : Levels(WeightFormat::kW8A8)) {
    SCOPED_TRACE(l.name);
    std::vector<float> y(n * rows, -1.0f);
    l.k->gemv(w.data(), rb, x.data(), y.data(), rows, cols);
    for (int64_t r = 0; r < rows; ++r)
      ASSERT_LE(std::fabs(y[r] - want[r]), tol * std::fabs(want[r])) << "gemv row " << r;
    l.k->gemm(w.data(), rb, x.data(), n, y.data(), rows, rows, cols);
    for (int64_t i = 0; i < n * rows; ++i)
      ASSERT_LE(std::fabs(y[i] - want[i]), tol * std::fabs(want[i])) << "gemm output " << i;
  }
}

TEST(W8a8Test, MatchesDoublePrecisionSemantics) {
  for (int64_t cols : {1, 7, 33, 64, 172, 4097}) {
    SCOPED_TRACE("cols=" + std::to_string(cols));
    const int64_t rows = 13, n = 7;
    std::mt19937 rng{uint32_t(cols)};
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    std::vector<float> w(rows * cols), x(n * cols);
    for (float& v : w) v = dist(rng);
    for (float& v : x) v = 3.0f * dist(rng);
    x[0] = 0.0f;
    CheckW8a8(w, x, n, rows, cols);
  }
}

// Inputs chosen so that x / s hits exact halves: s = 1 (absmax 127), and x = k + 0.5 must
// round away from zero in every kernel's quantizer.
TEST(W8a8Test, InputTiesRoundAwayFromZero) {
  const int64_t cols = 40, rows = 40, n = 2;
  std::vector<float> eye(rows * cols, 0.0f), x(n * cols);
  for (int64_t r = 0; r < rows; ++r) eye[r * cols + r] = 1.0f;
  for (int64_t c = 0; c < cols; ++c) x[c] = float(c % 20) - 9.5f;  // -9.5 .. 9.5
  x[cols - 1] = 127.0f;
  for (int64_t c = 0; c < cols; ++c) x[cols + c] = -x[c];
  const QuantizedToken q = QuantizeHere(x.data(), cols);
  ASSERT_EQ(q.s, 1.0f);
  ASSERT_EQ(q.q[0], -10);  // -9.5 -> -10
  ASSERT_EQ(q.q[19], 10);  // 9.5 -> 10
  CheckW8a8(eye, x, n, rows, cols);
}

// Rows of 140000 columns whose dot products (up to 140000 * 127^2) overflow int32: the kernels
// must still get them exactly (they accumulate in chunks).
TEST(W8a8Test, LongRowsDoNotOverflow) {
  const int64_t cols = 140000, rows = 3, n = 2;
  std::vector<float> w(rows * cols), x(n * cols);
  for (int64_t c = 0; c < cols; ++c) {
    w[c] = 1.0f;
    w[cols + c] = -2.0f;
    w[2 * cols + c] = c % 3 ? 0.5f : -0.5f;
    x[c] = 0.25f;
    x[cols + c] = c % 5 ? -1.0f : 1.0f;
  }
  CheckW8a8(w, x, n, rows, cols);
  // The first output is sw * sx * cols * 127^2 = 1 * 0.25 * cols.
  std::vector<uint8_t> packed(rows * RowBytes(WeightFormat::kW8A8, cols));
  for (int64_t r = 0; r < rows; ++r)
    GetFormatTraits(WeightFormat::kW8A8)
        .from_float_ref(&w[r * cols], &packed[r * RowBytes(WeightFormat::kW8A8, cols)], cols);
  float y[3];
  for (const Level& l : Levels(WeightFormat::kW8A8)) {
    l.k->gemv(packed.data(), RowBytes(WeightFormat::kW8A8, cols), x.data(), y, rows, cols);
    EXPECT_NEAR(y[0], 0.25 * cols, 1e-5 * cols) << l.name;
  }
}

TEST(W8a8Test, ZeroInputsGiveZeros) {
  const int64_t cols = 100, rows = 9, n = 3;
  std::vector<float> w(rows * cols, 0.7f), x(n * cols, 0.0f);
  const int64_t rb = RowBytes(WeightFormat::kW8A8, cols);
  std::vector<uint8_t> packed(rows * rb);
  for (int64_t r = 0; r < rows; ++r)
    GetFormatTraits(WeightFormat::kW8A8).from_float_ref(&w[r * cols], &packed[r * rb], cols);
  for (const Level& l : Levels(WeightFormat::kW8A8)) {
    std::vector<float> y(n * rows, 1.0f);
    l.k->gemm(packed.data(), rb, x.data(), n, y.data(), rows, rows, cols);
    for (float v : y) ASSERT_EQ(v, 0.0f) << l.name;
  }
}

}  // namespace
}  // namespace squeeze
