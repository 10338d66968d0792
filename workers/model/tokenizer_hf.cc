// Hugging Face tokenizer.json (BPE model): the model, added tokens and BOS/EOS, and encoding
// and decoding through the stages of tokenizer_hf_pipeline.h.
#include "model/tokenizer_hf.h"

#include <algorithm>
#include <mutex>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "model/tokenizer_hf_pipeline.h"
#include "model/tokenizer_llama2c.h"
#include "util/mapped_file.h"
#include "util/status_macros.h"

namespace squeeze {

using hf_internal::Json;
using hf_internal::JsonReader;

namespace {

using internal::Utf8CharLength;

// Words up to this many bytes have their ids cached; the cache is cleared when it gets big.
constexpr size_t kMaxCachedWordBytes = 128;
constexpr size_t kMaxCacheEntries = 1 << 18;

struct AddedToken {
  std::string content;
  int32_t id;
  bool special, lstrip, rstrip, single_word;
};

}  // namespace

struct HfTokenizer::Impl {
  std::string name;
  internal::StringIdMap vocab;                  // model vocabulary
  std::vector<std::string> id_to_token;         // vocabulary and added tokens
  std::vector<uint8_t> has_token, skip_decode;  // per id
  // (left id << 32 | right id) -> (rank, merged id)
  std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merges;
  int32_t unk_id = -1;
  bool byte_fallback = false, fuse_unk = false, ignore_merges = false;
  std::string subword_prefix, word_suffix;
  int32_t byte_ids[256];

  std::vector<AddedToken> added;
  std::vector<int32_t> added_by_byte[256];  // indices into `added`, longest content first
  internal::StringIdMap added_ids;

  std::vector<hf_internal::NormStep> normalizer;
  std::vector<hf_internal::PreStep> pre_tokenizer;
  std::vector<hf_internal::DecStep> decoder;
  bool has_decoder = false;
  int32_t bos = -1, eos = -1;

  mutable std::mutex mu;
  mutable std::unordered_map<std::string, std::vector<int32_t>, internal::StringHash,
                             std::equal_to<>>
      cache;  // Guarded by mu.

  int32_t TokenId(std::string_view token) const {
    if (auto it = added_ids.find(token); it != added_ids.end()) return it->second;
    if (auto it = vocab.find(token); it != vocab.end()) return it->second;
    return -1;
  }

  absl::Status ParseModel(const JsonReader& ctx, const Json& m);
  absl::Status ParseAddedTokens(const JsonReader& ctx, const Json& list);
  absl::Status ParseSpecialIds(const JsonReader& ctx, const Json& post);

