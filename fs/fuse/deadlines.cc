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
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    auto it = items_.emplace(deadline, Item{std::move(once), std::move(on_expire)});
    earliest = it == items_.begin();
  }
  if (earliest) cv_.notify_one();
}

void DeadlineWatcher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    items_.clear();
  }
  cv_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

size_t DeadlineWatcher::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return items_.size();
}

void DeadlineWatcher::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (items_.empty()) {
      cv_.wait(lock);
      continue;
    }
    auto now = std::chrono::steady_clock::now();
    if (items_.begin()->first > now) {
      // Wait on a copy: wait_until reads the time point again after waking,
      // when Stop() may already have freed the map node it lived in.
      const auto next = items_.begin()->first;
      cv_.wait_until(lock, next);
      continue;
    }
    std::vector<Item> due;
    while (!items_.empty() && items_.begin()->first <= now) {
      due.push_back(std::move(items_.begin()->second));
      items_.erase(items_.begin());
    }
    lock.unlock();
    for (auto& item : due) {
      auto once = item.once.lock();
      if (once && once->Claim()) item.on_expire();
    }
    lock.lock();
  }
}

}  // namespace hubfs::fs
