// CPU model, build and host of a measurement.
#include "measure/environment.h"

#include <unistd.h>

#include <fstream>

#include "util/thread_pool.h"

#ifndef SQUEEZE_BUILD_TYPE
#define SQUEEZE_BUILD_TYPE "unknown"
#endif

namespace squeeze {

Environment CaptureEnvironment(const std::string& isa, int threads) {
  Environment e;
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) e.cpu = line.substr(colon + 2);
      break;
    }
  }
  if (e.cpu.empty()) e.cpu = "unknown";
  e.isa = isa;
  e.threads = threads;
  e.online_cpus = ThreadPool::DefaultThreads();
  e.build = std::string("squeeze 0.1.0, ") + SQUEEZE_BUILD_TYPE + ", g++ " + __VERSION__;
  char host[256] = {0};
  if (::gethostname(host, sizeof(host) - 1) == 0) e.hostname = host;
  return e;
}

}  // namespace squeeze
