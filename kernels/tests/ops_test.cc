// Tests of the transformer-block reference ops (ops.h) against formulas evaluated
// independently in double precision, plus their invariants (softmax sums to 1, rope keeps norms).
#include <cmath>
#include <complex>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "squeeze/kernels/ops.h"

namespace squeeze {
namespace {

std::vector<float> RandomVector(int64_t n, float scale, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

TEST(RmsnormTest, MatchesDoubleFormula) {
  for (int64_t n : {1, 7, 288, 4096}) {
    const std::vector<float> x = RandomVector(n, 3.0f, 1), w = RandomVector(n, 2.0f, 2);
    const float eps = 1e-5f;
    std::vector<float> out(n);
    rmsnorm_ref(out.data(), x.data(), w.data(), n, eps);
    double ss = 0;
    for (float v : x) ss += double(v) * v;
    const double inv_rms = 1.0 / std::sqrt(ss / n + eps);
    for (int64_t i = 0; i < n; ++i)
      EXPECT_NEAR(out[i], x[i] * inv_rms * w[i], 1e-5 * std::fabs(x[i] * inv_rms * w[i]) + 1e-7)
          << "n=" << n << " i=" << i;
  }
}

TEST(RmsnormTest, InPlaceAndEpsilon) {
  // x = (3, 4): mean square 12.5. With eps = 0 the output is x / sqrt(12.5) * w.
  std::vector<float> x = {3.0f, 4.0f};
  const std::vector<float> w = {1.0f, 0.5f};
  rmsnorm_ref(x.data(), x.data(), w.data(), 2, 0.0f);
  EXPECT_NEAR(x[0], 3.0 / std::sqrt(12.5), 1e-6);
  EXPECT_NEAR(x[1], 4.0 / std::sqrt(12.5) * 0.5, 1e-6);
  // All zeros: eps keeps the result finite (zero).
  std::vector<float> z(4, 0.0f), out(4, 1.0f);
  rmsnorm_ref(out.data(), z.data(), std::vector<float>(4, 1.0f).data(), 4, 1e-6f);
  for (float v : out) EXPECT_EQ(v, 0.0f);
}

TEST(SoftmaxTest, SumsToOneAndMatchesFormula) {
  for (int64_t n : {1, 5, 512, 32000}) {
    std::vector<float> x = RandomVector(n, 20.0f, uint32_t(n));
    const std::vector<float> orig = x;
    softmax_ref(x.data(), n);
    double sum = 0, denom = 0;
    for (float v : orig) denom += std::exp(double(v));
    for (int64_t i = 0; i < n; ++i) {
      sum += x[i];
      EXPECT_GE(x[i], 0.0f);
      EXPECT_NEAR(x[i], std::exp(double(orig[i])) / denom,
                  1e-6 * std::exp(orig[i]) / denom + 1e-12);
    }
    EXPECT_NEAR(sum, 1.0, 1e-5) << "n=" << n;
  }
}

TEST(SoftmaxTest, LargeLogitsDoNotOverflow) {
  std::vector<float> x = {1000.0f, 1000.0f, -1000.0f};
  softmax_ref(x.data(), 3);
  EXPECT_FLOAT_EQ(x[0], 0.5f);
  EXPECT_FLOAT_EQ(x[1], 0.5f);
  EXPECT_EQ(x[2], 0.0f);
}

TEST(LogSoftmaxTest, EqualsLogOfSoftmax) {
  for (int64_t n : {1, 3, 512, 32000}) {
    const std::vector<float> logits = RandomVector(n, 15.0f, uint32_t(7 * n));
    std::vector<float> out(n), sm = logits;
    log_softmax_ref(out.data(), logits.data(), n);
    softmax_ref(sm.data(), n);
    double total = 0;
    for (int64_t i = 0; i < n; ++i) {
      EXPECT_LE(out[i], 0.0f);
      total += std::exp(double(out[i]));
      if (sm[i] > 1e-30f) {
        EXPECT_NEAR(out[i], std::log(sm[i]), 1e-4) << "n=" << n << " i=" << i;
      }
    }
    EXPECT_NEAR(total, 1.0, 1e-5);
  }
}

TEST(LogSoftmaxTest, InPlaceAndExtremeLogits) {
  // Two equal logits: log(1/2) each, whatever their magnitude.
  std::vector<float> x = {1e4f, 1e4f, -1e4f};
  log_softmax_ref(x.data(), x.data(), 3);
  EXPECT_NEAR(x[0], -std::log(2.0), 1e-6);
  EXPECT_NEAR(x[1], -std::log(2.0), 1e-6);
  EXPECT_NEAR(x[2], -2e4 - std::log(2.0), 1.0);  // finite, not -inf
  EXPECT_TRUE(std::isfinite(x[2]));
}

TEST(SwigluTest, MatchesFormula) {
  const int64_t n = 1000;
  std::vector<float> gate = RandomVector(n, 8.0f, 11);
  const std::vector<float> up = RandomVector(n, 2.0f, 12), g0 = gate;
  swiglu_ref(gate.data(), up.data(), n);
  for (int64_t i = 0; i < n; ++i) {
    const double g = g0[i], want = g / (1.0 + std::exp(-g)) * up[i];
    EXPECT_NEAR(gate[i], want, 1e-5 * std::fabs(want) + 1e-7) << i;
  }
  // silu(0) = 0, silu(large) ~ identity, silu(very negative) ~ 0 without NaN.
  std::vector<float> g = {0.0f, 30.0f, -100.0f}, u = {5.0f, 2.0f, 1.0f};
  swiglu_ref(g.data(), u.data(), 3);
  EXPECT_EQ(g[0], 0.0f);
  EXPECT_NEAR(g[1], 60.0f, 1e-4);
  EXPECT_NEAR(g[2], 0.0f, 1e-30);
  EXPECT_FALSE(std::isnan(g[2]));
}

TEST(RopeTest, MatchesComplexRotationAndPreservesNorms) {
  const int64_t n_heads = 3, head_dim = 64, half = head_dim / 2;
  const float theta = 10000.0f;
  for (int64_t pos : {0, 1, 17, 2047}) {
    std::vector<float> x = RandomVector(n_heads * head_dim, 1.0f, uint32_t(pos + 1));
    const std::vector<float> orig = x;
    rope_ref(x.data(), n_heads, head_dim, pos, theta);
    for (int64_t h = 0; h < n_heads; ++h) {
      const float* a = orig.data() + h * head_dim;
      const float* b = x.data() + h * head_dim;
      double norm_before = 0, norm_after = 0;
      for (int64_t i = 0; i < half; ++i) {
        // Pair (a[i], a[i + half]) as the complex number a[i] + j a[i + half], times e^(j angle).
        const double angle = double(pos) * std::pow(double(theta), -2.0 * i / head_dim);
        const std::complex<double> z =
            std::complex<double>(a[i], a[i + half]) * std::polar(1.0, angle);
        EXPECT_NEAR(b[i], z.real(), 1e-5) << "pos=" << pos << " head=" << h << " i=" << i;
        EXPECT_NEAR(b[i + half], z.imag(), 1e-5) << "pos=" << pos << " head=" << h << " i=" << i;
        // Each pair keeps its length.
        EXPECT_NEAR(std::hypot(b[i], b[i + half]), std::hypot(a[i], a[i + half]), 1e-5);
        norm_before += double(a[i]) * a[i] + double(a[i + half]) * a[i + half];
        norm_after += double(b[i]) * b[i] + double(b[i + half]) * b[i + half];
      }
      EXPECT_NEAR(norm_after, norm_before, 1e-5 * norm_before);
    }
    if (pos == 0) {
      EXPECT_EQ(x, orig) << "position 0 is the identity";
    }
  }
}

TEST(RopeTest, RelativePositionProperty) {
  // The dot product of a query at position p and a key at position q depends only on p - q.
  const int64_t head_dim = 16;
  const std::vector<float> q = RandomVector(head_dim, 1.0f, 5), k = RandomVector(head_dim, 1.0f, 6);
  auto rotated_dot = [&](int64_t pq, int64_t pk) {
    std::vector<float> a = q, b = k;
    rope_ref(a.data(), 1, head_dim, pq, 500000.0f);
    rope_ref(b.data(), 1, head_dim, pk, 500000.0f);
    double d = 0;
    for (int64_t i = 0; i < head_dim; ++i) d += double(a[i]) * b[i];
    return d;
  };
  EXPECT_NEAR(rotated_dot(10, 3), rotated_dot(107, 100), 1e-4);
  EXPECT_NEAR(rotated_dot(5, 5), rotated_dot(0, 0), 1e-4);
}

TEST(DotAxpyTest, MatchDoubleSums) {
  const int64_t n = 777;
  const std::vector<float> a = RandomVector(n, 1.0f, 21), b = RandomVector(n, 1.0f, 22);
  double want = 0;
  for (int64_t i = 0; i < n; ++i) want += double(a[i]) * b[i];
  EXPECT_NEAR(dot_ref(a.data(), b.data(), n), want, 1e-4);
  EXPECT_EQ(dot_ref(a.data(), b.data(), 0), 0.0f);

  std::vector<float> y = b;
  axpy_ref(y.data(), -0.5f, a.data(), n);
  for (int64_t i = 0; i < n; ++i) EXPECT_FLOAT_EQ(y[i], b[i] - 0.5f * a[i]) << i;
}

// The attention vector kernels of every supported SIMD level against the reference, on lengths
// around the 8- and 32-wide steps: dot within float rounding of the double sum (another
// summation order), axpy exactly (one fused multiply-add per element, as fmaf).
TEST(VecKernelsTest, EveryLevelMatchesReference) {
  EXPECT_EQ(GetVecKernels(Isa::kRef).dot, &dot_ref);
  EXPECT_EQ(GetVecKernels(Isa::kRef).axpy, &axpy_ref);
  EXPECT_EQ(GetVecKernels(Isa::kRef).rmsnorm, &rmsnorm_ref);
  EXPECT_EQ(GetVecKernels(Isa::kRef).swiglu, &swiglu_ref);
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
    if (!IsaSupported(isa)) continue;
    SCOPED_TRACE(IsaName(isa));
    const VecKernels& k = GetVecKernels(isa);
    EXPECT_NE(k.dot, &dot_ref) << "no SIMD kernel at this level";
    for (int64_t n : {0, 1, 7, 8, 9, 31, 32, 33, 64, 100, 777}) {
      const std::vector<float> a = RandomVector(n, 1.0f, 31), b = RandomVector(n, 1.0f, 32);
      double want = 0, mag = 0;
      for (int64_t i = 0; i < n; ++i) {
        want += double(a[i]) * b[i];
        mag += std::fabs(double(a[i]) * b[i]);
      }
      EXPECT_NEAR(k.dot(a.data(), b.data(), n), want, 1e-6 * mag + 1e-30) << "n " << n;
      std::vector<float> y = b;
      k.axpy(y.data(), -0.75f, a.data(), n);
      for (int64_t i = 0; i < n; ++i)
        ASSERT_EQ(y[i], std::fma(-0.75f, a[i], b[i])) << "n " << n << " i " << i;
    }
  }
}

// rmsnorm and swiglu of every supported SIMD level against the reference, on lengths around
// the 8-wide step (in place too): rmsnorm within 2 ulp (only the double sum's order differs),
// swiglu within 4 ulp plus a tiny absolute term (its exp is a polynomial), and the edges: zero,
// large magnitudes of both signs, infinities and NaN give what the reference gives.
TEST(VecKernelsTest, ElementwiseStepsMatchReference) {
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
    if (!IsaSupported(isa)) continue;
    SCOPED_TRACE(IsaName(isa));
    const VecKernels& k = GetVecKernels(isa);
    EXPECT_NE(k.rmsnorm, &rmsnorm_ref) << "no SIMD rmsnorm at this level";
    EXPECT_NE(k.swiglu, &swiglu_ref) << "no SIMD swiglu at this level";
    for (int64_t n : {1, 7, 8, 9, 31, 768, 2051}) {
      const std::vector<float> x = RandomVector(n, 3.0f, 41), w = RandomVector(n, 2.0f, 42);
      std::vector<float> want(n), got(n, std::nanf("")), inplace = x;
      rmsnorm_ref(want.data(), x.data(), w.data(), n, 1e-5f);
      k.rmsnorm(got.data(), x.data(), w.data(), n, 1e-5f);
      k.rmsnorm(inplace.data(), inplace.data(), w.data(), n, 1e-5f);
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_NEAR(got[i], want[i], 2.4e-7 * std::fabs(want[i]))
            << "rmsnorm n " << n << " i " << i;
        ASSERT_EQ(inplace[i], got[i]) << "rmsnorm in place, n " << n << " i " << i;
      }
      const std::vector<float> up = RandomVector(n, 2.0f, 43);
      std::vector<float> g_want = RandomVector(n, 12.0f, 44), g_got = g_want;
      swiglu_ref(g_want.data(), up.data(), n);
      k.swiglu(g_got.data(), up.data(), n);
      for (int64_t i = 0; i < n; ++i)
        ASSERT_NEAR(g_got[i], g_want[i], 4.8e-7 * std::fabs(g_want[i]) + 1e-30)
            << "swiglu n " << n << " i " << i;
    }
    const float inf = std::numeric_limits<float>::infinity();
    std::vector<float> edge = {0.0f,  -0.0f,  1e-30f,        -1e-30f, 20.0f, -20.0f,
                               88.0f, -88.0f, 100.0f,        -100.0f, 1e30f, -1e30f,
                               inf,   -inf,   std::nanf(""), 3.0f};
    const int64_t m = int64_t(edge.size());
    const std::vector<float> up(m, 1.5f);
    std::vector<float> want = edge, got = edge;
    swiglu_ref(want.data(), up.data(), m);
    k.swiglu(got.data(), up.data(), m);
    for (int64_t i = 0; i < m; ++i) {
      SCOPED_TRACE(edge[i]);
      if (std::isnan(want[i])) {
        EXPECT_TRUE(std::isnan(got[i]));
      } else if (std::isinf(want[i])) {
        EXPECT_EQ(got[i], want[i]);
      } else {
        EXPECT_NEAR(got[i], want[i], 4.8e-7 * std::fabs(want[i]) + 1e-30);
      }
    }
  }
}

}  // namespace
}  // namespace squeeze
