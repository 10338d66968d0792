// The safetensors format: 8-byte little-endian header length, a JSON header of
// {name: {dtype, shape, data_offsets}}, then the tensor bytes. Parsing validates every
// offset and size against the file before anything is read.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "util/mapped_file.h"

namespace squeeze {

enum class StDtype { kF32, kF16, kBF16, kF64, kI64, kI32, kI16, kI8, kU8, kBool, kF8E4M3, kF8E5M2 };

struct StTensor {
  StDtype dtype;
  std::vector<int64_t> shape;
  const uint8_t* data;  // inside the mapped file
  uint64_t bytes;
};

struct SafetensorsFile {
  std::shared_ptr<const MappedFile> file;
  std::map<std::string, StTensor> tensors;
  std::map<std::string, std::string> metadata;  // __metadata__
};

// Maps and parses one .safetensors file. Errors name the file and the tensor.
absl::StatusOr<SafetensorsFile> OpenSafetensors(const std::string& path);

// Parses an already-mapped buffer (used by OpenSafetensors and the fuzz-style tests).
absl::StatusOr<SafetensorsFile> ParseSafetensors(std::shared_ptr<const MappedFile> file);

struct StWriteTensor {
  std::string name;
  StDtype dtype;
  std::vector<int64_t> shape;
  const void* data;
  uint64_t bytes;
};
// Writes a .safetensors file (header padded to 8 bytes, tensors in the given order).
absl::Status WriteSafetensors(const std::string& path, const std::vector<StWriteTensor>& tensors,
                              const std::map<std::string, std::string>& metadata = {});

const char* StDtypeName(StDtype d);
int StDtypeSize(StDtype d);

}  // namespace squeeze
