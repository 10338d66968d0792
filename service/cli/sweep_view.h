// How the CLI shows sweeps: the progress bar of `submit --watch`, sweep and job summaries,
// and results as a table, CSV or JSON. Pure functions of the protobuf messages (tested).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "squeeze/v1/coordinator.pb.h"

namespace squeeze::cli {

struct Progress {
  int64_t elapsed_ms = 0;  // since the sweep was created
  // Time left at the rate jobs have ended since the first one started: (queued + running)
  // / (ended / time since start). nullopt until a job has ended.
  std::optional<int64_t> eta_ms;
};

Progress ComputeProgress(const v1::Sweep& s, int64_t now_ms);

// "[#########.........]  5/12 done  2 running  1 failed  4 queued  elapsed 0:42  ETA 1:03"
std::string FormatProgressLine(const v1::Sweep& s, int64_t now_ms, int bar_width = 24);

// "1:03", "12:00:05"; "--" for nullopt.
std::string FormatDuration(std::optional<int64_t> ms);

// Several lines: name, state, counts, times, errors.
std::string FormatSweepSummary(const v1::Sweep& s, int64_t now_ms);
// One line per sweep, with a header.
std::string FormatSweepList(const std::vector<v1::Sweep>& sweeps);
// One line per job, with a header.
std::string FormatJobs(const std::vector<v1::JobInfo>& jobs);

enum class ResultFormat { kTable, kCsv, kJson };
// Results in a format; metrics missing from a result are empty (CSV), "-" (table) or absent
// (JSON).
std::string FormatResults(const std::vector<v1::ResultRow>& rows, ResultFormat format);

}  // namespace squeeze::cli
