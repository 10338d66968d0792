// XXH3-128 from the system's libxxhash.
#include "util/hash.h"

#include <xxhash.h>

#include <cstdio>

namespace squeeze {

Hasher::Hasher() : state_(XXH3_createState()) {
  XXH3_128bits_reset(static_cast<XXH3_state_t*>(state_));
}
Hasher::~Hasher() {
  XXH3_freeState(static_cast<XXH3_state_t*>(state_));
}

void Hasher::Update(const void* data, size_t size) {
  XXH3_128bits_update(static_cast<XXH3_state_t*>(state_), data, size);
}

void Hasher::Field(std::string_view s) {
  const uint64_t n = s.size();
  Update(&n, sizeof(n));
  Update(s);
}

std::string Hasher::Hex() const {
  const XXH128_hash_t h = XXH3_128bits_digest(static_cast<XXH3_state_t*>(state_));
  char buf[33];
  std::snprintf(buf, sizeof(buf), "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                static_cast<unsigned long long>(h.low64));
  return buf;
}

std::string HashHex(std::string_view data) {
  Hasher h;
  h.Update(data);
  return h.Hex();
}

}  // namespace squeeze
