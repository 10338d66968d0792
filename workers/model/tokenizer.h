// Tokenizers: llama2.c tokenizer.bin and Hugging Face tokenizer.json (BPE, SentencePiece
// style with byte fallback, and the byte-level style of GPT-2 / Llama 3).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace squeeze {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Encodes UTF-8 text (any bytes are accepted: invalid UTF-8 goes through byte fallback or
  // byte-level tokens). With add_bos and a known BOS id, the first id is BOS. Never adds EOS.
  virtual std::vector<int32_t> Encode(std::string_view text, bool add_bos) const = 0;

  // Decodes ids to text as the model's reference decoder would (SentencePiece drops the
  // leading space after BOS; special tokens such as BOS/EOS decode to nothing).
  // An id outside [0, vocab_size()) is an error naming the id and its position.
  virtual absl::StatusOr<std::string> Decode(std::span<const int32_t> ids) const = 0;

  virtual int32_t vocab_size() const = 0;
  virtual int32_t bos_id() const = 0;  // -1 when the tokenizer has none
  virtual int32_t eos_id() const = 0;  // -1 when the tokenizer has none
  // "llama2c" or "hf-bpe".
  virtual std::string_view kind() const = 0;
};

// Loads a tokenizer by file: "*.json" as Hugging Face tokenizer.json, anything else as a
// llama2.c tokenizer.bin. Errors name the file and the problem.
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::string& path);

// The tokenizer that goes with a model path when none is given: tokenizer.json in a Hugging
// Face folder (else a llama2.c tokenizer.bin there, as distillation checkpoints of llama2.c
// teachers carry); for a llama2.c checkpoint, tokenizer.bin or a single tok*.bin beside it.
absl::StatusOr<std::string> FindTokenizerFor(const std::string& model_path);

}  // namespace squeeze
