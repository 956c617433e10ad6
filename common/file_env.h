// FileEnv: the one seam through which hubfs works on local files (the chunk
// cache's directory, lock and marker files today; staging files and a journal
// later), in the manner of leveldb's Env. Code that does local file I/O takes
// a FileEnv* instead of calling open(2) and friends, so tests can substitute
// FaultFileEnv (common/fault_file_env.h) to make any operation fail: a full
// disk, an I/O error, a short write.
//
// Permissions: what a FileEnv creates is private to the user: directories
// 0700, files 0600 (the umask can only narrow that). A chunk cache holds the
// contents of private repos, so nothing here is ever readable by others.
// RestrictMode narrows paths created by older code.
//
// Errors: every failure is a Status whose message names the operation and
// the path and ends with the system's error text
// ("create /c/unsynced/x: No space left on device"). Codes:
//   kNotFound           ENOENT (the path or a parent is missing)
//   kAlreadyExists      EEXIST (OpenMode::kCreateNew on an existing path)
//   kResourceExhausted  ENOSPC, EDQUOT, EFBIG (a full disk or quota)
//   kIo                 everything else (EIO, EACCES, ...)
//
// Ownership: FileEnv::Default() is process-wide, stateless and never
// deleted. Files are owned by the caller (std::unique_ptr); destroying one
// closes it. A File must not outlive the FileEnv that opened it.
//
// Thread-safety: FileEnv methods may be called from any thread at once. A
// File is used by one thread at a time (callers synchronise), but different
// Files may be used concurrently.
#ifndef HUBFS_COMMON_FILE_ENV_H_
#define HUBFS_COMMON_FILE_ENV_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"

namespace hubfs {

// Modes of what FileEnv creates (before the umask).
inline constexpr uint32_t kPrivateDirMode = 0700;
inline constexpr uint32_t kPrivateFileMode = 0600;

// An open file. Every method returns an error rather than crashing, whatever
// the disk does.
class File {
 public:
  // Closes the file, which also releases a lock taken by Lock/TryLock.
  // Errors of close are ignored: call Sync first when they matter.
  virtual ~File() = default;

  File() = default;
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  // The path the file was opened with.
  virtual const std::string& path() const = 0;

  // Reads up to buf.size() bytes at the current position. Returns the count,
  // 0 at end of file (a short count is not an error).
  virtual Result<size_t> Read(std::span<uint8_t> buf) = 0;

  // Writes all of data at the current position, retrying short writes. On
  // error a prefix of data may have been written.
  virtual Status Write(std::span<const uint8_t> data) = 0;

  // Writes all of data at offset without moving the current position; on
  // error a prefix may have been written.
  virtual Status PWrite(uint64_t offset, std::span<const uint8_t> data) = 0;

  // Reads up to buf.size() bytes at `offset` without moving the current
  // position; fewer only at the end of the file (0 past it).
  virtual Result<size_t> PRead(uint64_t offset, std::span<uint8_t> buf) = 0;
  // ftruncate(2): the file is `size` bytes long; growing it adds zeros.
  virtual Status Truncate(uint64_t size) = 0;
  // The file's current size (fstat(2)).
  virtual Result<uint64_t> Size() = 0;
  // fsync(2): data and metadata reach the disk.
  virtual Status Sync() = 0;
  // fdatasync(2): data (and the metadata needed to read it back).
  virtual Status DataSync() = 0;

  // An exclusive advisory lock on the whole file (flock(2)), held until this
  // File is destroyed. It belongs to this open file: another File of the
  // same path conflicts even within one process. Lock waits for it;
  // TryLock returns false when someone else holds it.
  virtual Status Lock() = 0;
  virtual Result<bool> TryLock() = 0;
};

enum class OpenMode {
  kRead,       // existing file, read only
  kReadWrite,  // read and write; created (0600) if missing
  kCreateNew,  // read and write; created (0600), kAlreadyExists if the path exists
};

// Space on the file system holding a path (statvfs(2)).
struct DiskSpace {
  uint64_t total_bytes = 0;
  uint64_t free_bytes = 0;       // available to an unprivileged user
  uint64_t total_inodes = 0;
  uint64_t free_inodes = 0;
};

class FileEnv {
 public:
  // The real file system (POSIX calls). Never null; never deleted.
  static FileEnv* Default();

  virtual ~FileEnv() = default;

  virtual Result<std::unique_ptr<File>> Open(const std::string& path, OpenMode mode) = 0;

  // Creates one directory (its parent must exist), mode 0700. Returns true
  // when it was created, false when the path already existed.
  virtual Result<bool> CreateDir(const std::string& path) = 0;

  // fsync(2) of a directory, so that entries created, renamed or removed in
  // it reach the disk.
  virtual Status SyncDir(const std::string& path) = 0;

  // Names in a directory, without "." and "..", in no particular order.
  virtual Result<std::vector<std::string>> ListDir(const std::string& path) = 0;

  // rename(2): atomically replaces `to` if it exists.
  virtual Status Rename(const std::string& from, const std::string& to) = 0;

  // Removes a file (unlink(2)); kNotFound when it does not exist.
  virtual Status Remove(const std::string& path) = 0;

  virtual Result<DiskSpace> StatFs(const std::string& path) = 0;

  // Narrows the permission bits of an existing file or directory to at most
  // `mode` (old & mode), for paths created looser by older code. Returns the
  // old permission bits when it changed them, nullopt when they were already
  // within `mode`. kNotFound when the path does not exist.
  virtual Result<std::optional<uint32_t>> RestrictMode(const std::string& path, uint32_t mode) = 0;
};

// The Status for a failed system call: "<what> <path>: <strerror(err)>" with
// the code chosen from err as described at the top of this file.
Status FileError(std::string_view what, const std::string& path, int err);

}  // namespace hubfs

#endif  // HUBFS_COMMON_FILE_ENV_H_
