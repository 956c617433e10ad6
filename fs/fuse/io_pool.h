// IoPool: a fixed set of threads running queued tasks, for the work FUSE
// workers must not wait for (reads, listings that miss the cache). A task
// replies to its FUSE request itself, from the pool thread.
//
// Bounded: at most `max_queued` tasks wait; Submit refuses beyond that (the
// caller answers the request with an error at once rather than block).
// Shutdown runs every task already queued, then joins the threads, so that
// each request handed over gets its reply before the session ends.
//
// Thread-safety: all methods are thread-safe. Tasks run without any pool
// lock held.
#ifndef HUBFS_FS_FUSE_IO_POOL_H_
#define HUBFS_FS_FUSE_IO_POOL_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "common/mutex.h"

namespace hubfs::fs {

class IoPool {
 public:
  // REQUIRES: threads > 0, max_queued > 0.
  IoPool(size_t threads, size_t max_queued);
  // Shuts down (see Shutdown).
  ~IoPool();
  IoPool(const IoPool&) = delete;
  IoPool& operator=(const IoPool&) = delete;

  // Queues `task`. False (task not taken) when the queue is full or the pool
  // is shutting down.
  [[nodiscard]] bool Submit(std::function<void()> task);

  // Stops accepting tasks, runs those queued, joins the threads. Idempotent.
  void Shutdown();

  // Tasks queued or running.
  size_t pending() const;

 private:
  void Worker();

  const size_t max_queued_;
  mutable Mutex mu_;
  CondVar cv_;
  std::deque<std::function<void()>> queue_ GUARDED_BY(mu_);
  size_t running_ GUARDED_BY(mu_) = 0;
  bool stopping_ GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
  Mutex join_mu_;  // serializes Shutdown's joins
};

}  // namespace hubfs::fs

#endif  // HUBFS_FS_FUSE_IO_POOL_H_
