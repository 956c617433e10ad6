#include "chunkstore/cache.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <thread>

#include "tests/unit/chunkstore/cache_test_util.h"

namespace hubfs::chunkstore {
namespace {

using cache_testing::Bytes;
using cache_testing::FileSize;
using cache_testing::FlipInStore;
using cache_testing::TempDir;
using cache_testing::XorbFor;

using Value = std::optional<std::vector<uint8_t>>;

CacheOptions SmallOptions(const std::string& dir, uint64_t max_bytes = 64ull << 20) {
  CacheOptions o;
  o.dir = dir;
  o.max_bytes = max_bytes;
  o.durable = false;
  o.probation_hold = std::chrono::seconds(0);  // eviction order, every put admitted
  return o;
}

std::unique_ptr<ChunkCache> MustOpen(const CacheOptions& o) {
  auto c = ChunkCache::Open(o);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? std::move(c).value() : nullptr;
}

Value MustGetChunk(ChunkCache& c, const Hash& x, uint32_t i) {
  auto r = c.GetChunk(x, i);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : Value();
}

// Stored size of one chunk entry: 37-byte key + 24-byte header + payload.
constexpr uint64_t ChunkCharge(uint64_t payload) { return 37 + 24 + payload; }

TEST(CacheTest, OpenRejectsBadOptions) {
  TempDir tmp;
  CacheOptions o = SmallOptions(tmp.path(), 0);
  EXPECT_EQ(ChunkCache::Open(o).status().code(), ErrorCode::kInvalidArgument);
  o = SmallOptions("");
  EXPECT_EQ(ChunkCache::Open(o).status().code(), ErrorCode::kInvalidArgument);
  o = SmallOptions(tmp.Sub("missing/deeper"));
  EXPECT_EQ(ChunkCache::Open(o).status().code(), ErrorCode::kIo);
}

TEST(CacheTest, UnreadableStoreIsReportedAndCanBeDestroyed) {
  TempDir tmp;
  {
    auto c = MustOpen(SmallOptions(tmp.path()));
    c->PutChunk(XorbFor(1), 0, Bytes(1, 100));
  }
  // Overwrite both meta pages with garbage.
  {
    const auto junk = Bytes(9, 8192);
    FILE* f = std::fopen(tmp.Sub("data.mdb").c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(std::fwrite(junk.data(), 1, junk.size(), f), junk.size());
    std::fclose(f);
  }
  auto bad = ChunkCache::Open(SmallOptions(tmp.path()));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), ErrorCode::kCorrupt) << bad.status();
  ASSERT_TRUE(ChunkCache::Destroy(tmp.path()).ok());
  auto c = MustOpen(SmallOptions(tmp.path()));
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->Stats().entries, 0u);
  EXPECT_TRUE(ChunkCache::Destroy(tmp.Sub("nothing-here")).ok());
}

TEST(CacheTest, RoundTripEveryKind) {
  TempDir tmp;
  auto c = MustOpen(SmallOptions(tmp.path()));
  ASSERT_NE(c, nullptr);
  const Hash x = XorbFor(1), f = XorbFor(2);
  const auto chunk = Bytes(1, 65536), layout = Bytes(2, 800), terms = Bytes(3, 300);
  const std::vector<uint8_t> listing(20000, 'l'), small(3000, 's');
  const std::string commit = "0123456789abcdef0123456789abcdef01234567";

  EXPECT_FALSE(MustGetChunk(*c, x, 0).has_value());
  c->PutChunk(x, 0, chunk);
  c->PutXorbLayout(x, layout);
  c->PutTerms(f, terms);
  c->PutListing(commit, "models/sub", listing);
  c->PutSmallFile("b0a1", small);
  // Visible before the writer commits them...
  EXPECT_EQ(MustGetChunk(*c, x, 0), chunk);
  ASSERT_TRUE(c->Flush().ok());
  // ...and after.
  EXPECT_EQ(MustGetChunk(*c, x, 0), chunk);
  EXPECT_FALSE(MustGetChunk(*c, x, 1).has_value());
  EXPECT_EQ(*c->GetXorbLayout(x), layout);
  EXPECT_EQ(*c->GetTerms(f), terms);
  EXPECT_FALSE(c->GetTerms(x)->has_value());
  EXPECT_EQ(*c->GetListing(commit, "models/sub"), listing);
  EXPECT_FALSE(c->GetListing(commit, "models")->has_value());
  EXPECT_EQ(*c->GetSmallFile("b0a1"), small);
  EXPECT_FALSE(c->GetSmallFile("b0a2")->has_value());

  const CacheStats s = c->Stats();
  EXPECT_EQ(s.entries, 5u);
  EXPECT_EQ(s.puts, 5u);
  EXPECT_EQ(s.misses, 5u);
  EXPECT_EQ(s.hits, 6u);
  EXPECT_EQ(s.corrupt_drops, 0u);
  // Listings and small files are stored compressed.
  EXPECT_LT(s.bytes, ChunkCharge(chunk.size()) + layout.size() + terms.size() + 2000);
}

