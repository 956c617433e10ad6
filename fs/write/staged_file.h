// StagedFile: the local copy of a file being changed in a writable view
// (design §5 "Staging"). Writes go to a staging file under the journal's
// directory; a file that existed on the Hub is not downloaded when opened:
// the bytes not yet local are read from its Hub version (the `base`) on
// demand, and written into the staging file so they are read once. Which
// bytes are local is a RangeSet; bytes past `base_limit` (after a truncate
// below the Hub's size, or an extension) are zeros, never Hub bytes.
//
// `generation` grows with every change, so a reader (the committer hashing
// the file) can tell that the file changed under it. `rewrites` grows only
// with the changes that are not appends (a write below the end, a truncate
// below it): bytes read while it stays the same are still the file's, so a
// file written from its start can be hashed while it is written (ReadTail).
//
// Thread-safety: all methods are thread-safe. No lock is held while the
// base is read (the network).
#ifndef HUBFS_FS_WRITE_STAGED_FILE_H_
#define HUBFS_FS_WRITE_STAGED_FILE_H_

#include <atomic>
#include <condition_variable>
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
  bool writing = false;     // open for writing (SetWriting)
  // Called after a write that ends at or past `append_hook_at` while the
  // file has only been appended to (rewrites() == 0), until it returns
  // true; without StagedFile's lock. Unset: never.
  std::function<bool()> append_hook;
  uint64_t append_hook_at = 0;
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
  uint64_t rewrites() const { return rewrites_.load(); }

  // --- Reading a file while it is written (WriteStream).
  // Whether a descriptor has the file open for writing: while it does,
  // ReadTail waits at the end for more bytes instead of returning 0.
  void SetWriting(bool writing);
  bool writing() const;
  // Reads up to out.size() bytes at `offset` once they exist (all of them,
  // or fewer at the end of a file no longer being written; 0 there).
  // Errors: kCancelled when rewrites() is no longer `rewrites` (bytes before
  // `offset` may have changed) or `*cancel` is set (CancelTailReads), and
  // FileEnv's. Only for a file without a base.
  Result<size_t> ReadTail(uint64_t offset, std::span<uint8_t> out, uint64_t rewrites,
                          const std::atomic<bool>* cancel);
  // Wakes every ReadTail so that it looks at its `cancel` flag.
  void CancelTailReads();

  // What a journal record needs, taken at one instant: a write on another
  // thread lands wholly before or after it (and bumps the generation).
  struct State {
    uint64_t generation = 0;
    uint64_t rewrites = 0;
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
  std::atomic<uint64_t> rewrites_{0};
  std::condition_variable tail_cv_;  // with mu_: the file grew, stopped being written, or changed
  bool writing_;                     // GUARDED_BY(mu_)
  std::function<bool()> append_hook_;  // GUARDED_BY(mu_): cleared once it returned true
  const uint64_t append_hook_at_;
};

}  // namespace hubfs::fs

#endif  // HUBFS_FS_WRITE_STAGED_FILE_H_
