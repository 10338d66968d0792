// Loader tests: llama2.c checkpoints (with the wq/wk RoPE permutation checked against the raw
// file and against RoPE itself), Hugging Face round trips in every format, shards, tied heads.
#include "model/loader.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "model/safetensors.h"
#include "testutil/assets.h"

namespace squeeze {
namespace {

namespace fs = std::filesystem;

void WriteBytes(const std::string& path, const void* data, size_t n) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char*>(data), std::streamsize(n));
  ASSERT_TRUE(out.good()) << path;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The arrays of a llama2.c checkpoint as the test wrote them (row-major, llama2.c order).
struct Llama2cRaw {
  int32_t dim, hidden, layers, heads, kv_heads, vocab, seq;  // vocab < 0: separate classifier
  std::vector<float> emb, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final, freq_re, freq_im,
      wcls;
  int hd() const { return dim / heads; }
  int kv_dim() const { return hd() * kv_heads; }
  int V() const { return vocab < 0 ? -vocab : vocab; }
};

Llama2cRaw MakeLlama2cRaw(int dim, int hidden, int layers, int heads, int kv_heads, int vocab,
                          int seq, uint32_t seed) {
  Llama2cRaw r;
  r.dim = dim, r.hidden = hidden, r.layers = layers, r.heads = heads, r.kv_heads = kv_heads;
  r.vocab = vocab, r.seq = seq;
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 0.5f);
  auto fill = [&](std::vector<float>& v, size_t n) {
    v.resize(n);
    for (float& x : v) x = nd(rng);
  };
  const int V = r.V(), kv = r.kv_dim();
  fill(r.emb, size_t(V) * dim);
  fill(r.rms_att, size_t(layers) * dim);
  fill(r.wq, size_t(layers) * dim * dim);
  fill(r.wk, size_t(layers) * kv * dim);
  fill(r.wv, size_t(layers) * kv * dim);
  fill(r.wo, size_t(layers) * dim * dim);
  fill(r.rms_ffn, size_t(layers) * dim);
  fill(r.w1, size_t(layers) * hidden * dim);
  fill(r.w2, size_t(layers) * dim * hidden);
  fill(r.w3, size_t(layers) * hidden * dim);
  fill(r.rms_final, dim);
  fill(r.freq_re, size_t(seq) * r.hd() / 2);
  fill(r.freq_im, size_t(seq) * r.hd() / 2);
  if (vocab < 0) fill(r.wcls, size_t(V) * dim);
  return r;
}

std::string Llama2cBytes(const Llama2cRaw& r) {
  std::string out;
  const int32_t h[7] = {r.dim, r.hidden, r.layers, r.heads, r.kv_heads, r.vocab, r.seq};
  out.append(reinterpret_cast<const char*>(h), sizeof(h));
  for (const auto* v : {&r.emb, &r.rms_att, &r.wq, &r.wk, &r.wv, &r.wo, &r.rms_ffn, &r.w1, &r.w2,
                        &r.w3, &r.rms_final, &r.freq_re, &r.freq_im, &r.wcls}) {
    out.append(reinterpret_cast<const char*>(v->data()), v->size() * sizeof(float));
  }
  return out;
}

// Rows [row0, row0 + n) of a (rows, cols) slice starting at float index `base` of `v`.
std::vector<float> Slice(const std::vector<float>& v, size_t base, size_t n) {
  return std::vector<float>(v.begin() + base, v.begin() + base + n);
}

void ExpectMatrixEquals(const WeightTensor& t, const std::vector<float>& expected, int64_t rows,
                        int64_t cols, const std::string& what) {
  ASSERT_EQ(t.format(), WeightFormat::kF32) << what;
  ASSERT_EQ(t.rows(), rows) << what;
  ASSERT_EQ(t.cols(), cols) << what;
  ASSERT_EQ(expected.size(), size_t(rows * cols)) << what;
  EXPECT_EQ(std::memcmp(t.data(), expected.data(), expected.size() * sizeof(float)), 0) << what;
}

