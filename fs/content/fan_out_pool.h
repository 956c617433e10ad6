// FanOutPool: a fixed set of threads that help a read fan out - the
// segments of a window, the ranges of a plan, the chunks of a warm read, the
// stages of a verifying pass - instead of threads spawned per call.
//
// ForEach(n, width, fn) runs fn(0) .. fn(n - 1), each exactly once, on the
// calling thread and on up to width - 1 pool threads that are free; it
// returns when all have run. fn(0) runs on the calling thread. The caller
// always works too, and never waits
// for a helper that has not started, so a fan-out nested inside another (a
// segment's ranges inside a window's segments) cannot deadlock however busy
// the pool is: it only runs with less help.
//
// Helpers run under the caller's ScopedDeadline (common/deadline.h).
//
// Thread-safety: thread-safe. Bounded: `threads` threads, at most
// `max_queued` helper requests waiting (beyond that a fan-out gets fewer).
#ifndef HUBFS_FS_CONTENT_FAN_OUT_POOL_H_
#define HUBFS_FS_CONTENT_FAN_OUT_POOL_H_

#include <atomic>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"

namespace hubfs::fs {

class FanOutPool {
 public:
  FanOutPool(size_t threads, size_t max_queued);
  // Stops the threads once every queued request has been dropped or run.
  ~FanOutPool();
  FanOutPool(const FanOutPool&) = delete;
  FanOutPool& operator=(const FanOutPool&) = delete;

  // REQUIRES: fn is safe to call from several threads at once for distinct
  // indexes.
  void ForEach(size_t n, size_t width, const std::function<void(size_t)>& fn) EXCLUDES(mu_);

  size_t threads() const { return threads_.size(); }

 private:
  // One ForEach call. `fn` points into the caller's frame: a helper calls it
  // only after checking, under mu, that the caller has not returned.
  struct Batch {
    Mutex mu;
    CondVar idle;  // active dropped to zero
    size_t active GUARDED_BY(mu) = 0;
    bool closed GUARDED_BY(mu) = false;
    std::atomic<size_t> next{0};
    size_t n = 0;
    const std::function<void(size_t)>* fn = nullptr;
    // The caller's ScopedDeadline (common/deadline.h), for the helpers.
    std::optional<Clock::TimePoint> deadline;
  };

  static void Work(Batch& batch);
  static void Help(Batch& batch);
  void Loop() EXCLUDES(mu_);

  const size_t max_queued_;
  Mutex mu_;
  CondVar wake_;
  std::deque<std::shared_ptr<Batch>> queue_ GUARDED_BY(mu_);
  bool stop_ GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace hubfs::fs

#endif  // HUBFS_FS_CONTENT_FAN_OUT_POOL_H_