TEST(CacheTest, PersistsAcrossReopen) {
  TempDir tmp;
  const auto chunk = Bytes(7, 100000);
  {
    auto c = MustOpen(SmallOptions(tmp.path()));
    c->PutChunk(XorbFor(7), 3, chunk);
    c->PutSmallFile("oid", {1, 2, 3});
    // No Flush: closing commits what was queued.
  }
  auto c = MustOpen(SmallOptions(tmp.path()));
  EXPECT_EQ(MustGetChunk(*c, XorbFor(7), 3), chunk);
  EXPECT_EQ(*c->GetSmallFile("oid"), (std::vector<uint8_t>{1, 2, 3}));
  EXPECT_EQ(c->Stats().entries, 2u);
}

TEST(CacheTest, ReopenWithASmallerLimitShrinksAtOnce) {
  TempDir tmp;
  {
    auto c = MustOpen(SmallOptions(tmp.path()));
    for (uint32_t i = 0; i < 20; ++i) c->PutChunk(XorbFor(1), i, Bytes(i, 10000));
  }
  auto c = MustOpen(SmallOptions(tmp.path(), 5 * ChunkCharge(10000)));
  EXPECT_EQ(c->Stats().entries, 5u);
  EXPECT_FALSE(MustGetChunk(*c, XorbFor(1), 14).has_value());
  EXPECT_EQ(MustGetChunk(*c, XorbFor(1), 15), Bytes(15, 10000));
}

TEST(CacheTest, ReplacingAnEntryKeepsAccountingRight) {
  TempDir tmp;
  auto c = MustOpen(SmallOptions(tmp.path()));
  c->PutTerms(XorbFor(1), Bytes(1, 1000));
  c->PutTerms(XorbFor(1), Bytes(1, 1000));  // same content: a touch
  c->PutTerms(XorbFor(1), Bytes(2, 500));   // new content replaces
  ASSERT_TRUE(c->Flush().ok());
  EXPECT_EQ(*c->GetTerms(XorbFor(1)), Bytes(2, 500));
  const auto s = c->Stats();
  EXPECT_EQ(s.entries, 1u);
  auto usage = c->Usage();
  ASSERT_TRUE(usage.ok());
  uint64_t total = 0;
  for (const auto& u : *usage) total += u.bytes;
  EXPECT_EQ(total, s.bytes);
}

