// Byte-level BPE training. Words come from the same pre-tokenizer code the loader runs on the
// tokenizer.json written here (its JSON is parsed by tokenizer_hf_pipeline), so training and
// encoding split text identically. Merges: the most frequent adjacent pair (ties: the pair
// whose merged token is made of the earliest ids), counted over unique words weighted by
// their frequency and updated incrementally in the words that contain the merged pair.
#include "train/bpe_trainer.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "model/tokenizer_hf_pipeline.h"

namespace squeeze {
namespace {

using nlohmann::json;

const json& PreTokenizerJson() {
  static const json* j = new json{{"type", "ByteLevel"},
                                  {"add_prefix_space", false},
                                  {"trim_offsets", true},
                                  {"use_regex", true}};
  return *j;
}

// Splits a byte-level word into its characters (1 or 2 UTF-8 bytes each).
std::vector<std::string> Chars(const std::string& w) {
  std::vector<std::string> out;
  for (size_t i = 0; i < w.size();) {
    const unsigned char c = static_cast<unsigned char>(w[i]);
    const size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
    out.push_back(w.substr(i, len));
    i += len;
  }
  return out;
}

uint64_t PairKey(int32_t a, int32_t b) {
  return (uint64_t(uint32_t(a)) << 32) | uint32_t(b);
}

struct Word {
  std::vector<int32_t> syms;
  int64_t count;
};

class Trainer {
 public:
  Trainer(std::vector<std::string> tokens, std::unordered_map<std::string, int32_t> ids)
      : tokens_(std::move(tokens)), ids_(std::move(ids)) {}

  void AddWord(const std::string& byte_level_word, int64_t count) {
    Word w{{}, count};
    for (const std::string& ch : Chars(byte_level_word)) w.syms.push_back(ids_.at(ch));
    words_.push_back(std::move(w));
  }

  void CountPairs() {
    for (size_t wi = 0; wi < words_.size(); ++wi) AddPairs(int32_t(wi), +1);
  }

  // Runs merges until the vocabulary has `vocab` tokens or no pair reaches min_frequency.
  void Merge(int32_t vocab, int64_t min_frequency) {
    std::vector<int32_t> stamp(words_.size(), -1);
    while (int32_t(tokens_.size()) < vocab) {
      uint64_t best = 0;
      int64_t best_count = 0;
      for (const auto& [key, count] : pair_count_) {
        if (count > best_count || (count == best_count && count > 0 && key < best)) {
          best = key, best_count = count;
        }
      }
      if (best_count < min_frequency || best_count == 0) break;
      const int32_t a = int32_t(best >> 32), b = int32_t(uint32_t(best));
      const int32_t merged = int32_t(tokens_.size());
      tokens_.push_back(tokens_[a] + tokens_[b]);
      merges_.push_back(tokens_[a] + " " + tokens_[b]);
      const std::vector<int32_t> where = std::move(pair_words_[best]);
      pair_words_.erase(best);
      for (int32_t wi : where) {
        if (stamp[wi] == merged) continue;  // listed twice
        stamp[wi] = merged;
        Word& w = words_[wi];
        bool has = false;
        for (size_t i = 0; i + 1 < w.syms.size() && !has; ++i)
          has = w.syms[i] == a && w.syms[i + 1] == b;
        if (!has) continue;  // stale entry
        AddPairs(wi, -1);
        std::vector<int32_t> out;
        out.reserve(w.syms.size());
        for (size_t i = 0; i < w.syms.size(); ++i) {
          if (i + 1 < w.syms.size() && w.syms[i] == a && w.syms[i + 1] == b) {
            out.push_back(merged);
            ++i;
          } else {
            out.push_back(w.syms[i]);
          }
        }
        w.syms = std::move(out);
        AddPairs(wi, +1);
      }
      pair_count_.erase(best);
    }
  }

  const std::vector<std::string>& tokens() const { return tokens_; }
  const std::vector<std::string>& merges() const { return merges_; }

 private:
  void AddPairs(int32_t wi, int sign) {
    const Word& w = words_[wi];
    for (size_t i = 0; i + 1 < w.syms.size(); ++i) {
      const uint64_t key = PairKey(w.syms[i], w.syms[i + 1]);
      if (sign > 0) {
        pair_count_[key] += w.count;
        pair_words_[key].push_back(wi);
      } else if ((pair_count_[key] -= w.count) == 0) {
        pair_count_.erase(key);  // keeps the scan for the best pair short
      }
    }
  }

