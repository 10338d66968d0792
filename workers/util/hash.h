// Content hashes (XXH3-128, hex) for cache keys: models, texts, settings.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace squeeze {

// Incremental 128-bit content hash; Hex() gives 32 lower-case hex digits.
class Hasher {
 public:
  Hasher();
  ~Hasher();
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;
  void Update(const void* data, size_t size);
  void Update(std::string_view s) { Update(s.data(), s.size()); }
  // Adds a length-prefixed field, so that ("ab","c") and ("a","bc") differ.
  void Field(std::string_view s);
  std::string Hex() const;

 private:
  void* state_;
};

std::string HashHex(std::string_view data);

}  // namespace squeeze
