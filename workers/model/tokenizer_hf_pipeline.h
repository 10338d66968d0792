// Internals of the Hugging Face tokenizer (tokenizer_hf.h): the JSON field reader, PCRE2
// regexes, GPT-2's byte-level mapping, and the normalizer, pre-tokenizer and decoder stages
// of tokenizer.json. Not a public API: used by tokenizer_hf.cc, and by the BPE trainer
// (train/bpe_trainer.cc) so that it splits words exactly as the tokenizer it writes will.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace squeeze::hf_internal {

using Json = nlohmann::json;

// Token ids in tokenizer.json must lie in [0, kMaxTokenId).
constexpr int64_t kMaxTokenId = 1 << 24;

// A compiled PCRE2 pattern (UTF, Unicode properties; invalid UTF-8 in subjects is never
// matched). Immutable once compiled, safe to share between threads.
class Regex {
 public:
  // `literal` matches the pattern as plain text. Errors: "bad regex at offset N: why".
  static absl::StatusOr<Regex> Compile(std::string_view pattern, bool literal);

  bool valid() const { return code_ != nullptr; }
  // Calls f(start, end) for each successive non-empty, non-overlapping match in s.
  void ForEachMatch(std::string_view s, absl::FunctionRef<void(size_t, size_t)> f) const;
  // s with every match replaced by `content`.
  std::string ReplaceAll(std::string_view s, std::string_view content) const;

 private:
  std::shared_ptr<void> code_;  // pcre2_code
};

// Reads typed fields of tokenizer.json and builds errors "file: json.path: problem".
// A field that is absent or null gives the default; present with another type is an error.
struct JsonReader {
  std::string name;  // the file, for messages

  absl::Status Error(const std::string& path, const std::string& msg) const;
  absl::StatusOr<std::string> String(const Json& obj, const char* key, const std::string& path,
                                     std::string def = "") const;
  absl::StatusOr<bool> Bool(const Json& obj, const char* key, const std::string& path,
                            bool def) const;
  absl::StatusOr<int64_t> Int(const Json& obj, const char* key, const std::string& path,
                              int64_t def) const;
  // A token id in [0, kMaxTokenId).
  absl::StatusOr<int32_t> Id(const Json& value, const std::string& path) const;
  // obj["type"] of an object; missing is an error.
  absl::StatusOr<std::string> Type(const Json& obj, const std::string& path) const;
  absl::StatusOr<const Json*> Array(const Json& obj, const char* key,
                                    const std::string& path) const;
  // obj["pattern"]: {"Regex": "..."} or {"String": "..."}.
  absl::StatusOr<Regex> Pattern(const Json& obj, const std::string& path) const;
};

// GPT-2's byte-level mapping: each byte to a printable character (UTF-8), and back; characters
// outside the table are kept as they are when decoding.
std::string ByteLevelEncode(std::string_view bytes);
std::string ByteLevelDecode(std::string_view chars);

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };
enum class PrependScheme { kAlways, kFirst, kNever };

struct NormStep {
  enum Kind { kPrepend, kReplace, kStrip, kLowercase };
  Kind kind = {};
  std::string text;                  // Prepend: what to prepend; Replace: the replacement
  Regex regex;                       // Replace
  bool left = false, right = false;  // Strip
};

struct PreStep {
  enum Kind { kByteLevel, kSplit, kMetaspace };
  Kind kind = {};
  bool add_prefix_space = false;  // ByteLevel
  Regex regex;                    // ByteLevel (when use_regex) and Split
  SplitBehavior behavior = SplitBehavior::kIsolated;
  bool invert = false;
  std::string replacement;  // Metaspace
  PrependScheme prepend = PrependScheme::kAlways;
  bool split = true;
};

struct DecStep {
  enum Kind { kByteLevel, kMetaspace, kReplace, kByteFallback, kFuse, kStrip };
  Kind kind = {};
  std::string text;  // Metaspace: the replacement; Replace: the content; Strip: the char
  bool strip_first = true;
  Regex regex;
  int64_t start = 0, stop = 0;
};

// Parsers of the "normalizer", "pre_tokenizer" and "decoder" objects (Sequence is flattened
// into the step list); `path` is the JSON path for errors.
absl::Status ParseNormalizer(const JsonReader& r, const Json& j, const std::string& path,
                             std::vector<NormStep>* steps);
absl::Status ParsePreTokenizer(const JsonReader& r, const Json& j, const std::string& path,
                               std::vector<PreStep>* steps);
absl::Status ParseDecoder(const JsonReader& r, const Json& j, const std::string& path,
                          std::vector<DecStep>* steps);

// Runs the stages. Pre-tokenization returns the words for BPE; `first` says the text starts
// the input (Metaspace's prepend_scheme "first"). Decoding turns token strings into text.
std::string Normalize(const std::vector<NormStep>& steps, std::string s);
std::vector<std::string> PreTokenize(const std::vector<PreStep>& steps, std::string text,
                                     bool first);
std::string DecodeTokens(const std::vector<DecStep>& steps, std::vector<std::string> tokens);

// Whether s starts / ends with a word character (\w in Unicode mode, as Hugging Face checks
// an added token's single_word).
bool StartsWithWordChar(std::string_view s);
bool EndsWithWordChar(std::string_view s);
// Bytes of Unicode whitespace (\s) at the start / end of s (an added token's lstrip/rstrip).
size_t LeadingSpaceBytes(std::string_view s);
size_t TrailingSpaceBytes(std::string_view s);

}  // namespace squeeze::hf_internal
