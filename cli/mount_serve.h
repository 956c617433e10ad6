// The mount's daemon side, in three steps: configure (cache directory,
// logging), build (resolve the revision, then the services, the reader, the
// core and the FUSE session, in that order, so that a missing repo or
// revision fails before anything is mounted) and run (serve until
// unmounted, keeping the status file fresh).
#ifndef HUBFS_CLI_MOUNT_SERVE_H_
#define HUBFS_CLI_MOUNT_SERVE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/log.h"
#include "fs/content/xet_reader.h"
#include "fs/vfs/vfs_types.h"
#include "hub/repo_id.h"
#include "hub/settings.h"

namespace hubfs::cli {

struct MountArgs {
  std::string source;
  std::string mountpoint;
  bool foreground = false;
  bool revisions = false;  // a repo's revisions as directories
  bool hub = false;        // SOURCE "hub": the whole Hub
  std::string cache_dir;
  double metadata_ttl = 10;
  double io_timeout = 30;
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
  bool allow_other = false;
  bool allow_other_private = false;  // --allow-other-private: also a private repo
  uint64_t memory_limit = fs::XetReaderOptions{}.memory_limit;
  // --folder-readahead on|off (fs/vfs/folder_readahead.h).
  bool folder_readahead = fs::FolderReadaheadOptions{}.enabled;
  // --shared-cache URL; nullopt: HUBFS_SHARED_CACHE.
  std::optional<std::string> shared_cache;
  // --cache-size: the chunk cache's bound (else HUBFS_CACHE_SIZE, else 10G).
  std::optional<uint64_t> cache_size;
  log::Level log_level = log::Level::kInfo;
  // --rw: the branch (or refs/pr/N) is writable; changes are committed.
  bool rw = false;
  bool create_pr = false;     // --create-pr: the commits go to one new pull request
  double commit_delay = 2;    // --commit-delay S
  double sync_timeout = 600;  // --sync-timeout S: fsync and `hubfs sync`
  // --upload-while-writing on|off: new files written in order are uploaded
  // as they are written (fs/write/write_stream.h).
  bool upload_while_writing = true;
  double unmount_wait = 60;   // at unmount: pending changes get this long to commit
};

// Where a forked daemon tells its parent how the mount went: one line,
// "ok" or the error.
class ReadyPipe {
 public:
  explicit ReadyPipe(int fd) : fd_(fd) {}
  void Report(const std::string& message) {
    if (fd_ < 0) {
      if (message != "ok") std::fprintf(stderr, "hubfs mount: %s\n", message.c_str());
      return;
    }
    std::string line = message + "\n";
    const char* p = line.data();
    size_t left = line.size();
    while (left > 0) {
      ssize_t n = write(fd_, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      p += n;
      left -= static_cast<size_t>(n);
    }
    close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// The descriptor N of a mountpoint "/dev/fd/N" (a /dev/fuse descriptor the
// caller opened and mounted, as a CSI node plugin does), else nullopt.
std::optional<int> FuseFdOf(std::string_view mountpoint);

// Runs the mount in this process; reports readiness through `ready`.
// Returns the exit status.
int Serve(const MountArgs& args, const hub::Source& source, const hub::Settings& settings,
          ReadyPipe* ready, bool daemon);

}  // namespace hubfs::cli

#endif  // HUBFS_CLI_MOUNT_SERVE_H_
