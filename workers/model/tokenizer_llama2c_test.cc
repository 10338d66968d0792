// Tests of the llama2.c tokenizer (against a naive score-merge encoder written here), the
// shared BPE merge loop, LoadTokenizer and FindTokenizerFor.
#include "model/tokenizer_llama2c.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "model/tokenizer.h"
#include "testutil/assets.h"

namespace squeeze {
namespace {

constexpr char kTok512[] = "models/stories260K/tok512.bin";
constexpr char kValidText[] = "text/tinystories-valid-100.noeot.txt";

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void WriteAll(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f << bytes;
}

void AppendI32(std::string* s, int32_t v) {
  s->append(reinterpret_cast<const char*>(&v), 4);
}
void AppendF32(std::string* s, float v) {
  s->append(reinterpret_cast<const char*>(&v), 4);
}

// A tokenizer.bin image from (piece, score) entries.
std::string MakeTokenizerBin(const std::vector<std::pair<std::string, float>>& entries,
                             int32_t max_len = 16) {
  std::string s;
  AppendI32(&s, max_len);
  for (const auto& [piece, score] : entries) {
    AppendF32(&s, score);
    AppendI32(&s, static_cast<int32_t>(piece.size()));
    s += piece;
  }
  return s;
}

// The reference: tokenizer.bin parsed here, and llama2.c's encoder written the slow, obvious way
// (valid UTF-8 input only).
struct RefVocab {
  std::vector<std::string> pieces;
  std::vector<float> scores;
  std::map<std::string, int> ids;
};

RefVocab ParseRef(const std::string& bytes) {
  RefVocab v;
  size_t off = 4;
  while (off + 8 <= bytes.size()) {
    float score;
    int32_t len;
    std::memcpy(&score, bytes.data() + off, 4);
    std::memcpy(&len, bytes.data() + off + 4, 4);
    off += 8;
    v.pieces.push_back(bytes.substr(off, len));
    v.scores.push_back(score);
    off += len;
  }
  for (int i = static_cast<int>(v.pieces.size()) - 1; i >= 0; --i) v.ids[v.pieces[i]] = i;
  return v;
}

std::vector<int32_t> NaiveEncode(const RefVocab& v, const std::string& text) {
  std::vector<int32_t> ids;
  if (text.empty()) return ids;
  const std::string s = " " + text;
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = s[i];
    const size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    auto it = v.ids.find(s.substr(i, len));
    if (it != v.ids.end()) {
      ids.push_back(it->second);
    } else {
      for (size_t k = i; k < i + len; ++k) {
        char name[8];
        std::snprintf(name, sizeof(name), "<0x%02X>", static_cast<unsigned char>(s[k]));
        ids.push_back(v.ids.at(name));
      }
    }
    i += len;
  }
  while (true) {
    float best = -1e30f;
    int best_i = -1, best_id = -1;
    for (size_t i = 0; i + 1 < ids.size(); ++i) {
      auto it = v.ids.find(v.pieces[ids[i]] + v.pieces[ids[i + 1]]);
      if (it != v.ids.end() && v.scores[it->second] > best) {
        best = v.scores[it->second];
        best_i = static_cast<int>(i);
        best_id = it->second;
      }
    }
    if (best_i < 0) break;
    ids[best_i] = best_id;
    ids.erase(ids.begin() + best_i + 1);
  }
  return ids;
}

TEST(Llama2cTokenizerTest, RealTok512Basics) {
  SQUEEZE_REQUIRE_ASSET(path, kTok512);
  auto tok = Llama2cTokenizer::Load(path);
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->vocab_size(), 512);
  EXPECT_EQ((*tok)->bos_id(), 1);
  EXPECT_EQ((*tok)->eos_id(), 2);
  EXPECT_EQ((*tok)->kind(), "llama2c");
  EXPECT_EQ((*tok)->Encode("", true), std::vector<int32_t>{1});
  EXPECT_TRUE((*tok)->Encode("", false).empty());
  // llama2.c vocabularies keep the byte tokens at 3..258.
  EXPECT_EQ((*tok)->piece(3 + 0x41), "<0x41>");
}

