// Dispatch of matrix kernels by (format, instruction set), falling back to lower levels, and of
// the vector kernels (attention, element-wise steps) by instruction set.
#include "cpu/cpu_kernels.h"
#include "squeeze/kernels/fp16.h"

namespace squeeze {
namespace cpu {
namespace {

constexpr MatmulKernels kNone = {nullptr, nullptr};

bool Complete(const MatmulKernels& k) {
  return k.gemv && k.gemm;
}

}  // namespace

const float* HalfToFloatTable() {
  static const float* table = [] {
    static float t[65536];
    for (int i = 0; i < 65536; ++i) t[i] = fp16_to_fp32(uint16_t(i));
    return t;
  }();
  return table;
}

bool HasAvx512Vnni() {
  static const bool has = __builtin_cpu_supports("avx512vnni");
  return has;
}

bool HasAvx512Vbmi() {
  static const bool has = __builtin_cpu_supports("avx512vbmi");
  return has;
}

bool HasAvx512Bf16() {
  static const bool has = __builtin_cpu_supports("avx512bf16");
  return has;
}

const MatmulKernels& KernelsAtLevel(WeightFormat f, Isa isa) {
  const int i = static_cast<int>(f);
  switch (isa) {
    case Isa::kRef:
      return GetMatmulKernelsRef(f);
    case Isa::kAvx2:
      if (Complete(kMatmulSparseAvx2[i])) return kMatmulSparseAvx2[i];
      if (Complete(kMatmulAvx2[i])) return kMatmulAvx2[i];
      if (Complete(kMatmulW8a8Avx2[i])) return kMatmulW8a8Avx2[i];
      if (Complete(kMatmulTf32Avx2[i])) return kMatmulTf32Avx2[i];
      if (Complete(kMatmulTable4Avx2[i])) return kMatmulTable4Avx2[i];
      return Complete(kMatmulIntAvx2[i]) ? kMatmulIntAvx2[i] : kMatmulFloat8Avx2[i];
    case Isa::kAvx512:
      if (Complete(kMatmulSparseAvx2[i])) return kMatmulSparseAvx2[i];  // no AVX-512 version
      if (HasAvx512Bf16() && Complete(kMatmulBf16Avx512[i])) return kMatmulBf16Avx512[i];
      if (Complete(kMatmulAvx512[i])) return kMatmulAvx512[i];
      if (Complete(kMatmulW8a8Avx512[i]))
        return HasAvx512Vnni() ? kMatmulW8a8Avx512[i] : kMatmulW8a8Avx2[i];
      if (Complete(kMatmulTf32Avx512[i])) return kMatmulTf32Avx512[i];
      if (Complete(kMatmulTable4Vnni512[i]))
        return HasAvx512Vnni() ? kMatmulTable4Vnni512[i] : kMatmulTable4Avx2[i];
      if (HasAvx512Vnni() && HasAvx512Vbmi() && Complete(kMatmulLowbitVbmi512[i]))
        return kMatmulLowbitVbmi512[i];
      if (HasAvx512Vnni() && Complete(kMatmulIntVnni512[i])) return kMatmulIntVnni512[i];
      return Complete(kMatmulIntAvx512[i]) ? kMatmulIntAvx512[i] : kMatmulFloat8Avx512[i];
  }
  return kNone;
}

}  // namespace cpu

const MatmulKernels& GetMatmulKernels(WeightFormat f, Isa isa) {
  for (Isa level : {Isa::kAvx512, Isa::kAvx2}) {
    if (isa < level) continue;
    const MatmulKernels& k = cpu::KernelsAtLevel(f, level);
    if (cpu::Complete(k)) return k;
  }
  return GetMatmulKernelsRef(f);
}

const PreparedGemv* GetPreparedGemv(WeightFormat f, Isa isa) {
  const int i = static_cast<int>(f);
  if (i < 0 || i >= kWeightFormatCount) return nullptr;
  const MatmulKernels* k = &GetMatmulKernels(f, isa);
  const PreparedGemv* p = nullptr;
  if (k == &cpu::kMatmulIntVnni512[i]) p = &cpu::kPreparedIntVnni512[i];
  if (k == &cpu::kMatmulLowbitVbmi512[i]) p = &cpu::kPreparedLowbitVbmi512[i];
  if (k == &cpu::kMatmulAvx2[i]) p = &cpu::kPreparedAvx2[i];
  if (k == &cpu::kMatmulIntAvx2[i]) p = &cpu::kPreparedIntAvx2[i];
  if (k == &cpu::kMatmulTable4Avx2[i]) p = &cpu::kPreparedTable4Avx2[i];
  if (k == &cpu::kMatmulTable4Vnni512[i]) p = &cpu::kPreparedTable4Vnni512[i];
  if (k == &cpu::kMatmulW8a8Avx2[i]) p = &cpu::kPreparedW8a8Avx2[i];
  if (k == &cpu::kMatmulW8a8Avx512[i]) p = &cpu::kPreparedW8a8Avx512[i];
  return p != nullptr && p->gemv != nullptr ? p : nullptr;
}

const CsrKernels& GetCsrKernels(WeightFormat values, Isa isa) {
  if (isa < Isa::kAvx2 || !IsaSupported(Isa::kAvx2)) return GetCsrKernelsRef(values);
  return values == WeightFormat::kF16 ? cpu::kCsrAvx2F16 : cpu::kCsrAvx2F32;
}

const VecKernels& GetVecKernels(Isa isa) {
  static const VecKernels kRef = {dot_ref, axpy_ref, rmsnorm_ref, swiglu_ref};
  return isa >= Isa::kAvx2 && IsaSupported(Isa::kAvx2) ? cpu::kVecAvx2 : kRef;
}

}  // namespace squeeze
