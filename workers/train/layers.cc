// Layers of the Llama block for training (see layers.h). Attention runs per (sequence, head)
// on contiguous copies of the head's queries, keys and values, in blocks of kRows query rows:
// a block's scores against the keys up to its last row, and the products with values and
// gradients, are small matrix products (the F32 gemm kernel for float), so the masked upper
// triangle is mostly skipped and nothing of size T x T is stored between passes.
#include "train/layers.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "squeeze/kernels/matmul.h"

namespace squeeze {
namespace {

constexpr int64_t kRows = 32;  // query rows per attention block

// y[t * ldy + r] = sum_c x[t * k + c] * w[r * ldw + c], t < n, r < m.
void SmallGemm(Isa isa, const float* x, const float* w, int64_t ldw, float* y, int64_t ldy,
               int64_t n, int64_t m, int64_t k) {
  GetMatmulKernels(WeightFormat::kF32, isa)
      .gemm(w, ldw * int64_t(sizeof(float)), x, n, y, ldy, m, k);
}
void SmallGemm(Isa, const double* x, const double* w, int64_t ldw, double* y, int64_t ldy,
               int64_t n, int64_t m, int64_t k) {
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t r = 0; r < m; ++r) {
      double s = 0;
      for (int64_t c = 0; c < k; ++c) s += x[t * k + c] * w[r * ldw + c];
      y[t * ldy + r] = s;
    }
  }
}

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
  ForRange(ops, n, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const Real* xt = x + t * dim;
      Real ss = 0;
      for (int64_t i = 0; i < dim; ++i) ss += xt[i] * xt[i];
      const Real r = Real(1) / std::sqrt(ss / Real(dim) + Real(eps));
      inv_rms[t] = r;
      for (int64_t i = 0; i < dim; ++i) y[t * dim + i] = xt[i] * r * g[i];
    }
  });
}

template <class Real>
void RmsNormBackward(const TrainOps& ops, const Real* dy, const Real* x, const Real* g,
                     const Real* inv_rms, Real* dx, Real* dg, int64_t n, int64_t dim) {
  // y_i = x_i r g_i, r = (mean(x^2) + eps)^(-1/2), dr/dx_i = -r^3 x_i / dim.
  ForRange(ops, n, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const Real *xt = x + t * dim, *dyt = dy + t * dim;
      const Real r = inv_rms[t];
      Real s = 0;
      for (int64_t i = 0; i < dim; ++i) s += dyt[i] * g[i] * xt[i];
      const Real c = s * r * r * r / Real(dim);
      for (int64_t i = 0; i < dim; ++i) dx[t * dim + i] += dyt[i] * g[i] * r - c * xt[i];
    }
  });
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
  ForRange(ops, n, [&](int64_t b, int64_t e) {
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
  });
}

template <class Real>
void AttentionForward(const TrainOps& ops, const AttentionDims& d, const Real* qkv, Real* out,
                      Real* lse) {
  const int64_t T = d.seq, hd = d.head_dim, ld = d.qkv_dim(), group = d.heads / d.kv_heads;
  const Real scale = Real(1) / std::sqrt(Real(hd));
  ForRange(ops, d.batch * d.heads, [&](int64_t b, int64_t e) {
    // Q (T, hd), K (T, hd), Vt (hd, T), scores (kRows, T), O (T, hd)
    Real* q = TaskScratch<Real>(3 * T * hd + kRows * T + T * hd);
    Real *k = q + T * hd, *vt = k + T * hd, *s = vt + T * hd, *o = s + kRows * T;
    for (int64_t task = b; task < e; ++task) {
      const int64_t seq = task / d.heads, h = task % d.heads, kvh = h / group;
      const Real* base = qkv + seq * T * ld;
      for (int64_t t = 0; t < T; ++t) {
        std::memcpy(q + t * hd, base + t * ld + h * hd, hd * sizeof(Real));
        std::memcpy(k + t * hd, base + t * ld + d.q_dim() + kvh * hd, hd * sizeof(Real));
      }
      SmallTranspose(base + d.q_dim() + d.kv_dim() + kvh * hd, ld, vt, T, hd);
      for (int64_t i0 = 0; i0 < T; i0 += kRows) {
        const int64_t i1 = std::min(T, i0 + kRows), len = i1;  // keys [0, i1)
        SmallGemm(ops.isa, q + i0 * hd, k, hd, s, len, i1 - i0, len, hd);
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
        // O rows = P (i1 - i0, len) · V[0, len): V's transposed rows are T apart.
        SmallGemm(ops.isa, s, vt, T, o + i0 * hd, hd, i1 - i0, hd, len);
      }
      for (int64_t t = 0; t < T; ++t)
        std::memcpy(out + (seq * T + t) * d.q_dim() + h * hd, o + t * hd, hd * sizeof(Real));
    }
  });
}

