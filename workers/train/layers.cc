// Layers of the Llama block for training (see layers.h). Attention runs per (sequence, head)
// in blocks of kRows query rows: a block's scores against the keys up to its last row, and
// its products with values and gradients, are small matrix products (train/matmul.h Gemm,
// reading queries, keys and values in place through strides), so the masked upper triangle
// is mostly skipped and nothing of size T x T is stored between passes (the backward
// recomputes the probabilities from the saved log-sum-exp).
#include "train/layers.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace squeeze {
namespace {

constexpr int64_t kRows = 32;  // query rows per attention block

// out(cols, rows) = in(rows, cols; rows ld apart)ᵀ
template <class Real>
void SmallTranspose(const Real* in, int64_t ld, Real* out, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) out[c * rows + r] = in[r * ld + c];
}

// Per-thread scratch of the attention tasks.
template <class Real>
Real* TaskScratch(int64_t n) {
  thread_local std::vector<Real> buf;
  if (int64_t(buf.size()) < n) buf.resize(size_t(n));
  return buf.data();
}

}  // namespace

template <class Real>
void RmsNormForward(const TrainOps& ops, const Real* x, const Real* g, Real* y, Real* inv_rms,
                    int64_t n, int64_t dim, float eps) {
  ForRange(
      ops, n,
      [&](int64_t b, int64_t e) {
        for (int64_t t = b; t < e; ++t) {
          const Real* xt = x + t * dim;
          Real ss = 0;
          for (int64_t i = 0; i < dim; ++i) ss += xt[i] * xt[i];
          const Real r = Real(1) / std::sqrt(ss / Real(dim) + Real(eps));
          inv_rms[t] = r;
          for (int64_t i = 0; i < dim; ++i) y[t * dim + i] = xt[i] * r * g[i];
        }
      },
      1, 4 * dim);
}

template <class Real>
void RmsNormBackward(const TrainOps& ops, const Real* dy, const Real* x, const Real* g,
                     const Real* inv_rms, Real* dx, Real* dg, int64_t n, int64_t dim) {
  // y_i = x_i r g_i, r = (mean(x^2) + eps)^(-1/2), dr/dx_i = -r^3 x_i / dim.
  ForRange(
      ops, n,
      [&](int64_t b, int64_t e) {
        for (int64_t t = b; t < e; ++t) {
          const Real *xt = x + t * dim, *dyt = dy + t * dim;
          const Real r = inv_rms[t];
          Real s = 0;
          for (int64_t i = 0; i < dim; ++i) s += dyt[i] * g[i] * xt[i];
          const Real c = s * r * r * r / Real(dim);
          for (int64_t i = 0; i < dim; ++i) dx[t * dim + i] += dyt[i] * g[i] * r - c * xt[i];
        }
      },
      1, 6 * dim);
  for (int64_t t = 0; t < n; ++t) {
    const Real r = inv_rms[t];
    for (int64_t i = 0; i < dim; ++i) dg[i] += dy[t * dim + i] * x[t * dim + i] * r;
  }
}

template <class Real>
RopeTable<Real> MakeRopeTable(int64_t positions, int64_t head_dim, float theta) {
  RopeTable<Real> t;
  t.positions = positions;
  t.half = head_dim / 2;
  t.cos.resize(positions * t.half);
  t.sin.resize(positions * t.half);
  for (int64_t p = 0; p < positions; ++p) {
    for (int64_t i = 0; i < t.half; ++i) {
      const double angle = double(p) * std::pow(double(theta), -2.0 * double(i) / double(head_dim));
      t.cos[p * t.half + i] = Real(std::cos(angle));
      t.sin[p * t.half + i] = Real(std::sin(angle));
    }
  }
  return t;
}

template <class Real>
void RopeApply(const TrainOps& ops, const RopeTable<Real>& rope, Real* x, int64_t n, int64_t T,
               int64_t stride, int64_t col, int64_t heads, int64_t head_dim, bool inverse) {
  const int64_t half = head_dim / 2;
  ForRange(
      ops, n,
      [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r) {
          const Real* cs = rope.cos.data() + (r % T) * half;
          const Real* sn = rope.sin.data() + (r % T) * half;
          for (int64_t h = 0; h < heads; ++h) {
            Real* p = x + r * stride + col + h * head_dim;
            for (int64_t i = 0; i < half; ++i) {
              const Real a = p[i], c = p[i + half], s = inverse ? -sn[i] : sn[i];
              p[i] = a * cs[i] - c * s;
              p[i + half] = a * s + c * cs[i];
            }
          }
        }
      },
      1, 3 * heads * head_dim);
}

