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
//     In a tensor file (SetSegments: safetensors, GGUF) the streams follow
//     the tensors: see "Tensor files" below.
//   - MemoryBudget: the mount-wide bound on read-ahead bytes in flight or held
//     in memory; read-ahead is trimmed or skipped rather than exceeding it.
//   - RoundTripGauge: how far away the origin is, from the durations of its
//     small requests; a distant one gets more read-ahead in flight.
//
// Thread-safety: ReadaheadStreams is not thread-safe (its owner locks it);
// MemoryBudget is thread-safe (atomics only); RoundTripGauge is thread-safe.
#ifndef HUBFS_FS_CONTENT_READAHEAD_H_
#define HUBFS_FS_CONTENT_READAHEAD_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

#include "common/mutex.h"

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
  // Tensor files: streams allowed (loaders read many tensors at once), and
  // how far ahead of its position a stream inside a tensor reads, as a
  // fraction of what it has read so far (1/tensor_ahead_divisor; at least
  // initial_window, at most max_window).
  size_t tensor_streams = 64;
  uint64_t tensor_ahead_divisor = 8;
  // 0: none. Otherwise a read-ahead ends on a multiple of `align` (short of
  // the file's end), rounding down, or up when down would leave nothing and
  // the budget allows, and starts on one (rounding down, into bytes already
  // read, when the budget allows): machines sharing a chunk tier then cut a
  // file into the same segments (the same fetch ranges, so their leases
  // meet).
  uint64_t align = 0;
  // Tensor files: a loader that reads whole tensors out of file order is
  // loading the model and will read every tensor; TakeSweep then says so,
  // once, and the caller reads the rest of the file ahead (a sweep). It is
  // told when at least sweep_min_tensors tensors of at least
  // sweep_tensor_bytes each have been read whole, they hold at least twice
  // the bytes read in such tensors not read whole (a tensor-parallel loader
  // reads a slice of each and is never told) and at least 1/16 of the file,
  // and at least sweep_tensor_bytes before the furthest byte read are unread
  // in one piece (a copy reads in order, with only the small holes of
  // pieces answered out of order; the ordinary read-ahead serves it). 0:
  // never.
  uint64_t sweep_tensor_bytes = 4ull << 20;
  uint32_t sweep_min_tensors = 4;
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

  // Makes this a tensor file whose segments (a header, each tensor) start at
  // `starts` (sorted, distinct, the first 0; fs/content/tensor_layout.h).
  // Tensor files:
  //   - a stream reads ahead only to the end of the tensor it is in: loaders
  //     that take tensors out of file order would not use what lies beyond,
  //     and a tensor-parallel loader reads a part of each tensor; a tail
  //     shorter than min_prefetch is taken with the window before it;
  //   - inside a tensor, a stream reads ahead at most 1/tensor_ahead_divisor
  //     of what it has read so far (at least initial_window), so a loader
  //     that reads a slice of a tensor fetches little more than the slice,
  //     and the window reaches max_window after max_window * divisor bytes;
  //   - a read that reaches a tensor's start from outside a stream's end
  //     (another thread taking the next tensor) starts a new stream instead
  //     of carrying on the neighbour's, and up to tensor_streams streams are
  //     kept;
  //   - a stream that has read on across two tensor boundaries reads the
  //     file in order (a copy, a file-order loader): from then on it reads
  //     ahead as in any other file, across tensors, and a read a little past
  //     its end that reaches a tensor is its own (the kernel's pieces of
  //     one read-ahead, answered out of order), not a new stream.
  // An empty `starts` makes it an ordinary file again.
  void SetSegments(std::vector<uint64_t> starts);
  bool tensor_file() const { return !segments_.empty(); }

  // True once per file: the reads so far are a loader reading every tensor
  // (see ReadaheadOptions::sweep_tensor_bytes); the caller sweeps the file.
  bool TakeSweep();
  // TakeSweep may say so again: the tensors the next reads touch are judged
  // anew, by all the bytes read so far (the kernel's page cache holds those
  // read before, so a loader started again does not read them through us).
  void RearmSweep();
  // For a sweep: the first byte at or after `pos` that no read has asked
  // for, and where the next bytes read after it start (*next_read; ~0 for
  // none). Reads are recorded until kMaxCoverageRuns runs.
  uint64_t Unread(uint64_t pos, uint64_t* next_read) const;

  // A distant origin (XetReaderOptions::far_round_trip): every round trip
  // costs a stream's reader a wait, so a stream outside a tensor grows its
  // window four times each time it reads ahead (twice otherwise), up to
  // twice max_window (still within the budget the caller passes).
  void SetFar(bool far) { far_ = far; }

  // A reader is expected to read the file in order from its start (folder
  // read-ahead: it copies the folder), and [0, ahead_end) is being fetched
  // for it: a stream at offset 0 that has read ahead to ahead_end with a
  // window of `window`, reading the file in order (across tensors). Its first
  // read continues this stream and reads on from ahead_end at once, with a
  // grown window: the reader is consuming the seeded bytes as fast as the
  // cache gives them, faster than the next window's plan and fetch round
  // trips would come if they waited until half of them were read (under a
  // 50 ms round trip the origin then sat idle at every file of a folder
  // copy). False (nothing recorded) when the file already has a stream.
  bool Seed(uint64_t ahead_end, uint64_t window);

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
    uint32_t crossings = 0;  // continuing reads that entered a later segment
  };
  // End of the segment holding byte `pos` (the file's size for the last).
  uint64_t SegmentEnd(uint64_t pos, uint64_t file_size) const;
  // Whether some segment starts in [lo, hi).
  bool SegmentStartIn(uint64_t lo, uint64_t hi) const;
  // What a stream in tensor mode reads ahead after a read (OnRead's tail).
  ReadaheadRange TensorReadahead(Stream* s, uint64_t file_size, uint64_t max_bytes);
  // Clips [s->ahead_end, target_end) where another stream started ahead
  // and to `max_bytes`, then aligns it (options_.align); empty when under
  // min_prefetch and short of `end`. `whole` (optional): nothing was cut
  // but for the other streams (the window may grow).
  ReadaheadRange Clip(const Stream& s, uint64_t target_end, uint64_t end, uint64_t max_bytes,
                      bool* whole) const;
  // Records [offset, end) in the read coverage of a tensor file and checks
  // whether it now calls for a sweep.
  void RecordCoverage(uint64_t offset, uint64_t end, uint64_t file_size);
  void AddRun(uint64_t offset, uint64_t end);
  // Whether some bytes unread before the last run span at least
  // sweep_tensor_bytes.
  bool HasLargeHole() const;
  ReadaheadOptions options_;
  std::vector<uint64_t> segments_;
  // What a tensor file's readers have read: disjoint runs, start → end;
  // and for each large tensor touched, its bytes read. Dropped (no sweep)
  // past kMaxCoverageRuns runs before a sweep; no longer grown past them
  // after.
  static constexpr size_t kMaxCoverageRuns = 4096;
  std::map<uint64_t, uint64_t> read_runs_;
  std::map<size_t, uint64_t> tensor_read_;
  uint64_t whole_bytes_ = 0;    // in large tensors read whole
  uint64_t partial_bytes_ = 0;  // read in the other large tensors
  uint32_t whole_tensors_ = 0;
  bool sweep_decided_ = false;  // told, or gave up
  bool sweep_due_ = false;      // told, not yet taken
  bool swept_ = false;          // told (read_runs_ kept for Unread)
  bool far_ = false;
  std::vector<Stream> streams_;
  uint64_t tick_ = 0;
};

