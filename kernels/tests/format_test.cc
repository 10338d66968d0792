// Tests of the weight-format traits and the scalar F16/BF16 conversions against independent
// expectations: hand-computed bit patterns, ldexp decoding, the compiler's _Float16 and a
// nearest-value search in double for bf16.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "ref/quant_sparse.h"
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
  // The float formats; the integer formats are tested in quant_int tests below.
  for (int i = 0; i <= static_cast<int>(WeightFormat::kBF16); ++i) {
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
    EXPECT_GE(t.row_header_bytes, 0) << t.name;
    // A partial block is padded to a whole block.
    EXPECT_EQ(RowBytes(f, 1), t.row_header_bytes + t.block_bytes) << t.name;
    EXPECT_EQ(RowBytes(f, t.block_weights + 1), t.row_header_bytes + 2 * t.block_bytes) << t.name;
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
  EXPECT_EQ(static_cast<int>(WeightFormat::kQ8Channel), 3);
  EXPECT_EQ(static_cast<int>(WeightFormat::kQ8G32), 4);
  EXPECT_EQ(static_cast<int>(WeightFormat::kQ8G64), 5);
  EXPECT_EQ(static_cast<int>(WeightFormat::kQ8G128), 6);
  EXPECT_EQ(static_cast<int>(WeightFormat::kQ8G32Asym), 7);
  EXPECT_EQ(static_cast<int>(WeightFormat::kQ8G64Asym), 8);
  EXPECT_EQ(static_cast<int>(WeightFormat::kQ8G128Asym), 9);
  EXPECT_EQ(static_cast<int>(WeightFormat::kQ4G32), 10);
  EXPECT_EQ(static_cast<int>(WeightFormat::kQ4G64), 11);
  EXPECT_EQ(static_cast<int>(WeightFormat::kQ4G128), 12);
  EXPECT_EQ(static_cast<int>(WeightFormat::kQ4G32Asym), 13);
  EXPECT_EQ(static_cast<int>(WeightFormat::kQ4G64Asym), 14);
  EXPECT_EQ(static_cast<int>(WeightFormat::kQ4G128Asym), 15);
  EXPECT_EQ(static_cast<int>(WeightFormat::kNf4), 16);
  EXPECT_EQ(static_cast<int>(WeightFormat::kFp4), 17);
  EXPECT_EQ(static_cast<int>(WeightFormat::kFp8E4M3), 18);
  EXPECT_EQ(static_cast<int>(WeightFormat::kFp8E5M2), 19);
  EXPECT_EQ(static_cast<int>(WeightFormat::kQ3G32), 20);
  EXPECT_EQ(static_cast<int>(WeightFormat::kQ3G64), 21);
  EXPECT_EQ(static_cast<int>(WeightFormat::kQ3G128), 22);
  EXPECT_EQ(static_cast<int>(WeightFormat::kQ3G32Asym), 23);
  EXPECT_EQ(static_cast<int>(WeightFormat::kQ3G64Asym), 24);
  EXPECT_EQ(static_cast<int>(WeightFormat::kQ3G128Asym), 25);
  EXPECT_EQ(static_cast<int>(WeightFormat::kQ2G32), 26);
  EXPECT_EQ(static_cast<int>(WeightFormat::kQ2G64), 27);
  EXPECT_EQ(static_cast<int>(WeightFormat::kQ2G128), 28);
  EXPECT_EQ(static_cast<int>(WeightFormat::kQ2G32Asym), 29);
  EXPECT_EQ(static_cast<int>(WeightFormat::kQ2G64Asym), 30);
  EXPECT_EQ(static_cast<int>(WeightFormat::kQ2G128Asym), 31);
  EXPECT_EQ(static_cast<int>(WeightFormat::kW8A8), 32);
  EXPECT_EQ(static_cast<int>(WeightFormat::kTf32), 33);
  EXPECT_EQ(static_cast<int>(WeightFormat::kSp24F32), 34);
  EXPECT_EQ(static_cast<int>(WeightFormat::kSp24F16), 35);
  EXPECT_EQ(static_cast<int>(WeightFormat::kSp48F32), 36);
  EXPECT_EQ(static_cast<int>(WeightFormat::kSp48F16), 37);
  EXPECT_EQ(kWeightFormatCount, 38);
}

