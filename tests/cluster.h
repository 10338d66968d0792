// A coordinator and workers started as real processes on loopback for black-box tests, with
// a data root holding a small model the test makes, and helpers to run the squeeze CLI
// against it and to read the coordinator's SQLite file.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "tests/process.h"
#include "testutil/fixtures.h"

namespace squeeze::testing {

class Cluster {
 public:
  // Makes dir/root with a model (dim x hidden x layers), tok.bin and text.txt.
  explicit Cluster(const std::string& name, int dim = 64, int hidden = 96, int layers = 2);

  const std::string& root() const { return root_; }
  const std::string& dir() const { return dir_; }
  const std::string& db() const { return db_; }
  int grpc_port() const { return grpc_; }
  int http_port() const { return http_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(grpc_); }
  Child& coordinator() { return *coordinator_; }

  // Starts squeeze-coordinator on this cluster's database (ports: the previous ones when
  // `same_ports`, else free ones) and waits until it listens. Returns false (with the log
  // in *why) when it does not come up.
  bool StartCoordinator(const std::vector<std::string>& extra = {}, bool same_ports = false,
                        std::string* why = nullptr);
  // Starts a squeeze-worker named `name`; returns its index in workers().
  size_t StartWorker(const std::string& name, const std::vector<std::string>& extra = {});
  std::vector<std::unique_ptr<Child>>& workers() { return workers_; }

  void set_token(const std::string& t) { token_ = t; }

  // `squeeze ARGS --coordinator ADDRESS [--token T]`.
  CmdResult Squeeze(const std::string& args, bool separate_stderr = false) const;
  // Writes a sweep file in dir() whose model, tokenizer and texts are the cluster's.
  std::string WriteSweep(const std::string& name, const std::string& body) const;

  // Rows of a query on the database (values as text; NULL as "NULL").
  std::vector<std::vector<std::string>> Query(const std::string& sql) const;

  // Waits (bounded) until the sweep's state in the database is completed or cancelled.
  bool WaitForSweepEnd(int64_t id, std::chrono::seconds timeout) const;

 private:
  std::string dir_, root_, db_, token_;
  int grpc_ = 0, http_ = 0;
  int starts_ = 0;
  std::unique_ptr<Child> coordinator_;
  std::vector<std::unique_ptr<Child>> workers_;
};

// The value of one sample ("name{labels}") in Prometheus text, or -1.
double MetricSample(const std::string& text, const std::string& name);

}  // namespace squeeze::testing
