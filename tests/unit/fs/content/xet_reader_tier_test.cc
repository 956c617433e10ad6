// The Xet reader with a shared tier below its local cache: a second node
// reads from the tier instead of the origin, and whatever the tier holds or
// does (damaged entries, misplaced records, an outage) never changes a read.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <thread>
#include <memory>
#include <string>
#include <vector>

#include "chunkstore/cache.h"
#include "chunkstore/shared_tier.h"
#include "fs/content/xet_cas.h"
#include "fs/content/xet_reader.h"
#include "tests/unit/chunkstore/cache_test_util.h"
#include "tests/unit/chunkstore/fake_tier_backend.h"
#include "tests/unit/fs/content/fake_cas.h"

namespace hubfs::fs {
namespace {

using chunkstore::cache_testing::TempDir;
using chunkstore::testing::FakeTierBackend;
using std::chrono::milliseconds;
using testing::FakeCas;
using testing::FakeTokens;
using testing::TestContent;

constexpr size_t kFileSize = 2 * 1024 * 1024 + 777;

class XetReaderTierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = TestContent(7, kFileSize);
    hash_ = fake_.AddFile(data_, 5);
    file_ = XetFileRef{hash_, data_.size(), chunkstore::Sha256Digest(data_)};
    cas_ = std::make_unique<HttpXetCas>(&fake_, [this](bool f) { return tokens_(f); });
  }

  // One node: its own local cache, the shared tier's engine in common.
  struct Node {
    std::unique_ptr<chunkstore::ChunkCache> cache;
    std::unique_ptr<chunkstore::SharedTier> tier;
    std::unique_ptr<XetReader> reader;
  };
  Node NewNode(const std::string& name, milliseconds lease_wait = milliseconds(3000)) {
    Node n;
    chunkstore::CacheOptions o;
    o.dir = dir_.Sub(name);
    o.max_bytes = 64ull << 20;
    o.durable = false;
    auto c = chunkstore::ChunkCache::Open(o);
    EXPECT_TRUE(c.ok()) << c.status();
    n.cache = std::move(*c);
    chunkstore::SharedTierOptions to;
    to.lease_wait = lease_wait;
    n.tier = std::make_unique<chunkstore::SharedTier>(
        std::make_unique<FakeTierBackend>(&engine_), to);
    XetReaderOptions ro;
    ro.segment_bytes = segment_bytes_;
    ro.shared_tier = n.tier.get();
    n.reader = std::make_unique<XetReader>(cas_.get(), n.cache.get(), ro);
    return n;
  }

  void ExpectWholeFile(XetReader& r) {
    std::vector<uint8_t> out(data_.size());
    Result<size_t> got = r.Read(file_, 0, out);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(*got, data_.size());
    ASSERT_TRUE(out == data_) << "wrong bytes";
  }

  // Node a reads the file; its chunks reach the tier.
  void FirstNodeReads() {
    Node a = NewNode("a");
    ExpectWholeFile(*a.reader);
    ASSERT_TRUE(a.tier->Drain(milliseconds(5000)));
    EXPECT_GT(a.tier->Stats().puts, 0u);
    fake_.ResetCounters();
  }

  std::vector<std::string> ChunkKeys() {
    std::lock_guard<std::mutex> l(engine_.mu);
    std::vector<std::string> keys;
    for (const auto& [k, v] : engine_.data) {
      if (k.find(":lease:") == std::string::npos) keys.push_back(k);
    }
    return keys;
  }

  // Several segments: boundary chunks may be fetched by two runs.
  uint64_t segment_bytes_ = 512 * 1024;
  TempDir dir_;
  FakeCas fake_;
  FakeTokens tokens_;
  FakeTierBackend::State engine_;
  std::vector<uint8_t> data_;
  chunkstore::Hash hash_;
  XetFileRef file_;
  std::unique_ptr<HttpXetCas> cas_;
};

TEST_F(XetReaderTierTest, SecondNodeReadsFromTheTierNotTheOrigin) {
  FirstNodeReads();
  Node b = NewNode("b");
  ExpectWholeFile(*b.reader);
  EXPECT_EQ(fake_.data_calls(), 0);
  EXPECT_EQ(fake_.data_bytes(), 0u);
  EXPECT_GT(fake_.recon_calls(), 0) << "the CAS is still asked per file";
  const XetReaderStats s = b.reader->Stats();
  EXPECT_GT(s.tier_runs, 0u);
  EXPECT_EQ(s.tier_refused, 0u);
  EXPECT_GT(s.tier.hits, 0u);
  // Served from the tier, the chunks are now in b's local cache too.
  fake_.ResetCounters();
  ExpectWholeFile(*b.reader);
  EXPECT_EQ(fake_.recon_calls(), 0);
  EXPECT_EQ(fake_.data_calls(), 0);
}

