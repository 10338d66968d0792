// The scheduler core, driven directly with a fake clock: queue order, leases, heartbeats,
// expiry, retries, cancellation, results written once, restart from the database file.
#include "service/scheduler/scheduler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "testutil/assets.h"

namespace squeeze {
namespace {

// A sweep of `n` configurations besides the baseline, without files (the scheduler does
// not look at them).
sweep::ExpandedSweep Sweep(int n, int max_attempts = 3) {
  sweep::ExpandedSweep e;
  e.name = "test";
  e.settings.set_model("m.bin");
  e.targets = {"cpu"};
  e.max_attempts = max_attempts;
  e.configs.push_back({});
  for (int i = 0; i < n; ++i) e.configs.push_back({absl::StrCat("rtn:bits=", i)});
  return e;
}

v1::JobResult Result(double ppl) {
  v1::JobResult r;
  r.mutable_metrics()->set_perplexity(ppl);
  r.set_report_json("{}");
  return r;
}

// The value of one sample in the text exposition, or -1.
double Sample(const std::string& text, const std::string& name) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.substr(0, name.size()) == name && line.size() > name.size() &&
        line[name.size()] == ' ') {
      double v;
      if (absl::SimpleAtod(line.substr(name.size() + 1), &v)) return v;
    }
  }
  return -1;
}

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override { path_ = testing::TempDir("scheduler") + "/db.sqlite"; }

  std::unique_ptr<Scheduler> Open(int64_t lease_ms = 1000) {
    SchedulerOptions o;
    o.db_path = path_;
    o.lease_ms = lease_ms;
    o.expiry_check_ms = 0;  // the test expires leases itself
    o.now_ms = [this] { return now_.load(); };
    o.metrics = &metrics_;
    absl::StatusOr<std::unique_ptr<Scheduler>> s = Scheduler::Create(o);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  }

  std::string Register(Scheduler& s) {
    v1::WorkerInfo w;
    w.set_backend("cpu");
    return s.RegisterWorker(w)->worker_id();
  }

  v1::Job Take(Scheduler& s, const std::string& worker) {
    absl::StatusOr<std::optional<v1::Job>> j = s.Acquire(worker, 0);
    EXPECT_TRUE(j.ok() && j->has_value()) << (j.ok() ? "no job" : j.status().ToString());
    return j.ok() && *j ? **j : v1::Job();
  }

  v1::StateCounts Counts(Scheduler& s, int64_t id) { return s.GetSweep(id)->counts(); }

  std::string path_;
  std::atomic<int64_t> now_{1'000'000};
  ServiceMetrics metrics_;
};

