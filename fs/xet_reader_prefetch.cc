// XetReader's background read-ahead (see XetReaderOptions::async_readahead).
#include <algorithm>
#include <deque>
#include <utility>

#include "common/log.h"
#include "fs/xet_reader.h"
#include "fs/xet_reader_state.h"

namespace hubfs::fs {

void XetReader::PrefetchLoop() {
  while (true) {
    PrefetchTask task;
    {
      std::unique_lock<std::mutex> lock(pf_mu_);
      pf_cv_.wait(lock, [&] { return pf_stop_ || !pf_queue_.empty(); });
      if (pf_stop_) break;
      task = std::move(pf_queue_.front());
      pf_queue_.pop_front();
    }
    // Nothing is assembled: every segment only fetches and caches.
    Status st = ReadCold(task.state->ref, task.start, task.end, {});
    if (!st.ok()) {
      HUBFS_LOG(kDebug) << "read-ahead failed: " << st;
    }
    {
      std::lock_guard<std::mutex> lock(task.state->mu);
      task.state->prefetching = false;
      if (!st.ok()) task.state->ahead_end = std::min(task.state->ahead_end, task.start);
    }
    task.state->cv.notify_all();
  }
  // Wake readers waiting for prefetches that will not run.
  std::deque<PrefetchTask> left;
  {
    std::lock_guard<std::mutex> lock(pf_mu_);
    left.swap(pf_queue_);
  }
  for (PrefetchTask& t : left) {
    {
      std::lock_guard<std::mutex> lock(t.state->mu);
      t.state->prefetching = false;
    }
    t.state->cv.notify_all();
  }
}

void XetReader::MaybePrefetch(const std::shared_ptr<FileState>& state, uint64_t pos) {
  if (!pf_thread_.joinable()) return;
  const uint64_t ra = options_.readahead_bytes;
  PrefetchTask task;
  {
    std::lock_guard<std::mutex> lock(state->mu);
    if (state->prefetching) return;
    state->ahead_end = std::max(state->ahead_end, pos);
    if (state->ahead_end >= state->ref.size || state->ahead_end - pos > ra / 2) return;
    task = {state, state->ahead_end, std::min(state->ref.size, state->ahead_end + ra)};
    state->prefetching = true;
    state->pf_start = task.start;
    state->pf_end = task.end;
    state->ahead_end = task.end;
  }
  bool queued = false;
  {
    std::lock_guard<std::mutex> lock(pf_mu_);
    if (!pf_stop_ && pf_queue_.size() < 4) {
      pf_queue_.push_back(task);
      queued = true;
    }
  }
  if (queued) {
    pf_cv_.notify_one();
    return;
  }
  std::lock_guard<std::mutex> lock(state->mu);
  state->prefetching = false;
  state->ahead_end = task.start;
}

bool XetReader::WaitForPrefetch(FileState& state, uint64_t start, uint64_t end) {
  std::unique_lock<std::mutex> lock(state.mu);
  bool waited = false;
  while (state.prefetching && start < state.pf_end && end > state.pf_start) {
    state.cv.wait(lock);
    waited = true;
  }
  return waited;
}

}  // namespace hubfs::fs