  void EncodeSegment(std::string_view text, bool first, std::vector<int32_t>* out) const;
  void EncodeWord(std::string_view word, std::vector<int32_t>* out) const;
  void BpeWord(std::string_view word, std::vector<int32_t>* out) const;
};

absl::Status HfTokenizer::Impl::ParseModel(const JsonReader& ctx, const Json& m) {
  if (!m.is_object()) return ctx.Error("model", "expected an object");
  ASSIGN_OR_RETURN(std::string type, ctx.String(m, "type", "model"));
  if (type.empty() && m.contains("merges")) type = "BPE";
  if (type != "BPE") {
    return ctx.Error("model.type",
                     absl::StrCat("unsupported model type \"", type, "\" (only BPE is supported)"));
  }
  auto v = m.find("vocab");
  if (v == m.end() || !v->is_object()) return ctx.Error("model.vocab", "expected an object");
  vocab.reserve(v->size());
  int64_t size = 0;
  for (auto it = v->begin(); it != v->end(); ++it) {
    ASSIGN_OR_RETURN(int32_t id, ctx.Id(it.value(), "model.vocab[\"" + it.key() + "\"]"));
    vocab.emplace(it.key(), id);
    size = std::max<int64_t>(size, id + 1);
  }
  id_to_token.resize(size);
  has_token.assign(size, 0);
  for (const auto& [token, id] : vocab) {
    if (!has_token[id]) id_to_token[id] = token, has_token[id] = 1;
  }

  ASSIGN_OR_RETURN(subword_prefix, ctx.String(m, "continuing_subword_prefix", "model"));
  ASSIGN_OR_RETURN(word_suffix, ctx.String(m, "end_of_word_suffix", "model"));
  ASSIGN_OR_RETURN(byte_fallback, ctx.Bool(m, "byte_fallback", "model", false));
  ASSIGN_OR_RETURN(fuse_unk, ctx.Bool(m, "fuse_unk", "model", false));
  ASSIGN_OR_RETURN(ignore_merges, ctx.Bool(m, "ignore_merges", "model", false));
  ASSIGN_OR_RETURN(std::string unk, ctx.String(m, "unk_token", "model"));
  if (!unk.empty()) {
    auto it = vocab.find(unk);
    if (it == vocab.end()) {
      return ctx.Error("model.unk_token", absl::StrCat("\"", unk, "\" is not in the vocabulary"));
    }
    unk_id = it->second;
  }
  for (int b = 0; b < 256; ++b) {
    auto it = vocab.find(absl::StrFormat("<0x%02X>", b));
    byte_ids[b] = it == vocab.end() ? -1 : it->second;
  }

  ASSIGN_OR_RETURN(const Json* list, ctx.Array(m, "merges", "model"));
  merges.reserve(list->size());
  std::string merged;
  for (size_t i = 0; i < list->size(); ++i) {
    const Json& e = (*list)[i];
    const std::string path = absl::StrCat("model.merges[", i, "]");
    std::string_view a, b;
    if (e.is_string()) {
      const std::string& str = e.get_ref<const std::string&>();
      const size_t space = str.find(' ');
      if (space == std::string::npos || str.find(' ', space + 1) != std::string::npos) {
        return ctx.Error(path,
                         absl::StrCat("\"", str, "\" is not two tokens separated by a space"));
      }
      a = std::string_view(str).substr(0, space);
      b = std::string_view(str).substr(space + 1);
    } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
      a = e[0].get_ref<const std::string&>();
      b = e[1].get_ref<const std::string&>();
    } else {
      return ctx.Error(path, "expected \"a b\" or [\"a\", \"b\"]");
    }
    auto ia = vocab.find(a), ib = vocab.find(b);
    if (ia == vocab.end() || ib == vocab.end()) {
      return ctx.Error(path, absl::StrCat("token \"", std::string(ia == vocab.end() ? a : b),
                                          "\" is not in the vocabulary"));
    }
    std::string_view tail = b;
    if (!subword_prefix.empty() && tail.substr(0, subword_prefix.size()) == subword_prefix) {
      tail.remove_prefix(subword_prefix.size());
    }
    merged.assign(a);
    merged.append(tail);
    auto im = vocab.find(merged);
    if (im == vocab.end()) {
      return ctx.Error(path,
                       absl::StrCat("merged token \"", merged, "\" is not in the vocabulary"));
    }
    const uint64_t key = (static_cast<uint64_t>(ia->second) << 32) | uint32_t(ib->second);
    merges.emplace(key, std::make_pair(static_cast<int32_t>(i), im->second));  // first rank wins
  }
  return absl::OkStatus();
}

absl::Status HfTokenizer::Impl::ParseAddedTokens(const JsonReader& ctx, const Json& list) {
  if (list.is_null()) {
    skip_decode.assign(id_to_token.size(), 0);
    return absl::OkStatus();
  }
  if (!list.is_array()) return ctx.Error("added_tokens", "expected an array");
  for (size_t i = 0; i < list.size(); ++i) {
    const Json& e = list[i];
    const std::string path = absl::StrCat("added_tokens[", i, "]");
    if (!e.is_object()) return ctx.Error(path, "expected an object");
    auto id_it = e.find("id");
    if (id_it == e.end()) return ctx.Error(path + ".id", "missing");
    AddedToken t;
    ASSIGN_OR_RETURN(t.id, ctx.Id(*id_it, path + ".id"));
    ASSIGN_OR_RETURN(t.content, ctx.String(e, "content", path));
    if (t.content.empty()) return ctx.Error(path + ".content", "missing or empty");
    ASSIGN_OR_RETURN(t.special, ctx.Bool(e, "special", path, false));
    ASSIGN_OR_RETURN(t.lstrip, ctx.Bool(e, "lstrip", path, false));
    ASSIGN_OR_RETURN(t.rstrip, ctx.Bool(e, "rstrip", path, false));
    ASSIGN_OR_RETURN(t.single_word, ctx.Bool(e, "single_word", path, false));
    if (t.id >= static_cast<int32_t>(id_to_token.size())) {
      id_to_token.resize(t.id + 1);
      has_token.resize(t.id + 1, 0);
    }
    id_to_token[t.id] = t.content;
    has_token[t.id] = 1;
    added_ids[t.content] = t.id;
    added.push_back(std::move(t));
  }
  skip_decode.assign(id_to_token.size(), 0);
  for (int32_t k = 0; k < static_cast<int32_t>(added.size()); ++k) {
    added_by_byte[static_cast<uint8_t>(added[k].content[0])].push_back(k);
    if (added[k].special) skip_decode[added[k].id] = 1;
  }
  for (auto& list_for_byte : added_by_byte) {
    std::stable_sort(list_for_byte.begin(), list_for_byte.end(), [&](int32_t x, int32_t y) {
      return added[x].content.size() > added[y].content.size();
    });
  }
  return absl::OkStatus();
}

