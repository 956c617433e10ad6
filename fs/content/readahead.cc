#include "fs/content/readahead.h"

#include <algorithm>
#include <utility>

namespace hubfs::fs {

ReadaheadStreams::ReadaheadStreams(ReadaheadOptions options) : options_(options) {
  options_.max_streams = std::max<size_t>(options_.max_streams, 1);
  options_.initial_window = std::max<uint64_t>(options_.initial_window, 1);
  options_.max_window = std::max(options_.max_window, options_.initial_window);
}

ReadaheadRange ReadaheadStreams::OnRead(uint64_t offset, uint64_t len, uint64_t file_size,
                                        uint64_t max_bytes) {
  ++tick_;
  const uint64_t end = std::min(offset + len, file_size);
  if (tensor_file() && options_.sweep_tensor_bytes != 0 && end > offset) {
    if (!sweep_decided_) {
      RecordCoverage(offset, end, file_size);
    } else if (swept_ && read_runs_.size() < kMaxCoverageRuns) {
      AddRun(offset, end);
    }
  }
  // The stream this read continues: one whose end is within slack, or whose
  // read-ahead holds the read (the kernel's pieces of a large read arrive out
  // of order); the one whose end is nearest.
  // Large reads get more slack: the kernel splits one into pieces that
  // several threads answer in any order.
  const uint64_t slack = std::max(options_.slack, 2 * (end - std::min(offset, end)));
  Stream* s = nullptr;
  uint64_t best = ~uint64_t{0};
  for (Stream& st : streams_) {
    if (offset + slack < st.next || offset > std::max(st.next, st.ahead_end) + slack) continue;
    // A read past a stream's end that reaches a tensor the stream has not
    // reached is another reader starting that tensor.
    // Not for a file-order stream: that is its own read, reordered.
    if (tensor_file() && st.crossings < 2 && offset > st.next && SegmentStartIn(st.next, end)) {
      continue;
    }
    const uint64_t dist = offset > st.next ? offset - st.next : st.next - offset;
    if (dist < best) {
      best = dist;
      s = &st;
    }
  }
  if (s == nullptr) {
    // A seek or a random read: a new stream, no read-ahead yet.
    Stream fresh{offset, end, end, 0, tick_, 0};
    const size_t limit = tensor_file() ? std::max(options_.max_streams, options_.tensor_streams)
                                       : options_.max_streams;
    if (streams_.size() < limit) {
      streams_.push_back(fresh);
    } else {
      *std::min_element(streams_.begin(), streams_.end(), [](const Stream& a, const Stream& b) {
        return a.last_use < b.last_use;
      }) = fresh;
    }
    return {};
  }
  s->last_use = tick_;
  // Only a stream made by Seed has read nothing yet (any read ends past 0).
  const bool seeded = s->next == 0;
  if (tensor_file() && SegmentStartIn(s->next, end) && s->crossings < 2) ++s->crossings;
  s->next = std::max(s->next, end);
  s->ahead_end = std::max(s->ahead_end, s->next);
  if (s->ahead_end >= file_size) return {};
  if (tensor_file() && s->crossings < 2) return TensorReadahead(s, file_size, max_bytes);
  // Read ahead again once half of the last window is consumed, with a window
  // twice as large.
  const bool first = s->window == 0;
  if (!first && !seeded && s->ahead_end - s->next >= s->window / 2) return {};
  // A first window is at least twice the read, so that large reads (8 MiB
  // blocks of `hubfs cat`) are read ahead from their second one on.
  const uint64_t window =
      std::min(far_ ? 2 * options_.max_window : options_.max_window,
               first ? std::max(options_.initial_window, 2 * (end - std::min(offset, end)))
                     : s->window * (far_ ? 4 : 2));
  const uint64_t target_end = std::min(file_size, s->next + window);
  bool whole = false;
  ReadaheadRange r = Clip(*s, target_end, file_size, max_bytes, &whole);
  if (r.empty()) return {};
  s->ahead_end = r.end;
  if (first || whole) s->window = window;
  return r;
}

ReadaheadRange ReadaheadStreams::TensorReadahead(Stream* s, uint64_t file_size,
                                                 uint64_t max_bytes) {
  // The tensor holding the stream's last byte; a stream that ended exactly
  // at a tensor's end reads nothing ahead until it reads on.
  const uint64_t seg_end = SegmentEnd(s->next - 1, file_size);
  const uint64_t divisor = std::max<uint64_t>(options_.tensor_ahead_divisor, 1);
  const uint64_t window = std::clamp((s->next - s->start) / divisor, options_.initial_window,
                                     options_.max_window);
  if (s->window != 0 && s->ahead_end - s->next >= window / 2) return {};
  uint64_t target_end = std::min(seg_end, s->next + window);
  // The tensor's last bytes, when fewer than min_prefetch would be left:
  // alone, they would cost a plan and a fetch of their own.
  if (seg_end - target_end < options_.min_prefetch) target_end = seg_end;
  ReadaheadRange r = Clip(*s, target_end, seg_end, max_bytes, nullptr);
  if (r.empty()) return {};
  s->ahead_end = r.end;
  s->window = window;
  return r;
}

ReadaheadRange ReadaheadStreams::Clip(const Stream& s, uint64_t target_end, uint64_t end,
                                      uint64_t max_bytes, bool* whole) const {
  // Stop where another stream started ahead of this one: its reader fetches
  // that region itself.
  uint64_t limit = end;
  for (const Stream& t : streams_) {
    if (&t != &s && t.start >= s.next) limit = std::min(limit, t.start);
  }
  target_end = std::min(target_end, limit);
  if (target_end <= s.ahead_end) return {};
  ReadaheadRange r{s.ahead_end, target_end};
  if (r.size() > max_bytes) r.end = r.start + max_bytes;
  if (whole != nullptr) *whole = r.end == target_end;
  if (options_.align != 0 && r.end < end) {
    // Machines sharing a chunk tier cut a file into the same segments: the
    // end on a multiple of `align` (down, or up when down would leave
    // nothing and the budget allows; never past `end` or another stream).
    const uint64_t down = r.end / options_.align * options_.align;
    const uint64_t up = std::min(limit, down + options_.align);
    if (down > r.start) {
      r.end = down;
    } else if (up > r.end && up - r.start <= max_bytes) {
      r.end = up;
    }
  }
  if (options_.align != 0) {
    // The start too, if the budget allows: a stream's first window starts
    // where its first reads ended, which differs between machines. At most
    // one alignment of bytes already read is fetched again (or found in the
    // tier).
    const uint64_t down = r.start / options_.align * options_.align;
    if (r.end - down <= max_bytes) r.start = down;
  }
  if (r.size() < options_.min_prefetch && r.end < end) return {};
  return r;
}

void ReadaheadStreams::SetSegments(std::vector<uint64_t> starts) {
  segments_ = std::move(starts);
  read_runs_.clear();
  RearmSweep();
}

void ReadaheadStreams::RearmSweep() {
  tensor_read_.clear();
  whole_bytes_ = partial_bytes_ = 0;
  whole_tensors_ = 0;
  sweep_decided_ = sweep_due_ = swept_ = false;
}

void ReadaheadStreams::AddRun(uint64_t offset, uint64_t end) {
  // [offset, end) joins the runs it touches.
  uint64_t lo = offset;
  uint64_t hi = end;
  auto it = read_runs_.upper_bound(offset);
  if (it != read_runs_.begin() && std::prev(it)->second >= offset) {
    --it;
    lo = it->first;
    hi = std::max(hi, it->second);
    it = read_runs_.erase(it);
  }
  while (it != read_runs_.end() && it->first <= hi) {
    hi = std::max(hi, it->second);
    it = read_runs_.erase(it);
  }
  read_runs_.emplace(lo, hi);
}

void ReadaheadStreams::RecordCoverage(uint64_t offset, uint64_t end, uint64_t file_size) {
  AddRun(offset, end);
  auto give_up = [&] {
    sweep_decided_ = true;
    read_runs_.clear();
    tensor_read_.clear();
  };
  if (read_runs_.size() > kMaxCoverageRuns) return give_up();
  // The large tensors the read touches: their bytes read now. segments_[0]
  // is 0, so some segment holds `offset`.
  size_t i = static_cast<size_t>(
                 std::upper_bound(segments_.begin(), segments_.end(), offset) - segments_.begin()) -
             1;
  for (; i < segments_.size() && segments_[i] < end; ++i) {
    const uint64_t s0 = segments_[i];
    const uint64_t s1 =
        i + 1 < segments_.size() ? std::min(segments_[i + 1], file_size) : file_size;
    if (s1 <= s0 || s1 - s0 < options_.sweep_tensor_bytes) continue;
    uint64_t covered = 0;
    auto r = read_runs_.upper_bound(s0);
    if (r != read_runs_.begin()) --r;
    for (; r != read_runs_.end() && r->first < s1; ++r) {
      const uint64_t a = std::max(r->first, s0);
      const uint64_t b = std::min(r->second, s1);
      if (b > a) covered += b - a;
    }
    uint64_t& was = tensor_read_[i];
    if (was == s1 - s0) continue;  // whole already
    partial_bytes_ -= was;
    if (covered == s1 - s0) {
      whole_bytes_ += covered;
      ++whole_tensors_;
    } else {
      partial_bytes_ += covered;
    }
    was = covered;
  }
  if (whole_tensors_ >= std::max<uint32_t>(options_.sweep_min_tensors, 1) &&
      whole_bytes_ >= 2 * partial_bytes_ && whole_bytes_ >= file_size / 16 && HasLargeHole()) {
    sweep_due_ = swept_ = true;
    sweep_decided_ = true;
    tensor_read_.clear();  // the runs stay: the sweep skips what was read
  }
}

uint64_t ReadaheadStreams::Unread(uint64_t pos, uint64_t* next_read) const {
  *next_read = ~uint64_t{0};
  auto it = read_runs_.upper_bound(pos);
  if (it != read_runs_.begin() && std::prev(it)->second > pos) pos = std::prev(it)->second;
  // Runs are disjoint and not adjacent: `it` (if any) starts past pos.
  if (it != read_runs_.end()) *next_read = it->first;
  return pos;
}

bool ReadaheadStreams::HasLargeHole() const {
  // Tensors read out of file order leave tensors unread between them; a
  // copy leaves only the small holes of the kernel's pieces answered out of
  // order.
  uint64_t end = 0;
  for (const auto& [start, run_end] : read_runs_) {
    if (start - end >= options_.sweep_tensor_bytes) return true;
    end = run_end;
  }
  return false;
}

bool ReadaheadStreams::TakeSweep() {
  const bool due = sweep_due_;
  sweep_due_ = false;
  return due;
}

bool ReadaheadStreams::Seed(uint64_t ahead_end, uint64_t window) {
  if (!streams_.empty()) return false;
  ++tick_;
  // Two crossings: a file-order reader, read ahead across tensors.
  streams_.push_back(Stream{0, 0, ahead_end,
                            std::clamp(window, options_.initial_window, options_.max_window), tick_,
                            2});
  return true;
}

uint64_t ReadaheadStreams::SegmentEnd(uint64_t pos, uint64_t file_size) const {
  auto it = std::upper_bound(segments_.begin(), segments_.end(), pos);
  return it == segments_.end() ? file_size : std::min(*it, file_size);
}

bool ReadaheadStreams::SegmentStartIn(uint64_t lo, uint64_t hi) const {
  auto it = std::lower_bound(segments_.begin(), segments_.end(), lo);
  return it != segments_.end() && *it < hi;
}

void ReadaheadStreams::PrefetchEnded(const ReadaheadRange& range, bool ok) {
  if (ok || range.empty()) return;
  for (Stream& s : streams_) {
    if (range.start < s.ahead_end && range.end <= s.ahead_end) {
      s.ahead_end = std::max(s.next, range.start);
      s.window = std::max(options_.initial_window, s.window / 2);
    }
  }
}

uint64_t ReadaheadStreams::WindowAt(uint64_t end) const {
  for (const Stream& s : streams_) {
    if (s.next == end) return s.window;
  }
  return 0;
}

RoundTripGauge::RoundTripGauge(size_t window) : window_(std::max<size_t>(window, 1)) {}

std::chrono::nanoseconds RoundTripGauge::Record(std::chrono::nanoseconds duration) {
  MutexLock lock(&mu_);
  if (samples_.size() < window_) {
    samples_.push_back(duration);
  } else {
    samples_[next_] = duration;
  }
  next_ = (next_ + 1) % window_;
  ++recorded_;
  return LeastLocked();
}

uint64_t RoundTripGauge::samples() const {
  MutexLock lock(&mu_);
  return recorded_;
}

std::chrono::nanoseconds RoundTripGauge::Estimate() const {
  MutexLock lock(&mu_);
  return LeastLocked();
}

std::chrono::nanoseconds RoundTripGauge::LeastLocked() const {
  if (samples_.empty()) return std::chrono::nanoseconds(0);
  return *std::min_element(samples_.begin(), samples_.end());
}

uint64_t FairShare(uint64_t limit, uint64_t available, uint64_t held, size_t others) {
  const uint64_t share = limit / (static_cast<uint64_t>(others) + 1);
  return std::min(available, share > held ? share - held : 0);
}

uint64_t MemoryBudget::TryAcquire(uint64_t want, uint64_t min) {
  uint64_t used = used_.load(std::memory_order_relaxed);
  for (;;) {
    const uint64_t left = used >= limit_ ? 0 : limit_ - used;
    const uint64_t take = std::min(want, left);
    if (take == 0 || take < std::min(min, want)) return 0;
    if (used_.compare_exchange_weak(used, used + take, std::memory_order_relaxed)) {
      uint64_t peak = peak_.load(std::memory_order_relaxed);
      while (used + take > peak &&
             !peak_.compare_exchange_weak(peak, used + take, std::memory_order_relaxed)) {
      }
      return take;
    }
  }
}

void MemoryBudget::Release(uint64_t bytes) { used_.fetch_sub(bytes, std::memory_order_relaxed); }

uint64_t MemoryBudget::available() const {
  const uint64_t used = in_use();
  return used >= limit_ ? 0 : limit_ - used;
}

}  // namespace hubfs::fs