// True when p lies inside a mapping of a file whose path ends with `suffix` (/proc/self/maps):
// the tensor is a view of the mapped file, not a copy.
bool InsideMappedFile(const void* p, const std::string& suffix) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  while (std::getline(maps, line)) {
    std::istringstream ls(line);
    std::string range, perms, offset, dev, inode, path;
    ls >> range >> perms >> offset >> dev >> inode >> path;
    if (path.empty() || !path.ends_with(suffix)) continue;
    const size_t dash = range.find('-');
    const uintptr_t lo = std::stoull(range.substr(0, dash), nullptr, 16);
    const uintptr_t hi = std::stoull(range.substr(dash + 1), nullptr, 16);
    if (a >= lo && a < hi) return true;
  }
  return false;
}

// llama2.c's RoPE (pairs 2i, 2i+1) and the half-split RoPE (pairs i, i + hd/2), per head.
void RopeInterleaved(std::vector<double>& v, int hd, int pos) {
  for (size_t h = 0; h < v.size() / hd; ++h) {
    for (int i = 0; i < hd; i += 2) {
      const double f = pos * std::pow(10000.0, -double(i) / hd);
      const double a = v[h * hd + i], b = v[h * hd + i + 1];
      v[h * hd + i] = a * std::cos(f) - b * std::sin(f);
      v[h * hd + i + 1] = a * std::sin(f) + b * std::cos(f);
    }
  }
}
void RopeHalf(std::vector<double>& v, int hd, int pos) {
  for (size_t h = 0; h < v.size() / hd; ++h) {
    for (int i = 0; i < hd / 2; ++i) {
      const double f = pos * std::pow(10000.0, -2.0 * i / hd);
      const double a = v[h * hd + i], b = v[h * hd + i + hd / 2];
      v[h * hd + i] = a * std::cos(f) - b * std::sin(f);
      v[h * hd + i + hd / 2] = a * std::sin(f) + b * std::cos(f);
    }
  }
}

std::vector<double> MatVec(const float* w, int rows, int cols, const std::vector<float>& x) {
  std::vector<double> y(rows);
  for (int r = 0; r < rows; ++r) {
    double s = 0;
    for (int c = 0; c < cols; ++c) s += double(w[size_t(r) * cols + c]) * x[c];
    y[r] = s;
  }
  return y;
}

