// Eviction churn: 64-128 KiB values inserted far past the limit while
// evicting. The store file must stay bounded (LMDB reuses freed pages); this
// is a correctness property of the cache size limit, not a timing.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>

#include "chunkstore/cache.h"
#include "tests/unit/chunkstore/cache_test_util.h"

namespace hubfs::chunkstore {
namespace {

using cache_testing::Bytes;
using cache_testing::StoreDiskBytes;
using cache_testing::TempDir;
using cache_testing::XorbFor;

TEST(CacheChurnTest, StoreFileStaysBoundedUnderContinuousEviction) {
  TempDir tmp;
  constexpr uint64_t kLimit = 16 << 20;
  CacheOptions o;
  o.dir = tmp.path();
  o.max_bytes = kLimit;
  o.durable = false;
  o.probation_hold = std::chrono::seconds(0);  // every put admitted: continuous eviction
  auto c = ChunkCache::Open(o);
  ASSERT_TRUE(c.ok()) << c.status();
  std::mt19937_64 rng(7);
  // One random pool; each value is a window of it with its index stamped in.
  const auto pool = Bytes(1, 256 << 10);
  uint64_t inserted = 0, max_file = 0;
  uint32_t next = 0;
  while (inserted < 8 * kLimit) {
    const size_t size = (64 << 10) + rng() % (64 << 10);
    const size_t off = rng() % (pool.size() - size);
    std::vector<uint8_t> v(pool.begin() + off, pool.begin() + off + size);
    std::memcpy(v.data(), &next, sizeof(next));
    (*c)->PutChunk(XorbFor(next % 13), next, std::move(v));
    ++next;
    inserted += size;
    // Re-read some recent entries, so eviction order is not insertion order.
    if (next > 100) {
      const uint32_t j = next - 1 - static_cast<uint32_t>(rng() % 100);
      ASSERT_TRUE((*c)->GetChunk(XorbFor(j % 13), j).ok());
    }
    if (next % 64 == 0) {
      ASSERT_TRUE((*c)->Flush().ok());
      const CacheStats s = (*c)->Stats();
      ASSERT_LE(s.bytes, kLimit);
      max_file = std::max(max_file, StoreDiskBytes(tmp.path()));
    }
  }
  ASSERT_TRUE((*c)->Flush().ok());
  const CacheStats s = (*c)->Stats();
  EXPECT_LE(s.bytes, kLimit);
  EXPECT_GT(s.bytes, kLimit * 3 / 4);
  EXPECT_GT(s.evictions, 0u);
  max_file = std::max(max_file, StoreDiskBytes(tmp.path()));
  RecordProperty("max_file_bytes", std::to_string(max_file));
  RecordProperty("limit_bytes", std::to_string(kLimit));
  EXPECT_LE(max_file, 2 * kLimit) << "store files grew to " << max_file;
}

}  // namespace
}  // namespace hubfs::chunkstore
