// The cache's admission policy: a probationary FIFO in front of the
// protected LRU, so that one sequential pass over more than the cache does
// not evict the working set (docs/CACHE_FORMAT.md, "Writes, recency,
// eviction"). Time is a FakeClock: promotion depends on the time between a
// chunk's entry and its next hit.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>

#include "chunkstore/cache.h"
#include "common/clock.h"
#include "tests/unit/chunkstore/cache_test_util.h"

namespace hubfs::chunkstore {
namespace {

using cache_testing::Bytes;
using cache_testing::TempDir;
using cache_testing::XorbFor;
using std::chrono::seconds;

constexpr uint64_t kPayload = 4000;
constexpr uint64_t kCharge = 37 + 24 + kPayload;  // key + header + payload

class CachePolicyTest : public ::testing::Test {
 protected:
  // A cache of `chunks` chunk charges; probation keeps 25% when pressed.
  // hold: CacheOptions::probation_hold (0 here: the eviction order with
  // every put admitted; the hold's own tests set it).
  std::unique_ptr<ChunkCache> Open(uint64_t chunks, uint32_t ghost_percent = 0,
                                   seconds hold = seconds(0)) {
    CacheOptions o;
    o.dir = tmp_.path();
    o.max_bytes = chunks * kCharge;
    o.durable = false;
    o.clock = &clock_;
    o.promote_after = seconds(10);
    o.ghost_percent = ghost_percent;
    o.probation_hold = hold;
    auto c = ChunkCache::Open(o);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(c).value() : nullptr;
  }
  static bool Has(ChunkCache& c, uint64_t xorb, uint32_t i) {
    auto r = c.GetChunk(XorbFor(xorb), i);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() && r->has_value() && **r == Bytes(xorb * 1000 + i, kPayload);
  }
  static void Put(ChunkCache& c, uint64_t xorb, uint32_t i) {
    c.PutChunk(XorbFor(xorb), i, Bytes(xorb * 1000 + i, kPayload));
  }
  // A sequential pass over `n` chunks of xorb `xorb`: each is stored
  // (committed), then read twice right after, as neighbouring kernel reads
  // do; the hits are committed with the next chunk.
  static void Scan(ChunkCache& c, uint64_t xorb, uint32_t n) {
    for (uint32_t i = 0; i < n; ++i) {
      Put(c, xorb, i);
      ASSERT_TRUE(c.Flush().ok());
      EXPECT_TRUE(Has(c, xorb, i)) << i;
      EXPECT_TRUE(Has(c, xorb, i)) << i;
    }
    ASSERT_TRUE(c.Flush().ok());
  }