TEST(Llama2cLoaderTest, LoadsRandomCheckpointWithPermutedQK) {
  for (int vocab : {32, -32}) {
    SCOPED_TRACE(vocab);
    const Llama2cRaw r = MakeLlama2cRaw(16, 24, 2, 4, 2, vocab, 8, 7);
    const std::string path = testing::TempDir("l2c") + "/model.bin";
    const std::string bytes = Llama2cBytes(r);
    WriteBytes(path, bytes.data(), bytes.size());

    auto m = LoadLlama2cModel(path);
    ASSERT_TRUE(m.ok()) << m.status();
    const ModelConfig& c = m->config;
    EXPECT_EQ(c.dim, 16);
    EXPECT_EQ(c.hidden_dim, 24);
    EXPECT_EQ(c.n_layers, 2);
    EXPECT_EQ(c.n_heads, 4);
    EXPECT_EQ(c.n_kv_heads, 2);
    EXPECT_EQ(c.vocab_size, 32);
    EXPECT_EQ(c.max_seq_len, 8);
    EXPECT_EQ(c.tied_embeddings, vocab > 0);
    EXPECT_EQ(c.bos_id, 1);
    EXPECT_EQ(c.eos_id, 2);
    EXPECT_FLOAT_EQ(c.norm_eps, 1e-5f);
    EXPECT_FLOAT_EQ(c.rope_theta, 10000.0f);
    EXPECT_EQ(m->source, path);
    EXPECT_EQ(m->content_hash.size(), 32u);

    const int dim = 16, hidden = 24, hd = 4, kv = 8;
    ExpectMatrixEquals(m->embedding, r.emb, 32, dim, "embedding");
    EXPECT_TRUE(InsideMappedFile(m->embedding.data(), "/model.bin"));
    for (int l = 0; l < 2; ++l) {
      SCOPED_TRACE(l);
      const LayerWeights& lw = m->layers[l];
      EXPECT_EQ(lw.attn_norm, Slice(r.rms_att, size_t(l) * dim, dim));
      EXPECT_EQ(lw.ffn_norm, Slice(r.rms_ffn, size_t(l) * dim, dim));
      ExpectMatrixEquals(lw.wv, Slice(r.wv, size_t(l) * kv * dim, kv * dim), kv, dim, "wv");
      ExpectMatrixEquals(lw.wo, Slice(r.wo, size_t(l) * dim * dim, dim * dim), dim, dim, "wo");
      ExpectMatrixEquals(lw.w_gate, Slice(r.w1, size_t(l) * hidden * dim, hidden * dim), hidden,
                         dim, "w1");
      ExpectMatrixEquals(lw.w_down, Slice(r.w2, size_t(l) * dim * hidden, dim * hidden), dim,
                         hidden, "w2");
      ExpectMatrixEquals(lw.w_up, Slice(r.w3, size_t(l) * hidden * dim, hidden * dim), hidden, dim,
                         "w3");
      EXPECT_TRUE(InsideMappedFile(lw.w_down.data(), "/model.bin"));
      // wq/wk: new row j of head h is old row 2j (j < hd/2) or 2(j - hd/2) + 1.
      for (auto [t, raw, heads] : {std::tuple{&lw.wq, &r.wq, 4}, std::tuple{&lw.wk, &r.wk, 2}}) {
        ASSERT_EQ(t->rows(), heads * hd);
        ASSERT_EQ(t->cols(), dim);
        const std::vector<float> got = t->ToFloat();
        const size_t layer_base = size_t(l) * heads * hd * dim;
        for (int h = 0; h < heads; ++h) {
          for (int j = 0; j < hd; ++j) {
            const int old_j = j < hd / 2 ? 2 * j : 2 * (j - hd / 2) + 1;
            for (int col = 0; col < dim; ++col) {
              ASSERT_EQ(got[size_t(h * hd + j) * dim + col],
                        (*raw)[layer_base + size_t(h * hd + old_j) * dim + col])
                  << "head " << h << " row " << j << " col " << col;
            }
          }
        }
      }
    }
    EXPECT_EQ(m->final_norm, r.rms_final);
    if (vocab > 0) {
      EXPECT_FALSE(m->lm_head.has_value());
      EXPECT_EQ(m->classifier().data(), m->embedding.data());
    } else {
      ASSERT_TRUE(m->lm_head.has_value());
      ExpectMatrixEquals(*m->lm_head, r.wcls, 32, dim, "wcls");
    }
  }
}

