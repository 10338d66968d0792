// Black-box test helpers: child processes started and always killed by the test, free
// loopback ports, a minimal HTTP GET, and running the squeeze CLI.
#pragma once

#include <sys/types.h>

#include <unistd.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace squeeze::testing {

// A child process; the destructor kills it (SIGKILL) if it still runs. The child also dies
// with the test process (PR_SET_PDEATHSIG).
class Child {
 public:
  // argv[0] is the program path; stdout and stderr go to log_path.
  Child(const std::vector<std::string>& argv, const std::string& log_path,
        const std::map<std::string, std::string>& env = {});
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  void Signal(int sig);
  // The exit status (or 128 + signal) once it ends within `timeout`; nullopt if it did not.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  bool Running();
  std::string Log() const;  // what it wrote so far

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::string log_path_;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
int FreePort();

struct HttpResponse {
  int status = 0;  // 0: no answer
  std::string headers, body;
};
// GET (or another method) http://127.0.0.1:port/path with extra header lines ("K: V").
HttpResponse HttpRequest(int port, const std::string& path,
                         const std::vector<std::string>& headers = {},
                         const std::string& method = "GET");

struct CmdResult {
  int code = -1;
  std::string out;  // stdout (and stderr unless separated)
  std::string err;  // stderr when separated
};
// Runs a shell command line; with separate_stderr, stderr goes to `err`.
CmdResult RunCommand(const std::string& cmd, bool separate_stderr = false);

// Polls `ready` every 50 ms until it returns true or `timeout` passes; returns its last value.
template <typename F>
bool WaitFor(F&& ready, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (ready()) return true;
    if (std::chrono::steady_clock::now() > end) return false;
    ::usleep(50000);
  }
}

}  // namespace squeeze::testing
