// Read-only memory-mapped files: model weights are used in place, never copied twice.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace squeeze {

class MappedFile {
 public:
  // Maps the whole file read-only. Errors name the path (missing, unreadable, a directory).
  // An empty file maps to size() == 0 and data() == nullptr.
  static absl::StatusOr<std::shared_ptr<const MappedFile>> Open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile(std::string path, const uint8_t* data, uint64_t size)
      : path_(std::move(path)), data_(data), size_(size) {}
  std::string path_;
  const uint8_t* data_;
  uint64_t size_;
};

// Reads a whole (small) file into a string; errors name the path.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// Writes `data` to `path` atomically (temporary file + rename); errors name the path.
absl::Status WriteFileAtomic(const std::string& path, const void* data, size_t size);

}  // namespace squeeze
