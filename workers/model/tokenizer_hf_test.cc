// Tests of the Hugging Face tokenizer.json reader: a SentencePiece-style file built from
// tok512.bin must agree with the llama2.c tokenizer; hand-made byte-level (GPT-2, Llama 3)
// files give ids worked out by hand; malformed files give errors naming file and JSON path.
#include "model/tokenizer_hf.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <tuple>

#include "model/tokenizer_llama2c.h"
#include "testutil/assets.h"

namespace squeeze {
namespace {

using json = nlohmann::json;

constexpr char kTok512[] = "models/stories260K/tok512.bin";
constexpr char kValidText[] = "text/tinystories-valid-100.noeot.txt";
const std::string kSpm = "\xE2\x96\x81";  // "▁"

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) {
    s.replace(p, from.size(), to);
  }
  return s;
}

// ---- (2) SentencePiece-style tokenizer.json converted from tok512.bin ----

// The conversion Hugging Face applies to a SentencePiece BPE model: pieces with "▁" for the
// space, merges = every pair whose concatenation is a piece, ordered by that piece's score
// (highest first), byte fallback, and Llama 2's normalizer/decoder/post-processor.
json SentencePieceJsonFromLlama2c(const Llama2cTokenizer& tok) {
  const int n = tok.vocab_size();
  std::vector<std::string> names(n);
  for (int i = 0; i < n; ++i) names[i] = Replace(tok.piece(i), " ", kSpm);
  names[0] = "<unk>";
  names[1] = "<s>";
  names[2] = "</s>";
  json vocab = json::object();
  for (int i = 0; i < n; ++i) vocab[names[i]] = i;
  struct Merge {
    float score;
    int a, b;
  };
  std::vector<Merge> merges;
  for (int a = 3; a < n; ++a) {
    for (int b = 3; b < n; ++b) {
      const int m = tok.Find(tok.piece(a) + tok.piece(b));
      if (m > 2) merges.push_back({tok.score(m), a, b});
    }
  }
  std::stable_sort(merges.begin(), merges.end(),
                   [](const Merge& x, const Merge& y) { return x.score > y.score; });
  json merge_list = json::array();  // the [a, b] form of newer files ("a b" is tested below)
  for (const Merge& m : merges) merge_list.push_back(json::array({names[m.a], names[m.b]}));
  json added = json::array();
  for (int i = 0; i < 3; ++i) {
    added.push_back({{"id", i},
                     {"content", names[i]},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  }
  return {
      {"version", "1.0"},
      {"added_tokens", added},
      {"normalizer",
       {{"type", "Sequence"},
        {"normalizers",
         {{{"type", "Prepend"}, {"prepend", kSpm}},
          {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kSpm}}}}}},
      {"pre_tokenizer", nullptr},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single",
         {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
          {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
        {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}}},
      {"decoder",
       {{"type", "Sequence"},
        {"decoders",
         {{{"type", "Replace"}, {"pattern", {{"String", kSpm}}}, {"content", " "}},
          {{"type", "ByteFallback"}},
          {{"type", "Fuse"}},
          {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}}},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", "<unk>"},
        {"fuse_unk", true},
        {"byte_fallback", true},
        {"vocab", vocab},
        {"merges", merge_list}}},
  };
}

TEST(HfTokenizerTest, SentencePieceJsonMatchesLlama2cOnValidationText) {
  SQUEEZE_REQUIRE_ASSET(tok_path, kTok512);
  SQUEEZE_REQUIRE_ASSET(text_path, kValidText);
  auto l2c = Llama2cTokenizer::Load(tok_path);
  ASSERT_TRUE(l2c.ok()) << l2c.status();
  const std::string json_text = SentencePieceJsonFromLlama2c(**l2c).dump();
  auto hf = HfTokenizer::FromJson(json_text, "tok512-converted.json");
  ASSERT_TRUE(hf.ok()) << hf.status();
  EXPECT_EQ((*hf)->vocab_size(), 512);
  EXPECT_EQ((*hf)->bos_id(), 1);
  EXPECT_EQ((*hf)->eos_id(), 2);

  const std::string text = ReadAll(text_path);
  ASSERT_GT(text.size(), 80000u);
  const std::vector<int32_t> expected = (*l2c)->Encode(text, true);
  const std::vector<int32_t> got = (*hf)->Encode(text, true);
  ASSERT_EQ(got.size(), expected.size());
  EXPECT_EQ(got, expected);
  auto back = (*hf)->Decode(got);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, text);

  // Line by line too (each line gets its own dummy prefix in both).
  std::istringstream lines(text);
  std::string line;
  int checked = 0;
  while (std::getline(lines, line) && checked < 300) {
    ASSERT_EQ((*hf)->Encode(line, false), (*l2c)->Encode(line, false)) << line;
    ++checked;
  }
  // Characters outside the vocabulary go through the same byte tokens.
  const std::string odd = "Zoë said: “€5 — 😀!”";
  EXPECT_EQ((*hf)->Encode(odd, true), (*l2c)->Encode(odd, true));
  back = (*hf)->Decode((*hf)->Encode(odd, true));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, odd);
}

