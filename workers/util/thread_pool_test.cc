// ThreadPool: every index runs exactly once, chunks cover the range, repeated runs work.
#include "util/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
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

TEST(ThreadPoolTest, RunCallsEveryThreadIndexOnceManyTimes) {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> count(3);
  for (int rep = 0; rep < 2000; ++rep) pool.Run([&](int t) { count[t]++; });
  for (int t = 0; t < 3; ++t) EXPECT_EQ(count[t].load(), 2000);
}

}  // namespace
}  // namespace squeeze