  TempDir tmp_;
  FakeClock clock_;
};

TEST_F(CachePolicyTest, WorkingSetSurvivesAScanLargerThanTheCache) {
  auto c = Open(20);
  for (uint32_t i = 0; i < 4; ++i) Put(*c, 1, i);
  ASSERT_TRUE(c->Flush().ok());
  clock_.Advance(seconds(30));
  for (uint32_t i = 0; i < 4; ++i) ASSERT_TRUE(Has(*c, 1, i));  // a second use, later
  ASSERT_TRUE(c->Flush().ok());
  EXPECT_EQ(c->Stats().promotions, 4u);

  Scan(*c, 2, 100);  // five times the cache
  for (uint32_t i = 0; i < 4; ++i) EXPECT_TRUE(Has(*c, 1, i)) << "working set chunk " << i;
  const CacheStats s = c->Stats();
  EXPECT_EQ(s.promotions, 4u) << "a scan's own hits must not promote";
  EXPECT_LE(s.bytes, 20 * kCharge);
  EXPECT_GE(s.evictions, 80u);
  // The scan kept its newest chunks (probation is a FIFO).
  EXPECT_TRUE(Has(*c, 2, 99));
  EXPECT_FALSE(Has(*c, 2, 0));
}

TEST_F(CachePolicyTest, PlainLruWouldLoseTheWorkingSet) {
  // The same sequence with every hit promoting (promote_after 0) is an LRU:
  // the scan's repeated hits make it the most recent and the working set goes.
  CacheOptions o;
  o.dir = tmp_.path();
  o.max_bytes = 20 * kCharge;
  o.durable = false;
  o.clock = &clock_;
  o.promote_after = seconds(0);
  auto c = ChunkCache::Open(o);
  ASSERT_TRUE(c.ok()) << c.status();
  for (uint32_t i = 0; i < 4; ++i) Put(**c, 1, i);
  ASSERT_TRUE((*c)->Flush().ok());
  clock_.Advance(seconds(30));
  for (uint32_t i = 0; i < 4; ++i) ASSERT_TRUE(Has(**c, 1, i));
  Scan(**c, 2, 100);
  int kept = 0;
  for (uint32_t i = 0; i < 4; ++i) kept += Has(**c, 1, i) ? 1 : 0;
  EXPECT_EQ(kept, 0);
}

TEST_F(CachePolicyTest, HitsSoonAfterEntryDoNotPromote) {
  auto c = Open(8);
  Put(*c, 1, 0);
  ASSERT_TRUE(c->Flush().ok());
  clock_.Advance(seconds(9));
  ASSERT_TRUE(Has(*c, 1, 0));
  ASSERT_TRUE(c->Flush().ok());
  EXPECT_EQ(c->Stats().promotions, 0u);
  for (uint32_t i = 0; i < 8; ++i) Put(*c, 2, i);
  ASSERT_TRUE(c->Flush().ok());
  EXPECT_FALSE(Has(*c, 1, 0)) << "still probationary: first out";

  Put(*c, 3, 0);
  ASSERT_TRUE(c->Flush().ok());
  clock_.Advance(seconds(10));
  ASSERT_TRUE(Has(*c, 3, 0));
  ASSERT_TRUE(c->Flush().ok());
  EXPECT_EQ(c->Stats().promotions, 1u);
  for (uint32_t i = 0; i < 8; ++i) Put(*c, 4, i);
  ASSERT_TRUE(c->Flush().ok());
  EXPECT_TRUE(Has(*c, 3, 0)) << "promoted: kept while probation is over its share";
}

TEST_F(CachePolicyTest, ProbationUsesTheWholeCacheWhenNothingIsProtected) {
  auto c = Open(10);
  for (uint32_t i = 0; i < 10; ++i) Put(*c, 1, i);
  ASSERT_TRUE(c->Flush().ok());
  for (uint32_t i = 0; i < 10; ++i) EXPECT_TRUE(Has(*c, 1, i)) << i;
  EXPECT_EQ(c->Stats().evictions, 0u);
}

TEST_F(CachePolicyTest, MetadataIsProtectedFromTheStart) {
  auto c = Open(20);
  const std::vector<uint8_t> terms = Bytes(7, 300);
  c->PutTerms(XorbFor(9), terms);
  ASSERT_TRUE(c->Flush().ok());
  Scan(*c, 2, 100);
  auto t = c->GetTerms(XorbFor(9));
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(t->has_value()) << "a scan's chunks evicted the terms";
  EXPECT_EQ(**t, terms);
}

TEST_F(CachePolicyTest, ChunkFetchedAgainAfterLeavingProbationIsProtected) {
  // A working set larger than probation's share, read twice: the second
  // pass refetches what probation dropped, and those chunks stay.
  auto c = Open(16, /*ghost_percent=*/100);
  for (uint32_t i = 0; i < 12; ++i) Put(*c, 1, i);
  ASSERT_TRUE(c->Flush().ok());
  for (uint32_t i = 0; i < 16; ++i) Put(*c, 2, i);  // pushes set 1 out
  ASSERT_TRUE(c->Flush().ok());
  for (uint32_t i = 0; i < 12; ++i) ASSERT_FALSE(Has(*c, 1, i)) << i;
  for (uint32_t i = 0; i < 4; ++i) Put(*c, 1, i);  // fetched again
  ASSERT_TRUE(c->Flush().ok());
  Scan(*c, 3, 40);
  for (uint32_t i = 0; i < 4; ++i) EXPECT_TRUE(Has(*c, 1, i)) << i;
  EXPECT_LE(c->Stats().bytes, 16 * kCharge);
}

TEST_F(CachePolicyTest, AScanPastAFullYoungProbationIsNotStored) {
  // With a hold, a scan larger than the cache stores what fits, then reads
  // through: nothing young is pushed out, the rest is not written at all.
  auto c = Open(20, /*ghost_percent=*/0, /*hold=*/seconds(60));
  for (uint32_t i = 0; i < 4; ++i) Put(*c, 1, i);
  ASSERT_TRUE(c->Flush().ok());
  clock_.Advance(seconds(30));
  for (uint32_t i = 0; i < 4; ++i) ASSERT_TRUE(Has(*c, 1, i));  // protected
  ASSERT_TRUE(c->Flush().ok());
  for (uint32_t i = 0; i < 100; ++i) {
    Put(*c, 2, i);
    ASSERT_TRUE(c->Flush().ok());
  }
  CacheStats s = c->Stats();
  EXPECT_EQ(s.evictions, 0u);
  EXPECT_EQ(s.refused, 84u);
  EXPECT_EQ(s.refused_bytes, 84 * kCharge);
  EXPECT_EQ(s.bytes, 20 * kCharge);
  for (uint32_t i = 0; i < 4; ++i) EXPECT_TRUE(Has(*c, 1, i)) << "working set chunk " << i;
  for (uint32_t i = 0; i < 16; ++i) EXPECT_TRUE(Has(*c, 2, i)) << "the scan's start " << i;
  EXPECT_FALSE(Has(*c, 2, 16));
  EXPECT_FALSE(Has(*c, 2, 99));

  // Past the hold the oldest probationary chunks make room again (FIFO),
  // and a refused chunk asked for again is stored.
  clock_.Advance(seconds(61));
  Put(*c, 2, 99);
  ASSERT_TRUE(c->Flush().ok());
  EXPECT_TRUE(Has(*c, 2, 99));
  EXPECT_FALSE(Has(*c, 2, 0)) << "the oldest probationary chunk goes first";
  for (uint32_t i = 0; i < 4; ++i) EXPECT_TRUE(Has(*c, 1, i)) << "working set chunk " << i;
  s = c->Stats();
  EXPECT_EQ(s.evictions, 1u);
  EXPECT_EQ(s.refused, 84u);
}

TEST_F(CachePolicyTest, TheHoldNeverRefusesWhatFitsOrWhatEvictsProtectedEntries) {
  auto c = Open(20, /*ghost_percent=*/0, /*hold=*/seconds(60));
  // Within the limit: everything is stored, however young.
  for (uint32_t i = 0; i < 20; ++i) Put(*c, 1, i);
  ASSERT_TRUE(c->Flush().ok());
  EXPECT_EQ(c->Stats().refused, 0u);
  // All protected (hit past promote_after): probation is under its share,
  // so new chunks push out the least recently used protected ones.
  clock_.Advance(seconds(30));
  for (uint32_t i = 0; i < 20; ++i) ASSERT_TRUE(Has(*c, 1, i));
  ASSERT_TRUE(c->Flush().ok());
  for (uint32_t i = 0; i < 4; ++i) Put(*c, 2, i);
  ASSERT_TRUE(c->Flush().ok());
  CacheStats s = c->Stats();
  EXPECT_EQ(s.refused, 0u);
  EXPECT_EQ(s.evictions, 4u);
  for (uint32_t i = 0; i < 4; ++i) EXPECT_TRUE(Has(*c, 2, i)) << i;
  // One more would take probation past its 25% share, which would push out
  // its own young front: refused.
  for (uint32_t i = 4; i < 7; ++i) Put(*c, 2, i);
  ASSERT_TRUE(c->Flush().ok());
  s = c->Stats();
  EXPECT_EQ(s.refused, 3u);
  // Other kinds are never refused.
  const std::vector<uint8_t> terms = Bytes(7, 300);
  c->PutTerms(XorbFor(9), terms);
  ASSERT_TRUE(c->Flush().ok());
  auto t = c->GetTerms(XorbFor(9));
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->has_value());
}

TEST_F(CachePolicyTest, PruneAndReopenKeepTheSegments) {
  auto c = Open(20);
  for (uint32_t i = 0; i < 4; ++i) Put(*c, 1, i);
  ASSERT_TRUE(c->Flush().ok());
  clock_.Advance(seconds(30));
  for (uint32_t i = 0; i < 4; ++i) ASSERT_TRUE(Has(*c, 1, i));
  for (uint32_t i = 0; i < 10; ++i) Put(*c, 2, i);
  ASSERT_TRUE(c->Flush().ok());
  c.reset();
  c = Open(20);
  auto pruned = c->Prune(6 * kCharge);
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(*pruned, 8u);
  for (uint32_t i = 0; i < 4; ++i) EXPECT_TRUE(Has(*c, 1, i)) << i;
  EXPECT_LE(c->Stats().bytes, 6 * kCharge);
}

TEST_F(CachePolicyTest, RejectsPercentagesOver100) {
  CacheOptions o;
  o.dir = tmp_.path();
  o.probation_percent = 101;
  EXPECT_FALSE(ChunkCache::Open(o).ok());
  o.probation_percent = 25;
  o.ghost_percent = 101;
  EXPECT_FALSE(ChunkCache::Open(o).ok());
}

}  // namespace
}  // namespace hubfs::chunkstore
