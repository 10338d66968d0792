// Helpers of the CUDA tests (see cuda_test_util.h).
#include "cuda/cuda_test_util.h"

#include <cmath>
#include <cstring>
#include <random>

namespace squeeze::cuda_test {

float Poison() {
  float f;
  std::memcpy(&f, &kPoisonBits, sizeof f);
  return f;
}

std::vector<float> RandomFloats(int64_t n, uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& f : v) f = dist(rng);
  return v;
}

DeviceBuffer BytesToDevice(const std::vector<uint8_t>& host, int64_t offset) {
  absl::StatusOr<DeviceBuffer> buf = DeviceBuffer::Create(host.size() + offset);
  EXPECT_TRUE(buf.ok()) << buf.status();
  if (!buf.ok()) return DeviceBuffer();
  EXPECT_TRUE(buf->CopyFromHost(host.data(), host.size(), offset).ok());
  return std::move(*buf);
}

DeviceBuffer ToDevice(const std::vector<float>& host, int64_t offset) {
  absl::StatusOr<DeviceBuffer> buf = DeviceBuffer::Create((host.size() + offset) * sizeof(float));
  EXPECT_TRUE(buf.ok()) << buf.status();
  if (!buf.ok()) return DeviceBuffer();
  EXPECT_TRUE(
      buf->CopyFromHost(host.data(), host.size() * sizeof(float), offset * sizeof(float)).ok());
  return std::move(*buf);
}

GuardedOutput MakeGuardedOutput(int64_t n) {
  return {ToDevice(std::vector<float>(n + 2 * kGuard, Poison()), 0)};
}

std::vector<float> ReadGuardedOutput(const GuardedOutput& g, int64_t n) {
  std::vector<float> all(n + 2 * kGuard);
  EXPECT_TRUE(g.buf.CopyToHost(all.data(), all.size() * sizeof(float)).ok());
  for (int64_t i = 0; i < kGuard; ++i) {
    uint32_t before, after;
    std::memcpy(&before, &all[i], 4);
    std::memcpy(&after, &all[kGuard + n + i], 4);
    EXPECT_EQ(before, kPoisonBits) << "write before the output at offset " << i - kGuard;
    EXPECT_EQ(after, kPoisonBits) << "write past the output at offset " << n + i;
  }
  std::vector<float> out(all.begin() + kGuard, all.begin() + kGuard + n);
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_FALSE(std::isnan(out[i])) << "output " << i << " unwritten or NaN";
    if (std::isnan(out[i])) break;
  }
  return out;
}

}  // namespace squeeze::cuda_test
