// A byte-level BPE tokenizer trainer (GPT-2 style: bytes mapped to printable characters, words
// split by GPT-2's pattern, merges learned by pair frequency). Its output is a Hugging Face
// tokenizer.json that workers/model/tokenizer_hf.cc (and Hugging Face `tokenizers`) load.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace squeeze {

// Ids of the special tokens in every tokenizer made here; the 256 byte tokens follow them.
inline constexpr int32_t kTrainBosId = 0;  // "<s>"
inline constexpr int32_t kTrainEosId = 1;  // "</s>"
inline constexpr int32_t kTrainFirstByteId = 2;
inline constexpr int32_t kByteLevelVocab = kTrainFirstByteId + 256;

struct BpeTrainerOptions {
  // Total vocabulary: 2 special tokens + 256 bytes + merges. kByteLevelVocab gives a plain
  // byte-level tokenizer with no merges.
  int32_t vocab_size = 1024;
  // Pairs seen fewer times than this are never merged (training may stop below vocab_size).
  int64_t min_frequency = 2;
};

struct TrainedTokenizer {
  std::string json;    // tokenizer.json text
  int32_t vocab_size;  // tokens actually made (<= options.vocab_size)
  int32_t merges;
};

// Learns merges from `text` (any bytes). Deterministic: the same text and options give the
// same tokenizer. Errors: vocab_size below kByteLevelVocab.
absl::StatusOr<TrainedTokenizer> TrainByteLevelBpe(std::string_view text,
                                                   const BpeTrainerOptions& opts);

}  // namespace squeeze
