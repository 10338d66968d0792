// Gradient checks in double precision: every layer's backward, the losses and the whole model
// (tied and separate classifier, grouped-query attention, low-rank adapters) against central
// finite differences. With step h = 1e-5 the difference quotient's error is O(h^2 f''') plus
// O(1e-16 / h) rounding, about 1e-9 here; the tolerance 1e-6 * max(1, |g|) leaves room for
// that and fails on any real mistake (those are O(|g|)). The f32 pass (the fast kernels) is
// then compared with the double one.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "train/layers.h"
#include "train/loss.h"
#include "train/model_grad.h"
#include "util/rng.h"

namespace squeeze {
namespace {

constexpr double kStep = 1e-5;
constexpr double kTol = 1e-6;

std::vector<double> RandomD(int64_t n, uint64_t seed, double scale = 1.0) {
  Rng rng(seed);
  std::vector<double> v(static_cast<size_t>(n));
  for (double& x : v) x = rng.Normal() * scale;
  return v;
}

double Dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// Checks grad[i] == d loss / d v[i] by central differences, for every i not skipped.
void CheckGradient(std::vector<double>& v, const std::vector<double>& grad,
                   const std::function<double()>& loss, const char* what,
                   const std::function<bool(size_t)>& skip = nullptr) {
  ASSERT_EQ(v.size(), grad.size());
  int failures = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    if (skip && skip(i)) continue;
    const double keep = v[i];
    v[i] = keep + kStep;
    const double up = loss();
    v[i] = keep - kStep;
    const double down = loss();
    v[i] = keep;
    const double numeric = (up - down) / (2 * kStep);
    if (std::fabs(numeric - grad[i]) > kTol * std::max(1.0, std::fabs(numeric)) &&
        ++failures <= 5) {
      ADD_FAILURE() << what << "[" << i << "]: analytic " << grad[i] << ", numeric " << numeric;
    }
  }
}

const TrainOps kSerial{nullptr, Isa::kRef};

TEST(GradCheckTest, RmsNorm) {
  const int64_t n = 3, dim = 8;
  std::vector<double> x = RandomD(n * dim, 1), g = RandomD(dim, 2), c = RandomD(n * dim, 3);
  auto loss = [&] {
    std::vector<double> y(n * dim), r(n);
    RmsNormForward(kSerial, x.data(), g.data(), y.data(), r.data(), n, dim, 1e-5f);
    return Dot(y, c);
  };
  std::vector<double> y(n * dim), r(n), dx(n * dim, 0.0), dg(dim, 0.0);
  RmsNormForward(kSerial, x.data(), g.data(), y.data(), r.data(), n, dim, 1e-5f);
  RmsNormBackward(kSerial, c.data(), x.data(), g.data(), r.data(), dx.data(), dg.data(), n, dim);
  CheckGradient(x, dx, loss, "dx");
  CheckGradient(g, dg, loss, "dg");
}

TEST(GradCheckTest, Rope) {
  const int64_t n = 6, T = 3, heads = 2, hd = 4, stride = 11, col = 2;
  const RopeTable<double> rope = MakeRopeTable<double>(T, hd, 10000.0f);
  std::vector<double> x = RandomD(n * stride, 4), c = RandomD(n * stride, 5);
  auto loss = [&] {
    std::vector<double> y = x;
    RopeApply(kSerial, rope, y.data(), n, T, stride, col, heads, hd, false);
    return Dot(y, c);
  };
  std::vector<double> dx = c;  // columns outside the heads pass through unchanged
  RopeApply(kSerial, rope, dx.data(), n, T, stride, col, heads, hd, true);
  CheckGradient(x, dx, loss, "dx");
}

void CheckAttention(const AttentionDims& d, uint64_t seed) {
  const int64_t n = d.batch * d.seq;
  std::vector<double> qkv = RandomD(n * d.qkv_dim(), seed), c = RandomD(n * d.q_dim(), seed + 1);
  auto loss = [&] {
    std::vector<double> out(n * d.q_dim()), lse(n * d.heads);
    AttentionForward(kSerial, d, qkv.data(), out.data(), lse.data());
    return Dot(out, c);
  };
  std::vector<double> out(n * d.q_dim()), lse(n * d.heads), dqkv(n * d.qkv_dim());
  AttentionForward(kSerial, d, qkv.data(), out.data(), lse.data());
  AttentionBackward(kSerial, d, qkv.data(), out.data(), lse.data(), c.data(), dqkv.data());
  CheckGradient(qkv, dqkv, loss, "dqkv");
}

TEST(GradCheckTest, AttentionWithGroupedQueryHeads) {
  CheckAttention({2, 5, 4, 2, 4}, 6);  // 2 query heads per kv head
  CheckAttention({1, 4, 3, 3, 2}, 8);  // multi-head
  CheckAttention({1, 4, 4, 1, 2}, 9);  // multi-query
}

TEST(GradCheckTest, AttentionOverSeveralRowBlocks) {
  CheckAttention({1, 70, 2, 1, 2}, 10);  // blocks of 32 query rows: 3 blocks, the last short
}

TEST(GradCheckTest, SwiGlu) {
  const int64_t n = 3, hid = 5;
  std::vector<double> gu = RandomD(n * 2 * hid, 11, 2.0), c = RandomD(n * hid, 12);
  auto loss = [&] {
    std::vector<double> h(n * hid);
    SwiGluForward(kSerial, gu.data(), h.data(), n, hid);
    return Dot(h, c);
  };
  std::vector<double> dgu(n * 2 * hid);
  SwiGluBackward(kSerial, gu.data(), c.data(), dgu.data(), n, hid);
  CheckGradient(gu, dgu, loss, "dgate_up");
}

TEST(GradCheckTest, Embedding) {
  const int64_t vocab = 5, dim = 3;
  const std::vector<int32_t> tokens = {4, 0, 4, 2};
  std::vector<double> table = RandomD(vocab * dim, 13), c = RandomD(4 * dim, 14);
  auto loss = [&] {
    std::vector<double> x(4 * dim);
    EmbeddingForward(table.data(), tokens.data(), x.data(), 4, dim);
    return Dot(x, c);
  };
  std::vector<double> dt(vocab * dim, 0.0);
  EmbeddingBackward(c.data(), tokens.data(), dt.data(), 4, dim);
  CheckGradient(table, dt, loss, "dtable");
}

TEST(GradCheckTest, CrossEntropyAndDistillation) {
  const int64_t n = 4, vocab = 7;
  const std::vector<int32_t> targets = {3, -1, 0, 6};
  std::vector<double> z = RandomD(n * vocab, 15, 2.0);
  std::vector<float> teacher(size_t(n * vocab));
  Rng rng(16);
  for (float& t : teacher) t = float(rng.Normal() * 2);
  std::vector<double> dz(n * vocab);
  auto ce = [&] {
    std::vector<double> d(n * vocab);
    return CrossEntropyLoss(kSerial, z.data(), targets.data(), n, vocab, d.data()).loss;
  };
  const LossValue v = CrossEntropyLoss(kSerial, z.data(), targets.data(), n, vocab, dz.data());
  EXPECT_EQ(v.count, 3);
  CheckGradient(z, dz, ce, "cross-entropy");
  for (const DistillSettings s : {DistillSettings{0.3f, 2.0f}, DistillSettings{1.0f, 1.0f}}) {
    auto kd = [&] {
      std::vector<double> d(n * vocab);
      return DistillLoss(kSerial, z.data(), teacher.data(), targets.data(), n, vocab, s, d.data())
          .loss;
    };
    const LossValue k =
        DistillLoss(kSerial, z.data(), teacher.data(), targets.data(), n, vocab, s, dz.data());
    EXPECT_GT(k.kl, 0);
    CheckGradient(z, dz, kd, "distillation");
  }
}

ModelConfig TinyConfig(bool tied) {
  ModelConfig c;
  c.dim = 8, c.hidden_dim = 12, c.n_layers = 2, c.n_heads = 4, c.n_kv_heads = 2;
  c.vocab_size = 11, c.max_seq_len = 8, c.tied_embeddings = tied, c.bos_id = 0;
  return c;
}

// Cross-entropy of the model on fixed tokens, and its gradient, in double.
struct ModelLoss {
  const ParamLayout& layout;
  std::vector<int32_t> tokens, targets;
  int64_t B, T;
  ModelGrad<double> grad{layout, kSerial};