// ---- (3) byte-level (GPT-2 style) ----

// GPT-2's bytes_to_unicode, written out here independently of the code under test.
std::string ByteChar(int b) {
  int cp = b;
  if (!((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF))) {
    int n = 0;
    for (int k = 0; k < b; ++k) {
      if (!((k >= '!' && k <= '~') || (k >= 0xA1 && k <= 0xAC) || (k >= 0xAE && k <= 0xFF))) ++n;
    }
    cp = 256 + n;
  }
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

struct ByteLevelFixture {
  json vocab = json::object();
  json merges = json::array();
  int next_id = 0;
  ByteLevelFixture() {
    for (int b = 0; b < 256; ++b) vocab[ByteChar(b)] = next_id++;  // id == byte
  }
  void Merge(const std::string& a, const std::string& b) {
    merges.push_back(a + " " + b);
    if (!vocab.contains(a + b)) vocab[a + b] = next_id++;
  }
  int Id(const std::string& token) const { return vocab.at(token).get<int>(); }
};

TEST(HfTokenizerTest, ByteLevelTableSpotChecks) {
  EXPECT_EQ(ByteChar(' '), "\xC4\xA0");   // Ġ
  EXPECT_EQ(ByteChar('\n'), "\xC4\x8A");  // Ċ
  EXPECT_EQ(ByteChar('A'), "A");
  EXPECT_EQ(ByteChar(0xE9), "\xC3\xA9");  // é stays é
}

json Gpt2Json(const ByteLevelFixture& f, int eot_id) {
  return {
      {"added_tokens",
       {{{"id", eot_id}, {"content", "<|endoftext|>"}, {"special", true}, {"normalized", false}}}},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "ByteLevel"},
        {"add_prefix_space", false},
        {"trim_offsets", true},
        {"use_regex", true}}},
      {"post_processor", {{"type", "ByteLevel"}, {"trim_offsets", false}}},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model",
       {{"type", "BPE"},
        {"unk_token", nullptr},
        {"vocab", f.vocab},
        {"merges", f.merges},
        {"byte_fallback", false}}},
  };
}

