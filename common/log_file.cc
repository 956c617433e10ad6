#include "common/log_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace hubfs::log {
namespace {

int OpenAppend(const std::string& path) {
  return open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
}

}  // namespace

Result<std::unique_ptr<RotatingLogFile>> RotatingLogFile::Open(std::string path,
                                                               uint64_t max_bytes) {
  int fd = OpenAppend(path);
  if (fd < 0) return IoError("log file " + path + ": " + std::strerror(errno));
  return std::unique_ptr<RotatingLogFile>(new RotatingLogFile(std::move(path), max_bytes, fd));
}

RotatingLogFile::RotatingLogFile(std::string path, uint64_t max_bytes, int fd)
    : path_(std::move(path)), max_bytes_(max_bytes), fd_(fd) {}

RotatingLogFile::~RotatingLogFile() {
  if (fd_ >= 0) close(fd_);
}

void RotatingLogFile::RotateIfNeeded(size_t incoming) {
  struct stat open_st;
  if (fstat(fd_, &open_st) != 0) return;
  struct stat path_st;
  const bool same = stat(path_.c_str(), &path_st) == 0 && path_st.st_dev == open_st.st_dev &&
                    path_st.st_ino == open_st.st_ino;
  if (same) {
    if (static_cast<uint64_t>(open_st.st_size) + incoming <= max_bytes_) return;
    // Only the process that still has PATH open renames it; the others see
    // the new inode on their next write and follow.
    if (rename(path_.c_str(), (path_ + ".1").c_str()) != 0) return;
  }
  int fd = OpenAppend(path_);
  if (fd < 0) return;  // keep writing where we were
  close(fd_);
  fd_ = fd;
}

void RotatingLogFile::Write(std::string_view line) {
  std::string buf;
  buf.reserve(line.size() + 1);
  buf.append(line);
  buf.push_back('\n');
  std::lock_guard<std::mutex> lock(mu_);
  if (fd_ < 0) return;
  RotateIfNeeded(buf.size());
  size_t done = 0;
  while (done < buf.size()) {
    ssize_t n = write(fd_, buf.data() + done, buf.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

}  // namespace hubfs::log
