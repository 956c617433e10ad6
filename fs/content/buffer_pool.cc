#include "fs/content/buffer_pool.h"

#include <algorithm>
#include <utility>

namespace hubfs::fs {

std::vector<uint8_t> BufferPool::Take(uint64_t bytes) {
  std::vector<uint8_t> buf;
  std::vector<uint8_t> dropped;  // freed after the lock
  {
    MutexLock lock(&mu_);
    auto best = free_.end();
    for (auto it = free_.begin(); it != free_.end(); ++it) {
      if (it->capacity() >= bytes && (best == free_.end() || it->capacity() < best->capacity())) {
        best = it;
      }
    }
    if (best != free_.end()) {
      buf = std::move(*best);
      free_.erase(best);
      kept_ -= buf.capacity();
      return buf;
    }
    // None is large enough: the largest is let go (its memory back to the
    // allocator for the new one) rather than kept unused.
    auto largest = std::max_element(free_.begin(), free_.end(), [](const auto& a, const auto& b) {
      return a.capacity() < b.capacity();
    });
    if (largest != free_.end()) {
      kept_ -= largest->capacity();
      dropped = std::move(*largest);
      free_.erase(largest);
    }
  }
  constexpr uint64_t kRound = 1u << 20;
  buf.reserve(static_cast<size_t>((bytes + kRound - 1) / kRound * kRound));
  return buf;
}

void BufferPool::Give(std::vector<uint8_t> buf) {
  const uint64_t cap = buf.capacity();
  if (cap == 0 || cap > max_buffer_bytes_) return;
  buf.clear();
  MutexLock lock(&mu_);
  if (kept_ + cap > max_bytes_) return;  // full: freed (after the lock, with the argument)
  kept_ += cap;
  free_.push_back(std::move(buf));
}

void BufferPool::Clear() {
  std::vector<std::vector<uint8_t>> dropped;  // freed after the lock
  MutexLock lock(&mu_);
  dropped.swap(free_);
  kept_ = 0;
}

uint64_t BufferPool::kept_bytes() const {
  MutexLock lock(&mu_);
  return kept_;
}

}  // namespace hubfs::fs
