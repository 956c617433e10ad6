// Not-durable caches (MDB_NOSYNC): the unsynced-write markers that let an
// open after a system restart wipe a store that may have lost writes, and
// their life cycle across clean closes, idle flushes, kill -9 and several
// processes. A system crash itself cannot be staged here; a marker of another
// boot stands in for one (that is exactly what a crash leaves behind).
// Children are forked before the parent opens its own cache, never use gtest,
// and report through their exit status.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>

#include <cstdio>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "chunkstore/cache.h"
#include "common/log.h"
#include "tests/unit/chunkstore/cache_test_util.h"

namespace hubfs::chunkstore {
namespace {

using cache_testing::Bytes;
using cache_testing::TempDir;
using cache_testing::XorbFor;

CacheOptions Options(const std::string& dir, bool durable = false) {
  CacheOptions o;
  o.dir = dir;
  o.max_bytes = 64 << 20;
  o.durable = durable;
  return o;
}

std::string BootId() {
  std::ifstream f("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(f, id);
  return id;
}

// Marker names in dir/unsynced, sorted.
std::vector<std::string> Markers(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir((dir + "/unsynced").c_str());
  if (d == nullptr) return out;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") out.push_back(name);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

// Whether some live process holds the marker's lock.
bool MarkerLocked(const std::string& dir, const std::string& name) {
  const int fd = ::open((dir + "/unsynced/" + name).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool locked = ::flock(fd, LOCK_EX | LOCK_NB) != 0;
  ::close(fd);
  return locked;
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
}

int ExitCode(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// A marker as a process of another boot would have left it.
constexpr char kForeignMarker[] = "00000000-0000-4000-8000-000000000000.4242.0badf00d";

void PutAndFlush(ChunkCache& c, uint64_t xorb, uint32_t n) {
  for (uint32_t i = 0; i < n; ++i) c.PutChunk(XorbFor(xorb), i, Bytes(xorb * 1000 + i, 5000));
  ASSERT_TRUE(c.Flush().ok());
}

void ExpectEntries(ChunkCache& c, uint64_t xorb, uint32_t n) {
  for (uint32_t i = 0; i < n; ++i) {
    auto got = c.GetChunk(XorbFor(xorb), i);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_TRUE(got->has_value()) << xorb << "/" << i;
    EXPECT_EQ(**got, Bytes(xorb * 1000 + i, 5000));
  }
}

TEST(CacheDurabilityTest, MarkerOnFirstWriteRemovedAtCleanClose) {
  ASSERT_FALSE(BootId().empty());
  TempDir tmp;
  {
    // Creating the store is a write.
    auto c = ChunkCache::Open(Options(tmp.path()));
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(Markers(tmp.path()).size(), 1u);
  }
  EXPECT_TRUE(Markers(tmp.path()).empty());
  auto c = ChunkCache::Open(Options(tmp.path()));
  ASSERT_TRUE(c.ok()) << c.status();
  // Opening an existing store and reading write nothing: no marker.
  EXPECT_FALSE((*c)->GetChunk(XorbFor(1), 0)->has_value());
  EXPECT_TRUE(Markers(tmp.path()).empty());
  PutAndFlush(**c, 1, 10);
  const auto markers = Markers(tmp.path());
  ASSERT_EQ(markers.size(), 1u);
  const std::string prefix = BootId() + "." + std::to_string(::getpid()) + ".";
  EXPECT_EQ(markers[0].rfind(prefix, 0), 0u) << markers[0];
  EXPECT_TRUE(MarkerLocked(tmp.path(), markers[0]));
  c->reset();
  EXPECT_TRUE(Markers(tmp.path()).empty());
  c = ChunkCache::Open(Options(tmp.path()));
  ASSERT_TRUE(c.ok()) << c.status();
  ExpectEntries(**c, 1, 10);
}

TEST(CacheDurabilityTest, DurableCacheNeedsNoMarker) {
  TempDir tmp;
  auto c = ChunkCache::Open(Options(tmp.path(), /*durable=*/true));
  ASSERT_TRUE(c.ok()) << c.status();
  PutAndFlush(**c, 1, 5);
  EXPECT_TRUE(Markers(tmp.path()).empty());
}

TEST(CacheDurabilityTest, MarkerOfAnotherBootWipesTheStoreAtOpen) {
  TempDir tmp;
  {
    auto c = ChunkCache::Open(Options(tmp.path()));
    ASSERT_TRUE(c.ok()) << c.status();
    PutAndFlush(**c, 1, 10);
    (*c)->PutChunk(XorbFor(1), 10, Bytes(1010, 65536));  // a pack file's value
    ASSERT_TRUE((*c)->Flush().ok());
  }
  ASSERT_FALSE(std::filesystem::is_empty(tmp.Sub("packs")));
  WriteFile(tmp.Sub("unsynced/") + kForeignMarker, "");
  std::mutex mu;
  std::vector<std::string> warnings;
  log::SetSink([&](log::Level level, std::string_view line) {
    std::lock_guard<std::mutex> lock(mu);
    if (level == log::Level::kWarning) warnings.emplace_back(line);
  });
  // A durable opener checks too: it must not read a damaged store either.
  auto c = ChunkCache::Open(Options(tmp.path(), /*durable=*/true));
  log::SetSink(nullptr);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ((*c)->Stats().entries, 0u);
  EXPECT_FALSE((*c)->GetChunk(XorbFor(1), 0)->has_value());
  EXPECT_FALSE((*c)->GetChunk(XorbFor(1), 10)->has_value());
  EXPECT_TRUE(std::filesystem::is_empty(tmp.Sub("packs")));
  EXPECT_TRUE(Markers(tmp.path()).empty());
  bool warned = false;
  for (const auto& w : warnings) warned |= w.find("system restart") != std::string::npos;
  EXPECT_TRUE(warned);
  PutAndFlush(**c, 2, 3);
  ExpectEntries(**c, 2, 3);
}

TEST(CacheDurabilityTest, DamagedStoreWithAMarkerOfAnotherBootOpensWiped) {
  TempDir tmp;
  {
    auto c = ChunkCache::Open(Options(tmp.path()));
    ASSERT_TRUE(c.ok()) << c.status();
    PutAndFlush(**c, 1, 10);
  }
  // What a lost write-back may leave: garbage where the meta pages were.
  {
    const auto junk = Bytes(9, 8192);
    FILE* f = std::fopen(tmp.Sub("data.mdb").c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(std::fwrite(junk.data(), 1, junk.size(), f), junk.size());
    std::fclose(f);
  }
  ASSERT_EQ(ChunkCache::Open(Options(tmp.path())).status().code(), ErrorCode::kCorrupt);
  WriteFile(tmp.Sub("unsynced/") + kForeignMarker, "");
  auto c = ChunkCache::Open(Options(tmp.path()));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ((*c)->Stats().entries, 0u);
  PutAndFlush(**c, 3, 4);
  ExpectEntries(**c, 3, 4);
  auto report = (*c)->Verify();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->checked, 4u);
  EXPECT_EQ(report->corrupt, 0u);
}

// kill -9 loses nothing (the pages are in the page cache): the marker the
// dead writer left is of this boot, so the next open keeps the store; the
// next clean close of a writer flushes the file and removes it.
TEST(CacheDurabilityTest, KilledWriterLeavesAMarkerThatKeepsTheDataAndIsRemovedLater) {
  TempDir tmp;
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto c = ChunkCache::Open(Options(tmp.path()));
    if (!c.ok()) ::_exit(2);
    for (uint32_t i = 0; i < 50; ++i) (*c)->PutChunk(XorbFor(7), i, Bytes(7000 + i, 5000));
    if (!(*c)->Flush().ok()) ::_exit(3);
    if (::write(ready[1], "r", 1) != 1) ::_exit(4);
    for (;;) ::pause();
  }
  char b;
  ASSERT_EQ(::read(ready[0], &b, 1), 1);
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  ASSERT_EQ(ExitCode(pid), 128 + SIGKILL);
  const auto left = Markers(tmp.path());
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].rfind(BootId() + "." + std::to_string(pid) + ".", 0), 0u) << left[0];
  EXPECT_FALSE(MarkerLocked(tmp.path(), left[0]));

  auto c = ChunkCache::Open(Options(tmp.path()));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ((*c)->Stats().entries, 50u);
  ExpectEntries(**c, 7, 50);
  EXPECT_EQ(Markers(tmp.path()), left);  // open and reads leave it
  PutAndFlush(**c, 8, 1);
  EXPECT_EQ(Markers(tmp.path()).size(), 2u);
  c->reset();
  EXPECT_TRUE(Markers(tmp.path()).empty());
  c = ChunkCache::Open(Options(tmp.path()));
  ASSERT_TRUE(c.ok()) << c.status();
  ExpectEntries(**c, 7, 50);
  ExpectEntries(**c, 8, 1);
}

// flush_at_close = false (a one-shot command): the close leaves the writes
// to the kernel and its marker on disk, unlocked, like a killed writer's: the
// data is there for the next opener, the next flushing writer removes the
// marker, and a restart before that wipes the store.
TEST(CacheDurabilityTest, AWriterThatDoesNotFlushAtCloseLeavesItsMarkerForTheNextFlush) {
  TempDir tmp;
  CacheOptions quick = Options(tmp.path());
  quick.flush_at_close = false;
  {
    auto c = ChunkCache::Open(quick);
    ASSERT_TRUE(c.ok()) << c.status();
    PutAndFlush(**c, 1, 10);
    (*c)->PutChunk(XorbFor(1), 10, Bytes(1010, 65536));  // a pack file's value
    ASSERT_TRUE((*c)->Flush().ok());
  }
  const auto left = Markers(tmp.path());
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].rfind(BootId() + "." + std::to_string(::getpid()) + ".", 0), 0u) << left[0];
  EXPECT_FALSE(MarkerLocked(tmp.path(), left[0]));
  {
    // The next opener finds the data; a writer that flushes at close (its
    // reads' recency is a write) removes the marker with its own.
    auto c = ChunkCache::Open(Options(tmp.path()));
    ASSERT_TRUE(c.ok()) << c.status();
    ExpectEntries(**c, 1, 10);
    PutAndFlush(**c, 2, 1);
    EXPECT_EQ(Markers(tmp.path()).size(), 2u);
  }
  EXPECT_TRUE(Markers(tmp.path()).empty());
  {
    auto c = ChunkCache::Open(quick);
    ASSERT_TRUE(c.ok()) << c.status();
    ExpectEntries(**c, 1, 10);
    ExpectEntries(**c, 2, 1);
    PutAndFlush(**c, 3, 1);
  }
  // Left unflushed, then a restart (its marker renamed to another boot's):
  // the store is wiped before it is read.
  const auto again = Markers(tmp.path());
  ASSERT_EQ(again.size(), 1u);
  std::filesystem::rename(tmp.Sub("unsynced/") + again[0],
                          tmp.Sub("unsynced/") + kForeignMarker);
  auto c = ChunkCache::Open(Options(tmp.path(), /*durable=*/true));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ((*c)->Stats().entries, 0u);
  EXPECT_FALSE((*c)->GetChunk(XorbFor(1), 10)->has_value());
  EXPECT_TRUE(Markers(tmp.path()).empty());
}

// A live writer's marker survives another writer's clean close; each
// process removes its own at its close.
TEST(CacheDurabilityTest, TwoWritersKeepEachOthersMarkers) {
  TempDir tmp;
  int ready[2], go[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(go), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto c = ChunkCache::Open(Options(tmp.path()));
    if (!c.ok()) ::_exit(2);
    for (uint32_t i = 0; i < 20; ++i) (*c)->PutChunk(XorbFor(1), i, Bytes(1000 + i, 5000));
    if (!(*c)->Flush().ok()) ::_exit(3);
    if (::write(ready[1], "r", 1) != 1) ::_exit(4);
    char b;
    if (::read(go[0], &b, 1) != 1) ::_exit(5);
    (*c)->PutChunk(XorbFor(1), 20, Bytes(1020, 5000));
    if (!(*c)->Flush().ok()) ::_exit(6);
    c->reset();  // clean close
    ::_exit(0);
  }
  char b;
  ASSERT_EQ(::read(ready[0], &b, 1), 1);
  const auto child_markers = Markers(tmp.path());
  ASSERT_EQ(child_markers.size(), 1u);
  EXPECT_TRUE(MarkerLocked(tmp.path(), child_markers[0]));
  {
    auto c = ChunkCache::Open(Options(tmp.path()));
    ASSERT_TRUE(c.ok()) << c.status();
    ExpectEntries(**c, 1, 20);
    PutAndFlush(**c, 2, 20);
    EXPECT_EQ(Markers(tmp.path()).size(), 2u);
  }
  EXPECT_EQ(Markers(tmp.path()), child_markers);  // the live child's stays
  ASSERT_EQ(::write(go[1], "g", 1), 1);
  ASSERT_EQ(ExitCode(pid), 0);
  EXPECT_TRUE(Markers(tmp.path()).empty());
  auto c = ChunkCache::Open(Options(tmp.path()));
  ASSERT_TRUE(c.ok()) << c.status();
  ExpectEntries(**c, 1, 21);
  ExpectEntries(**c, 2, 20);
}

// After a restart, two processes opening at once: only the first wipes (the
// check and wipe hold a lock), so the second never deletes the first's
// fresh store.
TEST(CacheDurabilityTest, FirstOpenersAfterARestartWipeOnce) {
  TempDir tmp;
  {
    auto c = ChunkCache::Open(Options(tmp.path()));
    ASSERT_TRUE(c.ok()) << c.status();
    PutAndFlush(**c, 1, 10);
    (*c)->PutChunk(XorbFor(1), 10, Bytes(1010, 65536));  // a pack file's value
    ASSERT_TRUE((*c)->Flush().ok());
  }
  ASSERT_FALSE(std::filesystem::is_empty(tmp.Sub("packs")));
  WriteFile(tmp.Sub("unsynced/") + kForeignMarker, "");
  int start[2];
  ASSERT_EQ(::pipe(start), 0);
  pid_t pids[2];
  for (uint64_t k = 0; k < 2; ++k) {
    pids[k] = ::fork();
    ASSERT_GE(pids[k], 0);
    if (pids[k] == 0) {
      ::close(start[1]);
      char b;
      if (::read(start[0], &b, 1) != 0) ::_exit(2);  // EOF: all start together
      auto c = ChunkCache::Open(Options(tmp.path()));
      if (!c.ok()) ::_exit(3);
      for (uint32_t i = 0; i < 30; ++i) {
        (*c)->PutChunk(XorbFor(10 + k), i, Bytes((10 + k) * 1000 + i, 5000));
      }
      if (!(*c)->Flush().ok()) ::_exit(4);
      c->reset();
      ::_exit(0);
    }
  }
  ::close(start[0]);
  ::close(start[1]);
  for (pid_t pid : pids) ASSERT_EQ(ExitCode(pid), 0);
  EXPECT_TRUE(Markers(tmp.path()).empty());
  auto c = ChunkCache::Open(Options(tmp.path()));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ((*c)->Stats().entries, 60u);
  EXPECT_FALSE((*c)->GetChunk(XorbFor(1), 0)->has_value());
  for (uint32_t i = 0; i < 30; ++i) {
    auto a = (*c)->GetChunk(XorbFor(10), i);
    auto z = (*c)->GetChunk(XorbFor(11), i);
    ASSERT_TRUE(a.ok() && z.ok());
    EXPECT_EQ(a->value_or(std::vector<uint8_t>{}), Bytes(10 * 1000 + i, 5000));
    EXPECT_EQ(z->value_or(std::vector<uint8_t>{}), Bytes(11 * 1000 + i, 5000));
  }
}

// A long-running process that stops writing flushes and drops its marker, so
// a crash while it is idle costs nothing; its next write marks again.
TEST(CacheDurabilityTest, IdleWriterFlushesAndDropsItsMarker) {
  TempDir tmp;
  FakeClock clock;
  CacheOptions o = Options(tmp.path());
  o.clock = &clock;
  o.sync_when_idle_after = std::chrono::seconds(10);
  auto c = ChunkCache::Open(o);
  ASSERT_TRUE(c.ok()) << c.status();
  PutAndFlush(**c, 1, 5);
  ASSERT_EQ(Markers(tmp.path()).size(), 1u);
  clock.Advance(std::chrono::seconds(9));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(Markers(tmp.path()).size(), 1u);  // not idle long enough
  clock.Advance(std::chrono::seconds(2));
  for (int i = 0; i < 200 && !Markers(tmp.path()).empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(Markers(tmp.path()).empty());
  PutAndFlush(**c, 2, 1);
  EXPECT_EQ(Markers(tmp.path()).size(), 1u);
  c->reset();
  EXPECT_TRUE(Markers(tmp.path()).empty());
}

}  // namespace
}  // namespace hubfs::chunkstore