// The permutation is right when attention scores with llama2.c's interleaved RoPE on the raw
// weights equal the scores with half-split RoPE on the loaded weights.
TEST(Llama2cLoaderTest, PermutationPreservesAttentionScores) {
  const Llama2cRaw r = MakeLlama2cRaw(32, 16, 1, 4, 2, 16, 16, 11);
  const std::string path = testing::TempDir("l2c-rope") + "/model.bin";
  const std::string bytes = Llama2cBytes(r);
  WriteBytes(path, bytes.data(), bytes.size());
  auto m = LoadLlama2cModel(path);
  ASSERT_TRUE(m.ok()) << m.status();
  const int dim = 32, hd = 8, kv = 16;
  std::mt19937 rng(3);
  std::normal_distribution<float> nd;
  std::vector<float> x1(dim), x2(dim);
  for (float& v : x1) v = nd(rng);
  for (float& v : x2) v = nd(rng);
  const int pq = 5, pk = 2;

  auto q_old = MatVec(r.wq.data(), dim, dim, x1), k_old = MatVec(r.wk.data(), kv, dim, x2);
  RopeInterleaved(q_old, hd, pq);
  RopeInterleaved(k_old, hd, pk);
  const std::vector<float> wq = m->layers[0].wq.ToFloat(), wk = m->layers[0].wk.ToFloat();
  auto q_new = MatVec(wq.data(), dim, dim, x1), k_new = MatVec(wk.data(), kv, dim, x2);
  RopeHalf(q_new, hd, pq);
  RopeHalf(k_new, hd, pk);
  for (int h = 0; h < 4; ++h) {
    const int kh = h / 2;  // GQA: two query heads per key head
    double s_old = 0, s_new = 0;
    for (int i = 0; i < hd; ++i) {
      s_old += q_old[h * hd + i] * k_old[kh * hd + i];
      s_new += q_new[h * hd + i] * k_new[kh * hd + i];
    }
    EXPECT_NEAR(s_new, s_old, 1e-9 * (1 + std::abs(s_old))) << "head " << h;
  }
  // And the permutation is not the identity (the test above would pass trivially otherwise).
  EXPECT_NE(std::memcmp(wq.data(), r.wq.data(), wq.size() * sizeof(float)), 0);
}

TEST(Llama2cLoaderTest, Stories260K) {
  SQUEEZE_REQUIRE_ASSET(path, "models/stories260K/stories260K.bin");
  auto m = LoadModel(path);
  ASSERT_TRUE(m.ok()) << m.status();
  const ModelConfig& c = m->config;
  EXPECT_EQ(c.dim, 64);
  EXPECT_EQ(c.hidden_dim, 172);
  EXPECT_EQ(c.n_layers, 5);
  EXPECT_EQ(c.n_heads, 8);
  EXPECT_EQ(c.n_kv_heads, 4);
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_EQ(c.max_seq_len, 512);
  EXPECT_TRUE(c.tied_embeddings);
  EXPECT_FALSE(m->lm_head.has_value());
  EXPECT_EQ(m->layers.size(), 5u);
  EXPECT_EQ(m->layers[0].wk.rows(), 32);
  EXPECT_EQ(m->layers[0].w_down.cols(), 172);
  // The embedding is the file's first array, used in place.
  const std::string raw = ReadAll(path);
  ASSERT_EQ(raw.size(), 1056540u);
  EXPECT_EQ(std::memcmp(m->embedding.data(), raw.data() + 28, 512 * 64 * 4), 0);
  EXPECT_TRUE(InsideMappedFile(m->embedding.data(), "stories260K.bin"));
  // Loading twice gives the same hash.
  auto m2 = LoadModel(path);
  ASSERT_TRUE(m2.ok());
  EXPECT_EQ(m->content_hash, m2->content_hash);
}

ModelConfig SmallConfig(bool tied = true) {
  ModelConfig c;
  c.dim = 16;
  c.hidden_dim = 40;
  c.n_layers = 2;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.vocab_size = 50;
  c.max_seq_len = 64;
  c.norm_eps = 1e-6f;
  c.rope_theta = 500000.0f;
  c.tied_embeddings = tied;
  c.bos_id = 3;
  c.eos_id = 4;
  return c;
}

void ExpectSameWeights(const Model& a, const Model& b) {
  const auto ma = a.Matrices(), mb = b.Matrices();
  ASSERT_EQ(ma.size(), mb.size());
  for (size_t i = 0; i < ma.size(); ++i) {
    SCOPED_TRACE(ma[i].first);
    ASSERT_EQ(ma[i].first, mb[i].first);
    const WeightTensor &ta = *ma[i].second, &tb = *mb[i].second;
    ASSERT_EQ(ta.format(), tb.format());
    ASSERT_EQ(ta.rows(), tb.rows());
    ASSERT_EQ(ta.cols(), tb.cols());
    ASSERT_EQ(ta.bytes(), tb.bytes());
    EXPECT_EQ(std::memcmp(ta.data(), tb.data(), ta.bytes()), 0);
  }
  ASSERT_EQ(a.layers.size(), b.layers.size());
  for (size_t l = 0; l < a.layers.size(); ++l) {
    EXPECT_EQ(a.layers[l].attn_norm, b.layers[l].attn_norm);
    EXPECT_EQ(a.layers[l].ffn_norm, b.layers[l].ffn_norm);
  }
  EXPECT_EQ(a.final_norm, b.final_norm);
}

