// The stages of a Hugging Face tokenizer.json around the BPE model: reading and running the
// normalizer, pre-tokenizer and decoder, with PCRE2 for their regexes.
#include "model/tokenizer_hf_pipeline.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "model/tokenizer_llama2c.h"
#include "util/status_macros.h"

namespace squeeze::hf_internal {
namespace {

using internal::Utf8CharLength;

// GPT-2's pre-tokenizer pattern (ByteLevel with use_regex).
constexpr char kGpt2Pattern[] =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// The code point of a well-formed UTF-8 sequence of `len` bytes.
uint32_t DecodeUtf8(std::string_view s, size_t i, size_t len) {
  const auto b = [&](size_t k) { return static_cast<uint32_t>(static_cast<uint8_t>(s[i + k])); };
  switch (len) {
    case 1:
      return b(0);
    case 2:
      return ((b(0) & 0x1F) << 6) | (b(1) & 0x3F);
    case 3:
      return ((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
    default:
      return ((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
  }
}

// GPT-2's byte <-> printable character table: printable Latin-1 bytes map to themselves, the
// others to U+0100 onwards in byte order.
struct ByteLevelTable {
  std::string byte_to_utf8[256];
  int16_t cp_to_byte[324];
  ByteLevelTable() {
    std::fill(std::begin(cp_to_byte), std::end(cp_to_byte), -1);
    uint32_t extra = 0;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
      const uint32_t cp = printable ? b : 256 + extra++;
      AppendUtf8(cp, &byte_to_utf8[b]);
      cp_to_byte[cp] = static_cast<int16_t>(b);
    }
  }
};
const ByteLevelTable& ByteLevel() {
  static const ByteLevelTable* table = new ByteLevelTable();
  return *table;
}

// The byte of a "<0xNN>" token, or -1.
int ParseByteToken(std::string_view t) {
  if (t.size() != 6 || t.substr(0, 3) != "<0x" || t[5] != '>') return -1;
  int v = 0;
  for (char c : t.substr(3, 2)) {
    const int d = (c >= '0' && c <= '9')   ? c - '0'
                  : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                  : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                                           : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

template <typename Step>
Step MakeStep(typename Step::Kind kind) {
  Step step;
  step.kind = kind;
  return step;
}

// Splits `s` into spans by the matches of `re`, then groups them as `behavior` says (the
// Hugging Face semantics of NormalizedString::split).
std::vector<std::string> SplitByRegex(std::string_view s, const Regex& re, SplitBehavior behavior,
                                      bool invert) {
  struct Span {
    size_t start, end;
    bool match;
  };
  std::vector<Span> spans;
  size_t last = 0;
  re.ForEachMatch(s, [&](size_t start, size_t end) {
    if (start > last) spans.push_back({last, start, invert});
    spans.push_back({start, end, !invert});
    last = end;
  });
  if (last < s.size()) spans.push_back({last, s.size(), invert});

  std::vector<Span> groups;
  bool previous_match = false;
  switch (behavior) {
    case SplitBehavior::kRemoved:
      for (const Span& sp : spans) {
        if (!sp.match) groups.push_back(sp);
      }
      break;
    case SplitBehavior::kIsolated:
      groups = spans;
      break;
    case SplitBehavior::kMergedWithPrevious:
      for (const Span& sp : spans) {
        if (sp.match && !previous_match && !groups.empty()) {
          groups.back().end = sp.end;
        } else {
          groups.push_back(sp);
        }
        previous_match = sp.match;
      }
      break;
    case SplitBehavior::kMergedWithNext:
      for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
        if (it->match && !previous_match && !groups.empty()) {
          groups.back().start = it->start;
        } else {
          groups.push_back(*it);
        }
        previous_match = it->match;
      }
      std::reverse(groups.begin(), groups.end());
      break;
    case SplitBehavior::kContiguous:
      for (size_t i = 0; i < spans.size(); ++i) {
        if (i > 0 && spans[i].match == previous_match) {
          groups.back().end = spans[i].end;
        } else {
          groups.push_back(spans[i]);
        }
        previous_match = spans[i].match;
      }
      break;
  }
  std::vector<std::string> out;
  out.reserve(groups.size());
  for (const Span& g : groups) {
    if (g.end > g.start) out.emplace_back(s.substr(g.start, g.end - g.start));
  }
  return out;
}

}  // namespace

namespace {

const Regex& WordChar() {
  static const Regex* re = new Regex(*Regex::Compile(R"(\w)", false));
  return *re;
}
const Regex& SpaceChar() {
  static const Regex* re = new Regex(*Regex::Compile(R"(\s)", false));
  return *re;
}

// Whether the character at s[i] is in the class `re` matches.
bool CharIs(const Regex& re, std::string_view s, size_t i) {
  bool found = false;
  re.ForEachMatch(s.substr(i, Utf8CharLength(s, i)), [&](size_t, size_t) { found = true; });
  return found;
}

// Where the last character of a non-empty s starts.
size_t LastCharStart(std::string_view s) {
  for (size_t back = 1; back <= 4 && back <= s.size(); ++back) {
    const size_t i = s.size() - back;
    if ((static_cast<uint8_t>(s[i]) & 0xC0) == 0x80) continue;  // a continuation byte
    return Utf8CharLength(s, i) == back ? i : s.size() - 1;
  }
  return s.size() - 1;
}

}  // namespace

bool StartsWithWordChar(std::string_view s) {
  return !s.empty() && CharIs(WordChar(), s, 0);
}

bool EndsWithWordChar(std::string_view s) {
  return !s.empty() && CharIs(WordChar(), s, LastCharStart(s));
}

size_t LeadingSpaceBytes(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && CharIs(SpaceChar(), s, i)) i += Utf8CharLength(s, i);
  return i;
}

size_t TrailingSpaceBytes(std::string_view s) {
  size_t end = s.size();
  while (end > 0) {
    const size_t start = LastCharStart(s.substr(0, end));
    if (!CharIs(SpaceChar(), s, start)) break;
    end = start;
  }
  return s.size() - end;
}

std::string ByteLevelEncode(std::string_view bytes) {
  const ByteLevelTable& table = ByteLevel();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) out.append(table.byte_to_utf8[static_cast<uint8_t>(c)]);
  return out;
}

std::string ByteLevelDecode(std::string_view t) {
  const ByteLevelTable& table = ByteLevel();
  std::string bytes;
  for (size_t i = 0; i < t.size();) {
    const size_t len = Utf8CharLength(t, i);
    const uint32_t cp =
        len > 1 || static_cast<uint8_t>(t[i]) < 0x80 ? DecodeUtf8(t, i, len) : 0xFFFFFFFF;
    if (cp < 324 && table.cp_to_byte[cp] >= 0) {
      bytes.push_back(static_cast<char>(table.cp_to_byte[cp]));
    } else {
      bytes.append(t.substr(i, len));
    }
    i += len;
  }
  return bytes;
}

absl::StatusOr<Regex> Regex::Compile(std::string_view pattern, bool literal) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  uint32_t options = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
  options |= literal ? PCRE2_LITERAL : PCRE2_UCP;  // PCRE2_LITERAL refuses PCRE2_UCP
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   options, &error, &offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof(message));
    return absl::InvalidArgumentError(
        absl::StrFormat("bad regex at offset %d: %s", offset, reinterpret_cast<char*>(message)));
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter if it fails
  Regex re;
  re.code_ =
      std::shared_ptr<void>(code, [](void* p) { pcre2_code_free(static_cast<pcre2_code*>(p)); });
  return re;
}

void Regex::ForEachMatch(std::string_view s, absl::FunctionRef<void(size_t, size_t)> f) const {
  const pcre2_code* code = static_cast<const pcre2_code*>(code_.get());
  std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> md(
      pcre2_match_data_create_from_pattern(code, nullptr), pcre2_match_data_free);
  size_t offset = 0;
  while (offset <= s.size()) {
    const int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(), offset, 0,
                               md.get(), nullptr);
    if (rc < 0) break;  // no match (or a matching limit): the rest is a gap
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
    const size_t start = ov[0], end = ov[1];
    if (end > start) {
      f(start, end);
      offset = end;
    } else {
      if (start >= s.size()) break;
      offset = start + Utf8CharLength(s, start);
    }
  }
}