TEST(HfTokenizerTest, Gpt2ByteLevelByHand) {
  const std::string G = ByteChar(' '), C = ByteChar('\n');
  ByteLevelFixture f;
  f.Merge(G, "t");                          // rank 0
  f.Merge("h", "e");                        // 1
  f.Merge(G + "t", "he");                   // 2
  f.Merge("l", "l");                        // 3
  f.Merge("ll", "o");                       // 4
  f.Merge(G, "w");                          // 5
  f.Merge("o", "r");                        // 6
  f.Merge(G + "w", "or");                   // 7
  f.Merge("'", "s");                        // 8
  f.Merge("1", "2");                        // 9
  f.Merge(ByteChar(0xC3), ByteChar(0xA9));  // 10: é is bytes C3 A9, byte-level chars Ã ©
  f.Merge(G, G);                            // 11
  f.Merge(C, C);                            // 12
  f.Merge("a", "b");                        // 13
  f.Merge("b", "c");                        // 14
  f.Merge("c", "d");                        // 15
  const int eot = f.next_id;                // the added token after the vocabulary
  auto tok = HfTokenizer::FromJson(Gpt2Json(f, eot).dump(), "gpt2.json");
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->vocab_size(), eot + 1);
  EXPECT_EQ((*tok)->bos_id(), eot);
  EXPECT_EQ((*tok)->eos_id(), eot);
  const std::string ea = ByteChar(0xC3) + ByteChar(0xA9);
  ASSERT_EQ(ea, "\xC3\x83\xC2\xA9");  // "Ã©"

  const auto ids = [&](std::vector<std::string> tokens) {
    std::vector<int32_t> out;
    for (const auto& t : tokens) out.push_back(f.Id(t));
    return out;
  };
  // "the" alone: no "t he" merge, " the" would be one token.
  EXPECT_EQ((*tok)->Encode("the", false), ids({"t", "he"}));
  EXPECT_EQ((*tok)->Encode(" the", false), ids({G + "the"}));
  // Competing merges: the lower rank wins ("a b" 13 before "b c" 14, "b c" before "c d" 15).
  EXPECT_EQ((*tok)->Encode("abc", false), ids({"ab", "c"}));
  EXPECT_EQ((*tok)->Encode("bcd", false), ids({"bc", "d"}));
  EXPECT_EQ((*tok)->Encode("abcd", false), ids({"ab", "cd"}));
  // " world": Ġw (5) then or (6) then Ġwor (7).
  EXPECT_EQ((*tok)->Encode("the world", false), ids({"t", "he", G + "wor", "l", "d"}));
  // Two spaces: the first is its own word (\s+(?!\S)); newlines before a letter are separate
  // words, so ĊĊ does not merge; contractions split off; digits keep their space; é is two
  // bytes merged by rank 10.
  EXPECT_EQ((*tok)->Encode("Hello  world\n\nIt's 123 café", false),
            ids({"H", "e",  "llo", G,    G + "wor", "l", "d", C,   C,   "I",
                 "t", "'s", G,     "12", "3",       G,   "c", "a", "f", ea}));
  // Trailing whitespace stays together: "  " before " b" and "\n\n" at the end.
  EXPECT_EQ((*tok)->Encode("a   b\n\n", false), ids({"a", G + G, G, "b", C + C}));
  // "don't": 't is a contraction with no merge.
  EXPECT_EQ((*tok)->Encode("don't", false), ids({"d", "o", "n", "'", "t"}));
  // The added token is matched before pre-tokenization; add_bos puts it first.
  std::vector<int32_t> expected = {eot};
  for (int32_t id : ids({"h", "i"})) expected.push_back(id);
  expected.push_back(eot);
  for (int32_t id : ids({"t", "he"})) expected.push_back(id);
  EXPECT_EQ((*tok)->Encode("hi<|endoftext|>the", true), expected);

  for (const std::string s : {"the world", "Hello  world\n\nIt's 123 café", "a   b\n\n",
                              "\xF0\x9F\x98\x80 \t\r\n x", "bad \xFF\xC3 utf8", ""}) {
    auto back = (*tok)->Decode((*tok)->Encode(s, true));
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, s);
  }
}

TEST(HfTokenizerTest, ByteLevelAddPrefixSpace) {
  ByteLevelFixture f;
  f.Merge(ByteChar(' '), "h");
  json j = Gpt2Json(f, f.next_id);
  j["pre_tokenizer"]["add_prefix_space"] = true;
  auto tok = HfTokenizer::FromJson(j.dump(), "prefix.json");
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->Encode("hi", false),
            (std::vector<int32_t>{f.Id(ByteChar(' ') + "h"), f.Id("i")}));
}

