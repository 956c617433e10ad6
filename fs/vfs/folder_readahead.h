// FolderReadahead: when to read the next files of a folder ahead of a
// reader that copies it (`cp -r`, `rsync`, a loader reading every shard in
// turn), kept free of I/O so that tests drive it directly. VfsCore asks it
// on every read and release of a file handle and does what it says through
// RepoSource::Speculate / CancelSpeculation (docs/ARCHITECTURE.md, "Folder
// read-ahead"):
//   - a handle becomes a copier once it has read its file from offset 0 on,
//     in order, up to min(file size, trigger_bytes) (the kernel's pieces of
//     one read arrive slightly out of order: a read counts when it starts
//     within `slack` of the furthest byte read), and another file before it
//     in the same directory (by name: listing order) was read whole, in
//     order, before: a copy goes through the folder in listing order, while
//     a loader that reads a config and then picks tensors out of a shard
//     does not. A reader that seeks, or stops before trigger_bytes (`head
//     -c`, `file`), never triggers;
//   - once, when it becomes a copier, the next max_files regular files of
//     its directory's listing (in listing order, which is the order `ls` and
//     `cp` see) are read ahead from their start, lead_bytes in all, split
//     fairly (Split: small files take what they need, the rest is shared
//     equally by the others);
//   - when a copier's handle is released before its file's end (the reader
//     stopped early), what it asked for and has not started is cancelled.
//
// Thread-safety: thread-safe (one internal mutex, never held while calling
// out).
#ifndef HUBFS_FS_VFS_FOLDER_READAHEAD_H_
#define HUBFS_FS_VFS_FOLDER_READAHEAD_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/mutex.h"
#include "fs/content/repo_source.h"
#include "fs/vfs/listing.h"
#include "fs/vfs/vfs_types.h"

namespace hubfs::fs {

class FolderReadahead {
 public:
  explicit FolderReadahead(FolderReadaheadOptions options);

  // Records a read of [offset, offset + len) through handle `fh` of the file
  // `name` of `size` bytes in directory `dir` (any key naming the directory
  // at its commit). True exactly once per handle: when it becomes a copier
  // (the caller then reads the next files ahead, group `fh`).
  bool OnRead(uint64_t fh, const std::string& dir, const std::string& name, uint64_t offset,
              uint64_t len, uint64_t size) EXCLUDES(mu_);

  // The handle was released. True when it was a copier that stopped before
  // its file's end: the caller cancels group `fh`.
  bool OnRelease(uint64_t fh) EXCLUDES(mu_);

  // The bytes to read ahead of each of the next files, whose sizes are
  // `sizes` (in listing order; at most max_files are given any): a fair
  // split of lead_bytes (max-min: a file smaller than an equal share takes
  // its size, the rest is shared by the others). Zero for a file of 0 bytes.
  std::vector<uint64_t> Split(std::span<const uint64_t> sizes) const;

  // What to read ahead after a copier of `file` (at `file.commit`), whose
  // directory's listing is `listing`: the Xet-backed, non-empty files after
  // it in listing order (a regular file is small and read whole by its first
  // read), at most max_files, each with its bytes (Split).
  std::vector<std::pair<FileContent, uint64_t>> NextFiles(const Listing& listing,
                                                          const FileContent& file) const;

  const FolderReadaheadOptions& options() const { return options_; }
  size_t handles() const EXCLUDES(mu_);

 private:
  struct Reader {
    uint64_t furthest = 0;  // end of the furthest read
    uint64_t size = 0;
    bool in_order = true;   // every read so far continued from the start
    bool copier = false;    // triggered
    uint64_t last_use = 0;
  };
  const FolderReadaheadOptions options_;
  mutable Mutex mu_;
  std::unordered_map<uint64_t, Reader> readers_ GUARDED_BY(mu_);
  // Per directory, the last file read whole in order (at most max_handles
  // directories are remembered).
  std::unordered_map<std::string, std::string> read_whole_ GUARDED_BY(mu_);
  uint64_t tick_ GUARDED_BY(mu_) = 0;
};

}  // namespace hubfs::fs

#endif  // HUBFS_FS_VFS_FOLDER_READAHEAD_H_
