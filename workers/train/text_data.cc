// Held-out splits and the unigram baseline.
#include "train/text_data.h"

#include <algorithm>
#include <cmath>

namespace squeeze {

TextSplit SplitText(const std::string& text, double valid_fraction) {
  size_t cut = text.size() - size_t(double(text.size()) * std::clamp(valid_fraction, 0.0, 1.0));
  const size_t nl = text.find('\n', cut);
  cut = nl == std::string::npos ? text.size() : nl + 1;
  return {text.substr(0, cut), text.substr(cut)};
}

double UnigramPerplexity(const std::vector<int32_t>& train, const std::vector<int32_t>& valid,
                         int32_t vocab) {
  std::vector<double> count(size_t(vocab), 1.0);  // add-one
  for (int32_t t : train) count[size_t(t)] += 1.0;
  const double total = double(train.size()) + double(vocab);
  double nll = 0;
  for (int32_t t : valid) nll -= std::log(count[size_t(t)] / total);
  return valid.empty() ? 0.0 : std::exp(nll / double(valid.size()));
}

}  // namespace squeeze
