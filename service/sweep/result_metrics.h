// The key metrics of a result (the columns stored for sorting and Pareto fronts): names,
// units, natural direction and how to read them from a v1::Metrics. One table used by the
// coordinator, the HTTP API and the CLI.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "squeeze/v1/coordinator.pb.h"

namespace squeeze::sweep {

struct ResultMetric {
  const char* name;    // "perplexity": the proto field and database column
  const char* header;  // short column title for tables: "ppl"
  const char* alias;   // accepted on the command line too: "ppl"
  bool maximize;       // natural direction: larger is better (top-1, prefill tokens/s)
  std::optional<double> (*get)(const v1::Metrics&);
};

// Every metric, in table order.
const std::vector<ResultMetric>& ResultMetrics();

// The metric with this name or alias, or null.
const ResultMetric* FindResultMetric(std::string_view name);

// Parses "kld_mean,size_bytes" or "top1:max,decode_ms:min" into objectives; a metric without
// a direction gets its natural one. Errors name the unknown metric or direction and list the
// known metrics.
absl::StatusOr<std::vector<v1::Objective>> ParseObjectives(std::string_view text);

// Checks objectives (at least one, known metrics, no metric twice) and resolves
// DIRECTION_UNSPECIFIED to each metric's natural direction.
absl::StatusOr<std::vector<v1::Objective>> ResolveObjectives(
    const std::vector<v1::Objective>& objectives);

// Indices of the non-dominated rows for the (resolved) objectives, in row order. A row is
// dominated when another is at least as good in every objective and better in one; rows
// missing any objective's value are left out.
std::vector<int> ParetoFront(const std::vector<v1::ResultRow>& rows,
                             const std::vector<v1::Objective>& objectives);

}  // namespace squeeze::sweep