TEST(HfTokenizerTest, AddedTokenStripAndSingleWord) {
  ByteLevelFixture f;
  f.Merge("h", "e");
  f.Merge("l", "l");
  f.Merge("ll", "o");
  f.Merge("o", "r");
  f.Merge("\xC3\x83", "\xC2\xA9");  // Ã ©: é
  const int eot = f.next_id, bos = eot + 1, eos = eot + 2, world = eot + 3;
  json j = Gpt2Json(f, eot);
  j["added_tokens"].push_back(
      {{"id", bos}, {"content", "<s>"}, {"special", true}, {"lstrip", true}});
  j["added_tokens"].push_back(
      {{"id", eos}, {"content", "</s>"}, {"special", true}, {"rstrip", true}});
  j["added_tokens"].push_back(
      {{"id", world}, {"content", "world"}, {"special", false}, {"single_word", true}});
  auto tok = HfTokenizer::FromJson(j.dump(), "added.json");
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->bos_id(), bos);  // by name
  EXPECT_EQ((*tok)->eos_id(), eos);
  const std::string G = ByteChar(' ');
  const auto ids = [&](std::vector<std::string> tokens) {
    std::vector<int32_t> out;
    for (const auto& t : tokens)
      out.push_back(t == "<s>" ? bos : t == "</s>" ? eos : t == "world" ? world : f.Id(t));
    return out;
  };
  // lstrip takes the space before <s>; rstrip the spaces (and tab) after </s>.
  EXPECT_EQ((*tok)->Encode("a <s>b", false), ids({"a", "<s>", "b"}));
  EXPECT_EQ((*tok)->Encode("x</s> \t y", false), ids({"x", "</s>", "y"}));
  // single_word: only between non-word characters (Unicode \w: é is a word character).
  EXPECT_EQ((*tok)->Encode("world hello", false), ids({"world", G, "he", "llo"}));
  EXPECT_EQ((*tok)->Encode("worlds", false), ids({"w", "or", "l", "d", "s"}));
  EXPECT_EQ((*tok)->Encode("éworld", false), ids({"\xC3\x83\xC2\xA9", "w", "or", "l", "d"}));
  std::vector<int32_t> emoji = {0xF0, 0x9F, 0x98, 0x80, world};  // byte ids == bytes here
  EXPECT_EQ((*tok)->Encode("\xF0\x9F\x98\x80world", false), emoji);
  // A non-special added token decodes to its text; special ones to nothing.
  auto text = (*tok)->Decode(ids({"<s>", "world", "</s>", "a"}));
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "worlda");
}

// ---- (4) Llama 3 style: Split with Llama 3's regex, then ByteLevel without its regex ----

constexpr char kLlama3Pattern[] =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

