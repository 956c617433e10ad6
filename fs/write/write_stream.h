// WriteStream: a file of a writable view hashed and uploaded while it is
// written (design §5). A file written from its start and only ever appended
// to is read behind its writer (StagedFile::ReadTail) and sent through
// RepoUploader::UploadAhead: its chunks and its shard are on the CAS by the
// time it is closed, and its commit only names it. Anything that is not an
// append (a write below the end, a truncate below it) abandons the stream;
// the commit then hashes the file as it always did.
//
// The stream is only a head start: the staging file and the journal stay
// the truth. A commit takes the stream's result only when it describes the
// journaled version exactly (same size, nothing rewritten since the stream
// began; the committer's generation check covers the rest), so the bytes
// committed are the bytes hashed.
//
// Thread-safety: all methods are thread-safe.
#ifndef HUBFS_FS_WRITE_WRITE_STREAM_H_
#define HUBFS_FS_WRITE_WRITE_STREAM_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "fs/upload/repo_uploader.h"
#include "fs/write/staged_file.h"

namespace hubfs::fs {

class WriteStream {
 public:
  // Starts reading `file` from its start and uploading it, on a thread of
  // its own. `uploader` has reserved a slot for it (TryReserveAhead); the
  // stream gives it back when its thread ends. `revision`/`create_pr`: what
  // the Xet write token is asked for (the commit's target).
  WriteStream(RepoUploader* uploader, hub::RepoId repo, std::string revision, bool create_pr,
              std::shared_ptr<StagedFile> file);
  // Cancels and waits for the thread (an upload under way ends with its
  // request).
  ~WriteStream();
  WriteStream(const WriteStream&) = delete;
  WriteStream& operator=(const WriteStream&) = delete;

  // Stops reading; the thread ends soon.
  void Cancel();
  // The thread has ended.
  bool done() const;
  // The upload's result when it describes a version of the file that had
  // `rewrites` rewrites and `size` bytes (a committer's source as of its
  // opening): nullopt when the file is still open for writing (the stream
  // has not seen its end), when the stream failed or was abandoned, or when
  // it uploaded other bytes. Otherwise waits for the upload to end.
  std::optional<UploadedAhead> Wait(uint64_t rewrites, uint64_t size);

 private:
  void Run();

  RepoUploader* const uploader_;
  const hub::RepoId repo_;
  const std::string revision_;
  const bool create_pr_;
  // The file's rewrites at the start: the bytes read stay the file's while
  // it has not changed.
  const uint64_t rewrites_;
  const std::string path_;  // the staging file's, for messages
  std::atomic<bool> cancel_{false};

  mutable std::mutex mu_;
  std::condition_variable cv_;
  // Dropped when the thread ends or the stream is cancelled: a stream kept
  // after its end (until the view reaps it), or still finishing an upload,
  // must not hold the staging file open, whose space an unlink frees.
  std::shared_ptr<StagedFile> file_;    // GUARDED_BY(mu_)
  bool done_ = false;                   // GUARDED_BY(mu_)
  std::optional<UploadedAhead> result_;  // GUARDED_BY(mu_): set when the upload succeeded
  std::thread thread_;
};

}  // namespace hubfs::fs

#endif  // HUBFS_FS_WRITE_WRITE_STREAM_H_
