// XetReader's background read-ahead (see XetReaderOptions and
// fs/readahead.h) and the fetch slots it shares with demand reads.
#include <algorithm>
#include <deque>
#include <utility>

#include "common/log.h"
#include "fs/content/xet_reader.h"
#include "fs/content/xet_reader_state.h"

namespace hubfs::fs {

void XetReader::AcquireFetchSlot(Priority priority) {
  const size_t max = std::max<size_t>(options_.max_parallel_fetches, 1);
  MutexLock lock(&mu_);
  if (priority == Priority::kDemand) {
    ++demand_waiting_;
    while (fetches_running_ >= max) fetch_slots_.Wait(&mu_);
    --demand_waiting_;
  } else {
    // Read-ahead leaves one slot free for demand reads and yields to any
    // that wait.
    const size_t limit = max > 1 ? max - 1 : 1;
    while (demand_waiting_ != 0 || fetches_running_ >= limit) fetch_slots_.Wait(&mu_);
  }
  ++fetches_running_;
}

void XetReader::ReleaseFetchSlot() {
  {
    MutexLock lock(&mu_);
    --fetches_running_;
  }
  // Waiters have different conditions (demand, read-ahead): wake them all.
  fetch_slots_.NotifyAll();
}

void XetReader::PrefetchLoop() {
  while (true) {
    PrefetchTask task;
    {
      MutexLock lock(&pf_mu_);
      while (!pf_stop_ && pf_queue_.empty()) pf_cv_.Wait(&pf_mu_);
      if (pf_stop_) break;
      task = std::move(pf_queue_.front());
      pf_queue_.pop_front();
    }
    FileState& state = *task.state;
    {
      MutexLock lock(&state.mu);
      for (FileState::Pending& p : state.pending) {
        if (p.range.start == task.range.start && p.range.end == task.range.end) p.started = true;
      }
    }
    // Nothing is assembled: every segment only fetches and caches. Bytes
    // already cached and placed need no plan at all.
    Status st;
    if (!CachedAndPlaced(state, task.range.start, task.range.end)) {
      st = ReadCold(state.ref, task.range.start, task.range.end, {}, Priority::kReadahead);
    }
    if (!st.ok()) {
      counters_.readahead_failed.fetch_add(1, std::memory_order_relaxed);
      HUBFS_LOG(kDebug) << "read-ahead failed: " << st;
    }
    EndPrefetch(task, st.ok());
  }
  // Tasks that will not run: give back their budget and forget them.
  std::deque<PrefetchTask> left;
  {
    MutexLock lock(&pf_mu_);
    left.swap(pf_queue_);
  }
  for (PrefetchTask& t : left) EndPrefetch(t, false);
}

void XetReader::EndPrefetch(const PrefetchTask& task, bool ok) {
  budget_.Release(task.range.size());
  FileState& state = *task.state;
  {
    MutexLock lock(&state.mu);
    auto it =
        std::find_if(state.pending.begin(), state.pending.end(), [&](const FileState::Pending& p) {
          return p.range.start == task.range.start && p.range.end == task.range.end;
        });
    if (it != state.pending.end()) state.pending.erase(it);
    state.streams.PrefetchEnded(task.range, ok);
  }
  state.cv.NotifyAll();
}

void XetReader::MaybePrefetch(const std::shared_ptr<FileState>& state, uint64_t offset,
                              uint64_t len) {
  if (pf_threads_.empty()) return;
  MutexLock lock(&state->mu);
  ReadaheadRange range = state->streams.OnRead(offset, len, state->ref.size, budget_.available());
  // Skip what another stream's read-ahead already covers.
  for (bool moved = true; moved && !range.empty();) {
    moved = false;
    for (const FileState::Pending& p : state->pending) {
      if (p.range.start <= range.start && range.start < p.range.end) {
        range.start = std::min(p.range.end, range.end);
        moved = true;
      }
    }
  }
  if (range.empty()) return;
  // Another file's read may have taken the budget meanwhile: then none now.
  const uint64_t taken = budget_.TryAcquire(range.size(), range.size());
  // One task per segment: the threads fetch a window's segments in parallel,
  // and a read waits only for the segment it needs.
  size_t tasks = 0;
  for (uint64_t s = range.start; s < range.end; s = SegmentEnd(s)) ++tasks;
  bool queued = taken == range.size();
  if (queued) {
    MutexLock pf_lock(&pf_mu_);
    queued =
        !pf_stop_ && pf_queue_.size() + tasks <= std::max<size_t>(options_.readahead_queue, tasks);
    for (uint64_t s = range.start; queued && s < range.end; s = SegmentEnd(s)) {
      const ReadaheadRange part{s, std::min(range.end, SegmentEnd(s))};
      pf_queue_.push_back(PrefetchTask{state, part});
      state->pending.push_back({part, false});
    }
  }
  if (!queued) {
    budget_.Release(taken);
    counters_.readahead_skipped.fetch_add(1, std::memory_order_relaxed);
    state->streams.PrefetchEnded(range, false);
    return;
  }
  counters_.readahead_windows.fetch_add(1, std::memory_order_relaxed);
  counters_.readahead_bytes.fetch_add(range.size(), std::memory_order_relaxed);
  if (tasks > 1) {
    pf_cv_.NotifyAll();
  } else {
    pf_cv_.NotifyOne();
  }
}

bool XetReader::WaitForPrefetch(FileState& state, uint64_t start, uint64_t end) {
  MutexLock lock(&state.mu);
  bool waited = false;
  for (;;) {
    bool overlap = false;
    for (const FileState::Pending& p : state.pending) {
      if (start >= p.range.end || end <= p.range.start) continue;
      overlap = true;
      if (p.started) continue;
      // A demand read needs it: fetch it next.
      MutexLock pf_lock(&pf_mu_);
      auto it = std::find_if(pf_queue_.begin(), pf_queue_.end(), [&](const PrefetchTask& t) {
        return t.state.get() == &state && t.range.start == p.range.start &&
               t.range.end == p.range.end;
      });
      if (it != pf_queue_.end() && it != pf_queue_.begin()) {
        PrefetchTask t = std::move(*it);
        pf_queue_.erase(it);
        pf_queue_.push_front(std::move(t));
      }
    }
    if (!overlap) return waited;
    state.cv.Wait(&state.mu);
    waited = true;
  }
}

}  // namespace hubfs::fs
