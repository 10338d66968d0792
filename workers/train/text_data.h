// Text for training: a held-out split of a text file, token streams, and the unigram
// baseline (the perplexity of predicting every token from its training frequency alone).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/tokenizer.h"

namespace squeeze {

struct TextSplit {
  std::string train, valid;
};

// The last `valid_fraction` of the text (cut at a line break) is held out for validation.
TextSplit SplitText(const std::string& text, double valid_fraction);

// Perplexity on `valid` of the unigram model of `train` (add-one smoothing over vocab).
double UnigramPerplexity(const std::vector<int32_t>& train, const std::vector<int32_t>& valid,
                         int32_t vocab);

}  // namespace squeeze
