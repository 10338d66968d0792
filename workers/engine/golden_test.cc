// Golden tests: the engine's logits against an independent double-precision forward pass
// written here from the file format / the model's float weights (no engine code reused).
// Tolerance: 1e-4 relative to the largest logit magnitude of each position; F32 kernels
// accumulate in float over at most a few hundred terms, so their error is ~1e-6.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <vector>

#include "engine/engine.h"
#include "model/loader.h"
#include "testutil/assets.h"

namespace squeeze {
namespace {

// A plain-array Llama model in double precision, with the RoPE pairing as a parameter.
struct RefModel {
  int dim, hidden, layers, heads, kv_heads, vocab;
  bool interleaved_rope;  // llama2.c pairs (2i, 2i+1); Hugging Face pairs (i, i + hd/2)
  double theta = 10000.0, eps = 1e-5;
  std::vector<double> emb, cls, final_norm;  // (vocab, dim), (vocab, dim), (dim)
  struct Layer {
    std::vector<double> att_norm, wq, wk, wv, wo, ffn_norm, w1, w2, w3;
  };
  std::vector<Layer> l;
};

std::vector<double> MatVec(const std::vector<double>& w, const std::vector<double>& x, int rows,
                           int cols) {
  std::vector<double> y(rows, 0.0);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) y[r] += w[size_t(r) * cols + c] * x[c];
  return y;
}

std::vector<double> Norm(const std::vector<double>& x, const std::vector<double>& w, double eps) {
  double ss = 0;
  for (double v : x) ss += v * v;
  const double s = 1.0 / std::sqrt(ss / double(x.size()) + eps);
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * s * w[i];
  return y;
}

void Rope(std::vector<double>& v, int heads, int hd, int pos, bool interleaved, double theta) {
  for (int h = 0; h < heads; ++h) {
    for (int i = 0; i < hd / 2; ++i) {
      const double ang = pos * std::pow(theta, -2.0 * i / hd);
      const int a = interleaved ? h * hd + 2 * i : h * hd + i;
      const int b = interleaved ? a + 1 : a + hd / 2;
      const double x0 = v[a], x1 = v[b];
      v[a] = x0 * std::cos(ang) - x1 * std::sin(ang);
      v[b] = x0 * std::sin(ang) + x1 * std::cos(ang);
    }
  }
}

// Logits for every position of `tokens`.
std::vector<std::vector<double>> RefForward(const RefModel& m, const std::vector<int>& tokens) {
  const int hd = m.dim / m.heads, kvd = hd * m.kv_heads;
  std::vector<std::vector<std::vector<double>>> kc(m.layers), vc(m.layers);
  std::vector<std::vector<double>> out;
  for (int pos = 0; pos < int(tokens.size()); ++pos) {
    std::vector<double> x(m.emb.begin() + size_t(tokens[pos]) * m.dim,
                          m.emb.begin() + size_t(tokens[pos] + 1) * m.dim);
    for (int li = 0; li < m.layers; ++li) {
      const RefModel::Layer& L = m.l[li];
      std::vector<double> xb = Norm(x, L.att_norm, m.eps);
      std::vector<double> q = MatVec(L.wq, xb, m.dim, m.dim);
      std::vector<double> k = MatVec(L.wk, xb, kvd, m.dim);
      std::vector<double> v = MatVec(L.wv, xb, kvd, m.dim);
      Rope(q, m.heads, hd, pos, m.interleaved_rope, m.theta);
      Rope(k, m.kv_heads, hd, pos, m.interleaved_rope, m.theta);
      kc[li].push_back(k);
      vc[li].push_back(v);
      std::vector<double> att(m.dim, 0.0);
      for (int h = 0; h < m.heads; ++h) {
        const int kh = h / (m.heads / m.kv_heads);
        std::vector<double> s(pos + 1);
        double mx = -1e300;
        for (int t = 0; t <= pos; ++t) {
          double d = 0;
          for (int i = 0; i < hd; ++i) d += q[h * hd + i] * kc[li][t][kh * hd + i];
          s[t] = d / std::sqrt(double(hd));
          mx = std::max(mx, s[t]);
        }
        double sum = 0;
        for (double& e : s) sum += (e = std::exp(e - mx));
        for (int t = 0; t <= pos; ++t)
          for (int i = 0; i < hd; ++i) att[h * hd + i] += s[t] / sum * vc[li][t][kh * hd + i];
      }
      std::vector<double> o = MatVec(L.wo, att, m.dim, m.dim);
      for (int i = 0; i < m.dim; ++i) x[i] += o[i];
      xb = Norm(x, L.ffn_norm, m.eps);
      std::vector<double> g = MatVec(L.w1, xb, m.hidden, m.dim);
      std::vector<double> u = MatVec(L.w3, xb, m.hidden, m.dim);
      for (int i = 0; i < m.hidden; ++i) g[i] = g[i] / (1.0 + std::exp(-g[i])) * u[i];
      std::vector<double> d = MatVec(L.w2, g, m.dim, m.hidden);
      for (int i = 0; i < m.dim; ++i) x[i] += d[i];
    }
    out.push_back(MatVec(m.cls, Norm(x, m.final_norm, m.eps), m.vocab, m.dim));
  }
  return out;
}

// Reads a llama2.c checkpoint directly from its bytes (independent of the loader).
RefModel ReadLlama2c(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  int32_t h[7];
  in.read(reinterpret_cast<char*>(h), sizeof(h));
  RefModel m;
  m.dim = h[0], m.hidden = h[1], m.layers = h[2], m.heads = h[3], m.kv_heads = h[4];
  m.vocab = std::abs(h[5]);
  m.interleaved_rope = true;
  const int seq = h[6], hd = m.dim / m.heads, kvd = hd * m.kv_heads;
  auto read = [&](size_t n) {
    std::vector<float> f(n);
    in.read(reinterpret_cast<char*>(f.data()), std::streamsize(n * 4));
    return std::vector<double>(f.begin(), f.end());
  };
  auto slice = [](const std::vector<double>& all, int i, size_t n) {
    return std::vector<double>(all.begin() + i * n, all.begin() + (i + 1) * n);
  };
  m.emb = read(size_t(m.vocab) * m.dim);
  const auto att = read(size_t(m.layers) * m.dim), wq = read(size_t(m.layers) * m.dim * m.dim),
             wk = read(size_t(m.layers) * kvd * m.dim), wv = read(size_t(m.layers) * kvd * m.dim),
             wo = read(size_t(m.layers) * m.dim * m.dim), ffn = read(size_t(m.layers) * m.dim),
             w1 = read(size_t(m.layers) * m.hidden * m.dim),
             w2 = read(size_t(m.layers) * m.dim * m.hidden),
             w3 = read(size_t(m.layers) * m.hidden * m.dim);
  m.final_norm = read(m.dim);
  read(size_t(seq) * hd);  // freq_cis_real + freq_cis_imag, unused
  m.cls = h[5] < 0 ? read(size_t(m.vocab) * m.dim) : m.emb;
  for (int i = 0; i < m.layers; ++i) {
    m.l.push_back({slice(att, i, m.dim), slice(wq, i, size_t(m.dim) * m.dim),
                   slice(wk, i, size_t(kvd) * m.dim), slice(wv, i, size_t(kvd) * m.dim),
                   slice(wo, i, size_t(m.dim) * m.dim), slice(ffn, i, m.dim),
                   slice(w1, i, size_t(m.hidden) * m.dim), slice(w2, i, size_t(m.dim) * m.hidden),
                   slice(w3, i, size_t(m.hidden) * m.dim)});
  }
  EXPECT_TRUE(in.good()) << path << " is shorter than its header says";
  return m;
}

// Copies a loaded (Hugging Face layout) model's weights into a RefModel.
RefModel FromModel(const Model& model) {
  const ModelConfig& c = model.config;
  RefModel m;
  m.dim = c.dim, m.hidden = c.hidden_dim, m.layers = c.n_layers, m.heads = c.n_heads;
  m.kv_heads = c.n_kv_heads, m.vocab = c.vocab_size, m.interleaved_rope = false;
  m.theta = c.rope_theta, m.eps = c.norm_eps;
  auto d = [](const WeightTensor& t) {
    std::vector<float> f = t.ToFloat();
    return std::vector<double>(f.begin(), f.end());
  };
  auto dv = [](const std::vector<float>& f) { return std::vector<double>(f.begin(), f.end()); };
  m.emb = d(model.embedding);
  m.cls = d(model.classifier());
  m.final_norm = dv(model.final_norm);
  for (const LayerWeights& L : model.layers) {
    m.l.push_back({dv(L.attn_norm), d(L.wq), d(L.wk), d(L.wv), d(L.wo), dv(L.ffn_norm), d(L.w_gate),
                   d(L.w_down), d(L.w_up)});
  }
  return m;
}

void ExpectLogitsMatch(Engine& engine, const RefModel& ref, const std::vector<int>& tokens,
                       double tol) {
  const std::vector<std::vector<double>> want = RefForward(ref, tokens);
  std::vector<int32_t> ids(tokens.begin(), tokens.end());
  std::vector<float> got(ids.size() * ref.vocab);
  engine.Reset();
  ASSERT_TRUE(engine.Forward(ids, got.data(), /*all_logits=*/true).ok());
  for (size_t p = 0; p < ids.size(); ++p) {
    double scale = 0, err = 0;
    for (int v = 0; v < ref.vocab; ++v) {
      scale = std::max(scale, std::abs(want[p][v]));
      err = std::max(err, std::abs(want[p][v] - double(got[p * ref.vocab + v])));
    }
    EXPECT_LE(err / scale, tol) << "position " << p << ": max |engine - reference| " << err
                                << " for logits of magnitude " << scale;
  }
}

TEST(GoldenTest, Stories260KLogitsMatchDoublePrecisionReference) {
  SQUEEZE_REQUIRE_ASSET(path, "models/stories260K/stories260K.bin");
  absl::StatusOr<Model> model = LoadModel(path);
  ASSERT_TRUE(model.ok()) << model.status();
  const RefModel ref = ReadLlama2c(path);
  ASSERT_EQ(ref.vocab, model->config.vocab_size);
  const std::vector<int> tokens = {1, 403, 407, 261, 378, 290, 265, 261, 345, 270, 297, 471, 5, 19};
  for (Isa isa : {Isa::kRef, ActiveIsa()}) {
    SCOPED_TRACE(IsaName(isa));
    EngineOptions o;
    o.isa = isa;
    auto engine = Engine::Create(*model, o);
    ASSERT_TRUE(engine.ok()) << engine.status();
    ExpectLogitsMatch(**engine, ref, tokens, 1e-4);
  }
}

TEST(GoldenTest, RandomGqaModelLogitsMatchDoublePrecisionReference) {
  RandomModelOptions o;
  o.config.dim = 48, o.config.hidden_dim = 100, o.config.n_layers = 2, o.config.n_heads = 6;
  o.config.n_kv_heads = 2, o.config.vocab_size = 77, o.config.max_seq_len = 64;
  o.config.tied_embeddings = false, o.config.rope_theta = 500000.0f;
  o.seed = 7;
  const Model model = MakeRandomModel(o);
  const RefModel ref = FromModel(model);
  std::vector<int> tokens;
  for (int i = 0; i < 20; ++i) tokens.push_back((i * 31 + 5) % 77);
  auto engine = Engine::Create(model);
  ASSERT_TRUE(engine.ok()) << engine.status();
  ExpectLogitsMatch(**engine, ref, tokens, 1e-4);
}

}  // namespace
}  // namespace squeeze