TEST(HfTokenizerTest, Llama3SplitRegex) {
  // The expected pre-tokens (by hand) are whole tokens and ignore_merges is on, so each word
  // comes out as one id exactly when the split is right.
  const std::vector<std::string> words = {"I",       "'VE",    " ", "123",   "45",
                                          " apples", "!!\n\n", " ", " okÖß", "\n"};
  ByteLevelFixture f;
  const auto mapped = [](const std::string& w) {
    std::string m;
    for (unsigned char c : w) m += ByteChar(c);
    return m;
  };
  std::vector<int32_t> expected;
  for (const auto& w : words) {
    if (!f.vocab.contains(mapped(w))) f.vocab[mapped(w)] = f.next_id++;
    expected.push_back(f.Id(mapped(w)));
  }
  f.vocab["456"] = f.next_id++;
  const int bos = f.next_id + 100;  // ids may have holes
  expected.insert(expected.begin(), bos);
  json j = {
      {"added_tokens",
       {{{"id", bos}, {"content", "<|begin_of_text|>"}, {"special", true}},
        {{"id", bos + 1}, {"content", "<|end_of_text|>"}, {"special", true}}}},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Split"},
           {"pattern", {{"Regex", kLlama3Pattern}}},
           {"behavior", "Isolated"},
           {"invert", false}},
          {{"type", "ByteLevel"},
           {"add_prefix_space", false},
           {"trim_offsets", true},
           {"use_regex", false}}}}}},
      {"post_processor",
       {{"type", "Sequence"},
        {"processors",
         {{{"type", "ByteLevel"}},
          {{"type", "TemplateProcessing"},
           {"single",
            {{{"SpecialToken", {{"id", "<|begin_of_text|>"}, {"type_id", 0}}}},
             {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
           {"special_tokens",
            {{"<|begin_of_text|>",
              {{"id", "<|begin_of_text|>"},
               {"ids", {bos}},
               {"tokens", {"<|begin_of_text|>"}}}}}}}}}}},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model",
       {{"type", "BPE"}, {"ignore_merges", true}, {"vocab", f.vocab}, {"merges", json::array()}}},
  };
  auto tok = HfTokenizer::FromJson(j.dump(), "llama3.json");
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->bos_id(), bos);
  EXPECT_EQ((*tok)->eos_id(), bos + 1);  // by name: no special token after $A
  // " okÖß": the optional non-letter prefix plus letters, non-ASCII ones included.
  const std::string text = "I'VE 12345 apples!!\n\n  okÖß\n";
  EXPECT_EQ((*tok)->Encode(text, true), expected);
  auto back = (*tok)->Decode((*tok)->Encode(text, true));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, text);
  // Digits go in threes; a word not in the vocabulary falls back to its byte characters.
  EXPECT_EQ((*tok)->Encode("1234567", false),
            (std::vector<int32_t>{f.Id("123"), f.Id("456"), '7'}));
}

// ---- Metaspace pre-tokenizer and decoder (newer SentencePiece conversions) ----

TEST(HfTokenizerTest, MetaspacePrependFirst) {
  json vocab = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}};
  int id = 3;
  for (const std::string& t :
       std::vector<std::string>{kSpm, "h", "i", "x", kSpm + "h", kSpm + "hi", "hi", kSpm + "x"}) {
    vocab[t] = id++;
  }
  const int32_t sp = 3, sp_hi = 8, hi = 9, sp_x = 10;
  json merges = {kSpm + " h", kSpm + "h i", "h i", kSpm + " x"};
  json j = {
      {"added_tokens",
       {{{"id", 1}, {"content", "<s>"}, {"special", true}},
        {{"id", 2}, {"content", "</s>"}, {"special", true}}}},
      {"pre_tokenizer",
       {{"type", "Metaspace"},
        {"replacement", kSpm},
        {"prepend_scheme", "first"},
        {"split", true}}},
      {"decoder", {{"type", "Metaspace"}, {"replacement", kSpm}, {"prepend_scheme", "first"}}},
      {"model", {{"type", "BPE"}, {"unk_token", "<unk>"}, {"vocab", vocab}, {"merges", merges}}},
  };
  auto tok = HfTokenizer::FromJson(j.dump(), "metaspace.json");
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->bos_id(), 1);
  EXPECT_EQ((*tok)->eos_id(), 2);
  // The text start gets "▁"; each "▁" starts a word.
  EXPECT_EQ((*tok)->Encode("hi x", false), (std::vector<int32_t>{sp_hi, sp_x}));
  // The stretch after an added token gets no "▁" ("first"); "hi▁▁x" splits as hi|▁|▁x.
  EXPECT_EQ((*tok)->Encode("hi</s>hi  x", false), (std::vector<int32_t>{sp_hi, 2, hi, sp, sp_x}));
  // Unknown characters (no byte fallback, fuse_unk off) become <unk>, one per character.
  EXPECT_EQ((*tok)->Encode("hi?!", false), (std::vector<int32_t>{sp_hi, 0, 0}));
  auto text = (*tok)->Decode(std::vector<int32_t>{1, sp_hi, sp_x, 2});
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "hi x");
}

