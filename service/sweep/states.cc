// State names from the proto's enum names (see states.h).
#include "service/sweep/states.h"

#include "absl/strings/ascii.h"

namespace squeeze::sweep {
namespace {

std::string Strip(const std::string& name, const std::string& prefix) {
  return absl::AsciiStrToLower(name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name);
}

}  // namespace

std::string JobStateName(v1::JobState s) {
  return Strip(v1::JobState_Name(s), "JOB_STATE_");
}

std::string SweepStateName(v1::SweepState s) {
  return Strip(v1::SweepState_Name(s), "SWEEP_STATE_");
}

}  // namespace squeeze::sweep
