// Result metrics table, objective parsing and Pareto fronts (see result_metrics.h).
#include "service/sweep/result_metrics.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace squeeze::sweep {
namespace {

#define SQZ_METRIC_GETTER(field)                                                      \
  [](const v1::Metrics& m) -> std::optional<double> {                                 \
    return m.has_##field() ? std::optional<double>(double(m.field())) : std::nullopt; \
  }

std::string KnownMetrics() {
  std::vector<std::string> names;
  for (const ResultMetric& m : ResultMetrics()) names.push_back(m.name);
  return absl::StrJoin(names, ", ");
}

}  // namespace

const std::vector<ResultMetric>& ResultMetrics() {
  static const std::vector<ResultMetric> kAll = {
      {"bits_per_weight", "bits/w", "bpw", false, SQZ_METRIC_GETTER(bits_per_weight)},
      {"size_bytes", "size", "size", false, SQZ_METRIC_GETTER(size_bytes)},
      {"perplexity", "ppl", "ppl", false, SQZ_METRIC_GETTER(perplexity)},
      {"kld_mean", "KLD mean", "kld", false, SQZ_METRIC_GETTER(kld_mean)},
      {"top1_agreement", "top-1", "top1", true, SQZ_METRIC_GETTER(top1_agreement)},
      {"decode_ms_per_token", "decode ms/tok", "decode_ms", false,
       SQZ_METRIC_GETTER(decode_ms_per_token)},
      {"prefill_tokens_per_s", "prefill tok/s", "prefill_tok_s", true,
       SQZ_METRIC_GETTER(prefill_tokens_per_s)},
  };
  return kAll;
}

#undef SQZ_METRIC_GETTER

const ResultMetric* FindResultMetric(std::string_view name) {
  for (const ResultMetric& m : ResultMetrics()) {
    if (name == m.name || name == m.alias) return &m;
  }
  return nullptr;
}

absl::StatusOr<std::vector<v1::Objective>> ParseObjectives(std::string_view text) {
  std::vector<v1::Objective> out;
  for (absl::string_view item :
       absl::StrSplit(absl::string_view(text.data(), text.size()), ',', absl::SkipWhitespace())) {
    std::vector<std::string> parts = absl::StrSplit(item, ':');
    v1::Objective& o = out.emplace_back();
    o.set_metric(parts[0]);
    if (parts.size() == 2 && (parts[1] == "min" || parts[1] == "max")) {
      o.set_direction(parts[1] == "min" ? v1::DIRECTION_MINIMIZE : v1::DIRECTION_MAXIMIZE);
    } else if (parts.size() != 1) {
      return absl::InvalidArgumentError(absl::StrCat("objective \"", std::string(item),
                                                     "\": write METRIC, METRIC:min or METRIC:max"));
    }
  }
  return ResolveObjectives(out);
}

absl::StatusOr<std::vector<v1::Objective>> ResolveObjectives(
    const std::vector<v1::Objective>& objectives) {
  if (objectives.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no objectives: name one or more of ", KnownMetrics()));
  }
  std::vector<v1::Objective> out;
  for (const v1::Objective& o : objectives) {
    const ResultMetric* m = FindResultMetric(o.metric());
    if (m == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown metric \"", o.metric(), "\" (known: ", KnownMetrics(), ")"));
    }
    for (const v1::Objective& prev : out) {
      if (prev.metric() == m->name)
        return absl::InvalidArgumentError(absl::StrCat("metric ", m->name, " is named twice"));
    }
    v1::Objective& r = out.emplace_back();
    r.set_metric(m->name);
    r.set_direction(o.direction() != v1::DIRECTION_UNSPECIFIED ? o.direction()
                    : m->maximize                              ? v1::DIRECTION_MAXIMIZE
                                                               : v1::DIRECTION_MINIMIZE);
  }
  return out;
}

std::vector<int> ParetoFront(const std::vector<v1::ResultRow>& rows,
                             const std::vector<v1::Objective>& objectives) {
  // Values turned into costs (smaller is better); rows lacking a value are left out.
  std::vector<std::vector<double>> cost;
  std::vector<int> index;
  for (int i = 0; i < int(rows.size()); ++i) {
    std::vector<double> c;
    for (const v1::Objective& o : objectives) {
      const ResultMetric* m = FindResultMetric(o.metric());
      std::optional<double> v = m ? m->get(rows[i].metrics()) : std::nullopt;
      if (!v) break;
      c.push_back(o.direction() == v1::DIRECTION_MAXIMIZE ? -*v : *v);
    }
    if (c.size() != objectives.size()) continue;
    cost.push_back(std::move(c));
    index.push_back(i);
  }
  auto dominates = [&](const std::vector<double>& a, const std::vector<double>& b) {
    bool better = false;
    for (size_t k = 0; k < a.size(); ++k) {
      if (a[k] > b[k]) return false;
      if (a[k] < b[k]) better = true;
    }
    return better;
  };
  std::vector<int> front;
  for (size_t i = 0; i < cost.size(); ++i) {
    bool dominated = false;
    for (size_t j = 0; j < cost.size() && !dominated; ++j)
      dominated = j != i && dominates(cost[j], cost[i]);
    if (!dominated) front.push_back(index[i]);
  }
  return front;
}

}  // namespace squeeze::sweep
