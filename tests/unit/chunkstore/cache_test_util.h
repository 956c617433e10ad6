// Helpers shared by the chunk-cache tests: temp dirs, deterministic bytes,
// and raw edits of the store file to simulate corruption.
#ifndef HUBFS_TESTS_UNIT_CHUNKSTORE_CACHE_TEST_UTIL_H_
#define HUBFS_TESTS_UNIT_CHUNKSTORE_CACHE_TEST_UTIL_H_

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "chunkstore/cache.h"
#include "chunkstore/hash.h"
#include "tests/unit/chunkstore/test_data.h"

namespace hubfs::chunkstore::cache_testing {

// A fresh directory under $TMPDIR (or /tmp), removed with its contents.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr ? base : "/tmp") + "/hubfs-cache-test-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()) != nullptr) path_ = buf.data();
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::vector<uint8_t> Bytes(uint64_t seed, size_t n) {
  return ::hubfs::testing::SplitMix64Bytes(seed, n);
}

// A distinct xorb hash per number.
inline Hash XorbFor(uint64_t n) {
  Hash h;
  const auto b = Bytes(n * 7919 + 1, 32);
  std::copy(b.begin(), b.end(), h.bytes.begin());
  return h;
}

inline uint64_t FileSize(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

// Finds `needle` in the file and flips one byte at `needle` start + `at`.
// Returns the number of occurrences changed (the first only).
inline int FlipInFile(const std::string& path, const std::vector<uint8_t>& needle, size_t at) {
  const int fd = ::open(path.c_str(), O_RDWR);
  if (fd < 0) return 0;
  const uint64_t size = FileSize(path);
  std::vector<uint8_t> data(size);
  if (::pread(fd, data.data(), size, 0) != static_cast<ssize_t>(size)) {
    ::close(fd);
    return 0;
  }
  auto it = std::search(data.begin(), data.end(), needle.begin(), needle.end());
  int changed = 0;
  if (it != data.end()) {
    const off_t off = static_cast<off_t>((it - data.begin()) + at);
    uint8_t b = static_cast<uint8_t>(data[off] ^ 0x5a);
    if (::pwrite(fd, &b, 1, off) == 1) ++changed;
  }
  ::close(fd);
  return changed;
}

// FlipInFile over the store's files: data.mdb, then its pack files (where
// values of 16 KiB and more live). Returns the occurrences changed (0 or 1).
inline int FlipInStore(const std::string& dir, const std::vector<uint8_t>& needle, size_t at) {
  if (FlipInFile(dir + "/data.mdb", needle, at) == 1) return 1;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/packs", ec)) {
    if (FlipInFile(e.path().string(), needle, at) == 1) return 1;
  }
  return 0;
}

// Disk space the store takes: data.mdb's length plus the blocks its pack
// files hold (holes of evicted values do not count).
inline uint64_t StoreDiskBytes(const std::string& dir) {
  uint64_t total = FileSize(dir + "/data.mdb");
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/packs", ec)) {
    struct stat st;
    if (::stat(e.path().c_str(), &st) == 0) total += static_cast<uint64_t>(st.st_blocks) * 512;
  }
  return total;
}

}  // namespace hubfs::chunkstore::cache_testing

#endif  // HUBFS_TESTS_UNIT_CHUNKSTORE_CACHE_TEST_UTIL_H_
