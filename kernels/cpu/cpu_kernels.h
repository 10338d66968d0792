// Tables of the CPU's optimized matrix kernels, per instruction set, indexed by WeightFormat:
// one table for the float formats (matmul_<isa>.cc), one for the integer formats
// (matmul_int_<isa>.cc), one for the 4-bit table formats nf4/fp4 (matmul_table4_<isa>.cc) and
// one for fp8 (matmul_float8_<isa>.cc); a format has real kernels in at most one table of a level.
// An entry with null pointers means "no kernel there"; dispatch then falls back to the next lower
// level (and finally to the reference kernels).
#pragma once

#include "squeeze/kernels/csr.h"
#include "squeeze/kernels/matmul.h"
#include "squeeze/kernels/ops.h"

namespace squeeze::cpu {

extern const MatmulKernels kMatmulAvx2[kWeightFormatCount];
extern const MatmulKernels kMatmulAvx512[kWeightFormatCount];
extern const MatmulKernels kMatmulIntAvx2[kWeightFormatCount];
extern const MatmulKernels kMatmulIntAvx512[kWeightFormatCount];
extern const MatmulKernels kMatmulFloat8Avx2[kWeightFormatCount];    // fp8 at the AVX2 level
extern const MatmulKernels kMatmulTable4Avx2[kWeightFormatCount];    // nf4, fp4 at the AVX2 level
extern const MatmulKernels kMatmulFloat8Avx512[kWeightFormatCount];  // fp8 at the AVX-512 level
// nf4, fp4 at the AVX-512 level, in fixed point as the AVX2 ones (matmul_table4_vnni512.cc;
// needs AVX512-VNNI, and where the CPU lacks it the AVX2 kernels serve the AVX-512 level).
extern const MatmulKernels kMatmulTable4Vnni512[kWeightFormatCount];
extern const PreparedGemv kPreparedTable4Vnni512[kWeightFormatCount];
// Formats that also transform the inputs, one table per format and level (only that format's
// row is set): w8a8 (matmul_w8a8_<isa>.cc; the AVX-512 one needs AVX512-VNNI, and where the CPU
// lacks it the AVX2 kernels serve the AVX-512 level) and tf32 (matmul_tf32_<isa>.cc).
extern const MatmulKernels kMatmulW8a8Avx2[kWeightFormatCount];
extern const MatmulKernels kMatmulW8a8Avx512[kWeightFormatCount];
extern const MatmulKernels kMatmulTf32Avx2[kWeightFormatCount];
extern const MatmulKernels kMatmulTf32Avx512[kWeightFormatCount];

// VNNI kernels of q8_channel and the q8/q4 group formats (matmul_int_vnni512.cc); at the
// AVX-512 level they replace kMatmulIntAvx512's rows on CPUs with AVX512-VNNI.
extern const MatmulKernels kMatmulIntVnni512[kWeightFormatCount];
// Their prepared-activation gemv (matmul.h, PreparedGemv), same rows.
extern const PreparedGemv kPreparedIntVnni512[kWeightFormatCount];
// Kernels of the q4/q3/q2 group formats with vpermt2b and vpdpbusd (matmul_lowbit_vbmi512.cc):
// at the AVX-512 level they replace the q4 rows of kMatmulIntVnni512 and the q3/q2 rows of
// kMatmulIntAvx512 on CPUs with AVX512-VBMI and -VNNI.
extern const MatmulKernels kMatmulLowbitVbmi512[kWeightFormatCount];
extern const PreparedGemv kPreparedLowbitVbmi512[kWeightFormatCount];
// The prepared-activation gemv of kMatmulIntAvx2 (integer dot products with vpmaddubsw), of
// kMatmulTable4Avx2 (nf4/fp4 in fixed point: inputs rounded to int16 blocks) and of the AVX2
// and AVX-512 VNNI w8a8 rows (the token quantized once).
extern const PreparedGemv kPreparedAvx2[kWeightFormatCount];  // bf16: x rounded once
extern const PreparedGemv kPreparedIntAvx2[kWeightFormatCount];
extern const PreparedGemv kPreparedTable4Avx2[kWeightFormatCount];
extern const PreparedGemv kPreparedW8a8Avx2[kWeightFormatCount];
extern const PreparedGemv kPreparedW8a8Avx512[kWeightFormatCount];

// BF16 with the AVX512-BF16 dot-product instruction (matmul_bf16_avx512bf16.cc); at the
// AVX-512 level it replaces kMatmulAvx512's bf16 row on CPUs with AVX512-BF16.
extern const MatmulKernels kMatmulBf16Avx512[kWeightFormatCount];
bool HasAvx512Bf16();

// f32 values of the 65536 f16 bit patterns (256 KB, built on first use): the table kernels read
// a block's scale as one broadcast load, which takes none of the shuffle pipes.
const float* HalfToFloatTable();

// Whether the CPU has AVX512-VNNI (vpdpbusd), which the AVX-512 W8A8 and integer kernels use.
bool HasAvx512Vnni();
// Whether the CPU has AVX512-VBMI (vpermt2b), which the AVX-512 q4/q3/q2 kernels use.
bool HasAvx512Vbmi();

// N:M sparse formats (matmul_sparse_avx2.cc); served at the AVX-512 level too.
extern const MatmulKernels kMatmulSparseAvx2[kWeightFormatCount];

// CSR kernels, f32 and f16 values (matmul_csr_avx2.cc); served at the AVX-512 level too.
extern const CsrKernels kCsrAvx2F32;
extern const CsrKernels kCsrAvx2F16;

// AVX2 vector kernels: attention and the element-wise steps (vec_avx2.cc).
extern const VecKernels kVecAvx2;

// The kernels of format f at exactly this level (no fallback; for kRef the reference kernels),
// or an entry with null pointers when the level has none.
const MatmulKernels& KernelsAtLevel(WeightFormat f, Isa isa);

}  // namespace squeeze::cpu
