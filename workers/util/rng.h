// A small deterministic random number generator (splitmix64) with uniform and normal draws of
// our own, so that random models, generated corpora and training batches are identical on
// every standard library and machine.
#pragma once

#include <cmath>
#include <cstdint>

namespace squeeze {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in (0, 1).
  double Uniform() { return (double(Next() >> 11) + 0.5) * 0x1.0p-53; }
  // Uniform integer in [0, n) (n > 0; the tiny modulo bias is irrelevant here).
  uint64_t Below(uint64_t n) { return Next() % n; }
  // Standard normal (Box-Muller; the second value is discarded for simplicity).
  double Normal() {
    const double u1 = Uniform(), u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  uint64_t state_;
};

}  // namespace squeeze
