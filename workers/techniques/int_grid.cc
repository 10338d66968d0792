// Integer grids split into scale / code / pack steps (see int_grid.h). The bit layouts are
// those documented in kernels/ref/quant_int.h, written through its block structs; the tests
// check that scales + codes + packing reproduce the reference quantizer byte for byte.
#include "techniques/int_grid.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "ref/quant_int.h"
#include "squeeze/kernels/fp16.h"

namespace squeeze {
namespace {

// Puts code q of weight k (0 <= k < B::kGroup) into block b, in the format's layout.
template <class B>
void PutCode(B* b, int k, int q) {
  if constexpr (B::kBits == 8) {
    using Code = std::remove_reference_t<decltype(b->qs[0])>;
    b->qs[k] = static_cast<Code>(q);
  } else if constexpr (B::kBits == 4) {
    // Per 32 weights 16 bytes: weight j < 16 in the low nibble of byte j, j + 16 in the high.
    b->qs[16 * (k / 32) + k % 16] |= uint8_t((q & 0xf) << (4 * ((k % 32) / 16)));
  } else {
    // Per 32 weights 4 * bits bytes: low 2 bits of weight j in byte j % 8 at bit 2 * (j / 8);
    // a 3-bit code's high bit in byte 8 + j % 4 at bit j / 4.
    constexpr int kBytesPer32 = 4 * B::kBits;
    b->qs[kBytesPer32 * (k / 32) + k % 8] |= uint8_t((q & 3) << (2 * ((k % 32) / 8)));
    if constexpr (B::kBits == 3) {
      b->qs[12 * (k / 32) + 8 + k % 4] |= uint8_t(((q >> 2) & 1) << ((k % 32) / 4));
    }
  }
}

template <class B>
void PackRow(const GroupScale* scales, const int* codes, int64_t cols, uint8_t* out) {
  constexpr int G = B::kGroup;
  const int64_t blocks = (cols + G - 1) / G;
  for (int64_t bi = 0; bi < blocks; ++bi) {
    B b;
    std::memset(&b, 0, sizeof(b));
    b.d = scales[bi].d_bits;
    if constexpr (B::kAsym) b.m = scales[bi].m_bits;
    const int len = int(std::min<int64_t>(G, cols - bi * G));
    for (int k = 0; k < len; ++k) PutCode(&b, k, codes[bi * G + k]);
    std::memcpy(out + bi * int64_t(sizeof(B)), &b, sizeof(B));
  }
}

using PackFn = void (*)(const GroupScale*, const int*, int64_t, uint8_t*);

struct GridRow {
  WeightFormat format;
  int bits;
  int group;
  bool asym;
  PackFn pack;
};

// clang-format off
constexpr GridRow kGrids[] = {
    {WeightFormat::kQ8G32, 8, 32, false, PackRow<block_q8_g32>},
    {WeightFormat::kQ8G64, 8, 64, false, PackRow<block_q8_g64>},
    {WeightFormat::kQ8G128, 8, 128, false, PackRow<block_q8_g128>},
    {WeightFormat::kQ8G32Asym, 8, 32, true, PackRow<block_q8_g32_asym>},
    {WeightFormat::kQ8G64Asym, 8, 64, true, PackRow<block_q8_g64_asym>},
    {WeightFormat::kQ8G128Asym, 8, 128, true, PackRow<block_q8_g128_asym>},
    {WeightFormat::kQ4G32, 4, 32, false, PackRow<block_q4_g32>},
    {WeightFormat::kQ4G64, 4, 64, false, PackRow<block_q4_g64>},
    {WeightFormat::kQ4G128, 4, 128, false, PackRow<block_q4_g128>},
    {WeightFormat::kQ4G32Asym, 4, 32, true, PackRow<block_q4_g32_asym>},
    {WeightFormat::kQ4G64Asym, 4, 64, true, PackRow<block_q4_g64_asym>},
    {WeightFormat::kQ4G128Asym, 4, 128, true, PackRow<block_q4_g128_asym>},
    {WeightFormat::kQ3G32, 3, 32, false, PackRow<block_q3_g32>},
    {WeightFormat::kQ3G64, 3, 64, false, PackRow<block_q3_g64>},
    {WeightFormat::kQ3G128, 3, 128, false, PackRow<block_q3_g128>},
    {WeightFormat::kQ3G32Asym, 3, 32, true, PackRow<block_q3_g32_asym>},
    {WeightFormat::kQ3G64Asym, 3, 64, true, PackRow<block_q3_g64_asym>},
    {WeightFormat::kQ3G128Asym, 3, 128, true, PackRow<block_q3_g128_asym>},
    {WeightFormat::kQ2G32, 2, 32, false, PackRow<block_q2_g32>},
    {WeightFormat::kQ2G64, 2, 64, false, PackRow<block_q2_g64>},
    {WeightFormat::kQ2G128, 2, 128, false, PackRow<block_q2_g128>},
    {WeightFormat::kQ2G32Asym, 2, 32, true, PackRow<block_q2_g32_asym>},
    {WeightFormat::kQ2G64Asym, 2, 64, true, PackRow<block_q2_g64_asym>},
    {WeightFormat::kQ2G128Asym, 2, 128, true, PackRow<block_q2_g128_asym>},
};
// clang-format on

const GridRow* FindGrid(WeightFormat f) {
  for (const GridRow& r : kGrids) {
    if (r.format == f) return &r;
  }
  return nullptr;
}

}  // namespace

std::string IntFormatName(int64_t bits, int64_t group, bool symmetric) {
  std::string name =
      group == 0 ? absl::StrCat("q", bits, "_channel") : absl::StrCat("q", bits, "_g", group);
  if (!symmetric) name += "_asym";
  return name;
}

absl::StatusOr<IntGrid> IntGridFor(WeightFormat f) {
  IntGrid g;
  g.format = f;
  if (f == WeightFormat::kQ8Channel) {
    g.bits = 8, g.group = 0, g.asym = false, g.min_code = -127, g.max_code = 127;
    return g;
  }
  const GridRow* r = FindGrid(f);
  if (r == nullptr) {
    const char* name = GetFormatTraits(f).name;
    return absl::InvalidArgumentError(
        absl::StrCat("format ", name ? name : "(unnamed)", " is not an integer group format"));
  }
  g.bits = r->bits, g.group = r->group, g.asym = r->asym;
  g.min_code = g.asym ? 0 : -((1 << (r->bits - 1)) - 1);
  g.max_code = g.asym ? (1 << r->bits) - 1 : (1 << (r->bits - 1)) - 1;
  return g;
}

GroupScale ComputeGroupScale(const IntGrid& g, const float* w, int64_t n) {
  GroupScale s;
  if (n <= 0) return s;
  if (g.asym) {
    float lo = w[0], hi = w[0];
    for (int64_t k = 1; k < n; ++k) {
      lo = std::min(lo, w[k]);
      hi = std::max(hi, w[k]);
    }
    s.d_bits = fp32_to_fp16((hi - lo) / float(g.max_code));
    s.m_bits = fp32_to_fp16(lo);
    s.d = fp16_to_fp32(s.d_bits);
    s.m = fp16_to_fp32(s.m_bits);
    return s;
  }
  float amax = 0.0f;
  for (int64_t k = 0; k < n; ++k) amax = std::max(amax, std::fabs(w[k]));
  if (g.group == 0) {
    s.d = amax / float(g.max_code);  // q8_channel: an f32 scale
  } else {
    s.d_bits = fp32_to_fp16(amax / float(g.max_code));
    s.d = fp16_to_fp32(s.d_bits);
  }
  return s;
}

int QuantizeToCode(const IntGrid& g, const GroupScale& s, float w) {
  if (s.d == 0.0f) return 0;
  float t = (g.asym ? w - s.m : w) / s.d;
  t = std::fmax(t, float(g.min_code));  // fmax(NaN, lo) == lo, as the reference quantizer
  t = std::fmin(t, float(g.max_code));
  return int(std::lround(t));
}

void FakeQuantizeRow(const IntGrid& g, const float* w, float* out, int64_t cols) {
  const int64_t group = g.group == 0 ? cols : g.group;
  for (int64_t c0 = 0; c0 < cols; c0 += group) {
    const int64_t n = std::min(group, cols - c0);
    const GroupScale s = ComputeGroupScale(g, w + c0, n);
    for (int64_t k = 0; k < n; ++k) out[c0 + k] = CodeValue(s, QuantizeToCode(g, s, w[c0 + k]));
  }
}

int64_t GroupsPerRow(const IntGrid& g, int64_t cols) {
  return g.group == 0 ? 1 : (cols + g.group - 1) / g.group;
}

void PackIntRow(const IntGrid& g, const GroupScale* scales, const int* codes, int64_t cols,
                uint8_t* out) {
  if (g.group == 0) {
    std::memcpy(out, &scales[0].d, 4);
    int8_t* qs = reinterpret_cast<int8_t*>(out + 4);
    for (int64_t c = 0; c < cols; ++c) qs[c] = int8_t(codes[c]);
    return;
  }
  FindGrid(g.format)->pack(scales, codes, cols, out);
}

}  // namespace squeeze
