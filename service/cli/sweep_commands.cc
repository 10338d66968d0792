// The sweep commands, clients of a squeeze-coordinator: submit (with --watch), status, list,
// cancel, results.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "service/cli/client.h"
#include "service/cli/commands.h"
#include "service/cli/common.h"
#include "service/cli/sweep_view.h"
#include "service/sweep/result_metrics.h"
#include "service/sweep/yaml_spec.h"
#include "util/status_macros.h"

namespace squeeze::cli {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void Out(const std::string& s) {
  std::fputs(s.c_str(), stdout);
}

bool Ended(const v1::Sweep& s) {
  return s.state() == v1::SWEEP_STATE_COMPLETED || s.state() == v1::SWEEP_STATE_CANCELLED;
}

// Shows progress until the sweep ends; reconnects while the coordinator restarts (up to two
// minutes). Returns the final sweep.
absl::StatusOr<v1::Sweep> WatchSweep(CoordinatorClient& client, int64_t id) {
  const bool tty = isatty(STDERR_FILENO);
  std::string last_line;
  v1::Sweep last;
  auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(2);
  for (;;) {
    absl::Status s = client.Watch(id, [&](const v1::SweepEvent& e) {
      last = e.sweep();
      give_up = std::chrono::steady_clock::now() + std::chrono::minutes(2);
      const std::string line = FormatProgressLine(e.sweep(), e.server_time_ms());
      if (tty) {
        std::fprintf(stderr, "\r%s\033[K", line.c_str());
      } else if (line.substr(0, line.find("elapsed")) !=
                 last_line.substr(0, last_line.find("elapsed"))) {
        std::fprintf(stderr, "%s\n", line.c_str());  // logs: a line when the counts change
      }
      last_line = line;
    });
    if (s.ok() && Ended(last)) break;
    if (s.code() != absl::StatusCode::kUnavailable || std::chrono::steady_clock::now() > give_up) {
      if (tty && !last_line.empty()) std::fputs("\n", stderr);
      if (s.ok()) s = absl::UnavailableError("the progress stream ended early");
      return s;
    }
    if (tty)
      std::fprintf(stderr, "\r%s  (coordinator unreachable, retrying)\033[K", last_line.c_str());
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  if (tty) std::fputs("\n", stderr);
  return last;
}

struct SubmitArgs {
  ClientOptions client;
  std::string file;
  bool watch = false;
};

absl::Status Submit(const SubmitArgs& a, int* exit_code) {
  ASSIGN_OR_RETURN(v1::SweepSpec spec, sweep::LoadSweepFile(a.file));
  ASSIGN_OR_RETURN(auto client, CoordinatorClient::Create(a.client));
  absl::StatusOr<v1::CreateSweepResponse> created = client->CreateSweep(spec);
  if (!created.ok()) {
    if (created.status().code() == absl::StatusCode::kInvalidArgument) {
      return absl::InvalidArgumentError(
          absl::StrCat(a.file, " is not a valid sweep:\n  ",
                       absl::StrJoin(absl::StrSplit(created.status().message(), '\n'), "\n  ")));
    }
    return created.status();
  }
  std::fprintf(stderr, "sweep %lld: %d jobs queued (baseline + %d configurations%s)\n",
               static_cast<long long>(created->sweep_id()), created->jobs(),
               created->jobs() > 0 ? created->jobs() - 1 : 0,
               created->duplicates()
                   ? absl::StrCat(", ", created->duplicates(), " duplicates dropped").c_str()
                   : "");
  Out(absl::StrCat(created->sweep_id(), "\n"));
  std::fflush(stdout);
  if (!a.watch) return absl::OkStatus();
  ASSIGN_OR_RETURN(v1::Sweep done, WatchSweep(*client, created->sweep_id()));
  std::fputs(FormatSweepSummary(done, NowMs()).c_str(), stderr);
  if (done.counts().failed() > 0 || done.state() == v1::SWEEP_STATE_CANCELLED)
    *exit_code = kExitError;
  return absl::OkStatus();
}

struct IdArgs {
  ClientOptions client;
  int64_t id = 0;
  bool all_jobs = false;
};

absl::Status Status(const IdArgs& a) {
  ASSIGN_OR_RETURN(auto client, CoordinatorClient::Create(a.client));
  ASSIGN_OR_RETURN(v1::Sweep s, client->GetSweep(a.id));
  Out(FormatSweepSummary(s, NowMs()));
  ASSIGN_OR_RETURN(v1::ListJobsResponse jobs, client->ListJobs(a.id));
  std::vector<v1::JobInfo> shown;
  for (const v1::JobInfo& j : jobs.jobs()) {
    if (a.all_jobs || j.state() == v1::JOB_STATE_RUNNING || j.state() == v1::JOB_STATE_FAILED)
      shown.push_back(j);
  }
  if (!shown.empty()) Out("\n" + FormatJobs(shown));
  return absl::OkStatus();
}

struct ListArgs {
  ClientOptions client;
  int limit = 20;
};

absl::Status List(const ListArgs& a) {
  ASSIGN_OR_RETURN(auto client, CoordinatorClient::Create(a.client));
  ASSIGN_OR_RETURN(v1::ListSweepsResponse r, client->ListSweeps(a.limit));
  Out(FormatSweepList({r.sweeps().begin(), r.sweeps().end()}));
  return absl::OkStatus();
}

absl::Status Cancel(const IdArgs& a) {
  ASSIGN_OR_RETURN(auto client, CoordinatorClient::Create(a.client));
  ASSIGN_OR_RETURN(v1::CancelSweepResponse r, client->CancelSweep(a.id));
  Out(absl::StrCat("sweep ", a.id, ": ", r.cancelled_jobs(), " jobs cancelled\n"));
  return absl::OkStatus();
}

struct ResultsArgs {
  ClientOptions client;
  int64_t id = 0;
  std::string format = "table";
  std::string pareto;
  bool report = false;
};

absl::Status Results(const ResultsArgs& a) {
  const ResultFormat format = a.format == "csv"    ? ResultFormat::kCsv
                              : a.format == "json" ? ResultFormat::kJson
                                                   : ResultFormat::kTable;
  std::vector<v1::Objective> objectives;
  if (!a.pareto.empty()) {
    absl::StatusOr<std::vector<v1::Objective>> o = sweep::ParseObjectives(a.pareto);
    if (!o.ok())
      return absl::InvalidArgumentError("--pareto: " + std::string(o.status().message()));
    objectives = *o;
  }
  ASSIGN_OR_RETURN(auto client, CoordinatorClient::Create(a.client));
  std::vector<v1::ResultRow> rows;
  if (objectives.empty()) {
    ASSIGN_OR_RETURN(v1::ListResultsResponse r, client->ListResults(a.id, a.report));
    rows.assign(r.results().begin(), r.results().end());
  } else {
    ASSIGN_OR_RETURN(v1::GetParetoResponse r, client->GetPareto(a.id, objectives));
    rows.assign(r.results().begin(), r.results().end());
    std::vector<std::string> named;
    for (const v1::Objective& o : r.objectives()) {
      named.push_back(
          absl::StrCat(o.metric(), o.direction() == v1::DIRECTION_MAXIMIZE ? " (max)" : " (min)"));
    }
    std::fprintf(stderr, "Pareto front over %s: %zu results\n", absl::StrJoin(named, ", ").c_str(),
                 rows.size());
  }
  Out(FormatResults(rows, format));
  return absl::OkStatus();
}

template <typename F>
void Run(const char* name, int* exit_code, F&& f) {
  const absl::Status s = f();
  if (!s.ok()) *exit_code = ReportError(name, s);
}

}  // namespace

void AddSweepCommands(CLI::App& app, int* exit_code) {
  auto sub = std::make_shared<SubmitArgs>();
  CLI::App* c = app.add_subcommand("submit", "Submit a sweep (YAML or JSON) to the coordinator");
  c->add_option("SWEEP", sub->file, "sweep file (see examples/)")->required();
  c->add_flag("--watch", sub->watch, "show a progress bar until the sweep ends");
  AddClientOptions(c, &sub->client);
  c->callback(
      [sub, exit_code] { Run("submit", exit_code, [&] { return Submit(*sub, exit_code); }); });

  auto st = std::make_shared<IdArgs>();
  c = app.add_subcommand("status", "A sweep's progress, running and failed jobs");
  c->add_option("ID", st->id, "sweep id")->required();
  c->add_flag("--jobs", st->all_jobs, "list every job");
  AddClientOptions(c, &st->client);
  c->callback([st, exit_code] { Run("status", exit_code, [&] { return Status(*st); }); });

  auto ls = std::make_shared<ListArgs>();
  c = app.add_subcommand("list", "Recent sweeps");
  c->add_option("--limit", ls->limit, "sweeps to show")->capture_default_str();
  AddClientOptions(c, &ls->client);
  c->callback([ls, exit_code] { Run("list", exit_code, [&] { return List(*ls); }); });

  auto ca = std::make_shared<IdArgs>();
  c = app.add_subcommand("cancel", "Cancel a sweep's queued and running jobs");
  c->add_option("ID", ca->id, "sweep id")->required();
  AddClientOptions(c, &ca->client);
  c->callback([ca, exit_code] { Run("cancel", exit_code, [&] { return Cancel(*ca); }); });

  auto re = std::make_shared<ResultsArgs>();
  c = app.add_subcommand("results", "A sweep's results, or their Pareto front");
  c->add_option("ID", re->id, "sweep id")->required();
  c->add_option("--format", re->format, "table, csv or json")
      ->check(CLI::IsMember({"table", "csv", "json"}))
      ->capture_default_str();
  c->add_option("--pareto", re->pareto,
                "only the non-dominated results for these metrics, e.g. kld_mean,bits_per_weight "
                "or top1:max,decode_ms:min (metrics: bits_per_weight, size_bytes, perplexity, "
                "kld_mean, top1_agreement, decode_ms_per_token, prefill_tokens_per_s)");
  c->add_flag("--report", re->report, "json: include each result's full report");
  AddClientOptions(c, &re->client);
  c->callback([re, exit_code] { Run("results", exit_code, [&] { return Results(*re); }); });
}

}  // namespace squeeze::cli
