// Types the kernel-free filesystem core (VfsCore) and its parts answer with. The FUSE
// adapter turns a VfsErrc into an errno in exactly one function; nothing in
// the core knows about errno values.
#ifndef HUBFS_FS_VFS_VFS_TYPES_H_
#define HUBFS_FS_VFS_VFS_TYPES_H_

#include <cassert>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "common/clock.h"
#include "common/status.h"
#include "fs/content/repo_source.h"
#include "hub/repo_id.h"

namespace hubfs::fs {

// A TTL in seconds as a clock duration.
inline Clock::Duration SecondsToDuration(double s) {
  return std::chrono::duration_cast<Clock::Duration>(std::chrono::duration<double>(s));
}

// Why a filesystem operation failed, in filesystem terms.
enum class VfsErrc {
  kNoEntry,      // no such name / stale inode
  kNotDir,       // a directory operation on a file
  kIsDir,        // a file operation on a directory
  kReadOnly,     // any change to a read-only view
  kNoAttr,       // no such extended attribute
  kRange,        // a reply buffer too small for the value
  kBadHandle,    // unknown file or directory handle
  kWouldBlock,   // the answer needs the network; retry with may_block
  kAccess,       // the Hub refused (401/403)
  kNoSpace,      // a bound was hit (inode or handle table), a local disk is full
  kTimedOut,     // a network deadline passed
  kIo,           // the source failed (network down, corrupt data, bug)
  kInvalid,      // malformed argument
  kConflict,     // the Hub refused a change made against an older state (409/412)
  kNotEmpty,     // rmdir of a directory that is not empty
  kExists,       // the name exists (RENAME_NOREPLACE)
  kCrossDevice,  // a rename between two revision directories
};

// Lowercase name for logs ("no_entry").
const char* VfsErrcName(VfsErrc code);

struct VfsError {
  VfsErrc code = VfsErrc::kIo;
  Status cause;  // what the source reported, for logs; may be OK
};

// Maps a source error (hub, CAS, cache) to the filesystem condition it means.
VfsError VfsErrorFromStatus(const Status& status);

// A value or a VfsError.
template <typename T>
class [[nodiscard]] VfsResult {
 public:
  VfsResult(VfsError error) : v_(std::move(error)) {}      // NOLINT(implicit)
  VfsResult(VfsErrc code) : v_(VfsError{code, Status()}) {}  // NOLINT(implicit)
  VfsResult(T value) : v_(std::move(value)) {}             // NOLINT(implicit)
  bool ok() const { return std::holds_alternative<T>(v_); }
  // REQUIRES: !ok()
  const VfsError& error() const { return std::get<VfsError>(v_); }
  // REQUIRES: ok()
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

 private:
  std::variant<VfsError, T> v_;
};

struct VfsOk {};
using VfsStatus = VfsResult<VfsOk>;

// What stat(2) shows. Times are Unix seconds.
struct VfsAttr {
  uint64_t ino = 0;
  bool is_dir = false;
  uint32_t mode = 0;  // permission bits only (0444 / 0555)
  uint32_t nlink = 1;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t size = 0;
  uint64_t blocks = 0;  // 512-byte units
  int64_t mtime = 0;
};

// The answer to a lookup: the attributes and how long the kernel may cache
// them. The caller owes one Forget for each successful lookup.
struct VfsEntry {
  VfsAttr attr;
  double entry_timeout = 0;
  double attr_timeout = 0;
};

// Folder read-ahead (fs/vfs/folder_readahead.h).
struct FolderReadaheadOptions {
  // false: no folder read-ahead (`hubfs mount --folder-readahead off`).
  bool enabled = true;
  // Files read ahead of a copier, and their bytes in all (each file from
  // its start). The caller keeps lead_bytes within the cache's probationary
  // share (bytes read ahead and not yet read must not evict each other).
  size_t max_files = 2;
  uint64_t lead_bytes = 64ull << 20;
  // How much of a file a handle reads in order from its start before it is
  // taken for a copier (the whole file when smaller).
  uint64_t trigger_bytes = 4ull << 20;
  // A read continues the handle's order when it starts at most this far
  // from the furthest byte read (the kernel's pieces of one read and its
  // own read-ahead arrive out of order).
  uint64_t slack = 2ull << 20;
  // Handles followed at most (the oldest is forgotten beyond).
  size_t max_handles = 1024;
};

struct VfsOptions {
  uint32_t uid = 0;
  uint32_t gid = 0;
  // Kernel cache lifetimes: views of a commit sha never change; views of a
  // branch or tag re-resolve after metadata_ttl.
  double immutable_ttl_seconds = 365.0 * 24 * 3600;
  double metadata_ttl_seconds = 10;
  size_t max_inodes = 1 << 20;
  size_t max_cached_dirs = 4096;
  size_t max_open_handles = 1 << 16;
  // Multi-revision mounts: repos whose refs are kept, namespace listings
  // kept, and names remembered per type or namespace directory.
  size_t max_cached_repos = 1024;
  size_t max_cached_namespaces = 1024;
  size_t max_remembered_names = 4096;
  FolderReadaheadOptions folder_readahead;
};

// The shape of a mount with synthetic directories.
struct VfsLayout {
  enum class Kind {
    kRevisions,  // the root is `repo`'s revisions directory
    kHub,        // the root holds models/, datasets/, spaces/
  };
  Kind kind = Kind::kRevisions;
  hub::RepoId repo;        // kRevisions only
  std::string subdir;      // "" or "a/b": the root of every revision view
  int64_t mount_time = 0;  // mtime of the synthetic directories
};

// One revision of one repo as a directory tree.
struct ViewSpec {
  hub::RepoId repo;
  std::string revision;  // as the user named it (branch, tag, sha)
  RevisionInfo resolved;
  std::string subdir;    // "" or "a/b"
  // True when `revision` is a commit sha: nothing in the view can change.
  bool immutable = false;
};

// A kernel cache entry to drop after a branch view moved: the name `name`
// under directory `parent` (name non-empty), or the attributes and cached
// pages of inode `ino` (name empty).
struct VfsInvalidation {
  uint64_t parent = 0;
  std::string name;
  uint64_t ino = 0;
};

struct VfsOpenFile {
  uint64_t fh = 0;
  // The content is pinned to a (commit, oid) that the page cache already
  // holds if anything: FOPEN_KEEP_CACHE.
  bool keep_cache = false;
  // The file's Xet hash (64 hex) when its content can never change under
  // this inode (a read-only view): bytes of that content may be stored
  // into its page cache ahead of reads (fs/fuse/page_feed.h).
  std::optional<std::string> xet_hash;
};

// One name in a directory listing.
struct VfsDirEntry {
  std::string name;
  bool is_dir = false;
};

struct VfsStatFs {
  uint64_t block_size = 4096;
  uint64_t blocks = 0;
  uint64_t files = 0;
  uint64_t name_max = 255;
};

}  // namespace hubfs::fs

#endif  // HUBFS_FS_VFS_VFS_TYPES_H_
