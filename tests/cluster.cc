// Coordinator + workers as processes for black-box tests (see cluster.h).
#include "tests/cluster.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "testutil/assets.h"

namespace squeeze::testing {

Cluster::Cluster(const std::string& name, int dim, int hidden, int layers) {
  dir_ = TempDir(name);
  root_ = dir_ + "/root";
  db_ = dir_ + "/squeeze.db";
  MakeTinyModelFiles(root_, dim, hidden, layers);
}

bool Cluster::StartCoordinator(const std::vector<std::string>& extra, bool same_ports,
                               std::string* why) {
  const std::string ports = dir_ + "/ports.json";
  std::filesystem::remove(ports);
  const int g = same_ports ? grpc_ : 0, h = same_ports ? http_ : 0;
  std::vector<std::string> argv = {
      SQUEEZE_COORDINATOR_BIN,          "--db",         db_,  "--data-root", root_, "--http",
      "127.0.0.1:" + std::to_string(h), "--ports-file", ports};
  if (std::find(extra.begin(), extra.end(), "--listen") == extra.end()) {
    argv.push_back("--listen");
    argv.push_back("127.0.0.1:" + std::to_string(g));
  }
  argv.insert(argv.end(), extra.begin(), extra.end());
  coordinator_ =
      std::make_unique<Child>(argv, dir_ + "/coordinator-" + std::to_string(++starts_) + ".log");
  const bool up =
      WaitFor([&] { return std::filesystem::exists(ports) || !coordinator_->Running(); },
              std::chrono::seconds(30));
  if (!up || !std::filesystem::exists(ports)) {
    if (why) *why = coordinator_->Log();
    return false;
  }
  std::ifstream in(ports);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  grpc_ = std::atoi(text.c_str() + text.find(':') + 1);
  http_ = std::atoi(text.c_str() + text.rfind(':') + 1);
  return grpc_ > 0;
}

size_t Cluster::StartWorker(const std::string& name, const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {SQUEEZE_WORKER_BIN,
                                   "--coordinator",
                                   address(),
                                   "--data-root",
                                   root_,
                                   "--name",
                                   name,
                                   "--poll-seconds",
                                   "1"};
  if (!token_.empty()) {
    argv.push_back("--token");
    argv.push_back(token_);
  }
  argv.insert(argv.end(), extra.begin(), extra.end());
  workers_.push_back(std::make_unique<Child>(argv, dir_ + "/worker-" + name + ".log"));
  return workers_.size() - 1;
}

CmdResult Cluster::Squeeze(const std::string& args, bool separate_stderr) const {
  std::string cmd = std::string(SQUEEZE_BIN) + " " + args + " --coordinator " + address();
  if (!token_.empty()) cmd += " --token " + token_;
  return RunCommand(cmd, separate_stderr);
}

std::string Cluster::WriteSweep(const std::string& name, const std::string& body) const {
  const std::string path = dir_ + "/" + name + ".yaml";
  std::ofstream(path) << "name: " << name << "\nmodel: m\ntokenizer: tok.bin\n" << body;
  return path;
}

std::vector<std::vector<std::string>> Cluster::Query(const std::string& sql) const {
  std::vector<std::vector<std::string>> rows;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return rows;
  }
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK) {
    while (sqlite3_step(st) == SQLITE_ROW) {
      std::vector<std::string>& row = rows.emplace_back();
      for (int c = 0; c < sqlite3_column_count(st); ++c) {
        if (sqlite3_column_type(st, c) == SQLITE_FLOAT) {  // every digit, not SQLite's 15
          char buf[40];
          std::snprintf(buf, sizeof buf, "%.17g", sqlite3_column_double(st, c));
          row.push_back(buf);
          continue;
        }
        const unsigned char* t = sqlite3_column_text(st, c);
        row.push_back(t ? reinterpret_cast<const char*>(t) : "NULL");
      }
    }
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return rows;
}

bool Cluster::WaitForSweepEnd(int64_t id, std::chrono::seconds timeout) const {
  const std::string sql = "SELECT state FROM sweeps WHERE id = " + std::to_string(id);
  return WaitFor(
      [&] {
        auto rows = Query(sql);
        return !rows.empty() && (rows[0][0] == "3" || rows[0][0] == "4");
      },
      timeout);
}

double MetricSample(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + " ", 0) == 0) return std::atof(line.c_str() + name.size() + 1);
  }
  return -1;
}

}  // namespace squeeze::testing