absl::Status HfTokenizer::Impl::ParseSpecialIds(const JsonReader& ctx, const Json& post) {
  // Finds TemplateProcessing, possibly inside a Sequence of processors.
  const Json* tp = nullptr;
  std::string path = "post_processor";
  if (post.is_object() && post.value("type", "") == "TemplateProcessing") {
    tp = &post;
  } else if (post.is_object() && post.value("type", "") == "Sequence" &&
             post.contains("processors") && post["processors"].is_array()) {
    for (size_t i = 0; i < post["processors"].size(); ++i) {
      const Json& p = post["processors"][i];
      if (p.is_object() && p.value("type", "") == "TemplateProcessing") {
        tp = &p;
        path = absl::StrCat("post_processor.processors[", i, "]");
        break;
      }
    }
  }
  if (tp != nullptr) {
    ASSIGN_OR_RETURN(const Json* single, ctx.Array(*tp, "single", path));
    bool after_sequence = false;
    for (size_t i = 0; i < single->size(); ++i) {
      const Json& item = (*single)[i];
      if (item.is_object() && item.contains("Sequence")) {
        after_sequence = true;
        continue;
      }
      if (!item.is_object() || !item.contains("SpecialToken") ||
          !item["SpecialToken"].is_object()) {
        continue;
      }
      const std::string item_path = absl::StrCat(path, ".single[", i, "].SpecialToken");
      ASSIGN_OR_RETURN(std::string name, ctx.String(item["SpecialToken"], "id", item_path));
      int32_t id = -1;
      auto st = tp->find("special_tokens");
      if (st != tp->end() && st->is_object() && st->contains(name) && (*st)[name].is_object() &&
          (*st)[name].contains("ids") && (*st)[name]["ids"].is_array() &&
          !(*st)[name]["ids"].empty()) {
        ASSIGN_OR_RETURN(id, ctx.Id((*st)[name]["ids"][0],
                                    absl::StrCat(path, ".special_tokens[\"", name, "\"].ids[0]")));
      } else {
        id = TokenId(name);
      }
      if (id < 0 || id >= static_cast<int32_t>(id_to_token.size())) {
        return ctx.Error(item_path, absl::StrCat("special token \"", name, "\" is unknown"));
      }
      int32_t& slot = after_sequence ? eos : bos;
      if (slot < 0) slot = id;
    }
  }
  const auto by_name = [&](std::initializer_list<const char*> names) {
    for (const char* n : names) {
      if (int32_t id = TokenId(n); id >= 0) return id;
    }
    return -1;
  };
  if (bos < 0) bos = by_name({"<s>", "<|begin_of_text|>", "<bos>", "<|endoftext|>"});
  if (eos < 0) eos = by_name({"</s>", "<|end_of_text|>", "<|eot_id|>", "<eos>", "<|endoftext|>"});
  if (bos >= 0) skip_decode[bos] = 1;
  if (eos >= 0) skip_decode[eos] = 1;
  return absl::OkStatus();
}

HfTokenizer::HfTokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HfTokenizer::~HfTokenizer() = default;

