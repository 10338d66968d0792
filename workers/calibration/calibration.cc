// Calibration sets and input statistics (see calibration.h): sequences cut evenly from a
// tokenized text, and one engine pass per sequence whose observer accumulates per-channel
// |x| maxima and means and, when asked, the Gram matrix XᵀX in double precision.
#include "calibration/calibration.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "util/hash.h"
#include "util/status_macros.h"
#include "util/thread_pool.h"

namespace squeeze {
namespace {

// Tile edge of the blocked Gram accumulation: a 64 x 64 tile of doubles is 32 KiB.
constexpr int64_t kGramTile = 64;

// Accumulates one site's statistics: abs_max, the sum of |x| and the upper triangle of XᵀX.
struct SiteAccumulator {
  int64_t cols = 0;
  int64_t tokens = 0;
  std::vector<float> abs_max;
  std::vector<double> abs_sum;
  std::vector<double> gram;  // (cols * cols), upper triangle filled until Finish

  void Init(int64_t c, bool with_gram) {
    cols = c;
    abs_max.assign(c, 0.0f);
    abs_sum.assign(c, 0.0);
    if (with_gram) gram.assign(c * c, 0.0);
  }
};

// G[i][j] += sum_t x[t][i] * x[t][j] for j >= i, over n rows of xd (n x cols, doubles).
// Tiles of the upper triangle are independent, so they are spread over the pool.
void AccumulateGram(ThreadPool* pool, const double* xd, int64_t n, int64_t cols, double* g) {
  const int64_t tiles = (cols + kGramTile - 1) / kGramTile;
  std::vector<std::pair<int64_t, int64_t>> pairs;  // (row tile, column tile), column >= row
  for (int64_t bi = 0; bi < tiles; ++bi)
    for (int64_t bj = bi; bj < tiles; ++bj) pairs.emplace_back(bi, bj);
  auto run = [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const int64_t i0 = pairs[p].first * kGramTile, i1 = std::min(cols, i0 + kGramTile);
      const int64_t j0 = pairs[p].second * kGramTile, j1 = std::min(cols, j0 + kGramTile);
      for (int64_t t = 0; t < n; ++t) {
        const double* x = xd + t * cols;
        for (int64_t i = i0; i < i1; ++i) {
          const double xi = x[i];
          if (xi == 0.0) continue;
          double* row = g + i * cols;
          // Within a diagonal tile only j >= i; elsewhere the whole tile row.
          for (int64_t j = std::max(j0, i); j < j1; ++j) row[j] += xi * x[j];
        }
      }
    }
  };
  if (pool && pool->size() > 1 && pairs.size() > 1) {
    pool->ParallelFor(int64_t(pairs.size()), run);
  } else {
    run(0, int64_t(pairs.size()));
  }
}

}  // namespace

absl::StatusOr<CalibrationSet> MakeCalibrationSet(const Tokenizer& tokenizer,
                                                  const std::string& text,
                                                  const std::string& source,
                                                  const CalibrationOptions& options) {
  if (options.sequences <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": calibration sequences must be positive, not ", options.sequences));
  }
  if (options.context < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": calibration context must be at least 2 tokens (BOS + text), not ",
                     options.context));
  }
  const int32_t bos = tokenizer.bos_id();
  const int64_t per_seq = bos >= 0 ? options.context - 1 : options.context;  // text tokens
  const std::vector<int32_t> tokens = tokenizer.Encode(text, /*add_bos=*/false);
  const int64_t total = int64_t(tokens.size());
  if (total < per_seq) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": the text gives ", total, " tokens, fewer than the ", per_seq,
                     " of one calibration sequence of ", options.context, " tokens"));
  }
  const int64_t count = std::min<int64_t>(options.sequences, total / per_seq);
  CalibrationSet set;
  set.source = source;
  set.options = options;
  Hasher h;
  h.Field("calibration-v1");
  h.Field(absl::StrCat(options.sequences, ",", options.context, ",", bos));
  for (int64_t i = 0; i < count; ++i) {
    // Starts spread evenly over [0, total - per_seq]; count <= total / per_seq keeps them
    // per_seq or more apart, so the sequences never overlap.
    const int64_t start = count == 1 ? 0 : i * (total - per_seq) / (count - 1);
    std::vector<int32_t> seq;
    seq.reserve(options.context);
    if (bos >= 0) seq.push_back(bos);
    seq.insert(seq.end(), tokens.begin() + start, tokens.begin() + start + per_seq);
    h.Update(seq.data(), seq.size() * sizeof(int32_t));
    h.Field("|");
    set.sequences.push_back(std::move(seq));
  }
  set.key = h.Hex();
  return set;
}

