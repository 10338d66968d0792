// The llama2.c tokenizer.bin reader, its score-ordered BPE encoder and decoder, and the
// heap-based BPE merge loop that the Hugging Face tokenizer shares.
#include "model/tokenizer_llama2c.h"

#include <cmath>
#include <cstring>
#include <queue>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "util/mapped_file.h"
#include "util/status_macros.h"

namespace squeeze {
namespace internal {

size_t Utf8CharLength(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(text[k]); };
  const auto cont = [&](size_t k, uint8_t lo, uint8_t hi) {
    return k < text.size() && byte(k) >= lo && byte(k) <= hi;
  };
  const uint8_t c = byte(i);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(i + 1, 0x80, 0xBF) ? 2 : 1;
  if (c >= 0xE0 && c <= 0xEF) {
    // E0 excludes overlong forms, ED excludes UTF-16 surrogates.
    const uint8_t lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    return cont(i + 1, lo, hi) && cont(i + 2, 0x80, 0xBF) ? 3 : 1;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    const uint8_t lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    return cont(i + 1, lo, hi) && cont(i + 2, 0x80, 0xBF) && cont(i + 3, 0x80, 0xBF) ? 4 : 1;
  }
  return 1;
}

void BpeMerge(std::vector<int32_t>& ids, PairLookup lookup) {
  const int32_t n = static_cast<int32_t>(ids.size());
  if (n < 2) return;
  // Symbols form a doubly linked list over the original positions; a merge keeps the left
  // symbol (with the merged id) and unlinks the right one (id -1).
  std::vector<int32_t> prev(n), next(n);
  for (int32_t i = 0; i < n; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  struct Candidate {
    double priority;
    int32_t left, right, left_id, right_id, merged;
  };
  // Top of the heap: highest priority, then leftmost (positions keep list order).
  const auto lower = [](const Candidate& a, const Candidate& b) {
    if (a.priority != b.priority) return a.priority < b.priority;
    return a.left > b.left;
  };
  std::priority_queue<Candidate, std::vector<Candidate>, decltype(lower)> heap(lower);
  const auto push = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    double priority;
    int32_t merged;
    if (!lookup(ids[left], ids[right], &priority, &merged) || std::isnan(priority)) return;
    heap.push({priority, left, right, ids[left], ids[right], merged});
  };
  for (int32_t i = 0; i + 1 < n; ++i) push(i, i + 1);

  while (!heap.empty()) {
    const Candidate c = heap.top();
    heap.pop();
    // Stale when either side has since merged or been unlinked.
    if (ids[c.left] != c.left_id || ids[c.right] != c.right_id || next[c.left] != c.right) {
      continue;
    }
    ids[c.left] = c.merged;
    ids[c.right] = -1;
    next[c.left] = next[c.right];
    if (next[c.left] >= 0) prev[next[c.left]] = c.left;
    push(prev[c.left], c.left);
    push(c.left, next[c.left]);
  }
  int32_t out = 0;
  for (int32_t i = 0; i >= 0; i = next[i]) ids[out++] = ids[i];
  ids.resize(out);
}

}  // namespace internal