TEST(CacheTest, EvictsLeastRecentlyUsedFirst) {
  TempDir tmp;
  constexpr uint64_t kPayload = 4000;
  // Every hit promotes at once: the protected segment is a plain LRU (the
  // scan resistance is cache_policy_test.cc's).
  CacheOptions o = SmallOptions(tmp.path(), 5 * ChunkCharge(kPayload) + 100);
  o.promote_after = std::chrono::seconds(0);
  auto c = MustOpen(o);
  for (uint32_t i = 0; i < 5; ++i) c->PutChunk(XorbFor(1), i, Bytes(i, kPayload));
  ASSERT_TRUE(c->Flush().ok());
  EXPECT_EQ(c->Stats().entries, 5u);
  // Use chunk 0 and 1 again: chunk 2 is now the least recently used.
  ASSERT_TRUE(MustGetChunk(*c, XorbFor(1), 0).has_value());
  ASSERT_TRUE(MustGetChunk(*c, XorbFor(1), 1).has_value());
  c->PutChunk(XorbFor(1), 5, Bytes(5, kPayload));
  ASSERT_TRUE(c->Flush().ok());
  EXPECT_FALSE(MustGetChunk(*c, XorbFor(1), 2).has_value());
  for (uint32_t i : {0u, 1u, 3u, 4u, 5u}) {
    EXPECT_EQ(MustGetChunk(*c, XorbFor(1), i), Bytes(i, kPayload)) << i;
  }
  c->PutChunk(XorbFor(1), 6, Bytes(6, kPayload));
  ASSERT_TRUE(c->Flush().ok());
  // The reads above used 0, 1, 3, 4, 5 in that order: 0 was the oldest.
  EXPECT_FALSE(MustGetChunk(*c, XorbFor(1), 0).has_value());
  EXPECT_TRUE(MustGetChunk(*c, XorbFor(1), 1).has_value());
  const auto s = c->Stats();
  EXPECT_EQ(s.evictions, 2u);
  EXPECT_EQ(s.entries, 5u);
  EXPECT_LE(s.bytes, 5 * ChunkCharge(kPayload) + 100);
}

TEST(CacheTest, TotalStaysWithinLimitAndUsageAgrees) {
  TempDir tmp;
  const uint64_t limit = 1 << 20;
  auto c = MustOpen(SmallOptions(tmp.path(), limit));
  for (uint32_t i = 0; i < 200; ++i) {
    c->PutChunk(XorbFor(i % 7), i, Bytes(i, 8000 + (i * 37) % 9000));
    if (i % 50 == 49) {
      ASSERT_TRUE(c->Flush().ok());
      EXPECT_LE(c->Stats().bytes, limit);
    }
  }
  ASSERT_TRUE(c->Flush().ok());
  const auto s = c->Stats();
  EXPECT_LE(s.bytes, limit);
  EXPECT_GT(s.bytes, limit / 2);
  EXPECT_GT(s.evictions, 0u);
  auto usage = c->Usage();
  ASSERT_TRUE(usage.ok());
  EXPECT_EQ((*usage)[0].kind, CacheKind::kChunk);
  EXPECT_EQ((*usage)[0].entries, s.entries);
  EXPECT_EQ((*usage)[0].bytes, s.bytes);
  // The most recent entry survived.
  EXPECT_EQ(MustGetChunk(*c, XorbFor(199 % 7), 199), Bytes(199, 8000 + (199 * 37) % 9000));
}

TEST(CacheTest, EntryLargerThanTheLimitIsNotStored) {
  TempDir tmp;
  auto c = MustOpen(SmallOptions(tmp.path(), 10000));
  c->PutChunk(XorbFor(1), 0, Bytes(1, 20000));
  c->PutChunk(XorbFor(1), 1, Bytes(1, 2000));
  ASSERT_TRUE(c->Flush().ok());
  EXPECT_FALSE(MustGetChunk(*c, XorbFor(1), 0).has_value());
  EXPECT_TRUE(MustGetChunk(*c, XorbFor(1), 1).has_value());
}