absl::StatusOr<std::unique_ptr<HfTokenizer>> HfTokenizer::Load(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  return FromJson(text, path);
}

absl::StatusOr<std::unique_ptr<HfTokenizer>> HfTokenizer::FromJson(std::string_view text,
                                                                   const std::string& name) {
  JsonReader ctx{name};
  Json root;
  try {
    root = Json::parse(text);
  } catch (const Json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": not valid JSON: ", e.what()));
  }
  if (!root.is_object()) return ctx.Error("(root)", "expected an object");
  auto impl = std::make_unique<Impl>();
  impl->name = name;
  try {
    auto model = root.find("model");
    if (model == root.end()) return ctx.Error("model", "missing");
    RETURN_IF_ERROR(impl->ParseModel(ctx, *model));
    RETURN_IF_ERROR(impl->ParseAddedTokens(ctx, root.value("added_tokens", Json())));
    RETURN_IF_ERROR(
        ParseNormalizer(ctx, root.value("normalizer", Json()), "normalizer", &impl->normalizer));
    RETURN_IF_ERROR(hf_internal::ParsePreTokenizer(ctx, root.value("pre_tokenizer", Json()),
                                                   "pre_tokenizer", &impl->pre_tokenizer));
    const Json decoder = root.value("decoder", Json());
    impl->has_decoder = !decoder.is_null();
    if (impl->has_decoder)
      RETURN_IF_ERROR(hf_internal::ParseDecoder(ctx, decoder, "decoder", &impl->decoder));
    RETURN_IF_ERROR(impl->ParseSpecialIds(ctx, root.value("post_processor", Json())));
  } catch (const Json::exception& e) {  // a type mismatch not checked above
    return absl::InvalidArgumentError(absl::StrCat(name, ": unexpected JSON: ", e.what()));
  }
  if (impl->id_to_token.empty()) return ctx.Error("model.vocab", "the vocabulary is empty");
  return std::unique_ptr<HfTokenizer>(new HfTokenizer(std::move(impl)));
}

int32_t HfTokenizer::vocab_size() const {
  return static_cast<int32_t>(impl_->id_to_token.size());
}
int32_t HfTokenizer::bos_id() const {
  return impl_->bos;
}
int32_t HfTokenizer::eos_id() const {
  return impl_->eos;
}
int32_t HfTokenizer::TokenId(std::string_view token) const {
  return impl_->TokenId(token);
}
std::string_view HfTokenizer::TokenString(int32_t id) const {
  if (id < 0 || id >= vocab_size()) return {};
  return impl_->id_to_token[id];
}

// BPE on one pre-tokenized word: characters (or byte tokens, or unk), then merges by rank.
void HfTokenizer::Impl::BpeWord(std::string_view word, std::vector<int32_t>* out) const {
  if (ignore_merges) {
    if (auto it = vocab.find(word); it != vocab.end()) {
      out->push_back(it->second);
      return;
    }
  }
  std::vector<int32_t> ids;
  ids.reserve(word.size());
  // As Hugging Face does: an unknown character's <unk> waits until the next character found
  // in the vocabulary (byte-fallback tokens go before it), and with fuse_unk one <unk> stands
  // for a run of unknown characters.
  bool pending_unk = false;
  std::string key;
  for (size_t i = 0; i < word.size();) {
    const size_t len = Utf8CharLength(word, i);
    key.clear();
    if (i > 0) key.append(subword_prefix);
    key.append(word.substr(i, len));
    if (i + len == word.size()) key.append(word_suffix);
    if (auto it = vocab.find(key); it != vocab.end()) {
      if (pending_unk) ids.push_back(unk_id);
      pending_unk = false;
      ids.push_back(it->second);
    } else if (byte_fallback && std::all_of(word.begin() + i, word.begin() + i + len, [&](char c) {
                 return byte_ids[static_cast<uint8_t>(c)] >= 0;
               })) {
      for (size_t k = i; k < i + len; ++k) ids.push_back(byte_ids[static_cast<uint8_t>(word[k])]);
    } else if (unk_id >= 0) {
      if (pending_unk && !fuse_unk) ids.push_back(unk_id);
      pending_unk = true;
    }  // else: dropped, as Hugging Face does without an unk token
    i += len;
  }
  if (pending_unk) ids.push_back(unk_id);
  internal::BpeMerge(ids, [&](int32_t left, int32_t right, double* priority, int32_t* merged) {
    auto it = merges.find((static_cast<uint64_t>(left) << 32) | uint32_t(right));
    if (it == merges.end()) return false;
    *priority = -static_cast<double>(it->second.first);  // lowest rank first
    *merged = it->second.second;
    return true;
  });
  out->insert(out->end(), ids.begin(), ids.end());
}

