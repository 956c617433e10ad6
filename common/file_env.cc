#include "common/file_env.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <utility>

namespace hubfs {

Status FileError(std::string_view what, const std::string& path, int err) {
  std::string msg = std::string(what) + " " + path + ": " + std::strerror(err);
  switch (err) {
    case ENOENT:
      return NotFoundError(std::move(msg));
    case EEXIST:
      return Status(ErrorCode::kAlreadyExists, std::move(msg));
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
      return ResourceExhaustedError(std::move(msg));
    default:
      return IoError(std::move(msg));
  }
}

namespace {

class PosixFile final : public File {
 public:
  PosixFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixFile() override { ::close(fd_); }

  const std::string& path() const override { return path_; }

  Result<size_t> Read(std::span<uint8_t> buf) override {
    for (;;) {
      const ssize_t n = ::read(fd_, buf.data(), buf.size());
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) return FileError("read", path_, errno);
    }
  }

  Status Write(std::span<const uint8_t> data) override {
    while (!data.empty()) {
      const ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return FileError("write", path_, errno);
      }
      data = data.subspan(static_cast<size_t>(n));
    }
    return Status::Ok();
  }

  Status PWrite(uint64_t offset, std::span<const uint8_t> data) override {
    while (!data.empty()) {
      const ssize_t n = ::pwrite(fd_, data.data(), data.size(), static_cast<off_t>(offset));
      if (n < 0) {
        if (errno == EINTR) continue;
        return FileError("write", path_, errno);
      }
      data = data.subspan(static_cast<size_t>(n));
      offset += static_cast<uint64_t>(n);
    }
    return Status::Ok();
  }

  Result<size_t> PRead(uint64_t offset, std::span<uint8_t> buf) override {
    size_t done = 0;
    while (done < buf.size()) {
      const ssize_t n = ::pread(fd_, buf.data() + done, buf.size() - done,
                                static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return FileError("read", path_, errno);
      }
      if (n == 0) break;
      done += static_cast<size_t>(n);
    }
    return done;
  }

  Status Truncate(uint64_t size) override {
    while (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
      if (errno != EINTR) return FileError("truncate", path_, errno);
    }
    return Status::Ok();
  }

  Result<uint64_t> Size() override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return FileError("stat", path_, errno);
    return static_cast<uint64_t>(st.st_size);
  }

  Status Sync() override {
    if (::fsync(fd_) != 0) return FileError("fsync", path_, errno);
    return Status::Ok();
  }

  Status DataSync() override {
    if (::fdatasync(fd_) != 0) return FileError("fdatasync", path_, errno);
    return Status::Ok();
  }

  Status Lock() override {
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) return FileError("lock", path_, errno);
    }
    return Status::Ok();
  }

  Result<bool> TryLock() override {
    for (;;) {
      if (::flock(fd_, LOCK_EX | LOCK_NB) == 0) return true;
      if (errno == EWOULDBLOCK) return false;
      if (errno != EINTR) return FileError("lock", path_, errno);
    }
  }

 private:
  const std::string path_;
  const int fd_;
};

class PosixFileEnv final : public FileEnv {
 public:
  Result<std::unique_ptr<File>> Open(const std::string& path, OpenMode mode) override {
    int flags = O_CLOEXEC;
    switch (mode) {
      case OpenMode::kRead:
        flags |= O_RDONLY;
        break;
      case OpenMode::kReadWrite:
        flags |= O_RDWR | O_CREAT;
        break;
      case OpenMode::kCreateNew:
        flags |= O_RDWR | O_CREAT | O_EXCL;
        break;
    }
    int fd;
    do {
      fd = ::open(path.c_str(), flags, kPrivateFileMode);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) return FileError(mode == OpenMode::kRead ? "open" : "create", path, errno);
    return std::unique_ptr<File>(new PosixFile(path, fd));
  }

  Result<bool> CreateDir(const std::string& path) override {
    if (::mkdir(path.c_str(), kPrivateDirMode) == 0) return true;
    if (errno == EEXIST) return false;
    return FileError("create directory", path, errno);
  }

  Status SyncDir(const std::string& path) override {
    const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return FileError("open", path, errno);
    const int rc = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    if (rc != 0) return FileError("fsync", path, err);
    return Status::Ok();
  }

  Result<std::vector<std::string>> ListDir(const std::string& path) override {
    DIR* d = ::opendir(path.c_str());
    if (d == nullptr) return FileError("open", path, errno);
    std::vector<std::string> names;
    errno = 0;
    while (const dirent* e = ::readdir(d)) {
      const std::string_view name(e->d_name);
      if (name != "." && name != "..") names.emplace_back(name);
      errno = 0;
    }
    const int err = errno;
    ::closedir(d);
    if (err != 0) return FileError("read directory", path, err);
    return names;
  }

  Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return FileError("rename", from + " to " + to, errno);
    }
    return Status::Ok();
  }

  Status Remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return FileError("remove", path, errno);
    return Status::Ok();
  }

  Result<DiskSpace> StatFs(const std::string& path) override {
    struct statvfs s;
    if (::statvfs(path.c_str(), &s) != 0) return FileError("statvfs", path, errno);
    DiskSpace out;
    out.total_bytes = static_cast<uint64_t>(s.f_blocks) * s.f_frsize;
    out.free_bytes = static_cast<uint64_t>(s.f_bavail) * s.f_frsize;
    out.total_inodes = s.f_files;
    out.free_inodes = s.f_favail;
    return out;
  }

  Result<std::optional<uint32_t>> RestrictMode(const std::string& path, uint32_t mode) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return FileError("stat", path, errno);
    const uint32_t old_mode = st.st_mode & 07777;
    const uint32_t new_mode = old_mode & mode;
    if (new_mode == old_mode) return std::optional<uint32_t>();
    if (::chmod(path.c_str(), new_mode) != 0) return FileError("chmod", path, errno);
    return std::optional<uint32_t>(old_mode);
  }
};

}  // namespace

FileEnv* FileEnv::Default() {
  static PosixFileEnv* const env = new PosixFileEnv();
  return env;
}

}  // namespace hubfs
