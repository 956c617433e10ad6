#include "fs/vfs/invalidation_queue.h"

#include <utility>

namespace hubfs::fs {

void InvalidationQueue::SetListener(std::function<void()> listener) {
  MutexLock lock(&mu_);
  listener_ = std::move(listener);
}

void InvalidationQueue::Queue(std::vector<VfsInvalidation> items) {
  if (items.empty()) return;
  std::function<void()> listener;
  {
    MutexLock lock(&mu_);
    items_.insert(items_.end(), items.begin(), items.end());
    listener = listener_;
  }
  if (listener) listener();
}

std::vector<VfsInvalidation> InvalidationQueue::Take() {
  MutexLock lock(&mu_);
  return std::exchange(items_, {});
}

}  // namespace hubfs::fs
