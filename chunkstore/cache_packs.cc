#include "chunkstore/cache_packs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <random>
#include <utility>

#include "common/log.h"

namespace hubfs::chunkstore::cache_internal {
namespace {

constexpr char kPackDir[] = "/packs";
constexpr char kPackSuffix[] = ".pack";
// Read descriptors kept open at most (packs are up to 1 GiB each, so a
// 10 GiB cache has about a dozen).
constexpr size_t kMaxReaders = 64;

std::string PackName(uint64_t id) {
  char name[32];
  std::snprintf(name, sizeof(name), "%016llx%s", static_cast<unsigned long long>(id), kPackSuffix);
  return name;
}

// The id of a pack file's name, or 0 when it is not one.
uint64_t ParsePackName(const char* name) {
  const size_t n = std::strlen(name);
  if (n != 16 + sizeof(kPackSuffix) - 1 || std::strcmp(name + 16, kPackSuffix) != 0) return 0;
  uint64_t id = 0;
  for (int i = 0; i < 16; ++i) {
    const char c = name[i];
    int d = 0;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else {
      return 0;
    }
    id = id << 4 | static_cast<uint64_t>(d);
  }
  return id;
}

Status ErrnoError(const std::string& what, int err) {
  const std::string msg = what + ": " + std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) return ResourceExhaustedError(msg);
  return IoError(msg);
}

// pwrite of all of data at offset, retrying short writes and EINTR.
// Writes every byte of `iov` at `offset` (IOV_MAX entries per call).
int PWriteAll(int fd, std::vector<iovec> iov, uint64_t offset) {
  size_t first = 0;
  while (first < iov.size()) {
    const int count = static_cast<int>(std::min<size_t>(iov.size() - first, IOV_MAX));
    const ssize_t n = ::pwritev(fd, iov.data() + first, count, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return EIO;
    offset += static_cast<uint64_t>(n);
    // Past what was written (a short write ends anywhere).
    for (size_t left = static_cast<size_t>(n); left > 0 && first < iov.size();) {
      const size_t take = std::min(left, iov[first].iov_len);
      iov[first].iov_base = static_cast<uint8_t*>(iov[first].iov_base) + take;
      iov[first].iov_len -= take;
      left -= take;
      if (iov[first].iov_len == 0) ++first;
    }
  }
  return 0;
}

}  // namespace

ValueBuffer::ValueBuffer(size_t size) : size_(size) {
  const bool packed = size >= kPackMinValue;
  const size_t cap = packed ? PackSpan(size) : std::max<size_t>(size, 1);
  data_ = static_cast<uint8_t*>(packed ? std::aligned_alloc(kPackAlign, cap) : std::malloc(cap));
  if (data_ == nullptr) throw std::bad_alloc();
  // The padding is zeros (deterministic files; nothing reads it).
  if (packed) std::memset(data_ + size, 0, cap - size);
}

ValueBuffer::~ValueBuffer() { std::free(data_); }

struct PackFiles::Open {
  int fd = -1;
  ~Open() {
    if (fd >= 0) ::close(fd);
  }
};

PackFiles::PackFiles(std::string dir, DirLock lock_dir)
    : dir_(std::move(dir)), lock_dir_(std::move(lock_dir)) {}

PackFiles::~PackFiles() { Release(); }

uint64_t PackFiles::current() const { return cur_id_; }

uint64_t PackFiles::Release() {
  const uint64_t id = cur_id_;
  if (cur_buffered_fd_ >= 0) ::close(cur_buffered_fd_);
  cur_buffered_fd_ = -1;
  if (cur_fd_ >= 0) ::close(cur_fd_);  // drops the flock
  cur_fd_ = -1;
  cur_id_ = 0;
  cur_end_ = pending_end_ = 0;
  return id;
}

Status PackFiles::StartPack() {
  const std::string pdir = dir_ + kPackDir;
  if (::mkdir(pdir.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoError("create " + pdir, errno);
  }
  // Under the dir lock: a sweep (which takes it too) never sees the new
  // file before its flock is held.
  HUBFS_ASSIGN_OR_RETURN(std::shared_ptr<void> guard, lock_dir_());
  std::random_device rd;
  for (int attempt = 0; attempt < 8; ++attempt) {
    const uint64_t id = (static_cast<uint64_t>(rd()) << 32 | rd()) | 1;  // never 0
    const std::string path = pdir + "/" + PackName(id);
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_DIRECT, 0600);
    bool direct = true;
    if (fd < 0 && errno == EINVAL) {
      // The file system does not do O_DIRECT (tmpfs): buffered writes.
      fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      direct = false;
    }
    if (fd < 0) {
      if (errno == EEXIST) continue;
      return ErrnoError("create " + path, errno);
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(path.c_str());
      return ErrnoError("lock " + path, err);
    }
    cur_fd_ = fd;
    cur_direct_ = direct;
    cur_id_ = id;
    cur_end_ = pending_end_ = 0;
    return Status::Ok();
  }
  return IoError("create a pack file in " + pdir + ": names taken");
}

Result<std::vector<PackLocation>> PackFiles::Append(std::span<const ValueBuffer* const> values,
                                                    std::span<const uint8_t> keep_pages) {
  std::vector<PackLocation> out;
  if (values.empty()) return out;
  pending_end_ = cur_end_;
  if (cur_fd_ < 0 || cur_end_ >= kPackMaxBytes) {
    Release();
    HUBFS_RETURN_IF_ERROR(StartPack());
  }
  // Straight from the values' memory: each is aligned and zero-padded to
  // its span (ValueBuffer). Copying them into one write buffer first was a
  // pass over every byte of a cold read (an eighth of the daemon's CPU).
  // Runs of neighbouring values written the same way, one pwritev each.
  auto keep = [&](size_t i) {
    return cur_direct_ && i < keep_pages.size() && keep_pages[i] != 0;
  };
  uint64_t total = 0;
  out.reserve(values.size());
  for (size_t i = 0; i < values.size();) {
    const bool buffered = keep(i);
    if (buffered && cur_buffered_fd_ < 0) {
      const std::string path = dir_ + kPackDir + "/" + PackName(cur_id_);
      cur_buffered_fd_ = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
      if (cur_buffered_fd_ < 0) return ErrnoError("open " + path, errno);
    }
    std::vector<iovec> iov;
    const uint64_t start = total;
    for (; i < values.size() && keep(i) == buffered; ++i) {
      const std::span<const uint8_t> padded = values[i]->padded();
      iov.push_back(iovec{const_cast<uint8_t*>(padded.data()), padded.size()});
      out.push_back(
          PackLocation{cur_id_, cur_end_ + total, static_cast<uint32_t>(values[i]->size())});
      total += padded.size();
    }
    const int err = PWriteAll(buffered ? cur_buffered_fd_ : cur_fd_, std::move(iov),
                              cur_end_ + start);
    if (err != 0) {
      return ErrnoError("write pack " + PackName(cur_id_), err);
    }
  }
  unsynced_.insert(cur_id_);
  pending_end_ = cur_end_ + total;
  return out;
}

void PackFiles::Commit() { cur_end_ = pending_end_; }

Result<std::shared_ptr<PackFiles::Open>> PackFiles::OpenForRead(uint64_t id) {
  {
    MutexLock lock(&read_mu_);
    auto it = readers_.find(id);
    if (it != readers_.end()) return it->second;
  }
  const std::string path = dir_ + kPackDir + "/" + PackName(id);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return NotFoundError("pack " + PackName(id) + " is gone");
    return ErrnoError("open " + path, errno);
  }
  auto open = std::make_shared<Open>();
  open->fd = fd;
  MutexLock lock(&read_mu_);
  if (readers_.size() >= kMaxReaders) readers_.erase(readers_.begin());
  auto [it, inserted] = readers_.emplace(id, open);
  return it->second;
}

