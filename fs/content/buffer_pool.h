// BufferPool: byte buffers kept for reuse, so that a body fetched into one
// writes into pages touched before instead of fresh ones (on a small VM the
// first touch of memory - a page fault and the kernel zeroing the page -
// costs as much as the copy that fills it). Bounded: at most `max_bytes` of
// capacity is kept, and a buffer larger than `max_buffer_bytes` is freed.
//
// Thread-safety: thread-safe.
#ifndef HUBFS_FS_CONTENT_BUFFER_POOL_H_
#define HUBFS_FS_CONTENT_BUFFER_POOL_H_

#include <cstdint>
#include <vector>

#include "common/mutex.h"

namespace hubfs::fs {

class BufferPool {
 public:
  BufferPool(uint64_t max_bytes, uint64_t max_buffer_bytes)
      : max_bytes_(max_bytes), max_buffer_bytes_(max_buffer_bytes) {}

  // An empty buffer with room for at least `bytes`: the smallest kept one
  // that has it, else one grown to `bytes` rounded up to a MiB (so that
  // bodies of about the same size fit it later).
  std::vector<uint8_t> Take(uint64_t bytes) EXCLUDES(mu_);
  // Keeps `buf` (cleared) for a later Take when there is room for it.
  void Give(std::vector<uint8_t> buf) EXCLUDES(mu_);
  // Frees every kept buffer (an idle process gives its memory back).
  void Clear() EXCLUDES(mu_);
  // Capacity kept now.
  uint64_t kept_bytes() const EXCLUDES(mu_);

 private:
  const uint64_t max_bytes_;
  const uint64_t max_buffer_bytes_;
  mutable Mutex mu_;
  std::vector<std::vector<uint8_t>> free_ GUARDED_BY(mu_);
  uint64_t kept_ GUARDED_BY(mu_) = 0;
};

}  // namespace hubfs::fs

#endif  // HUBFS_FS_CONTENT_BUFFER_POOL_H_
