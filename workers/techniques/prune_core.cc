// Pruning patterns, score-based removal, SparseGPT and storage of pruned matrices
// (techniques/prune.h).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "techniques/prune.h"

namespace squeeze {
namespace {

constexpr int64_t kBlock = 128;   // SparseGPT columns per block (a multiple of every m)
constexpr int64_t kRowTile = 16;  // rows pruned together

// Zeroes the `k` lowest-scoring of the n weights w[i * stride], i < n (ties: lower i first).
void ZeroLowest(float* w, const float* score, int64_t n, int64_t stride, int64_t k,
                std::vector<int64_t>& order) {
  if (k <= 0) return;
  order.resize(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return score[a * stride] < score[b * stride]; });
  for (int64_t i = 0; i < k && i < n; ++i) w[order[i] * stride] = 0.0f;
}

// The removed count of columns [c0, c1) of a row under an unstructured pattern, so that the
// blocks of a row add up to RemovedPerRow exactly.
int64_t RemovedIn(const PrunePattern& p, int64_t c0, int64_t c1) {
  return std::llround(p.sparsity * double(c1)) - std::llround(p.sparsity * double(c0));
}

// Rows [r0, r1) of w; see SparseGptPrune.
void SparseGptRows(float* w, int64_t r0, int64_t r1, const GptqHessian& hs, const PrunePattern& p) {
  const int64_t cols = hs.cols;
  const float* u = hs.u.data();
  std::vector<uint8_t> removed((r1 - r0) * kBlock);
  std::vector<float> err((r1 - r0) * kBlock), score(kBlock), marks(kBlock);
  std::vector<int64_t> order;
  for (int64_t b0 = 0; b0 < cols; b0 += kBlock) {
    const int64_t b1 = std::min(cols, b0 + kBlock);
    std::fill(removed.begin(), removed.end(), 0);
    for (int64_t c = b0; c < b1; ++c) {
      // Choose the weights to remove when a selection window starts: the block
      // (unstructured) or a group of m (N:M), scored on the weights as updated so far.
      const bool window = p.nm() ? (c - b0) % p.m == 0 : c == b0;
      const int64_t wlen = p.nm() ? std::min<int64_t>(p.m, b1 - c) : b1 - b0;
      for (int64_t r = r0; r < r1; ++r) {
        float* row = w + r * cols;
        uint8_t* rm = removed.data() + (r - r0) * kBlock;
        if (window) {
          const int64_t k = p.nm() ? std::max<int64_t>(0, wlen - p.n) : RemovedIn(p, b0, b1);
          for (int64_t i = 0; i < wlen; ++i) {
            const float d = u[(c + i) * cols + (c + i)];
            score[i] = row[c + i] * row[c + i] / (d * d);
          }
          std::fill(marks.begin(), marks.begin() + wlen, 1.0f);
          ZeroLowest(marks.data(), score.data(), wlen, 1, k, order);
          for (int64_t i = 0; i < wlen; ++i) rm[c - b0 + i] = marks[i] == 0.0f;
        }
        const float v = rm[c - b0] ? 0.0f : row[c];
        const float e = (row[c] - v) / u[c * cols + c];
        row[c] = v;
        err[(r - r0) * kBlock + (c - b0)] = e;
        if (e == 0.0f) continue;
        const float* uc = u + c * cols;
        for (int64_t j = c + 1; j < b1; ++j) row[j] -= e * uc[j];
      }
    }
    if (b1 == cols) break;
    // Lazy update of the columns after the block: W[:, b1:] -= E · U[b0:b1, b1:].
    for (int64_t r = r0; r < r1; ++r) {
      float* row = w + r * cols;
      for (int64_t k = 0; k < b1 - b0; ++k) {
        const float e = err[(r - r0) * kBlock + k];
        if (e == 0.0f) continue;
        const float* uk = u + (b0 + k) * cols;
        for (int64_t j = b1; j < cols; ++j) row[j] -= e * uk[j];
      }
    }
  }
}

}  // namespace

int64_t PrunePattern::RemovedPerRow(int64_t cols) const {
  if (!nm()) return std::llround(sparsity * double(cols));
  const int64_t whole = cols / m, tail = cols % m;
  return whole * (m - n) + std::max<int64_t>(0, tail - n);
}

std::string PrunePattern::Describe() const {
  if (nm()) return absl::StrFormat("%d:%d (%d of every %d kept)", n, m, n, m);
  return absl::StrFormat("%g%% unstructured", 100.0 * sparsity);
}

void PruneRowsByScore(float* w, const float* score, int64_t rows, int64_t cols,
                      const PrunePattern& p) {
  std::vector<int64_t> order;
  for (int64_t r = 0; r < rows; ++r) {
    float* row = w + r * cols;
    const float* s = score + r * cols;
    if (!p.nm()) {
      ZeroLowest(row, s, cols, 1, p.RemovedPerRow(cols), order);
      continue;
    }
    for (int64_t c = 0; c < cols; c += p.m) {
      const int64_t len = std::min<int64_t>(p.m, cols - c);
      ZeroLowest(row + c, s + c, len, 1, len - p.n, order);
    }
  }
}