Status PackFiles::Read(const PackLocation& loc, std::vector<uint8_t>* out) {
  HUBFS_ASSIGN_OR_RETURN(std::shared_ptr<Open> open, OpenForRead(loc.pack));
  out->resize(loc.length);
  size_t got = 0;
  while (got < loc.length) {
    const ssize_t n = ::pread(open->fd, out->data() + got, loc.length - got,
                              static_cast<off_t>(loc.offset + got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("read pack " + PackName(loc.pack), errno);
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  out->resize(got);  // a pack cut short: fails verification (a miss)
  // Buffered, for the kernel's read-ahead: O_DIRECT reads of 64 KiB values
  // ran a sequential warm read at a third of the speed, and dropping each
  // value's pages after the read (POSIX_FADV_DONTNEED) cost 15% of the
  // daemon's CPU. So a warm read leaves pack pages in the page cache, as
  // LMDB's did; a cold read does not (written with O_DIRECT, and read back
  // from memory while recent).
  return Status::Ok();
}

Result<size_t> PackFiles::ReadParts(const PackLocation& loc, std::span<uint8_t> front,
                                   std::span<uint8_t> back) {
  HUBFS_ASSIGN_OR_RETURN(std::shared_ptr<Open> open, OpenForRead(loc.pack));
  const size_t want = front.size() + back.size();
  size_t got = 0;
  while (got < want) {
    iovec iov[2];
    int n_iov = 0;
    if (got < front.size()) {
      iov[n_iov++] = {front.data() + got, front.size() - got};
      iov[n_iov++] = {back.data(), back.size()};
    } else {
      iov[n_iov++] = {back.data() + (got - front.size()), want - got};
    }
    const ssize_t n = ::preadv(open->fd, iov, n_iov, static_cast<off_t>(loc.offset + got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("read pack " + PackName(loc.pack), errno);
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  return got;  // buffered, as Read's
}

void PackFiles::WillNeed(const PackLocation& loc) {
  Result<std::shared_ptr<Open>> open = OpenForRead(loc.pack);
  if (!open.ok()) return;
  (void)::posix_fadvise((*open)->fd, static_cast<off_t>(loc.offset),
                        static_cast<off_t>(loc.length), POSIX_FADV_WILLNEED);
}

void PackFiles::Punch(std::vector<PackLocation> locs) {
  // Evictions come oldest first, and a pack's values were appended in that
  // order: sorted, neighbouring spans merge into a few large holes (one
  // hole per value cost the writer an open, a fallocate and a close each:
  // a 16 GiB stream through a 2 GiB cache spent its writer's time there).
  std::sort(locs.begin(), locs.end(), [](const PackLocation& a, const PackLocation& b) {
    return a.pack != b.pack ? a.pack < b.pack : a.offset < b.offset;
  });
  size_t i = 0;
  while (i < locs.size()) {
    const uint64_t pack = locs[i].pack;
    int fd = -1;
    bool own = false;
    if (pack == cur_id_ && cur_fd_ >= 0) {
      fd = cur_fd_;
    } else {
      const std::string path = dir_ + kPackDir + "/" + PackName(pack);
      fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);  // < 0: gone already
      own = fd >= 0;
    }
    while (i < locs.size() && locs[i].pack == pack) {
      const uint64_t from = locs[i].offset;
      uint64_t to = from + PackSpan(locs[i].length);
      for (++i; i < locs.size() && locs[i].pack == pack && locs[i].offset <= to; ++i) {
        to = std::max(to, locs[i].offset + PackSpan(locs[i].length));
      }
      if (fd >= 0) {
        (void)::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                          static_cast<off_t>(from), static_cast<off_t>(to - from));
      }
    }
    if (own) ::close(fd);
  }
}

Status PackFiles::Sync() {
  Status result;
  for (uint64_t id : unsynced_) {
    int fd = -1;
    bool own = false;
    if (id == cur_id_ && cur_fd_ >= 0) {
      fd = cur_fd_;
    } else {
      const std::string path = dir_ + kPackDir + "/" + PackName(id);
      fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      own = true;
      if (fd < 0) continue;  // deleted: nothing of it is used
    }
    if (::fdatasync(fd) != 0 && result.ok()) {
      result = ErrnoError("sync pack " + PackName(id), errno);
    }
    if (own) ::close(fd);
  }
  if (result.ok()) unsynced_.clear();
  return result;
}

Result<size_t> PackFiles::SyncAll() {
  const std::vector<uint64_t> ids = PackIds();
  unsynced_.insert(ids.begin(), ids.end());
  const size_t asked = unsynced_.size();
  HUBFS_RETURN_IF_ERROR(Sync());
  return asked;
}

std::vector<uint64_t> PackFiles::PackIds() const {
  std::vector<uint64_t> ids;
  DIR* d = ::opendir((dir_ + kPackDir).c_str());
  if (d == nullptr) return ids;
  while (struct dirent* e = ::readdir(d)) {
    const uint64_t id = ParsePackName(e->d_name);
    if (id != 0) ids.push_back(id);
  }
  ::closedir(d);
  return ids;
}

size_t PackFiles::Sweep(const std::function<bool(uint64_t)>& live) {
  const std::string pdir = dir_ + kPackDir;
  auto guard = lock_dir_();
  if (!guard.ok()) return 0;
  size_t removed = 0;
  for (uint64_t id : PackIds()) {
    if (id == cur_id_ || live(id)) continue;
    const std::string path = pdir + "/" + PackName(id);
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    // Held: another process still appends to it.
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0 && ::unlink(path.c_str()) == 0) ++removed;
    ::close(fd);
    unsynced_.erase(id);
    MutexLock lock(&read_mu_);
    readers_.erase(id);
  }
  return removed;
}

Status PackFiles::RemoveAll(const std::string& dir) {
  const std::string pdir = dir + kPackDir;
  DIR* d = ::opendir(pdir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return Status::Ok();
    return ErrnoError("list " + pdir, errno);
  }
  Status result;
  while (struct dirent* e = ::readdir(d)) {
    if (ParsePackName(e->d_name) == 0) continue;
    const std::string path = pdir + "/" + e->d_name;
    if (::unlink(path.c_str()) != 0 && errno != ENOENT && result.ok()) {
      result = ErrnoError("remove " + path, errno);
    }
  }
  ::closedir(d);
  return result;
}

}  // namespace hubfs::chunkstore::cache_internal
