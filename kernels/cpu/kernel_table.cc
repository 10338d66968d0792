// Dispatch of matrix kernels by (format, instruction set), falling back to lower levels.
#include "cpu/cpu_kernels.h"

namespace squeeze {

const MatmulKernels& GetMatmulKernels(WeightFormat f, Isa isa) {
  const int i = static_cast<int>(f);
  if (isa >= Isa::kAvx512 && cpu::kMatmulAvx512[i].gemv && cpu::kMatmulAvx512[i].gemm)
    return cpu::kMatmulAvx512[i];
  if (isa >= Isa::kAvx2 && cpu::kMatmulAvx2[i].gemv && cpu::kMatmulAvx2[i].gemm)
    return cpu::kMatmulAvx2[i];
  return GetMatmulKernelsRef(f);
}

}  // namespace squeeze
