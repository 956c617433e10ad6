#include "chunkstore/block_stream.h"

#include <algorithm>
#include <string>

namespace hubfs::chunkstore {

BlockStream::BlockStream(const ReadFn& read, size_t block_size, size_t depth,
                         const Sha256Midstate* resume, uint64_t midstate_interval)
    : read_(read),
      block_size_(std::max<size_t>(block_size, 1)),
      depth_(std::max<size_t>(depth, 2)),
      blocks_(depth_),
      sizes_(depth_, 0) {
  if (resume != nullptr) sha_.Resume(*resume);
  sha_.RecordEvery(midstate_interval);
}

BlockStream::~BlockStream() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
  }
  cv_.NotifyAll();
  if (reader_.joinable()) reader_.join();
  if (hasher_.joinable()) hasher_.join();
}

Status BlockStream::ReadInto(size_t slot) {
  std::vector<uint8_t>& block = blocks_[slot];
  if (block.size() != block_size_) block.resize(block_size_);
  HUBFS_ASSIGN_OR_RETURN(size_t n, read_(block));
  if (n > block.size()) {
    return InternalError("a read returned " + std::to_string(n) + " bytes into a buffer of " +
                         std::to_string(block.size()));
  }
  sizes_[slot] = n;
  return Status::Ok();
}

Result<std::span<const uint8_t>> BlockStream::Next() {
  MutexLock lock(&mu_);
  if (handed_out_) {
    ++used_;
    handed_out_ = false;
    cv_.NotifyAll();
  }
  if (!threaded_) {
    // No other thread yet: the lock is only for the analysis.
    if (ended_) {
      if (!error_.ok()) return error_;
      return std::span<const uint8_t>();
    }
    const size_t slot = filled_ % depth_;
    if (Status st = ReadInto(slot); !st.ok()) {
      ended_ = true;
      error_ = st;
      return st;
    }
    const size_t n = sizes_[slot];
    if (n == 0) {
      ended_ = true;
      return std::span<const uint8_t>();
    }
    std::span<const uint8_t> data(blocks_[slot].data(), n);
    sha_.Update(data);
    ++filled_;
    ++hashed_;
    handed_out_ = true;
    // A first block that filled the buffer: the file goes on, probably for
    // long; read and hash ahead from here on.
    if (filled_ == 1 && n == block_size_) {
      threaded_ = true;
      reader_ = std::thread([this] { ReaderLoop(); });
      hasher_ = std::thread([this] { HasherLoop(); });
    }
    return data;
  }
  while (used_ >= filled_ && !ended_) cv_.Wait(&mu_);
  if (used_ >= filled_) {
    if (!error_.ok()) return error_;
    return std::span<const uint8_t>();
  }
  const size_t slot = used_ % depth_;
  handed_out_ = true;
  return std::span<const uint8_t>(blocks_[slot].data(), sizes_[slot]);
}

void BlockStream::ReaderLoop() {
  MutexLock lock(&mu_);
  for (;;) {
    // A slot is free once the block that held it was both hashed and used.
    while (!stop_ && filled_ - std::min(hashed_, used_) >= depth_) cv_.Wait(&mu_);
    if (stop_) return;
    const size_t slot = filled_ % depth_;
    lock.Unlock();
    Status st = ReadInto(slot);
    lock.Lock();
    if (!st.ok()) {
      error_ = st;
      ended_ = true;
    } else if (sizes_[slot] == 0) {
      ended_ = true;
    } else {
      ++filled_;
    }
    cv_.NotifyAll();
    if (ended_) return;
  }
}

void BlockStream::HasherLoop() {
  MutexLock lock(&mu_);
  for (;;) {
    while (!stop_ && hashed_ >= filled_ && !ended_) cv_.Wait(&mu_);
    if (stop_ || hashed_ >= filled_) return;  // stopped, or the end
    const size_t slot = hashed_ % depth_;
    lock.Unlock();
    sha_.Update(std::span<const uint8_t>(blocks_[slot].data(), sizes_[slot]));
    lock.Lock();
    ++hashed_;
    cv_.NotifyAll();
  }
}

std::array<uint8_t, 32> BlockStream::Sha256() {
  if (threaded_) {
    {
      MutexLock lock(&mu_);
      while (!(ended_ && hashed_ >= filled_)) cv_.Wait(&mu_);
    }
    hasher_.join();
  }
  return sha_.Finalize();
}

}  // namespace hubfs::chunkstore