// ---- integer formats ----

// The spec of each integer format, written out independently of the traits table.
struct IntSpec {
  const char* name;
  WeightFormat format;
  int value;  // enum value
  int bits;   // 8, 4, 3 or 2
  int group;  // weights per block; 0 for q8_channel (one f32 scale per row)
  bool asym;
};
constexpr IntSpec kIntSpecs[] = {
    {"q8_channel", WeightFormat::kQ8Channel, 3, 8, 0, false},
    {"q8_g32", WeightFormat::kQ8G32, 4, 8, 32, false},
    {"q8_g64", WeightFormat::kQ8G64, 5, 8, 64, false},
    {"q8_g128", WeightFormat::kQ8G128, 6, 8, 128, false},
    {"q8_g32_asym", WeightFormat::kQ8G32Asym, 7, 8, 32, true},
    {"q8_g64_asym", WeightFormat::kQ8G64Asym, 8, 8, 64, true},
    {"q8_g128_asym", WeightFormat::kQ8G128Asym, 9, 8, 128, true},
    {"q4_g32", WeightFormat::kQ4G32, 10, 4, 32, false},
    {"q4_g64", WeightFormat::kQ4G64, 11, 4, 64, false},
    {"q4_g128", WeightFormat::kQ4G128, 12, 4, 128, false},
    {"q4_g32_asym", WeightFormat::kQ4G32Asym, 13, 4, 32, true},
    {"q4_g64_asym", WeightFormat::kQ4G64Asym, 14, 4, 64, true},
    {"q4_g128_asym", WeightFormat::kQ4G128Asym, 15, 4, 128, true},
    {"q3_g32", WeightFormat::kQ3G32, 20, 3, 32, false},
    {"q3_g64", WeightFormat::kQ3G64, 21, 3, 64, false},
    {"q3_g128", WeightFormat::kQ3G128, 22, 3, 128, false},
    {"q3_g32_asym", WeightFormat::kQ3G32Asym, 23, 3, 32, true},
    {"q3_g64_asym", WeightFormat::kQ3G64Asym, 24, 3, 64, true},
    {"q3_g128_asym", WeightFormat::kQ3G128Asym, 25, 3, 128, true},
    {"q2_g32", WeightFormat::kQ2G32, 26, 2, 32, false},
    {"q2_g64", WeightFormat::kQ2G64, 27, 2, 64, false},
    {"q2_g128", WeightFormat::kQ2G128, 28, 2, 128, false},
    {"q2_g32_asym", WeightFormat::kQ2G32Asym, 29, 2, 32, true},
    {"q2_g64_asym", WeightFormat::kQ2G64Asym, 30, 2, 64, true},
    {"q2_g128_asym", WeightFormat::kQ2G128Asym, 31, 2, 128, true},
    // w8a8 stores its weights exactly as q8_channel (its inputs are quantized by the kernels).
    {"w8a8", WeightFormat::kW8A8, 32, 8, 0, false},
};

// Largest code magnitude: symmetric codes use [-(2^(b-1)-1), 2^(b-1)-1], asymmetric [0, 2^b-1].
int MaxCode(const IntSpec& s) {
  return s.asym ? (1 << s.bits) - 1 : (1 << (s.bits - 1)) - 1;
}
// Header bytes per block: f16 d, plus f16 m when asymmetric.
int HeaderBytes(const IntSpec& s) {
  return s.asym ? 4 : 2;
}
int64_t SpecRowBytes(const IntSpec& s, int64_t cols) {
  if (s.group == 0) return 4 + cols;
  const int64_t blocks = (cols + s.group - 1) / s.group;
  return blocks * (HeaderBytes(s) + s.group * s.bits / 8);
}

