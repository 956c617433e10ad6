#include "fs/content/buffer_pool.h"

#include <utility>

namespace hubfs::fs {

std::vector<uint8_t> BufferPool::Take() {
  MutexLock lock(&mu_);
  if (free_.empty()) return {};
  std::vector<uint8_t> buf = std::move(free_.back());
  free_.pop_back();
  kept_ -= buf.capacity();
  return buf;
}

void BufferPool::Give(std::vector<uint8_t> buf) {
  const uint64_t cap = buf.capacity();
  if (cap == 0 || cap > max_buffer_bytes_) return;
  buf.clear();
  MutexLock lock(&mu_);
  if (kept_ + cap > max_bytes_) return;  // full: freed
  kept_ += cap;
  free_.push_back(std::move(buf));
}

uint64_t BufferPool::kept_bytes() const {
  MutexLock lock(&mu_);
  return kept_;
}

}  // namespace hubfs::fs
