// The BPE trainer's tokenizer.json loads in the project's Hugging Face tokenizer and
// round-trips text; the story corpus is deterministic and held out.
#include "train/bpe_trainer.h"

#include <gtest/gtest.h>

#include "model/tokenizer_hf.h"
#include "train/story_corpus.h"
#include "train/text_data.h"

namespace squeeze {
namespace {

std::unique_ptr<HfTokenizer> Load(const TrainedTokenizer& t) {
  auto tok = HfTokenizer::FromJson(t.json, "trained tokenizer.json");
  EXPECT_TRUE(tok.ok()) << tok.status();
  return tok.ok() ? *std::move(tok) : nullptr;
}

void ExpectRoundTrip(const HfTokenizer& tok, const std::string& text) {
  const std::vector<int32_t> ids = tok.Encode(text, /*add_bos=*/true);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids[0], kTrainBosId);
  for (int32_t id : ids) ASSERT_LT(id, tok.vocab_size());
  absl::StatusOr<std::string> back = tok.Decode(ids);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, text);
}

TEST(StoryCorpusTest, DeterministicSizedAndHeldOut) {
  const std::string a = GenerateStories(7, 50000), b = GenerateStories(7, 50000);
  EXPECT_EQ(a, b);
  EXPECT_GE(a.size(), 50000u);
  EXPECT_LT(a.size(), 52000u);
  EXPECT_NE(a, GenerateStories(8, 50000));
  EXPECT_NE(a.find("Once upon a time, there was a"), std::string::npos);
  EXPECT_NE(a.find("\n\n"), std::string::npos);  // stories are separated by blank lines
  StoryCorpusOptions o;
  o.train_bytes = 20000, o.valid_bytes = 5000;
  const StoryCorpus c = MakeStoryCorpus(o);
  EXPECT_GE(c.valid.size(), 5000u);
  EXPECT_EQ(c.train.find(c.valid.substr(0, 400)), std::string::npos);  // not a copy
}

TEST(BpeTrainerTest, TrainedTokenizerLoadsAndRoundTrips) {
  const std::string text = GenerateStories(1, 100000);
  BpeTrainerOptions o;
  o.vocab_size = 500;
  absl::StatusOr<TrainedTokenizer> t = TrainByteLevelBpe(text, o);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->vocab_size, 500);
  EXPECT_EQ(t->merges, 500 - kByteLevelVocab);
  std::unique_ptr<HfTokenizer> tok = Load(*t);
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->vocab_size(), 500);
  EXPECT_EQ(tok->bos_id(), kTrainBosId);
  EXPECT_EQ(tok->eos_id(), kTrainEosId);
  ExpectRoundTrip(*tok, text.substr(0, 3000));
  ExpectRoundTrip(*tok, "Ünïcödé, tabs\tand\nnewlines; bytes \xff\xfe and digits 12345!");
  // 242 merges compress the text they were learned on to under half a token per byte (0.39
  // measured; bytes alone would be 1).
  const std::vector<int32_t> ids = tok->Encode(text, false);
  EXPECT_LT(double(ids.size()), 0.45 * double(text.size())) << ids.size();
  // Deterministic.
  absl::StatusOr<TrainedTokenizer> again = TrainByteLevelBpe(text, o);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->json, t->json);
}

TEST(BpeTrainerTest, ByteLevelTokenizerHasOneTokenPerByte) {
  BpeTrainerOptions o;
  o.vocab_size = kByteLevelVocab;
  absl::StatusOr<TrainedTokenizer> t = TrainByteLevelBpe("ignored", o);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->merges, 0);
  std::unique_ptr<HfTokenizer> tok = Load(*t);
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->vocab_size(), kByteLevelVocab);
  std::string all;
  for (int b = 1; b < 256; ++b) all.push_back(char(b));
  EXPECT_EQ(tok->Encode(all, false).size(), all.size());
  ExpectRoundTrip(*tok, all);
}

TEST(BpeTrainerTest, RejectsTooSmallVocabulary) {
  BpeTrainerOptions o;
  o.vocab_size = 100;
  EXPECT_FALSE(TrainByteLevelBpe("text", o).ok());
}

TEST(TextDataTest, SplitAtLineAndUnigramBaseline) {
  const TextSplit s = SplitText("aaaa\nbbbb\ncccc\ndddd\n", 0.3);
  EXPECT_EQ(s.train + s.valid, "aaaa\nbbbb\ncccc\ndddd\n");
  EXPECT_EQ(s.valid, "dddd\n");
  // Uniform train over 2 of 4 tokens, add-one: p = 3/8 for the seen tokens.
  EXPECT_NEAR(UnigramPerplexity({0, 1, 0, 1}, {0, 1}, 4), 8.0 / 3.0, 1e-12);
}

}  // namespace
}  // namespace squeeze
