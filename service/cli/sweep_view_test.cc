// The figures of the CLI's progress bar and results: elapsed time, ETA, counts, formats.
#include "service/cli/sweep_view.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace squeeze::cli {
namespace {

v1::Sweep Running() {
  v1::Sweep s;
  s.set_created_ms(100'000);
  s.set_started_ms(101'000);
  v1::StateCounts* c = s.mutable_counts();
  c->set_done(4);
  c->set_failed(1);
  c->set_running(2);
  c->set_queued(3);
  c->set_total(10);
  return s;
}

TEST(SweepViewTest, ElapsedAndEtaFollowTheRateJobsEnd) {
  // 5 jobs ended in the 10 s since the first started: 5 left take 10 s more.
  const Progress p = ComputeProgress(Running(), 111'000);
  EXPECT_EQ(p.elapsed_ms, 11'000);
  ASSERT_TRUE(p.eta_ms.has_value());
  EXPECT_EQ(*p.eta_ms, 10'000);
  EXPECT_EQ(FormatProgressLine(Running(), 111'000, 10),
            "[#####.....] 4/10 done  2 running  1 failed  3 queued  elapsed 0:11  ETA 0:10");
  v1::Sweep fresh = Running();
  fresh.mutable_counts()->set_done(0);
  fresh.mutable_counts()->set_failed(0);
  EXPECT_FALSE(ComputeProgress(fresh, 111'000).eta_ms.has_value());  // no rate yet: "--"
  v1::Sweep ended = Running();
  ended.set_finished_ms(160'000);
  ended.mutable_counts()->set_queued(0);
  ended.mutable_counts()->set_running(0);
  EXPECT_EQ(ComputeProgress(ended, 999'000).elapsed_ms, 60'000);  // stops at the end
  EXPECT_EQ(*ComputeProgress(ended, 999'000).eta_ms, 0);
  EXPECT_EQ(FormatDuration(3'725'000), "1:02:05");
}

TEST(SweepViewTest, ResultFormatsCarryTheSameNumbers) {
  v1::ResultRow r;
  r.set_job_id(7);
  r.set_index(1);
  r.set_config("rtn:bits=4, \"x\"");
  r.set_target("cpu");
  r.mutable_metrics()->set_kld_mean(0.123456789012345);
  r.mutable_metrics()->set_size_bytes(123456789);
  const std::string csv = FormatResults({r}, ResultFormat::kCsv);
  EXPECT_NE(csv.find("7,1,\"rtn:bits=4, \"\"x\"\"\",cpu,,123456789,,0.123456789012345,"),
            std::string::npos)
      << csv;
  const nlohmann::json j = nlohmann::json::parse(FormatResults({r}, ResultFormat::kJson));
  EXPECT_EQ(j[0]["metrics"]["kld_mean"].get<double>(), 0.123456789012345);
  EXPECT_EQ(j[0]["metrics"]["size_bytes"].get<int64_t>(), 123456789);
  EXPECT_FALSE(j[0]["metrics"].contains("perplexity"));  // absent, not 0
  const std::string table = FormatResults({r}, ResultFormat::kTable);
  EXPECT_NE(table.find("123.457 MB"), std::string::npos) << table;
  EXPECT_NE(table.find("0.123457"), std::string::npos) << table;
}

}  // namespace
}  // namespace squeeze::cli
