// FuseServer: the thin libfuse 3.14 low-level adapter over a VfsCore. It
// translates requests into core calls and core answers into exactly one
// reply each; errno values are chosen in one function (ErrnoFor). Work that
// may wait for the network (reads, listings not cached) runs on an IoPool
// and replies from there, so FUSE worker threads never block on the network.
//
// This header shows no libfuse type; fuse_lowlevel.h stays in the .cc files.
#ifndef HUBFS_FS_FUSE_FUSE_SERVER_H_
#define HUBFS_FS_FUSE_FUSE_SERVER_H_

#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "fs/content/page_sink.h"
#include "fs/vfs/vfs_core.h"
#include "fs/vfs/vfs_types.h"

namespace hubfs::fs {

struct FuseServerOptions {
  std::string mountpoint;
  std::string fs_name = "hubfs";  // shown by mount(8) / df as the source
  bool allow_other = false;
  // I/O pool: threads and queued requests at most.
  size_t io_threads = 16;
  size_t io_queue = 4096;
  // FUSE worker threads at most (the session loop).
  unsigned max_fuse_threads = 16;
  // Kernel readahead (design §3: about 1 MiB).
  unsigned max_readahead = 1u << 20;
  // A request handed to the I/O pool is answered EIO when it has no answer
  // after this long (the mount's --io-timeout); 0 = no deadline.
  double request_timeout_seconds = 30;
  // Let fuse_set_signal_handlers end the session on SIGTERM/SIGINT/SIGHUP.
  bool handle_signals = true;
  // Mounted rw: the core has a writable view (VfsCore::EnableWrites).
  bool writable = false;
  // Read-only mounts: bytes a reader sweeps ahead for an open file (its
  // PageSink, page_sink()) are stored into the kernel's page cache, at most
  // this many queued. 0 = no feed.
  uint64_t page_feed_bytes = 64ull << 20;
  // How long an fsync of a directory (`hubfs sync`) waits for the commit.
  double sync_timeout_seconds = 600;
  // Called once the session ends (unmounted), before the I/O threads are
  // joined: the place to cancel requests still in flight so that joining
  // does not wait for a server that trickles its answers.
  std::function<void()> on_session_end;
  // Tests only: a lookup of this name (in any directory) is never answered,
  // and the notifier invalidates that entry while the lookup waits: the
  // notifier then waits in the kernel for the directory's lock, the state a
  // `kill -9` can leave stuck (tests/e2e/mount_killed_stuck.sh). "" = off.
  std::string test_stall_lookup;
};

// The errno a VfsErrc becomes (the only place errno values are chosen).
int ErrnoFor(VfsErrc code);

class FuseServer {
 public:
  // Creates the session and mounts it at options.mountpoint. `core` must
  // outlive the server. Errors: kInvalidArgument (bad options),
  // kUnavailable (FUSE unavailable, mount refused).
  static Result<std::unique_ptr<FuseServer>> Mount(VfsCore* core, FuseServerOptions options);
  // Unmounts if still mounted.
  ~FuseServer();
  FuseServer(const FuseServer&) = delete;
  FuseServer& operator=(const FuseServer&) = delete;

  // Serves requests until the filesystem is unmounted or a stop signal
  // arrives; then every request handed to the I/O pool is answered, and the
  // mount is removed. Errors: kIo when the session loop failed.
  Status Run();

  // The sink for a reader's swept bytes (fs/fuse/page_feed.h); nullptr for
  // a writable mount or page_feed_bytes 0. Valid while the server lives;
  // it drops everything once the session ended.
  PageSink* page_sink();
  // Bytes the page feed stored into the kernel's page cache (0 without one).
  uint64_t page_feed_stored_bytes() const;
  // readdir and readdirplus requests the kernel sent (a directory it caches
  // is read once, however often it is listed).
  uint64_t dir_reads() const;

  struct Impl;

 private:
  explicit FuseServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hubfs::fs

#endif  // HUBFS_FS_FUSE_FUSE_SERVER_H_