TEST_F(XetReaderTierTest, DamagedEntryIsRefusedAndRefetched) {
  FirstNodeReads();
  const std::vector<std::string> keys = ChunkKeys();
  ASSERT_GT(keys.size(), 4u);
  {
    std::lock_guard<std::mutex> l(engine_.mu);
    engine_.data.at(keys[keys.size() / 2]).back() ^= 0x40;
  }
  Node b = NewNode("b");
  ExpectWholeFile(*b.reader);
  EXPECT_GT(fake_.data_calls(), 0) << "the damaged run comes from the origin";
  EXPECT_GE(b.reader->Stats().tier.corrupt, 1u);
  // The origin's answer was written back over the damaged entry.
  ASSERT_TRUE(b.tier->Drain(milliseconds(5000)));
  fake_.ResetCounters();
  Node c = NewNode("c");
  ExpectWholeFile(*c.reader);
  EXPECT_EQ(fake_.data_calls(), 0);
}

TEST_F(XetReaderTierTest, RecordsThatDoNotTileTheRangeAreRefused) {
  FirstNodeReads();
  // A well-formed entry (valid checksum) that claims another offset: what a
  // bug or another writer could leave. It is not where the range says.
  const std::vector<std::string> keys = ChunkKeys();
  {
    std::lock_guard<std::mutex> l(engine_.mu);
    const std::string& key = keys[1];
    auto rec = chunkstore::DecodeTierValue(key, engine_.data.at(key));
    ASSERT_TRUE(rec.ok());
    engine_.data[key] = chunkstore::EncodeTierValue(key, rec->offset + 1, rec->record);
  }
  Node b = NewNode("b");
  ExpectWholeFile(*b.reader);
  EXPECT_GT(fake_.data_calls(), 0);
  EXPECT_GE(b.reader->Stats().tier_refused, 1u);
}

TEST_F(XetReaderTierTest, DeadTierNeverFailsARead) {
  FirstNodeReads();
  {
    std::lock_guard<std::mutex> l(engine_.mu);
    engine_.fail = true;
  }
  Node b = NewNode("b");
  ExpectWholeFile(*b.reader);
  EXPECT_GT(fake_.data_calls(), 0);
  const XetReaderStats s = b.reader->Stats();
  EXPECT_GE(s.tier.errors, 1u);
  EXPECT_TRUE(s.tier.down);
  EXPECT_GT(s.tier.bypassed, 0u) << "after the first error the tier is not asked";
}

// Another node holds the leases of the runs (it is fetching them): this node
// waits for the chunks to appear instead of going to the origin.
TEST_F(XetReaderTierTest, LeaseLoserWaitsForTheHolder) {
  // One segment: both nodes fetch exactly the same runs (with several, which
  // run fetches a boundary chunk depends on timing), so every run b needs is
  // one a leased.
  segment_bytes_ = 64ull << 20;
  FirstNodeReads();
  std::map<std::string, std::vector<uint8_t>> saved;
  {
    std::lock_guard<std::mutex> l(engine_.mu);
    ASSERT_FALSE(engine_.added.empty());
    saved.swap(engine_.data);
    for (const std::string& lease : engine_.added) engine_.data[lease] = {1};
  }
  std::thread holder([&] {
    std::this_thread::sleep_for(milliseconds(60));
    std::lock_guard<std::mutex> l(engine_.mu);
    for (auto& [k, v] : saved) engine_.data[k] = v;
  });
  Node b = NewNode("b");
  ExpectWholeFile(*b.reader);
  holder.join();
  EXPECT_EQ(fake_.data_calls(), 0);
  EXPECT_GT(b.reader->Stats().tier.lease_waits, 0u);
}

// A holder that never delivers costs a bounded wait, then the origin.
TEST_F(XetReaderTierTest, LeaseHolderThatNeverDeliversCostsABoundedWait) {
  FirstNodeReads();
  {
    std::lock_guard<std::mutex> l(engine_.mu);
    std::vector<std::string> leases = engine_.added;
    engine_.data.clear();
    for (const std::string& lease : leases) engine_.data[lease] = {1};
  }
  Node b = NewNode("b", milliseconds(200));
  const auto start = std::chrono::steady_clock::now();
  ExpectWholeFile(*b.reader);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GT(fake_.data_calls(), 0);
  const XetReaderStats s = b.reader->Stats();
  EXPECT_GT(s.tier.lease_waits, 0u);
  // Each waiting run waits at most lease_wait (200 ms); runs wait in parallel.
  EXPECT_LT(took, milliseconds(200) * static_cast<int64_t>(s.tier.lease_waits + 10));
}

}  // namespace
}  // namespace hubfs::fs