absl::StatusOr<std::vector<LayerStats>> CollectInputStats(const Model& model,
                                                          const CalibrationSet& set,
                                                          const CollectOptions& options) {
  const int n_layers = model.config.n_layers;
  const int last = options.last_layer < 0 ? n_layers - 1 : options.last_layer;
  if (options.first_layer < 0 || options.first_layer > last || last >= n_layers) {
    return absl::InvalidArgumentError(
        absl::StrCat("calibration: layers [", options.first_layer, ", ", options.last_layer,
                     "] are not a range within the model's ", n_layers, " layers"));
  }
  if (set.sequences.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(set.source, ": the calibration set has no sequences"));
  }
  size_t longest = 0;
  for (const std::vector<int32_t>& s : set.sequences) longest = std::max(longest, s.size());
  if (int64_t(longest) > model.config.max_seq_len) {
    return absl::InvalidArgumentError(
        absl::StrCat(set.source, ": calibration sequences of ", longest,
                     " tokens are longer than the model's context of ", model.config.max_seq_len,
                     " (use a smaller calibration context)"));
  }

  const int first = options.first_layer;
  const int n_kept = last - first + 1;
  std::vector<std::array<SiteAccumulator, kLinearSiteCount>> acc(n_kept);
  std::unique_ptr<ThreadPool> gram_pool;
  if (options.gram) gram_pool = std::make_unique<ThreadPool>(options.threads);
  std::vector<double> xd;  // the observed rows as doubles (Gram accumulation)

  EngineOptions eo;
  eo.threads = options.threads;
  eo.isa = options.isa;
  eo.max_context = int(longest);
  eo.last_layer = last;
  eo.observer = [&](int layer, LinearSite site, const float* x, int64_t n, int64_t cols) {
    if (layer < first || layer > last) return;
    SiteAccumulator& a = acc[layer - first][int(site)];
    if (a.cols == 0) a.Init(cols, options.gram);
    for (int64_t t = 0; t < n; ++t) {
      const float* row = x + t * cols;
      for (int64_t c = 0; c < cols; ++c) {
        const float v = std::fabs(row[c]);
        a.abs_max[c] = std::max(a.abs_max[c], v);
        a.abs_sum[c] += v;
      }
    }
    a.tokens += n;
    if (options.gram) {
      xd.resize(n * cols);
      for (int64_t i = 0; i < n * cols; ++i) xd[i] = x[i];
      AccumulateGram(gram_pool.get(), xd.data(), n, cols, a.gram.data());
    }
  };
  ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, Engine::Create(model, eo));
  for (size_t i = 0; i < set.sequences.size(); ++i) {
    engine->Reset();
    if (absl::Status s = engine->Forward(set.sequences[i], nullptr); !s.ok()) {
      return absl::Status(
          s.code(), absl::StrCat(set.source, ": calibration sequence ", i, ": ", s.message()));
    }
  }

  std::vector<LayerStats> out(n_kept);
  for (int l = 0; l < n_kept; ++l) {
    for (int s = 0; s < kLinearSiteCount; ++s) {
      SiteAccumulator& a = acc[l][s];
      InputStats& st = out[l].site[s];
      st.cols = a.cols;
      st.tokens = a.tokens;
      st.abs_max = std::move(a.abs_max);
      st.abs_mean.resize(a.cols);
      for (int64_t c = 0; c < a.cols; ++c)
        st.abs_mean[c] = a.tokens > 0 ? float(a.abs_sum[c] / double(a.tokens)) : 0.0f;
      if (options.gram) {
        for (int64_t i = 0; i < a.cols; ++i)
          for (int64_t j = 0; j < i; ++j) a.gram[i * a.cols + j] = a.gram[j * a.cols + i];
        st.gram = std::move(a.gram);
      }
    }
  }
  return out;
}

absl::StatusOr<std::shared_ptr<const std::vector<LayerStats>>> StatsCache::Get(
    const Model& model, const CalibrationSet& set, int threads, Isa isa) {
  const std::string key = model.content_hash + "/" + set.key;
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = entries_.find(key); it != entries_.end()) return it->second;
  CollectOptions o;
  o.threads = threads;
  o.isa = isa;
  ASSIGN_OR_RETURN(std::vector<LayerStats> stats, CollectInputStats(model, set, o));
  ++collections_;
  auto shared = std::make_shared<const std::vector<LayerStats>>(std::move(stats));
  entries_.emplace(key, shared);
  return shared;
}

int StatsCache::collections() const {
  std::lock_guard<std::mutex> lock(mu_);
  return collections_;
}

}  // namespace squeeze
