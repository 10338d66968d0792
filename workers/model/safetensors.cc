// safetensors reader and writer. The reader trusts nothing: every length, shape and offset is
// checked against the mapped file before a tensor pointer is formed.
#include "model/safetensors.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "util/status_macros.h"

namespace squeeze {
namespace {

using json = nlohmann::json;

constexpr uint64_t kMaxHeaderBytes = 100u << 20;  // 100 MiB, as the reference implementation

struct DtypeRow {
  StDtype dtype;
  const char* name;
  int size;
};
constexpr DtypeRow kDtypes[] = {
    {StDtype::kF32, "F32", 4},   {StDtype::kF16, "F16", 2},        {StDtype::kBF16, "BF16", 2},
    {StDtype::kF64, "F64", 8},   {StDtype::kI64, "I64", 8},        {StDtype::kI32, "I32", 4},
    {StDtype::kI16, "I16", 2},   {StDtype::kI8, "I8", 1},          {StDtype::kU8, "U8", 1},
    {StDtype::kBool, "BOOL", 1}, {StDtype::kF8E4M3, "F8_E4M3", 1}, {StDtype::kF8E5M2, "F8_E5M2", 1},
};

const DtypeRow* FindDtype(const std::string& name) {
  for (const DtypeRow& r : kDtypes) {
    if (name == r.name) return &r;
  }
  return nullptr;
}

// Reads a non-negative JSON integer.
bool GetU64(const json& v, uint64_t* out) {
  if (v.is_number_unsigned()) {
    *out = v.get<uint64_t>();
    return true;
  }
  if (v.is_number_integer()) {
    const int64_t i = v.get<int64_t>();
    if (i < 0) return false;
    *out = uint64_t(i);
    return true;
  }
  return false;
}

absl::Status ParseTensor(const std::string& path, const std::string& name, const json& v,
                         const uint8_t* data, uint64_t data_size, StTensor* out) {
  auto err = [&](const std::string& problem) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": tensor ", name, ": ", problem));
  };
  if (!v.is_object()) return err("header entry is not an object");

  auto dt = v.find("dtype");
  if (dt == v.end() || !dt->is_string()) return err("missing or non-string dtype");
  const DtypeRow* row = FindDtype(dt->get<std::string>());
  if (!row) return err(absl::StrCat("unknown dtype ", dt->dump()));
  out->dtype = row->dtype;

  auto sh = v.find("shape");
  if (sh == v.end() || !sh->is_array()) return err("missing shape (a list of integers)");
  uint64_t numel = 1;
  out->shape.clear();
  for (const json& d : *sh) {
    uint64_t n;
    if (!GetU64(d, &n) || n > uint64_t(INT64_MAX)) {
      return err(absl::StrCat("shape ", sh->dump(), " is not a list of non-negative integers"));
    }
    if (__builtin_mul_overflow(numel, n, &numel)) {
      return err(absl::StrCat("shape ", sh->dump(), " has too many elements"));
    }
    out->shape.push_back(int64_t(n));
  }
  uint64_t expected_bytes;
  if (__builtin_mul_overflow(numel, uint64_t(row->size), &expected_bytes)) {
    return err(absl::StrCat("shape ", sh->dump(), " has too many bytes"));
  }

  auto off = v.find("data_offsets");
  uint64_t begin, end;
  if (off == v.end() || !off->is_array() || off->size() != 2 || !GetU64((*off)[0], &begin) ||
      !GetU64((*off)[1], &end)) {
    return err("data_offsets must be a list [begin, end] of two non-negative integers");
  }
  if (begin > end) {
    return err(absl::StrCat("data_offsets [", begin, ", ", end, "] has begin after end"));
  }
  if (end > data_size) {
    return err(absl::StrCat("data_offsets [", begin, ", ", end, "] run past the end of the data (",
                            data_size, " bytes)"));
  }
  if (end - begin != expected_bytes) {
    return err(absl::StrCat("data_offsets [", begin, ", ", end, "] hold ", end - begin,
                            " bytes, but shape ", sh->dump(), " of ", row->name, " needs ",
                            expected_bytes));
  }
  out->data = data + begin;
  out->bytes = expected_bytes;
  return absl::OkStatus();
}

}  // namespace