TEST(HfTokenizerTest, SplitBehaviors) {
  // "a-b--c" split on "-": the words are whole tokens (ignore_merges), so each behaviour's
  // grouping shows in the ids. Expected groupings worked out by hand.
  const std::vector<std::string> tokens = {"a", "b", "c", "-", "a-", "b-", "-b", "-c", "--"};
  json vocab = json::object();
  for (size_t i = 0; i < tokens.size(); ++i) vocab[tokens[i]] = i;
  const auto ids = [&](std::vector<std::string> words) {
    std::vector<int32_t> out;
    for (const auto& w : words) out.push_back(vocab.at(w).get<int32_t>());
    return out;
  };
  const std::vector<std::tuple<std::string, bool, std::vector<std::string>>> cases = {
      {"Removed", false, {"a", "b", "c"}},
      {"Isolated", false, {"a", "-", "b", "-", "-", "c"}},
      {"MergedWithPrevious", false, {"a-", "b-", "-", "c"}},
      {"MergedWithNext", false, {"a", "-b", "-", "-c"}},
      {"Contiguous", false, {"a", "-", "b", "--", "c"}},
      {"Removed", true, {"-", "-", "-"}},  // invert: the letters are the delimiters
  };
  for (const auto& [behavior, invert, words] : cases) {
    json j = {
        {"pre_tokenizer",
         {{"type", "Split"},
          {"pattern", {{"String", "-"}}},
          {"behavior", behavior},
          {"invert", invert}}},
        {"model",
         {{"type", "BPE"}, {"ignore_merges", true}, {"vocab", vocab}, {"merges", json::array()}}}};
    auto tok = HfTokenizer::FromJson(j.dump(), "split.json");
    ASSERT_TRUE(tok.ok()) << tok.status();
    EXPECT_EQ((*tok)->Encode("a-b--c", false), ids(words)) << behavior << " invert " << invert;
  }
}

// Hugging Face's order for unknown characters: the <unk> waits for the next character found in
// the vocabulary, so byte-fallback tokens come before it; fuse_unk joins unknowns across them.
TEST(HfTokenizerTest, UnknownCharactersAndByteFallbackOrder) {
  json j = {
      {"decoder",
       {{"type", "Sequence"}, {"decoders", {{{"type", "ByteFallback"}}, {{"type", "Fuse"}}}}}},
      {"model",
       {{"type", "BPE"},
        {"unk_token", "<unk>"},
        {"byte_fallback", true},
        {"fuse_unk", true},
        {"vocab", {{"<unk>", 0}, {"a", 1}, {"<0xC3>", 2}, {"<0xA9>", 3}}},
        {"merges", json::array()}}}};
  auto tok = HfTokenizer::FromJson(j.dump(), "unk.json");
  ASSERT_TRUE(tok.ok()) << tok.status();
  // é = C3 A9 has byte tokens; x and y have none.
  EXPECT_EQ((*tok)->Encode("éxa", false), (std::vector<int32_t>{2, 3, 0, 1}));
  EXPECT_EQ((*tok)->Encode("xéa", false), (std::vector<int32_t>{2, 3, 0, 1}));
  EXPECT_EQ((*tok)->Encode("xéy", false), (std::vector<int32_t>{2, 3, 0}));
  j["model"]["fuse_unk"] = false;
  tok = HfTokenizer::FromJson(j.dump(), "unk.json");
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->Encode("xéy", false), (std::vector<int32_t>{2, 3, 0, 0}));
  // Byte tokens decode to their bytes, also when they are not valid UTF-8 on their own.
  auto text = (*tok)->Decode(std::vector<int32_t>{1, 2, 3, 1, 2});
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text,
            "a\xC3\xA9"
            "a\xC3");
}

// ---- (5) malformed files ----

json MinimalJson() {
  return {{"model",
           {{"type", "BPE"}, {"vocab", {{"a", 0}, {"b", 1}, {"ab", 2}}}, {"merges", {"a b"}}}}};
}

