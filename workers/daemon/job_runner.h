// What a worker does with one job: the sweep job's settings turned into the same
// EvaluateOptions that `squeeze eval --apply ...` builds, run through Evaluate() with the
// worker's in-memory caches, and the report turned into the result sent back.
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "job/eval_cache.h"
#include "job/evaluate.h"
#include "squeeze/v1/sweep.pb.h"

namespace squeeze {

// The evaluation a job asks for; paths are joined to data_root. The baseline job (empty
// pipeline) is compared with the model as loaded, so it reports KL divergence 0.
EvaluateOptions OptionsForJob(const v1::JobSpec& spec, const std::string& data_root);

// The stored result: the full report as JSON and its key metrics.
v1::JobResult ResultFromReport(const EvalReport& report);

// Runs the job. `stage` receives each stage's name; `cancel` stops it between stages.
absl::StatusOr<v1::JobResult> RunJob(const v1::JobSpec& spec, const std::string& data_root,
                                     EvalMemoryCache* cache,
                                     const std::function<void(const std::string&)>& stage,
                                     const std::atomic<bool>* cancel);

}  // namespace squeeze
