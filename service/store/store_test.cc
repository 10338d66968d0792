// The database layer: migrations, WAL mode, bound values, results stored once per job.
#include "service/store/store.h"

#include <gtest/gtest.h>

#include "service/store/migrations.h"
#include "testutil/assets.h"

namespace squeeze::store {
namespace {

std::string One(Db& db, const char* sql) {
  Stmt* st = *db.Prepare(sql);
  absl::StatusOr<bool> row = st->Step();
  std::string v = row.ok() && *row ? st->Text(0) : "";
  st->Reset();
  return v;
}

SweepRecord Sweep(const std::string& name) {
  SweepRecord r;
  r.name = name;
  r.spec = "spec";
  r.settings = "settings";
  r.created_ms = 1;
  return r;
}

TEST(StoreTest, MigrationsUpgradeAnOlderDatabaseKeepingItsRows) {
  const std::string path = testing::TempDir("store-migrate") + "/db.sqlite";
  {
    auto old = Store::Open({.path = path, .read_only = false, .migrate_to = 1});
    ASSERT_TRUE(old.ok()) << old.status();
    EXPECT_EQ(*SchemaVersion((*old)->db()), 1);
    EXPECT_EQ(One((*old)->db(), "SELECT count(*) FROM sqlite_master WHERE name = 'workers'"), "0");
    ASSERT_TRUE((*old)->InsertSweep(Sweep("before the upgrade")).ok());
  }
  auto s = Store::Open({.path = path});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(*SchemaVersion((*s)->db()), LatestSchemaVersion());
  EXPECT_GE(LatestSchemaVersion(), 2);
  auto sweeps = (*s)->LoadSweeps();
  ASSERT_TRUE(sweeps.ok());
  ASSERT_EQ(sweeps->size(), 1u);
  EXPECT_EQ((*sweeps)[0].name, "before the upgrade");
  v1::WorkerInfo w;
  w.set_backend("cpu");
  EXPECT_TRUE((*s)->UpsertWorker("w1", w, 5).ok());  // table of migration 2
  auto workers = (*s)->LoadWorkers();
  ASSERT_TRUE(workers.ok());
  ASSERT_EQ(workers->size(), 1u);
  EXPECT_EQ((*workers)[0].second.backend(), "cpu");
}

TEST(StoreTest, ADatabaseNewerThanTheBuildIsRefused) {
  const std::string path = testing::TempDir("store-newer") + "/db.sqlite";
  {
    auto s = Store::Open({.path = path});
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->db().Exec("PRAGMA user_version = 99;").ok());
  }
  auto s = Store::Open({.path = path});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("newer"), std::string::npos) << s.status();
  EXPECT_NE(s.status().message().find(path), std::string::npos) << s.status();
}

TEST(StoreTest, WalModeAndUnreadableFileErrorsNameThePath) {
  const std::string dir = testing::TempDir("store-wal");
  auto s = Store::Open({.path = dir + "/db.sqlite"});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(One((*s)->db(), "PRAGMA journal_mode;"), "wal");
  auto bad = Store::Open({.path = dir + "/no/such/folder/db.sqlite"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(dir + "/no/such/folder/db.sqlite"), std::string::npos);
}

TEST(StoreTest, ValuesAreBoundNeverSplicedIntoSql) {
  auto s = Store::Open({.path = testing::TempDir("store-bind") + "/db.sqlite"});
  ASSERT_TRUE(s.ok());
  const std::string evil = "x'); DROP TABLE jobs; --";
  absl::StatusOr<int64_t> id = (*s)->InsertSweep(Sweep(evil));
  ASSERT_TRUE(id.ok()) << id.status();
  ASSERT_TRUE((*s)->InsertJobs(*id, {{0, "cpu", "", "baseline"}}).ok());
  EXPECT_EQ((*(*s)->LoadSweeps())[0].name, evil);
  EXPECT_EQ(One((*s)->db(), "SELECT count(*) FROM jobs"), "1");
}

TEST(StoreTest, AJobHasAtMostOneResult) {
  auto s = Store::Open({.path = testing::TempDir("store-once") + "/db.sqlite"});
  ASSERT_TRUE(s.ok());
  const int64_t id = *(*s)->InsertSweep(Sweep("once"));
  ASSERT_TRUE((*s)->InsertJobs(id, {{0, "cpu", "", "baseline"}}).ok());
  JobRecord job = **(*s)->NextQueuedJob("cpu");
  v1::JobResult r;
  r.mutable_metrics()->set_perplexity(4.5);
  EXPECT_TRUE((*s)->InsertResult(job, r, 1.0, 2).ok());
  EXPECT_FALSE((*s)->InsertResult(job, r, 1.0, 3).ok());  // primary key: job id
  auto rows = (*s)->ListResults(id, false);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].metrics().perplexity(), 4.5);
  EXPECT_FALSE((*rows)[0].metrics().has_kld_mean());  // NULL stays absent
  EXPECT_EQ((*rows)[0].config(), "baseline");
}

TEST(StoreTest, CheckpointsAreRowsAfterTheirJobsInStepOrder) {
  auto s = Store::Open({.path = testing::TempDir("store-ckpt") + "/db.sqlite"});
  ASSERT_TRUE(s.ok());
  const int64_t id = *(*s)->InsertSweep(Sweep("ckpt"));
  ASSERT_TRUE(
      (*s)->InsertJobs(id, {{0, "cpu", "", "baseline"}, {1, "cpu", "distill:steps=30", "distill"}})
          .ok());
  JobRecord base = **(*s)->NextQueuedJob("cpu");
  ASSERT_TRUE((*s)->InsertResult(base, v1::JobResult(), 1.0, 2).ok());
  ASSERT_TRUE((*s)->FinishJob(base.id, v1::JOB_STATE_DONE, "", 2).ok());
  JobRecord job = **(*s)->NextQueuedJob("cpu");
  ASSERT_NE(job.id, base.id);
  v1::JobResult r;
  r.mutable_metrics()->set_kld_mean(0.5);
  r.set_report_json("{}");
  for (int step : {20, 10}) {  // stored in step order whatever the order given
    v1::CheckpointResult* c = r.add_checkpoints();
    c->set_step(step);
    c->mutable_metrics()->set_kld_mean(step == 10 ? 0.9 : 0.7);
    c->set_report_json("{\"step\": " + std::to_string(step) + "}");
  }
  ASSERT_TRUE((*s)->InsertResult(job, r, 1.0, 3).ok());
  auto rows = (*s)->ListResults(id, true);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 4u);
  EXPECT_FALSE((*rows)[0].has_checkpoint_step());
  EXPECT_FALSE((*rows)[1].has_checkpoint_step());
  EXPECT_EQ((*rows)[1].config(), "distill:steps=30");
  EXPECT_EQ((*rows)[2].checkpoint_step(), 10);
  EXPECT_EQ((*rows)[2].config(), "distill:steps=30 @ step 10");
  EXPECT_EQ((*rows)[2].metrics().kld_mean(), 0.9);
  EXPECT_EQ((*rows)[2].report_json(), "{\"step\": 10}");
  EXPECT_EQ((*rows)[3].checkpoint_step(), 20);
  EXPECT_EQ((*rows)[3].job_id(), job.id);
  EXPECT_EQ((*rows)[3].index(), 1);
}

}  // namespace
}  // namespace squeeze::store
