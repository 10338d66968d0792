// The environment fingerprint recorded with every measurement: where and how it was taken.
#pragma once

#include <string>

namespace squeeze {

struct Environment {
  std::string cpu;  // model name from /proc/cpuinfo
  std::string isa;  // instruction set of the kernels used
  int threads = 0;
  int online_cpus = 0;
  std::string build;  // compiler, build type, squeeze version
  std::string hostname;
};

Environment CaptureEnvironment(const std::string& isa, int threads);

}  // namespace squeeze
