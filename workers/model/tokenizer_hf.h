// Hugging Face tokenizer.json with a BPE model: SentencePiece style (Llama 2: byte fallback,
// "▁" for spaces) and byte-level style (GPT-2, Llama 3: bytes mapped to printable characters).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "model/tokenizer.h"

namespace squeeze {

// What is read from tokenizer.json:
// - model: type "BPE" (vocab; merges as "a b" strings or [a, b] pairs, lowest rank merged
//   first, leftmost on ties; unk_token, fuse_unk, byte_fallback, ignore_merges,
//   continuing_subword_prefix, end_of_word_suffix). dropout is ignored (encoding is
//   deterministic). An unknown character with no byte tokens becomes unk_token (placed, as
//   Hugging Face does, before the next known character) or is dropped when there is none.
//   Other model types are an error.
// - added_tokens: matched literally in the raw text before anything else (longest first at
//   the leftmost position), honouring lstrip/rstrip/single_word. Tokens marked "normalized"
//   are also matched in the raw text, not in the normalized one.
// - normalizer: Sequence, Prepend, Replace (String or Regex pattern), Strip, Lowercase (ASCII
//   only); NFC/NFD/NFKC/NFKD are accepted and ignored (no Unicode normalization is done).
// - pre_tokenizer: Sequence, ByteLevel (add_prefix_space, use_regex with GPT-2's pattern),
//   Split (String or Regex pattern; Isolated, Removed, MergedWithPrevious, MergedWithNext,
//   Contiguous; invert), Metaspace (replacement, prepend_scheme or the older
//   add_prefix_space, split), Digits, Whitespace, WhitespaceSplit. Regexes run in PCRE2 with
//   UTF and Unicode properties.
// - decoder: Sequence, ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip.
//   Unlike Hugging Face, invalid UTF-8 is not replaced by U+FFFD: the raw bytes come out, so
//   the bytes of a character split over several decode calls still join up. Without a
//   decoder the tokens are joined with spaces, as Hugging Face does.
// - BOS/EOS: the special tokens before/after $A in post_processor TemplateProcessing "single"
//   (also inside a Sequence processor); otherwise the added token (or vocab entry) named
//   <s>, <|begin_of_text|>, <bos>, <|endoftext|> for BOS and </s>, <|end_of_text|>,
//   <|eot_id|>, <eos>, <|endoftext|> for EOS; -1 if none.
// Decode skips added tokens marked special (and BOS/EOS).
// Errors (unreadable file, bad JSON, unsupported types, a merge naming an unknown token, bad
// regex) name the file and the JSON path.
class HfTokenizer : public Tokenizer {
 public:
  static absl::StatusOr<std::unique_ptr<HfTokenizer>> Load(const std::string& path);
  // From the JSON text; `name` is used in error messages.
  static absl::StatusOr<std::unique_ptr<HfTokenizer>> FromJson(std::string_view json,
                                                               const std::string& name);
  ~HfTokenizer() override;

  // Thread-safe: the per-word cache is guarded by a mutex.
  std::vector<int32_t> Encode(std::string_view text, bool add_bos) const override;
  absl::StatusOr<std::string> Decode(std::span<const int32_t> ids) const override;
  int32_t vocab_size() const override;
  int32_t bos_id() const override;
  int32_t eos_id() const override;
  std::string_view kind() const override { return "hf-bpe"; }

  // The id of a token string (vocabulary or added token), or -1.
  int32_t TokenId(std::string_view token) const;
  // The token string of an id ("" for an id outside the vocabulary or without a token).
  std::string_view TokenString(int32_t id) const;

 private:
  struct Impl;
  explicit HfTokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace squeeze
