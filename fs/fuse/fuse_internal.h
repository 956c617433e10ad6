// Internals of the FUSE adapter shared by its files (fuse_server.cc: the
// session and the read side; fuse_write_ops.cc: the operations that change
// a writable view). Not for use outside fs/fuse.
#ifndef HUBFS_FS_FUSE_FUSE_INTERNAL_H_
#define HUBFS_FS_FUSE_FUSE_INTERNAL_H_

#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 12)
#include <fuse_lowlevel.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <thread>
#include <unordered_set>

#include "common/clock.h"
#include "common/deadline.h"
#include "common/log.h"
#include "common/mutex.h"
#include "fs/fuse/deadlines.h"
#include "fs/fuse/fuse_server.h"
#include "fs/fuse/io_pool.h"
#include "fs/fuse/page_feed.h"

namespace hubfs::fs {

struct FuseServer::Impl {
  VfsCore* core = nullptr;
  FuseServerOptions options;
  std::unique_ptr<IoPool> pool;
  std::unique_ptr<DeadlineWatcher> deadlines;
  fuse_session* session = nullptr;
  bool mounted = false;
  // Swept bytes into the page cache (read-only mounts); see page_feed.h.
  std::unique_ptr<PageFeed> feed;
  // The kernel takes FUSE_NOTIFY_STORE (set at INIT).
  std::atomic<bool> notify_store_ok{false};
  std::atomic<uint64_t> dir_reads{0};  // FuseServer::dir_reads
  // The file handles registered with `feed` (not those opened O_DIRECT,
  // whose reader keeps no page: `hubfs prefetch`).
  Mutex fed_mu;
  std::unordered_set<uint64_t> fed_handles GUARDED_BY(fed_mu);
  bool signals_set = false;

  // Kernel invalidations after a branch view moved run on their own thread:
  // it holds no lock while it calls into the kernel and is never inside a
  // request handler (an invalidation of a directory whose lookup is still
  // unanswered would wait for that answer).
  std::thread notifier;
  Mutex notify_mu;
  CondVar notify_cv;
  bool notify_pending GUARDED_BY(notify_mu) = false;
  bool notify_stop GUARDED_BY(notify_mu) = false;
  // Tests only (options.test_stall_lookup): entries whose lookup is left
  // unanswered, to invalidate from the notifier while it waits.
  std::vector<std::pair<uint64_t, std::string>> stalled_entries GUARDED_BY(notify_mu);

  void StartNotifier();
  void StopNotifier();
  void NotifierLoop();
};

namespace fuse_internal {


inline FuseServer::Impl& Self(fuse_req_t req) { return *static_cast<FuseServer::Impl*>(fuse_req_userdata(req)); }

inline void ReplyError(fuse_req_t req, const VfsError& error, const char* op) {
  if (error.code == VfsErrc::kIo || error.code == VfsErrc::kTimedOut ||
      error.code == VfsErrc::kAccess || error.code == VfsErrc::kNoSpace ||
      error.code == VfsErrc::kConflict) {
    HUBFS_LOG(kWarning) << op << ": " << VfsErrcName(error.code) << ": " << error.cause;
  }
  fuse_reply_err(req, ErrnoFor(error.code));
}

inline struct stat ToStat(const VfsAttr& a) {
  struct stat st;
  std::memset(&st, 0, sizeof(st));
  st.st_ino = a.ino;
  st.st_mode = (a.is_dir ? S_IFDIR : S_IFREG) | a.mode;
  st.st_nlink = a.nlink;
  st.st_uid = a.uid;
  st.st_gid = a.gid;
  st.st_size = static_cast<off_t>(a.size);
  st.st_blocks = static_cast<blkcnt_t>(a.blocks);
  // The I/O size tools pick from it (cp, dd without bs, stdio buffers):
  // 1 MiB, the largest FUSE read or write, so a copy into a --rw mount makes
  // 1 MiB writes, not 128 KiB ones (each a request to the daemon).
  st.st_blksize = 1 << 20;
  st.st_mtim.tv_sec = a.mtime;
  st.st_atim.tv_sec = a.mtime;
  st.st_ctim.tv_sec = a.mtime;
  return st;
}

inline fuse_entry_param ToEntryParam(const VfsEntry& e) {
  fuse_entry_param p;
  std::memset(&p, 0, sizeof(p));
  p.ino = e.attr.ino;
  p.generation = 1;
  p.attr = ToStat(e.attr);
  p.attr_timeout = e.attr_timeout;
  p.entry_timeout = e.entry_timeout;
  return p;
}

// Runs work(once) on the I/O pool. The request is answered EIO when the
// pool is full, or at the request deadline if `work` has not claimed `once`
// by then; `work` replies only after once.Claim() succeeds, and must not
// touch `req` before (the watcher's reply frees it).
template <typename F>
void Offload(fuse_req_t req, const char* op, F work) {
  FuseServer::Impl& self = Self(req);
  auto once = std::make_shared<ReplyOnce>();
  std::optional<Clock::TimePoint> deadline;
  std::optional<DeadlineWatcher::Key> watch;
  DeadlineWatcher* const watcher = self.deadlines.get();
  if (self.options.request_timeout_seconds > 0) {
    deadline = std::chrono::time_point_cast<Clock::Duration>(
        std::chrono::steady_clock::now() +
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            std::chrono::duration<double>(self.options.request_timeout_seconds)));
    watch = watcher->Watch(*deadline, once, [req, op] {
      HUBFS_LOG(kWarning) << op << ": no answer within the I/O timeout";
      fuse_reply_err(req, ErrnoFor(VfsErrc::kTimedOut));
    });
  }
  // The worker runs under the same deadline, so that hub/'s retries stop
  // when the answer could no longer reach the kernel. Once `work` returns
  // the request is over (answered, or its `once` dies with this closure):
  // its watch goes too.
  if (!self.pool->Submit([once, deadline, watch, watcher, w = std::move(work)]() mutable {
        {
          ScopedDeadline scope(deadline);
          w(*once);
        }
        if (watch) watcher->Cancel(*watch);
      })) {
    if (watch) watcher->Cancel(*watch);
    if (once->Claim()) {
      HUBFS_LOG(kWarning) << op << ": I/O queue full; request refused";
      fuse_reply_err(req, ErrnoFor(VfsErrc::kIo));
    }
  }
}

// Offload without a deadline: for fsync, which waits for a commit up to
// the mount's --sync-timeout (the view enforces it), not --io-timeout.
template <typename F>
void OffloadLong(fuse_req_t req, const char* op, F work) {
  FuseServer::Impl& self = Self(req);
  auto once = std::make_shared<ReplyOnce>();
  if (!self.pool->Submit([once, w = std::move(work)]() mutable { w(*once); })) {
    if (once->Claim()) {
      HUBFS_LOG(kWarning) << op << ": I/O queue full; request refused";
      fuse_reply_err(req, ErrnoFor(VfsErrc::kIo));
    }
  }
}

// Fills the write operations of a writable mount into `ops` (they answer
// EROFS for a read-only one).
void AddWriteOps(fuse_lowlevel_ops* ops);

}  // namespace fuse_internal
}  // namespace hubfs::fs

#endif  // HUBFS_FS_FUSE_FUSE_INTERNAL_H_
