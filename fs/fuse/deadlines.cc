#include "fs/fuse/deadlines.h"

#include <utility>
#include <vector>

namespace hubfs::fs {

DeadlineWatcher::DeadlineWatcher() : thread_([this] { Loop(); }) {}

DeadlineWatcher::~DeadlineWatcher() { Stop(); }

DeadlineWatcher::Key DeadlineWatcher::Watch(TimePoint deadline, std::weak_ptr<ReplyOnce> once,
                                            std::function<void()> on_expire) {
  bool earliest = false;
  Key key{deadline, 0};
  {
    MutexLock lock(&mu_);
    key.id = next_id_++;
    if (stopping_) return key;
    auto it = items_.emplace(key, Item{std::move(once), std::move(on_expire)}).first;
    earliest = it == items_.begin();
  }
  if (earliest) cv_.NotifyOne();
  return key;
}

void DeadlineWatcher::Cancel(const Key& key) {
  Item dropped;  // destroyed after the lock is released
  MutexLock lock(&mu_);
  auto it = items_.find(key);
  if (it == items_.end()) return;
  dropped = std::move(it->second);
  items_.erase(it);
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
    if (items_.begin()->first.deadline > now) {
      // Wait on a copy: wait_until reads the time point again after waking,
      // when Stop() or Cancel() may already have freed the map node it lived in.
      const auto next = items_.begin()->first.deadline;
      cv_.WaitUntil(&mu_, next);
      continue;
    }
    std::vector<Item> due;
    while (!items_.empty() && items_.begin()->first.deadline <= now) {
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