TEST(Llama2cTokenizerTest, KnownSentenceMatchesNaiveScoreMerge) {
  SQUEEZE_REQUIRE_ASSET(path, kTok512);
  auto tok = Llama2cTokenizer::Load(path);
  ASSERT_TRUE(tok.ok()) << tok.status();
  const RefVocab ref = ParseRef(ReadAll(path));
  const std::string sentence = "Once upon a time, there was a little girl named Lily.";
  std::vector<int32_t> expected = {1};
  for (int32_t id : NaiveEncode(ref, sentence)) expected.push_back(id);
  const std::vector<int32_t> got = (*tok)->Encode(sentence, true);
  EXPECT_EQ(got, expected);
  // Merging must shorten it a lot from ~54 characters, and the pieces spell the sentence.
  EXPECT_LT(got.size(), 25u);
  std::string joined;
  for (size_t i = 1; i < got.size(); ++i) joined += ref.pieces[got[i]];
  EXPECT_EQ(joined, " " + sentence);
  auto text = (*tok)->Decode(got);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, sentence);
}

TEST(Llama2cTokenizerTest, ValidationTextRoundTrips) {
  SQUEEZE_REQUIRE_ASSET(path, kTok512);
  SQUEEZE_REQUIRE_ASSET(text_path, kValidText);
  auto tok = Llama2cTokenizer::Load(path);
  ASSERT_TRUE(tok.ok()) << tok.status();
  const std::string text = ReadAll(text_path);
  ASSERT_GT(text.size(), 80000u);
  const std::vector<int32_t> ids = (*tok)->Encode(text, true);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids[0], 1);
  EXPECT_LT(ids.size(), text.size() / 2);  // a 512-token BPE still compresses English well
  auto back = (*tok)->Decode(ids);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, text);
  // The same ids as the naive encoder on the first story paragraphs (the naive one is
  // quadratic, so only a prefix).
  const RefVocab ref = ParseRef(ReadAll(path));
  const std::string prefix = text.substr(0, text.find('\n', 2000));
  std::vector<int32_t> expected = NaiveEncode(ref, prefix);
  expected.insert(expected.begin(), 1);
  EXPECT_EQ((*tok)->Encode(prefix, true), expected);
}

TEST(Llama2cTokenizerTest, HeapMergeEqualsNaiveOnRandomStrings) {
  SQUEEZE_REQUIRE_ASSET(path, kTok512);
  auto tok = Llama2cTokenizer::Load(path);
  ASSERT_TRUE(tok.ok()) << tok.status();
  const RefVocab ref = ParseRef(ReadAll(path));
  const std::vector<std::string> alphabet = {
      "a",  "b",  "e",    "t",   "h",   "o", "n", " ", "  ",
      "\n", ",",  ".",    "the", "The", "é", "€", "ж", "\xF0\x9F\x98\x80",
      "1",  "22", "Lily", "ing", "ed",  "!", "'s"};
  std::mt19937 rng(1234);
  for (int iter = 0; iter < 400; ++iter) {
    std::string s;
    const int n = std::uniform_int_distribution<int>(0, 60)(rng);
    for (int i = 0; i < n; ++i) {
      s += alphabet[std::uniform_int_distribution<size_t>(0, alphabet.size() - 1)(rng)];
    }
    ASSERT_EQ((*tok)->Encode(s, false), NaiveEncode(ref, s)) << "text: \"" << s << "\"";
  }
}

TEST(Llama2cTokenizerTest, InvalidUtf8GoesThroughByteFallback) {
  SQUEEZE_REQUIRE_ASSET(path, kTok512);
  auto tok = Llama2cTokenizer::Load(path);
  ASSERT_TRUE(tok.ok()) << tok.status();
  const int32_t space = (*tok)->Find(" ");
  ASSERT_GE(space, 0);
  // A lone 0xFF and a truncated 3-byte sequence: each byte is its own byte token (3 + byte).
  EXPECT_EQ((*tok)->Encode("\xFF", false), (std::vector<int32_t>{space, 3 + 0xFF}));
  EXPECT_EQ((*tok)->Encode("\xE2\x82", false), (std::vector<int32_t>{space, 3 + 0xE2, 3 + 0x82}));
  auto back = (*tok)->Decode((*tok)->Encode("x\xFFy\xE2\x82", true));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, "x\xFFy\xE2\x82");
}

