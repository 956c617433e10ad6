// A log file that stays bounded: once it would pass `max_bytes` it is renamed
// to PATH.1 (replacing the previous one) and a fresh PATH is started, so the
// logs of a long-running daemon take at most about 2 × max_bytes on disk.
//
// Several processes may append to the same PATH (mounts sharing a cache dir):
// every write goes through O_APPEND, and a process that finds PATH replaced
// by another one's rotation reopens it instead of writing on into PATH.1.
//
// Thread-safety: Write() is thread-safe.
#ifndef HUBFS_COMMON_LOG_FILE_H_
#define HUBFS_COMMON_LOG_FILE_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/status.h"

namespace hubfs::log {

class RotatingLogFile {
 public:
  // Opens (creating, mode 0600) PATH for appending. Errors: kIo.
  static Result<std::unique_ptr<RotatingLogFile>> Open(std::string path, uint64_t max_bytes);
  ~RotatingLogFile();
  RotatingLogFile(const RotatingLogFile&) = delete;
  RotatingLogFile& operator=(const RotatingLogFile&) = delete;

  // Appends `line` and a newline. Write errors are dropped: a log must never
  // fail the operation that logs.
  void Write(std::string_view line);

  const std::string& path() const { return path_; }

 private:
  RotatingLogFile(std::string path, uint64_t max_bytes, int fd);
  // Renames PATH away when it is full, reopens when it was replaced.
  void RotateIfNeeded(size_t incoming);  // REQUIRES(mu_)

  const std::string path_;
  const uint64_t max_bytes_;
  std::mutex mu_;
  int fd_ = -1;  // GUARDED_BY(mu_)
};

}  // namespace hubfs::log

#endif  // HUBFS_COMMON_LOG_FILE_H_
