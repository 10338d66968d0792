// Tables of the CPU's optimized matrix kernels, one per instruction set, indexed by
// WeightFormat. An entry with null pointers means "no kernel at this level"; dispatch then
// falls back to the next lower level (and finally to the reference kernels).
#pragma once

#include "squeeze/kernels/matmul.h"

namespace squeeze::cpu {

extern const MatmulKernels kMatmulAvx2[kWeightFormatCount];
extern const MatmulKernels kMatmulAvx512[kWeightFormatCount];

}  // namespace squeeze::cpu
