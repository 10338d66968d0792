// Cross-entropy and distillation losses. Rows are independent (parallel over positions);
// per-row values are summed afterwards in order, so results do not depend on threads.
#include "train/loss.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace squeeze {
namespace {

// p = softmax(z / temp) in double; returns log of the normalizer of z / temp.
template <class Real>
double Softmax(const Real* z, int64_t v, double temp, double* p) {
  double mx = -INFINITY;
  for (int64_t i = 0; i < v; ++i) mx = std::max(mx, double(z[i]) / temp);
  double sum = 0;
  for (int64_t i = 0; i < v; ++i) sum += p[i] = std::exp(double(z[i]) / temp - mx);
  for (int64_t i = 0; i < v; ++i) p[i] /= sum;
  return mx + std::log(sum);
}

template <class Real, class Row>
LossValue ForEachRow(const TrainOps& ops, const int32_t* targets, int64_t n, int64_t vocab,
                     Real* dlogits, Row row) {
  LossValue out;
  for (int64_t i = 0; i < n; ++i) out.count += targets[i] >= 0;
  const double inv = out.count > 0 ? 1.0 / double(out.count) : 0.0;
  std::vector<double> loss(n), ce(n), kl(n);
  ForRange(
      ops, n,
      [&](int64_t b, int64_t e) {
        std::vector<double> scratch(2 * vocab);
        for (int64_t i = b; i < e; ++i) {
          Real* d = dlogits + i * vocab;
          if (targets[i] < 0) {
            std::fill(d, d + vocab, Real(0));
            continue;
          }
          row(i, inv, scratch.data(), d, &loss[i], &ce[i], &kl[i]);
        }
      },
      1, 30 * vocab);
  for (int64_t i = 0; i < n; ++i) {
    out.loss += loss[i] * inv;
    out.ce += ce[i] * inv;
    out.kl += kl[i] * inv;
  }
  return out;
}

}  // namespace

template <class Real>
LossValue CrossEntropyLoss(const TrainOps& ops, const Real* logits, const int32_t* targets,
                           int64_t n, int64_t vocab, Real* dlogits) {
  return ForEachRow(
      ops, targets, n, vocab, dlogits,
      [&](int64_t i, double inv, double* p, Real* d, double* loss, double* ce, double*) {
        const Real* z = logits + i * vocab;
        const double lz = Softmax(z, vocab, 1.0, p);
        *loss = *ce = lz - double(z[targets[i]]);
        for (int64_t c = 0; c < vocab; ++c) d[c] = Real(p[c] * inv);
        d[targets[i]] -= Real(inv);
      });
}

template <class Real>
LossValue DistillLoss(const TrainOps& ops, const Real* logits, const float* teacher_logits,
                      const int32_t* targets, int64_t n, int64_t vocab, const DistillSettings& s,
                      Real* dlogits) {
  const double a = s.alpha, temp = s.temperature;
  return ForEachRow(
      ops, targets, n, vocab, dlogits,
      [&](int64_t i, double inv, double* ps, Real* d, double* loss, double* ce, double* kl) {
        const Real* z = logits + i * vocab;
        const float* zt = teacher_logits + i * vocab;
        double* pt = ps + vocab;
        // KL(pt || ps) of softmax(zt / t) and softmax(z / t), given their log-normalizers.
        auto kl_at = [&](double t, double lzs, double lzt) {
          double k = 0;
          for (int64_t c = 0; c < vocab; ++c) {
            if (pt[c] > 0) k += pt[c] * ((double(zt[c]) - double(z[c])) / t - lzt + lzs);
          }
          return k;
        };
        // The loss's KL at temperature T, and its gradient a * T^2 * (ps - pt) / T.
        double lzs = Softmax(z, vocab, temp, ps);
        const double kl_t = kl_at(temp, lzs, Softmax(zt, vocab, temp, pt));
        for (int64_t c = 0; c < vocab; ++c) d[c] = Real(a * temp * (ps[c] - pt[c]) * inv);
        // KL (reported) and cross-entropy at temperature 1.
        double kl1 = kl_t;
        if (temp != 1.0) {
          lzs = Softmax(z, vocab, 1.0, ps);
          kl1 = kl_at(1.0, lzs, Softmax(zt, vocab, 1.0, pt));
        }
        const double nll = lzs - double(z[targets[i]]);
        for (int64_t c = 0; c < vocab; ++c) d[c] += Real((1 - a) * ps[c] * inv);
        d[targets[i]] -= Real((1 - a) * inv);
        *kl = kl1;
        *ce = nll;
        *loss = a * temp * temp * kl_t + (1 - a) * nll;
      });
}

template LossValue CrossEntropyLoss(const TrainOps&, const float*, const int32_t*, int64_t, int64_t,
                                    float*);
template LossValue CrossEntropyLoss(const TrainOps&, const double*, const int32_t*, int64_t,
                                    int64_t, double*);
template LossValue DistillLoss(const TrainOps&, const float*, const float*, const int32_t*, int64_t,
                               int64_t, const DistillSettings&, float*);
template LossValue DistillLoss(const TrainOps&, const double*, const float*, const int32_t*,
                               int64_t, int64_t, const DistillSettings&, double*);

}  // namespace squeeze