std::string Regex::ReplaceAll(std::string_view s, std::string_view content) const {
  std::string out;
  size_t last = 0;
  ForEachMatch(s, [&](size_t start, size_t end) {
    out.append(s.substr(last, start - last));
    out.append(content);
    last = end;
  });
  out.append(s.substr(last));
  return out;
}

absl::Status JsonReader::Error(const std::string& path, const std::string& msg) const {
  return absl::InvalidArgumentError(absl::StrCat(name, ": ", path, ": ", msg));
}
// A field absent or null gives `def`; present with another type is an error.
absl::StatusOr<std::string> JsonReader::String(const Json& obj, const char* key,
                                               const std::string& path, std::string def) const {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return def;
  if (!it->is_string()) return Error(path + "." + key, "expected a string");
  return it->get<std::string>();
}
absl::StatusOr<bool> JsonReader::Bool(const Json& obj, const char* key, const std::string& path,
                                      bool def) const {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return def;
  if (!it->is_boolean()) return Error(path + "." + key, "expected true or false");
  return it->get<bool>();
}
absl::StatusOr<int64_t> JsonReader::Int(const Json& obj, const char* key, const std::string& path,
                                        int64_t def) const {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return def;
  if (!it->is_number_integer()) return Error(path + "." + key, "expected an integer");
  return it->get<int64_t>();
}
absl::StatusOr<int32_t> JsonReader::Id(const Json& value, const std::string& path) const {
  if (!value.is_number_integer()) return Error(path, "expected an integer token id");
  const int64_t id = value.get<int64_t>();
  if (id < 0 || id >= kMaxTokenId) {
    return Error(path, absl::StrFormat("token id %d is outside [0, %d)", id, kMaxTokenId));
  }
  return static_cast<int32_t>(id);
}
absl::StatusOr<std::string> JsonReader::Type(const Json& obj, const std::string& path) const {
  if (!obj.is_object()) return Error(path, "expected an object");
  ASSIGN_OR_RETURN(std::string type, String(obj, "type", path));
  if (type.empty()) return Error(path + ".type", "missing");
  return type;
}
absl::StatusOr<const Json*> JsonReader::Array(const Json& obj, const char* key,
                                              const std::string& path) const {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_array()) return Error(path + "." + key, "expected an array");
  return &*it;
}
// {"Regex": "..."} or {"String": "..."}.
absl::StatusOr<Regex> JsonReader::Pattern(const Json& obj, const std::string& path) const {
  auto it = obj.find("pattern");
  if (it == obj.end() || !it->is_object()) return Error(path + ".pattern", "expected an object");
  for (const char* kind : {"Regex", "String"}) {
    auto p = it->find(kind);
    if (p == it->end()) continue;
    if (!p->is_string()) return Error(path + ".pattern." + kind, "expected a string");
    auto re = Regex::Compile(p->get<std::string>(), kind[0] == 'S');
    if (!re.ok()) return Error(path + ".pattern." + kind, std::string(re.status().message()));
    return re;
  }
  return Error(path + ".pattern", "expected a \"Regex\" or \"String\" pattern");
}

