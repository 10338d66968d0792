// Spin-then-sleep thread pool: decode issues many short parallel loops per token, so
// workers spin briefly before sleeping on the condition variable.
#include "util/thread_pool.h"

#include <unistd.h>

#include <algorithm>

namespace squeeze {
namespace {
// Busy-wait iterations before sleeping (workers) or yielding: about 50 us of pause loops.
constexpr int kSpins = 4000;
}  // namespace

int ThreadPool::DefaultThreads() {
  const long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? int(n) : 1;
}

ThreadPool::ThreadPool(int threads)
    : n_threads_(threads > 0 ? threads : DefaultThreads()), shares_(size_t(n_threads_)) {
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { WorkerLoop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true);
    generation_.fetch_add(1);
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::WorkerLoop(int index) {
  uint64_t seen = 0;
  for (;;) {
    // Spin for a while: the next parallel loop usually follows within microseconds.
    uint64_t gen = generation_.load(std::memory_order_acquire);
    for (int spin = 0; gen == seen && spin < kSpins; ++spin) {
      if (spin < kSpins / 2) {
        __builtin_ia32_pause();
      } else {
        std::this_thread::yield();  // let a descheduled peer run on a busy machine
      }
      gen = generation_.load(std::memory_order_acquire);
    }
    if (gen == seen) {
      // Counted as a sleeper before the last look at generation_: Run either sees the count
      // and wakes us through cv_, or we see its new generation and do not sleep.
      std::unique_lock<std::mutex> lock(mu_);
      sleepers_.fetch_add(1);
      cv_.wait(lock, [&] { return generation_.load() != seen; });
      sleepers_.fetch_sub(1);
      gen = generation_.load();
    }
    seen = gen;
    if (stop_.load()) return;
    (*job_)(index);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::Run(const std::function<void(int)>& fn) {
  if (n_threads_ == 1) {
    fn(0);
    return;
  }
  // Published without the mutex: spinning workers see the new generation within a cache-line
  // transfer, and only sleeping ones need cv_ (taking mu_ first, so that a worker between
  // counting itself and waiting cannot miss the notification).
  job_ = &fn;
  pending_.store(n_threads_ - 1, std::memory_order_relaxed);
  generation_.fetch_add(1);
  if (sleepers_.load() > 0) {
    { std::lock_guard<std::mutex> lock(mu_); }
    cv_.notify_all();
  }
  fn(0);
  for (int spin = 0; pending_.load(std::memory_order_acquire) != 0; ++spin) {
    if (spin < kSpins / 2) {
      __builtin_ia32_pause();
    } else {
      std::this_thread::yield();
    }
  }
}

template <class Fn>
void ThreadPool::ForShares(int64_t n, int64_t align, const Fn& fn) {
  if (n <= 0) return;
  const int64_t units = (n + align - 1) / align;
  if (n_threads_ == 1 || units == 1) {
    fn(0, 0, n);
    return;
  }
  // Each thread first works through its own contiguous share (no shared counter, so the
  // threads do not pass a cache line back and forth for every chunk), taking half of what is
  // left of it at a time; then it takes halves of what is left of the others' shares, so that a
  // thread slowed down by the machine does not hold the others back.
  const int64_t threads = std::min<int64_t>(n_threads_, units);
  for (int64_t t = 0; t < n_threads_; ++t) {
    Share& s = shares_[size_t(t)];
    s.end = t < threads ? units * (t + 1) / threads : 0;
    s.next.store(t < threads ? units * t / threads : 0, std::memory_order_relaxed);
  }
  Run([&](int self) {
    for (int64_t k = 0; k < n_threads_; ++k) {
      Share& s = shares_[size_t((self + k) % n_threads_)];
      int64_t u = s.next.load(std::memory_order_relaxed);
      while (u < s.end) {
        const int64_t take = std::max<int64_t>(1, (s.end - u) / 2);
        if (!s.next.compare_exchange_weak(u, u + take, std::memory_order_relaxed)) continue;
        fn(self, u * align, std::min<int64_t>(n, (u + take) * align));
        u = s.next.load(std::memory_order_relaxed);
      }
    }
  });
}

void ThreadPool::ParallelFor(int64_t n, const std::function<void(int64_t, int64_t)>& fn,
                             int64_t align) {
  ForShares(n, align, [&fn](int, int64_t b, int64_t e) { fn(b, e); });
}

void ThreadPool::ParallelForThreads(int64_t n, const std::function<void(int, int64_t, int64_t)>& fn,
                                    int64_t align) {
  ForShares(n, align, fn);
}

}  // namespace squeeze
