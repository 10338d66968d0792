// Tables of the CPU's optimized matrix kernels, per instruction set, indexed by WeightFormat:
// one table for the float formats (matmul_<isa>.cc), one for the integer formats
// (matmul_int_<isa>.cc) and one for the low-bit float formats nf4/fp4/fp8
// (matmul_float8_<isa>.cc); a format has real kernels in at most one table of a level. An entry
// with null pointers means "no kernel there"; dispatch then falls back to the next lower level
// (and finally to the reference kernels).
#pragma once

#include "squeeze/kernels/matmul.h"

namespace squeeze::cpu {

extern const MatmulKernels kMatmulAvx2[kWeightFormatCount];
extern const MatmulKernels kMatmulAvx512[kWeightFormatCount];
extern const MatmulKernels kMatmulIntAvx2[kWeightFormatCount];
extern const MatmulKernels kMatmulIntAvx512[kWeightFormatCount];
extern const MatmulKernels kMatmulFloat8Avx2[kWeightFormatCount];
extern const MatmulKernels kMatmulFloat8Avx512[kWeightFormatCount];

// The kernels of format f at exactly this level (no fallback; for kRef the reference kernels),
// or an entry with null pointers when the level has none.
const MatmulKernels& KernelsAtLevel(WeightFormat f, Isa isa);

}  // namespace squeeze::cpu
