// Helpers of the CUDA tests: skipping without a device, random inputs, device copies, and
// poisoned outputs between guard regions (an unwritten element stays NaN, a write out of range
// changes a guard).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cuda/cuda_backend.h"
#include "gtest/gtest.h"

namespace squeeze::cuda_test {

// Skips the current test, naming why, when the CUDA runtime sees no device.
#define SQUEEZE_REQUIRE_CUDA()                                             \
  do {                                                                     \
    std::string why_;                                                      \
    if (!CudaAvailable(&why_)) GTEST_SKIP() << "no CUDA device: " << why_; \
  } while (0)

// Guard floats on each side of an output; they and the output start as kPoisonBits (a NaN).
inline constexpr int64_t kGuard = 64;
inline constexpr uint32_t kPoisonBits = 0x7fc0dead;

float Poison();

// n floats uniform in [lo, hi), deterministic for a seed.
std::vector<float> RandomFloats(int64_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f);

// Copies `host` into a new device buffer starting `offset` floats in (misaligned bases).
DeviceBuffer ToDevice(const std::vector<float>& host, int64_t offset);
// The same for bytes, starting `offset` bytes in.
DeviceBuffer BytesToDevice(const std::vector<uint8_t>& host, int64_t offset);

// A device output of n floats between two guard regions, all poisoned.
struct GuardedOutput {
  DeviceBuffer buf;
  float* out() const { return buf.as<float>() + kGuard; }
};
GuardedOutput MakeGuardedOutput(int64_t n);

// Reads the output back; checks the guards are untouched poison and the output has no NaN.
std::vector<float> ReadGuardedOutput(const GuardedOutput& g, int64_t n);

}  // namespace squeeze::cuda_test