TEST_F(SchedulerTest, JobsGoOutBaselineFirstInOrderWithTheSweepsSettings) {
  auto s = Open();
  const int64_t id = s->CreateSweep({}, Sweep(3))->sweep_id();
  const std::string w = Register(*s);
  for (int i = 0; i < 4; ++i) {
    const v1::Job j = Take(*s, w);
    EXPECT_EQ(j.index(), i);
    EXPECT_EQ(j.attempt(), 1);
    EXPECT_EQ(j.spec().model(), "m.bin");
    EXPECT_EQ(j.spec().pipeline_size(), i == 0 ? 0 : 1);
    EXPECT_EQ(j.lease_expires_ms(), now_ + 1000);
  }
  EXPECT_FALSE(s->Acquire(w, 0)->has_value());
  EXPECT_EQ(Counts(*s, id).running(), 4);
  EXPECT_EQ(s->GetSweep(id)->state(), v1::SWEEP_STATE_RUNNING);
  EXPECT_EQ(s->Acquire("w-unknown", 0).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SchedulerTest, HeartbeatsRenewTheLeaseAndExpiryRequeuesThenFails) {
  auto s = Open(/*lease_ms=*/1000);
  const int64_t id = s->CreateSweep({}, Sweep(0, /*max_attempts=*/2))->sweep_id();
  const std::string a = Register(*s), b = Register(*s);
  const v1::Job j = Take(*s, a);
  now_ += 900;
  ASSERT_TRUE(s->Heartbeat(a, j.id(), 1, "accuracy")->keep_going());
  now_ += 900;  // 1800 after the lease, 900 after the heartbeat: still leased
  EXPECT_EQ(*s->ExpireLeases(), 0);
  now_ += 200;
  EXPECT_EQ(*s->ExpireLeases(), 1);  // back in the queue
  EXPECT_EQ(Counts(*s, id).queued(), 1);
  const v1::Job again = Take(*s, b);
  EXPECT_EQ(again.id(), j.id());
  EXPECT_EQ(again.attempt(), 2);
  EXPECT_FALSE(s->Heartbeat(a, j.id(), 1, "latency")->keep_going());  // a lost its lease
  now_ += 1001;
  EXPECT_EQ(*s->ExpireLeases(), 1);  // second expiry: out of attempts
  const v1::Sweep sw = *s->GetSweep(id);
  EXPECT_EQ(sw.counts().failed(), 1);
  EXPECT_EQ(sw.state(), v1::SWEEP_STATE_COMPLETED);
  ASSERT_EQ(sw.errors_size(), 1);
  EXPECT_NE(sw.errors(0).find("no attempts left"), std::string::npos) << sw.errors(0);
}

TEST_F(SchedulerTest, AnExpiredJobNoOneTookIsKeptByItsWorker) {
  auto s = Open(1000);
  const int64_t id = s->CreateSweep({}, Sweep(0))->sweep_id();
  const std::string w = Register(*s);
  const v1::Job j = Take(*s, w);
  now_ += 5000;  // say the coordinator was down
  EXPECT_EQ(*s->ExpireLeases(), 1);
  ASSERT_TRUE(s->Heartbeat(w, j.id(), 1, "latency")->keep_going());
  EXPECT_EQ(Counts(*s, id).running(), 1);
  EXPECT_FALSE(s->Complete(w, j.id(), 1, Result(3))->duplicate());
  EXPECT_EQ(Counts(*s, id).done(), 1);
}

TEST_F(SchedulerTest, ResultsAreWrittenOncePerJobAndAttempt) {
  auto s = Open(1000);
  const int64_t id = s->CreateSweep({}, Sweep(1))->sweep_id();
  const std::string a = Register(*s), b = Register(*s);
  const v1::Job first = Take(*s, a);
  EXPECT_FALSE(s->Complete(a, first.id(), 1, Result(5.0))->duplicate());
  EXPECT_TRUE(s->Complete(a, first.id(), 1, Result(6.0))->duplicate());  // a retried call
  // A stale attempt: the job was leased again after its lease expired.
  const v1::Job second = Take(*s, a);
  now_ += 1001;
  ASSERT_EQ(*s->ExpireLeases(), 1);
  const v1::Job retaken = Take(*s, b);
  EXPECT_EQ(retaken.attempt(), 2);
  const auto stale = s->Complete(a, second.id(), 1, Result(7.0));
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kFailedPrecondition) << stale.status();
  EXPECT_FALSE(s->Complete(b, second.id(), 2, Result(8.0))->duplicate());
  const std::vector<v1::ResultRow> rows = *s->ListResults(id, false);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].metrics().perplexity(), 5.0);
  EXPECT_EQ(rows[1].metrics().perplexity(), 8.0);
  EXPECT_EQ(rows[1].worker_id(), b);
  EXPECT_EQ(rows[1].attempt(), 2);
  EXPECT_EQ(s->GetSweep(id)->state(), v1::SWEEP_STATE_COMPLETED);
  EXPECT_GT(s->GetSweep(id)->finished_ms(), 0);
}

TEST_F(SchedulerTest, FailuresRetryUntilTheLimitAndPermanentOnesDoNot) {
  auto s = Open();
  const int64_t id = s->CreateSweep({}, Sweep(1, /*max_attempts=*/2))->sweep_id();
  const std::string w = Register(*s);
  const v1::Job base = Take(*s, w);
  EXPECT_FALSE(s->Fail(w, base.id(), 1, "m.bin: truncated", /*permanent=*/true)->will_retry());
  const v1::Job other = Take(*s, w);
  EXPECT_TRUE(s->Fail(w, other.id(), 1, "out of memory", false)->will_retry());
  const v1::Job retry = Take(*s, w);
  EXPECT_EQ(retry.id(), other.id());
  EXPECT_FALSE(s->Fail(w, retry.id(), 2, "out of memory", false)->will_retry());
  const v1::Sweep sw = *s->GetSweep(id);
  EXPECT_EQ(sw.counts().failed(), 2);
  EXPECT_EQ(sw.state(), v1::SWEEP_STATE_COMPLETED);
  const std::vector<v1::JobInfo> jobs = *s->ListJobs(id);
  EXPECT_EQ(jobs[0].error(), "m.bin: truncated");
  EXPECT_NE(jobs[1].error().find("after 2 attempts"), std::string::npos) << jobs[1].error();
}