int64_t PruneSmallest(const std::vector<std::vector<float>*>& matrices, double sparsity) {
  int64_t total = 0;
  for (const std::vector<float>* m : matrices) total += int64_t(m->size());
  const int64_t k = std::llround(sparsity * double(total));
  if (k <= 0) return 0;
  // (magnitude, position) for every weight; the k smallest go.
  std::vector<std::pair<float, int64_t>> all;
  all.reserve(total);
  int64_t pos = 0;
  for (const std::vector<float>* m : matrices)
    for (float v : *m) all.emplace_back(std::fabs(v), pos++);
  std::nth_element(all.begin(), all.begin() + (k - 1), all.end());
  for (int64_t i = 0; i < k; ++i) {
    int64_t at = all[i].second;
    for (std::vector<float>* m : matrices) {
      if (at < int64_t(m->size())) {
        (*m)[at] = 0.0f;
        break;
      }
      at -= int64_t(m->size());
    }
  }
  return k;
}

void SparseGptPrune(float* w, int64_t rows, const GptqHessian& hs, const PrunePattern& p,
                    ThreadPool* pool) {
  const int64_t tiles = (rows + kRowTile - 1) / kRowTile;
  auto run = [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t)
      SparseGptRows(w, t * kRowTile, std::min(rows, (t + 1) * kRowTile), hs, p);
  };
  if (pool) {
    pool->ParallelFor(tiles, run);
  } else {
    run(0, tiles);
  }
}

double CsrCrossover(WeightFormat values) {
  return values == WeightFormat::kF16 ? 0.75 : 0.5;
}

namespace {

absl::StatusOr<WeightTensor> StoreUnstructured(const WeightTensor& t, const std::vector<float>& w,
                                               const PrunePattern& p, const std::string& technique,
                                               const std::string& name) {
  const bool csr_fits = CsrHoldsValues(t.format()) && t.cols() <= kCsrMaxCols;
  if (p.storage == "csr" && !csr_fits) {
    return absl::InvalidArgumentError(absl::StrCat(
        technique, ": ", name, " is ", GetFormatTraits(t.format()).name, " with ", t.cols(),
        " columns; storage=csr holds f32 or f16 values of at most ", kCsrMaxCols,
        " columns (prune before quantizing, or give storage=dense or storage=auto)"));
  }
  bool csr = p.storage == "csr";
  if (p.storage == "auto" && csr_fits) {
    int64_t zeros = 0;
    for (float v : w) zeros += v == 0.0f;
    csr = !w.empty() && double(zeros) >= CsrCrossover(t.format()) * double(w.size());
  }
  return csr ? WeightTensor::SparseFromFloat(t.format(), t.rows(), t.cols(), w.data())
             : WeightTensor::FromFloat(t.format(), t.rows(), t.cols(), w.data());
}

}  // namespace

absl::StatusOr<WeightTensor> StorePruned(const WeightTensor& t, const std::vector<float>& w,
                                         const PrunePattern& p, const std::string& values,
                                         const std::string& technique, const std::string& name) {
  if (!p.nm()) return StoreUnstructured(t, w, p, technique, name);
  WeightFormat v = values == "f16" ? WeightFormat::kF16 : WeightFormat::kF32;
  if (values == "same") {
    if (t.format() != WeightFormat::kF32 && t.format() != WeightFormat::kF16) {
      return absl::InvalidArgumentError(absl::StrCat(
          technique, ": ", name, " is ", GetFormatTraits(t.format()).name,
          "; N:M sparse storage holds f32 or f16 values: give values=f32 or values=f16 (or prune "
          "before quantizing: a sparse matrix cannot be quantized afterwards either)"));
    }
    v = t.format();
  }
  WeightFormat f;
  if (p.n == 2 && p.m == 4) {
    f = v == WeightFormat::kF16 ? WeightFormat::kSp24F16 : WeightFormat::kSp24F32;
  } else if (p.n == 4 && p.m == 8) {
    f = v == WeightFormat::kF16 ? WeightFormat::kSp48F16 : WeightFormat::kSp48F32;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(technique, ": no storage for the ", p.n, ":", p.m, " pattern"));
  }
  return WeightTensor::FromFloat(f, t.rows(), t.cols(), w.data());
}

double LayerSparsity(const std::vector<const WeightTensor*>& matrices) {
  int64_t zeros = 0, total = 0;
  for (const WeightTensor* t : matrices) {
    const std::vector<float> v = t->ToFloat();
    for (float x : v) zeros += x == 0.0f;
    total += int64_t(v.size());
  }
  return total ? double(zeros) / double(total) : 0.0;
}

absl::Status ForEachLayerSite(
    Model& model, const TechniqueContext& ctx, const std::string& technique,
    const std::function<absl::Status(int, LinearSite, const InputStats&)>& fn) {
  absl::StatusOr<const CalibrationSet*> set = RequireCalibration(ctx, technique);
  if (!set.ok()) return set.status();
  for (int l = 0; l < model.config.n_layers; ++l) {
    CollectOptions o;
    o.first_layer = o.last_layer = l;
    o.gram = true;
    o.threads = ctx.threads;
    o.isa = ctx.isa;
    absl::StatusOr<std::vector<LayerStats>> stats = CollectInputStats(model, **set, o);
    if (!stats.ok()) return stats.status();
    for (int s = 0; s < kLinearSiteCount; ++s) {
      if (absl::Status st = fn(l, LinearSite(s), (*stats)[0].at(LinearSite(s))); !st.ok())
        return st;
    }
  }
  return absl::OkStatus();
}

}  // namespace squeeze
