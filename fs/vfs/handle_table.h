// HandleTable: the open file and directory handles of a mount. A file
// handle pins the content it was opened on; a directory handle pins the
// listing it was opened on, so readdir pages stay consistent.
//
// Thread-safety: all methods are thread-safe (one internal mutex, never held
// while calling out).
#ifndef HUBFS_FS_VFS_HANDLE_TABLE_H_
#define HUBFS_FS_VFS_HANDLE_TABLE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/mutex.h"
#include "fs/content/repo_source.h"
#include "fs/vfs/listing.h"
#include "fs/vfs/vfs_types.h"
#include "fs/write/staged_file.h"

namespace hubfs::fs {

class WritableView;

struct FileHandle {
  uint32_t view = 0;
  FileContent content;
  // A file with a pending local change (writable views): read and written
  // here instead of `content`.
  std::shared_ptr<StagedFile> staged;
  bool writer = false;  // opened for writing: flush and release record it
  WritableView* writable = nullptr;  // with `staged`: the view's writer
  uint64_t ino = 0;     // its inode, whose name follows renames
  // The kernel keeps the pages read through this handle (VfsCore::Open).
  bool pages_kept = false;
};

struct DirHandle {
  uint32_t view = 0;
  std::string path;
  std::shared_ptr<const Listing> listing;
  uint64_t ino = 0;  // the directory's inode
  // The commit `listing` is of, for a read-only branch or tag view's
  // directory (empty otherwise).
  std::string commit = {};
};

class HandleTable {
 public:
  // At most `max_handles` open handles of both kinds together.
  explicit HandleTable(size_t max_handles);

  // A new handle. Errors: kNoSpace when the table is full.
  VfsResult<uint64_t> AddFile(FileHandle handle) EXCLUDES(mu_);
  VfsResult<uint64_t> AddDir(DirHandle handle) EXCLUDES(mu_);

  // Copies of the handle's state. Errors: kBadHandle.
  VfsResult<FileHandle> File(uint64_t fh) const EXCLUDES(mu_);
  VfsResult<DirHandle> Dir(uint64_t dh) const EXCLUDES(mu_);

  // Closes a handle; returns its view, or nullopt for an unknown handle.
  std::optional<uint32_t> RemoveFile(uint64_t fh) EXCLUDES(mu_);
  std::optional<uint32_t> RemoveDir(uint64_t dh) EXCLUDES(mu_);

 private:
  bool FullLocked() const REQUIRES(mu_);

  const size_t max_handles_;
  mutable Mutex mu_;
  uint64_t next_fh_ GUARDED_BY(mu_) = 1;
  std::unordered_map<uint64_t, FileHandle> files_ GUARDED_BY(mu_);
  std::unordered_map<uint64_t, DirHandle> dirs_ GUARDED_BY(mu_);
};

}  // namespace hubfs::fs

#endif  // HUBFS_FS_VFS_HANDLE_TABLE_H_
