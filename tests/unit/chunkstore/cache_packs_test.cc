// Large values in pack files (docs/CACHE_FORMAT.md, "Pack files"): they
// stay out of the LMDB file, evicted ones give their space back, unused
// packs are deleted, and a value whose range was punched reads as a miss.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "chunkstore/cache.h"
#include "chunkstore/cache_packs.h"
#include "tests/unit/chunkstore/cache_test_util.h"

namespace hubfs::chunkstore {
namespace {

using cache_testing::Bytes;
using cache_testing::FileSize;
using cache_testing::FlipInStore;
using cache_testing::StoreDiskBytes;
using cache_testing::TempDir;
using cache_testing::XorbFor;

CacheOptions Options(const std::string& dir, uint64_t max_bytes) {
  CacheOptions o;
  o.dir = dir;
  o.max_bytes = max_bytes;
  o.durable = false;
  o.probation_hold = std::chrono::seconds(0);  // every put admitted
  return o;
}

std::vector<std::string> Packs(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/packs", ec)) {
    out.push_back(e.path().string());
  }
  return out;
}

// A process that ended without a flush (`hubfs cat`, a killed one) leaves
// packs that no later process wrote: the flush that removes its marker must
// reach them too. Sync reaches only the caller's own packs; SyncAll every one.
TEST(CachePacksTest, SyncAllReachesThePacksOfAProcessThatEndedWithoutAFlush) {
  using cache_internal::PackFiles;
  using cache_internal::ValueBuffer;
  TempDir tmp;
  const PackFiles::DirLock no_lock = [] { return Result<std::shared_ptr<void>>(nullptr); };
  // Writes one value to a pack of its own, commits it and returns where.
  auto write_one = [](PackFiles& packs, uint8_t fill) {
    ValueBuffer v(cache_internal::kPackMinValue);
    std::fill(v.bytes().begin(), v.bytes().end(), fill);
    const ValueBuffer* values[] = {&v};
    auto at = packs.Append(values);
    EXPECT_TRUE(at.ok()) << at.status();
    packs.Commit();
    return at.ok() ? (*at)[0] : cache_internal::PackLocation{};
  };
  cache_internal::PackLocation left;
  {
    PackFiles ended(tmp.path(), no_lock);
    left = write_one(ended, 0x5a);
  }  // no Sync
  PackFiles next(tmp.path(), no_lock);
  const cache_internal::PackLocation own = write_one(next, 0xa5);
  ASSERT_NE(own.pack, left.pack);
  ASSERT_EQ(Packs(tmp.path()).size(), 2u);
  auto all = next.SyncAll();
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(*all, 2u);  // its own pack and the one left unsynced
  std::vector<uint8_t> got;
  ASSERT_TRUE(next.Read(left, &got).ok());
  EXPECT_EQ(got, std::vector<uint8_t>(cache_internal::kPackMinValue, 0x5a));
}

TEST(CachePacksTest, LargeValuesLiveInPacksSmallOnesInLmdb) {
  TempDir tmp;
  auto c = ChunkCache::Open(Options(tmp.path(), 256 << 20));
  ASSERT_TRUE(c.ok()) << c.status();
  for (uint32_t i = 0; i < 64; ++i) (*c)->PutChunk(XorbFor(1), i, Bytes(i, 65536));
  (*c)->PutChunk(XorbFor(2), 0, Bytes(99, 1000));
  ASSERT_TRUE((*c)->Flush().ok());
  // 4 MiB of chunks: in one pack, not in the map's file.
  ASSERT_EQ(Packs(tmp.path()).size(), 1u);
  EXPECT_GE(FileSize(Packs(tmp.path())[0]), 64u * 65536);
  EXPECT_LT(FileSize(tmp.Sub("data.mdb")), 2u << 20);
  for (uint32_t i = 0; i < 64; ++i) {
    auto got = (*c)->GetChunk(XorbFor(1), i);
    ASSERT_TRUE(got.ok() && got->has_value()) << i;
    EXPECT_EQ(**got, Bytes(i, 65536));
  }
  auto small = (*c)->GetChunk(XorbFor(2), 0);
  ASSERT_TRUE(small.ok() && small->has_value());
  EXPECT_EQ(**small, Bytes(99, 1000));
  // A reopened store reads them back; an identical re-put writes nothing new.
  c->reset();
  c = ChunkCache::Open(Options(tmp.path(), 256 << 20));
  ASSERT_TRUE(c.ok());
  const auto packs = Packs(tmp.path());
  const uint64_t pack_bytes = FileSize(packs[0]);
  for (uint32_t i = 0; i < 64; ++i) (*c)->PutChunk(XorbFor(1), i, Bytes(i, 65536));
  ASSERT_TRUE((*c)->Flush().ok());
  EXPECT_EQ(Packs(tmp.path()), packs);
  EXPECT_EQ(FileSize(packs[0]), pack_bytes);
  auto got = (*c)->GetChunk(XorbFor(1), 63);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ(**got, Bytes(63, 65536));
}

TEST(CachePacksTest, ValuesAreWrittenWholeEachOnABoundaryWithZeroPadding) {
  // Written straight from each value's own memory (no write buffer): every
  // value lands whole, starts on a 4 KiB boundary, and its padding is zeros.
  TempDir tmp;
  const std::vector<size_t> sizes = {20000, 70001, 16384 - 24, 65536};
  {
    auto c = ChunkCache::Open(Options(tmp.path(), 256 << 20));
    ASSERT_TRUE(c.ok()) << c.status();
    for (uint32_t i = 0; i < sizes.size(); ++i) {
      (*c)->PutChunk(XorbFor(5), i, Bytes(50 + i, sizes[i]));
    }
    ASSERT_TRUE((*c)->Flush().ok());
  }
  ASSERT_EQ(Packs(tmp.path()).size(), 1u);
  std::ifstream in(Packs(tmp.path())[0], std::ios::binary);
  const std::vector<uint8_t> pack((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
  constexpr size_t kHeader = 24;
  size_t at = 0;
  for (uint32_t i = 0; i < sizes.size(); ++i) {
    ASSERT_LE(at + kHeader + sizes[i], pack.size()) << i;
    const uint32_t payload = uint32_t{pack[at + 4]} | (uint32_t{pack[at + 5]} << 8) |
                             (uint32_t{pack[at + 6]} << 16) | (uint32_t{pack[at + 7]} << 24);
    ASSERT_EQ(payload, sizes[i]) << i;
    const auto want = Bytes(50 + i, sizes[i]);
    const auto payload_at = pack.begin() + static_cast<ptrdiff_t>(at + kHeader);
    EXPECT_TRUE(std::equal(want.begin(), want.end(), payload_at)) << i;
    const size_t end = at + kHeader + sizes[i];
    const size_t next = (end + 4095) / 4096 * 4096;
    ASSERT_LE(next, pack.size()) << i;
    EXPECT_TRUE(std::all_of(pack.begin() + static_cast<ptrdiff_t>(end),
                            pack.begin() + static_cast<ptrdiff_t>(next),
                            [](uint8_t b) { return b == 0; }))
        << i;
    at = next;
  }
  EXPECT_EQ(at, pack.size());
  auto c = ChunkCache::Open(Options(tmp.path(), 256 << 20));
  ASSERT_TRUE(c.ok()) << c.status();
  for (uint32_t i = 0; i < sizes.size(); ++i) {
    auto got = (*c)->GetChunk(XorbFor(5), i);
    ASSERT_TRUE(got.ok() && got->has_value()) << i;
    EXPECT_EQ(**got, Bytes(50 + i, sizes[i]));
  }
}

TEST(CachePacksTest, EvictedValuesGiveTheirSpaceBack) {
  TempDir tmp;
  constexpr uint64_t kLimit = 8 << 20;
  auto c = ChunkCache::Open(Options(tmp.path(), kLimit));
  ASSERT_TRUE(c.ok());
  // 64 MiB through an 8 MiB cache.
  for (uint32_t i = 0; i < 1024; ++i) {
    (*c)->PutChunk(XorbFor(3), i, Bytes(i, 65536));
    if (i % 64 == 63) {
      ASSERT_TRUE((*c)->Flush().ok());
    }
  }
  ASSERT_TRUE((*c)->Flush().ok());
  EXPECT_LE((*c)->Stats().bytes, kLimit);
  EXPECT_GT((*c)->Stats().evictions, 800u);
  // Holes where the evicted values were: the pack holds about the limit.
  EXPECT_LE(StoreDiskBytes(tmp.path()), kLimit + (4u << 20));
  auto last = (*c)->GetChunk(XorbFor(3), 1023);
  ASSERT_TRUE(last.ok() && last->has_value());
  EXPECT_EQ(**last, Bytes(1023, 65536));
  auto first = (*c)->GetChunk(XorbFor(3), 0);
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first->has_value());
}

TEST(CachePacksTest, ClearDeletesPacksAndWritesGoOn) {
  TempDir tmp;
  auto c = ChunkCache::Open(Options(tmp.path(), 64 << 20));
  ASSERT_TRUE(c.ok());
  for (uint32_t i = 0; i < 16; ++i) (*c)->PutChunk(XorbFor(4), i, Bytes(i, 65536));
  ASSERT_TRUE((*c)->Flush().ok());
  ASSERT_EQ(Packs(tmp.path()).size(), 1u);
  ASSERT_TRUE((*c)->Clear().ok());
  EXPECT_TRUE(Packs(tmp.path()).empty());
  auto gone = (*c)->GetChunk(XorbFor(4), 3);
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone->has_value());
  (*c)->PutChunk(XorbFor(4), 3, Bytes(3, 65536));
  ASSERT_TRUE((*c)->Flush().ok());
  auto back = (*c)->GetChunk(XorbFor(4), 3);
  ASSERT_TRUE(back.ok() && back->has_value());
  EXPECT_EQ(**back, Bytes(3, 65536));
}

// A process killed after writing its pack but before its pointers were
// committed leaves a pack no entry uses: the next opener deletes it. Packs
// whose entries are alive stay.
TEST(CachePacksTest, UnusedPacksOfDeadProcessesAreDeletedAtOpen) {
  TempDir tmp;
  {
    auto c = ChunkCache::Open(Options(tmp.path(), 64 << 20));
    ASSERT_TRUE(c.ok());
    (*c)->PutChunk(XorbFor(5), 0, Bytes(5, 65536));
    ASSERT_TRUE((*c)->Flush().ok());
  }
  ASSERT_EQ(Packs(tmp.path()).size(), 1u);
  const std::string orphan = tmp.Sub("packs/00000000000000ab.pack");
  {
    FILE* f = std::fopen(orphan.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    const auto junk = Bytes(6, 8192);
    ASSERT_EQ(std::fwrite(junk.data(), 1, junk.size(), f), junk.size());
    std::fclose(f);
  }
  auto c = ChunkCache::Open(Options(tmp.path(), 64 << 20));
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(std::filesystem::exists(orphan));
  ASSERT_EQ(Packs(tmp.path()).size(), 1u);
  auto got = (*c)->GetChunk(XorbFor(5), 0);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ(**got, Bytes(5, 65536));
}

// Another process's current pack is held (flock) while it appends: an
// opener's sweep leaves it although none of its entries is committed yet.
TEST(CachePacksTest, AHeldPackIsNotDeleted) {
  TempDir tmp;
  auto a = ChunkCache::Open(Options(tmp.path(), 64 << 20));
  ASSERT_TRUE(a.ok());
  (*a)->PutChunk(XorbFor(7), 0, Bytes(7, 65536));
  ASSERT_TRUE((*a)->Flush().ok());
  ASSERT_TRUE((*a)->Clear().ok());  // no entry uses any pack now
  (*a)->PutChunk(XorbFor(7), 1, Bytes(8, 65536));
  ASSERT_TRUE((*a)->Flush().ok());
  const auto held = Packs(tmp.path());
  ASSERT_EQ(held.size(), 1u);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Another process opens the store (and sweeps) and clears it: every
    // entry goes, but the pack the first process appends to stays.
    auto b = ChunkCache::Open(Options(tmp.path(), 64 << 20));
    if (!b.ok()) ::_exit(2);
    if (!(*b)->Clear().ok()) ::_exit(3);
    b->reset();
    ::_exit(std::filesystem::exists(held[0]) ? 0 : 4);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  // The first process goes on appending to its pack.
  (*a)->PutChunk(XorbFor(7), 2, Bytes(9, 65536));
  ASSERT_TRUE((*a)->Flush().ok());
  auto got = (*a)->GetChunk(XorbFor(7), 2);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ(**got, Bytes(9, 65536));
}

// Bytes of a pack that no longer hold the value (a punched range, a file
// cut short) are a miss with a corrupt drop, never wrong bytes.
TEST(CachePacksTest, ATruncatedPackIsAMiss) {
  TempDir tmp;
  {
    auto c = ChunkCache::Open(Options(tmp.path(), 64 << 20));
    ASSERT_TRUE(c.ok());
    for (uint32_t i = 0; i < 4; ++i) (*c)->PutChunk(XorbFor(8), i, Bytes(i, 65536));
    ASSERT_TRUE((*c)->Flush().ok());
  }
  const auto packs = Packs(tmp.path());
  ASSERT_EQ(packs.size(), 1u);
  ASSERT_EQ(::truncate(packs[0].c_str(), 65536 * 2), 0);
  auto c = ChunkCache::Open(Options(tmp.path(), 64 << 20));
  ASSERT_TRUE(c.ok());
  auto first = (*c)->GetChunk(XorbFor(8), 0);
  ASSERT_TRUE(first.ok() && first->has_value());
  EXPECT_EQ(**first, Bytes(0, 65536));
  auto cut = (*c)->GetChunk(XorbFor(8), 3);
  ASSERT_TRUE(cut.ok()) << cut.status();
  EXPECT_FALSE(cut->has_value());
  EXPECT_EQ((*c)->Stats().corrupt_drops, 1u);
}

// CacheOptions::recent_max_bytes: a chunk just written is read from memory,
// not from the store, until newer ones push it out. Shown with a store
// whose copy was damaged after the commit: memory serves the right bytes;
// once the value left memory, the damaged copy is a detected miss.
TEST(CachePacksTest, RecentlyWrittenChunksAreReadFromMemory) {
  TempDir tmp;
  CacheOptions o = Options(tmp.path(), 64 << 20);
  o.recent_max_bytes = 1 << 20;
  auto c = ChunkCache::Open(o);
  ASSERT_TRUE(c.ok());
  const auto first = Bytes(40, 65536);
  (*c)->PutChunk(XorbFor(9), 0, first);
  ASSERT_TRUE((*c)->Flush().ok());
  ASSERT_EQ(FlipInStore(tmp.path(), std::vector<uint8_t>(first.begin(), first.begin() + 64), 900),
            1);
  auto got = (*c)->GetChunk(XorbFor(9), 0);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ(**got, first);
  EXPECT_EQ((*c)->Stats().corrupt_drops, 0u);
  // 2 MiB more: the first value leaves memory and is read from the store.
  for (uint32_t i = 1; i <= 32; ++i) (*c)->PutChunk(XorbFor(9), i, Bytes(40 + i, 65536));
  ASSERT_TRUE((*c)->Flush().ok());
  got = (*c)->GetChunk(XorbFor(9), 0);
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->has_value());
  EXPECT_EQ((*c)->Stats().corrupt_drops, 1u);
  auto last = (*c)->GetChunk(XorbFor(9), 32);
  ASSERT_TRUE(last.ok() && last->has_value());
  EXPECT_EQ(**last, Bytes(72, 65536));
}

// Pages of `path` in [offset, offset + length) in the page cache.
size_t ResidentPages(const std::string& path, uint64_t offset, uint64_t length) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  const size_t size = static_cast<size_t>(std::filesystem::file_size(path));
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) return 0;
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> vec((size + page - 1) / page);
  size_t n = 0;
  if (::mincore(map, size, vec.data()) == 0) {
    for (uint64_t p = offset / page; p < (offset + length + page - 1) / page && p < vec.size();
         ++p) {
      n += vec[p] & 1;
    }
  }
  ::munmap(map, size);
  return n;
}

