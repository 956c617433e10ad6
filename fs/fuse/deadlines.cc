#include "fs/fuse/deadlines.h"

#include <utility>
#include <vector>

namespace hubfs::fs {

DeadlineWatcher::DeadlineWatcher() : thread_([this] { Loop(); }) {}

DeadlineWatcher::~DeadlineWatcher() { Stop(); }

void DeadlineWatcher::Watch(TimePoint deadline, std::weak_ptr<ReplyOnce> once,
                            std::function<void()> on_expire) {
  bool earliest = false;
  {
    MutexLock lock(&mu_);
    if (stopping_) return;
    auto it = items_.emplace(deadline, Item{std::move(once), std::move(on_expire)});
    earliest = it == items_.begin();
  }
  if (earliest) cv_.NotifyOne();
}

void DeadlineWatcher::Stop() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    items_.clear();
  }
  cv_.NotifyAll();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

size_t DeadlineWatcher::size() const {
  MutexLock lock(&mu_);
  return items_.size();
}

void DeadlineWatcher::Loop() {
  MutexLock lock(&mu_);
  while (!stopping_) {
    if (items_.empty()) {
      cv_.Wait(&mu_);
      continue;
    }
    auto now = std::chrono::steady_clock::now();
    if (items_.begin()->first > now) {
      // Wait on a copy: wait_until reads the time point again after waking,
      // when Stop() may already have freed the map node it lived in.
      const auto next = items_.begin()->first;
      cv_.WaitUntil(&mu_, next);
      continue;
    }
    std::vector<Item> due;
    while (!items_.empty() && items_.begin()->first <= now) {
      due.push_back(std::move(items_.begin()->second));
      items_.erase(items_.begin());
    }
    lock.Unlock();
    for (auto& item : due) {
      auto once = item.once.lock();
      if (once && once->Claim()) item.on_expire();
    }
    lock.Lock();
  }
}

}  // namespace hubfs::fs
