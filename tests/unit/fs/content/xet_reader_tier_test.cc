// The Xet reader with a shared tier below its local cache: a second node
// reads from the tier instead of the origin, and whatever the tier holds or
// does (damaged entries, misplaced records, an outage) never changes a read.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <thread>
#include <memory>
#include <span>
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
  Node b = NewNode("b");
  // The holder delivers once b waits for it (a fixed delay could pass
  // before b even looks, on a loaded machine).
  std::thread holder([&] {
    const auto give_up = std::chrono::steady_clock::now() + milliseconds(5000);
    while (b.tier->Stats().lease_waits == 0 && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(milliseconds(5));
    }
    std::lock_guard<std::mutex> l(engine_.mu);
    for (auto& [k, v] : saved) engine_.data[k] = v;
  });
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

// Three nodes read the file at once, each with its own read size (so their
// own read-ahead would cut it differently): segments and read-ahead are
// aligned to segment_bytes, so they fetch the same runs and meet on their
// leases; the origin serves little more than one copy.
TEST_F(XetReaderTierTest, SimultaneousNodesMeetOnTheirLeases) {
  // A larger file in larger xorbs than the fixture's, so that runs hold
  // several chunks and the first (unaligned) demand reads are a small part.
  data_ = TestContent(8, 8 * 1024 * 1024 + 5);
  hash_ = fake_.AddFile(data_, 64);
  file_ = XetFileRef{hash_, data_.size(), chunkstore::Sha256Digest(data_)};
  segment_bytes_ = 1024 * 1024;
  uint64_t one_copy = 0;  // what one reader alone fetches (records are compressed)
  {
    XetReader alone(cas_.get(), nullptr, XetReaderOptions{});
    ExpectWholeFile(alone);
    one_copy = fake_.data_bytes();
    fake_.ResetCounters();
  }
  fake_.set_data_delay(milliseconds(40));
  std::vector<Node> nodes;
  for (const char* name : {"a", "b", "c"}) nodes.push_back(NewNode(name));
  const size_t reads[] = {128 * 1024, 300 * 1024, 200 * 1024 + 13};
  std::vector<std::thread> threads;
  for (size_t k = 0; k < nodes.size(); ++k) {
    threads.emplace_back([&, k] {
      std::vector<uint8_t> out(data_.size());
      for (size_t off = 0; off < data_.size(); off += reads[k]) {
        const size_t n = std::min(reads[k], data_.size() - off);
        Result<size_t> got = nodes[k].reader->Read(file_, off, std::span(out).subspan(off, n));
        ASSERT_TRUE(got.ok()) << got.status();
        ASSERT_EQ(*got, n);
      }
      EXPECT_TRUE(out == data_) << "node " << k << ": wrong bytes";
    });
  }
  for (std::thread& t : threads) t.join();
  uint64_t waits = 0, tier_runs = 0;
  for (Node& n : nodes) {
    waits += n.tier->Stats().lease_waits;
    tier_runs += n.reader->Stats().tier_runs;
  }
  // Without leases each node fetches its own copy (3x); unaligned, the runs
  // rarely meet. Allowed: one copy, the runs' shared boundary chunks, and
  // the first demand reads (not aligned).
  EXPECT_LT(fake_.data_bytes(), one_copy * 13 / 10)
      << "one copy " << one_copy << ", lease waits " << waits << ", runs from the tier "
      << tier_runs;
  EXPECT_GT(tier_runs, 0u);
}

}  // namespace
}  // namespace hubfs::fs