TEST(CachePacksTest, KeepPagesWritesThroughThePageCache) {
  TempDir tmp;
  auto c = ChunkCache::Open(Options(tmp.path(), 64 << 20));
  ASSERT_TRUE(c.ok());
  constexpr size_t kValue = 1 << 20;
  const auto plain = Bytes(50, kValue);
  const auto kept = Bytes(51, kValue);
  (*c)->PutChunk(XorbFor(5), 0, plain);
  (*c)->PutChunk(XorbFor(5), 1, kept, /*keep_pages=*/true);
  ASSERT_TRUE((*c)->Flush().ok());
  const auto packs = Packs(tmp.path());
  ASSERT_EQ(packs.size(), 1u);
  const uint64_t pages = kValue / static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  if (ResidentPages(packs[0], 0, kValue) >= pages) {
    GTEST_SKIP() << "no O_DIRECT on this file system: every value goes through the page cache";
  }
  // The second value starts on the next 4 KiB boundary after the first's
  // header and payload, about kValue in: its inner pages are all resident.
  EXPECT_GE(ResidentPages(packs[0], kValue + 8192, kValue - 8192), pages - 2);
  auto a = (*c)->GetChunk(XorbFor(5), 0);
  auto b = (*c)->GetChunk(XorbFor(5), 1);
  ASSERT_TRUE(a.ok() && a->has_value() && b.ok() && b->has_value());
  EXPECT_EQ(**a, plain);
  EXPECT_EQ(**b, kept);
}

}  // namespace
}  // namespace hubfs::chunkstore
