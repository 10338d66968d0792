// The CUDA kernel table for matrix-vector products: one row per weight format (launcher,
// scratch, alignment the packed rows need), and cuda_gemv, which checks arguments and
// dispatches through it. Formats without a row are reported as kUnimplemented.
#include <cuda_runtime_api.h>

#include <climits>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "cuda/cuda_gemv.h"
#include "cuda/cuda_status.h"
#include "cuda/gemv_launch.h"

namespace squeeze {
namespace {

using cuda_internal::GemvArgs;

enum class Scratch : uint8_t { kNone, kActBlocks, kW8a8 };

struct CudaGemvRow {
  absl::Status (*launch)(const GemvArgs&);  // null: no CUDA kernel yet
  Scratch scratch;
  int32_t align;  // W and row_bytes must be multiples of this
};

constexpr CudaGemvRow kNoKernel = {nullptr, Scratch::kNone, 1};

// Indexed by WeightFormat value.
const CudaGemvRow kCudaGemv[kWeightFormatCount] = {
    /* kF32 */ {cuda_internal::gemv_f32_cuda, Scratch::kNone, 4},
    /* kF16 */ {cuda_internal::gemv_f16_cuda, Scratch::kNone, 2},
    /* kBF16 */ {cuda_internal::gemv_bf16_cuda, Scratch::kNone, 2},
    /* kQ8Channel */ {cuda_internal::gemv_q8_channel_cuda, Scratch::kActBlocks, 1},
    /* kQ8G32 */ {cuda_internal::gemv_q8_g32_cuda, Scratch::kActBlocks, 2},
    /* kQ8G64 */ {cuda_internal::gemv_q8_g64_cuda, Scratch::kActBlocks, 2},
    /* kQ8G128 */ {cuda_internal::gemv_q8_g128_cuda, Scratch::kActBlocks, 2},
    /* kQ8G32Asym */ {cuda_internal::gemv_q8_g32_asym_cuda, Scratch::kActBlocks, 2},
    /* kQ8G64Asym */ {cuda_internal::gemv_q8_g64_asym_cuda, Scratch::kActBlocks, 2},
    /* kQ8G128Asym */ {cuda_internal::gemv_q8_g128_asym_cuda, Scratch::kActBlocks, 2},
    /* kQ4G32 */ {cuda_internal::gemv_q4_g32_cuda, Scratch::kActBlocks, 2},
    /* kQ4G64 */ {cuda_internal::gemv_q4_g64_cuda, Scratch::kActBlocks, 2},
    /* kQ4G128 */ {cuda_internal::gemv_q4_g128_cuda, Scratch::kActBlocks, 2},
    /* kQ4G32Asym */ {cuda_internal::gemv_q4_g32_asym_cuda, Scratch::kActBlocks, 2},
    /* kQ4G64Asym */ {cuda_internal::gemv_q4_g64_asym_cuda, Scratch::kActBlocks, 2},
    /* kQ4G128Asym */ {cuda_internal::gemv_q4_g128_asym_cuda, Scratch::kActBlocks, 2},
    /* kNf4 */ {cuda_internal::gemv_nf4_cuda, Scratch::kNone, 2},
    /* kFp4 */ {cuda_internal::gemv_fp4_cuda, Scratch::kNone, 2},
    /* kFp8E4M3 */ {cuda_internal::gemv_fp8_e4m3_cuda, Scratch::kNone, 1},
    /* kFp8E5M2 */ {cuda_internal::gemv_fp8_e5m2_cuda, Scratch::kNone, 1},
    /* kQ3G32 .. kQ2G128Asym: not yet */
    kNoKernel,
    kNoKernel,
    kNoKernel,
    kNoKernel,
    kNoKernel,
    kNoKernel,
    kNoKernel,
    kNoKernel,
    kNoKernel,
    kNoKernel,
    kNoKernel,
    kNoKernel,
    /* kW8A8 */ {cuda_internal::gemv_w8a8_cuda, Scratch::kW8a8, 1},
    /* kTf32 */ {cuda_internal::gemv_tf32_cuda, Scratch::kNone, 4},
    /* kSp24F32 .. kSp48F16: not yet */
    kNoKernel,
    kNoKernel,
    kNoKernel,
    kNoKernel,
};
static_assert(sizeof(kCudaGemv) / sizeof(kCudaGemv[0]) == kWeightFormatCount);

bool ValidFormat(WeightFormat f) {
  return static_cast<int>(f) < kWeightFormatCount;
}

}  // namespace

bool CudaGemvSupports(WeightFormat f) {
  return ValidFormat(f) && kCudaGemv[static_cast<int>(f)].launch != nullptr;
}

int64_t CudaGemvScratchBytes(WeightFormat f, int64_t cols) {
  if (!ValidFormat(f) || cols < 0) return 0;
  switch (kCudaGemv[static_cast<int>(f)].scratch) {
    case Scratch::kNone:
      return 0;
    case Scratch::kActBlocks:
      return cuda_internal::ActScratchBytes(cols);
    case Scratch::kW8a8:
      return cuda_internal::W8a8ScratchBytes(cols);
  }
  return 0;
}

absl::Status cuda_gemv(WeightFormat f, const void* w_dev, int64_t row_bytes, const float* x_dev,
                       float* y_dev, int64_t rows, int64_t cols, void* scratch_dev, void* stream) {
  if (!ValidFormat(f)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cuda_gemv: invalid weight format ", static_cast<int>(f)));
  }
  const char* name = GetFormatTraits(f).name;
  const CudaGemvRow& k = kCudaGemv[static_cast<int>(f)];
  if (k.launch == nullptr) {
    return absl::UnimplementedError(absl::StrCat("cuda_gemv: no CUDA kernel for format ", name));
  }
  if (rows < 0 || cols < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cuda_gemv(", name, "): negative shape rows=", rows, " cols=", cols));
  }
  if (rows == 0) return absl::OkStatus();
  if (row_bytes < RowBytes(f, cols)) {
    return absl::InvalidArgumentError(absl::StrCat("cuda_gemv(", name, "): row_bytes=", row_bytes,
                                                   " below ", RowBytes(f, cols),
                                                   " for cols=", cols));
  }
  if (y_dev == nullptr || w_dev == nullptr || (cols > 0 && x_dev == nullptr)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cuda_gemv(", name, "): null device pointer for W, x or y"));
  }
  const int64_t scratch = CudaGemvScratchBytes(f, cols);
  if (scratch > 0 && (scratch_dev == nullptr || reinterpret_cast<uintptr_t>(scratch_dev) % 16)) {
    return absl::InvalidArgumentError(absl::StrCat("cuda_gemv(", name, "): needs ", scratch,
                                                   " bytes of 16-byte-aligned scratch"));
  }
  if (reinterpret_cast<uintptr_t>(x_dev) % 4 || reinterpret_cast<uintptr_t>(y_dev) % 4 ||
      reinterpret_cast<uintptr_t>(w_dev) % k.align || row_bytes % k.align) {
    return absl::InvalidArgumentError(absl::StrCat("cuda_gemv(", name, "): x and y must be 4-byte ",
                                                   "aligned, W and row_bytes ", k.align, "-byte"));
  }
  if ((rows + cuda_internal::kGemvRowsPerBlock - 1) / cuda_internal::kGemvRowsPerBlock > INT_MAX) {
    return absl::InvalidArgumentError(
        absl::StrCat("cuda_gemv(", name, "): rows=", rows, " too many"));
  }
  if (cols == 0) {
    // Nothing to multiply: every output is 0 (the reference's empty sum).
    return cuda_internal::StatusFromCuda(
        cudaMemsetAsync(y_dev, 0, size_t(rows) * sizeof(float), static_cast<cudaStream_t>(stream)),
        absl::StrCat("cuda_gemv(", name, "): cudaMemsetAsync"));
  }
  return k.launch(GemvArgs{static_cast<const uint8_t*>(w_dev), row_bytes, x_dev, y_dev, rows, cols,
                           scratch_dev, stream});
}

}  // namespace squeeze