class HfRoundTripTest : public ::testing::TestWithParam<WeightFormat> {};

TEST_P(HfRoundTripTest, SaveThenLoadGivesIdenticalViews) {
  for (bool tied : {true, false}) {
    SCOPED_TRACE(tied);
    RandomModelOptions o;
    o.config = SmallConfig(tied);
    o.format = GetParam();
    o.seed = 42;
    Model m = MakeRandomModel(o);
    // Non-trivial norms, so that a loader returning ones would fail.
    for (size_t i = 0; i < m.final_norm.size(); ++i) m.final_norm[i] = 0.5f + 0.25f * i;
    m.layers[1].ffn_norm[3] = -2.0f;
    const std::string dir = testing::TempDir(std::string("rt-") + GetFormatTraits(o.format).name +
                                             (tied ? "-tied" : "-sep"));
    ASSERT_TRUE(SaveHfModel(m, dir).ok());

    auto st = OpenSafetensors(dir + "/model.safetensors");
    ASSERT_TRUE(st.ok()) << st.status();
    EXPECT_EQ(st->tensors.contains("lm_head.weight"), !tied);
    EXPECT_EQ(st->tensors.size(), 1 + 2 * 9 + 1 + (tied ? 0 : 1));

    auto loaded = LoadModel(dir);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    EXPECT_EQ(loaded->source, dir);
    EXPECT_EQ(loaded->content_hash.size(), 32u);
    const ModelConfig &a = m.config, &b = loaded->config;
    EXPECT_EQ(b.dim, a.dim);
    EXPECT_EQ(b.hidden_dim, a.hidden_dim);
    EXPECT_EQ(b.n_layers, a.n_layers);
    EXPECT_EQ(b.n_heads, a.n_heads);
    EXPECT_EQ(b.n_kv_heads, a.n_kv_heads);
    EXPECT_EQ(b.vocab_size, a.vocab_size);
    EXPECT_EQ(b.max_seq_len, a.max_seq_len);
    EXPECT_EQ(b.norm_eps, a.norm_eps);
    EXPECT_EQ(b.rope_theta, a.rope_theta);
    EXPECT_EQ(b.tied_embeddings, tied);
    EXPECT_EQ(b.bos_id, a.bos_id);
    EXPECT_EQ(b.eos_id, a.eos_id);
    EXPECT_EQ(loaded->lm_head.has_value(), !tied);
    ExpectSameWeights(m, *loaded);
    for (const auto& [name, t] : loaded->Matrices()) {
      EXPECT_EQ(t->format(), o.format) << name;
      EXPECT_TRUE(InsideMappedFile(t->data(), "/model.safetensors")) << name << " was copied";
    }
    // Through config.json as well.
    auto via_config = LoadModel(dir + "/config.json");
    ASSERT_TRUE(via_config.ok()) << via_config.status();
    EXPECT_EQ(via_config->content_hash, loaded->content_hash);
  }
}

INSTANTIATE_TEST_SUITE_P(Formats, HfRoundTripTest,
                         ::testing::Values(WeightFormat::kF32, WeightFormat::kF16,
                                           WeightFormat::kBF16),
                         [](const auto& info) { return GetFormatTraits(info.param).name; });