// Decodes the code of weight k of a block from the spec's layout (8-bit: byte k; 4-bit: each
// 32 weights use 16 bytes, weight j < 16 in the low nibble of byte j, j + 16 in the high one;
// 2-bit: each 32 weights use 8 bytes, byte i holding weights i, i + 8, i + 16, i + 24 from its
// low bits up; 3-bit: each 32 weights use 12 bytes, the low two bits as 2-bit codes, then 4
// bytes of high bits, weight j's in bit j / 4 of byte 8 + j % 4; symmetric codes are two's
// complement).
int SpecCode(const IntSpec& s, const uint8_t* qs, int k) {
  if (s.bits == 8) return s.asym ? int(qs[k]) : int(int8_t(qs[k]));
  int raw;
  if (s.bits == 4) {
    const uint8_t byte = qs[16 * (k / 32) + k % 16];
    raw = (k % 32) < 16 ? (byte & 0xf) : (byte >> 4);
  } else {
    const uint8_t* chunk = qs + (s.bits == 3 ? 12 : 8) * (k / 32);
    const int j = k % 32;
    const uint8_t byte = chunk[j % 8];
    const int low = j < 8    ? byte & 3
                    : j < 16 ? (byte >> 2) & 3
                    : j < 24 ? (byte >> 4) & 3
                             : byte >> 6;
    raw = s.bits == 3 ? low + 4 * ((chunk[8 + j % 4] >> (j / 4)) & 1) : low;
  }
  const int half = 1 << (s.bits - 1);
  return s.asym ? raw : (raw >= half ? raw - 2 * half : raw);
}

// Per-weight facts decoded from a packed row with the spec alone.
struct Decoded {
  std::vector<float> value;  // d * q (+ m), or s * q
  std::vector<int> code;
  std::vector<float> d, m;     // scale and minimum of the weight's block (or row)
  std::vector<int> pad_codes;  // codes of the padding weights of the last block
};

Decoded SpecDecode(const IntSpec& s, const uint8_t* row, int64_t cols) {
  Decoded out;
  if (s.group == 0) {
    float scale;
    std::memcpy(&scale, row, 4);
    for (int64_t c = 0; c < cols; ++c) {
      const int q = int8_t(row[4 + c]);
      out.code.push_back(q);
      out.value.push_back(scale * float(q));
      out.d.push_back(scale);
      out.m.push_back(0.0f);
    }
    return out;
  }
  const int block_bytes = HeaderBytes(s) + s.group * s.bits / 8;
  const int64_t blocks = (cols + s.group - 1) / s.group;
  for (int64_t b = 0; b < blocks; ++b) {
    const uint8_t* blk = row + b * block_bytes;
    uint16_t dh, mh = 0;
    std::memcpy(&dh, blk, 2);
    if (s.asym) std::memcpy(&mh, blk + 2, 2);
    const float d = fp16_to_fp32(dh), m = fp16_to_fp32(mh);
    const uint8_t* qs = blk + HeaderBytes(s);
    for (int k = 0; k < s.group; ++k) {
      const int q = SpecCode(s, qs, k);
      if (b * s.group + k >= cols) {
        out.pad_codes.push_back(q);
        continue;
      }
      out.code.push_back(q);
      out.value.push_back(d * float(q) + m);
      out.d.push_back(d);
      out.m.push_back(m);
    }
  }
  return out;
}

TEST(IntFormatTest, NamesEnumValuesAndTraits) {
  for (const IntSpec& s : kIntSpecs) {
    SCOPED_TRACE(s.name);
    EXPECT_EQ(static_cast<int>(s.format), s.value);
    WeightFormat f = WeightFormat::kF32;
    ASSERT_TRUE(FormatFromName(s.name, &f));
    EXPECT_EQ(f, s.format);
    const FormatTraits& t = GetFormatTraits(s.format);
    EXPECT_STREQ(t.name, s.name);
    EXPECT_EQ(t.block_weights, s.group == 0 ? 1 : s.group);
    EXPECT_EQ(t.row_header_bytes, s.group == 0 ? 4 : 0);
  }
  // 3 float formats, the integer ones (w8a8 included), 4 low-bit float ones
  // (quant_float_test.cc), tf32 (quant_act_test.cc) and 4 N:M sparse ones (below).
  EXPECT_EQ(3 + int(sizeof(kIntSpecs) / sizeof(kIntSpecs[0])) + 4 + 1 + 4, kWeightFormatCount);
  WeightFormat f;
  for (const char* bad :
       {"q4", "q4_g32_sym", "Q4_G32", "q8_g16", "q4_g32asym", "q8_chan", "q3_g16", "q2_channel"})
    EXPECT_FALSE(FormatFromName(bad, &f)) << bad;
}

