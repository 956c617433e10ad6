#include "fs/content/block_pipeline.h"

#include <algorithm>
#include <limits>
#include <memory>
#include <vector>

#include "common/mutex.h"

namespace hubfs::fs {
namespace {

constexpr uint64_t kNoBlock = std::numeric_limits<uint64_t>::max();

class Pipeline {
 public:
  Pipeline(uint64_t total, const BlockPipelineOptions& o,
           const std::function<Status(uint64_t, std::span<uint8_t>)>& read,
           const std::function<Status(std::span<const uint8_t>)>& consume,
           const std::function<void(std::span<const uint8_t>)>& follow)
      : total_(total),
        block_(std::max<size_t>(o.block_bytes, 1)),
        blocks_((total + block_ - 1) / block_),
        slots_(static_cast<size_t>(std::clamp<uint64_t>(o.slots, 1, std::max<uint64_t>(blocks_, 1)))),
        read_(read),
        consume_(consume),
        follow_(follow),
        bufs_(slots_),
        holds_(slots_, kNoBlock) {
    // Not zero-filled: every byte is written by a read before it is used.
    for (auto& b : bufs_) b.reset(new uint8_t[std::min<uint64_t>(block_, total_)]);
  }

  // The calling thread: consumes every block in order, reading or
  // following itself whenever that is what stands in its way.
  Status RunCaller() EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    for (uint64_t b = 0; b < blocks_; ++b) {
      while (holds_[b % slots_] != b) {
        if (!error_.ok()) return error_;
        if (!TryRead() && !TryFollow()) cv_.Wait(&mu_);
      }
      if (!error_.ok()) return error_;
      lock.Unlock();
      Status st = consume_(Data(b));
      lock.Lock();
      if (!st.ok()) {
        Fail(st);
        return error_;
      }
      ++consumed_;
      cv_.NotifyAll();
    }
    while (followed_ < blocks_ && error_.ok()) {
      if (!TryFollow()) cv_.Wait(&mu_);
    }
    return error_;
  }

  // A helper: reads blocks and follows until nothing is left for it.
  void RunHelper() EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    while (error_.ok() && (next_read_ < blocks_ || followed_ < blocks_)) {
      if (!TryFollow() && !TryRead()) cv_.Wait(&mu_);
    }
  }

 private:
  std::span<const uint8_t> Data(uint64_t b) const {
    return std::span<const uint8_t>(bufs_[b % slots_].get(), Length(b));
  }
  size_t Length(uint64_t b) const {
    return static_cast<size_t>(std::min<uint64_t>(block_, total_ - b * block_));
  }
  void Fail(const Status& st) REQUIRES(mu_) {
    if (error_.ok()) error_ = st;
    cv_.NotifyAll();
  }

  // Reads the next block if its buffer is free (both stages are past the
  // block it held). Returns whether it did anything. Unlocks meanwhile.
  bool TryRead() REQUIRES(mu_) {
    const uint64_t b = next_read_;
    if (b >= blocks_ || !error_.ok() || b >= std::min(consumed_, followed_) + slots_) return false;
    ++next_read_;
    holds_[b % slots_] = kNoBlock;
    mu_.Unlock();
    Status st = read_(b * block_, std::span<uint8_t>(bufs_[b % slots_].get(), Length(b)));
    mu_.Lock();
    if (!st.ok()) {
      Fail(st);
    } else {
      holds_[b % slots_] = b;
      cv_.NotifyAll();
    }
    return true;
  }

  // Runs `follow` over the next block if it has been read and nobody is
  // following. Returns whether it did anything. Unlocks meanwhile.
  bool TryFollow() REQUIRES(mu_) {
    const uint64_t b = followed_;
    if (following_ || b >= blocks_ || !error_.ok() || holds_[b % slots_] != b) return false;
    following_ = true;
    mu_.Unlock();
    follow_(Data(b));
    mu_.Lock();
    following_ = false;
    ++followed_;
    cv_.NotifyAll();
    return true;
  }

  const uint64_t total_;
  const uint64_t block_;
  const uint64_t blocks_;
  const size_t slots_;
  const std::function<Status(uint64_t, std::span<uint8_t>)>& read_;
  const std::function<Status(std::span<const uint8_t>)>& consume_;
  const std::function<void(std::span<const uint8_t>)>& follow_;
  // A buffer is written only by the thread that claimed its block in
  // TryRead, and read only once holds_ names that block, until both
  // stages are past it.
  std::vector<std::unique_ptr<uint8_t[]>> bufs_;

  Mutex mu_;
  CondVar cv_;
  std::vector<uint64_t> holds_ GUARDED_BY(mu_);  // per buffer: the block it holds, read
  uint64_t next_read_ GUARDED_BY(mu_) = 0;
  uint64_t consumed_ GUARDED_BY(mu_) = 0;
  uint64_t followed_ GUARDED_BY(mu_) = 0;
  bool following_ GUARDED_BY(mu_) = false;
  Status error_ GUARDED_BY(mu_);
};

}  // namespace

Status RunBlockPipeline(FanOutPool& pool, uint64_t total, const BlockPipelineOptions& options,
                        const std::function<Status(uint64_t, std::span<uint8_t>)>& read,
                        const std::function<Status(std::span<const uint8_t>)>& consume,
                        const std::function<void(std::span<const uint8_t>)>& follow) {
  if (total == 0) return Status::Ok();
  Pipeline p(total, options, read, consume, follow);
  Status st;
  const size_t width = 1 + options.readers;
  pool.ForEach(width, width, [&](size_t i) {
    if (i == 0) {
      st = p.RunCaller();
    } else {
      p.RunHelper();
    }
  });
  return st;
}

}  // namespace hubfs::fs
