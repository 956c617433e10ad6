#include "chunkstore/block_stream.h"

#include <algorithm>
#include <string>

namespace hubfs::chunkstore {

BlockStream::BlockStream(const ReadFn& read, size_t block_size, size_t depth)
    : read_(read),
      block_size_(std::max<size_t>(block_size, 1)),
      depth_(std::max<size_t>(depth, 2)),
      blocks_(depth_),
      sizes_(depth_, 0) {}

BlockStream::~BlockStream() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
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
  if (!threaded_) {
    if (handed_out_) {
      ++used_;
      handed_out_ = false;
    }
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
  std::unique_lock<std::mutex> lock(mu_);
  if (handed_out_) {
    ++used_;
    handed_out_ = false;
    cv_.notify_all();
  }
  cv_.wait(lock, [this] { return used_ < filled_ || ended_; });
  if (used_ == filled_) {
    if (!error_.ok()) return error_;
    return std::span<const uint8_t>();
  }
  const size_t slot = used_ % depth_;
  handed_out_ = true;
  return std::span<const uint8_t>(blocks_[slot].data(), sizes_[slot]);
}

void BlockStream::ReaderLoop() {
  for (;;) {
    size_t slot;
    {
      std::unique_lock<std::mutex> lock(mu_);
      // A slot is free once the block that held it was both hashed and used.
      cv_.wait(lock, [this] { return stop_ || filled_ - std::min(hashed_, used_) < depth_; });
      if (stop_) return;
      slot = filled_ % depth_;
    }
    Status st = ReadInto(slot);
    std::lock_guard<std::mutex> lock(mu_);
    if (!st.ok()) {
      error_ = st;
      ended_ = true;
    } else if (sizes_[slot] == 0) {
      ended_ = true;
    } else {
      ++filled_;
    }
    cv_.notify_all();
    if (ended_) return;
  }
}

void BlockStream::HasherLoop() {
  for (;;) {
    size_t slot;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stop_ || hashed_ < filled_ || ended_; });
      if (stop_ || hashed_ == filled_) return;  // stopped, or the end
      slot = hashed_ % depth_;
    }
    sha_.Update(std::span<const uint8_t>(blocks_[slot].data(), sizes_[slot]));
    std::lock_guard<std::mutex> lock(mu_);
    ++hashed_;
    cv_.notify_all();
  }
}

std::array<uint8_t, 32> BlockStream::Sha256() {
  if (threaded_) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return ended_ && hashed_ == filled_; });
    }
    hasher_.join();
  }
  return sha_.Finalize();
}

}  // namespace hubfs::chunkstore