TEST(IntFormatTest, RowBytes) {
  for (const IntSpec& s : kIntSpecs) {
    for (int64_t cols : {1, 32, 172, 4096})
      EXPECT_EQ(RowBytes(s.format, cols), SpecRowBytes(s, cols)) << s.name << " cols=" << cols;
  }
  // A few by hand: q4_g32 at 4096 columns is 128 blocks of 18 bytes; q8_g128_asym at 172 is
  // 2 blocks of 4 + 128 bytes; q8_channel is 4 + cols.
  EXPECT_EQ(RowBytes(WeightFormat::kQ4G32, 4096), 2304);
  EXPECT_EQ(RowBytes(WeightFormat::kQ8G128Asym, 172), 264);
  EXPECT_EQ(RowBytes(WeightFormat::kQ8Channel, 172), 176);
  EXPECT_EQ(RowBytes(WeightFormat::kQ4G64Asym, 1), 36);
  // q3_g32 at 4096: 128 blocks of 2 + 12 bytes; q3_g128_asym at 172: 2 blocks of 4 + 48;
  // q2_g64 at 4096: 64 blocks of 2 + 16; q2_g32_asym at 1: one block of 4 + 8.
  EXPECT_EQ(RowBytes(WeightFormat::kQ3G32, 4096), 1792);
  EXPECT_EQ(RowBytes(WeightFormat::kQ3G128Asym, 172), 104);
  EXPECT_EQ(RowBytes(WeightFormat::kQ2G64, 4096), 1152);
  EXPECT_EQ(RowBytes(WeightFormat::kQ2G32Asym, 1), 12);
}

