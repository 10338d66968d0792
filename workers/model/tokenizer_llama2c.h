// The llama2.c tokenizer (tokenizer.bin): SentencePiece-style BPE by piece score, with byte
// fallback. Also holds the BPE merge loop shared with the Hugging Face tokenizer.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "model/tokenizer.h"

namespace squeeze {
namespace internal {

// Hash for string-keyed maps that can be searched with a std::string_view.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using StringIdMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

}  // namespace internal

// tokenizer.bin layout (little-endian): int32 max_token_length, then for each token
// float32 score, int32 length, `length` bytes. The vocabulary size is the number of entries
// up to the end of the file.
//
// Encode: a leading space is added to non-empty text (SentencePiece's dummy prefix); each
// UTF-8 code point becomes its token, or byte tokens "<0xNN>" when it has none (invalid
// UTF-8 bytes are taken one at a time); then the adjacent pair whose concatenated piece is in
// the vocabulary with the highest score is merged, repeatedly (leftmost on ties).
// Decode: byte tokens become their bytes, the first piece after BOS loses its leading space,
// BOS and EOS decode to nothing. BOS = 1, EOS = 2 as in llama2.c.
class Llama2cTokenizer : public Tokenizer {
 public:
  // Errors name the file and, for a bad entry, its index (truncated entry, negative or
  // oversized length, no entries at all).
  static absl::StatusOr<std::unique_ptr<Llama2cTokenizer>> Load(const std::string& path);
  // Same, from the file's bytes; `name` is used in error messages.
  static absl::StatusOr<std::unique_ptr<Llama2cTokenizer>> FromBytes(std::string_view bytes,
                                                                     const std::string& name);

  std::vector<int32_t> Encode(std::string_view text, bool add_bos) const override;
  absl::StatusOr<std::string> Decode(std::span<const int32_t> ids) const override;
  int32_t vocab_size() const override { return static_cast<int32_t>(pieces_.size()); }
  int32_t bos_id() const override { return pieces_.size() > 1 ? 1 : -1; }
  int32_t eos_id() const override { return pieces_.size() > 2 ? 2 : -1; }
  std::string_view kind() const override { return "llama2c"; }

  const std::string& piece(int32_t id) const { return pieces_[id]; }
  float score(int32_t id) const { return scores_[id]; }
  int32_t max_token_length() const { return max_token_length_; }
  // The id of a piece, or -1.
  int32_t Find(std::string_view piece) const;

 private:
  Llama2cTokenizer() = default;

  std::string name_;
  int32_t max_token_length_ = 0;
  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  internal::StringIdMap ids_;  // piece -> lowest id with that piece
  int32_t byte_ids_[256];      // "<0xNN>" -> id, or -1
  int32_t unk_id_ = -1;        // "<unk>", or -1
};

namespace internal {

// Length of the UTF-8 sequence starting at text[i]: 1-4 for a well-formed code point, 1 for a
// byte that does not start one (it is then handled on its own, e.g. by byte fallback).
size_t Utf8CharLength(std::string_view text, size_t i);

// Looks up the merge of the adjacent symbols (left, right): returns false when they do not
// merge, else sets *priority (higher merges first) and *merged (the id of the result).
using PairLookup =
    absl::FunctionRef<bool(int32_t left, int32_t right, double* priority, int32_t* merged)>;

// BPE: repeatedly merges the adjacent pair with the highest priority, the leftmost one on
// ties, until no pair merges; `ids` is rewritten in place. O(n log n) with a heap of
// candidate pairs over a linked list of symbols (stale heap entries are skipped when popped),
// giving exactly the result of the naive rescan-everything loop.
void BpeMerge(std::vector<int32_t>& ids, PairLookup lookup);

}  // namespace internal
}  // namespace squeeze
