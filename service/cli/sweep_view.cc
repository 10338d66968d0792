// Progress bar, summaries and result formats of the sweep commands (see sweep_view.h).
#include "service/cli/sweep_view.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "service/sweep/result_metrics.h"
#include "service/sweep/states.h"

namespace squeeze::cli {
namespace {

std::string Clock(int64_t ms) {
  const int64_t s = ms / 1000;
  return s >= 3600 ? absl::StrFormat("%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                   : absl::StrFormat("%d:%02d", s / 60, s % 60);
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string MetricText(const sweep::ResultMetric& m, std::optional<double> v) {
  if (!v) return "-";
  const std::string name = m.name;
  if (name == "size_bytes") return absl::StrFormat("%.3f MB", *v / 1e6);
  if (name == "top1_agreement") return absl::StrFormat("%.2f%%", *v * 100);
  if (name == "kld_mean") return absl::StrFormat("%.6f", *v);
  if (name == "prefill_tokens_per_s") return absl::StrFormat("%.0f", *v);
  return absl::StrFormat("%.4f", *v);
}

}  // namespace

Progress ComputeProgress(const v1::Sweep& s, int64_t now_ms) {
  Progress p;
  const int64_t end = s.finished_ms() > 0 ? s.finished_ms() : now_ms;
  p.elapsed_ms = std::max<int64_t>(end - s.created_ms(), 0);
  const int ended = s.counts().done() + s.counts().failed();
  const int left = s.counts().queued() + s.counts().running();
  if (left == 0) {
    p.eta_ms = 0;
  } else if (ended > 0 && s.started_ms() > 0 && now_ms > s.started_ms()) {
    p.eta_ms = int64_t(double(now_ms - s.started_ms()) / ended * left);
  }
  return p;
}

std::string FormatDuration(std::optional<int64_t> ms) {
  return ms ? Clock(*ms) : "--";
}

std::string FormatProgressLine(const v1::Sweep& s, int64_t now_ms, int bar_width) {
  const v1::StateCounts& c = s.counts();
  const int total = std::max(c.total(), 1);
  const int filled = int(int64_t(c.done() + c.failed() + c.cancelled()) * bar_width / total);
  const Progress p = ComputeProgress(s, now_ms);
  return absl::StrFormat("[%s%s] %d/%d done  %d running  %d failed  %d queued  elapsed %s  ETA %s",
                         std::string(filled, '#'), std::string(bar_width - filled, '.'), c.done(),
                         c.total(), c.running(), c.failed(), c.queued(),
                         FormatDuration(p.elapsed_ms), FormatDuration(p.eta_ms));
}

std::string FormatSweepSummary(const v1::Sweep& s, int64_t now_ms) {
  const v1::StateCounts& c = s.counts();
  std::string out =
      absl::StrFormat("sweep %d: %s (%s)\n", s.id(), s.name(), sweep::SweepStateName(s.state()));
  absl::StrAppendFormat(&out, "  model    %s\n", s.model());
  absl::StrAppendFormat(&out,
                        "  jobs     %d total: %d done, %d running, %d failed, %d queued, %d "
                        "cancelled\n",
                        c.total(), c.done(), c.running(), c.failed(), c.queued(), c.cancelled());
  const Progress p = ComputeProgress(s, now_ms);
  absl::StrAppendFormat(&out, "  elapsed  %s%s\n", FormatDuration(p.elapsed_ms),
                        s.finished_ms() == 0 ? " (ETA " + FormatDuration(p.eta_ms) + ")" : "");
  for (const std::string& e : s.errors()) absl::StrAppend(&out, "  error    ", e, "\n");
  return out;
}

std::string FormatSweepList(const std::vector<v1::Sweep>& sweeps) {
  std::string out =
      absl::StrFormat("%-6s %-28s %-10s %11s %7s\n", "id", "name", "state", "done/total", "failed");
  for (const v1::Sweep& s : sweeps) {
    absl::StrAppendFormat(
        &out, "%-6d %-28s %-10s %11s %7d\n", s.id(), s.name(), sweep::SweepStateName(s.state()),
        absl::StrCat(s.counts().done(), "/", s.counts().total()), s.counts().failed());
  }
  return out;
}

std::string FormatJobs(const std::vector<v1::JobInfo>& jobs) {
  std::string out = absl::StrFormat("%-5s %-10s %-4s %-8s %-14s %s\n", "#", "state", "try",
                                    "target", "worker", "configuration / stage / error");
  for (const v1::JobInfo& j : jobs) {
    std::string detail = j.config();
    if (j.state() == v1::JOB_STATE_RUNNING && !j.stage().empty())
      absl::StrAppend(&detail, "  [", j.stage(), "]");
    if (!j.error().empty()) absl::StrAppend(&detail, "\n      error: ", j.error());
    absl::StrAppendFormat(&out, "%-5d %-10s %-4d %-8s %-14s %s\n", j.index(),
                          sweep::JobStateName(j.state()), j.attempt(), j.target(), j.worker_id(),
                          detail);
  }
  return out;
}

std::string FormatResults(const std::vector<v1::ResultRow>& rows, ResultFormat format) {
  const std::vector<sweep::ResultMetric>& metrics = sweep::ResultMetrics();
  if (format == ResultFormat::kJson) {
    nlohmann::json out = nlohmann::json::array();
    for (const v1::ResultRow& r : rows) {
      nlohmann::json j = {{"job_id", r.job_id()},
                          {"index", r.index()},
                          {"config", r.config()},
                          {"target", r.target()},
                          {"worker_id", r.worker_id()},
                          {"attempt", r.attempt()},
                          {"duration_seconds", r.duration_seconds()},
                          {"baseline_from_cache", r.baseline_from_cache()}};
      if (r.has_checkpoint_step()) j["checkpoint_step"] = r.checkpoint_step();
      nlohmann::json m = nlohmann::json::object();
      for (const sweep::ResultMetric& metric : metrics) {
        if (std::optional<double> v = metric.get(r.metrics())) {
          if (std::string(metric.name) == "size_bytes") {
            m[metric.name] = int64_t(*v);
          } else {
            m[metric.name] = *v;
          }
        }
      }
      j["metrics"] = m;
      if (!r.report_json().empty())
        j["report"] = nlohmann::json::parse(r.report_json(), nullptr, false);
      out.push_back(j);
    }
    return out.dump(2) + "\n";
  }
  if (format == ResultFormat::kCsv) {
    std::vector<std::string> header = {"job_id", "index", "config", "target"};
    for (const sweep::ResultMetric& m : metrics) header.push_back(m.name);
    std::string out = absl::StrJoin(header, ",") + "\n";
    for (const v1::ResultRow& r : rows) {
      std::vector<std::string> f = {absl::StrCat(r.job_id()), absl::StrCat(r.index()),
                                    CsvField(r.config()), r.target()};
      for (const sweep::ResultMetric& m : metrics) {
        std::optional<double> v = m.get(r.metrics());
        f.push_back(!v                                    ? ""
                    : std::string(m.name) == "size_bytes" ? absl::StrCat(int64_t(*v))
                                                          : absl::StrFormat("%.17g", *v));
      }
      out += absl::StrJoin(f, ",") + "\n";
    }
    return out;
  }
  // The configuration comes last, so that long pipelines are never cut.
  std::string out = absl::StrFormat("%-4s", "#");
  for (const sweep::ResultMetric& m : metrics) absl::StrAppendFormat(&out, " %13s", m.header);
  out += "  config\n";
  for (const v1::ResultRow& r : rows) {
    absl::StrAppendFormat(&out, "%-4d", r.index());
    for (const sweep::ResultMetric& m : metrics) {
      absl::StrAppendFormat(&out, " %13s", MetricText(m, m.get(r.metrics())));
    }
    absl::StrAppend(&out, "  ", r.config(), r.target() == "cpu" ? "" : " (" + r.target() + ")",
                    "\n");
  }
  return out;
}

}  // namespace squeeze::cli