absl::Status ParseNormalizer(const JsonReader& ctx, const Json& j, const std::string& path,
                             std::vector<NormStep>* steps) {
  if (j.is_null()) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::string type, ctx.Type(j, path));
  if (type == "Sequence") {
    ASSIGN_OR_RETURN(const Json* list, ctx.Array(j, "normalizers", path));
    for (size_t i = 0; i < list->size(); ++i) {
      RETURN_IF_ERROR(
          ParseNormalizer(ctx, (*list)[i], absl::StrCat(path, ".normalizers[", i, "]"), steps));
    }
  } else if (type == "Prepend") {
    ASSIGN_OR_RETURN(std::string text, ctx.String(j, "prepend", path));
    NormStep step = MakeStep<NormStep>(NormStep::kPrepend);
    step.text = std::move(text);
    steps->push_back(std::move(step));
  } else if (type == "Replace") {
    NormStep step = MakeStep<NormStep>(NormStep::kReplace);
    ASSIGN_OR_RETURN(step.regex, ctx.Pattern(j, path));
    ASSIGN_OR_RETURN(step.text, ctx.String(j, "content", path));
    steps->push_back(std::move(step));
  } else if (type == "Strip") {
    NormStep step = MakeStep<NormStep>(NormStep::kStrip);
    ASSIGN_OR_RETURN(step.left, ctx.Bool(j, "strip_left", path, true));
    ASSIGN_OR_RETURN(step.right, ctx.Bool(j, "strip_right", path, true));
    steps->push_back(std::move(step));
  } else if (type == "Lowercase") {
    steps->push_back(MakeStep<NormStep>(NormStep::kLowercase));
  } else if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") {
    // Accepted and ignored: no Unicode normalization is done (see tokenizer_hf.h).
  } else {
    return ctx.Error(path + ".type", absl::StrCat("unsupported normalizer \"", type, "\""));
  }
  return absl::OkStatus();
}

