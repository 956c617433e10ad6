// The cache shared between processes, and processes dying at any moment.
// Children are forked before the parent opens its own cache, never use
// gtest, and report through their exit status.
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <lmdb.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

#include "chunkstore/cache.h"
#include "tests/unit/chunkstore/cache_test_util.h"

namespace hubfs::chunkstore {
namespace {

using cache_testing::Bytes;
using cache_testing::TempDir;
using cache_testing::XorbFor;
using Clock_ = std::chrono::steady_clock;

CacheOptions Options(const std::string& dir, uint64_t max_bytes, bool durable = false) {
  CacheOptions o;
  o.dir = dir;
  o.max_bytes = max_bytes;
  o.durable = durable;
  return o;
}

// Payload of entry (xorb n, index i): size and bytes follow from (n, i), so
// any process can check what it reads.
std::vector<uint8_t> Payload(uint64_t n, uint32_t i, size_t min_size, size_t spread) {
  const uint64_t seed = n * 1'000'003 + i;
  return Bytes(seed, min_size + seed * 2654435761u % spread);
}

int ExitCode(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Child: writes xorb 100 entries 0..n-1, then waits to see the parent's
// xorb 200 entries 0..m-1. Exit 0 on success.
[[noreturn]] void SharedChild(const std::string& dir, uint32_t n, uint32_t m) {
  auto c = ChunkCache::Open(Options(dir, 64 << 20));
  if (!c.ok()) ::_exit(2);
  for (uint32_t i = 0; i < n; ++i) {
    (*c)->PutChunk(XorbFor(100), i, Payload(100, i, 8192, 8192));
    if (i % 10 == 9 && !(*c)->Flush().ok()) ::_exit(3);
  }
  if (!(*c)->Flush().ok()) ::_exit(3);
  const auto deadline = Clock_::now() + std::chrono::seconds(20);
  for (uint32_t i = 0; i < m;) {
    auto got = (*c)->GetChunk(XorbFor(200), i);
    if (!got.ok()) ::_exit(4);
    if (got->has_value()) {
      if (**got != Payload(200, i, 8192, 8192)) ::_exit(5);
      ++i;
    } else if (Clock_::now() > deadline) {
      ::_exit(6);
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  c->reset();
  ::_exit(0);
}

TEST(CacheProcessTest, TwoProcessesShareOneCache) {
  TempDir tmp;
  constexpr uint32_t kChild = 300, kParent = 100;
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) SharedChild(tmp.path(), kChild, kParent);

  auto c = ChunkCache::Open(Options(tmp.path(), 64 << 20));
  ASSERT_TRUE(c.ok()) << c.status();
  for (uint32_t i = 0; i < kParent; ++i) {
    (*c)->PutChunk(XorbFor(200), i, Payload(200, i, 8192, 8192));
  }
  ASSERT_TRUE((*c)->Flush().ok());
  // Read the child's entries while it writes them.
  const auto deadline = Clock_::now() + std::chrono::seconds(20);
  uint32_t seen = 0;
  for (uint32_t i = 0; i < kChild && Clock_::now() < deadline;) {
    auto got = (*c)->GetChunk(XorbFor(100), i);
    ASSERT_TRUE(got.ok()) << got.status();
    if (got->has_value()) {
      ASSERT_EQ(**got, Payload(100, i, 8192, 8192)) << i;
      ++seen;
      ++i;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  EXPECT_EQ(seen, kChild);
  EXPECT_EQ(ExitCode(pid), 0);
  auto report = (*c)->Verify();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->checked, kChild + kParent);
  EXPECT_EQ(report->corrupt, 0u);
  EXPECT_EQ((*c)->Stats().entries, kChild + kParent);
}

// Child: writes and reads without end (until killed), with eviction.
[[noreturn]] void ChurnUntilKilled(const std::string& dir, uint64_t limit, uint64_t round,
                                   bool durable) {
  auto c = ChunkCache::Open(Options(dir, limit, durable));
  if (!c.ok()) ::_exit(2);
  std::mt19937_64 rng(round);
  // A second thread reads, so kills also land inside read transactions.
  std::thread reader([&] {
    for (uint32_t i = 0;; ++i) (void)(*c)->GetChunk(XorbFor(round), static_cast<uint32_t>(rng() % (i + 1)));
  });
  for (uint32_t i = 0;; ++i) {
    (*c)->PutChunk(XorbFor(round), i, Payload(round, i, 16 << 10, 112 << 10));
    if (i % 16 == 15) (void)(*c)->Flush();
  }
}

TEST(CacheProcessTest, KillNineAtRandomMomentsLeavesAUsableCache) {
  TempDir tmp;
  constexpr uint64_t kLimit = 4 << 20;
  std::mt19937 rng(12345);
  for (uint64_t round = 1; round <= 6; ++round) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) ChurnUntilKilled(tmp.path(), kLimit, round, /*durable=*/round % 2 == 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(40 + rng() % 160));
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    EXPECT_EQ(ExitCode(pid), 128 + SIGKILL) << "round " << round;
  }
  auto c = ChunkCache::Open(Options(tmp.path(), kLimit));
  ASSERT_TRUE(c.ok()) << c.status();
  const CacheStats before = (*c)->Stats();
  EXPECT_GT(before.entries, 0u);
  EXPECT_LE(before.bytes, kLimit);
  auto report = (*c)->Verify();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->corrupt, 0u);
  EXPECT_EQ(report->checked, before.entries);
  // The counters agree with the entries actually present.
  auto usage = (*c)->Usage();
  ASSERT_TRUE(usage.ok());
  EXPECT_EQ((*usage)[0].entries, before.entries);
  EXPECT_EQ((*usage)[0].bytes, before.bytes);
  // Every listed entry reads back with the right bytes.
  auto list = (*c)->List(CacheKind::kChunk, 100000);
  ASSERT_TRUE(list.ok());
  size_t checked = 0;
  for (uint64_t round = 1; round <= 6; ++round) {
    for (uint32_t i = 0; i < 5000 && checked < list->size(); ++i) {
      auto got = (*c)->GetChunk(XorbFor(round), i);
      ASSERT_TRUE(got.ok());
      if (!got->has_value()) continue;
      ASSERT_EQ(**got, Payload(round, i, 16 << 10, 112 << 10)) << round << "/" << i;
      ++checked;
    }
  }
  EXPECT_EQ(checked, list->size());
  // And it still takes writes.
  (*c)->PutChunk(XorbFor(99), 0, std::vector<uint8_t>{1, 2, 3});
  EXPECT_TRUE((*c)->Flush().ok());
  EXPECT_TRUE((*c)->GetChunk(XorbFor(99), 0)->has_value());
  // The killed not-durable writers left unsynced-write markers (of this
  // boot: kept); this clean close flushed the file and removed them all.
  c->reset();
  std::error_code ec;
  EXPECT_TRUE(std::filesystem::is_empty(tmp.Sub("unsynced"), ec)) << ec.message();
  EXPECT_FALSE(ec);
}

TEST(CacheProcessTest, FullDiskFailsWritesAndKeepsWhatWasCommitted) {
  TempDir tmp;
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // A file-size limit stands in for a full disk: writes past it fail.
    ::signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {1 << 20, 1 << 20};
    if (::setrlimit(RLIMIT_FSIZE, &rl) != 0) ::_exit(2);
    auto c = ChunkCache::Open(Options(tmp.path(), 64 << 20, /*durable=*/true));
    if (!c.ok()) ::_exit(3);
    uint32_t committed = 0;
    for (uint32_t i = 0; i < 100; ++i) {
      (*c)->PutChunk(XorbFor(1), i, Payload(1, i, 60000, 1));
      if (!(*c)->Flush().ok()) break;
      committed = i + 1;
    }
    if (committed == 0 || committed == 100) ::_exit(4);
    if ((*c)->Stats().write_errors == 0) ::_exit(5);
    if (::write(fds[1], &committed, sizeof(committed)) != sizeof(committed)) ::_exit(6);
    ::_exit(0);
  }
  ::close(fds[1]);
  uint32_t committed = 0;
  ASSERT_EQ(::read(fds[0], &committed, sizeof(committed)), static_cast<ssize_t>(sizeof(committed)));
  ::close(fds[0]);
  ASSERT_EQ(ExitCode(pid), 0);
  auto c = ChunkCache::Open(Options(tmp.path(), 64 << 20));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ((*c)->Stats().entries, committed);
  for (uint32_t i = 0; i < committed; ++i) {
    auto got = (*c)->GetChunk(XorbFor(1), i);
    ASSERT_TRUE(got.ok());
    ASSERT_TRUE(got->has_value()) << i;
    EXPECT_EQ(**got, Payload(1, i, 60000, 1));
  }
  auto report = (*c)->Verify();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->corrupt, 0u);
}

