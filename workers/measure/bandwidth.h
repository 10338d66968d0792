// This machine's memory read bandwidth, the limit for decode: a model whose weights exceed
// the caches cannot decode faster than weight bytes per token / bandwidth.
#pragma once

#include <cstdint>

#include "util/thread_pool.h"

namespace squeeze {

struct BandwidthReport {
  double gb_per_s = 0;  // median over repeats, 1 GB = 1e9 bytes
  int64_t buffer_bytes = 0;
  int threads = 0;
};

// Reads a buffer of `bytes` (default 1 GiB, far above L3) `repeats` times with all the pool's
// threads, each summing its slice.
BandwidthReport MeasureReadBandwidth(ThreadPool& pool, int64_t bytes = int64_t(1) << 30,
                                     int repeats = 5);

}  // namespace squeeze