// A hand-made vocabulary: expected ids worked out by hand from the scores.
TEST(Llama2cTokenizerTest, SmallVocabByHand) {
  std::vector<std::pair<std::string, float>> entries = {
      {"<unk>", 0}, {"\n<s>\n", 0}, {"\n</s>\n", 0}};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    entries.push_back({name, 0});
  }
  // ids 259...
  const std::vector<std::pair<std::string, float>> pieces = {
      {" ", -1}, {"a", -2}, {"b", -3}, {"ab", -10}, {"ba", -5}, {" a", -20}, {"aba", -1},
  };
  entries.insert(entries.end(), pieces.begin(), pieces.end());
  const int32_t kSp = 259, kA = 260, kB = 261, kAB = 262, kBA = 263, kSpA = 264, kABA = 265;
  const std::string dir = testing::TempDir("llama2c_small");
  WriteAll(dir + "/tok.bin", MakeTokenizerBin(entries));
  auto tok = Llama2cTokenizer::Load(dir + "/tok.bin");
  ASSERT_TRUE(tok.ok()) << tok.status();
  // " ab": pairs " a"(-20), "ab"(-10) -> "ab" first; then " "+"ab" is not a piece.
  EXPECT_EQ((*tok)->Encode("ab", false), (std::vector<int32_t>{kSp, kAB}));
  // " aba": " a"(-20) "ab"(-10) "ba"(-5) -> "ba": [" ", "a", "ba"]; then "aba"(-1) from
  // "a"+"ba": [" ", "aba"].
  EXPECT_EQ((*tok)->Encode("aba", false), (std::vector<int32_t>{kSp, kABA}));
  // " abab": "ba"(-5) is the best pair: [" ", "a", "ba", "b"]; then "aba"(-1): [" ", "aba",
  // "b"]; "abab" is not a piece.
  EXPECT_EQ((*tok)->Encode("abab", false), (std::vector<int32_t>{kSp, kABA, kB}));
  // Ties: " baba": "ba" at positions 1 and 3 (same score): the left one merges first, then
  // the right one; "baba" is not a piece, " b" neither.
  EXPECT_EQ((*tok)->Encode("baba", false), (std::vector<int32_t>{kSp, kBA, kBA}));
  // "€" is not a piece: its three bytes.
  EXPECT_EQ((*tok)->Encode("a€", false),
            (std::vector<int32_t>{kSpA, 3 + 0xE2, 3 + 0x82, 3 + 0xAC}));
  (void)kA;
  auto text = (*tok)->Decode(std::vector<int32_t>{1, kSpA, 3 + 0xE2, 3 + 0x82, 3 + 0xAC, 2});
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "a€");
  // Without BOS the leading space stays (llama2.c only strips it right after BOS).
  text = (*tok)->Decode(std::vector<int32_t>{kSpA, kB});
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, " ab");
}

// The heap-based merge against the naive rescan loop on random symbol strings and a random
// merge table with many ties.
TEST(Llama2cTokenizerTest, BpeMergeEqualsNaiveLoop) {
  constexpr int kSymbols = 6;
  std::mt19937 rng(99);
  for (int table = 0; table < 20; ++table) {
    int mergeable[kSymbols][kSymbols], prio[kSymbols][kSymbols], result[kSymbols][kSymbols];
    for (int a = 0; a < kSymbols; ++a) {
      for (int b = 0; b < kSymbols; ++b) {
        mergeable[a][b] = std::uniform_int_distribution<int>(0, 2)(rng) != 0;
        prio[a][b] = std::uniform_int_distribution<int>(0, 2)(rng);
        result[a][b] = std::uniform_int_distribution<int>(0, kSymbols - 1)(rng);
      }
    }
    for (int iter = 0; iter < 100; ++iter) {
      std::vector<int32_t> ids(std::uniform_int_distribution<int>(0, 40)(rng));
      for (int32_t& id : ids) id = std::uniform_int_distribution<int>(0, kSymbols - 1)(rng);
      std::vector<int32_t> naive = ids;
      while (true) {
        int best_i = -1;
        for (size_t i = 0; i + 1 < naive.size(); ++i) {
          if (!mergeable[naive[i]][naive[i + 1]]) continue;
          if (best_i < 0 || prio[naive[i]][naive[i + 1]] > prio[naive[best_i]][naive[best_i + 1]]) {
            best_i = static_cast<int>(i);
          }
        }
        if (best_i < 0) break;
        naive[best_i] = result[naive[best_i]][naive[best_i + 1]];
        naive.erase(naive.begin() + best_i + 1);
      }
      std::vector<int32_t> fast = ids;
      internal::BpeMerge(fast, [&](int32_t a, int32_t b, double* priority, int32_t* merged) {
        if (!mergeable[a][b]) return false;
        *priority = prio[a][b];
        *merged = result[a][b];
        return true;
      });
      ASSERT_EQ(fast, naive) << "table " << table << " iteration " << iter;
    }
  }
}