// Blocks built by hand decode to the values the layout promises.
TEST(IntFormatTest, HandBuiltBlocksDecode) {
  {  // q4_g32: d = 0.5; byte 0 = 0x9f: weight 0 = 0xf = -1, weight 16 = 0x9 = -7.
    uint8_t blk[18] = {};
    const uint16_t d = 0x3800;
    std::memcpy(blk, &d, 2);
    blk[2 + 0] = 0x9f;
    blk[2 + 1] = 0x71;   // weight 1 = 1, weight 17 = 7
    blk[2 + 15] = 0x08;  // weight 15 = 8 (-8, the unused code still decodes), weight 31 = 0
    std::vector<float> y(32);
    GetFormatTraits(WeightFormat::kQ4G32).to_float(blk, y.data(), 32);
    EXPECT_EQ(y[0], -0.5f);
    EXPECT_EQ(y[16], -3.5f);
    EXPECT_EQ(y[1], 0.5f);
    EXPECT_EQ(y[17], 3.5f);
    EXPECT_EQ(y[15], -4.0f);
    EXPECT_EQ(y[31], 0.0f);
    EXPECT_EQ(y[5], 0.0f);
  }
  {  // q4_g32_asym: d = 1, m = -2; byte 0 = 0xf0: weight 0 = 0 -> -2, weight 16 = 15 -> 13.
    uint8_t blk[20] = {};
    const uint16_t d = 0x3c00, m = 0xc000;
    std::memcpy(blk, &d, 2);
    std::memcpy(blk + 2, &m, 2);
    blk[4 + 0] = 0xf0;
    std::vector<float> y(32);
    GetFormatTraits(WeightFormat::kQ4G32Asym).to_float(blk, y.data(), 32);
    EXPECT_EQ(y[0], -2.0f);
    EXPECT_EQ(y[16], 13.0f);
    EXPECT_EQ(y[1], -2.0f);
  }
  {  // q8_g64_asym: d = 0.25, m = 1; code 255 -> 64.75, code 0 -> 1.
    uint8_t blk[68] = {};
    const uint16_t d = 0x3400, m = 0x3c00;
    std::memcpy(blk, &d, 2);
    std::memcpy(blk + 2, &m, 2);
    blk[4 + 63] = 255;
    std::vector<float> y(64);
    GetFormatTraits(WeightFormat::kQ8G64Asym).to_float(blk, y.data(), 64);
    EXPECT_EQ(y[63], 64.75f);
    EXPECT_EQ(y[0], 1.0f);
  }
  {  // q3_g32: d = 0.5. Low 2 bits in bytes 0..7 (weight j: byte j % 8, bits 2 * (j / 8)),
     // high bits in bytes 8..11 (weight j: byte 8 + j % 4, bit j / 4).
    uint8_t blk[14] = {};
    const uint16_t d = 0x3800;
    std::memcpy(blk, &d, 2);
    blk[2 + 0] = 0x01;   // weight 0: low 01
    blk[2 + 8] = 0x03;   // weight 0: high 1 -> 101 = -3; weight 4: high 1 -> 100 = -4
    blk[2 + 1] = 0x0c;   // weight 9: low 11, high 0 -> 3
    blk[2 + 4] = 0x20;   // weight 20: low 10, high 0 -> 2
    blk[2 + 7] = 0xc0;   // weight 31: low 11
    blk[2 + 11] = 0x80;  // weight 31: high 1 -> 111 = -1
    std::vector<float> y(32);
    GetFormatTraits(WeightFormat::kQ3G32).to_float(blk, y.data(), 32);
    EXPECT_EQ(y[0], -1.5f);
    EXPECT_EQ(y[4], -2.0f);  // the unused code -4 still decodes
    EXPECT_EQ(y[9], 1.5f);
    EXPECT_EQ(y[20], 1.0f);
    EXPECT_EQ(y[31], -0.5f);
    EXPECT_EQ(y[1], 0.0f);
  }
  {  // q3_g64_asym: d = 1, m = -2; second 32 weights: weight 32 + 17 = code 7 -> 5.
    uint8_t blk[28] = {};
    const uint16_t d = 0x3c00, m = 0xc000;
    std::memcpy(blk, &d, 2);
    std::memcpy(blk + 2, &m, 2);
    blk[4 + 12 + 1] = 0x30;      // weight 49: low 11 (byte 1, bits 4-5)
    blk[4 + 12 + 8 + 1] = 0x10;  // weight 49: high bit (byte 8 + 1, bit 4)
    std::vector<float> y(64);
    GetFormatTraits(WeightFormat::kQ3G64Asym).to_float(blk, y.data(), 64);
    EXPECT_EQ(y[49], 5.0f);
    EXPECT_EQ(y[17], -2.0f);
    EXPECT_EQ(y[48], -2.0f);
  }
  {  // q2_g32_asym: d = 1, m = -2; byte 3 = 0b11100100: weights 3, 11, 19, 27 = 0, 1, 2, 3.
    uint8_t blk[12] = {};
    const uint16_t d = 0x3c00, m = 0xc000;
    std::memcpy(blk, &d, 2);
    std::memcpy(blk + 2, &m, 2);
    blk[4 + 3] = 0xe4;
    std::vector<float> y(32);
    GetFormatTraits(WeightFormat::kQ2G32Asym).to_float(blk, y.data(), 32);
    EXPECT_EQ(y[3], -2.0f);
    EXPECT_EQ(y[11], -1.0f);
    EXPECT_EQ(y[19], 0.0f);
    EXPECT_EQ(y[27], 1.0f);
  }
  {  // q2_g64: d = 0.25; second 32 weights: byte 0 = 0b1101: weight 32 = 1, weight 40 = 11 =
     // -1; byte 1 = 0x80: weight 57 = 10 = -2 (the unused code still decodes).
    uint8_t blk[18] = {};
    const uint16_t d = 0x3400;
    std::memcpy(blk, &d, 2);
    blk[2 + 8 + 0] = 0x0d;
    blk[2 + 8 + 1] = 0x80;
    std::vector<float> y(64);
    GetFormatTraits(WeightFormat::kQ2G64).to_float(blk, y.data(), 64);
    EXPECT_EQ(y[32], 0.25f);
    EXPECT_EQ(y[40], -0.25f);
    EXPECT_EQ(y[57], -0.5f);
    EXPECT_EQ(y[48], 0.0f);
    EXPECT_EQ(y[0], 0.0f);
  }
  {  // q8_channel: scale 0.125, codes -127 and 3.
    uint8_t row[6];
    const float s = 0.125f;
    std::memcpy(row, &s, 4);
    row[4] = uint8_t(int8_t(-127));
    row[5] = 3;
    std::vector<float> y(2);
    GetFormatTraits(WeightFormat::kQ8Channel).to_float(row, y.data(), 2);
    EXPECT_EQ(y[0], -15.875f);
    EXPECT_EQ(y[1], 0.375f);
  }
}

