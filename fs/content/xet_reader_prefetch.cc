// XetReader's background read-ahead (see XetReaderOptions and
// fs/readahead.h), its speculative read-ahead (Speculate) and the fetch slots
// they share with demand reads.
#include <algorithm>
#include <deque>
#include <optional>
#include <utility>

#include "common/log.h"
#include "fs/content/xet_reader.h"
#include "fs/content/xet_reader_state.h"

namespace hubfs::fs {

void XetReader::AcquireFetchSlot(Priority priority) {
  MutexLock lock(&mu_);
  const size_t max = fetch_limit_;
  if (priority == Priority::kDemand) {
    ++demand_waiting_;
    while (fetches_running_ >= max) fetch_slots_.Wait(&mu_);
    --demand_waiting_;
  } else if (priority == Priority::kReadahead) {
    // Read-ahead leaves one slot free for demand reads and yields to any
    // that wait.
    const size_t limit = max > 1 ? max - 1 : 1;
    ++readahead_waiting_;
    while (demand_waiting_ != 0 || fetches_running_ >= limit) fetch_slots_.Wait(&mu_);
    --readahead_waiting_;
  } else {
    // Speculative read-ahead yields to every other fetch that waits and
    // uses at most half of the slots.
    const size_t limit = max > 1 ? max - 1 : 1;
    const size_t own = std::max<size_t>(max / 2, 1);
    while (demand_waiting_ != 0 || readahead_waiting_ != 0 || fetches_running_ >= limit ||
           speculative_running_ >= own) {
      fetch_slots_.Wait(&mu_);
    }
    ++speculative_running_;
  }
  ++fetches_running_;
}

void XetReader::ReleaseFetchSlot(Priority priority) {
  {
    MutexLock lock(&mu_);
    --fetches_running_;
    if (priority == Priority::kSpeculative) --speculative_running_;
  }
  // Waiters have different conditions (demand, read-ahead): wake them all.
  fetch_slots_.NotifyAll();
}

void XetReader::PrefetchLoop(size_t index) {
  while (true) {
    PrefetchTask task;
    std::optional<SpecRequest> request;
    // The next queued tasks whose plans no thread asked yet: this thread
    // asks them while it runs its own task. Their entries in ahead_ are made
    // while the tasks are still queued, so that the thread that takes one
    // finds its entry (and its EndPrefetch removes it).
    struct Ask {
      AheadKey key;
      std::shared_ptr<FileState> file;
      std::shared_ptr<AheadPlan> plan;
    };
    std::vector<Ask> asks;
    auto plan_queued = [&]() REQUIRES(pf_mu_) {
      const size_t most = std::max<size_t>(options_.plans_ahead, 1);
      for (std::deque<PrefetchTask>* q : {&pf_queue_, &spec_queue_}) {
        for (PrefetchTask& next : *q) {
          if (asks.size() >= most) return;
          if (next.plan_asked) continue;
          next.plan_asked = true;
          const AheadKey key{next.state->ref.hash, next.range.start, next.range.end};
          MutexLock lock(&ahead_mu_);
          if (ahead_.size() >= kMaxAheadPlans || ahead_.count(key) != 0) continue;
          auto plan = std::make_shared<AheadPlan>();
          ahead_.emplace(key, plan);
          asks.push_back(Ask{key, next.state, std::move(plan)});
        }
      }
    };
    {
      MutexLock lock(&pf_mu_);
      // Read-ahead first; speculative work only when none waits, on at
      // most spec_threads threads.
      auto spec_ready = [&]() REQUIRES(pf_mu_) {
        return spec_threads_busy_ < spec_limit_ &&
               (!spec_queue_.empty() || !spec_requests_.empty());
      };
      // A thread beyond the count in use waits on its own condition, so
      // that a NotifyOne of pf_cv_ always reaches a thread that can work.
      while (!pf_stop_) {
        if (index >= active_threads_) {
          pf_parked_cv_.Wait(&pf_mu_);
        } else if (pf_queue_.empty() && !spec_ready()) {
          pf_cv_.Wait(&pf_mu_);
        } else {
          break;
        }
      }
      if (pf_stop_) break;
      if (!pf_queue_.empty()) {
        task = std::move(pf_queue_.front());
        pf_queue_.pop_front();
        plan_queued();
      } else if (!spec_queue_.empty()) {
        task = std::move(spec_queue_.front());
        spec_queue_.pop_front();
        ++spec_threads_busy_;
        plan_queued();
      } else {
        request = std::move(spec_requests_.front());
        spec_requests_.pop_front();
        ++spec_threads_busy_;
      }
    }
    if (request) {
      StartSpeculation(*request);
      {
        MutexLock lock(&pf_mu_);
        --spec_threads_busy_;
      }
      pf_cv_.NotifyAll();
      continue;
    }
    FileState& state = *task.state;
    {
      MutexLock lock(&state.mu);
      for (FileState::Pending& p : state.pending) {
        if (p.range.start == task.range.start && p.range.end == task.range.end) p.started = true;
      }
    }
    // Nothing is assembled: every segment only fetches and caches. Bytes
    // already cached and placed need no plan at all. A sweep's segment of a
    // file that is open goes to the page sink too: as the chunks the cache
    // holds in memory (handed to the kernel without a copy; once it has
    // them they count as read, as a read's reply, so a full write queue
    // may leave them unwritten instead of holding up the next fetches),
    // else assembled.
    Status st;
    const bool to_sink = task.sweep && SinkWants(state.ref.hash);
    HeldBytes pages;
    bool have_pages = false;
    auto run = [&] {
      // Without a cache nothing fetched would stay in memory to hold: the
      // segment is assembled straight from its fetch.
      if (!to_sink || cache_ != nullptr) {
        if (!CachedAndPlaced(state, task.range.start, task.range.end)) {
          st = ReadCold(state.ref, task.range.start, task.range.end, {},
                        task.speculative ? Priority::kSpeculative : Priority::kReadahead);
        }
      }
      if (!to_sink || !st.ok()) return;
      if (TryHeld(state, task.range.start, task.range.end, &pages, /*pages_kept=*/true)) {
        have_pages = true;
        return;
      }
      // Not all held as they are (compressed chunks, or written and gone
      // from memory): assembled, and the chunks in memory still count as
      // read once delivered.
      const std::span<uint8_t> out = pages.Own(task.range.size());
      if (!TryWarm(state, task.range.start, out)) {
        st = ReadCold(state.ref, task.range.start, task.range.end, out, Priority::kReadahead);
      }
      have_pages = st.ok();
      if (have_pages) ReadThroughOnDelivery(state, task.range.start, task.range.end, &pages);
    };
    // Next tasks whose bytes are cached and placed need no plan at all: the
    // entry stays, unasked (its task's TakeAheadPlan finds it not started).
    std::erase_if(asks, [&](const Ask& a) {
      if (!CachedAndPlaced(*a.file, std::get<1>(a.key), std::get<2>(a.key))) return false;
      MutexLock lock(&a.plan->mu);
      a.plan->dropped = true;
      return true;
    });
    if (!asks.empty()) {
      // This task on this thread, the next ones' plans on helpers of the
      // pool when they are free (else here, after this task).
      fan_out_.ForEach(1 + asks.size(), 1 + asks.size(), [&](size_t i) {
        if (i == 0) {
          run();
        } else {
          FetchAheadPlan(asks[i - 1].key, *asks[i - 1].plan);
        }
      });
    } else {
      run();
    }
    if (!st.ok()) {
      counters_.readahead_failed.fetch_add(1, std::memory_order_relaxed);
      HUBFS_LOG(kDebug) << "read-ahead failed: " << st;
    }
    // Store only queues (PageSink never waits for the kernel), so the
    // segment may stay pending meanwhile.
    if (have_pages) {  // only when st is ok
      MutexLock lock(&sink_mu_);
      if (sink_ != nullptr) {
        counters_.sweep_stored_bytes.fetch_add(task.range.size(), std::memory_order_relaxed);
        sink_->Store(state.ref.hash, task.range.start, std::move(pages));
      }
    }
    const bool was_speculative = task.speculative;
    EndPrefetch(task, st.ok());
    if (was_speculative) {
      {
        MutexLock lock(&pf_mu_);
        --spec_threads_busy_;
      }
      pf_cv_.NotifyAll();
    }
  }
  // Tasks that will not run: give back their budget and forget them.
  std::deque<PrefetchTask> left;
  {
    MutexLock lock(&pf_mu_);
    left.swap(pf_queue_);
    for (PrefetchTask& t : spec_queue_) left.push_back(std::move(t));
    spec_queue_.clear();
    spec_requests_.clear();
  }
  for (PrefetchTask& t : left) EndPrefetch(t, false);
}

void XetReader::Speculate(const XetFileRef& file, uint64_t bytes, uint64_t group) {
  if (pf_threads_.empty() || bytes == 0 || file.size == 0) return;
  {
    MutexLock lock(&pf_mu_);
    if (pf_stop_) return;
    // Bounded like the read-ahead queue: beyond it, the hint is dropped.
    if (spec_requests_.size() >= std::max<size_t>(options_.readahead_queue, 1)) {
      counters_.readahead_skipped.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    spec_requests_.push_back(SpecRequest{file, std::min(bytes, file.size), group});
  }
  pf_cv_.NotifyOne();
}

void XetReader::StartSpeculation(const SpecRequest& request) {
  Result<std::shared_ptr<FileState>> file = GetFile(request.ref);
  if (!file.ok()) {
    HUBFS_LOG(kDebug) << "speculative read-ahead of xet file " << request.ref.hash.ToString()
                      << ": " << file.status();
    return;
  }
  const std::shared_ptr<FileState>& state = *file;
  const uint64_t limit =
      budget_.limit() * std::min<uint32_t>(options_.speculative_percent, 100) / 100;
  MutexLock lock(&state->mu);
  // A reader is there already, or read-ahead: it reads for itself.
  if (state->streams.streams() != 0 || !state->pending.empty()) return;
  const uint64_t held = spec_held_.load(std::memory_order_relaxed);
  const uint64_t room = std::min(budget_.available(), limit > held ? limit - held : 0);
  ReadaheadRange range{0, std::min(request.bytes, room)};
  // Whole segments only (a trimmed tail is left to the reader's read-ahead).
  if (range.end < request.bytes) {
    range.end = range.end / options_.segment_bytes * options_.segment_bytes;
  }
  if (range.empty()) {
    counters_.readahead_skipped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (budget_.TryAcquire(range.size(), range.size()) != range.size()) {
    counters_.readahead_skipped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  {
    MutexLock pf_lock(&pf_mu_);
    // Cancelled while this thread loaded the file: nothing is queued.
    if (std::find(spec_cancelled_.begin(), spec_cancelled_.end(), request.group) !=
        spec_cancelled_.end()) {
      budget_.Release(range.size());
      return;
    }
    spec_held_.fetch_add(range.size(), std::memory_order_relaxed);
    state->streams.Seed(range.end, range.size());
    for (uint64_t s = range.start; s < range.end; s = SegmentEnd(s)) {
      PrefetchTask task{state, ReadaheadRange{s, std::min(range.end, SegmentEnd(s))}, true,
                        request.group};
      state->pending.push_back({task.range, false});
      spec_queue_.push_back(std::move(task));
    }
  }
  counters_.speculative_files.fetch_add(1, std::memory_order_relaxed);
  counters_.speculative_bytes.fetch_add(range.size(), std::memory_order_relaxed);
  pf_cv_.NotifyAll();
}

void XetReader::SetPageSink(PageSink* sink) {
  MutexLock lock(&sink_mu_);
  sink_ = sink;
}

bool XetReader::SinkWants(const chunkstore::Hash& file) {
  MutexLock lock(&sink_mu_);
  return sink_ != nullptr && sink_->Wants(file);
}

void XetReader::TopUpSweep(FileState& st, const std::shared_ptr<FileState>& state) {
  st.mu.AssertHeld();  // the callers hold it (see the declaration)
  const uint64_t limit =
      budget_.limit() * std::min<uint32_t>(options_.speculative_percent, 100) / 100;
  uint64_t queued = 0;
  {
    MutexLock pf_lock(&pf_mu_);
    // Half of the queue at most: readers' own read-ahead finds room.
    const size_t max_queued = std::max<size_t>(options_.readahead_queue / 2, 1);
    while (!pf_stop_ && st.sweep_next < st.ref.size && pf_queue_.size() < max_queued) {
      // Bytes a reader asked for are cached, or being fetched for it.
      uint64_t next_read = 0;
      const uint64_t start = st.streams.Unread(st.sweep_next, &next_read);
      if (start >= st.ref.size) {
        st.sweep_next = st.ref.size;
        break;
      }
      uint64_t end = std::min({st.ref.size, SegmentEnd(start), next_read});
      uint64_t next = end;
      // A read-ahead or speculative segment holds some of it: sweep up to
      // the first such, then on from its end.
      const FileState::Pending* first = nullptr;
      for (const FileState::Pending& p : st.pending) {
        if (p.range.start >= end || p.range.end <= start) continue;
        if (first == nullptr || p.range.start < first->range.start) first = &p;
      }
      if (first != nullptr && first->range.start <= start) {
        end = start;
        next = first->range.end;
      } else if (first != nullptr) {
        end = first->range.start;
        next = end;
      }
      if (end > start) {
        const uint64_t bytes = end - start;
        if (sweep_held_.load(std::memory_order_relaxed) + bytes > limit ||
            budget_.TryAcquire(bytes, bytes) != bytes) {
          break;
        }
        sweep_held_.fetch_add(bytes, std::memory_order_relaxed);
        PrefetchTask task{state, ReadaheadRange{start, end}};
        task.sweep = true;
        st.pending.push_back({task.range, false});
        pf_queue_.push_back(std::move(task));
        queued += bytes;
      }
      st.sweep_next = next;
    }
  }
  if (queued != 0) {
    counters_.tensor_sweep_bytes.fetch_add(queued, std::memory_order_relaxed);
    pf_cv_.NotifyAll();
  }
}

void XetReader::CancelSpeculation(uint64_t group) {
  std::deque<PrefetchTask> dropped;
  size_t requests = 0;
  {
    MutexLock lock(&pf_mu_);
    requests =
        std::erase_if(spec_requests_, [&](const SpecRequest& r) { return r.group == group; });
    // A request being started now checks this list before it queues work.
    spec_cancelled_.push_back(group);
    if (spec_cancelled_.size() > 64) spec_cancelled_.pop_front();
    for (auto it = spec_queue_.begin(); it != spec_queue_.end();) {
      if (it->group == group) {
        dropped.push_back(std::move(*it));
        it = spec_queue_.erase(it);
      } else {
        ++it;
      }
    }
  }
  counters_.speculative_cancelled.fetch_add(requests + dropped.size(), std::memory_order_relaxed);
  for (PrefetchTask& t : dropped) EndPrefetch(t, false);
}

void XetReader::Opened(const XetFileRef& file) {
  {
    MutexLock lock(&open_mu_);
    ++open_[file.hash];
  }
  std::shared_ptr<FileState> state;
  {
    MutexLock lock(&mu_);
    if (std::shared_ptr<FileState>* hit = files_.Get(file.hash)) state = *hit;
  }
  if (state != nullptr) {
    MutexLock lock(&state->mu);
    state->released = false;
  }
}

bool XetReader::IsOpen(const chunkstore::Hash& file) {
  MutexLock lock(&open_mu_);
  return open_.count(file) != 0;
}

void XetReader::Closed(const XetFileRef& file) {
  {
    MutexLock lock(&open_mu_);
    auto it = open_.find(file.hash);
    if (it == open_.end() || --it->second != 0) return;
    open_.erase(it);
  }
  std::shared_ptr<FileState> state;
  {
    MutexLock lock(&mu_);
    if (std::shared_ptr<FileState>* hit = files_.Get(file.hash)) state = *hit;
  }
  if (state == nullptr) return;
  // Its sweep segments still queued go too (those being fetched finish):
  // nobody reads them, and a segment queued by a top-up just before the
  // release would otherwise fetch up to the sweep's budget more.
  std::deque<PrefetchTask> dropped;
  {
    MutexLock lock(&state->mu);
    // Opened again meanwhile: the new handle's loader keeps the sweep.
    if (IsOpen(file.hash)) return;
    state->released = true;
    if (!state->sweeping || state->sweep_next >= state->ref.size) return;
    state->sweeping = false;
    {
      MutexLock pf_lock(&pf_mu_);
      for (auto it = pf_queue_.begin(); it != pf_queue_.end();) {
        if (it->sweep && it->state == state) {
          dropped.push_back(std::move(*it));
          it = pf_queue_.erase(it);
        } else {
          ++it;
        }
      }
    }
    // A loader started again (after a crash, say) gets the sweep again once
    // its own reads ask for it; it goes on from sweep_next, which goes back
    // to the first segment dropped.
    for (const PrefetchTask& t : dropped) {
      state->sweep_next = std::min(state->sweep_next, t.range.start);
    }
    state->streams.RearmSweep();
  }
  counters_.sweeps_stopped.fetch_add(1, std::memory_order_relaxed);
  HUBFS_LOG(kDebug) << "sweep of xet file " << file.hash.ToString()
                    << " stopped: its last handle was released (" << dropped.size()
                    << " queued segments dropped)";
  for (const PrefetchTask& t : dropped) EndPrefetch(t, /*ok=*/true);  // cancelled, not failed
}

void XetReader::FetchAheadPlan(const AheadKey& key, AheadPlan& ahead) {
  {
    MutexLock lock(&ahead.mu);
    if (ahead.dropped) return;  // its task started first and asks for itself
    ahead.started = true;
  }
  counters_.reconstructions.fetch_add(1, std::memory_order_relaxed);
  counters_.plans_ahead.fetch_add(1, std::memory_order_relaxed);
  Result<chunkstore::Reconstruction> plan =
      AskPlan(std::get<0>(key), FileByteRange{std::get<1>(key), std::get<2>(key)});
  {
    MutexLock lock(&ahead.mu);
    ahead.plan = std::move(plan);
    ahead.done = true;
  }
  ahead.cv.NotifyAll();
}

std::optional<chunkstore::Reconstruction> XetReader::TakeAheadPlan(const AheadKey& key) {
  std::shared_ptr<AheadPlan> ahead;
  {
    MutexLock lock(&ahead_mu_);
    auto it = ahead_.find(key);
    if (it == ahead_.end()) return std::nullopt;
    ahead = std::move(it->second);
    ahead_.erase(it);
  }
  MutexLock lock(&ahead->mu);
  // Not asked yet (its asker is still busy with its own task): asking now
  // costs one round trip, as waiting for that asker could cost more.
  if (!ahead->started) {
    ahead->dropped = true;
    return std::nullopt;
  }
  // Asked already: waiting costs less than asking again.
  while (!ahead->done) ahead->cv.Wait(&ahead->mu);
  if (!ahead->plan || !ahead->plan->ok()) return std::nullopt;  // asked again by the caller
  return std::move(**ahead->plan);
}

void XetReader::EndPrefetch(const PrefetchTask& task, bool ok) {
  {
    // A plan asked ahead for a task that needed none (cached meanwhile,
    // cancelled, or stopped).
    MutexLock lock(&ahead_mu_);
    ahead_.erase(AheadKey{task.state->ref.hash, task.range.start, task.range.end});
  }
  budget_.Release(task.range.size());
  FileState& state = *task.state;
  if (task.speculative) spec_held_.fetch_sub(task.range.size(), std::memory_order_relaxed);
  if (task.sweep) sweep_held_.fetch_sub(task.range.size(), std::memory_order_relaxed);
  {
    MutexLock lock(&state.mu);
    if (!task.speculative && !task.sweep && state.held != 0) {
      state.held -= std::min(state.held, task.range.size());
      if (state.held == 0) files_holding_.fetch_sub(1, std::memory_order_relaxed);
    }
    auto it =
        std::find_if(state.pending.begin(), state.pending.end(), [&](const FileState::Pending& p) {
          return p.range.start == task.range.start && p.range.end == task.range.end;
        });
    if (it != state.pending.end()) state.pending.erase(it);
    state.streams.PrefetchEnded(task.range, ok);
    // A sweep stops at its first failure (the server may be down: its
    // loader's reads ask for themselves). Otherwise budget came back: a
    // swept file queues its next segments.
    if (task.sweep && !ok) state.sweeping = false;
    if (state.sweeping && state.sweep_next < state.ref.size) TopUpSweep(state, task.state);
  }
  state.cv.NotifyAll();
}

void XetReader::MaybePrefetch(const std::shared_ptr<FileState>& state, uint64_t offset,
                              uint64_t len) {
  if (pf_threads_.empty()) return;
  MutexLock lock(&state->mu);
  // This file's fair share of the budget among the files holding some.
  const size_t others = files_holding_.load(std::memory_order_relaxed) - (state->held != 0 ? 1 : 0);
  state->streams.SetFar(far_.load(std::memory_order_relaxed));
  ReadaheadRange range = state->streams.OnRead(
      offset, len, state->ref.size,
      FairShare(budget_.limit(), budget_.available(), state->held, others));
  // Not for reads that arrive after the file's last release (one of them
  // restarted a stopped sweep, which then fetched up to its budget more).
  if (!state->released && state->streams.TakeSweep() && state->ref.size <= sweep_max_bytes_) {
    state->sweeping = true;
    counters_.tensor_sweeps.fetch_add(1, std::memory_order_relaxed);
  }
  // The reader's own read-ahead first, then what the budget leaves for a
  // sweep of its file.
  auto queue_readahead = [&]() REQUIRES(state->mu) {
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
    if (queued) {
      if (state->held == 0) files_holding_.fetch_add(1, std::memory_order_relaxed);
      state->held += range.size();
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
  };
  queue_readahead();
  if (state->sweeping && state->sweep_next < state->ref.size) TopUpSweep(*state, state);
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
      auto same = [&](const PrefetchTask& t) {
        return t.state.get() == &state && t.range.start == p.range.start &&
               t.range.end == p.range.end;
      };
      auto it = std::find_if(pf_queue_.begin(), pf_queue_.end(), same);
      if (it != pf_queue_.end() && it != pf_queue_.begin()) {
        PrefetchTask t = std::move(*it);
        pf_queue_.erase(it);
        pf_queue_.push_front(std::move(t));
      }
      // A speculative segment the reader came for: its read-ahead now.
      auto spec = std::find_if(spec_queue_.begin(), spec_queue_.end(), same);
      if (spec != spec_queue_.end()) {
        PrefetchTask t = std::move(*spec);
        spec_queue_.erase(spec);
        t.speculative = false;
        spec_held_.fetch_sub(t.range.size(), std::memory_order_relaxed);
        if (state.held == 0) files_holding_.fetch_add(1, std::memory_order_relaxed);
        state.held += t.range.size();
        counters_.speculative_claimed.fetch_add(1, std::memory_order_relaxed);
        pf_queue_.push_front(std::move(t));
        pf_cv_.NotifyOne();
      }
    }
    if (!overlap) return waited;
    state.cv.Wait(&state.mu);
    waited = true;
  }
}

}  // namespace hubfs::fs