void HfTokenizer::Impl::EncodeWord(std::string_view word, std::vector<int32_t>* out) const {
  if (word.size() > kMaxCachedWordBytes) return BpeWord(word, out);
  {
    std::lock_guard<std::mutex> lock(mu);
    if (auto it = cache.find(word); it != cache.end()) {
      out->insert(out->end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> ids;
  BpeWord(word, &ids);
  out->insert(out->end(), ids.begin(), ids.end());
  std::lock_guard<std::mutex> lock(mu);
  if (cache.size() >= kMaxCacheEntries) cache.clear();
  cache.emplace(std::string(word), std::move(ids));
}

// Normalizes and pre-tokenizes one stretch of text between added tokens, then runs BPE on
// each word. `first` when the stretch starts the input (Metaspace's prepend_scheme "first").
void HfTokenizer::Impl::EncodeSegment(std::string_view text, bool first,
                                      std::vector<int32_t>* out) const {
  std::string s = hf_internal::Normalize(normalizer, std::string(text));
  if (s.empty()) return;
  for (const std::string& word : hf_internal::PreTokenize(pre_tokenizer, std::move(s), first)) {
    EncodeWord(word, out);
  }
}

std::vector<int32_t> HfTokenizer::Encode(std::string_view text, bool add_bos) const {
  const Impl& m = *impl_;
  std::vector<int32_t> out;
  if (add_bos && m.bos >= 0) out.push_back(m.bos);
  // Splits on added tokens (leftmost, then longest), encoding the text between them.
  size_t segment = 0;
  for (size_t i = 0; i < text.size();) {
    const AddedToken* found = nullptr;
    for (int32_t k : m.added_by_byte[static_cast<uint8_t>(text[i])]) {
      const AddedToken& t = m.added[k];
      if (text.compare(i, t.content.size(), t.content) != 0) continue;
      const size_t end = i + t.content.size();
      if (t.single_word && (hf_internal::EndsWithWordChar(text.substr(0, i)) ||
                            hf_internal::StartsWithWordChar(text.substr(end)))) {
        continue;
      }
      found = &t;
      break;
    }
    if (found == nullptr) {
      ++i;
      continue;
    }
    size_t start = i, end = i + found->content.size();
    if (found->lstrip)
      start -= hf_internal::TrailingSpaceBytes(text.substr(segment, start - segment));
    if (found->rstrip) end += hf_internal::LeadingSpaceBytes(text.substr(end));
    if (start > segment) m.EncodeSegment(text.substr(segment, start - segment), segment == 0, &out);
    out.push_back(found->id);
    segment = i = end;
  }
  if (segment < text.size()) m.EncodeSegment(text.substr(segment), segment == 0, &out);
  return out;
}

absl::StatusOr<std::string> HfTokenizer::Decode(std::span<const int32_t> ids) const {
  const Impl& m = *impl_;
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    const int32_t id = ids[i];
    if (id < 0 || id >= vocab_size()) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: token id %d at position %d is outside the vocabulary [0, %d)",
                          m.name, id, i, vocab_size()));
    }
    if (!m.has_token[id]) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: token id %d at position %d has no token in the vocabulary", m.name, id, i));
    }
    if (!m.skip_decode[id]) tokens.push_back(m.id_to_token[id]);
  }
  if (!m.has_decoder) {  // Hugging Face joins the tokens with spaces when there is no decoder
    std::string out;
    for (size_t i = 0; i < tokens.size(); ++i) absl::StrAppend(&out, i ? " " : "", tokens[i]);
    return out;
  }
  return hf_internal::DecodeTokens(m.decoder, std::move(tokens));
}

}  // namespace squeeze
