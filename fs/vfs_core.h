// VfsCore: the kernel-free filesystem (design §1, §3, §6). It answers the
// questions FUSE asks - lookup, getattr, open, read, readdir, xattrs,
// statfs - in our own types, so unit tests call it directly and the FUSE
// adapter only translates. Everything it shows is read-only.
//
// A view is one revision of one repo (commit sha + date, optional
// subfolder); its root is the mount root. Directory listings come from the
// RepoSource, one per directory, cached per (commit, dir) and shared by all
// readers; a name missing from a cached listing is a cached negative entry.
//
// Blocking: methods taking `may_block` never touch the network when it is
// false - they answer kWouldBlock instead, and the caller (a FUSE worker)
// retries with may_block = true on an I/O thread. Read() always may block.
//
// Thread-safety: all methods are thread-safe. mu_ and the inode table's lock
// are never held together; no lock is held across a RepoSource call.
#ifndef HUBFS_FS_VFS_CORE_H_
#define HUBFS_FS_VFS_CORE_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "fs/lru_map.h"
#include "fs/repo_source.h"
#include "fs/vfs_inode_table.h"
#include "fs/vfs_types.h"
#include "hub/repo_id.h"

namespace hubfs::fs {

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

class VfsCore {
 public:
  static constexpr uint64_t kRootIno = 1;

  // `source` and `clock` must outlive the core (nullptr clock = the system
  // clock). The view's root is kRootIno.
  VfsCore(RepoSource* source, ViewSpec view, VfsOptions options, const Clock* clock = nullptr);

  // Branch and tag views follow their head: once metadata_ttl has passed
  // since the last resolution, the next Lookup or OpenDir re-resolves the
  // revision (with may_block = false they answer kWouldBlock so that the
  // caller retries on an I/O thread). A failed resolution keeps the current
  // commit and is retried after another TTL. Commit-sha views never
  // re-resolve.
  bool RefreshDue() const;
  // Due, or a resolution under way on another thread.
  bool RefreshPending() const;
  // Re-resolves now if due (blocks on the network; no lock held across it).
  // Returns true when the view moved to another commit; what the kernel
  // should forget is then queued for TakeInvalidations().
  bool RefreshIfDue();
  // Called (with no core lock held) after invalidations were queued.
  void SetInvalidationListener(std::function<void()> listener);
  std::vector<VfsInvalidation> TakeInvalidations();
  // The commit the view shows now.
  RevisionInfo current() const;

  // Lists the view's root with may_block, so that a missing subfolder or
  // repo fails before anything is mounted. Errors: as Lookup.
  VfsStatus CheckRoot();

  // The entry `name` in directory `parent`, with one more lookup reference.
  // Errors: kNoEntry (also for a stale parent), kNotDir, kWouldBlock,
  // kNoSpace (inode table full), the source's errors.
  VfsResult<VfsEntry> Lookup(uint64_t parent, std::string_view name, bool may_block);

  // How long the kernel may cache the answer "no such name" under `parent`.
  double NegativeTimeout(uint64_t parent) const;

  // Drops lookup references (FUSE forget).
  void Forget(uint64_t ino, uint64_t nlookup);

  // Errors: kNoEntry.
  VfsResult<VfsAttr> GetAttr(uint64_t ino) const;
  double AttrTimeout(uint64_t ino) const;

  // Opens a file for reading; the handle pins its content. `write` = any
  // write access asked for. Errors: kNoEntry, kIsDir, kReadOnly, kNoSpace.
  VfsResult<VfsOpenFile> Open(uint64_t ino, bool write);
  // Reads through the source (may block). Short only at the end of file.
  // Errors: kBadHandle, the source's errors.
  VfsResult<size_t> Read(uint64_t fh, uint64_t offset, std::span<uint8_t> out);
  void Release(uint64_t fh);

  // Opens a directory: takes a snapshot of its listing. Errors: kNoEntry,
  // kNotDir, kWouldBlock, kNoSpace, the source's errors.
  VfsResult<uint64_t> OpenDir(uint64_t ino, bool may_block);
  // Entry `index` of an open directory, or nullopt past the end.
  // Errors: kBadHandle.
  VfsResult<std::optional<VfsDirEntry>> DirEntryAt(uint64_t dh, size_t index) const;
  // Lookup of entry `index` of an open directory (readdirplus): one more
  // lookup reference on success. Errors: kBadHandle, kNoSpace.
  VfsResult<VfsEntry> LookupDirEntryAt(uint64_t dh, size_t index);
  void ReleaseDir(uint64_t dh);

  // Extended attributes under user.hf.: the value, or kNoAttr / kNoEntry.
  VfsResult<std::string> GetXattr(uint64_t ino, std::string_view name) const;
  // Names present on `ino`. Errors: kNoEntry.
  VfsResult<std::vector<std::string>> ListXattr(uint64_t ino) const;

  VfsStatFs StatFs() const;

  const ViewSpec& view() const { return view_; }
  size_t inode_count() const { return inodes_.size(); }

 private:
  struct Child {
    std::string name;
    std::shared_ptr<const NodeMeta> meta;
  };
  // A directory's children sorted by name. Immutable once built.
  struct Listing {
    std::vector<Child> children;
    const Child* Find(std::string_view name) const;
  };
  struct DirHandle {
    uint32_t view = 0;
    std::string path;
    std::shared_ptr<const Listing> listing;
  };

  // The listing of directory `path` of the view, from the cache or (when
  // may_block) the source.
  VfsResult<std::shared_ptr<const Listing>> GetListing(const std::string& path, bool may_block);
  VfsResult<std::shared_ptr<const Listing>> GetListingAt(const std::string& commit,
                                                         const std::string& path, bool may_block);
  // Refresh (when due and may_block) before answering; kWouldBlock when due
  // and !may_block.
  VfsStatus MaybeRefresh(bool may_block);
  VfsAttr AttrOf(const InodeInfo& info) const;
  VfsEntry EntryOf(const InodeInfo& info) const;
  double Ttl() const;
  std::string ChildPath(const std::string& dir, std::string_view name) const;

  RepoSource* const source_;
  const ViewSpec view_;
  const VfsOptions options_;
  InodeTable inodes_;

  const Clock* const clock_;

  mutable std::mutex mu_;
  RevisionInfo current_;                                          // GUARDED_BY(mu_)
  Clock::TimePoint next_check_;                                   // GUARDED_BY(mu_)
  bool refreshing_ = false;                                       // GUARDED_BY(mu_)
  std::condition_variable refreshed_cv_;  // refreshing_ became false
  std::vector<VfsInvalidation> invalidations_;                    // GUARDED_BY(mu_)
  std::function<void()> listener_;                                // GUARDED_BY(mu_)
  // Directories listed at current_ (the kernel may know their entries).
  std::set<std::string> listed_dirs_;                             // GUARDED_BY(mu_)
  // Keyed by commit + '\0' + dir path: immutable, shareable between views.
  LruMap<std::string, std::shared_ptr<const Listing>> listings_;  // GUARDED_BY(mu_)
  uint64_t next_fh_ = 1;                                          // GUARDED_BY(mu_)
  std::unordered_map<uint64_t, FileContent> files_;               // GUARDED_BY(mu_)
  std::unordered_map<uint64_t, DirHandle> dirs_;                  // GUARDED_BY(mu_)
};

}  // namespace hubfs::fs

#endif  // HUBFS_FS_VFS_CORE_H_