const char* StDtypeName(StDtype d) {
  for (const DtypeRow& r : kDtypes) {
    if (r.dtype == d) return r.name;
  }
  return "?";
}

int StDtypeSize(StDtype d) {
  for (const DtypeRow& r : kDtypes) {
    if (r.dtype == d) return r.size;
  }
  return 0;
}

absl::StatusOr<SafetensorsFile> OpenSafetensors(const std::string& path) {
  ASSIGN_OR_RETURN(std::shared_ptr<const MappedFile> file, MappedFile::Open(path));
  return ParseSafetensors(std::move(file));
}

absl::StatusOr<SafetensorsFile> ParseSafetensors(std::shared_ptr<const MappedFile> file) {
  const std::string& path = file->path();
  const uint64_t size = file->size();
  if (size < 8) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": safetensors file is truncated: ", size,
                                                   " bytes, shorter than the 8-byte "
                                                   "header length"));
  }
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | file->data()[i];  // little-endian
  if (n > kMaxHeaderBytes) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": safetensors header length ", n,
                                                   " is absurdly large (limit ", kMaxHeaderBytes,
                                                   " bytes)"));
  }
  if (n > size - 8) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": safetensors header length ", n,
                                                   " runs past the end of the file (", size,
                                                   " bytes)"));
  }
  const char* hbegin = reinterpret_cast<const char*>(file->data() + 8);
  json header;
  try {
    header = json::parse(hbegin, hbegin + n);
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": bad JSON in safetensors header: ", e.what()));
  }
  if (!header.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": safetensors header is not a JSON object"));
  }

  SafetensorsFile out;
  const uint8_t* data = file->data() + 8 + n;
  const uint64_t data_size = size - 8 - n;
  for (const auto& [name, v] : header.items()) {
    if (name == "__metadata__") {
      if (!v.is_object()) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": safetensors __metadata__ is not an object"));
      }
      for (const auto& [k, mv] : v.items()) {
        if (!mv.is_string()) {
          return absl::InvalidArgumentError(
              absl::StrCat(path, ": safetensors __metadata__ value of ", k, " is not a string"));
        }
        out.metadata[k] = mv.get<std::string>();
      }
      continue;
    }
    StTensor t;
    RETURN_IF_ERROR(ParseTensor(path, name, v, data, data_size, &t));
    out.tensors.emplace(name, std::move(t));
  }
  out.file = std::move(file);
  return out;
}

absl::Status WriteSafetensors(const std::string& path, const std::vector<StWriteTensor>& tensors,
                              const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const StWriteTensor& t : tensors) {
    uint64_t numel = 1;
    for (int64_t d : t.shape) {
      if (d < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": tensor ", t.name, ": negative dimension"));
      }
      if (__builtin_mul_overflow(numel, uint64_t(d), &numel)) numel = UINT64_MAX;
    }
    uint64_t bytes;
    if (__builtin_mul_overflow(numel, uint64_t(StDtypeSize(t.dtype)), &bytes) || bytes != t.bytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": tensor ", t.name, ": ", t.bytes, " bytes do not match its shape"));
    }
    if (header.contains(t.name)) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": tensor ", t.name, " given twice"));
    }
    header[t.name] = {{"dtype", StDtypeName(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.bytes}}};
    offset += t.bytes;
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');  // the data starts 8-byte aligned
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = uint8_t(uint64_t(h.size()) >> (8 * i));

  const std::string tmp = absl::StrCat(path, ".tmp.", ::getpid());
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": cannot write: ", std::strerror(errno)));
  }
  bool ok = std::fwrite(len, 1, 8, f) == 8 && std::fwrite(h.data(), 1, h.size(), f) == h.size();
  for (const StWriteTensor& t : tensors) {
    if (!ok) break;
    ok = t.bytes == 0 || std::fwrite(t.data, 1, t.bytes, f) == t.bytes;
  }
  if (std::fclose(f) != 0 || !ok) {
    std::remove(tmp.c_str());
    return absl::DataLossError(absl::StrCat(path, ": short write"));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return absl::InvalidArgumentError(absl::StrCat(path, ": rename failed"));
  }
  return absl::OkStatus();
}

}  // namespace squeeze
