// A fixed pool of worker threads for data-parallel loops (the engine's matmuls and
// attention). The calling thread takes part, so a pool of N threads starts N - 1 workers.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace squeeze {

class ThreadPool {
 public:
  // threads <= 0 means one per online CPU.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Runs fn(thread_index) once on each of the size() threads (index 0 is the caller) and
  // returns when all have finished. Not reentrant; one caller at a time.
  void Run(const std::function<void(int)>& fn);

  // Splits [0, n) into contiguous chunks and runs fn(begin, end) on each: every thread starts on
  // its own contiguous share and, when done, takes chunks from the shares of the others. Chunk
  // boundaries are multiples of `align` (except the last end).
  void ParallelFor(int64_t n, const std::function<void(int64_t, int64_t)>& fn, int64_t align = 1);
  // The same, telling fn(thread, begin, end) which thread (0 .. size() - 1) runs the chunk: for
  // loops that keep per-thread scratch.
  void ParallelForThreads(int64_t n, const std::function<void(int, int64_t, int64_t)>& fn,
                          int64_t align = 1);

  static int DefaultThreads();

 private:
  void WorkerLoop(int index);
  // Both ParallelFors: fn(thread, begin, end) (a lambda; instantiated in thread_pool.cc only).
  template <class Fn>
  void ForShares(int64_t n, int64_t align, const Fn& fn);

  // One thread's share of a ParallelFor: units [next, end), taken from the front by the
  // owner and by the threads that have finished their own. Own cache line each.
  struct alignas(64) Share {
    std::atomic<int64_t> next{0};
    int64_t end = 0;
  };

  int n_threads_;
  std::vector<std::thread> workers_;
  const std::function<void(int)>* job_ = nullptr;  // published by the increment of generation_
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  std::atomic<int> sleepers_{0};  // workers waiting on cv_ (the others spin on generation_)
  std::vector<Share> shares_;     // n_threads_ of them
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace squeeze