template <class Real>
void AttentionBackward(const TrainOps& ops, const AttentionDims& d, const Real* qkv,
                       const Real* out, const Real* lse, const Real* dout, Real* dqkv) {
  const int64_t T = d.seq, hd = d.head_dim, ld = d.qkv_dim(), group = d.heads / d.kv_heads;
  const Real scale = Real(1) / std::sqrt(Real(hd));
  // One task per (sequence, kv head): it owns the gradients of that kv head's keys and values
  // and of the queries of its heads, so no two tasks write the same element.
  ForRange(ops, d.batch * d.kv_heads, [&](int64_t b, int64_t e) {
    // K, V, Kt, dK, dV (T x hd each); Q, dO, Qt block, dOt block; P, dS, dSt (kRows x T); D;
    // tmp (T x hd)
    const int64_t blk = kRows * T;
    Real* k = TaskScratch<Real>(8 * T * hd + 3 * blk + T + 2 * kRows * hd);
    Real *v = k + T * hd, *kt = v + T * hd, *dk = kt + T * hd, *dv = dk + T * hd;
    Real *q = dv + T * hd, *dout_h = q + T * hd, *tmp = dout_h + T * hd;
    Real *p = tmp + T * hd, *ds = p + blk, *dst = ds + blk, *dd = dst + blk;
    Real *qt = dd + T, *dot = qt + kRows * hd;
    for (int64_t task = b; task < e; ++task) {
      const int64_t seq = task / d.kv_heads, kvh = task % d.kv_heads;
      const Real* base = qkv + seq * T * ld;
      Real* dbase = dqkv + seq * T * ld;
      const int64_t kcol = d.q_dim() + kvh * hd, vcol = d.q_dim() + d.kv_dim() + kvh * hd;
      for (int64_t t = 0; t < T; ++t) {
        std::memcpy(k + t * hd, base + t * ld + kcol, hd * sizeof(Real));
        std::memcpy(v + t * hd, base + t * ld + vcol, hd * sizeof(Real));
      }
      SmallTranspose(k, hd, kt, T, hd);
      std::fill(dk, dk + 2 * T * hd, Real(0));  // dk and dv
      for (int64_t h = kvh * group; h < (kvh + 1) * group; ++h) {
        for (int64_t t = 0; t < T; ++t) {
          const int64_t row = seq * T + t;
          std::memcpy(q + t * hd, base + t * ld + h * hd, hd * sizeof(Real));
          std::memcpy(dout_h + t * hd, dout + row * d.q_dim() + h * hd, hd * sizeof(Real));
          Real s = 0;
          for (int64_t c = 0; c < hd; ++c)
            s += dout_h[t * hd + c] * out[row * d.q_dim() + h * hd + c];
          dd[t] = s;
        }
        for (int64_t i0 = 0; i0 < T; i0 += kRows) {
          const int64_t i1 = std::min(T, i0 + kRows), rows = i1 - i0, len = i1;
          SmallGemm(ops.isa, q + i0 * hd, k, hd, p, len, rows, len, hd);        // scores
          SmallGemm(ops.isa, dout_h + i0 * hd, v, hd, ds, len, rows, len, hd);  // dP
          for (int64_t i = i0; i < i1; ++i) {
            Real *pi = p + (i - i0) * len, *dsi = ds + (i - i0) * len;
            const Real l = lse[(seq * T + i) * d.heads + h];
            for (int64_t j = 0; j <= i; ++j) {
              pi[j] = std::exp(pi[j] * scale - l);
              dsi[j] = pi[j] * (dsi[j] - dd[i]) * scale;
            }
            for (int64_t j = i + 1; j < len; ++j) pi[j] = dsi[j] = 0;
          }
          // dQ rows = dS · K[0, len)  (Kt rows are T apart)
          SmallGemm(ops.isa, ds, kt, T, tmp, hd, rows, hd, len);
          for (int64_t i = i0; i < i1; ++i) {
            Real* dq = dbase + i * ld + h * hd;
            for (int64_t c = 0; c < hd; ++c) dq[c] = tmp[(i - i0) * hd + c];
          }
          // dK[0, len) += dSᵀ · Q_blk and dV[0, len) += Pᵀ · dO_blk
          SmallTranspose(q + i0 * hd, hd, qt, rows, hd);
          SmallTranspose(dout_h + i0 * hd, hd, dot, rows, hd);
          SmallTranspose(ds, len, dst, rows, len);
          SmallGemm(ops.isa, dst, qt, rows, tmp, hd, len, hd, rows);
          for (int64_t x = 0; x < len * hd; ++x) dk[x] += tmp[x];
          SmallTranspose(p, len, dst, rows, len);
          SmallGemm(ops.isa, dst, dot, rows, tmp, hd, len, hd, rows);
          for (int64_t x = 0; x < len * hd; ++x) dv[x] += tmp[x];
        }
      }
      for (int64_t t = 0; t < T; ++t) {
        std::memcpy(dbase + t * ld + kcol, dk + t * hd, hd * sizeof(Real));
        std::memcpy(dbase + t * ld + vcol, dv + t * hd, hd * sizeof(Real));
      }
    }
  });
}

template <class Real>
void SwiGluForward(const TrainOps& ops, const Real* gate_up, Real* h, int64_t n, int64_t hidden) {
  ForRange(ops, n, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const Real *g = gate_up + t * 2 * hidden, *u = g + hidden;
      for (int64_t i = 0; i < hidden; ++i) h[t * hidden + i] = g[i] / (1 + std::exp(-g[i])) * u[i];
    }
  });
}

template <class Real>
void SwiGluBackward(const TrainOps& ops, const Real* gate_up, const Real* dh, Real* dgate_up,
                    int64_t n, int64_t hidden) {
  // h = g s(g) u: dh/du = g s(g); dh/dg = u s(g) (1 + g (1 - s(g))).
  ForRange(ops, n, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const Real *g = gate_up + t * 2 * hidden, *u = g + hidden, *dht = dh + t * hidden;
      Real *dg = dgate_up + t * 2 * hidden, *du = dg + hidden;
      for (int64_t i = 0; i < hidden; ++i) {
        const Real s = 1 / (1 + std::exp(-g[i]));
        du[i] = dht[i] * g[i] * s;
        dg[i] = dht[i] * u[i] * s * (1 + g[i] * (1 - s));
      }
    }
  });
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