// One process grows the LMDB map while another has the cache open with the
// old, smaller map: the other adopts the new size (MDB_MAP_RESIZED) on its
// next transaction, for reads and writes alike.
TEST(CacheProcessTest, MapGrownByAnotherProcessIsAdopted) {
  TempDir tmp;
  auto small_map = [&] {
    CacheOptions o = Options(tmp.path(), 64 << 20);
    o.initial_map_bytes = 1 << 20;
    o.max_map_bytes = 64 << 20;
    return o;
  };
  int go[2];
  ASSERT_EQ(::pipe(go), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(go[1]);
    char b;
    if (::read(go[0], &b, 1) != 1) ::_exit(2);
    auto c = ChunkCache::Open(small_map());
    if (!c.ok()) ::_exit(3);
    // Small values: larger ones go to pack files, outside the map.
    for (uint32_t i = 0; i < 1400; ++i) (*c)->PutChunk(XorbFor(300), i, Payload(300, i, 8000, 1));
    if (!(*c)->Flush().ok()) ::_exit(4);
    if ((*c)->Stats().map_bytes <= (1u << 20)) ::_exit(5);
    c->reset();
    ::_exit(0);
  }
  ::close(go[0]);
  auto c = ChunkCache::Open(small_map());
  ASSERT_TRUE(c.ok()) << c.status();
  (*c)->PutChunk(XorbFor(301), 0, std::vector<uint8_t>{1});
  ASSERT_TRUE((*c)->Flush().ok());
  const uint64_t map_before = (*c)->Stats().map_bytes;
  ASSERT_EQ(::write(go[1], "g", 1), 1);
  ::close(go[1]);
  ASSERT_EQ(ExitCode(pid), 0);
  for (uint32_t i = 0; i < 1400; ++i) {
    auto got = (*c)->GetChunk(XorbFor(300), i);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_TRUE(got->has_value()) << i;
    ASSERT_EQ(**got, Payload(300, i, 8000, 1));
  }
  EXPECT_GT((*c)->Stats().map_bytes, map_before);
  (*c)->PutChunk(XorbFor(301), 1, Payload(301, 1, 65536, 1));
  ASSERT_TRUE((*c)->Flush().ok());
  EXPECT_EQ((*c)->Stats().entries, 1402u);
}