absl::Status ParsePreTokenizer(const JsonReader& ctx, const Json& j, const std::string& path,
                               std::vector<PreStep>* steps) {
  if (j.is_null()) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::string type, ctx.Type(j, path));
  const auto split = [&](std::string_view pattern, SplitBehavior behavior,
                         bool invert) -> absl::Status {
    PreStep step = MakeStep<PreStep>(PreStep::kSplit);
    ASSIGN_OR_RETURN(step.regex, Regex::Compile(pattern, false));
    step.behavior = behavior;
    step.invert = invert;
    steps->push_back(std::move(step));
    return absl::OkStatus();
  };
  if (type == "Sequence") {
    ASSIGN_OR_RETURN(const Json* list, ctx.Array(j, "pretokenizers", path));
    for (size_t i = 0; i < list->size(); ++i) {
      RETURN_IF_ERROR(
          ParsePreTokenizer(ctx, (*list)[i], absl::StrCat(path, ".pretokenizers[", i, "]"), steps));
    }
  } else if (type == "ByteLevel") {
    PreStep step = MakeStep<PreStep>(PreStep::kByteLevel);
    ASSIGN_OR_RETURN(step.add_prefix_space, ctx.Bool(j, "add_prefix_space", path, true));
    ASSIGN_OR_RETURN(bool use_regex, ctx.Bool(j, "use_regex", path, true));
    if (use_regex) {
      ASSIGN_OR_RETURN(step.regex, Regex::Compile(kGpt2Pattern, false));
    }
    steps->push_back(std::move(step));
  } else if (type == "Split") {
    PreStep step = MakeStep<PreStep>(PreStep::kSplit);
    ASSIGN_OR_RETURN(step.regex, ctx.Pattern(j, path));
    ASSIGN_OR_RETURN(std::string behavior, ctx.String(j, "behavior", path, "Isolated"));
    static const std::pair<const char*, SplitBehavior> kBehaviors[] = {
        {"Removed", SplitBehavior::kRemoved},
        {"Isolated", SplitBehavior::kIsolated},
        {"MergedWithPrevious", SplitBehavior::kMergedWithPrevious},
        {"MergedWithNext", SplitBehavior::kMergedWithNext},
        {"Contiguous", SplitBehavior::kContiguous}};
    bool known = false;
    for (const auto& [label, value] : kBehaviors) {
      if (behavior == label) step.behavior = value, known = true;
    }
    if (!known) {
      return ctx.Error(path + ".behavior", absl::StrCat("unsupported behavior \"", behavior, "\""));
    }
    ASSIGN_OR_RETURN(step.invert, ctx.Bool(j, "invert", path, false));
    steps->push_back(std::move(step));
  } else if (type == "Metaspace") {
    PreStep step = MakeStep<PreStep>(PreStep::kMetaspace);
    ASSIGN_OR_RETURN(step.replacement, ctx.String(j, "replacement", path, "\xE2\x96\x81"));
    if (step.replacement.empty() ||
        Utf8CharLength(step.replacement, 0) != step.replacement.size()) {
      return ctx.Error(path + ".replacement", "expected one character");
    }
    ASSIGN_OR_RETURN(bool add_prefix_space, ctx.Bool(j, "add_prefix_space", path, true));
    ASSIGN_OR_RETURN(std::string scheme,
                     ctx.String(j, "prepend_scheme", path, add_prefix_space ? "always" : "never"));
    if (scheme == "always") {
      step.prepend = PrependScheme::kAlways;
    } else if (scheme == "first") {
      step.prepend = PrependScheme::kFirst;
    } else if (scheme == "never") {
      step.prepend = PrependScheme::kNever;
    } else {
      return ctx.Error(path + ".prepend_scheme", absl::StrCat("unknown scheme \"", scheme, "\""));
    }
    ASSIGN_OR_RETURN(step.split, ctx.Bool(j, "split", path, true));
    steps->push_back(std::move(step));
  } else if (type == "Digits") {
    ASSIGN_OR_RETURN(bool individual, ctx.Bool(j, "individual_digits", path, false));
    RETURN_IF_ERROR(split(individual ? R"(\p{N})" : R"(\p{N}+)", SplitBehavior::kIsolated, false));
  } else if (type == "Whitespace") {
    RETURN_IF_ERROR(split(R"(\w+|[^\w\s]+)", SplitBehavior::kRemoved, true));
  } else if (type == "WhitespaceSplit") {
    RETURN_IF_ERROR(split(R"(\s+)", SplitBehavior::kRemoved, false));
  } else {
    return ctx.Error(path + ".type", absl::StrCat("unsupported pre-tokenizer \"", type, "\""));
  }
  return absl::OkStatus();
}