namespace {

int32_t ReadInt32(const char* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// The byte of a "<0xNN>" piece, or -1.
int ParseBytePiece(std::string_view piece) {
  if (piece.size() != 6 || piece.substr(0, 3) != "<0x" || piece[5] != '>') return -1;
  int value = 0;
  for (char ch : piece.substr(3, 2)) {
    int digit;
    if (ch >= '0' && ch <= '9') {
      digit = ch - '0';
    } else if (ch >= 'A' && ch <= 'F') {
      digit = ch - 'A' + 10;
    } else if (ch >= 'a' && ch <= 'f') {
      digit = ch - 'a' + 10;
    } else {
      return -1;
    }
    value = value * 16 + digit;
  }
  return value;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Llama2cTokenizer>> Llama2cTokenizer::Load(const std::string& path) {
  ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
  return FromBytes(bytes, path);
}

absl::StatusOr<std::unique_ptr<Llama2cTokenizer>> Llama2cTokenizer::FromBytes(
    std::string_view bytes, const std::string& name) {
  if (bytes.size() < 4) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: %d bytes is too short for a llama2.c tokenizer (int32 max_token_length, then "
        "entries)",
        name, bytes.size()));
  }
  std::unique_ptr<Llama2cTokenizer> tok(new Llama2cTokenizer());
  tok->name_ = name;
  tok->max_token_length_ = ReadInt32(bytes.data());
  if (tok->max_token_length_ < 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: max_token_length %d is negative (not a llama2.c tokenizer?)", name,
                        tok->max_token_length_));
  }
  size_t offset = 4;
  while (offset < bytes.size()) {
    const size_t index = tok->pieces_.size();
    if (bytes.size() - offset < 8) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: entry %d at byte %d is truncated: %d bytes left, need 8 for score and length", name,
          index, offset, bytes.size() - offset));
    }
    float score;
    std::memcpy(&score, bytes.data() + offset, 4);
    const int32_t length = ReadInt32(bytes.data() + offset + 4);
    offset += 8;
    if (length < 0) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: entry %d has a negative length %d", name, index, length));
    }
    if (length > tok->max_token_length_) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: entry %d has length %d, more than the header's max_token_length %d",
                          name, index, length, tok->max_token_length_));
    }
    if (static_cast<size_t>(length) > bytes.size() - offset) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: entry %d is truncated: length %d runs past the end of the file (%d bytes left)",
          name, index, length, bytes.size() - offset));
    }
    if (index >= static_cast<size_t>(INT32_MAX)) {
      return absl::InvalidArgumentError(absl::StrCat(name, ": too many entries"));
    }
    tok->pieces_.emplace_back(bytes.substr(offset, length));
    tok->scores_.push_back(score);
    offset += length;
  }
  if (tok->pieces_.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": the tokenizer has no entries"));
  }
  for (int& id : tok->byte_ids_) id = -1;
  for (int32_t id = 0; id < tok->vocab_size(); ++id) {
    const std::string& piece = tok->pieces_[id];
    tok->ids_.emplace(piece, id);  // keeps the first id of a duplicated piece
    const int byte = ParseBytePiece(piece);
    if (byte >= 0 && tok->byte_ids_[byte] < 0) tok->byte_ids_[byte] = id;
  }
  tok->unk_id_ = tok->Find("<unk>");
  return tok;
}

int32_t Llama2cTokenizer::Find(std::string_view piece) const {
  auto it = ids_.find(piece);
  return it == ids_.end() ? -1 : it->second;
}

std::vector<int32_t> Llama2cTokenizer::Encode(std::string_view text, bool add_bos) const {
  std::vector<int32_t> out;
  if (add_bos && bos_id() >= 0) out.push_back(bos_id());
  if (text.empty()) return out;

  std::string padded = " ";  // SentencePiece's dummy prefix
  padded.append(text);
  std::vector<int32_t> ids;
  ids.reserve(padded.size());
  for (size_t i = 0; i < padded.size();) {
    const size_t len = internal::Utf8CharLength(padded, i);
    const int32_t id = Find(std::string_view(padded).substr(i, len));
    if (id >= 0) {
      ids.push_back(id);
    } else {
      for (size_t k = i; k < i + len; ++k) {
        const int32_t byte_id = byte_ids_[static_cast<uint8_t>(padded[k])];
        ids.push_back(byte_id >= 0 ? byte_id : (unk_id_ >= 0 ? unk_id_ : 0));
      }
    }
    i += len;
  }

  std::string joined;
  internal::BpeMerge(ids, [&](int32_t left, int32_t right, double* priority, int32_t* merged) {
    joined.assign(pieces_[left]);
    joined.append(pieces_[right]);
    const int32_t id = Find(joined);
    if (id < 0) return false;
    *priority = scores_[id];
    *merged = id;
    return true;
  });
  out.insert(out.end(), ids.begin(), ids.end());
  return out;
}

absl::StatusOr<std::string> Llama2cTokenizer::Decode(std::span<const int32_t> ids) const {
  std::string text;
  int32_t prev = -1;
  for (size_t i = 0; i < ids.size(); ++i) {
    const int32_t id = ids[i];
    if (id < 0 || id >= vocab_size()) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: token id %d at position %d is outside the vocabulary [0, %d)", name_,
                          id, i, vocab_size()));
    }
    if (id != bos_id() && id != eos_id()) {
      std::string_view piece = pieces_[id];
      if (prev == bos_id() && !piece.empty() && piece[0] == ' ') piece.remove_prefix(1);
      const int byte = ParseBytePiece(piece);
      if (byte >= 0) {
        text.push_back(static_cast<char>(byte));
      } else {
        text.append(piece);
      }
    }
    prev = id;
  }
  return text;
}

}  // namespace squeeze
