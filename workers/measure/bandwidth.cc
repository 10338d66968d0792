// Streaming read bandwidth with 64-bit integer sums (vectorizable without fast-math), each
// thread reading its slice front to back with software prefetch, as the gemv kernels do (on
// VMs whose hardware prefetcher keeps few lines ahead, plain loads measured 20-40% less than
// the kernels reach).
#include "measure/bandwidth.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <vector>

namespace squeeze {

BandwidthReport MeasureReadBandwidth(ThreadPool& pool, int64_t bytes, int repeats) {
  const int64_t n = bytes / 8;
  std::unique_ptr<uint64_t[]> buf(new uint64_t[n]);  // not zeroed: the pass below writes it
  pool.ParallelFor(
      n,
      [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) buf[i] = uint64_t(i) * 2654435761u;
      },
      4096);
  std::vector<uint64_t> sums(pool.size() * 8);
  std::vector<double> gbs;
  for (int r = 0; r < repeats + 1; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    pool.Run([&](int t) {
      const int64_t b = n * t / pool.size(), e = n * (t + 1) / pool.size();
      uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      int64_t i = b;
      for (; i + 8 <= e; i += 8) {  // one cache line, prefetched 2 KB ahead like the kernels
        __builtin_prefetch(buf.get() + i + 256, 0, 3);
        s0 += buf[i] + buf[i + 4];
        s1 += buf[i + 1] + buf[i + 5];
        s2 += buf[i + 2] + buf[i + 6];
        s3 += buf[i + 3] + buf[i + 7];
      }
      for (; i < e; ++i) s0 += buf[i];
      sums[t * 8] = s0 + s1 + s2 + s3;
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r > 0) gbs.push_back(double(n * 8) / s / 1e9);  // the first pass is a warm-up
  }
  std::sort(gbs.begin(), gbs.end());
  BandwidthReport rep;
  rep.gb_per_s = gbs[gbs.size() / 2];
  rep.buffer_bytes = n * 8;
  rep.threads = pool.size();
  volatile uint64_t sink = sums[0];
  (void)sink;
  return rep;
}

}  // namespace squeeze
