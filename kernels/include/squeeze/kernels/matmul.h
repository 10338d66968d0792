// Matrix products on packed weights, dispatched by (weight format, instruction set).
// Each backend has a table of kernels per format; the engine never branches on formats.
// Kernels are single-threaded over a range of rows; callers split rows across threads.
#pragma once

#include <cstdint>

#include "squeeze/kernels/format.h"
#include "squeeze/kernels/isa.h"

namespace squeeze {

struct MatmulKernels {
  // Matrix-vector product: y[r] = sum_c W[r][c] * x[c] for r in [0, rows).
  // `w` points at the first row of the range; consecutive rows are `row_bytes` apart.
  // `x` has `cols` floats. Writes exactly `rows` floats to y.
  void (*gemv)(const void* w, int64_t row_bytes, const float* x, float* y, int64_t rows,
               int64_t cols);
  // Matrix-matrix product for n input vectors: y[t * ldy + r] = sum_c W[r][c] * x[t * cols + c]
  // for t in [0, n), r in [0, rows). Writes only those elements of y.
  void (*gemm)(const void* w, int64_t row_bytes, const float* x, int64_t n, float* y, int64_t ldy,
               int64_t rows, int64_t cols);
};

// Kernels for a format on an instruction set. Formats without a kernel at that level fall
// back to the best lower level; never returns null for a valid format.
const MatmulKernels& GetMatmulKernels(WeightFormat f, Isa isa);

// Optional gemv on activations prepared once per input vector: a caller that splits one gemv's
// rows over several calls (threads) rounds x once with `prepare` and hands the same buffer to
// every `gemv` call instead of letting each call round x again. `bytes(cols)` is the buffer's
// size; it must be 64-byte aligned. The results are bit-identical to MatmulKernels::gemv.
struct PreparedGemv {
  int64_t (*bytes)(int64_t cols);
  void (*prepare)(const float* x, int64_t cols, void* buf);
  void (*gemv)(const void* w, int64_t row_bytes, const void* prepared, float* y, int64_t rows,
               int64_t cols);
};

// The prepared path of the kernels GetMatmulKernels(f, isa) hands out, or null where they have
// none (callers then use MatmulKernels::gemv).
const PreparedGemv* GetPreparedGemv(WeightFormat f, Isa isa);

// The scalar reference kernels (the oracle every optimized kernel is tested against).
const MatmulKernels& GetMatmulKernelsRef(WeightFormat f);

// Activation rounding. The integer formats (q8_channel and q8/q4/q3/q2 per group, sym and
// asym) do not multiply by x itself but by x rounded to int8 blocks, as llama.cpp's q8_0
// activations: per block of kActivationBlock consecutive values of x (the last block of a row
// may be shorter), d = absmax / 127 and q = nearbyint(x * (127 / absmax)) (round half to even;
// q = 0 when absmax is 0), both computed in f32, and the kernels use d * q (the reference in
// double). This lets the SIMD kernels form int8 x int8 -> int32 dot products per block (VNNI
// where present) and scale once per block; it adds an error of about 0.4% of a block's absmax
// per input value (a normalized squared error of a few 1e-5 on the outputs for Gaussian inputs),
// well below the weights' own rounding. gemv and gemm round the same way, so prefill and decode
// agree. bf16 multiplies bf16 weights by x rounded to bf16 (round to nearest even), as BF16
// hardware does (AVX512-BF16 vdpbf16ps, tensor cores): the products are exact and summed in
// f32. The other float formats (f32/f16, nf4/fp4, fp8) use x as given, except that the AVX2
// nf4/fp4 kernels work in fixed point: x rounded to int16 per block of 64 (within 2^-15 of the
// block's absmax) and the code tables to int16 (nf4 within 2^-14 of the weights' block scale,
// fp4 exact), far below the formats' own rounding and not modelled by the reference (the kernel
// tests give them a bound per output: matmul_test.cc, FixedPointBounds).
inline constexpr int kActivationBlock = 32;
bool QuantizesActivations(WeightFormat f);

}  // namespace squeeze
