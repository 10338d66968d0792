// ThreadPool: every index runs exactly once, chunks cover the range, a stalled thread's share
// is finished by the others, chunks name the thread that runs them, repeated runs work.
#include "util/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace squeeze {
namespace {

TEST(ThreadPoolTest, ParallelForCoversRangeOnceWithAlignedChunks) {
  for (int threads : {1, 2, 5}) {
    ThreadPool pool(threads);
    for (int64_t n : {1, 7, 16, 100, 1001}) {
      std::vector<std::atomic<int>> hits(n);
      pool.ParallelFor(
          n,
          [&](int64_t b, int64_t e) {
            EXPECT_EQ(b % 16, 0) << "chunk start not aligned";
            for (int64_t i = b; i < e; ++i) hits[i]++;
          },
          16);
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "n=" << n << " i=" << i;
    }
  }
}

// The thread that takes the first chunk of the second share stalls in it; the rest of that
// share (half of it: the first chunk is the other half) must be done by the other thread.
TEST(ThreadPoolTest, ParallelForTakesOverTheShareOfAStalledThread) {
  ThreadPool pool(2);
  const int64_t n = 64;
  std::vector<std::thread::id> ran(n);
  std::atomic<bool> stalled{false};
  pool.ParallelFor(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) ran[i] = std::this_thread::get_id();
    if (b == n / 2 && !stalled.exchange(true))
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
  });
  ASSERT_TRUE(stalled.load()) << "no chunk started at the second share";
  const std::thread::id slow = ran[n / 2];
  int64_t by_others = 0;
  for (int64_t i = n / 2; i < n; ++i) by_others += ran[i] != slow;
  EXPECT_GE(by_others, n / 4) << "the stalled thread's share was not taken over";
}

// ParallelForThreads: every index once, and each chunk's thread index names the thread that
// runs it (one OS thread per index, a different one for each, 0 the caller), as per-thread
// scratch needs.
TEST(ThreadPoolTest, ParallelForThreadsNamesTheRunningThread) {
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    std::vector<std::thread::id> owner(threads);
    std::vector<std::atomic<int>> hits(257);
    std::atomic<int> wrong{0};
    for (int rep = 0; rep < 50; ++rep) {
      for (auto& h : hits) h = 0;
      pool.ParallelForThreads(257, [&](int t, int64_t b, int64_t e) {
        if (t < 0 || t >= threads) {
          wrong++;
          return;
        }
        if (owner[t] == std::thread::id()) {
          owner[t] = std::this_thread::get_id();
        } else if (owner[t] != std::this_thread::get_id()) {
          wrong++;
        }
        for (int64_t i = b; i < e; ++i) hits[i]++;
      });
      for (int64_t i = 0; i < 257; ++i) ASSERT_EQ(hits[i].load(), 1) << "i=" << i;
    }
    EXPECT_EQ(wrong.load(), 0) << threads << " threads";
    // Index 0 is the caller, as in Run.
    if (owner[0] != std::thread::id()) {
      EXPECT_EQ(owner[0], std::this_thread::get_id());
    }
    for (int a = 0; a < threads; ++a) {
      for (int b = a + 1; b < threads; ++b) {
        if (owner[a] != std::thread::id()) {
          EXPECT_NE(owner[a], owner[b]);
        }
      }
    }
  }
}

TEST(ThreadPoolTest, RunCallsEveryThreadIndexOnceManyTimes) {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> count(3);
  for (int rep = 0; rep < 2000; ++rep) pool.Run([&](int t) { count[t]++; });
  for (int t = 0; t < 3; ++t) EXPECT_EQ(count[t].load(), 2000);
}

}  // namespace
}  // namespace squeeze
