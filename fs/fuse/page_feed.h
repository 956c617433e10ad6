// PageFeed: the FUSE server's PageSink (fs/content/page_sink.h). It knows
// which inodes are open with which Xet content (read-only mounts only: there
// an inode's content never changes) and stores the bytes the reader hands it
// into their page cache with fuse_lowlevel_notify_store, on a thread of its
// own: a store waits for pages the kernel holds locked while their read is
// answered, so it must never run on a thread that answers reads or fetches.
// What does not fit in the queue (max_queued_bytes) is dropped: the reads
// then fetch it from the chunk cache as they would without a feed.
//
// Shutdown: a store waits (uninterruptibly, in the kernel) for pages locked
// by reads in flight, so the feed starts none once the session loop has
// ended, and is stopped after the reads handed to the I/O side are answered.
// A store that began just before a stop signal, on a page whose read the
// kernel had queued but the loop had not taken yet, would wait until the
// connection is aborted (not handled: a window of microseconds).
//
// Thread-safety: thread-safe. Stop() before the session goes.
#ifndef HUBFS_FS_FUSE_PAGE_FEED_H_
#define HUBFS_FS_FUSE_PAGE_FEED_H_

#include <sys/uio.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <thread>

#include "chunkstore/hash.h"
#include "common/mutex.h"
#include "fs/content/page_sink.h"

namespace hubfs::fs {

class PageFeed : public PageSink {
 public:
  // `store(ino, offset, data)` puts the bytes `data` gathers into an
  // inode's page cache at offset (notify_store; a negative errno on
  // failure). Pieces of at most piece_bytes each.
  using StoreFn =
      std::function<int(uint64_t ino, uint64_t offset, std::span<const iovec> data)>;
  PageFeed(StoreFn store, uint64_t max_queued_bytes, uint64_t piece_bytes = 1ull << 20);
  ~PageFeed() override;
  PageFeed(const PageFeed&) = delete;
  PageFeed& operator=(const PageFeed&) = delete;

  // An open (read-only) of `ino`, whose content is `file`; Released once
  // per Opened.
  void Opened(const chunkstore::Hash& file, uint64_t ino) EXCLUDES(mu_);
  void Released(uint64_t ino) EXCLUDES(mu_);

  bool Wants(const chunkstore::Hash& file) override EXCLUDES(mu_);
  // Held until stored (or dropped); Delivered() once the bytes reached at
  // least one of the inodes.
  void Store(const chunkstore::Hash& file, uint64_t offset, HeldBytes bytes) override
      EXCLUDES(mu_);

  // Drops what is queued and joins the thread; later Stores are dropped.
  void Stop() EXCLUDES(mu_);

  struct Stats {
    uint64_t stored_bytes = 0;   // reached the kernel (for at least one inode)
    uint64_t dropped_bytes = 0;  // queue full, stopped, or no inode open
    uint64_t failed = 0;         // stores the kernel refused
  };
  Stats stats() const EXCLUDES(mu_);

 private:
  struct Item {
    chunkstore::Hash file;
    uint64_t offset = 0;
    HeldBytes bytes;
    uint64_t size = 0;
  };
  void Loop();

  const StoreFn store_;
  const uint64_t max_queued_bytes_;
  const uint64_t piece_bytes_;
  mutable Mutex mu_;
  CondVar cv_;
  std::map<uint64_t, std::pair<chunkstore::Hash, uint32_t>> inodes_ GUARDED_BY(mu_);  // opens
  std::map<chunkstore::Hash, std::set<uint64_t>> by_file_ GUARDED_BY(mu_);
  std::deque<Item> queue_ GUARDED_BY(mu_);
  uint64_t queued_bytes_ GUARDED_BY(mu_) = 0;
  bool stop_ GUARDED_BY(mu_) = false;
  Stats stats_ GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace hubfs::fs

#endif  // HUBFS_FS_FUSE_PAGE_FEED_H_