template <class Real>
void AttentionForward(const TrainOps& ops, const AttentionDims& d, const Real* qkv, Real* out,
                      Real* lse) {
  const int64_t T = d.seq, hd = d.head_dim, ld = d.qkv_dim(), group = d.heads / d.kv_heads;
  const int64_t qd = d.q_dim();
  const Real scale = Real(1) / std::sqrt(Real(hd));
  const TrainOps serial{nullptr, ops.isa};
  ForRange(
      ops, d.batch * d.heads,
      [&](int64_t b, int64_t e) {
        Real* kt = TaskScratch<Real>(T * hd + kRows * T);  // keys transposed (hd, T); scores
        Real* s = kt + T * hd;
        for (int64_t task = b; task < e; ++task) {
          const int64_t seq = task / d.heads, h = task % d.heads, kvh = h / group;
          const Real* base = qkv + seq * T * ld;
          const Real* v = base + qd + d.kv_dim() + kvh * hd;  // rows ld apart
          SmallTranspose(base + qd + kvh * hd, ld, kt, T, hd);
          for (int64_t i0 = 0; i0 < T; i0 += kRows) {
            const int64_t i1 = std::min(T, i0 + kRows), rows = i1 - i0, len = i1;
            // scores (rows, len) = Q rows · K[0, len)ᵀ
            Gemm(serial, base + i0 * ld + h * hd, ld, int64_t(1), kt, T, s, len, rows, len, hd,
                 false);
            for (int64_t i = i0; i < i1; ++i) {
              Real* si = s + (i - i0) * len;
              Real mx = -INFINITY;
              for (int64_t j = 0; j <= i; ++j) mx = std::max(mx, si[j] *= scale);
              Real sum = 0;
              for (int64_t j = 0; j <= i; ++j) sum += si[j] = std::exp(si[j] - mx);
              for (int64_t j = 0; j <= i; ++j) si[j] /= sum;
              for (int64_t j = i + 1; j < len; ++j) si[j] = 0;
              lse[(seq * T + i) * d.heads + h] = mx + std::log(sum);
            }
            // out rows = P (rows, len) · V[0, len)
            Gemm(serial, s, len, int64_t(1), v, ld, out + (seq * T + i0) * qd + h * hd, qd, rows,
                 hd, len, false);
          }
        }
      },
      1, 2 * T * T * hd);
}

template <class Real>
void AttentionBackward(const TrainOps& ops, const AttentionDims& d, const Real* qkv,
                       const Real* out, const Real* lse, const Real* dout, Real* dqkv) {
  const int64_t T = d.seq, hd = d.head_dim, ld = d.qkv_dim(), group = d.heads / d.kv_heads;
  const int64_t qd = d.q_dim();
  const Real scale = Real(1) / std::sqrt(Real(hd));
  const TrainOps serial{nullptr, ops.isa};
  // One task per (sequence, kv head): it owns the gradients of that kv head's keys and values
  // and of the queries of its heads, so no two tasks write the same element.
  ForRange(
      ops, d.batch * d.kv_heads,
      [&](int64_t b, int64_t e) {
        // Kt, Vt (hd x T); dK, dV (T x hd); P, dS (kRows x T); D (T)
        Real* kt = TaskScratch<Real>(4 * T * hd + 2 * kRows * T + T);
        Real *vt = kt + T * hd, *dk = vt + T * hd, *dv = dk + T * hd;
        Real *p = dv + T * hd, *ds = p + kRows * T, *dd = ds + kRows * T;
        for (int64_t task = b; task < e; ++task) {
          const int64_t seq = task / d.kv_heads, kvh = task % d.kv_heads;
          const int64_t row0 = seq * T;
          const Real* base = qkv + row0 * ld;
          Real* dbase = dqkv + row0 * ld;
          const int64_t kcol = qd + kvh * hd, vcol = qd + d.kv_dim() + kvh * hd;
          SmallTranspose(base + kcol, ld, kt, T, hd);
          SmallTranspose(base + vcol, ld, vt, T, hd);
          std::fill(dk, dk + 2 * T * hd, Real(0));  // dk and dv
          for (int64_t h = kvh * group; h < (kvh + 1) * group; ++h) {
            const Real* q = base + h * hd;                   // rows ld apart
            const Real* dout_h = dout + row0 * qd + h * hd;  // rows qd apart
            for (int64_t t = 0; t < T; ++t) {
              Real s = 0;
              for (int64_t c = 0; c < hd; ++c)
                s += dout_h[t * qd + c] * out[(row0 + t) * qd + h * hd + c];
              dd[t] = s;
            }
            for (int64_t i0 = 0; i0 < T; i0 += kRows) {
              const int64_t i1 = std::min(T, i0 + kRows), rows = i1 - i0, len = i1;
              Gemm(serial, q + i0 * ld, ld, int64_t(1), kt, T, p, len, rows, len, hd, false);
              Gemm(serial, dout_h + i0 * qd, qd, int64_t(1), vt, T, ds, len, rows, len, hd, false);
              for (int64_t i = i0; i < i1; ++i) {
                Real *pi = p + (i - i0) * len, *dsi = ds + (i - i0) * len;
                const Real l = lse[(row0 + i) * d.heads + h];
                for (int64_t j = 0; j <= i; ++j) {
                  pi[j] = std::exp(pi[j] * scale - l);
                  dsi[j] = pi[j] * (dsi[j] - dd[i]) * scale;
                }
                for (int64_t j = i + 1; j < len; ++j) pi[j] = dsi[j] = 0;
              }
              // dQ rows = dS · K[0, len), written in place (this block covers all their keys).
              Gemm(serial, ds, len, int64_t(1), base + kcol, ld, dbase + i0 * ld + h * hd, ld, rows,
                   hd, len, false);
              // dK[0, len) += dSᵀ · Q rows and dV[0, len) += Pᵀ · dO rows (transposed views).
              Gemm(serial, ds, int64_t(1), len, q + i0 * ld, ld, dk, hd, len, hd, rows, true);
              Gemm(serial, p, int64_t(1), len, dout_h + i0 * qd, qd, dv, hd, len, hd, rows, true);
            }
          }
          for (int64_t t = 0; t < T; ++t) {
            std::memcpy(dbase + t * ld + kcol, dk + t * hd, hd * sizeof(Real));
            std::memcpy(dbase + t * ld + vcol, dv + t * hd, hd * sizeof(Real));
          }
        }
      },
      1, 4 * group * T * T * hd);
}

