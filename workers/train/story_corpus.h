// The default training corpus: simple English stories made by a seeded generator (characters,
// animals, objects and places slotted into story arcs with a beginning, a problem and an
// ending), so that training needs no download and gives the same text on every machine.
#pragma once

#include <cstdint>
#include <string>

namespace squeeze {

struct StoryCorpusOptions {
  uint64_t seed = 1;
  int64_t train_bytes = 4 << 20;  // stories are added until the split reaches this size
  int64_t valid_bytes = 200 << 10;
};

struct StoryCorpus {
  std::string train;  // stories separated by a blank line
  std::string valid;  // held out: drawn from an independent random stream
};

// Generates `min_bytes` or a little more of stories from `seed` (the same text for the same
// arguments, everywhere). Each story is a few short paragraphs-worth of sentences on one line
// group, and stories are separated by a blank line.
std::string GenerateStories(uint64_t seed, int64_t min_bytes);

// The training and validation splits (validation from seed ^ a fixed constant).
StoryCorpus MakeStoryCorpus(const StoryCorpusOptions& opts = {});

}  // namespace squeeze