// The most read-ahead one file may still take now: an equal share of the
// mount-wide `limit` among the files holding read-ahead (this one and
// `others`), less what this file already holds (`held`), and never more than
// what the budget has left (`available`). One file read with large windows
// then cannot hold the whole budget while another waits for its first one.
uint64_t FairShare(uint64_t limit, uint64_t available, uint64_t held, size_t others);

// The round trip to the origin, estimated from the durations of requests
// whose answers are small (plans): the least of the last `window` samples,
// since time spent queued behind other work (a busy CPU, a busy server) only
// adds to a sample. Each sample is one request's whole duration, so the
// estimate includes the server's own time for it.
class RoundTripGauge {
 public:
  explicit RoundTripGauge(size_t window = 16);
  // Records one request's duration; returns the estimate after it.
  std::chrono::nanoseconds Record(std::chrono::nanoseconds duration) EXCLUDES(mu_);
  // Zero before any sample.
  std::chrono::nanoseconds Estimate() const EXCLUDES(mu_);
  // Samples recorded so far (at most `window` are kept).
  uint64_t samples() const EXCLUDES(mu_);

 private:
  std::chrono::nanoseconds LeastLocked() const REQUIRES(mu_);
  const size_t window_;
  mutable Mutex mu_;
  std::vector<std::chrono::nanoseconds> samples_ GUARDED_BY(mu_);
  size_t next_ GUARDED_BY(mu_) = 0;
  uint64_t recorded_ GUARDED_BY(mu_) = 0;
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
