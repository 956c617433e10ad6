// Request deadlines for the FUSE side: each request handed to the I/O pool
// carries a ReplyOnce; either the worker (with the answer) or the watcher
// (at the deadline, answering EIO) claims it, never both. This is what bounds
// a request by --io-timeout even when a network wait inside hub/ or the
// reader takes longer.
//
// Thread-safety: all methods are thread-safe; callbacks run on the watcher's
// thread with no lock held.
#ifndef HUBFS_FS_FUSE_DEADLINES_H_
#define HUBFS_FS_FUSE_DEADLINES_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "common/mutex.h"

namespace hubfs::fs {

// The right to send the one reply of a request.
class ReplyOnce {
 public:
  // True for the first caller only.
  bool Claim() { return !claimed_.exchange(true, std::memory_order_acq_rel); }

 private:
  std::atomic<bool> claimed_{false};
};

class DeadlineWatcher {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  DeadlineWatcher();
  // Stops (see Stop).
  ~DeadlineWatcher();
  DeadlineWatcher(const DeadlineWatcher&) = delete;
  DeadlineWatcher& operator=(const DeadlineWatcher&) = delete;

  // At `deadline`, if `once` is still alive and unclaimed, claims it and runs
  // `on_expire`. Holds `once` weakly.
  void Watch(TimePoint deadline, std::weak_ptr<ReplyOnce> once, std::function<void()> on_expire);

  // Joins the thread; watches not yet due are dropped without running.
  // Idempotent.
  void Stop();

  // Watches not yet due or dropped.
  size_t size() const;

 private:
  struct Item {
    std::weak_ptr<ReplyOnce> once;
    std::function<void()> on_expire;
  };
  void Loop();

  mutable Mutex mu_;
  CondVar cv_;
  std::multimap<TimePoint, Item> items_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace hubfs::fs

#endif  // HUBFS_FS_FUSE_DEADLINES_H_
