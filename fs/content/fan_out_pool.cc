#include "fs/content/fan_out_pool.h"

#include <algorithm>

#include "common/deadline.h"

namespace hubfs::fs {

FanOutPool::FanOutPool(size_t threads, size_t max_queued) : max_queued_(max_queued) {
  threads_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { Loop(); });
}

FanOutPool::~FanOutPool() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
  }
  wake_.NotifyAll();
  for (std::thread& t : threads_) t.join();
}

void FanOutPool::Work(Batch& batch) {
  for (size_t i = batch.next.fetch_add(1); i < batch.n; i = batch.next.fetch_add(1)) {
    (*batch.fn)(i);
  }
}

void FanOutPool::Help(Batch& batch) {
  {
    MutexLock lock(&batch.mu);
    if (batch.closed) return;  // the caller finished without us
    ++batch.active;
  }
  {
    // The helper works for the caller's operation, under its deadline.
    ScopedDeadline scope(batch.deadline);
    Work(batch);
  }
  bool last = false;
  {
    MutexLock lock(&batch.mu);
    last = --batch.active == 0;
  }
  if (last) batch.idle.NotifyAll();
}

void FanOutPool::Loop() {
  for (;;) {
    std::shared_ptr<Batch> batch;
    {
      MutexLock lock(&mu_);
      while (!stop_ && queue_.empty()) wake_.Wait(&mu_);
      if (queue_.empty()) return;  // stopping
      batch = std::move(queue_.front());
      queue_.pop_front();
    }
    Help(*batch);
  }
}

void FanOutPool::ForEach(size_t n, size_t width, const std::function<void(size_t)>& fn) {
  if (n == 0) return;
  const size_t helpers = std::min({n, std::max<size_t>(width, 1), threads_.size() + 1}) - 1;
  if (helpers == 0) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  auto batch = std::make_shared<Batch>();
  batch->next = 1;  // index 0 is the caller's
  batch->n = n;
  batch->fn = &fn;
  batch->deadline = ScopedDeadline::Current();
  size_t queued = 0;
  {
    MutexLock lock(&mu_);
    while (queued < helpers && queue_.size() < max_queued_) {
      queue_.push_back(batch);
      ++queued;
    }
  }
  for (size_t i = 0; i < queued; ++i) wake_.NotifyOne();
  fn(0);
  Work(*batch);
  MutexLock lock(&batch->mu);
  batch->closed = true;  // helpers not yet started stay out
  while (batch->active > 0) batch->idle.Wait(&batch->mu);
}

}  // namespace hubfs::fs
