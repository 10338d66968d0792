// The GPU forward pass against the CPU engine on stories260K (GQA: 8 query heads, 4 kv heads):
// logits token by token within a stated tolerance and identical greedy text, for f32 weights,
// q4_g32 weights and a sliding window with a sink. Skips with a message without a GPU or
// without ../shared/assets.
#include "engine/cuda_engine.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cuda/cuda_backend.h"
#include "engine/engine.h"
#include "gtest/gtest.h"
#include "measure/cuda_latency.h"
#include "model/loader.h"
#include "testutil/assets.h"

namespace squeeze {
namespace {

// |gpu - cpu| <= kLogitTol * max(1, max |cpu|) for every logit. Both sides run f32 with other
// summation orders (warp-shuffle trees vs SIMD lanes, online softmax vs the CPU kernels); the
// CPU engine itself matches a double-precision reference to 1e-4 (golden_test.cc).
constexpr double kLogitTol = 1e-3;

#define SQUEEZE_REQUIRE_CUDA()                                             \
  do {                                                                     \
    std::string why_;                                                      \
    if (!CudaAvailable(&why_)) GTEST_SKIP() << "no CUDA device: " << why_; \
  } while (0)

// Every matrix re-packed in `f` (from its float values).
void Repack(Model& m, WeightFormat f) {
  for (auto& [name, t] : m.MutableMatrices()) {
    std::vector<float> v(size_t(t->rows() * t->cols()));
    for (int64_t r = 0; r < t->rows(); ++r) t->RowToFloat(r, v.data() + r * t->cols());
    *t = WeightTensor::FromFloat(f, t->rows(), t->cols(), v.data());
  }
}

int32_t Argmax(const std::vector<float>& v) {
  return int32_t(std::max_element(v.begin(), v.end()) - v.begin());
}

// Runs a prompt and then greedy generation token by token on both engines, comparing the
// logits at every step and the generated tokens.
void ExpectSameAsCpu(const Model& model, int generate) {
  auto cpu = Engine::Create(model);
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  auto gpu = CudaEngine::Create(model);
  ASSERT_TRUE(gpu.ok()) << gpu.status();
  ::testing::Test::RecordProperty("gpu_bytes", std::to_string((*gpu)->device_bytes()));
  const int64_t vocab = model.config.vocab_size;
  std::vector<float> want(vocab), got(vocab);
  std::vector<int32_t> tokens = {1, 403, 407, 261, 378, 290, 265, 261, 345, 270, 297, 471};
  std::vector<int32_t> cpu_text, gpu_text;
  int32_t cpu_next = tokens[0], gpu_next = tokens[0];
  const int64_t steps = int64_t(tokens.size()) + generate;
  for (int64_t i = 0; i < steps; ++i) {
    const bool prompt = i < int64_t(tokens.size());
    const int32_t cpu_in = prompt ? tokens[i] : cpu_next;
    const int32_t gpu_in = prompt ? tokens[i] : gpu_next;
    ASSERT_TRUE((*cpu)->Forward({&cpu_in, 1}, want.data()).ok());
    ASSERT_TRUE((*gpu)->Forward({&gpu_in, 1}, got.data()).ok());
    double scale = 1, worst = 0;
    for (float w : want) scale = std::max(scale, double(std::fabs(w)));
    for (int64_t j = 0; j < vocab; ++j) {
      ASSERT_FALSE(std::isnan(got[j])) << "step " << i << " logit " << j;
      worst = std::max(worst, std::fabs(double(got[j]) - want[j]));
    }
    ASSERT_LE(worst, kLogitTol * scale) << "step " << i;
    cpu_next = Argmax(want);
    gpu_next = Argmax(got);
    if (!prompt) {
      cpu_text.push_back(cpu_in);
      gpu_text.push_back(gpu_in);
    }
  }
  EXPECT_EQ(gpu_text, cpu_text) << "greedy text differs";
}

TEST(CudaEngine, Stories260KMatchesCpuEngine) {
  SQUEEZE_REQUIRE_CUDA();
  SQUEEZE_REQUIRE_ASSET(path, "models/stories260K/stories260K.bin");
  absl::StatusOr<Model> model = LoadModel(path);
  ASSERT_TRUE(model.ok()) << model.status();
  ExpectSameAsCpu(*model, 40);
}

TEST(CudaEngine, Stories260KQ4G32MatchesCpuEngine) {
  SQUEEZE_REQUIRE_CUDA();
  SQUEEZE_REQUIRE_ASSET(path, "models/stories260K/stories260K.bin");
  absl::StatusOr<Model> model = LoadModel(path);
  ASSERT_TRUE(model.ok()) << model.status();
  Repack(*model, WeightFormat::kQ4G32);
  ExpectSameAsCpu(*model, 40);
}

TEST(CudaEngine, Stories260KSlidingWindowMatchesCpuEngine) {
  SQUEEZE_REQUIRE_CUDA();
  SQUEEZE_REQUIRE_ASSET(path, "models/stories260K/stories260K.bin");
  absl::StatusOr<Model> model = LoadModel(path);
  ASSERT_TRUE(model.ok()) << model.status();
  model->attention.window = 8;
  model->attention.sinks = 1;
  ExpectSameAsCpu(*model, 40);
}

TEST(CudaEngine, LatencyWithCudaEvents) {
  SQUEEZE_REQUIRE_CUDA();
  SQUEEZE_REQUIRE_ASSET(path, "models/stories260K/stories260K.bin");
  absl::StatusOr<Model> model = LoadModel(path);
  ASSERT_TRUE(model.ok()) << model.status();
  auto gpu = CudaEngine::Create(*model);
  ASSERT_TRUE(gpu.ok()) << gpu.status();
  LatencySettings ls;
  ls.prompt = 16;
  ls.generate = 8;
  ls.repeats = 3;
  absl::StatusOr<CudaLatencyReport> r = MeasureCudaLatency(**gpu, ls, {}, model->config.vocab_size);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GT(r->latency.decode_ms_per_token.median, 0);
  EXPECT_GE(r->latency.decode_ms_per_token.p90, r->latency.decode_ms_per_token.median);
  EXPECT_GT(r->latency.prefill_tokens_per_s.median, 0);
  EXPECT_EQ(r->latency.isa, "cuda");
  EXPECT_GT(r->engine_bytes, 0);
  EXPECT_NE(r->device.find("driver"), std::string::npos) << r->device;
}

// Runs everywhere: without a GPU the engine refuses with the reason.
TEST(CudaEngine, RefusesWithoutAGpu) {
  if (CudaAvailable(nullptr)) GTEST_SKIP() << "a GPU is present";
  Model m;
  auto e = CudaEngine::Create(m);
  EXPECT_EQ(e.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(e.status().message().find("no CUDA device"), std::string::npos) << e.status();
}

}  // namespace
}  // namespace squeeze
