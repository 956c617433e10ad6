#include "fs/fuse/page_feed.h"

#include <algorithm>
#include <cerrno>
#include <utility>
#include <vector>

namespace hubfs::fs {
namespace {

// The pieces of `bytes` that hold its bytes [at, at + n), into `out`.
void Gather(const HeldBytes& bytes, uint64_t at, uint64_t n, std::vector<iovec>* out) {
  out->clear();
  uint64_t pos = 0;  // of the current piece's first byte
  for (std::span<const uint8_t> piece : bytes.pieces()) {
    if (n == 0) break;
    const uint64_t end = pos + piece.size();
    if (end > at) {
      const uint64_t skip = at - pos;
      const uint64_t take = std::min<uint64_t>(piece.size() - skip, n);
      out->push_back(iovec{const_cast<uint8_t*>(piece.data() + skip), static_cast<size_t>(take)});
      at += take;
      n -= take;
    }
    pos = end;
  }
}

}  // namespace

PageFeed::PageFeed(StoreFn store, uint64_t max_queued_bytes, uint64_t piece_bytes)
    : store_(std::move(store)),
      max_queued_bytes_(max_queued_bytes),
      piece_bytes_(std::max<uint64_t>(piece_bytes, 4096)) {
  thread_ = std::thread([this] { Loop(); });
}

PageFeed::~PageFeed() { Stop(); }

void PageFeed::Opened(const chunkstore::Hash& file, uint64_t ino) {
  MutexLock lock(&mu_);
  auto [it, fresh] = inodes_.try_emplace(ino, file, 0);
  if (!fresh && it->second.first != file) {
    // The number now stands for other content (a forgotten inode's number
    // reused): the old content is no longer open under it.
    auto old = by_file_.find(it->second.first);
    if (old != by_file_.end()) {
      old->second.erase(ino);
      if (old->second.empty()) by_file_.erase(old);
    }
    it->second = {file, 0};
  }
  ++it->second.second;
  by_file_[file].insert(ino);
}

void PageFeed::Released(uint64_t ino) {
  MutexLock lock(&mu_);
  auto it = inodes_.find(ino);
  if (it == inodes_.end()) return;
  if (--it->second.second != 0) return;
  auto files = by_file_.find(it->second.first);
  if (files != by_file_.end()) {
    files->second.erase(ino);
    if (files->second.empty()) by_file_.erase(files);
  }
  inodes_.erase(it);
}

bool PageFeed::Wants(const chunkstore::Hash& file) {
  MutexLock lock(&mu_);
  return !stop_ && by_file_.count(file) != 0;
}

void PageFeed::Store(const chunkstore::Hash& file, uint64_t offset, HeldBytes bytes) {
  const uint64_t size = bytes.size();
  {
    MutexLock lock(&mu_);
    if (!stop_ && size != 0 && by_file_.count(file) != 0 &&
        queued_bytes_ + size <= max_queued_bytes_) {
      queued_bytes_ += size;
      queue_.push_back(Item{file, offset, std::move(bytes), size});
    } else {
      stats_.dropped_bytes += size;
      return;
    }
  }
  cv_.NotifyOne();
}

void PageFeed::Stop() {
  {
    MutexLock lock(&mu_);
    if (stop_ && !thread_.joinable()) return;
    stop_ = true;
    for (const Item& item : queue_) stats_.dropped_bytes += item.size;
    queue_.clear();
    queued_bytes_ = 0;
  }
  cv_.NotifyAll();
  if (thread_.joinable()) thread_.join();
}

PageFeed::Stats PageFeed::stats() const {
  MutexLock lock(&mu_);
  return stats_;
}

void PageFeed::Loop() {
  for (;;) {
    Item item;
    std::vector<uint64_t> inodes;
    {
      MutexLock lock(&mu_);
      while (!stop_ && queue_.empty()) cv_.Wait(&mu_);
      if (stop_) return;
      item = std::move(queue_.front());
      queue_.pop_front();
      queued_bytes_ -= item.size;
      auto it = by_file_.find(item.file);
      if (it != by_file_.end()) inodes.assign(it->second.begin(), it->second.end());
    }
    // No lock held while the kernel takes the pages (it may wait for a read
    // of them to be answered).
    bool stored = false;
    uint64_t failed = 0;
    std::vector<iovec> iov;
    for (uint64_t ino : inodes) {
      bool ok = true;
      for (uint64_t at = 0; ok && at < item.size; at += piece_bytes_) {
        const uint64_t n = std::min(piece_bytes_, item.size - at);
        Gather(item.bytes, at, n, &iov);
        const int rc = store_(ino, item.offset + at, iov);
        // -ENOENT: the kernel forgot the inode (nothing to store into).
        if (rc != 0) {
          ok = false;
          if (rc != -ENOENT) ++failed;
        }
      }
      stored = stored || ok;
    }
    // The kernel has the bytes: the chunks they hold count as read.
    if (stored) item.bytes.Delivered();
    MutexLock lock(&mu_);
    if (stored) {
      stats_.stored_bytes += item.size;
    } else {
      stats_.dropped_bytes += item.size;
    }
    stats_.failed += failed;
  }
}

}  // namespace hubfs::fs