TEST(HfLoaderTest, GqaShapes) {
  RandomModelOptions o;
  o.config = SmallConfig();
  o.config.dim = 64;
  o.config.n_heads = 8;
  o.config.n_kv_heads = 2;
  Model m = MakeRandomModel(o);
  const std::string dir = testing::TempDir("gqa");
  ASSERT_TRUE(SaveHfModel(m, dir).ok());
  auto loaded = LoadHfModel(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  for (const LayerWeights& l : loaded->layers) {
    EXPECT_EQ(l.wq.rows(), 64);
    EXPECT_EQ(l.wk.rows(), 16);  // 2 kv heads * head_dim 8
    EXPECT_EQ(l.wv.rows(), 16);
    EXPECT_EQ(l.wo.cols(), 64);
  }
  auto st = OpenSafetensors(dir + "/model.safetensors");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->tensors.at("model.layers.1.self_attn.k_proj.weight").shape,
            (std::vector<int64_t>{16, 64}));
}

// Writes `m` as two shards and an index by hand (not through SaveHfModel).
void WriteSharded(const Model& m, const std::string& dir) {
  std::vector<StWriteTensor> a, b;
  nlohmann::json weight_map = nlohmann::json::object();
  const auto mats = m.Matrices();
  for (size_t i = 0; i < mats.size(); ++i) {
    const WeightTensor& t = *mats[i].second;
    const bool first = i < mats.size() / 2;
    (first ? a : b)
        .push_back(
            {mats[i].first, StDtype::kF32, {t.rows(), t.cols()}, t.data(), uint64_t(t.bytes())});
    weight_map[mats[i].first] =
        first ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
  }
  auto add_norm = [&](const std::string& name, const std::vector<float>& v) {
    b.push_back({name, StDtype::kF32, {int64_t(v.size())}, v.data(), v.size() * 4});
    weight_map[name] = "model-00002-of-00002.safetensors";
  };
  for (size_t l = 0; l < m.layers.size(); ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    add_norm(p + "input_layernorm.weight", m.layers[l].attn_norm);
    add_norm(p + "post_attention_layernorm.weight", m.layers[l].ffn_norm);
  }
  add_norm("model.norm.weight", m.final_norm);
  ASSERT_TRUE(WriteSafetensors(dir + "/model-00001-of-00002.safetensors", a).ok());
  ASSERT_TRUE(WriteSafetensors(dir + "/model-00002-of-00002.safetensors", b).ok());
  nlohmann::json index = {{"metadata", {{"total_size", 0}}}, {"weight_map", weight_map}};
  const std::string index_text = index.dump(2);
  WriteBytes(dir + "/model.safetensors.index.json", index_text.data(), index_text.size());
  const std::string config = HfConfigJson(m.config);
  WriteBytes(dir + "/config.json", config.data(), config.size());
}

