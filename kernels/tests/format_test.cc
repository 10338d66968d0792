// Tests of the weight-format traits and the scalar F16/BF16 conversions against independent
// expectations: hand-computed bit patterns, ldexp decoding, the compiler's _Float16 and a
// nearest-value search in double for bf16.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "squeeze/kernels/format.h"
#include "squeeze/kernels/fp16.h"

namespace squeeze {
namespace {

float Bits(uint32_t u) {
  return fp32_from_bits(u);
}

// ---- IEEE half ----

TEST(F16Test, ExactValuesToHalf) {
  EXPECT_EQ(fp32_to_fp16(0.0f), 0x0000);
  EXPECT_EQ(fp32_to_fp16(-0.0f), 0x8000);
  EXPECT_EQ(fp32_to_fp16(1.0f), 0x3c00);
  EXPECT_EQ(fp32_to_fp16(-2.0f), 0xc000);
  EXPECT_EQ(fp32_to_fp16(0.5f), 0x3800);
  EXPECT_EQ(fp32_to_fp16(65504.0f), 0x7bff);                  // largest finite half
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -14)), 0x0400);     // smallest normal
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -24)), 0x0001);     // smallest subnormal
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1023.0f, -24)), 0x03ff);  // largest subnormal
  EXPECT_EQ(fp32_to_fp16(-std::ldexp(5.0f, -24)), 0x8005);
}

TEST(F16Test, RoundsToNearestEven) {
  // Between 1 (0x3c00) and 1 + 2^-10 (0x3c01): the tie goes to the even 0x3c00.
  EXPECT_EQ(fp32_to_fp16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  // Between 0x3c01 and 0x3c02: the tie goes to the even 0x3c02.
  EXPECT_EQ(fp32_to_fp16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  // Just above a tie rounds up.
  EXPECT_EQ(fp32_to_fp16(std::nextafter(1.0f + std::ldexp(1.0f, -11), 2.0f)), 0x3c01);
  // Subnormal ties: 0.5 and 1.5 units of 2^-24 go to 0 and 2; 2.5 units to 2.
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -25)), 0x0000);
  EXPECT_EQ(fp32_to_fp16(std::ldexp(3.0f, -25)), 0x0002);
  EXPECT_EQ(fp32_to_fp16(std::ldexp(5.0f, -25)), 0x0002);
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -26)), 0x0000);
  // Largest subnormal + half a unit rounds to the smallest normal.
  EXPECT_EQ(fp32_to_fp16(std::ldexp(2047.0f, -25)), 0x0400);
}

