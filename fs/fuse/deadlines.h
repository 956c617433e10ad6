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
#include <compare>
#include <cstdint>
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

  // Names one watch, for Cancel.
  struct Key {
    TimePoint deadline;
    uint64_t id = 0;
    auto operator<=>(const Key&) const = default;
  };

  // At `deadline`, if `once` is still alive and unclaimed, claims it and runs
  // `on_expire`. Holds `once` weakly.
  Key Watch(TimePoint deadline, std::weak_ptr<ReplyOnce> once, std::function<void()> on_expire);

  // Drops a watch whose request is done (answered, or its `once` gone), so
  // that finished requests do not pile up until their deadline: at
  // thousands of requests a second, a 30 s deadline otherwise holds
  // hundreds of thousands of them. A no-op when the watch already ran,
  // was cancelled, or the watcher stopped.
  void Cancel(const Key& key);

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
  std::map<Key, Item> items_ GUARDED_BY(mu_);
  uint64_t next_id_ GUARDED_BY(mu_) = 0;
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace hubfs::fs

#endif  // HUBFS_FS_FUSE_DEADLINES_H_