absl::Status ParseDecoder(const JsonReader& ctx, const Json& j, const std::string& path,
                          std::vector<DecStep>* steps) {
  ASSIGN_OR_RETURN(std::string type, ctx.Type(j, path));
  if (type == "Sequence") {
    ASSIGN_OR_RETURN(const Json* list, ctx.Array(j, "decoders", path));
    for (size_t i = 0; i < list->size(); ++i) {
      RETURN_IF_ERROR(
          ParseDecoder(ctx, (*list)[i], absl::StrCat(path, ".decoders[", i, "]"), steps));
    }
  } else if (type == "ByteLevel") {
    steps->push_back(MakeStep<DecStep>(DecStep::kByteLevel));
  } else if (type == "Metaspace") {
    DecStep step = MakeStep<DecStep>(DecStep::kMetaspace);
    ASSIGN_OR_RETURN(step.text, ctx.String(j, "replacement", path, "\xE2\x96\x81"));
    ASSIGN_OR_RETURN(bool add_prefix_space, ctx.Bool(j, "add_prefix_space", path, true));
    ASSIGN_OR_RETURN(std::string scheme,
                     ctx.String(j, "prepend_scheme", path, add_prefix_space ? "always" : "never"));
    step.strip_first = scheme != "never";
    steps->push_back(std::move(step));
  } else if (type == "Replace") {
    DecStep step = MakeStep<DecStep>(DecStep::kReplace);
    ASSIGN_OR_RETURN(step.regex, ctx.Pattern(j, path));
    ASSIGN_OR_RETURN(step.text, ctx.String(j, "content", path));
    steps->push_back(std::move(step));
  } else if (type == "ByteFallback") {
    steps->push_back(MakeStep<DecStep>(DecStep::kByteFallback));
  } else if (type == "Fuse") {
    steps->push_back(MakeStep<DecStep>(DecStep::kFuse));
  } else if (type == "Strip") {
    DecStep step = MakeStep<DecStep>(DecStep::kStrip);
    ASSIGN_OR_RETURN(step.text, ctx.String(j, "content", path, " "));
    ASSIGN_OR_RETURN(step.start, ctx.Int(j, "start", path, 0));
    ASSIGN_OR_RETURN(step.stop, ctx.Int(j, "stop", path, 0));
    if (step.text.empty()) return ctx.Error(path + ".content", "expected one character");
    steps->push_back(std::move(step));
  } else {
    return ctx.Error(path + ".type", absl::StrCat("unsupported decoder \"", type, "\""));
  }
  return absl::OkStatus();
}

std::string Normalize(const std::vector<NormStep>& steps, std::string s) {
  for (const NormStep& step : steps) {
    switch (step.kind) {
      case NormStep::kPrepend:
        if (!s.empty()) s.insert(0, step.text);
        break;
      case NormStep::kReplace:
        s = step.regex.ReplaceAll(s, step.text);
        break;
      case NormStep::kStrip: {
        const size_t b = step.left ? LeadingSpaceBytes(s) : 0;
        const size_t e = s.size() - (step.right && b < s.size() ? TrailingSpaceBytes(s) : 0);
        s = s.substr(b, e - b);
        break;
      }
      case NormStep::kLowercase:
        for (char& c : s) {
          if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        }
        break;
    }
  }
  return s;
}