TEST(F16Test, OverflowInfAndNan) {
  // 65520 is halfway between 65504 and 65536 (=2^16, not representable): rounds to Inf.
  EXPECT_EQ(fp32_to_fp16(65519.0f), 0x7bff);
  EXPECT_EQ(fp32_to_fp16(65520.0f), 0x7c00);
  EXPECT_EQ(fp32_to_fp16(-1e9f), 0xfc00);
  EXPECT_EQ(fp32_to_fp16(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_EQ(fp32_to_fp16(-std::numeric_limits<float>::infinity()), 0xfc00);
  const uint16_t nan = fp32_to_fp16(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(nan & 0x7c00, 0x7c00);
  EXPECT_NE(nan & 0x03ff, 0);
  // A signalling NaN whose payload lives only in the low bits must stay a NaN.
  const uint16_t snan = fp32_to_fp16(Bits(0x7f800001u));
  EXPECT_EQ(snan & 0x7c00, 0x7c00);
  EXPECT_NE(snan & 0x03ff, 0);
}

// Every one of the 65536 halves decodes to sign * 2^(e-15) * (1 + m/1024) (or the subnormal,
// Inf and NaN cases), and encodes back to the same bits.
TEST(F16Test, AllHalvesDecodeAndRoundTrip) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const int e = (h >> 10) & 31, m = h & 1023;
    const double sign = (h & 0x8000) ? -1.0 : 1.0;
    const float got = fp16_to_fp32(uint16_t(h));
    if (e == 31) {
      if (m == 0) {
        EXPECT_EQ(got, float(sign * INFINITY)) << std::hex << h;
      } else {
        EXPECT_TRUE(std::isnan(got)) << std::hex << h;
        EXPECT_TRUE(std::isnan(fp16_to_fp32(fp32_to_fp16(got)))) << std::hex << h;
      }
      continue;
    }
    const double want =
        e == 0 ? sign * std::ldexp(double(m), -24) : sign * std::ldexp(1.0 + m / 1024.0, e - 15);
    ASSERT_EQ(double(got), want) << std::hex << h;
    ASSERT_EQ(std::signbit(got), bool(h & 0x8000)) << std::hex << h;
    ASSERT_EQ(fp32_to_fp16(got), h) << std::hex << h;
  }
}

// Encoding agrees with the compiler's own float -> _Float16 conversion (libgcc, round to
// nearest even) on a spread of float bit patterns covering every exponent.
TEST(F16Test, EncodeMatchesCompilerFloat16) {
  for (uint64_t u = 0; u <= 0xffffffffu; u += 4093) {
    const float f = Bits(uint32_t(u));
    const _Float16 h = static_cast<_Float16>(f);
    uint16_t want;
    std::memcpy(&want, &h, 2);
    const uint16_t got = fp32_to_fp16(f);
    if (std::isnan(f)) {
      ASSERT_TRUE((got & 0x7c00) == 0x7c00 && (got & 0x3ff) != 0) << std::hex << u;
    } else {
      ASSERT_EQ(got, want) << "float bits 0x" << std::hex << u;
    }
  }
}

// ---- bfloat16 ----

TEST(Bf16Test, ExactValues) {
  EXPECT_EQ(fp32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(fp32_to_bf16(-2.0f), 0xc000);
  EXPECT_EQ(fp32_to_bf16(0.0f), 0x0000);
  EXPECT_EQ(fp32_to_bf16(-0.0f), 0x8000);
  EXPECT_EQ(fp32_to_bf16(std::numeric_limits<float>::infinity()), 0x7f80);
  EXPECT_EQ(bf16_to_fp32(0x3f80), 1.0f);
  EXPECT_EQ(bf16_to_fp32(0x4049), 3.140625f);
  EXPECT_EQ(bf16_to_fp32(0x0001), std::ldexp(1.0f, -133));  // smallest subnormal
  EXPECT_TRUE(std::isnan(bf16_to_fp32(fp32_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  // A NaN whose payload is only in the low 16 bits must not become Inf.
  EXPECT_TRUE(std::isnan(bf16_to_fp32(fp32_to_bf16(Bits(0x7f800001u)))));
  EXPECT_TRUE(std::isnan(bf16_to_fp32(fp32_to_bf16(Bits(0xff800001u)))));
}

TEST(Bf16Test, RoundsToNearestEven) {
  // 1 + 2^-8 lies halfway between 1 (0x3f80) and 1 + 2^-7 (0x3f81): goes to even 0x3f80.
  EXPECT_EQ(fp32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);
  // 1 + 3 * 2^-8 lies halfway between 0x3f81 and 0x3f82: goes to even 0x3f82.
  EXPECT_EQ(fp32_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82);
  EXPECT_EQ(fp32_to_bf16(std::nextafter(1.0f + std::ldexp(1.0f, -8), 2.0f)), 0x3f81);
  // The largest finite float rounds up to Inf.
  EXPECT_EQ(fp32_to_bf16(std::numeric_limits<float>::max()), 0x7f80);
}

// Against a direct search: of the two bf16 values around f, pick the nearer in double, ties
// to the even one.
TEST(Bf16Test, MatchesNearestEvenSearch) {
  for (uint64_t u = 0; u <= 0xffffffffu; u += 2039) {
    const float f = Bits(uint32_t(u));
    const uint16_t got = fp32_to_bf16(f);
    if (std::isnan(f)) {
      ASSERT_TRUE(std::isnan(bf16_to_fp32(got))) << std::hex << u;
      continue;
    }
    const uint32_t lo_bits = uint32_t(u) & 0xffff0000u;  // truncation toward zero
    const double lo = Bits(lo_bits);
    const double hi = lo_bits == 0x7f7f0000u || lo_bits == 0xff7f0000u
                          ? std::copysign(std::ldexp(1.0, 128), lo)  // next step is Inf
                          : double(Bits(lo_bits + 0x10000u));
    const double d_lo = std::fabs(double(f) - lo), d_hi = std::fabs(hi - double(f));
    uint16_t want = uint16_t(lo_bits >> 16);
    if (d_hi < d_lo || (d_hi == d_lo && (want & 1))) want = uint16_t(want + 1);
    if (std::isinf(f)) want = uint16_t(lo_bits >> 16);
    ASSERT_EQ(got, want) << "float bits 0x" << std::hex << u;
  }
}

// ---- traits ----

TEST(FormatTraitsTest, RowConversionsMatchScalarFunctions) {
  std::vector<float> src = {0.0f, 1.0f, -1.5f, 3.14159f, 1e-6f, -65504.0f, 1e5f};
  const int64_t n = int64_t(src.size());
  for (int i = 0; i < kWeightFormatCount; ++i) {
    const WeightFormat f = static_cast<WeightFormat>(i);
    const FormatTraits& t = GetFormatTraits(f);
    SCOPED_TRACE(t.name);
    std::vector<uint8_t> packed(size_t(RowBytes(f, n)));
    t.from_float_ref(src.data(), packed.data(), n);
    std::vector<float> back(n);
    t.to_float(packed.data(), back.data(), n);
    for (int64_t k = 0; k < n; ++k) {
      float want = src[k];
      uint16_t h;
      std::memcpy(&h, packed.data() + 2 * k, 2);
      if (f == WeightFormat::kF16) {
        want = fp16_to_fp32(fp32_to_fp16(src[k]));
        EXPECT_EQ(h, fp32_to_fp16(src[k]));
      } else if (f == WeightFormat::kBF16) {
        want = bf16_to_fp32(fp32_to_bf16(src[k]));
        EXPECT_EQ(h, fp32_to_bf16(src[k]));
      }
      EXPECT_EQ(back[k], want) << "element " << k;
    }
  }
  // The F16 row of 1e5 overflows to Inf, the BF16 row keeps it finite.
  uint16_t h;
  GetFormatTraits(WeightFormat::kF16).from_float_ref(&src[6], &h, 1);
  EXPECT_EQ(h, 0x7c00);
}

TEST(FormatTraitsTest, RowBytes) {
  EXPECT_EQ(RowBytes(WeightFormat::kF32, 0), 0);
  EXPECT_EQ(RowBytes(WeightFormat::kF32, 7), 28);
  EXPECT_EQ(RowBytes(WeightFormat::kF16, 7), 14);
  EXPECT_EQ(RowBytes(WeightFormat::kBF16, 4096), 8192);
  EXPECT_EQ(RowBytes(WeightFormat::kF32, 11008), 44032);
  for (int i = 0; i < kWeightFormatCount; ++i) {
    const WeightFormat f = static_cast<WeightFormat>(i);
    const FormatTraits& t = GetFormatTraits(f);
    EXPECT_GT(t.block_weights, 0) << t.name;
    EXPECT_GT(t.block_bytes, 0) << t.name;
    // A partial block is padded to a whole block.
    EXPECT_EQ(RowBytes(f, 1), t.block_bytes) << t.name;
    EXPECT_EQ(RowBytes(f, t.block_weights + 1), 2 * t.block_bytes) << t.name;
  }
}

TEST(FormatTraitsTest, FormatFromName) {
  WeightFormat f = WeightFormat::kBF16;
  ASSERT_TRUE(FormatFromName("f32", &f));
  EXPECT_EQ(f, WeightFormat::kF32);
  ASSERT_TRUE(FormatFromName("f16", &f));
  EXPECT_EQ(f, WeightFormat::kF16);
  ASSERT_TRUE(FormatFromName("bf16", &f));
  EXPECT_EQ(f, WeightFormat::kBF16);
  for (const char* bad : {"", "F32", "fp16", "bf16 ", "q4_0", "f3"})
    EXPECT_FALSE(FormatFromName(bad, &f)) << "'" << bad << "'";

  // Names are unique, lower case, and map back to their own enum value.
  std::set<std::string> names;
  for (int i = 0; i < kWeightFormatCount; ++i) {
    const std::string name = GetFormatTraits(static_cast<WeightFormat>(i)).name;
    EXPECT_TRUE(names.insert(name).second) << "duplicate name " << name;
    for (char c : name) EXPECT_FALSE(c >= 'A' && c <= 'Z') << name;
    ASSERT_TRUE(FormatFromName(name, &f));
    EXPECT_EQ(static_cast<int>(f), i);
  }
}

TEST(FormatTraitsTest, EnumValuesAreStable) {
  // These numbers are stored in the database and the .proto; they must never change.
  EXPECT_EQ(static_cast<int>(WeightFormat::kF32), 0);
  EXPECT_EQ(static_cast<int>(WeightFormat::kF16), 1);
  EXPECT_EQ(static_cast<int>(WeightFormat::kBF16), 2);
}

}  // namespace
}  // namespace squeeze
