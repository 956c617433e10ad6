// Read-ahead policy of the Xet reader (design §3 step 4), kept free of I/O so
// that tests drive it directly:
//   - ReadaheadStreams: the sequential streams of one file. Many threads may
//     read one file (one shared mmap, each thread its own region), so a file
//     has several independent streams, each with its own window. A read that
//     continues a stream (starts within `slack` of where it ended, or inside
//     what it reads ahead: the kernel sends the pieces of its own read-ahead
//     slightly out of order) is a sequential hit; any other read starts a
//     new stream (replacing the least recently used one) with no read-ahead:
//     a random read fetches only the chunks it needs. A stream's window
//     starts at `initial_window` (or twice the read) on its first hit and
//     doubles each time it reads ahead, up to `max_window`; a seek starts
//     over from a new stream. A stream never reads ahead into the region
//     where another stream started further on (threads reading neighbouring
//     regions would otherwise each fetch the next one's bytes as well).
//   - MemoryBudget: the mount-wide bound on read-ahead bytes in flight or held
//     in memory; read-ahead is trimmed or skipped rather than exceeding it.
//
// Thread-safety: ReadaheadStreams is not thread-safe (its owner locks it);
// MemoryBudget is thread-safe (atomics only).
#ifndef HUBFS_FS_CONTENT_READAHEAD_H_
#define HUBFS_FS_CONTENT_READAHEAD_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace hubfs::fs {

struct ReadaheadOptions {
  uint64_t initial_window = 1ull << 20;
  uint64_t max_window = 32ull << 20;
  size_t max_streams = 16;
  // How far before or after a stream's end (or after its read-ahead) a read
  // may start and still continue it; at least twice the read's length.
  uint64_t slack = 512ull << 10;
  // Read-ahead shorter than this (after trimming to the budget) is not worth
  // a request: skipped, and the window does not grow.
  uint64_t min_prefetch = 256ull << 10;
  // 0: none. Otherwise a read-ahead ends on a multiple of `align` (short of
  // the file's end), rounding down, or up when down would leave nothing and
  // the budget allows, and starts on one (rounding down, into bytes already
  // read, when the budget allows): machines sharing a chunk tier then cut a
  // file into the same segments (the same fetch ranges, so their leases
  // meet).
  uint64_t align = 0;
};

// File bytes [start, end) to fetch ahead; empty (start == end) for none.
struct ReadaheadRange {
  uint64_t start = 0;
  uint64_t end = 0;
  bool empty() const { return start >= end; }
  uint64_t size() const { return end > start ? end - start : 0; }
};

class ReadaheadStreams {
 public:
  explicit ReadaheadStreams(ReadaheadOptions options);

  // Records a read of [offset, offset + len) of a file of `file_size` bytes
  // and returns what to fetch ahead, at most `max_bytes` (what the memory
  // budget has left). The range is recorded as being fetched: the caller
  // must report it with PrefetchEnded.
  ReadaheadRange OnRead(uint64_t offset, uint64_t len, uint64_t file_size, uint64_t max_bytes);

  // A read-ahead returned by OnRead ended. When it failed (or was dropped)
  // the stream that asked for it forgets it, so a later read asks again.
  void PrefetchEnded(const ReadaheadRange& range, bool ok);

  size_t streams() const { return streams_.size(); }
  // Window of the stream whose reads ended at `end`, 0 if none (tests).
  uint64_t WindowAt(uint64_t end) const;

 private:
  struct Stream {
    uint64_t start = 0;      // offset of the read that started the stream
    uint64_t next = 0;       // end of the furthest read
    uint64_t ahead_end = 0;  // end of what was fetched (or is being) ahead
    uint64_t window = 0;     // 0 until the first sequential hit
    uint64_t last_use = 0;
  };
  ReadaheadOptions options_;
  std::vector<Stream> streams_;
  uint64_t tick_ = 0;
};

class MemoryBudget {
 public:
  explicit MemoryBudget(uint64_t limit) : limit_(limit) {}

  // Takes up to `want` bytes; returns what was taken: `want` when it fits,
  // else whatever is left if that is at least `min`, else 0.
  uint64_t TryAcquire(uint64_t want, uint64_t min);
  void Release(uint64_t bytes);

  uint64_t limit() const { return limit_; }
  uint64_t available() const;
  uint64_t in_use() const { return used_.load(std::memory_order_relaxed); }
  // Highest in_use() ever seen; never above limit().
  uint64_t peak() const { return peak_.load(std::memory_order_relaxed); }

 private:
  const uint64_t limit_;
  std::atomic<uint64_t> used_{0};
  std::atomic<uint64_t> peak_{0};
};

}  // namespace hubfs::fs

#endif  // HUBFS_FS_CONTENT_READAHEAD_H_
