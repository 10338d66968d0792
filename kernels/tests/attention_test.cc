// Attention micro-kernels: the reference against double-precision formulas, every SIMD
// version against the reference on shapes that are not multiples of the vector width, with
// strides wider than the rows and sentinels around the outputs.
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "squeeze/kernels/attention.h"

namespace squeeze {
namespace {

std::vector<float> Random(int64_t n, float scale, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = nd(rng);
  return v;
}

constexpr float kSentinel = 12345.0f;

struct Shape {
  int64_t rows, cols, head_dim;
};
const Shape kShapes[] = {{1, 1, 8},    {1, 37, 64},  {2, 32, 64},   {3, 33, 48}, {7, 65, 8},
                         {32, 64, 64}, {5, 100, 17}, {16, 31, 128}, {4, 9, 256}, {2, 5, 260}};

std::vector<Isa> SimdIsas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
    if (IsaSupported(isa)) out.push_back(isa);
  }
  return out;
}

TEST(AttentionKernelsTest, ReferenceScoresAndAccumulateMatchDoubleFormulas) {
  const int64_t rows = 3, cols = 5, hd = 7;
  const std::vector<float> q = Random(rows * hd, 1, 1), k = Random(cols * hd, 1, 2),
                           v = Random(cols * hd, 1, 3), p = Random(rows * cols, 1, 4);
  std::vector<float> s(rows * cols), o(rows * hd, 0.5f);
  attention_scores_ref(q.data(), hd, k.data(), hd, rows, cols, hd, 0.25f, s.data(), cols);
  attention_accumulate_ref(p.data(), cols, v.data(), hd, rows, cols, hd, o.data(), hd);
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) {
      double want = 0;
      for (int64_t d = 0; d < hd; ++d) want += double(q[i * hd + d]) * k[j * hd + d];
      EXPECT_NEAR(s[i * cols + j], 0.25 * want, 1e-6);
    }
    for (int64_t d = 0; d < hd; ++d) {
      double want = 0.5;
      for (int64_t j = 0; j < cols; ++j) want += double(p[i * cols + j]) * v[j * hd + d];
      EXPECT_NEAR(o[i * hd + d], want, 1e-5);
    }
  }
}

TEST(AttentionKernelsTest, ReferenceExpSumIsTheSoftmaxNumerator) {
  std::vector<float> x = {0.0f, -1.0f, 2.0f, -std::numeric_limits<float>::infinity(), -100.0f};
  const float sum = exp_sum_ref(x.data(), int64_t(x.size()), 2.0f);
  EXPECT_FLOAT_EQ(x[0], std::exp(-2.0f));
  EXPECT_FLOAT_EQ(x[2], 1.0f);
  EXPECT_EQ(x[3], 0.0f);
  EXPECT_NEAR(sum, std::exp(-2.0) + std::exp(-3.0) + 1.0 + std::exp(-102.0), 1e-6);
}

// Sums in another order: |simd - ref| <= 1e-5 * (1 + |ref|) for O(1) inputs over <= 260 terms.
TEST(AttentionKernelsTest, SimdScoresAndAccumulateMatchReference) {
  for (Isa isa : SimdIsas()) {
    const AttentionTileKernels& kk = GetAttentionTileKernels(isa);
    for (const Shape& sh : kShapes) {
      const int64_t ldq = sh.head_dim + 3, ldk = sh.head_dim + 5, lds = sh.cols + 2;
      const std::vector<float> q = Random(sh.rows * ldq, 1, 5), k = Random(sh.cols * ldk, 1, 6);
      std::vector<float> want(sh.rows * lds + 4, kSentinel), got(want);
      attention_scores_ref(q.data(), ldq, k.data(), ldk, sh.rows, sh.cols, sh.head_dim, 0.125f,
                           want.data(), lds);
      kk.scores(q.data(), ldq, k.data(), ldk, sh.rows, sh.cols, sh.head_dim, 0.125f, got.data(),
                lds);
      for (size_t i = 0; i < got.size(); ++i)
        ASSERT_NEAR(got[i], want[i], 1e-5 * (1 + std::abs(want[i])))
            << IsaName(isa) << " scores " << sh.rows << "x" << sh.cols << "x" << sh.head_dim
            << " at " << i;

      const int64_t ldp = sh.cols + 1, ldv = sh.head_dim + 4, ldo = sh.head_dim + 2;
      const std::vector<float> p = Random(sh.rows * ldp, 0.5, 7), v = Random(sh.cols * ldv, 1, 8);
      std::vector<float> o_want(sh.rows * ldo + 4, kSentinel);
      for (int64_t i = 0; i < sh.rows; ++i) {
        for (int64_t d = 0; d < sh.head_dim; ++d) o_want[i * ldo + d] = 0.1f * float(d % 5);
      }
      std::vector<float> o_got(o_want);
      attention_accumulate_ref(p.data(), ldp, v.data(), ldv, sh.rows, sh.cols, sh.head_dim,
                               o_want.data(), ldo);
      kk.accumulate(p.data(), ldp, v.data(), ldv, sh.rows, sh.cols, sh.head_dim, o_got.data(), ldo);
      for (size_t i = 0; i < o_got.size(); ++i)
        ASSERT_NEAR(o_got[i], o_want[i], 1e-5 * (1 + std::abs(o_want[i])))
            << IsaName(isa) << " accumulate " << sh.rows << "x" << sh.cols << "x" << sh.head_dim
            << " at " << i;
    }
  }
}

// The polynomial exp: relative error below 2e-7 against std::exp in double of the same f32
// argument x - m, 0 for -inf and for arguments below the float range.
TEST(AttentionKernelsTest, SimdExpSumMatchesReference) {
  for (Isa isa : SimdIsas()) {
    const AttentionTileKernels& kk = GetAttentionTileKernels(isa);
    for (int64_t n : {1, 7, 8, 9, 64, 1000}) {
      std::vector<float> x = Random(n, 10, uint32_t(n));
      if (n > 2) x[1] = -std::numeric_limits<float>::infinity();
      if (n > 3) x[2] = -500.0f;
      float m = -1e30f;
      for (float v : x) m = std::max(m, v);
      std::vector<float> got(x);
      const float sum = kk.exp_sum(got.data(), n, m);
      double want_sum = 0;
      for (int64_t j = 0; j < n; ++j) {
        const double want = std::exp(double(x[j] - m));
        want_sum += want;
        if (want < 1e-37) {
          EXPECT_LE(got[j], 1e-37f) << IsaName(isa) << " " << x[j];
        } else {
          EXPECT_NEAR(got[j], want, 2e-7 * want) << IsaName(isa) << " x=" << x[j] << " m=" << m;
        }
      }
      EXPECT_NEAR(sum, want_sum, 1e-6 * want_sum) << IsaName(isa) << " n=" << n;
    }
  }
}

}  // namespace
}  // namespace squeeze
