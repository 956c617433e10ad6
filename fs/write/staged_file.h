// StagedFile: the local copy of a file being changed in a writable view
// (design §5 "Staging"). Writes go to a staging file under the journal's
// directory; a file that existed on the Hub is not downloaded when opened:
// the bytes not yet local are read from its Hub version (the `base`) on
// demand, and written into the staging file so they are read once. Which
// bytes are local is a RangeSet; bytes past `base_limit` (after a truncate
// below the Hub's size, or an extension) are zeros, never Hub bytes.
//
// `generation` grows with every change, so a reader (the committer hashing
// the file) can tell that the file changed under it.
//
// Thread-safety: all methods are thread-safe. No lock is held while the
// base is read (the network).
#ifndef HUBFS_FS_WRITE_STAGED_FILE_H_
#define HUBFS_FS_WRITE_STAGED_FILE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>

#include "common/file_env.h"
#include "common/status.h"
#include "fs/write/range_set.h"

namespace hubfs::fs {

// Reads bytes [offset, offset + out.size()) of the Hub's version of the file
// (fewer only at its end). Called without any StagedFile lock held.
using BaseReader = std::function<Result<size_t>(uint64_t offset, std::span<uint8_t> out)>;

struct StagedFileOptions {
  uint64_t size = 0;        // logical size at open
  uint64_t base_size = 0;   // bytes the base may provide (0: no base)
  RangeSet present;         // bytes already local (a staging file reopened)
  BaseReader base;          // required when base_size > 0
};

class StagedFile {
 public:
  // Opens (or creates, 0600) the staging file at `path` (a reopened one
  // keeps its bytes: pass the ranges that are local) and sizes it to
  // options.size. Errors: FileEnv errors (kResourceExhausted: disk full).
  static Result<std::unique_ptr<StagedFile>> Open(FileEnv* env, const std::string& path,
                                                  StagedFileOptions options);

  // Reads [offset, offset + out.size()) clamped to the size; fills what is
  // not local from the base first. Errors: the base's and FileEnv's.
  Result<size_t> Read(uint64_t offset, std::span<uint8_t> out);
  // Like Read, but the bytes not local are read from the base straight into
  // `out` and not kept: the committer reads an edited Hub file once, to
  // hash and chunk it, and staging the Hub's bytes would write the whole
  // file to disk for nothing. A write landing meanwhile bumps the
  // generation (the reader's check). Errors: the base's and FileEnv's.
  Result<size_t> ReadThrough(uint64_t offset, std::span<uint8_t> out);
  // Writes at `offset` (extending the file; a gap reads as zeros).
  Status Write(uint64_t offset, std::span<const uint8_t> data);
  Status Truncate(uint64_t size);
  // fdatasync of the staging file.
  Status Sync();
  // Reads everything that is not local from the base (the whole file then
  // needs nothing from the Hub).
  Status FillAll();

  uint64_t size() const;
  uint64_t generation() const { return generation_.load(); }
  // What a journal record needs, taken at one instant: a write on another
  // thread lands wholly before or after it (and bumps the generation).
  struct State {
    uint64_t generation = 0;
    uint64_t size = 0;
    RangeSet present;
    uint64_t base_limit = 0;
  };
  State state() const;
  // Local ranges, and where base bytes end (for the journal).
  RangeSet present() const;
  uint64_t base_limit() const;
  const std::string& path() const { return path_; }

 private:
  StagedFile(std::unique_ptr<File> file, std::string path, StagedFileOptions options);
  // Makes [begin, end) local. Takes and drops mu_ around the base reads.
  Status Fill(uint64_t begin, uint64_t end);

  const std::string path_;
  const BaseReader base_;
  mutable std::mutex mu_;
  std::unique_ptr<File> file_;  // GUARDED_BY(mu_)
  uint64_t size_;               // GUARDED_BY(mu_)
  uint64_t base_limit_;         // GUARDED_BY(mu_): base bytes exist below it
  RangeSet present_;            // GUARDED_BY(mu_)
  std::atomic<uint64_t> generation_{0};
};

}  // namespace hubfs::fs

#endif  // HUBFS_FS_WRITE_STAGED_FILE_H_