TEST(Llama2cTokenizerTest, MalformedFilesAreErrorsNamingFileAndEntry) {
  const std::string dir = testing::TempDir("llama2c_bad");
  const std::string good = MakeTokenizerBin({{"<unk>", 0}, {"<s>", 0}, {"</s>", 0}, {"abc", -1}});
  const auto load = [&](const std::string& name, const std::string& bytes) {
    WriteAll(dir + "/" + name, bytes);
    return Llama2cTokenizer::Load(dir + "/" + name);
  };
  ASSERT_TRUE(load("good.bin", good).ok());

  auto r = load("truncated.bin", good.substr(0, good.size() - 2));  // inside "abc"
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("truncated.bin"), std::string::npos) << r.status();
  EXPECT_NE(r.status().message().find("entry 3"), std::string::npos) << r.status();

  r = load("truncated_header.bin", good.substr(0, good.size() - 7));  // inside entry 3's header
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("entry 3"), std::string::npos) << r.status();

  std::string negative = good;
  const int32_t minus_five = -5;
  std::memcpy(&negative[4 + 4], &minus_five, 4);  // entry 0's length
  r = load("negative.bin", negative);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("negative.bin"), std::string::npos) << r.status();
  EXPECT_NE(r.status().message().find("entry 0"), std::string::npos) << r.status();
  EXPECT_NE(r.status().message().find("-5"), std::string::npos) << r.status();

  std::string huge = good;
  const int32_t big = 1 << 30;
  std::memcpy(&huge[4 + 4], &big, 4);
  r = load("huge.bin", huge);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("entry 0"), std::string::npos) << r.status();

  r = load("empty.bin", "");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("empty.bin"), std::string::npos) << r.status();
  r = load("header_only.bin", good.substr(0, 4));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no entries"), std::string::npos) << r.status();

  r = Llama2cTokenizer::Load(dir + "/missing.bin");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("missing.bin"), std::string::npos) << r.status();
}

TEST(Llama2cTokenizerTest, DecodeRejectsOutOfRangeIds) {
  auto tok = Llama2cTokenizer::FromBytes(
      MakeTokenizerBin({{"<unk>", 0}, {"<s>", 0}, {"</s>", 0}, {"abc", -1}}), "mem.bin");
  ASSERT_TRUE(tok.ok()) << tok.status();
  auto r = (*tok)->Decode(std::vector<int32_t>{3, 3, 4});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("mem.bin"), std::string::npos) << r.status();
  EXPECT_NE(r.status().message().find("id 4 at position 2"), std::string::npos) << r.status();
  r = (*tok)->Decode(std::vector<int32_t>{-1});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("id -1 at position 0"), std::string::npos) << r.status();
}

TEST(FindTokenizerTest, LlamaCheckpointAndHfFolder) {
  const std::string tok_bin = MakeTokenizerBin({{"<unk>", 0}, {"<s>", 0}, {"</s>", 0}});
  // tokenizer.bin wins over tok*.bin.
  std::string dir = testing::TempDir("find_a");
  WriteAll(dir + "/model.bin", "x");
  WriteAll(dir + "/tok512.bin", tok_bin);
  WriteAll(dir + "/tokenizer.bin", tok_bin);
  auto r = FindTokenizerFor(dir + "/model.bin");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, dir + "/tokenizer.bin");

  // A single tok*.bin.
  dir = testing::TempDir("find_b");
  WriteAll(dir + "/model.bin", "x");
  WriteAll(dir + "/tok512.bin", tok_bin);
  r = FindTokenizerFor(dir + "/model.bin");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, dir + "/tok512.bin");
  auto tok = LoadTokenizer(*r);
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->kind(), "llama2c");

  // Two candidates: ambiguous.
  WriteAll(dir + "/tok4096.bin", tok_bin);
  r = FindTokenizerFor(dir + "/model.bin");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("tok4096.bin"), std::string::npos) << r.status();

  // None: the error says what was looked for.
  dir = testing::TempDir("find_c");
  WriteAll(dir + "/model.bin", "x");
  r = FindTokenizerFor(dir + "/model.bin");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("tokenizer.bin"), std::string::npos) << r.status();
  EXPECT_NE(r.status().message().find("tok*.bin"), std::string::npos) << r.status();

  // A Hugging Face folder.
  dir = testing::TempDir("find_d");
  r = FindTokenizerFor(dir);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("tokenizer.json"), std::string::npos) << r.status();
  WriteAll(dir + "/tokenizer.json",
           R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})");
  r = FindTokenizerFor(dir);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, dir + "/tokenizer.json");
  tok = LoadTokenizer(*r);
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->kind(), "hf-bpe");

  r = FindTokenizerFor(dir + "/does-not-exist.bin");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("does-not-exist.bin"), std::string::npos);
}

TEST(FindTokenizerTest, RealStories260K) {
  SQUEEZE_REQUIRE_ASSET(model, "models/stories260K/stories260K.bin");
  auto r = FindTokenizerFor(model);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NE(r->find("tok512.bin"), std::string::npos);
}

}  // namespace
}  // namespace squeeze
