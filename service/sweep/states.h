// Names of job and sweep states as users see them ("queued", "running", "done", "failed",
// "cancelled"; sweeps: "queued", "running", "completed", "cancelled"): the enum names of
// proto/squeeze/v1/sweep.proto without their prefix, in lower case, so that the CLI, the
// metrics' labels and messages all say the same.
#pragma once

#include <string>

#include "squeeze/v1/sweep.pb.h"

namespace squeeze::sweep {

std::string JobStateName(v1::JobState s);
std::string SweepStateName(v1::SweepState s);

}  // namespace squeeze::sweep
