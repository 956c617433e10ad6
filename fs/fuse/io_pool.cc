#include "fs/fuse/io_pool.h"

#include <utility>

namespace hubfs::fs {

IoPool::IoPool(size_t threads, size_t max_queued) : max_queued_(max_queued) {
  threads_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { Worker(); });
}

IoPool::~IoPool() { Shutdown(); }

bool IoPool::Submit(std::function<void()> task) {
  {
    MutexLock lock(&mu_);
    if (stopping_ || queue_.size() >= max_queued_) return false;
    queue_.push_back(std::move(task));
  }
  cv_.NotifyOne();
  return true;
}

void IoPool::Shutdown() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  cv_.NotifyAll();
  MutexLock join_lock(&join_mu_);
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

size_t IoPool::pending() const {
  MutexLock lock(&mu_);
  return queue_.size() + running_;
}

void IoPool::Worker() {
  for (;;) {
    std::function<void()> task;
    {
      MutexLock lock(&mu_);
      while (!stopping_ && queue_.empty()) cv_.Wait(&mu_);
      if (queue_.empty()) return;  // stopping and drained
      task = std::move(queue_.front());
      queue_.pop_front();
      ++running_;
    }
    task();
    MutexLock lock(&mu_);
    --running_;
  }
}

}  // namespace hubfs::fs