TEST(HfLoaderTest, ShardedCheckpoint) {
  RandomModelOptions o;
  o.config = SmallConfig(/*tied=*/false);
  o.seed = 5;
  const Model m = MakeRandomModel(o);
  const std::string dir = testing::TempDir("sharded");
  WriteSharded(m, dir);
  auto loaded = LoadModel(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_TRUE(loaded->lm_head.has_value());
  ExpectSameWeights(m, *loaded);
  EXPECT_TRUE(InsideMappedFile(loaded->embedding.data(), "model-00001-of-00002.safetensors"));
  EXPECT_TRUE(InsideMappedFile(loaded->lm_head->data(), "model-00002-of-00002.safetensors"));
}

TEST(HfLoaderTest, TiedConfigIgnoresStoredLmHead) {
  RandomModelOptions o;
  o.config = SmallConfig(/*tied=*/false);
  const Model m = MakeRandomModel(o);
  const std::string dir = testing::TempDir("tied-with-head");
  ASSERT_TRUE(SaveHfModel(m, dir).ok());
  // Same weights (lm_head.weight still in the file), but the config now says tied.
  ModelConfig c = m.config;
  c.tied_embeddings = true;
  const std::string config = HfConfigJson(c);
  WriteBytes(dir + "/config.json", config.data(), config.size());
  auto loaded = LoadModel(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_FALSE(loaded->lm_head.has_value());
  EXPECT_EQ(loaded->classifier().data(), loaded->embedding.data());
  EXPECT_EQ(loaded->Matrices().size(), 1 + 2 * 7u);
}

TEST(HfLoaderTest, ContentHashFollowsTheBytes) {
  RandomModelOptions o;
  o.config = SmallConfig();
  const std::string d1 = testing::TempDir("hash1"), d2 = testing::TempDir("hash2");
  Model m = MakeRandomModel(o);
  ASSERT_TRUE(SaveHfModel(m, d1).ok());
  ASSERT_TRUE(SaveHfModel(m, d2).ok());
  auto a = LoadModel(d1), b = LoadModel(d2);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->content_hash, b->content_hash);  // the folder name is not part of the hash
  m.final_norm[0] = 3.0f;
  ASSERT_TRUE(SaveHfModel(m, d2).ok());
  auto c = LoadModel(d2);
  ASSERT_TRUE(c.ok());
  EXPECT_NE(a->content_hash, c->content_hash);
}

TEST(RandomModelTest, DeterministicAndScaled) {
  RandomModelOptions o;
  o.config = SmallConfig(/*tied=*/false);
  o.config.hidden_dim = 256;
  o.seed = 9;
  const Model a = MakeRandomModel(o), b = MakeRandomModel(o);
  ExpectSameWeights(a, b);
  EXPECT_EQ(a.content_hash, b.content_hash);
  EXPECT_TRUE(ValidateModel(a, "random").ok());
  o.seed = 10;
  const Model c = MakeRandomModel(o);
  EXPECT_NE(a.content_hash, c.content_hash);
  EXPECT_NE(std::memcmp(a.embedding.data(), c.embedding.data(), a.embedding.bytes()), 0);
  // Standard deviations: ~1 for the embedding, ~1/sqrt(fan_in) for matrices.
  auto stddev = [](const WeightTensor& t) {
    const std::vector<float> v = t.ToFloat();
    double s = 0, s2 = 0;
    for (float x : v) s += x, s2 += double(x) * x;
    const double mean = s / v.size();
    return std::sqrt(s2 / v.size() - mean * mean);
  };
  EXPECT_NEAR(stddev(a.embedding), 1.0, 0.1);
  EXPECT_NEAR(stddev(a.layers[0].w_up), 1.0 / 4.0, 0.02);     // fan_in 16
  EXPECT_NEAR(stddev(a.layers[0].w_down), 1.0 / 16.0, 0.01);  // fan_in 256
  EXPECT_EQ(a.layers[0].attn_norm, std::vector<float>(16, 1.0f));
  o.format = WeightFormat::kBF16;
  const Model d = MakeRandomModel(o);
  EXPECT_EQ(d.layers[0].wq.format(), WeightFormat::kBF16);
  EXPECT_NE(d.content_hash, c.content_hash);
}

TEST(LoadModelTest, DispatchAndPathErrors) {
  const std::string dir = testing::TempDir("dispatch");
  auto missing = LoadModel(dir + "/nope.bin");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find(dir + "/nope.bin"), std::string::npos);

  RandomModelOptions o;
  o.config = SmallConfig();
  ASSERT_TRUE(SaveHfModel(MakeRandomModel(o), dir).ok());
  auto st = LoadModel(dir + "/model.safetensors");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.status().message().find(dir + "/model.safetensors"), std::string::npos);
  EXPECT_NE(st.status().message().find("folder that holds config.json"), std::string::npos);

  auto empty_dir = LoadModel(testing::TempDir("dispatch-empty"));
  ASSERT_FALSE(empty_dir.ok());
  EXPECT_NE(empty_dir.status().message().find("config.json"), std::string::npos);
}

}  // namespace
}  // namespace squeeze