void ExpectError(const std::string& text, std::initializer_list<const char*> parts) {
  auto r = HfTokenizer::FromJson(text, "bad/tokenizer.json");
  ASSERT_FALSE(r.ok()) << text;
  for (const char* p : parts) {
    EXPECT_NE(r.status().message().find(p), std::string::npos)
        << "expected \"" << p << "\" in: " << r.status();
  }
}

TEST(HfTokenizerTest, MalformedJsonErrorsNameFileAndPath) {
  ASSERT_TRUE(HfTokenizer::FromJson(MinimalJson().dump(), "ok.json").ok());
  const std::string good = MinimalJson().dump();
  ExpectError(good.substr(0, good.size() / 2), {"bad/tokenizer.json", "not valid JSON"});
  ExpectError("[1, 2]", {"bad/tokenizer.json", "expected an object"});
  ExpectError("{}", {"bad/tokenizer.json", "model"});

  json j = MinimalJson();
  j["model"]["type"] = "WordPiece";
  ExpectError(j.dump(), {"bad/tokenizer.json", "model.type", "WordPiece"});

  j = MinimalJson();
  j["model"]["merges"] = {"a b", "a zz"};
  ExpectError(j.dump(), {"bad/tokenizer.json", "model.merges[1]", "\"zz\""});
  j["model"]["merges"] = {"a b", json::array({"b", "a"})};  // "ba" is not in the vocabulary
  ExpectError(j.dump(), {"model.merges[1]", "\"ba\""});
  j["model"]["merges"] = {"a b", 7};
  ExpectError(j.dump(), {"model.merges[1]"});
  j["model"]["merges"] = {"ab"};
  ExpectError(j.dump(), {"model.merges[0]", "two tokens"});

  j = MinimalJson();
  j["model"]["vocab"]["c"] = -3;
  ExpectError(j.dump(), {"model.vocab[\"c\"]", "-3"});
  j["model"]["vocab"]["c"] = "three";
  ExpectError(j.dump(), {"model.vocab[\"c\"]"});

  j = MinimalJson();
  j["model"]["unk_token"] = "<unk>";
  ExpectError(j.dump(), {"model.unk_token", "<unk>"});

  j = MinimalJson();
  j["pre_tokenizer"] = {{"type", "Sequence"},
                        {"pretokenizers", {{{"type", "ByteLevel"}}, {{"type", "Bogus"}}}}};
  ExpectError(j.dump(), {"pre_tokenizer.pretokenizers[1].type", "Bogus"});
  j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}};
  ExpectError(j.dump(), {"pre_tokenizer.pattern.Regex", "regex"});
  j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", "yes"}};
  ExpectError(j.dump(), {"pre_tokenizer.add_prefix_space"});

  j = MinimalJson();
  j["normalizer"] = {{"type", "BertNormalizer"}};
  ExpectError(j.dump(), {"normalizer.type", "BertNormalizer"});
  j = MinimalJson();
  j["decoder"] = {{"type", "WordPiece"}};
  ExpectError(j.dump(), {"decoder.type", "WordPiece"});
  j = MinimalJson();
  j["added_tokens"] = {{{"content", "<s>"}}};
  ExpectError(j.dump(), {"added_tokens[0].id"});

  auto r = HfTokenizer::Load("/nonexistent/dir/tokenizer.json");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("/nonexistent/dir/tokenizer.json"), std::string::npos);
}

TEST(HfTokenizerTest, DecodeRejectsOutOfRangeIds) {
  auto tok = HfTokenizer::FromJson(MinimalJson().dump(), "min.json");
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->Encode("abba", false), (std::vector<int32_t>{2, 1, 0}));
  auto r = (*tok)->Decode(std::vector<int32_t>{0, 1, 3});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("min.json"), std::string::npos) << r.status();
  EXPECT_NE(r.status().message().find("id 3 at position 2"), std::string::npos) << r.status();
  r = (*tok)->Decode(std::vector<int32_t>{-7});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("id -7 at position 0"), std::string::npos) << r.status();
}

}  // namespace
}  // namespace squeeze