std::vector<std::string> PreTokenize(const std::vector<PreStep>& steps, std::string text,
                                     bool first) {
  // A piece of text moving through the steps; `first` when it starts the input.
  struct Piece {
    std::string text;
    bool first;
  };
  std::vector<Piece> pieces;
  pieces.push_back({std::move(text), first});
  std::vector<Piece> next;
  for (const PreStep& step : steps) {
    next.clear();
    for (Piece& p : pieces) {
      std::vector<std::string> parts;
      switch (step.kind) {
        case PreStep::kByteLevel: {
          if (step.add_prefix_space && (p.text.empty() || p.text[0] != ' ')) p.text = " " + p.text;
          if (step.regex.valid()) {
            parts = SplitByRegex(p.text, step.regex, SplitBehavior::kIsolated, false);
          } else {
            parts.push_back(std::move(p.text));
          }
          for (std::string& part : parts) part = ByteLevelEncode(part);
          break;
        }
        case PreStep::kSplit:
          parts = SplitByRegex(p.text, step.regex, step.behavior, step.invert);
          break;
        case PreStep::kMetaspace: {
          const std::string& rep = step.replacement;
          std::string t;
          for (char c : p.text) {
            if (c == ' ') {
              t.append(rep);
            } else {
              t.push_back(c);
            }
          }
          // After the spaces are replaced, as Hugging Face does: " x" gets no second "▁".
          if ((step.prepend == PrependScheme::kAlways ||
               (step.prepend == PrependScheme::kFirst && p.first)) &&
              t.compare(0, rep.size(), rep) != 0) {
            t.insert(0, rep);
          }
          if (!step.split) {
            parts.push_back(std::move(t));
            break;
          }
          size_t start = 0;  // each replacement character starts a new part
          for (size_t pos = t.find(rep, 1); pos != std::string::npos;
               pos = t.find(rep, pos + rep.size())) {
            if (pos > start) parts.push_back(t.substr(start, pos - start));
            start = pos;
          }
          parts.push_back(t.substr(start));
          break;
        }
      }
      for (size_t k = 0; k < parts.size(); ++k) {
        if (!parts[k].empty()) next.push_back({std::move(parts[k]), p.first && k == 0});
      }
    }
    pieces.swap(next);
  }
  std::vector<std::string> words;
  words.reserve(pieces.size());
  for (Piece& p : pieces) words.push_back(std::move(p.text));
  return words;
}

std::string DecodeTokens(const std::vector<DecStep>& steps, std::vector<std::string> tokens) {
  for (const DecStep& step : steps) {
    switch (step.kind) {
      case DecStep::kByteLevel:
        for (std::string& t : tokens) t = ByteLevelDecode(t);
        break;
      case DecStep::kMetaspace:
        for (size_t i = 0; i < tokens.size(); ++i) {
          std::string t;
          for (size_t p = 0; p < tokens[i].size();) {
            if (tokens[i].compare(p, step.text.size(), step.text) == 0) {
              t.push_back(' ');
              p += step.text.size();
            } else {
              t.push_back(tokens[i][p++]);
            }
          }
          if (i == 0 && step.strip_first && !t.empty() && t[0] == ' ') t.erase(0, 1);
          tokens[i] = std::move(t);
        }
        break;
      case DecStep::kReplace:
        for (std::string& t : tokens) t = step.regex.ReplaceAll(t, step.text);
        break;
      case DecStep::kByteFallback: {
        std::vector<std::string> merged;
        bool in_bytes = false;  // the last entry collects a run of byte tokens
        for (std::string& t : tokens) {
          const int byte = ParseByteToken(t);
          if (byte < 0) {
            merged.push_back(std::move(t));
            in_bytes = false;
          } else {
            if (!in_bytes) merged.emplace_back();
            merged.back().push_back(static_cast<char>(byte));
            in_bytes = true;
          }
        }
        tokens = std::move(merged);
        break;
      }
      case DecStep::kFuse: {
        std::string all;
        for (const std::string& t : tokens) all += t;
        tokens.assign(1, std::move(all));
        break;
      }
      case DecStep::kStrip:
        for (std::string& t : tokens) {
          const std::string& c = step.text;
          size_t b = 0, e = t.size();
          for (int64_t k = 0; k < step.start && t.compare(b, c.size(), c) == 0; ++k) {
            b += c.size();
          }
          for (int64_t k = 0;
               k < step.stop && e >= b + c.size() && t.compare(e - c.size(), c.size(), c) == 0;
               ++k) {
            e -= c.size();
          }
          t = t.substr(b, e - b);
        }
        break;
    }
  }
  std::string out;
  for (const std::string& t : tokens) out += t;
  return out;
}

}  // namespace squeeze::hf_internal