// Random rows: to_float agrees with the spec's own decoding, codes are in range, padding codes
// are zero, and every weight is within the rounding bound of its block:
//   symmetric:  |w - deq| <= max(d/2, amax - qmax*d)           (the second term: w clamped to
//               qmax because d was rounded down to f16; it is at most qmax*d*2^-11 < d/2)
//   asymmetric: |w - deq| <= max(d/2, m - min, max - m - qmax*d)  (clamped at either end
//               because m and d were rounded to f16)
// plus a relative 2^-20 for the float division and the final + m.
TEST(IntFormatTest, RoundTripWithinScaleBound) {
  std::mt19937 rng(3);
  for (const IntSpec& s : kIntSpecs) {
    for (int64_t cols : {1, 31, 32, 33, 172, 4096}) {
      for (float range : {1.0f, 0.01f, 300.0f}) {
        SCOPED_TRACE(std::string(s.name) + " cols=" + std::to_string(cols) +
                     " range=" + std::to_string(range));
        // Shifted so that asymmetric blocks have a non-zero minimum.
        std::uniform_real_distribution<float> dist(-0.5f * range, range);
        std::vector<float> w(cols);
        for (float& v : w) v = dist(rng);
        const FormatTraits& t = GetFormatTraits(s.format);
        std::vector<uint8_t> packed(size_t(RowBytes(s.format, cols)) + 8, 0xa5);
        t.from_float_ref(w.data(), packed.data(), cols);
        for (size_t i = size_t(RowBytes(s.format, cols)); i < packed.size(); ++i)
          ASSERT_EQ(packed[i], 0xa5) << "wrote past RowBytes at " << i;
        std::vector<float> back(cols);
        t.to_float(packed.data(), back.data(), cols);
        const Decoded dec = SpecDecode(s, packed.data(), cols);
        ASSERT_EQ(int64_t(dec.value.size()), cols);
        for (int q : dec.pad_codes) ASSERT_EQ(q, 0) << "padding code";
        const int qmax = MaxCode(s);
        const int64_t group = s.group == 0 ? cols : s.group;
        for (int64_t c = 0; c < cols; ++c) {
          ASSERT_EQ(back[c], dec.value[c]) << "column " << c;
          ASSERT_LE(dec.code[c], qmax) << "column " << c;
          ASSERT_GE(dec.code[c], s.asym ? 0 : -qmax) << "column " << c;
          // Block statistics of the real (unpadded) weights.
          const int64_t b0 = c / group * group, b1 = std::min(b0 + group, cols);
          float lo = w[b0], hi = w[b0], amax = 0;
          for (int64_t k = b0; k < b1; ++k) {
            lo = std::min(lo, w[k]);
            hi = std::max(hi, w[k]);
            amax = std::max(amax, std::fabs(w[k]));
          }
          const double d = dec.d[c], m = dec.m[c];
          double bound = s.asym ? std::max({d / 2, m - lo, hi - m - qmax * d})
                                : std::max(d / 2, amax - qmax * d);
          bound += std::ldexp(std::fabs(double(w[c])) + d + std::fabs(m), -20);
          ASSERT_LE(std::fabs(double(w[c]) - double(back[c])), bound)
              << "column " << c << " w=" << w[c] << " d=" << d << " m=" << m;
          // The scale itself is the one the format defines, up to its rounding to f16
          // (half an ulp: 2^-11 relative, or 2^-25 absolute among the f16 subnormals).
          const double want_d = s.asym ? (double(hi) - lo) / qmax : double(amax) / qmax;
          const double d_tol =
              s.group == 0 ? want_d * 1e-6 : want_d * std::ldexp(1.0, -11) + std::ldexp(1.0, -25);
          ASSERT_LE(std::fabs(d - want_d), d_tol) << "column " << c;
        }
      }
    }
  }
}