TEST(CacheTest, HitRecencyIsBatchedNotWrittenPerHit) {
  TempDir tmp;
  FakeClock clock;
  CacheOptions o = SmallOptions(tmp.path());
  o.clock = &clock;
  o.touch_batch = 1000;
  o.touch_flush_interval = std::chrono::seconds(5);
  auto c = MustOpen(o);
  c->PutChunk(XorbFor(1), 0, Bytes(1, 100));
  ASSERT_TRUE(c->Flush().ok());
  const uint64_t commits = c->Stats().commits;
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(MustGetChunk(*c, XorbFor(1), 0).has_value());
  EXPECT_EQ(c->Stats().commits, commits);  // no transaction per hit
  clock.Advance(std::chrono::seconds(6));
  // The writer notices the due flush on its next poll.
  for (int i = 0; i < 200 && c->Stats().commits == commits; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(c->Stats().commits, commits + 1);
}

// Stores chunks 0 and 1 of XorbFor(seed) (65536 bytes each) and flips one
// byte of chunk 0 on disk, `at` bytes into it, as a bad disk would. Returns
// chunk 0 as it was.
std::vector<uint8_t> StoreTwoAndFlipTheFirst(const std::string& dir, uint64_t seed, size_t at) {
  const auto chunk = Bytes(seed, 65536);
  {
    auto c = MustOpen(SmallOptions(dir));
    c->PutChunk(XorbFor(seed), 0, chunk);
    c->PutChunk(XorbFor(seed), 1, Bytes(seed + 1, 65536));
  }
  EXPECT_EQ(FlipInStore(dir, std::vector<uint8_t>(chunk.begin(), chunk.begin() + 64), at), 1);
  return chunk;
}

TEST(CacheTest, CorruptEntryIsDroppedReportedAsMissAndRefetchable) {
  TempDir tmp;
  const auto chunk = StoreTwoAndFlipTheFirst(tmp.path(), 11, 40000);
  ASSERT_FALSE(HasFailure());
  auto c = MustOpen(SmallOptions(tmp.path()));
  EXPECT_FALSE(MustGetChunk(*c, XorbFor(11), 0).has_value());
  EXPECT_EQ(c->Stats().corrupt_drops, 1u);
  EXPECT_EQ(c->Stats().misses, 1u);
  ASSERT_TRUE(c->Flush().ok());
  EXPECT_EQ(c->Stats().entries, 1u);  // deleted, not just skipped
  EXPECT_TRUE(MustGetChunk(*c, XorbFor(11), 1).has_value());
  c->PutChunk(XorbFor(11), 0, chunk);  // the caller refetched it
  ASSERT_TRUE(c->Flush().ok());
  EXPECT_EQ(MustGetChunk(*c, XorbFor(11), 0), chunk);
  EXPECT_EQ(c->Stats().entries, 2u);
}

TEST(CacheTest, CorruptHeaderIsDetected) {
  TempDir tmp;
  const auto chunk = Bytes(21, 70000);
  {
    auto c = MustOpen(SmallOptions(tmp.path()));
    c->PutChunk(XorbFor(21), 0, chunk);
  }
  // The header sits just before the payload: flip its length field.
  std::vector<uint8_t> head(chunk.begin(), chunk.begin() + 64);
  ASSERT_EQ(FlipInStore(tmp.path(), head, static_cast<size_t>(-20)), 1);
  auto c = MustOpen(SmallOptions(tmp.path()));
  EXPECT_FALSE(MustGetChunk(*c, XorbFor(21), 0).has_value());
  EXPECT_EQ(c->Stats().corrupt_drops, 1u);
}

TEST(CacheTest, VerifyDropsBadEntriesAndCountsThem) {
  TempDir tmp;
  std::vector<std::vector<uint8_t>> chunks;
  {
    auto c = MustOpen(SmallOptions(tmp.path()));
    for (uint32_t i = 0; i < 10; ++i) {
      chunks.push_back(Bytes(100 + i, 20000));
      c->PutChunk(XorbFor(3), i, chunks.back());
    }
    c->PutListing("c", "d", std::vector<uint8_t>(1000, 'z'));
  }
  for (uint32_t i : {2u, 7u}) {
    ASSERT_EQ(FlipInStore(tmp.path(),
                         std::vector<uint8_t>(chunks[i].begin(), chunks[i].begin() + 64), 500),
              1);
  }
  auto c = MustOpen(SmallOptions(tmp.path()));
  auto report = c->Verify();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->checked, 11u);
  EXPECT_EQ(report->corrupt, 2u);
  EXPECT_EQ(report->corrupt_bytes, 2 * ChunkCharge(20000));
  EXPECT_EQ(c->Stats().entries, 9u);
  report = c->Verify();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->checked, 9u);
  EXPECT_EQ(report->corrupt, 0u);
  EXPECT_FALSE(MustGetChunk(*c, XorbFor(3), 2).has_value());
  EXPECT_EQ(MustGetChunk(*c, XorbFor(3), 3), chunks[3]);
}

