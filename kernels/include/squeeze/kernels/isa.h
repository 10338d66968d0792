// CPU instruction sets that have kernels, detected at run time (kernels/cpu/isa.cc).
#pragma once

#include <cstdint>

namespace squeeze {

// CPU instruction sets with kernels, in increasing order of capability.
enum class Isa : uint8_t {
  kRef = 0,     // scalar reference kernels (the oracle)
  kAvx2 = 1,    // AVX2 + FMA
  kAvx512 = 2,  // AVX-512 F/BW/VL (+ VNNI, BF16 where present)
};

// Best instruction set this CPU supports.
Isa DetectIsa();
// DetectIsa(), unless the environment variable SQUEEZE_ISA (ref, avx2, avx512) names a
// supported lower one. Read once.
Isa ActiveIsa();
bool IsaSupported(Isa isa);
const char* IsaName(Isa isa);
// Parses "ref", "avx2" or "avx512"; returns false for anything else.
bool IsaFromName(const char* name, Isa* out);

}  // namespace squeeze
