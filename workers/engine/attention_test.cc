// Attention kernels and masks: flash and rowwise against the naive kernel with scalar
// micro-kernels (the oracle) for every mask, cache format and head layout; the visible ranges
// against the pairwise rule; the ring cache of a sliding window against a cache that keeps
// every position; a window at least as long as the context equals full attention.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "engine/attention.h"
#include "engine/engine.h"
#include "model/loader.h"

namespace squeeze {
namespace {

AttentionSettings Window(int32_t w, int32_t sinks = 0) {
  AttentionSettings a;
  a.window = w, a.sinks = sinks;
  return a;
}

AttentionSettings Blocks(int32_t block, int32_t local, int32_t stride) {
  AttentionSettings a;
  a.block = block, a.local_blocks = local, a.global_stride = stride;
  return a;
}

const AttentionSettings kMasks[] = {AttentionSettings{}, Window(7),       Window(20, 3),
                                    Window(1),           Blocks(4, 2, 3), Blocks(8, 1, 1)};

TEST(AttentionMaskTest, VisibleRangesFollowThePairwiseRule) {
  std::vector<PosRange> ranges;
  for (const AttentionSettings& a : kMasks) {
    for (int64_t q = 0; q < 70; ++q) {
      VisibleRanges(a, q, &ranges);
      for (size_t i = 1; i < ranges.size(); ++i)
        ASSERT_LT(ranges[i - 1].end, ranges[i].begin) << "ranges must be disjoint, not touching";
      for (int64_t k = 0; k < 75; ++k) {
        bool in = false;
        for (const PosRange& r : ranges) in |= k >= r.begin && k < r.end;
        ASSERT_EQ(in, IsVisible(a, q, k)) << AttentionSummary(a) << " q=" << q << " k=" << k;
      }
    }
  }
  VisibleRanges(Window(10, 4), 100, &ranges);
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_EQ(ranges[0].begin, 0);
  EXPECT_EQ(ranges[0].end, 4);
  EXPECT_EQ(ranges[1].begin, 91);
  EXPECT_EQ(ranges[1].end, 101);
}

struct Case {
  AttentionShape shape;
  std::vector<int32_t> map;  // explicit kv map (empty: standard)
};

// q, cache (positions [0, pos), full layout) and batch rows for `f`.
struct Inputs {
  std::vector<float> q, k, v;   // k, v: (ctx, kv_dim) floats
  std::vector<uint8_t> kq, vq;  // quantized rows of the same
};

Inputs MakeInputs(const AttentionShape& s, int64_t ctx, int64_t n, KvCacheFormat f, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const int64_t hd = s.head_dim, kv_dim = s.n_kv_heads * hd;
  Inputs in;
  in.q.resize(n * s.n_heads * hd);
  in.k.resize(ctx * kv_dim);
  in.v.resize(ctx * kv_dim);
  for (float& x : in.q) x = 1.5f * nd(rng);
  for (float& x : in.k) x = nd(rng);
  for (float& x : in.v) x = nd(rng);
  if (f == KvCacheFormat::kF32) {
    in.kq.assign(reinterpret_cast<uint8_t*>(in.k.data()),
                 reinterpret_cast<uint8_t*>(in.k.data() + in.k.size()));
    in.vq.assign(reinterpret_cast<uint8_t*>(in.v.data()),
                 reinterpret_cast<uint8_t*>(in.v.data() + in.v.size()));
  } else {
    const int64_t rb = KvRowBytes(f, hd);
    in.kq.resize(ctx * s.n_kv_heads * rb);
    in.vq.resize(in.kq.size());
    for (int64_t r = 0; r < ctx * s.n_kv_heads; ++r) {
      QuantizeKvRow(f, in.k.data() + r * hd, in.kq.data() + r * rb, hd);
      QuantizeKvRow(f, in.v.data() + r * hd, in.vq.data() + r * rb, hd);
    }
  }
  return in;
}

std::vector<float> RunKernel(AttentionKernel kernel, Isa isa, const AttentionSettings& a,
                             const AttentionShape& s, KvCacheFormat f, const Inputs& in,
                             int64_t pos, int64_t n, ThreadPool& pool) {
  // The cache as the engine holds it (kv head after kv head), the batch token after token.
  const int64_t rb = KvRowBytes(f, s.head_dim), pos_bytes = rb * s.n_kv_heads;
  std::vector<uint8_t> kc(pos * pos_bytes), vc(kc.size());
  for (int64_t p = 0; p < pos; ++p) {
    for (int64_t g = 0; g < s.n_kv_heads; ++g) {
      std::memcpy(kc.data() + (g * pos + p) * rb, in.kq.data() + p * pos_bytes + g * rb, rb);
      std::memcpy(vc.data() + (g * pos + p) * rb, in.vq.data() + p * pos_bytes + g * rb, rb);
    }
  }
  KvView kv;
  kv.format = f;
  kv.cache = {kc.data(), vc.data(), rb, pos * rb};
  kv.batch_pos = pos;
  kv.batch = {in.kq.data() + pos * pos_bytes, in.vq.data() + pos * pos_bytes, pos_bytes, rb};
  const int64_t floats = AttentionScratchFloats(kernel, a, s, n, pos + n);
  std::vector<float> scratch(pool.size() * floats, std::nanf(""));
  std::vector<float> out(n * s.n_heads * s.head_dim, std::nanf(""));
  Attention(pool, isa, kernel, a, s, kv, in.q.data(), n, out.data(), scratch.data(), floats);
  return out;
}

// Flash and rowwise give the naive kernel's output (scalar micro-kernels, std::exp) within
// f32 rounding: 2e-5 relative to the largest output value (outputs are convex combinations of
// values of magnitude <= ~4; the kernels sum in different orders and use a polynomial exp).
TEST(AttentionKernelTest, FlashAndRowwiseMatchNaiveForEveryMaskAndLayout) {
  std::vector<Case> cases;
  cases.push_back({{4, 4, 16, nullptr}, {}});               // multi-head
  cases.push_back({{6, 2, 8, nullptr}, {}});                // grouped (3 per kv head)
  cases.push_back({{5, 3, 12, nullptr}, {0, 0, 2, 1, 2}});  // pruned: explicit map
  cases.push_back({{8, 1, 64, nullptr}, {}});               // multi-query
  ThreadPool pool(3);
  for (Case& c : cases) {
    if (!c.map.empty()) c.shape.kv_head_of = c.map.data();
    for (KvCacheFormat f : {KvCacheFormat::kF32, KvCacheFormat::kInt8}) {
      for (const AttentionSettings& mask : kMasks) {
        for (auto [pos, n] : {std::pair<int64_t, int64_t>{0, 45}, {37, 1}, {29, 40}}) {
          const Inputs in = MakeInputs(c.shape, pos + n, n, f, uint32_t(pos * 7 + n));
          const std::vector<float> want =
              RunKernel(AttentionKernel::kNaive, Isa::kRef, mask, c.shape, f, in, pos, n, pool);
          double scale = 0;
          for (float x : want) scale = std::max(scale, double(std::abs(x)));
          for (AttentionKernel k :
               {AttentionKernel::kFlash, AttentionKernel::kRowwise, AttentionKernel::kNaive}) {
            for (Isa isa : {Isa::kRef, ActiveIsa()}) {
              AttentionSettings a = mask;
              a.tile_q = 8, a.tile_k = 16;  // several tiles in each direction
              const std::vector<float> got = RunKernel(k, isa, a, c.shape, f, in, pos, n, pool);
              for (size_t i = 0; i < got.size(); ++i) {
                ASSERT_NEAR(got[i], want[i], 2e-5 * scale)
                    << AttentionKernelName(k) << " " << IsaName(isa) << " "
                    << AttentionSummary(mask) << " " << KvCacheFormatName(f) << " heads "
                    << c.shape.n_heads << "/" << c.shape.n_kv_heads << " pos " << pos << " n " << n
                    << " at " << i;
              }
            }
          }
        }
      }
    }
  }
}

Model SmallModel(int32_t heads = 4, int32_t kv_heads = 2) {
  RandomModelOptions o;
  o.config.dim = 64, o.config.hidden_dim = 96, o.config.n_layers = 2, o.config.n_heads = heads;
  o.config.n_kv_heads = kv_heads, o.config.vocab_size = 100, o.config.max_seq_len = 256;
  o.seed = 5;
  return MakeRandomModel(o);
}

std::vector<int32_t> Tokens(int n) {
  std::vector<int32_t> t;
  for (int i = 0; i < n; ++i) t.push_back((i * 37 + 11) % 100);
  return t;
}

std::vector<float> Logits(const Model& m, int n, EngineOptions o = {}) {
  auto engine = Engine::Create(m, o);
  EXPECT_TRUE(engine.ok()) << engine.status();
  std::vector<float> out(size_t(n) * 100);
  EXPECT_TRUE((*engine)->Forward(Tokens(n), out.data(), true).ok());
  return out;
}

TEST(AttentionEngineTest, WindowAtLeastTheContextEqualsFullAttention) {
  const Model full = SmallModel();
  Model window = full;
  window.attention = Window(120);
  Model sinks = full;
  sinks.attention = Window(100, 20);
  const std::vector<float> want = Logits(full, 120);
  EXPECT_EQ(Logits(window, 120), want);
  EXPECT_EQ(Logits(sinks, 120), want);
  Model shorter = full;
  shorter.attention = Window(119);
  EXPECT_NE(Logits(shorter, 120), want);
}

// The ring of sinks + window positions gives exactly what a cache of every position gives
// under the same mask, in batches of any size and token by token.
TEST(AttentionEngineTest, RingCacheEqualsFullCacheUnderTheSameMask) {
  for (AttentionSettings a : {Window(16), Window(11, 3)}) {
    for (KvCacheFormat f : {KvCacheFormat::kF32, KvCacheFormat::kInt8}) {
      Model m = SmallModel();
      m.attention = a;
      m.kv_cache = f;
      EngineOptions keep;
      keep.ring_cache = false;
      const std::vector<float> want = Logits(m, 90, keep);
      for (int batch : {1, 5, 16, 128}) {
        EngineOptions o;
        o.max_batch = batch;
        auto engine = Engine::Create(m, o);
        ASSERT_TRUE(engine.ok());
        EXPECT_EQ((*engine)->kv_cache_positions(), a.sinks + a.window);
        std::vector<float> got(90 * 100);
        ASSERT_TRUE((*engine)->Forward(Tokens(90), got.data(), true).ok());
        for (size_t i = 0; i < got.size(); ++i)
          ASSERT_NEAR(got[i], want[i], 1e-4 * (1 + std::abs(want[i])))
              << AttentionSummary(a) << " " << KvCacheFormatName(f) << " batch " << batch;
      }
    }
  }
}

TEST(AttentionEngineTest, KernelsGiveTheSameLogitsAndReportTheirScratch) {
  Model m = SmallModel(8, 2);
  std::vector<std::vector<float>> out;
  std::vector<int64_t> scratch;
  for (AttentionKernel k : {AttentionKernel::kNaive, AttentionKernel::kRowwise,
                            AttentionKernel::kFlash, AttentionKernel::kAuto}) {
    EngineOptions o;
    o.attention_kernel = k;
    o.max_batch = 64;
    o.threads = 2;
    auto engine = Engine::Create(m, o);
    ASSERT_TRUE(engine.ok());
    scratch.push_back((*engine)->attention_scratch_bytes());
    out.emplace_back(100 * 100);
    ASSERT_TRUE((*engine)->Forward(Tokens(100), out.back().data(), true).ok());
  }
  for (size_t k = 1; k < out.size(); ++k) {
    for (size_t i = 0; i < out[0].size(); ++i)
      ASSERT_NEAR(out[k][i], out[0][i], 1e-4 * (1 + std::abs(out[0][i]))) << k;
  }
  // naive: 2 threads x (64 tokens x 256 positions + chunk buffers); rowwise: 2 x 256; flash:
  // 2 x tiles (32 rows x (2 x 8 dims + 64 keys + 2) + 2 x 64 keys x 8 dims).
  EXPECT_EQ(scratch[0], 2 * (64 * 256 + 2 * 64 * 8) * 4);
  EXPECT_EQ(scratch[2], 2 * (32 * (2 * 8 + 64 + 2) + 2 * 64 * 8) * 4);
  EXPECT_EQ(scratch[1], 2 * 256 * 4);
}

}  // namespace
}  // namespace squeeze