  std::vector<std::string> tokens_;  // by id
  std::unordered_map<std::string, int32_t> ids_;
  std::vector<std::string> merges_;
  std::vector<Word> words_;
  std::unordered_map<uint64_t, int64_t> pair_count_;
  std::unordered_map<uint64_t, std::vector<int32_t>> pair_words_;  // may hold stale entries
};

json TokenizerJson(const std::vector<std::string>& tokens, const std::vector<std::string>& merges) {
  json vocab = json::object();
  for (size_t i = 0; i < tokens.size(); ++i) vocab[tokens[i]] = i;
  auto special = [](int32_t id, const char* content) {
    return json{{"id", id},        {"content", content},  {"single_word", false}, {"lstrip", false},
                {"rstrip", false}, {"normalized", false}, {"special", true}};
  };
  json post = {
      {"type", "TemplateProcessing"},
      {"single", json::array({json{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
                              json{{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
      {"pair", json::array({json{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
                            json{{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                            json{{"SpecialToken", {{"id", "<s>"}, {"type_id", 1}}}},
                            json{{"Sequence", {{"id", "B"}, {"type_id", 1}}}}})},
      {"special_tokens",
       {{"<s>", {{"id", "<s>"}, {"ids", json::array({kTrainBosId})}, {"tokens", {"<s>"}}}}}}};
  return json{
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", json::array({special(kTrainBosId, "<s>"), special(kTrainEosId, "</s>")})},
      {"normalizer", nullptr},
      {"pre_tokenizer", PreTokenizerJson()},
      {"post_processor", post},
      {"decoder",
       {{"type", "ByteLevel"},
        {"add_prefix_space", true},
        {"trim_offsets", true},
        {"use_regex", true}}},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", nullptr},
        {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr},
        {"fuse_unk", false},
        {"byte_fallback", false},
        {"ignore_merges", false},
        {"vocab", vocab},
        {"merges", merges}}}};
}

}  // namespace

absl::StatusOr<TrainedTokenizer> TrainByteLevelBpe(std::string_view text,
                                                   const BpeTrainerOptions& opts) {
  if (opts.vocab_size < kByteLevelVocab) {
    return absl::InvalidArgumentError(absl::StrCat("BPE vocabulary of ", opts.vocab_size,
                                                   " tokens is below the ", kByteLevelVocab,
                                                   " special and byte tokens"));
  }
  // The initial alphabet: the special tokens, then every byte's byte-level character.
  std::vector<std::string> tokens = {"<s>", "</s>"};
  std::unordered_map<std::string, int32_t> ids;
  for (int b = 0; b < 256; ++b) {
    const char byte = char(b);
    tokens.push_back(hf_internal::ByteLevelEncode(std::string_view(&byte, 1)));
    ids[tokens.back()] = int32_t(tokens.size() - 1);
  }
  Trainer trainer(std::move(tokens), std::move(ids));
  if (opts.vocab_size > kByteLevelVocab && !text.empty()) {
    hf_internal::JsonReader reader{"bpe-trainer"};
    std::vector<hf_internal::PreStep> steps;
    absl::Status s =
        hf_internal::ParsePreTokenizer(reader, PreTokenizerJson(), "pre_tokenizer", &steps);
    if (!s.ok()) return s;
    // Word counts, then words in a fixed order (sorted) so the result never depends on hashing.
    std::unordered_map<std::string, int64_t> counts;
    constexpr size_t kChunk = 1 << 20;  // pre-tokenize by lines in chunks of about 1 MB
    for (size_t at = 0; at < text.size();) {
      size_t end = std::min(text.size(), at + kChunk);
      const size_t nl = text.find('\n', end);
      end = nl == std::string_view::npos ? text.size() : nl + 1;
      for (std::string& w :
           hf_internal::PreTokenize(steps, std::string(text.substr(at, end - at)), at == 0)) {
        ++counts[w];
      }
      at = end;
    }
    std::vector<std::pair<std::string, int64_t>> sorted(counts.begin(), counts.end());
    std::sort(sorted.begin(), sorted.end());
    for (const auto& [w, n] : sorted) trainer.AddWord(w, n);
    trainer.CountPairs();
    trainer.Merge(opts.vocab_size, std::max<int64_t>(1, opts.min_frequency));
  }
  TrainedTokenizer out;
  out.vocab_size = int32_t(trainer.tokens().size());
  out.merges = int32_t(trainer.merges().size());
  out.json = TokenizerJson(trainer.tokens(), trainer.merges()).dump(1);
  return out;
}

}  // namespace squeeze