// Values already on a block's grid (with the grid's end points present, so that the scale
// comes out exact) survive quantize -> dequantize exactly.
TEST(IntFormatTest, ValuesOnTheGridAreExact) {
  std::mt19937 rng(5);
  for (const IntSpec& s : kIntSpecs) {
    for (int64_t cols : {1, 2, 32, 172, 1000}) {
      SCOPED_TRACE(std::string(s.name) + " cols=" + std::to_string(cols));
      const int qmax = MaxCode(s);
      // f16-exact scale and minimum (q8_channel's f32 scale is also exact: 2^-7).
      const float d = s.group == 0 ? 0.0078125f : 0.015625f, m = s.asym ? -0.75f : 0.0f;
      std::uniform_int_distribution<int> code(s.asym ? 0 : -qmax, qmax);
      const int64_t group = s.group == 0 ? cols : s.group;
      std::vector<float> w(cols);
      for (int64_t c = 0; c < cols; ++c) {
        int q = code(rng);
        const int64_t k = c % group, len = std::min(group, cols - c / group * group);
        if (k == 0) q = qmax;  // the top of the grid
        if (k == len - 1 && len > 1) q = s.asym ? 0 : (c % 2 ? -qmax : qmax);  // and the bottom
        if (len == 1 && s.asym) q = 0;  // a lone value is the block's min: code 0
        w[c] = d * float(q) + m;
      }
      const FormatTraits& t = GetFormatTraits(s.format);
      std::vector<uint8_t> packed(size_t(RowBytes(s.format, cols)));
      t.from_float_ref(w.data(), packed.data(), cols);
      std::vector<float> back(cols);
      t.to_float(packed.data(), back.data(), cols);
      for (int64_t c = 0; c < cols; ++c) ASSERT_EQ(back[c], w[c]) << "column " << c;
    }
  }
}

// A row of zeros packs to all-zero bytes (d = 0, m = 0, codes 0) and decodes to exact zeros;
// no division by a zero scale leaks NaN.
TEST(IntFormatTest, ZeroRows) {
  for (const IntSpec& s : kIntSpecs) {
    for (int64_t cols : {1, 33, 172}) {
      SCOPED_TRACE(std::string(s.name) + " cols=" + std::to_string(cols));
      const FormatTraits& t = GetFormatTraits(s.format);
      std::vector<float> w(cols, 0.0f), back(cols, 1.0f);
      std::vector<uint8_t> packed(size_t(RowBytes(s.format, cols)), 0xff);
      t.from_float_ref(w.data(), packed.data(), cols);
      for (size_t i = 0; i < packed.size(); ++i) ASSERT_EQ(packed[i], 0) << "byte " << i;
      t.to_float(packed.data(), back.data(), cols);
      for (int64_t c = 0; c < cols; ++c) ASSERT_EQ(back[c], 0.0f) << "column " << c;
      // A constant non-zero row: symmetric formats reproduce it (q = +-qmax); asymmetric ones
      // keep d = 0 and give m, the f16 rounding of the value.
      std::vector<float> k(cols, -0.3f);
      t.from_float_ref(k.data(), packed.data(), cols);
      t.to_float(packed.data(), back.data(), cols);
      const float want = s.asym ? fp16_to_fp32(fp32_to_fp16(-0.3f)) : -0.3f;
      for (int64_t c = 0; c < cols; ++c)
        ASSERT_NEAR(back[c], want, s.asym ? 0.0 : 0.3 * std::ldexp(1.0, -10)) << "column " << c;
    }
  }
}

// ---- N:M sparse formats ----