// Raw LMDB access for the stale-reader test, only ever in a child process
// (one environment per directory per process).
int CountReaderSlotsOf(const std::string& dir, pid_t pid) {
  MDB_env* env = nullptr;
  if (mdb_env_create(&env) != 0) return -1;
  mdb_env_set_maxdbs(env, 4);
  if (mdb_env_open(env, dir.c_str(), MDB_NOTLS | MDB_RDONLY, 0644) != 0) return -1;
  struct Ctx {
    std::string needle;
    int n = 0;
  } ctx{" " + std::to_string(pid) + " ", 0};
  mdb_reader_list(
      env,
      [](const char* line, void* p) {
        auto* c = static_cast<Ctx*>(p);
        // Lines are "<pid> <thread> <txnid>", the pid right-aligned.
        if ((std::string(" ") + line).find(c->needle) != std::string::npos) ++c->n;
        return 0;
      },
      &ctx);
  mdb_env_close(env);
  return ctx.n;
}

// A process killed inside a read transaction leaves its reader slot behind
// (as long as another process keeps the environment open), pinning the
// snapshot it read: pages freed after it cannot be reused, so under churn
// the file would grow without bound. The writer clears such slots.
TEST(CacheProcessTest, StaleReaderSlotOfAKilledProcessIsCleared) {
  TempDir tmp;
  constexpr uint64_t kLimit = 8 << 20;
  auto c = ChunkCache::Open(Options(tmp.path(), kLimit));
  ASSERT_TRUE(c.ok());
  for (uint32_t i = 0; i < 120; ++i) (*c)->PutChunk(XorbFor(1), i, Payload(1, i, 65536, 1));
  ASSERT_TRUE((*c)->Flush().ok());

  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t reader = ::fork();
  ASSERT_GE(reader, 0);
  if (reader == 0) {
    MDB_env* env = nullptr;
    MDB_txn* txn = nullptr;
    if (mdb_env_create(&env) != 0) ::_exit(2);
    mdb_env_set_maxdbs(env, 4);
    if (mdb_env_open(env, tmp.path().c_str(), MDB_NOTLS, 0644) != 0) ::_exit(3);
    if (mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn) != 0) ::_exit(4);
    if (::write(ready[1], "r", 1) != 1) ::_exit(5);
    for (;;) ::pause();
  }
  char b;
  ASSERT_EQ(::read(ready[0], &b, 1), 1);
  ASSERT_EQ(::kill(reader, SIGKILL), 0);
  ASSERT_EQ(ExitCode(reader), 128 + SIGKILL);

  const pid_t probe = ::fork();
  ASSERT_GE(probe, 0);
  if (probe == 0) ::_exit(CountReaderSlotsOf(tmp.path(), reader));
  ASSERT_EQ(ExitCode(probe), 1) << "the killed reader's slot should be left behind";

  // Churn 6x the limit: only bounded if the pinned snapshot was released.
  // Values below the pack threshold, so that they churn the LMDB file.
  for (uint32_t i = 0; i < 6 * 128 * 8; ++i) {
    (*c)->PutChunk(XorbFor(2), i, Payload(2, i, 8000, 1));
    if (i % 256 == 255) {
      ASSERT_TRUE((*c)->Flush().ok());
    }
  }
  ASSERT_TRUE((*c)->Flush().ok());
  EXPECT_LE(cache_testing::FileSize(tmp.Sub("data.mdb")), 2 * kLimit);
  const pid_t probe2 = ::fork();
  ASSERT_GE(probe2, 0);
  if (probe2 == 0) ::_exit(CountReaderSlotsOf(tmp.path(), reader));
  EXPECT_EQ(ExitCode(probe2), 0);
}

}  // namespace
}  // namespace hubfs::chunkstore