TEST(CacheTest, ListPruneClear) {
  TempDir tmp;
  auto c = MustOpen(SmallOptions(tmp.path()));
  for (uint32_t i = 0; i < 6; ++i) c->PutChunk(XorbFor(5), i, Bytes(i, 1000));
  c->PutTerms(XorbFor(6), {1, 2, 3});
  c->PutSmallFile("f00d", {4, 5});
  ASSERT_TRUE(c->Flush().ok());

  auto chunks = c->List(CacheKind::kChunk, 100);
  ASSERT_TRUE(chunks.ok());
  ASSERT_EQ(chunks->size(), 6u);
  EXPECT_EQ((*chunks)[0].description, "chunk " + XorbFor(5).ToString() + "/0");
  EXPECT_EQ((*chunks)[0].bytes, ChunkCharge(1000));
  EXPECT_LT((*chunks)[0].last_use, (*chunks)[5].last_use);
  auto all = c->List(std::nullopt, 100);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 8u);
  auto files = c->List(CacheKind::kSmallFile, 100);
  ASSERT_TRUE(files.ok());
  ASSERT_EQ(files->size(), 1u);
  EXPECT_EQ((*files)[0].description, "file f00d");
  EXPECT_EQ(c->List(std::nullopt, 3)->size(), 3u);

  // Prune to about three chunks: the oldest go first.
  auto evicted = c->Prune(3 * ChunkCharge(1000));
  ASSERT_TRUE(evicted.ok());
  EXPECT_EQ(*evicted, 4u);  // chunks 0..3 (the two small entries are newer)
  EXPECT_FALSE(MustGetChunk(*c, XorbFor(5), 3).has_value());
  EXPECT_TRUE(MustGetChunk(*c, XorbFor(5), 4).has_value());
  EXPECT_TRUE(c->GetSmallFile("f00d")->has_value());

  ASSERT_TRUE(c->Clear().ok());
  EXPECT_EQ(c->Stats().entries, 0u);
  EXPECT_EQ(c->Stats().bytes, 0u);
  EXPECT_FALSE(MustGetChunk(*c, XorbFor(5), 5).has_value());
  c->PutChunk(XorbFor(5), 5, Bytes(5, 10));
  ASSERT_TRUE(c->Flush().ok());
  EXPECT_EQ(c->Stats().entries, 1u);
}

TEST(CacheTest, MapFullEvictsAndRetries) {
  TempDir tmp;
  CacheOptions o = SmallOptions(tmp.path(), 64ull << 20);  // far more than the map holds
  o.initial_map_bytes = 1 << 20;
  o.max_map_bytes = 3 << 20;
  o.max_batch_bytes = 64 << 10;
  auto c = MustOpen(o);
  // Values below the pack threshold (larger ones live outside the map), in
  // small batches: LMDB reuses a transaction's freed pages only after a later
  // commit, and batches of many small values could outrun the evictions.
  for (uint32_t i = 0; i < 800; ++i) c->PutChunk(XorbFor(9), i, Bytes(i, 12000));
  EXPECT_TRUE(c->Flush().ok());
  const auto s = c->Stats();
  EXPECT_GT(s.map_full_retries, 0u);
  EXPECT_EQ(s.write_errors, 0u);
  EXPECT_EQ(s.map_bytes, 3u << 20);  // grown to the bound first
  EXPECT_GT(s.evictions, 0u);
  EXPECT_LT(s.bytes, 3u << 20);
  EXPECT_EQ(s.puts, 800u);
  EXPECT_EQ(MustGetChunk(*c, XorbFor(9), 799), Bytes(799, 12000));
  EXPECT_LE(FileSize(tmp.Sub("data.mdb")), 3u << 20);
}