  double Loss(const std::vector<double>& p, std::vector<double>* g) {
    const double* logits = grad.Forward(p.data(), tokens.data(), B, T);
    std::vector<double> dl(size_t(B * T * layout.config.vocab_size));
    const double loss = CrossEntropyLoss(kSerial, logits, targets.data(), B * T,
                                         layout.config.vocab_size, dl.data())
                            .loss;
    if (g) {
      g->assign(size_t(layout.total), 0.0);
      grad.Backward(p.data(), dl.data(), g->data());
    }
    return loss;
  }
};

std::vector<int32_t> Tokens(int64_t n, int32_t vocab, uint64_t seed) {
  Rng rng(seed);
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (int32_t& x : t) x = int32_t(rng.Below(uint64_t(vocab)));
  return t;
}

// Random parameters of a useful scale: matrices N(0, 0.5), norm gains around 1.
std::vector<double> ModelParams(const ParamLayout& l, uint64_t seed) {
  std::vector<double> p = RandomD(l.total, seed, 0.5);
  for (const ParamTensor& t : l.tensors) {
    if (!t.matrix)
      for (int64_t i = 0; i < t.size(); ++i) p[t.offset + i] += 1.0;
  }
  return p;
}

TEST(GradCheckTest, WholeModelTiedAndSeparateClassifier) {
  for (bool tied : {true, false}) {
    SCOPED_TRACE(tied ? "tied" : "separate classifier");
    const ParamLayout layout = ParamLayout::For(TinyConfig(tied));
    ModelLoss m{layout, Tokens(10, 11, 17), Tokens(10, 11, 18), 2, 5};
    std::vector<double> p = ModelParams(layout, 19), g;
    m.Loss(p, &g);
    CheckGradient(
        p, g, [&] { return m.Loss(p, nullptr); }, "params");
  }
}

TEST(GradCheckTest, WholeModelWithLowRankAdapters) {
  ParamLayout layout = ParamLayout::For(TinyConfig(true));
  layout.AddLora(2, 4.0f);
  ModelLoss m{layout, Tokens(10, 11, 20), Tokens(10, 11, 21), 2, 5};
  std::vector<double> p = ModelParams(layout, 22), g;  // B != 0, so A gets a gradient
  m.Loss(p, &g);
  // Only the adapters are trainable: frozen tensors get no gradient and are not checked.
  std::vector<bool> frozen(size_t(layout.total), false);
  for (const ParamTensor& t : layout.tensors) {
    for (int64_t i = 0; i < t.size(); ++i) frozen[size_t(t.offset + i)] = !t.trainable;
  }
  CheckGradient(
      p, g, [&] { return m.Loss(p, nullptr); }, "adapters",
      [&](size_t i) { return bool(frozen[i]); });
}

TEST(GradCheckTest, FloatPassMatchesDouble) {
  // The f32 forward and backward with the fast kernels and a thread pool against the double
  // pass, on windows longer than one attention block. f32 rounding over these short sums
  // gives relative errors around 1e-6; 1e-4 of the gradient's norm bounds every element.
  ModelConfig c = TinyConfig(false);
  c.dim = 32, c.hidden_dim = 40, c.n_heads = 4, c.n_kv_heads = 2, c.max_seq_len = 48;
  const ParamLayout layout = ParamLayout::For(c);
  const int64_t B = 2, T = 40;
  const std::vector<int32_t> tokens = Tokens(B * T, c.vocab_size, 23);
  const std::vector<int32_t> targets = Tokens(B * T, c.vocab_size, 24);
  const std::vector<double> pd = RandomD(layout.total, 25, 0.2);
  std::vector<float> pf(pd.begin(), pd.end());
  ModelLoss md{layout, tokens, targets, B, T};
  std::vector<double> gd;
  const double loss_d = md.Loss(pd, &gd);
  ThreadPool pool(2);
  ModelGrad<float> mf(layout, {&pool, ActiveIsa()});
  const float* logits = mf.Forward(pf.data(), tokens.data(), B, T);
  std::vector<float> dl(size_t(B * T * c.vocab_size)), gf(size_t(layout.total), 0.0f);
  const double loss_f = CrossEntropyLoss(TrainOps{&pool, ActiveIsa()}, logits, targets.data(),
                                         B * T, c.vocab_size, dl.data())
                            .loss;
  mf.Backward(pf.data(), dl.data(), gf.data());
  EXPECT_NEAR(loss_f, loss_d, 1e-5 * loss_d);
  double norm = 0;
  for (double v : gd) norm += v * v;
  norm = std::sqrt(norm);
  for (size_t i = 0; i < gd.size(); ++i) ASSERT_NEAR(gf[i], gd[i], 1e-4 * norm) << "param " << i;
}

}  // namespace
}  // namespace squeeze