TEST_F(SchedulerTest, CancellingStopsQueuedAndRunningJobs) {
  auto s = Open();
  const int64_t id = s->CreateSweep({}, Sweep(4))->sweep_id();
  const int64_t other = s->CreateSweep({}, Sweep(0))->sweep_id();
  const std::string w = Register(*s);
  const v1::Job running = Take(*s, w);
  EXPECT_EQ(*s->CancelSweep(id), 5);
  EXPECT_FALSE(s->Heartbeat(w, running.id(), 1, "apply")->keep_going());
  EXPECT_EQ(s->Complete(w, running.id(), 1, Result(1)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  const v1::Sweep sw = *s->GetSweep(id);
  EXPECT_EQ(sw.state(), v1::SWEEP_STATE_CANCELLED);
  EXPECT_EQ(sw.counts().cancelled(), 5);
  EXPECT_EQ(sw.counts().queued() + sw.counts().running(), 0);
  EXPECT_EQ(Take(*s, w).sweep_id(), other);  // the other sweep still runs
  EXPECT_EQ(*s->CancelSweep(id), 0);         // again: nothing left to cancel
  EXPECT_EQ(s->CancelSweep(999).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SchedulerTest, ARestartedSchedulerContinuesFromTheFile) {
  int64_t id;
  std::string w;
  v1::Job running;
  {
    auto s = Open(10000);
    id = s->CreateSweep({}, Sweep(3))->sweep_id();
    w = Register(*s);
    ASSERT_FALSE(s->Complete(w, Take(*s, w).id(), 1, Result(2))->duplicate());
    running = Take(*s, w);
  }  // "killed": nothing else is written
  auto s = Open(10000);
  const v1::StateCounts c = Counts(*s, id);
  EXPECT_EQ(c.done(), 1);
  EXPECT_EQ(c.running(), 1);
  EXPECT_EQ(c.queued(), 2);
  EXPECT_EQ(s->ListResults(id, false)->size(), 1u);
  // The worker's lease and registration survived: it renews and completes.
  ASSERT_TRUE(s->Heartbeat(w, running.id(), running.attempt(), "latency")->keep_going());
  EXPECT_FALSE(s->Complete(w, running.id(), running.attempt(), Result(3))->duplicate());
  EXPECT_TRUE(s->Complete(w, running.id(), running.attempt(), Result(3))->duplicate());
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(s->Complete(w, Take(*s, w).id(), 1, Result(4)).ok());
  EXPECT_EQ(s->GetSweep(id)->state(), v1::SWEEP_STATE_COMPLETED);
  EXPECT_EQ(s->ListResults(id, false)->size(), 4u);
}

TEST_F(SchedulerTest, LongPollAndWatchersWakeOnChanges) {
  auto s = Open();
  const std::string w = Register(*s);
  std::optional<v1::Job> got;
  std::thread poll([&] { got = *s->Acquire(w, 20000); });
  const int64_t id = s->CreateSweep({}, Sweep(0))->sweep_id();
  poll.join();  // returns with the new job, long before 20 s
  ASSERT_TRUE(got.has_value());
  auto [sweep, version] = *s->WaitForChange(id, 0, 0);
  EXPECT_EQ(sweep.counts().running(), 1);
  std::thread done([&] { ASSERT_TRUE(s->Complete(w, got->id(), 1, Result(1)).ok()); });
  auto next = *s->WaitForChange(id, version, 20000);
  done.join();
  EXPECT_GT(next.second, version);
  EXPECT_EQ(next.first.counts().done(), 1);
  s->Shutdown();
  EXPECT_EQ(s->Acquire(w, 1000).status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(SchedulerTest, MetricsCountWhatTheirNamesSay) {
  auto s = Open(1000);
  ASSERT_TRUE(s->CreateSweep({}, Sweep(2)).ok());
  const std::string w = Register(*s);
  const v1::Job a = Take(*s, w);
  EXPECT_EQ(Sample(metrics_.Serialize(), "squeeze_workers{backend=\"cpu\",state=\"busy\"}"), 1);
  ASSERT_TRUE(s->Complete(w, a.id(), 1, Result(1)).ok());
  Take(*s, w);
  now_ += 1001;
  ASSERT_EQ(*s->ExpireLeases(), 1);  // requeued: queued counts it again
  const std::string m = metrics_.Serialize();
  EXPECT_EQ(Sample(m, "squeeze_jobs_total{state=\"queued\"}"), 4);  // 3 created + 1 requeue
  EXPECT_EQ(Sample(m, "squeeze_jobs_total{state=\"running\"}"), 2);
  EXPECT_EQ(Sample(m, "squeeze_jobs_total{state=\"done\"}"), 1);
  EXPECT_EQ(Sample(m, "squeeze_jobs_queued"), 2);
  EXPECT_EQ(Sample(m, "squeeze_sweeps_total{state=\"queued\"}"), 1);
  EXPECT_EQ(Sample(m, "squeeze_sweeps_total{state=\"running\"}"), 1);
  EXPECT_EQ(Sample(m, "squeeze_job_duration_seconds_count{technique=\"baseline\"}"), 1);
  EXPECT_EQ(Sample(m, "squeeze_workers{backend=\"cpu\",state=\"idle\"}"), 1);
  EXPECT_EQ(Sample(m, "squeeze_workers{backend=\"cpu\",state=\"busy\"}"), 0);
  now_ += 3001;  // three leases without contact: lost
  ASSERT_EQ(*s->ExpireLeases(), 0);
  const std::string later = metrics_.Serialize();
  EXPECT_EQ(Sample(later, "squeeze_workers{backend=\"cpu\",state=\"lost\"}"), 1);
  EXPECT_EQ(Sample(later, "squeeze_workers{backend=\"cpu\",state=\"idle\"}"), 0);
}

}  // namespace
}  // namespace squeeze