struct SparseSpec {
  const char* name;
  WeightFormat format;
  int n, m;   // n of every m weights kept
  int bytes;  // per 32 weights
  bool f16;   // kept values rounded to f16
};
constexpr SparseSpec kSparseSpecs[] = {
    {"sp24_f32", WeightFormat::kSp24F32, 2, 4, 68, false},
    {"sp24_f16", WeightFormat::kSp24F16, 2, 4, 36, true},
    {"sp48_f32", WeightFormat::kSp48F32, 4, 8, 72, false},
    {"sp48_f16", WeightFormat::kSp48F16, 4, 8, 40, true},
};

// The row as the reference quantizer should leave it, worked out independently: in each
// group of m, the n largest magnitudes (the lower column on ties) survive, f16-rounded when
// the format stores f16; the rest are zero.
std::vector<float> KeepLargest(const std::vector<float>& w, const SparseSpec& s) {
  std::vector<float> out(w.size(), 0.0f);
  for (size_t g = 0; g < w.size(); g += s.m) {
    std::vector<size_t> order;
    for (size_t i = g; i < std::min(w.size(), g + s.m); ++i) order.push_back(i);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return std::fabs(w[a]) > std::fabs(w[b]); });
    for (size_t k = 0; k < order.size() && int(k) < s.n; ++k) {
      const float v = w[order[k]];
      out[order[k]] = s.f16 ? fp16_to_fp32(fp32_to_fp16(v)) : v;
    }
  }
  return out;
}

TEST(SparseFormatTest, TraitsAndRowBytes) {
  for (const SparseSpec& s : kSparseSpecs) {
    const FormatTraits& t = GetFormatTraits(s.format);
    EXPECT_STREQ(t.name, s.name);
    EXPECT_EQ(t.block_weights, 32) << s.name;
    EXPECT_EQ(t.block_bytes, s.bytes) << s.name;
    EXPECT_EQ(RowBytes(s.format, 100), 4 * s.bytes) << s.name;  // 3 blocks + a padded one
  }
}

// Round trip: exactly n of every m weights survive (the largest), bit for bit, for rows that
// end in a partial group and a partial block.
TEST(SparseFormatTest, KeepsTheLargestNOfEveryM) {
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (const SparseSpec& s : kSparseSpecs) {
    for (int64_t cols : {1, 5, 32, 33, 64, 100, 250}) {
      SCOPED_TRACE(std::string(s.name) + " cols " + std::to_string(cols));
      std::vector<float> w(cols), back(cols);
      for (float& v : w) v = dist(rng);
      w[0] = 0.0f;  // a zero among the kept ones must not disturb the count
      std::vector<uint8_t> packed(RowBytes(s.format, cols), 0xab);
      GetFormatTraits(s.format).from_float_ref(w.data(), packed.data(), cols);
      GetFormatTraits(s.format).to_float(packed.data(), back.data(), cols);
      EXPECT_EQ(back, KeepLargest(w, s));
      int64_t zeros = 0;
      for (int64_t c = 0; c < cols / s.m * s.m; ++c) zeros += back[c] == 0.0f;
      EXPECT_GE(zeros, cols / s.m * (s.m - s.n));
    }
  }
}

// A hand-built 2:4 block: index field and values decode to the right columns.
TEST(SparseFormatTest, HandBuiltBlockDecodes) {
  block_sp24_f32 b = {};
  // Group 0 keeps columns 1 and 3, group 1 columns 0 and 2, the rest columns 2 and 3.
  uint32_t idx = 0;
  const int pos[16] = {1, 3, 0, 2, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3};
  for (int j = 0; j < 16; ++j) {
    idx |= uint32_t(pos[j]) << (2 * j);
    b.v[j] = float(j + 1);
  }
  b.idx = idx;
  float out[32];
  GetFormatTraits(WeightFormat::kSp24F32).to_float(&b, out, 32);
  for (int c = 0; c < 32; ++c) {
    const int g = c / 4, p = c % 4;
    float want = 0.0f;
    if (pos[2 * g] == p) want = float(2 * g + 1);
    if (pos[2 * g + 1] == p) want = float(2 * g + 2);
    EXPECT_EQ(out[c], want) << "column " << c;
  }
}

}  // namespace
}  // namespace squeeze
