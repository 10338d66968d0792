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

  // Splits [0, n) into contiguous chunks, handed out to the threads dynamically, and runs
  // fn(begin, end) on each. Chunk boundaries are multiples of `align` (except the last end).
  void ParallelFor(int64_t n, const std::function<void(int64_t, int64_t)>& fn, int64_t align = 1);

  static int DefaultThreads();

 private:
  void WorkerLoop(int index);

  int n_threads_;
  std::vector<std::thread> workers_;
  const std::function<void(int)>* job_ = nullptr;  // Guarded by mu_ (published via generation_)
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace squeeze
