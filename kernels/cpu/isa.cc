// Run-time detection of the CPU's instruction sets, with an environment override for tests
// and benchmarks (SQUEEZE_ISA=ref|avx2|avx512).
#include <cstdlib>
#include <cstring>

#include "squeeze/kernels/matmul.h"

namespace squeeze {

bool IsaSupported(Isa isa) {
  switch (isa) {
    case Isa::kRef:
      return true;
    case Isa::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::kAvx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma");
  }
  return false;
}

Isa DetectIsa() {
  if (IsaSupported(Isa::kAvx512)) return Isa::kAvx512;
  if (IsaSupported(Isa::kAvx2)) return Isa::kAvx2;
  return Isa::kRef;
}

const char* IsaName(Isa isa) {
  switch (isa) {
    case Isa::kRef:
      return "ref";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512";
  }
  return "unknown";
}

bool IsaFromName(const char* name, Isa* out) {
  for (Isa isa : {Isa::kRef, Isa::kAvx2, Isa::kAvx512}) {
    if (std::strcmp(name, IsaName(isa)) == 0) {
      *out = isa;
      return true;
    }
  }
  return false;
}

Isa ActiveIsa() {
  static const Isa active = [] {
    Isa best = DetectIsa();
    const char* env = std::getenv("SQUEEZE_ISA");
    Isa wanted;
    if (env && IsaFromName(env, &wanted) && IsaSupported(wanted) && wanted < best) return wanted;
    return best;
  }();
  return active;
}

}  // namespace squeeze
