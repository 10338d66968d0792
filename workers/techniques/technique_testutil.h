// Helpers of the techniques' tests: small random models, token text and calibration sets,
// applying a spec, and KL divergence between two models on a text.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "calibration/calibration.h"
#include "measure/accuracy.h"
#include "model/model.h"
#include "techniques/technique.h"

namespace squeeze::testing {

// A 2-layer random model (dim 64, hidden 96, 4 heads, vocabulary 60, context 64) with a
// sharpened final norm.
Model SmallModel(int n_kv_heads, uint64_t seed);
// The layer matrices of m (q, k, v, o, gate, up, down of each layer, in order).
std::vector<const WeightTensor*> LayerMatrixList(const Model& m);
// n deterministic token ids in [3, 58).
std::vector<int32_t> TokenText(int n, int salt);
// 4 BOS-led sequences of 40 TokenText tokens.
CalibrationSet SmallCalibration();
// Mean KL divergence KL(base || model) per position on `text` (windows of `context`).
double MeanKld(const Model& base, const Model& model, const std::vector<int32_t>& text,
               int context);
// `spec` applied to a copy of `base` (a test failure, and the copy as far as it got, on error).
Model Applied(const Model& base, const std::string& spec, const TechniqueContext& ctx);
// The bytes of a file ("" when unreadable).
std::string ReadAll(const std::string& path);

// stories260K with calibration on the first half of tinystories-valid-100.txt (16 x 128
// tokens) and evaluation on the second half of the .noeot text (at most 8192 tokens, context
// 256), the unmodified model's log-probabilities computed once. Load() fails (a test failure)
// when something cannot be read; callers check the assets first (SQUEEZE_REQUIRE_ASSET).
class StoriesBench {
 public:
  bool Load(const std::string& model_path, const std::string& tok_path,
            const std::string& calib_path, const std::string& eval_path);
  // Mean KL divergence of the unmodified model to `spec` applied to it.
  double Kld(const std::string& spec);
  const CalibrationSet& calibration() const { return set_; }
  size_t eval_tokens() const { return text_.size(); }

 private:
  static EvalSettings Settings();
  Model base_;
  int32_t bos_ = 1;
  CalibrationSet set_;
  std::vector<int32_t> text_;
  StatsCache cache_;
  LogProbs base_lp_;
};

}  // namespace squeeze::testing
