// Tests of the low-bit float weight formats (nf4, fp4, fp8_e4m3, fp8_e5m2) against independent
// expectations: the NF4 table rebuilt from normal quantiles, E2M1/E4M3/E5M2 values from their
// bit fields, an fp8 encoder written as a nearest-value search, and per-weight error bounds.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "ref/quant_float.h"
#include "squeeze/kernels/format.h"
#include "squeeze/kernels/fp16.h"

namespace squeeze {
namespace {

// ---- spec, written out independently of the traits table ----

struct FloatSpec {
  const char* name;
  WeightFormat format;
  int value;  // enum value
  bool fp8;   // per-row f32 scale + one byte per weight; else 64-weight blocks of nibbles
};
constexpr FloatSpec kSpecs[] = {
    {"nf4", WeightFormat::kNf4, 16, false},
    {"fp4", WeightFormat::kFp4, 17, false},
    {"fp8_e4m3", WeightFormat::kFp8E4M3, 18, true},
    {"fp8_e5m2", WeightFormat::kFp8E5M2, 19, true},
};

int64_t SpecRowBytes(const FloatSpec& s, int64_t cols) {
  if (s.fp8) return 4 + cols;
  return (cols + 63) / 64 * (2 + 32);  // f16 absmax + 64 nibbles
}

// An 8-bit float's value from its bit fields, in double.
double Fp8Value(uint8_t b, int exp_bits, int man_bits, int bias) {
  const int sign = b >> 7, e = (b >> man_bits) & ((1 << exp_bits) - 1),
            m = b & ((1 << man_bits) - 1);
  const double frac = double(m) / double(1 << man_bits);
  const double mag = e == 0 ? frac * std::pow(2.0, 1 - bias) : (1 + frac) * std::pow(2.0, e - bias);
  return sign ? -mag : mag;
}
bool E4M3IsNan(uint8_t b) {
  return (b & 0x7f) == 0x7f;
}
bool E5M2IsSpecial(uint8_t b) {
  return ((b >> 2) & 0x1f) == 31;
}

// E2M1 magnitude of a 3-bit code: exponent bits 2-1 (bias 1), mantissa bit 0.
double E2M1(int c) {
  const int e = (c >> 1) & 3, m = c & 1;
  return e == 0 ? 0.5 * m : (1 + 0.5 * m) * std::pow(2.0, e - 1);
}

// The 16 code values of a 4-bit format.
const float* Table(const FloatSpec& s) {
  return s.format == WeightFormat::kNf4 ? kNf4Values : kFp4Values;
}
double LargestGap(const float* table) {
  std::vector<float> v(table, table + 16);
  std::sort(v.begin(), v.end());
  double g = 0;
  for (int i = 1; i < 16; ++i) g = std::max(g, double(v[i]) - double(v[i - 1]));
  return g;
}

// Nibble of weight k of a 64-weight block (q4 layout: each 32 weights use 16 bytes, weight
// j < 16 in the low nibble of byte j, j + 16 in the high nibble).
int Nibble(const uint8_t* qs, int k) {
  const uint8_t byte = qs[16 * (k / 32) + k % 16];
  return (k % 32) < 16 ? (byte & 0xf) : (byte >> 4);
}

// Slow reference fp8 encoder: the finite value of x's sign nearest to x (ties to the even
// code), which saturates at the largest finite value by construction.
uint8_t SearchEncode(float x, bool e4m3) {
  if (std::isnan(x)) return 0;
  const uint8_t sign = std::signbit(x) ? 0x80 : 0;
  // Beyond the largest finite value the nearest one is that value (said up front because for
  // huge x the two top errors round to the same double and would look like a tie).
  if (std::fabs(x) >= (e4m3 ? 448.0f : 57344.0f)) return uint8_t(sign | (e4m3 ? 0x7e : 0x7b));
  int best = -1;
  double best_err = 0;
  for (int c = 0; c < 128; ++c) {
    const uint8_t b = uint8_t(sign | c);
    if (e4m3 ? E4M3IsNan(b) : E5M2IsSpecial(b)) continue;
    const double v = e4m3 ? Fp8Value(b, 4, 3, 7) : Fp8Value(b, 5, 2, 15);
    const double err = std::fabs(double(x) - v);
    if (best < 0 || err < best_err || (err == best_err && (c & 1) == 0)) {
      best = c;
      best_err = err;
    }
  }
  return uint8_t(sign | best);
}

// ---- traits ----

TEST(FloatFormatTest, NamesEnumValuesAndTraits) {
  for (const FloatSpec& s : kSpecs) {
    SCOPED_TRACE(s.name);
    EXPECT_EQ(static_cast<int>(s.format), s.value);
    WeightFormat f = WeightFormat::kF32;
    ASSERT_TRUE(FormatFromName(s.name, &f));
    EXPECT_EQ(f, s.format);
    const FormatTraits& t = GetFormatTraits(s.format);
    EXPECT_STREQ(t.name, s.name);
    EXPECT_EQ(t.block_weights, s.fp8 ? 1 : 64);
    EXPECT_EQ(t.row_header_bytes, s.fp8 ? 4 : 0);
  }
  WeightFormat f;
  for (const char* bad : {"NF4", "nf4_g64", "fp8", "fp8_e4m3fn", "e5m2", "fp4 "})
    EXPECT_FALSE(FormatFromName(bad, &f)) << bad;
}

TEST(FloatFormatTest, RowBytes) {
  for (const FloatSpec& s : kSpecs) {
    for (int64_t cols : {1, 64, 172, 4096})
      EXPECT_EQ(RowBytes(s.format, cols), SpecRowBytes(s, cols)) << s.name << " cols=" << cols;
  }
  // By hand: nf4 at 4096 columns is 64 blocks of 34 bytes; 172 columns is 3 blocks.
  EXPECT_EQ(RowBytes(WeightFormat::kNf4, 4096), 2176);
  EXPECT_EQ(RowBytes(WeightFormat::kFp4, 172), 102);
  EXPECT_EQ(RowBytes(WeightFormat::kFp4, 1), 34);
  EXPECT_EQ(RowBytes(WeightFormat::kFp8E4M3, 172), 176);
  EXPECT_EQ(RowBytes(WeightFormat::kFp8E5M2, 1), 5);
}

// ---- code tables ----

// Inverse of the standard normal CDF by bisection (double, far more precise than needed).
double NormPpf(double p) {
  double lo = -10, hi = 10;
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    if (0.5 * std::erfc(-mid / std::sqrt(2.0)) < p) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return 0.5 * (lo + hi);
}

// NF4 as built by QLoRA/bitsandbytes (create_normal_map, offset 0.9677083): 8 positive
// quantiles at linspace(offset, 0.5, 9)[:-1], 7 negative ones at linspace(offset, 0.5, 8)[:-1],
// and 0, normalized by the largest.
TEST(FloatFormatTest, Nf4TableIsNormalQuantiles) {
  const double offset = 0.9677083;
  std::vector<double> v = {0.0};
  for (int i = 0; i < 8; ++i) v.push_back(NormPpf(offset + (0.5 - offset) * i / 8.0));
  for (int i = 0; i < 7; ++i) v.push_back(-NormPpf(offset + (0.5 - offset) * i / 7.0));
  std::sort(v.begin(), v.end());
  const double top = v.back();
  for (int i = 0; i < 16; ++i) EXPECT_NEAR(kNf4Values[i], v[i] / top, 2e-6) << "code " << i;
  EXPECT_EQ(kNf4Values[0], -1.0f);
  EXPECT_EQ(kNf4Values[7], 0.0f);
  EXPECT_EQ(kNf4Values[15], 1.0f);
  for (int i = 1; i < 16; ++i) EXPECT_LT(kNf4Values[i - 1], kNf4Values[i]);
}

TEST(FloatFormatTest, Fp4TableIsE2M1OverSix) {
  for (int c = 0; c < 16; ++c) {
    const double mag = E2M1(c & 7) / 6.0;
    EXPECT_EQ(double(kFp4Values[c]), double(float(c & 8 ? -mag : mag))) << "code " << c;
  }
  EXPECT_EQ(kFp4Values[7], 1.0f);
  EXPECT_EQ(kFp4Values[15], -1.0f);
}

// ---- scalar fp8 ----

TEST(Fp8Test, DecodeAllBytes) {
  for (int i = 0; i < 256; ++i) {
    const uint8_t b = uint8_t(i);
    const float e4 = fp8_e4m3_to_fp32(b), e5 = fp8_e5m2_to_fp32(b);
    if (E4M3IsNan(b)) {
      EXPECT_TRUE(std::isnan(e4)) << "e4m3 byte " << i;
    } else {
      EXPECT_EQ(double(e4), Fp8Value(b, 4, 3, 7)) << "e4m3 byte " << i;
      EXPECT_EQ(std::signbit(e4), (b & 0x80) != 0) << "e4m3 byte " << i;
    }
    if (E5M2IsSpecial(b)) {
      if ((b & 3) == 0) {
        EXPECT_EQ(e5, (b & 0x80) ? -INFINITY : INFINITY) << "e5m2 byte " << i;
      } else {
        EXPECT_TRUE(std::isnan(e5)) << "e5m2 byte " << i;
      }
    } else {
      EXPECT_EQ(double(e5), Fp8Value(b, 5, 2, 15)) << "e5m2 byte " << i;
      EXPECT_EQ(std::signbit(e5), (b & 0x80) != 0) << "e5m2 byte " << i;
    }
  }
  // Known points of the OCP spec.
  EXPECT_EQ(fp8_e4m3_to_fp32(0x38), 1.0f);
  EXPECT_EQ(fp8_e4m3_to_fp32(0x7e), 448.0f);
  EXPECT_EQ(fp8_e4m3_to_fp32(0x01), std::ldexp(1.0f, -9));
  EXPECT_EQ(fp8_e4m3_to_fp32(0x08), std::ldexp(1.0f, -6));
  EXPECT_EQ(fp8_e4m3_to_fp32(0xc0), -2.0f);
  EXPECT_EQ(fp8_e5m2_to_fp32(0x3c), 1.0f);
  EXPECT_EQ(fp8_e5m2_to_fp32(0x7b), 57344.0f);
  EXPECT_EQ(fp8_e5m2_to_fp32(0x01), std::ldexp(1.0f, -16));
  EXPECT_EQ(fp8_e5m2_to_fp32(0x7c), INFINITY);
  EXPECT_EQ(kFp8E4M3Max, 448.0f);
  EXPECT_EQ(kFp8E5M2Max, 57344.0f);
}

TEST(Fp8Test, EncodeRoundTripsEveryFiniteByte) {
  for (int i = 0; i < 256; ++i) {
    const uint8_t b = uint8_t(i);
    if (!E4M3IsNan(b)) {
      EXPECT_EQ(fp32_to_fp8_e4m3(fp8_e4m3_to_fp32(b)), b) << "e4m3 byte " << i;
    }
    if (!E5M2IsSpecial(b)) {
      EXPECT_EQ(fp32_to_fp8_e5m2(fp8_e5m2_to_fp32(b)), b) << "e5m2 byte " << i;
    }
  }
}

TEST(Fp8Test, EncodeMatchesNearestEvenSearch) {
  std::vector<float> xs = {0.0f, -0.0f,  1e-30f,   -1e-30f,  448.0f,   464.0f, 465.0f,   480.0f,
                           1e6f, -1e30f, 57344.0f, 61440.0f, 65536.0f, 1e38f,  INFINITY, -INFINITY};
  // Midpoints between adjacent codes (the ties) and their float neighbours, in both formats.
  for (bool e4m3 : {true, false}) {
    for (int c = 0; c < 127; ++c) {
      const double a = e4m3 ? Fp8Value(uint8_t(c), 4, 3, 7) : Fp8Value(uint8_t(c), 5, 2, 15);
      const double b =
          e4m3 ? Fp8Value(uint8_t(c + 1), 4, 3, 7) : Fp8Value(uint8_t(c + 1), 5, 2, 15);
      const float mid = float(0.5 * (a + b));
      for (float v : {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, INFINITY)}) {
        xs.push_back(v);
        xs.push_back(-v);
      }
    }
  }
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> mant(1.0f, 2.0f);
  std::uniform_int_distribution<int> expo(-24, 18);
  for (int i = 0; i < 200000; ++i) {
    const float v = std::ldexp(mant(rng), expo(rng));
    xs.push_back(i % 2 ? -v : v);
  }
  for (float x : xs) {
    ASSERT_EQ(fp32_to_fp8_e4m3(x), SearchEncode(x, true)) << "e4m3 x=" << x;
    ASSERT_EQ(fp32_to_fp8_e5m2(x), SearchEncode(x, false)) << "e5m2 x=" << x;
  }
  EXPECT_EQ(fp32_to_fp8_e4m3(1e9f), 0x7e);   // saturates, never the NaN byte 0x7f
  EXPECT_EQ(fp32_to_fp8_e5m2(-1e9f), 0xfb);  // saturates, never -Inf 0xfc
  EXPECT_EQ(fp32_to_fp8_e4m3(NAN), 0);
  EXPECT_EQ(fp32_to_fp8_e5m2(NAN), 0);
}

// ---- rows ----

// Random rows: to_float agrees with a decode from the spec alone, padding is the code of 0,
// the chosen code is the nearest one, and every weight is within half the largest code gap of
// its scale (4-bit) or half an fp8 step (fp8).
TEST(FloatFormatTest, RoundTripWithinBounds) {
  std::mt19937 rng(3);
  for (const FloatSpec& s : kSpecs) {
    for (int64_t cols : {1, 63, 64, 65, 172, 4096}) {
      for (float range : {1.0f, 0.01f, 300.0f}) {
        SCOPED_TRACE(std::string(s.name) + " cols=" + std::to_string(cols) +
                     " range=" + std::to_string(range));
        std::uniform_real_distribution<float> dist(-range, 0.7f * range);
        std::vector<float> w(cols);
        for (float& v : w) v = dist(rng);
        const FormatTraits& t = GetFormatTraits(s.format);
        const int64_t row_bytes = RowBytes(s.format, cols);
        std::vector<uint8_t> packed(size_t(row_bytes) + 8, 0xa5);
        t.from_float_ref(w.data(), packed.data(), cols);
        for (size_t i = size_t(row_bytes); i < packed.size(); ++i)
          ASSERT_EQ(packed[i], 0xa5) << "wrote past RowBytes at " << i;
        std::vector<float> back(cols);
        t.to_float(packed.data(), back.data(), cols);

        if (s.fp8) {
          const bool e4m3 = s.format == WeightFormat::kFp8E4M3;
          float amax = 0, scale;
          for (float v : w) amax = std::max(amax, std::fabs(v));
          std::memcpy(&scale, packed.data(), 4);
          ASSERT_EQ(scale, amax / (e4m3 ? 448.0f : 57344.0f));
          const int man_bits = e4m3 ? 3 : 2, bias = e4m3 ? 7 : 15;
          for (int64_t c = 0; c < cols; ++c) {
            const uint8_t b = packed[4 + c];
            const double v = e4m3 ? Fp8Value(b, 4, 3, 7) : Fp8Value(b, 5, 2, 15);
            ASSERT_EQ(back[c], float(scale * v)) << "column " << c;
            // Half a step at w's magnitude, or half the subnormal step, plus float slack.
            const double bound = std::fabs(double(w[c])) * std::ldexp(1.0, -man_bits - 1) +
                                 scale * std::ldexp(1.0, -bias - man_bits) +
                                 std::fabs(double(w[c])) * 1e-6;
            ASSERT_LE(std::fabs(double(w[c]) - back[c]), bound) << "column " << c;
          }
          continue;
        }

        const float* table = Table(s);
        const int zero_code = s.format == WeightFormat::kNf4 ? 7 : 0;
        const double half_gap = LargestGap(table) / 2;
        for (int64_t b0 = 0; b0 < cols; b0 += 64) {
          const uint8_t* blk = packed.data() + b0 / 64 * 34;
          uint16_t dh;
          std::memcpy(&dh, blk, 2);
          const float d = fp16_to_fp32(dh);
          float amax = 0;
          for (int64_t c = b0; c < std::min(b0 + 64, cols); ++c)
            amax = std::max(amax, std::fabs(w[c]));
          ASSERT_EQ(dh, fp32_to_fp16(amax)) << "block at " << b0;
          for (int k = 0; k < 64; ++k) {
            const int64_t c = b0 + k;
            const int q = Nibble(blk + 2, k);
            if (c >= cols) {
              ASSERT_EQ(q, zero_code) << "padding code";
              continue;
            }
            ASSERT_EQ(back[c], d * table[q]) << "column " << c;
            const double t_w = double(w[c] / d);
            double nearest = 1e9;
            for (int i = 0; i < 16; ++i) nearest = std::min(nearest, std::fabs(t_w - table[i]));
            ASSERT_LE(std::fabs(t_w - table[q]), nearest + 1e-7) << "column " << c;
            const double bound = half_gap * d + std::fabs(double(w[c])) * 1e-6;
            ASSERT_LE(std::fabs(double(w[c]) - back[c]), bound) << "column " << c;
          }
        }
      }
    }
  }
}

// Rows of zeros give zero scales and decode to exact zeros (no NaN from 0 / 0); rows of code
// values times an f16-exact scale come back exactly.
TEST(FloatFormatTest, ZeroRowsAndExactValues) {
  for (const FloatSpec& s : kSpecs) {
    for (int64_t cols : {1, 65, 172}) {
      SCOPED_TRACE(std::string(s.name) + " cols=" + std::to_string(cols));
      const FormatTraits& t = GetFormatTraits(s.format);
      std::vector<float> w(cols, 0.0f), back(cols, 1.0f);
      std::vector<uint8_t> packed(size_t(RowBytes(s.format, cols)), 0xff);
      t.from_float_ref(w.data(), packed.data(), cols);
      t.to_float(packed.data(), back.data(), cols);
      for (int64_t c = 0; c < cols; ++c) ASSERT_EQ(back[c], 0.0f) << "column " << c;

      std::mt19937 rng{uint32_t(cols)};
      std::uniform_int_distribution<int> code(0, s.fp8 ? 255 : 15);
      const float d = 0.25f;
      for (int64_t c = 0; c < cols; ++c) {
        if (s.fp8) {
          // Values on the fp8 grid, with the largest one present so that the scale is 1/4.
          uint8_t b = uint8_t(code(rng));
          const bool e4m3 = s.format == WeightFormat::kFp8E4M3;
          if ((e4m3 && E4M3IsNan(b)) || (!e4m3 && E5M2IsSpecial(b)) || c == 0)
            b = e4m3 ? 0x7e : 0x7b;
          w[c] = d * float(e4m3 ? Fp8Value(b, 4, 3, 7) : Fp8Value(b, 5, 2, 15));
        } else {
          w[c] = d * Table(s)[c % 64 == 0 ? 15 : code(rng)];  // each block has amax = d
        }
      }
      t.from_float_ref(w.data(), packed.data(), cols);
      t.to_float(packed.data(), back.data(), cols);
      for (int64_t c = 0; c < cols; ++c) ASSERT_EQ(back[c], w[c]) << "column " << c;
    }
  }
}

}  // namespace
}  // namespace squeeze