template <class Real>
void SwiGluForward(const TrainOps& ops, const Real* gate_up, Real* h, int64_t n, int64_t hidden) {
  ForRange(
      ops, n,
      [&](int64_t b, int64_t e) {
        for (int64_t t = b; t < e; ++t) {
          const Real *g = gate_up + t * 2 * hidden, *u = g + hidden;
          for (int64_t i = 0; i < hidden; ++i)
            h[t * hidden + i] = g[i] / (1 + std::exp(-g[i])) * u[i];
        }
      },
      1, 20 * hidden);
}

template <class Real>
void SwiGluBackward(const TrainOps& ops, const Real* gate_up, const Real* dh, Real* dgate_up,
                    int64_t n, int64_t hidden) {
  // h = g s(g) u: dh/du = g s(g); dh/dg = u s(g) (1 + g (1 - s(g))).
  ForRange(
      ops, n,
      [&](int64_t b, int64_t e) {
        for (int64_t t = b; t < e; ++t) {
          const Real *g = gate_up + t * 2 * hidden, *u = g + hidden, *dht = dh + t * hidden;
          Real *dg = dgate_up + t * 2 * hidden, *du = dg + hidden;
          for (int64_t i = 0; i < hidden; ++i) {
            const Real s = 1 / (1 + std::exp(-g[i]));
            du[i] = dht[i] * g[i] * s;
            dg[i] = dht[i] * u[i] * s * (1 + g[i] * (1 - s));
          }
        }
      },
      1, 24 * hidden);
}

template <class Real>
void EmbeddingForward(const Real* table, const int32_t* tokens, Real* x, int64_t n, int64_t dim) {
  for (int64_t t = 0; t < n; ++t)
    std::memcpy(x + t * dim, table + int64_t(tokens[t]) * dim, dim * sizeof(Real));
}

template <class Real>
void EmbeddingBackward(const Real* dx, const int32_t* tokens, Real* dtable, int64_t n,
                       int64_t dim) {
  for (int64_t t = 0; t < n; ++t) {
    Real* row = dtable + int64_t(tokens[t]) * dim;
    for (int64_t i = 0; i < dim; ++i) row[i] += dx[t * dim + i];
  }
}

#define SQUEEZE_LAYERS_INSTANTIATE(Real)                                                           \
  template void RmsNormForward(const TrainOps&, const Real*, const Real*, Real*, Real*, int64_t,   \
                               int64_t, float);                                                    \
  template void RmsNormBackward(const TrainOps&, const Real*, const Real*, const Real*,            \
                                const Real*, Real*, Real*, int64_t, int64_t);                      \
  template RopeTable<Real> MakeRopeTable(int64_t, int64_t, float);                                 \
  template void RopeApply(const TrainOps&, const RopeTable<Real>&, Real*, int64_t, int64_t,        \
                          int64_t, int64_t, int64_t, int64_t, bool);                               \
  template void AttentionForward(const TrainOps&, const AttentionDims&, const Real*, Real*,        \
                                 Real*);                                                           \
  template void AttentionBackward(const TrainOps&, const AttentionDims&, const Real*, const Real*, \
                                  const Real*, const Real*, Real*);                                \
  template void SwiGluForward(const TrainOps&, const Real*, Real*, int64_t, int64_t);              \
  template void SwiGluBackward(const TrainOps&, const Real*, const Real*, Real*, int64_t,          \
                               int64_t);                                                           \
  template void EmbeddingForward(const Real*, const int32_t*, Real*, int64_t, int64_t);            \
  template void EmbeddingBackward(const Real*, const int32_t*, Real*, int64_t, int64_t);

SQUEEZE_LAYERS_INSTANTIATE(float)
SQUEEZE_LAYERS_INSTANTIATE(double)

}  // namespace squeeze