TEST(CacheTest, ConcurrentReadersAndWriters) {
  TempDir tmp;
  auto c = MustOpen(SmallOptions(tmp.path(), 8 << 20));
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (uint32_t i = 0; i < 200; ++i) {
        const uint32_t idx = (i * 7 + static_cast<uint32_t>(t)) % 100;
        auto got = c->GetChunk(XorbFor(1), idx);
        if (!got.ok()) {
          ++wrong;
        } else if (got->has_value()) {
          if (**got != Bytes(idx, 5000 + idx)) ++wrong;
        } else {
          c->PutChunk(XorbFor(1), idx, Bytes(idx, 5000 + idx));
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_TRUE(c->Flush().ok());
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(c->Stats().entries, 100u);
}

TEST(CacheTest, TinyQueueAppliesBackPressureWithoutLosingPuts) {
  TempDir tmp;
  CacheOptions o = SmallOptions(tmp.path());
  o.queue_max_entries = 1;
  o.queue_max_bytes = 1;  // every entry is larger: still admitted one at a time
  auto c = MustOpen(o);
  std::vector<std::thread> threads;
  for (uint32_t t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      for (uint32_t i = 0; i < 50; ++i) c->PutChunk(XorbFor(t), i, Bytes(t * 100 + i, 3000));
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(c->Flush().ok());
  EXPECT_EQ(c->Stats().entries, 150u);
  EXPECT_EQ(MustGetChunk(*c, XorbFor(2), 49), Bytes(249, 3000));
}

// Every chunk put either reads back exactly or was counted as skipped (and
// is a miss, not served from anywhere).
void ExpectStoredOrSkipped(ChunkCache& c, uint32_t xorb, uint32_t n, size_t size) {
  ASSERT_TRUE(c.Flush().ok());
  uint64_t misses = 0;
  for (uint32_t i = 0; i < n; ++i) {
    const Value got = MustGetChunk(c, XorbFor(xorb), i);
    if (!got.has_value()) {
      ++misses;
    } else {
      EXPECT_EQ(*got, Bytes(xorb * 10000 + i, size)) << i;
    }
  }
  const CacheStats s = c.Stats();
  EXPECT_EQ(misses, s.skipped);
  EXPECT_EQ(s.skipped_bytes, s.skipped * size);
  EXPECT_EQ(s.entries + s.skipped, n);
}

TEST(CacheTest, PutChunkIfRoomSkipsInsteadOfWaitingForAFullQueue) {
  TempDir tmp;
  CacheOptions o = SmallOptions(tmp.path());
  o.queue_max_entries = 1;  // a put while the writer holds one waits (PutChunk) or skips
  auto c = MustOpen(o);
  // The writer takes a queued value within microseconds but commits it for
  // longer: putting in a tight loop finds the queue full within a few puts.
  constexpr uint32_t kMaxPuts = 5000;
  uint32_t n = 0;
  uint32_t queued = 0;
  for (; n < kMaxPuts && queued == n; ++n) {
    if (c->PutChunkIfRoom(XorbFor(1), n, Bytes(10000 + n, 3000))) ++queued;
  }
  ASSERT_LT(queued, n) << "no put of " << n << " found the queue full";
  EXPECT_EQ(c->Stats().skipped, uint64_t{n - queued});
  ExpectStoredOrSkipped(*c, 1, n, 3000);
}

// A put into a full queue makes room by leaving unwritten the oldest queued
// chunks a reader has read through (ReadThrough); a chunk nobody read
// through is always written (the put waits for it instead).
TEST(CacheTest, AFullQueueLeavesUnwrittenOnlyChunksReadThrough) {
  TempDir tmp;
  CacheOptions o = SmallOptions(tmp.path());
  o.queue_max_entries = 2;
  auto c = MustOpen(o);
  std::vector<bool> through;
  constexpr uint32_t kMaxPuts = 20000;
  uint32_t n = 0;
  // The writer takes values within microseconds and commits them for
  // longer: a tight loop soon finds two queued, the older one read through.
  for (; n < kMaxPuts && (n < 300 || c->Stats().skipped == 0); ++n) {
    c->PutChunk(XorbFor(4), n, Bytes(40000 + n, 3000));
    bool marked = false;
    if (n % 3 != 0) {  // every third chunk is never read through
      // Held only while in memory (queued; nothing is kept after its write).
      if (std::optional<ChunkCache::HeldRecord> held = c->HoldChunk(XorbFor(4), n)) {
        const auto want = Bytes(40000 + n, 3000);
        EXPECT_TRUE(std::equal(held->record.begin(), held->record.end(), want.begin(),
                               want.end()));
        // Handed over in two parts, the tail first.
        c->ReadThrough(*held, 1000, 3000);
        EXPECT_FALSE(MustGetChunk(*c, XorbFor(4), n) == std::nullopt) << "left out half read";
        c->ReadThrough(*held, 2000, 3000);
        marked = true;
      }
    }
    through.push_back(marked);
  }
  const uint64_t skipped = c->Stats().skipped;
  ASSERT_GT(skipped, 0u) << "no put of " << n << " found the queue full";
  EXPECT_EQ(c->Stats().skipped_bytes, skipped * 3000);
  ASSERT_TRUE(c->Flush().ok());
  c.reset();  // what was left out is gone from memory too
  c = MustOpen(o);
  uint64_t missing = 0;
  for (uint32_t i = 0; i < n; ++i) {
    const Value got = MustGetChunk(*c, XorbFor(4), i);
    if (!got.has_value()) {
      EXPECT_TRUE(through[i]) << "chunk " << i << " was never read through, yet not written";
      ++missing;
    } else {
      EXPECT_EQ(*got, Bytes(40000 + i, 3000)) << i;
    }
  }
  EXPECT_EQ(missing, skipped);
}

TEST(CacheTest, VisitChunkGivesTheVerifiedRecordWithoutACopy) {
  TempDir tmp;
  auto c = MustOpen(SmallOptions(tmp.path()));
  const auto chunk = Bytes(31, 65536);
  size_t calls = 0;
  auto visit = [&](std::span<const uint8_t> rec) {
    ++calls;
    EXPECT_TRUE(std::equal(rec.begin(), rec.end(), chunk.begin(), chunk.end()));
  };
  auto r = c->VisitChunk(XorbFor(31), 0, visit);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(*r);
  c->PutChunk(XorbFor(31), 0, chunk);
  r = c->VisitChunk(XorbFor(31), 0, visit);  // from the queue or the store
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(*r);
  ASSERT_TRUE(c->Flush().ok());
  r = c->VisitChunk(XorbFor(31), 0, visit);  // from the store
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(*r);
  EXPECT_EQ(calls, 2u);
  EXPECT_EQ(c->Stats().hits, 2u);
}

TEST(CacheTest, ReadChunkIntoSplitsTheRecordBetweenHeadAndOut) {
  TempDir tmp;
  auto c = MustOpen(SmallOptions(tmp.path()));
  const auto chunk = Bytes(32, 65536);
  std::array<uint8_t, 8> head{};
  std::vector<uint8_t> out(chunk.size() - head.size());
  std::vector<std::vector<uint8_t>> visited;  // records given whole
  auto read = [&](std::span<uint8_t> into) {
    auto r = c->ReadChunkInto(XorbFor(32), 0, head, into, [&](std::span<const uint8_t> rec) {
      visited.emplace_back(rec.begin(), rec.end());
    });
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : ChunkCache::ChunkRead::kMiss;
  };
  auto expect_split = [&](const char* where) {
    EXPECT_TRUE(std::equal(head.begin(), head.end(), chunk.begin())) << where;
    EXPECT_TRUE(std::equal(out.begin(), out.end(), chunk.begin() + 8, chunk.end())) << where;
  };
  EXPECT_EQ(read(out), ChunkCache::ChunkRead::kMiss);
  c->PutChunk(XorbFor(32), 0, chunk);
  EXPECT_EQ(read(out), ChunkCache::ChunkRead::kSplit);  // from the queue or the store
  expect_split("queued");
  ASSERT_TRUE(c->Flush().ok());
  std::fill(head.begin(), head.end(), 0);
  std::fill(out.begin(), out.end(), 0);
  EXPECT_EQ(read(out), ChunkCache::ChunkRead::kSplit);  // from the store's pack
  expect_split("stored");
  EXPECT_TRUE(visited.empty());
  // Another size: nothing to split; the record is given whole, in the same
  // lookup.
  std::vector<uint8_t> short_out(100);
  EXPECT_EQ(read(short_out), ChunkCache::ChunkRead::kVisited);
  std::vector<uint8_t> long_out(chunk.size());
  EXPECT_EQ(read(long_out), ChunkCache::ChunkRead::kVisited);
  ASSERT_EQ(visited.size(), 2u);
  EXPECT_EQ(visited[0], chunk);
  EXPECT_EQ(visited[1], chunk);
  EXPECT_EQ(c->Stats().hits, 4u);
  EXPECT_EQ(c->Stats().misses, 1u);
}

TEST(CacheTest, ReadChunkIntoDropsACorruptEntryAsAMiss) {
  TempDir tmp;
  // One byte flipped far into the part read straight into `out`.
  const auto chunk = StoreTwoAndFlipTheFirst(tmp.path(), 33, 50000);
  ASSERT_FALSE(HasFailure());
  auto c = MustOpen(SmallOptions(tmp.path()));
  std::array<uint8_t, 8> head{};
  std::vector<uint8_t> out(chunk.size() - head.size());
  size_t visits = 0;
  auto visit = [&](std::span<const uint8_t>) { ++visits; };
  auto r = c->ReadChunkInto(XorbFor(33), 0, head, out, visit);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, ChunkCache::ChunkRead::kMiss);
  EXPECT_EQ(c->Stats().corrupt_drops, 1u);
  ASSERT_TRUE(c->Flush().ok());
  EXPECT_EQ(c->Stats().entries, 1u);  // deleted, not just skipped
  r = c->ReadChunkInto(XorbFor(33), 1, head, out, visit);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, ChunkCache::ChunkRead::kSplit);
  EXPECT_EQ(visits, 0u);
}

TEST(CacheTest, HasChunkTellsPresenceWithoutReadingTheChunk) {
  TempDir tmp;
  const auto chunk = Bytes(41, 65536);
  {
    auto c = MustOpen(SmallOptions(tmp.path()));
    auto r = c->HasChunk(XorbFor(41), 0);
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(*r);
    c->PutChunk(XorbFor(41), 0, chunk);
    r = c->HasChunk(XorbFor(41), 0);  // queued or stored
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(*r);
    EXPECT_EQ(c->Stats().hits + c->Stats().misses, 0u);
  }
  // Reopened: in a pack file only. A damaged value is still present (it is
  // not read); the read that follows finds it bad.
  ASSERT_EQ(FlipInStore(tmp.path(), std::vector<uint8_t>(chunk.begin(), chunk.begin() + 64),
                        30000),
            1);
  auto c = MustOpen(SmallOptions(tmp.path()));
  auto r = c->HasChunk(XorbFor(41), 0);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(*r);
  r = c->HasChunk(XorbFor(41), 1);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(*r);
  EXPECT_EQ(c->Stats().hits + c->Stats().misses, 0u);
  EXPECT_FALSE(MustGetChunk(*c, XorbFor(41), 0).has_value());
  EXPECT_EQ(c->Stats().corrupt_drops, 1u);
}

TEST(CacheTest, ListUsageAndVerifyPageThroughLargeCaches) {
  TempDir tmp;
  auto c = MustOpen(SmallOptions(tmp.path()));
  // More entries than one scan page (512), of several kinds.
  for (uint32_t i = 0; i < 1100; ++i) c->PutChunk(XorbFor(i % 3), i, Bytes(i, 64));
  for (uint32_t i = 0; i < 600; ++i) c->PutSmallFile("oid" + std::to_string(i), Bytes(i, 10));
  ASSERT_TRUE(c->Flush().ok());
  EXPECT_EQ(c->List(CacheKind::kChunk, 100000)->size(), 1100u);
  EXPECT_EQ(c->List(CacheKind::kSmallFile, 100000)->size(), 600u);
  EXPECT_EQ(c->List(CacheKind::kTerms, 100000)->size(), 0u);
  EXPECT_EQ(c->List(std::nullopt, 100000)->size(), 1700u);
  EXPECT_EQ(c->List(CacheKind::kChunk, 700)->size(), 700u);
  auto usage = c->Usage();
  ASSERT_TRUE(usage.ok());
  EXPECT_EQ((*usage)[0].entries, 1100u);
  EXPECT_EQ((*usage)[4].kind, CacheKind::kSmallFile);
  EXPECT_EQ((*usage)[4].entries, 600u);
  EXPECT_EQ((*usage)[0].bytes + (*usage)[4].bytes, c->Stats().bytes);
  auto report = c->Verify();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->checked, 1700u);
  EXPECT_EQ(report->corrupt, 0u);
}

}  // namespace
}  // namespace hubfs::chunkstore
